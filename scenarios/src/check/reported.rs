//! I9, honest outcome: what the SDK tells the app agrees with the ledger.
//! An app payment told `payment.declined` or `payment.failed` while a
//! succeeded charge stands on one of its intents was paid by a customer who
//! walked away thinking it was not; one told `payment.succeeded` with no
//! standing charge on any of its intents was never paid. A stored payment
//! is told "succeeded" when it is stored (`offline.payment.stored`, which
//! I1 and I3 follow to its one forwarded outcome); here its forwarded
//! outcome is held to the ledger the same way.
//!
//! An app payment's intents are those its SDK events name on its part and
//! those carrying its name in `metadata[readerlab_payment]` (the index
//! links them, as it does for an outside POS in `pos.rs`, whose
//! `pos.payment.ended` is judged there under I3). This file must not count
//! charges (I2) or outcomes (I3).

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::{EventBody, Invariant, Part};

/// Forward errors that answer for another account or mode than the
/// payment's: the backend that said them cannot see the payment's charges,
/// so they say nothing about whether the customer paid, and the app hears
/// a configuration to fix rather than a verdict on the payment.
const WRONG_ACCOUNT: [&str; 3] = [
    "ACCOUNT_ID_MISMATCH_WHILE_FORWARDING",
    "OFFLINE_TESTMODE_PAYMENT_IN_LIVEMODE",
    "OFFLINE_LIVEMODE_PAYMENT_IN_TESTMODE",
];

/// At most this many charges go into an excerpt.
const MAX_CHARGES_SHOWN: usize = 4;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    for ((part, payment), outcomes) in facts.app_outcomes.iter() {
        let Some(&told) = outcomes.first() else { continue };
        app_outcome(facts, part, payment, told, found);
    }
    for (offline_id, payment) in facts.payments.iter() {
        let (Some(stored), Some(&told)) = (&payment.stored, payment.outcomes.first()) else {
            continue;
        };
        let EventBody::PaymentForwarded { intent, error, .. } = &facts.history[told].body else {
            continue;
        };
        let mut charges = payment.charges.clone();
        let stored_intent = match &facts.history[stored.at].body {
            EventBody::OfflinePaymentStored { intent, .. } => intent.as_deref(),
            _ => None,
        };
        for id in intent.as_deref().into_iter().chain(stored_intent) {
            charges.extend(facts.standing_charges(id));
        }
        charges.sort_unstable();
        charges.dedup();
        let message = match (error, charges.is_empty()) {
            (Some(error), _) if WRONG_ACCOUNT.contains(&error.code.as_str()) => continue,
            (Some(error), false) => format!(
                "{offline_id} was reported forwarded with {} (offline.payment.forwarded) but \
                 the backend charged it: {}",
                error.code,
                charge_ids(facts, &charges)
            ),
            (None, true) => format!(
                "{offline_id} was reported forwarded as paid (offline.payment.forwarded) but the \
                 backend holds no succeeded charge for it"
            ),
            _ => continue,
        };
        let excerpt = [stored.at, told].into_iter().chain(shown(&charges));
        found.push(Finding::new(Invariant::I9, Some(offline_id), message).with(excerpt));
    }
}

/// The first app outcome of `payment` on `part`, at `told`, against the
/// standing charges of its intents.
fn app_outcome<'h>(
    facts: &Facts<'h>,
    part: &'h Part,
    payment: &'h str,
    told: usize,
    found: &mut Vec<Finding>,
) {
    let body = &facts.history[told].body;
    let paid_said = match body {
        EventBody::SdkPaymentSucceeded { .. } => true,
        EventBody::SdkPaymentDeclined { .. } | EventBody::SdkPaymentFailed { .. } => false,
        // Stored: judged by its forwarded outcome.
        _ => return,
    };
    let intents = intents_of(facts, part, payment);
    let mut charges: Vec<usize> =
        intents.iter().flat_map(|intent| facts.standing_charges(intent)).collect();
    charges.sort_unstable();
    let told_as = match body {
        EventBody::SdkPaymentFailed { code, .. } => format!("failed ({})", code.name()),
        EventBody::SdkPaymentDeclined { error_code, .. } => format!("declined ({error_code})"),
        _ => "succeeded".to_owned(),
    };
    let event = body.name();
    let message = match (paid_said, charges.is_empty()) {
        (false, false) => format!(
            "payment {payment} on {part} was told {told_as} ({event}) but the backend charged \
             the customer: {}",
            charge_ids(facts, &charges)
        ),
        (true, true) if intents.is_empty() => format!(
            "payment {payment} on {part} was told succeeded ({event}) but names no payment \
             intent the backend charged"
        ),
        (true, true) => format!(
            "payment {payment} on {part} was told succeeded ({event}) but the backend holds no \
             succeeded charge on {}",
            intents.join(", ")
        ),
        _ => return,
    };
    let created = intents.iter().filter_map(|i| facts.intents.get(*i).and_then(|r| r.created));
    let excerpt = created.chain([told]).chain(shown(&charges));
    found.push(Finding::new(Invariant::I9, Some(payment), message).with(excerpt));
}

/// The intents of an app payment: those its SDK events name on its part,
/// then those created under its name.
pub(super) fn intents_of<'h>(facts: &Facts<'h>, part: &'h Part, payment: &'h str) -> Vec<&'h str> {
    let mut intents: Vec<&'h str> =
        facts.claimed.get(&(part, payment)).cloned().unwrap_or_default();
    for intent in facts.named.get(payment).into_iter().flatten() {
        if !intents.contains(intent) {
            intents.push(intent);
        }
    }
    intents
}

fn shown(charges: &[usize]) -> impl Iterator<Item = usize> + '_ {
    charges.iter().copied().take(MAX_CHARGES_SHOWN)
}

/// `ch_1 on pi_1, ch_2 on pi_2`.
fn charge_ids(facts: &Facts<'_>, charges: &[usize]) -> String {
    let ids: Vec<String> = charges
        .iter()
        .map(|&at| match &facts.history[at].body {
            EventBody::ChargeSucceeded { charge, intent, .. } => format!("{charge} on {intent}"),
            _ => format!("the charge at seq {}", facts.history[at].seq),
        })
        .collect();
    ids.join(", ")
}
