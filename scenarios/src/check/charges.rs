//! I2, exactly once: the backend charges each collected payment at most once
//! and holds no charge that no collect produced.
//!
//! A forwarded payment is known by its offline id (`backend.charge.succeeded`
//! carries it); an online one by its intent. Failed charges (declines) move
//! no money and are not counted. This file must not judge amounts (I8) or
//! tampered records (I7): it counts charges.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::Invariant;
use std::collections::BTreeMap;

/// At most this many charges of one payment go into an excerpt.
const MAX_CHARGES_SHOWN: usize = 4;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    let unseen = unseen_holder(facts.history);
    for (offline_id, payment) in facts.payments.iter() {
        let charges = &payment.charges;
        if charges.is_empty() {
            continue;
        }
        // A smart reader seen only from outside (a lab bench's) stores
        // without telling the history: its charges are judged for being
        // one, not for their store.
        if payment.stored.is_none() && !unseen {
            let charge = charge_id(facts, charges[0]);
            let message = format!(
                "{charge} charges offline id {offline_id}, which no device reported stored: a \
                 charge no collect produced"
            );
            found
                .push(Finding::new(Invariant::I2, Some(offline_id), message).with(charges.clone()));
            continue;
        }
        if charges.len() < 2 {
            continue;
        }
        let ids: Vec<String> = charges.iter().map(|&at| charge_id(facts, at)).collect();
        let message = format!("charged {} times ({})", charges.len(), ids.join(", "));
        // Each charge with the upload that caused it: a fresh key on a retry
        // (or a second upload after a reconnect) shows up right there.
        let shown = &charges[..charges.len().min(MAX_CHARGES_SHOWN)];
        let attempts = shown.iter().filter_map(|&at| facts.attempt_before(offline_id, at));
        let excerpt: Vec<usize> = shown.iter().copied().chain(attempts).collect();
        found.push(Finding::new(Invariant::I2, Some(offline_id), message).with(excerpt));
    }
    processed_twice(facts, found);
    for (intent, charges) in facts.online_charges.iter() {
        if charges.len() < 2 {
            continue;
        }
        let ids: Vec<String> = charges.iter().map(|&at| charge_id(facts, at)).collect();
        let message = format!("online intent charged {} times ({})", charges.len(), ids.join(", "));
        let shown = charges.iter().copied().take(MAX_CHARGES_SHOWN);
        found.push(Finding::new(Invariant::I2, Some(intent), message).with(shown));
    }
}

/// Whether the rig has a device that stores payments and that the history
/// never hears from: a smart reader on a lab bench, seen only through its
/// POS and the backend (docs/lab.md).
fn unseen_holder(history: &[readerlab_emulator::core::Event]) -> bool {
    let Some(readers) = history.iter().find_map(|e| match &e.body {
        EventBody::RigStarted { readers, .. } => Some(readers),
        _ => None,
    }) else {
        return false;
    };
    readers.iter().filter(|r| r.stored_by == readerlab_emulator::core::StoredBy::Reader).any(|r| {
        let part = readerlab_emulator::core::Part::reader(&r.serial);
        !history.iter().any(|e| e.part == part)
    })
}

/// One stored payment for which the backend created more than one payment
/// intent was processed more than once, even if every charge but one was
/// declined: an upload under a new key after one that was applied (the
/// second decline is a second authorization the cardholder sees). Payments
/// already reported as charged twice are not named again.
fn processed_twice(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    let mut intents: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (at, event) in facts.history.iter().enumerate() {
        if let EventBody::IntentCreated { offline_id: Some(id), .. } = &event.body {
            intents.entry(id.as_str()).or_default().push(at);
        }
    }
    for (offline_id, created) in intents {
        if created.len() < 2 || facts.payments.get(offline_id).is_some_and(|p| p.charges.len() > 1)
        {
            continue;
        }
        let message = format!(
            "processed {} times: the backend created {} payment intents for this one stored              payment",
            created.len(),
            created.len()
        );
        let shown = created.iter().copied().take(MAX_CHARGES_SHOWN);
        found.push(Finding::new(Invariant::I2, Some(offline_id), message).with(shown));
    }
}

fn charge_id(facts: &Facts<'_>, at: usize) -> String {
    match &facts.history[at].body {
        EventBody::ChargeSucceeded { charge, .. } => charge.clone(),
        _ => format!("the charge at seq {}", facts.history[at].seq),
    }
}
