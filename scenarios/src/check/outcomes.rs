//! I3, one outcome: each stored payment gets exactly one outcome
//! (`offline.payment.forwarded`, or `offline.payment.unreadable` naming it),
//! and each app payment ends exactly once: never more than once, and, in a
//! finished run (`rig.finished`), online payments included, never *not at
//! all* once the app has left it behind: its reader gave it up (failed,
//! canceled, or refused the collect) or the app began another payment, and
//! still no outcome came. A payment the app is still working on when the
//! run ends (the last one, waiting for a card) is not judged here, nor one
//! whose process restarted after it began (an `offline.store.recovered` of
//! its part: an app kill, a power cut, an upgrade or a reboot takes an
//! unfinished collect with it).
//!
//! A stored payment with no forward outcome is I1's business (it may still
//! be held); this file reports its outcomes only when too many or about
//! nothing.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::Part;

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
    if facts.finished {
        never_ended(facts, found);
    }
}

/// App payments that began, were left behind, and were never told how
/// they ended.
fn never_ended(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    let starts: Vec<(&Part, &str, usize)> = facts
        .app_started
        .iter()
        .filter_map(|((part, payment), at)| at.map(|at| (part, payment, at)))
        .collect();
    for &(part, payment, started) in &starts {
        let moved_on = starts.iter().any(|&(p, _, at)| p == part && at > started);
        if !moved_on && !facts.reader_ended.contains(payment) {
            continue;
        }
        if facts.app_outcomes.get(&(part, payment)).is_some_and(|o| !o.is_empty()) {
            continue;
        }
        let restarted =
            facts.holders.get(part).is_some_and(|h| h.recoveries.iter().any(|&at| at > started));
        if restarted {
            continue;
        }
        let left = if moved_on { "the app began another payment" } else { "its reader gave it up" };
        let message = format!(
            "payment {payment} on {part} began (payment.intent.created) and never ended: {left}, \
             and no payment.succeeded, .declined, .failed or offline.payment.stored came by the \
             end of the run"
        );
        found.push(Finding::new(Invariant::I3, Some(payment), message).with([started]));
    }
}

/// `offline.payment.forwarded, offline.payment.forwarded`.
fn names(facts: &Facts<'_>, outcomes: &[usize]) -> String {
    let names: Vec<String> = outcomes.iter().map(|&at| facts.history[at].body.name()).collect();
    names.join(", ")
}
