//! I3, one outcome: each stored payment gets exactly one outcome
//! (`offline.payment.forwarded`, or `offline.payment.unreadable` naming it),
//! and each app payment ends once.
//!
//! A payment with no outcome at all is I1's business (it may still be held);
//! this file reports only outcomes that are too many or about nothing.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::Invariant;

/// At most this many outcomes of one payment go into an excerpt.
const MAX_OUTCOMES_SHOWN: usize = 4;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    for (offline_id, payment) in facts.payments.iter() {
        let outcomes = &payment.outcomes;
        if outcomes.is_empty() {
            continue;
        }
        let shown = outcomes.iter().copied().take(MAX_OUTCOMES_SHOWN);
        let Some(stored) = &payment.stored else {
            let message =
                format!("{} for an offline id no device reported stored", names(facts, outcomes));
            found.push(Finding::new(Invariant::I3, Some(offline_id), message).with(shown));
            continue;
        };
        if outcomes.len() > 1 {
            let message =
                format!("{} outcomes reported: {}", outcomes.len(), names(facts, outcomes));
            let excerpt = shown.chain([stored.at]);
            found.push(Finding::new(Invariant::I3, Some(offline_id), message).with(excerpt));
        }
    }
    // The app's side (docs/history.md): every payment it creates ends in
    // exactly one of failed, succeeded, declined or stored.
    for ((part, payment), outcomes) in facts.app_outcomes.iter() {
        if outcomes.len() > 1 {
            let message = format!(
                "payment {payment} on {part} ended {} times: {}",
                outcomes.len(),
                names(facts, outcomes)
            );
            let shown = outcomes.iter().copied().take(MAX_OUTCOMES_SHOWN);
            found.push(Finding::new(Invariant::I3, Some(payment), message).with(shown));
        }
    }
}

/// `offline.payment.forwarded, offline.payment.forwarded`.
fn names(facts: &Facts<'_>, outcomes: &[usize]) -> String {
    let names: Vec<String> = outcomes.iter().map(|&at| facts.history[at].body.name()).collect();
    names.join(", ")
}
