//! I10, no orphan intents: every payment intent the backend created belongs
//! to a payment the app started, and none was created, and then left open,
//! for a payment that had already gone on without it.
//!
//! An intent belongs to a payment by its `metadata[readerlab_payment]`
//! (`backend.payment_intent.created`'s `payment`), by its `offline_id` (a
//! stored payment's forward created it), or by an SDK event that names it
//! (`payment.intent.created`, `payment.succeeded`, `offline.payment.stored`,
//! `pos.payment.started`). A payment has gone on without new intents once
//! the SDK took it offline (`payment.intent.created` with mode `offline`:
//! only its forward will create one now) or once the app was told its first
//! outcome (`payment.succeeded`, `.declined`, `.failed`,
//! `offline.payment.stored`, or an outside POS's definite `pos.payment.ended`).
//! An intent created after that, which nothing charged or canceled by the end
//! of the run, is one nobody will ever confirm or cancel: a request the SDK
//! sent for a payment that had moved on.
//!
//! Judged only in a finished run (`rig.finished`): an SDK names an intent
//! when the answer to its create arrives, and a history cut short may end
//! between the two. Intents created by a forward are the stored payment's
//! (I1, I2 and I3 follow them); this file does not count charges.

use super::facts::{BackendIntent, Facts};
use super::report::Finding;
use readerlab_emulator::core::offline::Mode;
use readerlab_emulator::core::{EventBody, Invariant, PosOutcome};
use std::collections::HashMap;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    if !facts.finished {
        return;
    }
    let moved_on = moved_on(facts);
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
            .find_map(|name| moved_on.get(name).filter(|&&at| at < created).map(|&at| (*name, at)));
        if let Some((name, at)) = late {
            let after = match &facts.history[at].body {
                EventBody::SdkIntentCreated { .. } => format!(
                    "the SDK went on with {name} offline (payment.intent.created, mode offline)"
                ),
                body => format!("the app was told {name} ended ({})", body.name()),
            };
            let message = format!(
                "payment intent {id} for payment {name} was created (backend.payment_intent.created) \
                 after {after}, and by the end of the run nothing confirmed or canceled it"
            );
            found.push(Finding::new(Invariant::I10, Some(name), message).with([at, created]));
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

/// For each payment name, the first moment it went on without new
/// intents, on any part: the SDK took it offline, or the app was told its
/// first outcome.
fn moved_on<'h>(facts: &Facts<'h>) -> HashMap<&'h str, usize> {
    let mut moved: HashMap<&'h str, usize> = HashMap::new();
    let mut note = |name: &'h str, at: usize| {
        let first = moved.entry(name).or_insert(at);
        *first = (*first).min(at);
    };
    for ((_, payment), outcomes) in facts.app_outcomes.iter() {
        if let Some(&first) = outcomes.first() {
            note(payment, first);
        }
    }
    for (at, event) in facts.history.iter().enumerate() {
        match &event.body {
            EventBody::PosPaymentEnded { payment, outcome, .. }
                if *outcome != PosOutcome::Unknown =>
            {
                note(payment, at);
            }
            EventBody::SdkIntentCreated { payment, mode: Mode::Offline, .. } => note(payment, at),
            _ => {}
        }
    }
    moved
}
