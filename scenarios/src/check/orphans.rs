//! I10, no orphan intents: every payment intent the backend created belongs
//! to a payment the app started, and none was created for a payment whose
//! end the app had already been told and then left open.
//!
//! An intent belongs to a payment by its `metadata[readerlab_payment]`
//! (`backend.payment_intent.created`'s `payment`), by its `offline_id` (a
//! stored payment's forward created it), or by an SDK event that names it
//! (`payment.intent.created`, `payment.succeeded`, `offline.payment.stored`,
//! `pos.payment.started`). A payment's end is the first outcome the app was
//! told (`payment.succeeded`, `.declined`, `.failed`, `offline.payment.stored`,
//! or an outside POS's definite `pos.payment.ended`). An intent created after
//! its payment's end that nothing charged or canceled by the end of the run
//! is one nobody will ever confirm or cancel: a request the SDK sent for a
//! payment the app had finished with.
//!
//! Judged only in a finished run (`rig.finished`): an SDK names an intent
//! when the answer to its create arrives, and a history cut short may end
//! between the two. Intents created by a forward are the stored payment's
//! (I1, I2 and I3 follow them); this file does not count charges.

use super::facts::{BackendIntent, Facts};
use super::report::Finding;
use readerlab_emulator::core::{EventBody, Invariant, PosOutcome};
use std::collections::HashMap;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    if !facts.finished {
        return;
    }
    let ends = first_ends(facts);
    for (id, intent) in facts.intents.iter() {
        let Some(created) = intent.created else { continue };
        if intent.offline_id.is_some() {
            continue;
        }
        let names = names_of(facts, intent);
        if names.is_empty() {
            let message = format!(
                "payment intent {id} was created (backend.payment_intent.created) but belongs to \
                 no payment: it carries no metadata[readerlab_payment] and no offline id, and no \
                 SDK event names it"
            );
            found.push(Finding::new(Invariant::I10, Some(id), message).with([created]));
            continue;
        }
        if !intent.charges.is_empty() || intent.canceled.is_some() {
            continue;
        }
        let late = names
            .iter()
            .find_map(|name| ends.get(name).filter(|&&end| end < created).map(|&end| (*name, end)));
        if let Some((name, end)) = late {
            let told = facts.history[end].body.name();
            let message = format!(
                "payment intent {id} for payment {name} was created (backend.payment_intent.created) \
                 after the app was told {name} ended ({told}), and by the end of the run nothing \
                 confirmed or canceled it"
            );
            found.push(Finding::new(Invariant::I10, Some(name), message).with([end, created]));
        }
    }
}

/// The app payments an intent belongs to by name: its metadata, then the
/// SDK events that name it.
fn names_of<'h>(facts: &Facts<'h>, intent: &BackendIntent<'h>) -> Vec<&'h str> {
    let mut names: Vec<&'h str> = intent.named.into_iter().collect();
    for &at in &intent.claims {
        let name = match &facts.history[at].body {
            EventBody::SdkIntentCreated { payment, .. }
            | EventBody::SdkPaymentSucceeded { payment, .. }
            | EventBody::OfflinePaymentStored { payment, .. }
            | EventBody::PosPaymentStarted { payment, .. } => payment.as_str(),
            _ => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Each payment name's first end the app was told, on any part.
fn first_ends<'h>(facts: &Facts<'h>) -> HashMap<&'h str, usize> {
    let mut ends: HashMap<&'h str, usize> = HashMap::new();
    let mut note = |name: &'h str, at: usize| {
        let end = ends.entry(name).or_insert(at);
        *end = (*end).min(at);
    };
    for ((_, payment), outcomes) in facts.app_outcomes.iter() {
        if let Some(&first) = outcomes.first() {
            note(payment, first);
        }
    }
    for (at, event) in facts.history.iter().enumerate() {
        if let EventBody::PosPaymentEnded { payment, outcome, .. } = &event.body
            && *outcome != PosOutcome::Unknown
        {
            note(payment, at);
        }
    }
    ends
}
