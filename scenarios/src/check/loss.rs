//! I1, no loss: every payment reported stored is forwarded, reported
//! unreadable, or still held at the end of the history.
//!
//! "Still held" is what the holder itself last said (`offline.status.changed`
//! count); the history cannot say which payments a device holds, only how
//! many, so a loss is judged per holder and the payments most likely lost
//! are named. This file must not report anything a count cannot prove: a
//! holder that says it holds as many as lack an outcome has lost nothing.

use super::facts::{Facts, Holder};
use super::names;
use super::report::Finding;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::{EventBody, Part};
use std::collections::BTreeSet;

/// Lost payments: at most this many stored events go into an excerpt.
const MAX_STORED_SHOWN: usize = 3;

/// Judges I1 and returns the holders it found a loss on, so I8 does not
/// name the same loss a second time.
pub(super) fn check<'h>(facts: &Facts<'h>, found: &mut Vec<Finding>) -> BTreeSet<&'h Part> {
    let mut lost = BTreeSet::new();
    for (&holder, record) in &facts.holders {
        let unaccounted = facts.without_outcome(record);
        // An unreadable record reported without an id still accounts for one
        // payment: the device said it dropped something (android-459 path).
        let count = facts.status_count(holder) as usize;
        let anonymous = record.anonymous_unreadable.len();
        let missing = unaccounted.len().saturating_sub(count + anonymous);
        if missing == 0 {
            continue;
        }
        lost.insert(holder);
        found.push(loss(facts, holder, record, &unaccounted, missing));
    }
    // Two payments under one offline id are one payment to the backend,
    // which keeps one answer per id: the second is never charged (the
    // android-747 instance-id bug).
    for &again in &facts.stored_again {
        let event = &facts.history[again];
        let EventBody::OfflinePaymentStored { offline_id, payment, .. } = &event.body else {
            continue;
        };
        let Some(first) = facts.stored(offline_id.as_str()) else { continue };
        lost.insert(first.holder);
        let message = format!(
            "payments {} and {payment} were both stored under this offline id; the backend \
             charges one payment per offline id, so one of them is lost",
            first.payment
        );
        found.push(
            Finding::new(Invariant::I1, Some(offline_id.as_str()), message).with([first.at, again]),
        );
    }
    lost
}

fn loss<'h>(
    facts: &Facts<'h>,
    holder: &Part,
    record: &Holder<'h>,
    unaccounted: &[&'h str],
    missing: usize,
) -> Finding {
    let suspects = suspects(facts, record, unaccounted);
    let count = facts.status_count(holder);
    let anonymous = record.anonymous_unreadable.len();
    let message = if count == 0 && anonymous == 0 {
        let status = if record.last_status.is_some() {
            "its last offline status holds none"
        } else {
            "it never reported an offline status"
        };
        format!(
            "{holder} lost {}: none has an outcome and {status} ({})",
            names::count(missing, "stored payment"),
            names::list(&suspects)
        )
    } else {
        let unreadable = if anonymous > 0 {
            format!(
                " and it reported {} without an id",
                names::count(anonymous, "unreadable record")
            )
        } else {
            String::new()
        };
        format!(
            "{holder} lost {missing} of the {} without an outcome: its last offline status holds \
             {count}{unreadable}; most likely lost: {}",
            names::count(unaccounted.len(), "stored payment"),
            names::list(&suspects[..missing])
        )
    };
    let named = &suspects[..missing];
    let mut excerpt: Vec<usize> = named
        .iter()
        .take(MAX_STORED_SHOWN)
        .filter_map(|id| facts.stored(id))
        .map(|s| s.at)
        .collect();
    let from = excerpt.iter().copied().min().unwrap_or(0);
    let until = record.last_status.unwrap_or(facts.history.len());
    excerpt.extend(record.last_status);
    // What happened to the holder in between: restarts and faults aimed at
    // it, the last two of each, which is usually where the payments went.
    let between = |at: &&usize| (from..until).contains(*at);
    excerpt.extend(record.recoveries.iter().filter(between).rev().take(2));
    let aimed_at_holder = |at: &&usize| match &facts.history[**at].body {
        EventBody::FaultInjected { target, .. } | EventBody::FaultCleared { target, .. } => {
            *target == holder.0
        }
        _ => false,
    };
    excerpt.extend(facts.faults.iter().filter(between).filter(aimed_at_holder).rev().take(2));
    Finding::new(Invariant::I1, named.first().copied(), message).with(excerpt)
}

/// The unaccounted payments, those most likely lost first: a payment the
/// holder tried to upload after its last restart is evidently still in its
/// queue; one it never touched since is the likelier loss.
fn suspects<'h>(facts: &Facts<'h>, record: &Holder<'h>, unaccounted: &[&'h str]) -> Vec<&'h str> {
    let restart = record.recoveries.last().copied();
    let seen_since_restart = |id: &&str| {
        facts
            .payments
            .get(id)
            .and_then(|payment| payment.attempts.last())
            .is_some_and(|&last| restart.is_none_or(|restart| last > restart))
    };
    let (held, likely_lost): (Vec<&str>, Vec<&str>) =
        unaccounted.iter().copied().partition(seen_since_restart);
    likely_lost.into_iter().chain(held).collect()
}
