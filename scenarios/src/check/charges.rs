//! I2, exactly once: the backend charges each collected payment at most once
//! and holds no charge that no collect produced.
//!
//! A forwarded payment is known by its offline id (`backend.charge.succeeded`
//! carries it); an online one by its intent. Failed charges (declines) move
//! no money and are not counted. This file must not judge amounts (I8) or
//! tampered records (I7): it counts charges.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::event::EventBody;
use readerlab_emulator::core::invariant::Invariant;

/// At most this many charges of one payment go into an excerpt.
const MAX_CHARGES_SHOWN: usize = 4;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    for (offline_id, payment) in facts.payments.iter() {
        let charges = &payment.charges;
        if charges.is_empty() {
            continue;
        }
        if payment.stored.is_none() {
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

fn charge_id(facts: &Facts<'_>, at: usize) -> String {
    match &facts.history[at].body {
        EventBody::ChargeSucceeded { charge, .. } => charge.clone(),
        _ => format!("the charge at seq {}", facts.history[at].seq),
    }
}
