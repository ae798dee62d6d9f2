//! I11, merchant told: every stored payment that fails when it is forwarded
//! (`offline.payment.forwarded` with an `error`: declined on sync) is shown
//! to the merchant once, with its reason: one `merchant.notified` with
//! notice `sync_failed` for its offline id, on the same part (the device
//! whose app it is), whose `reason` is the decline code (else the error
//! code), within [`NOTICE_BOUND`] of the forward.
//!
//! Offline POS apps promise this notice because the customer has gone:
//! without it the merchant believes a payment was taken that never will be.
//!
//! Judged for every device whose merchant's app the rig runs (the reference
//! POS app, the app on a smart reader) and for an outside POS that declares
//! the capability `merchant.notices` in `pos.session.started`; an outside
//! POS that does not declare it reports no notices, and its part is not
//! judged. A failed forward less than the bound before the history's end,
//! in a run not finished, is not judged: the notice may still come.

use super::report::Finding;
use readerlab_emulator::core::MerchantNotice;
use readerlab_emulator::core::{Event, EventBody, Invariant, Part};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How soon after the failed forward the notice must come: the app shows
/// it at once; a minute leaves room for an outside app's event to arrive.
pub const NOTICE_BOUND: Duration = Duration::from_secs(60);

/// The capability an outside POS declares when it reports its notices.
pub const CAPABILITY: &str = "merchant.notices";

/// A sync failure: where, for which payment, and the reason owed.
struct Failed<'h> {
    at: usize,
    part: &'h Part,
    offline_id: &'h str,
    reason: &'h str,
}

pub(super) fn check(history: &[Event], found: &mut Vec<Finding>) {
    let Some(last) = history.last() else { return };
    let finished = history.iter().any(|e| matches!(e.body, EventBody::RigFinished));
    let mut outside = false;
    let mut outside_declares = false;
    let mut failed = Vec::new();
    let mut first = HashSet::new();
    let mut notices: HashMap<(&Part, &str), Vec<usize>> = HashMap::new();
    for (at, event) in history.iter().enumerate() {
        match &event.body {
            EventBody::PosSessionStarted { capabilities, .. } => {
                outside = true;
                outside_declares |= capabilities.iter().any(|c| c == CAPABILITY);
            }
            // The first failure of a payment is the one owed a notice; a
            // second report of it is I3's.
            EventBody::PaymentForwarded { offline_id, error: Some(error), .. }
                if first.insert((&event.part, offline_id.as_str())) =>
            {
                let reason = error.decline_code.as_deref().unwrap_or(&error.code);
                failed.push(Failed {
                    at,
                    part: &event.part,
                    offline_id: offline_id.as_str(),
                    reason,
                });
            }
            EventBody::MerchantNotified {
                notice: MerchantNotice::SyncFailed, offline_id, ..
            } => {
                notices.entry((&event.part, offline_id.as_str())).or_default().push(at);
            }
            _ => {}
        }
    }
    // An outside POS's events are all the `pos` part's.
    let pos_silent = outside && !outside_declares;
    for fail in failed {
        if pos_silent && *fail.part == Part::pos() {
            continue;
        }
        let by = history[fail.at].t_ms.0.saturating_add(NOTICE_BOUND.as_millis() as u64);
        let shown = notices.get(&(fail.part, fail.offline_id)).map_or(&[][..], Vec::as_slice);
        let after: Vec<usize> = shown.iter().copied().filter(|&n| n > fail.at).collect();
        let in_time = after.iter().filter(|&&n| history[n].t_ms.0 <= by).count();
        let message = match after.as_slice() {
            _ if in_time == 0 && !finished && last.t_ms.0 < by => continue,
            _ if in_time == 0 => format!(
                "payment {} failed at sync with {} (offline.payment.forwarded on {}) and the merchant \
                 was not told: no merchant.notified sync_failed for it within {} s",
                fail.offline_id,
                fail.reason,
                fail.part.0,
                NOTICE_BOUND.as_secs()
            ),
            [one] => match &history[*one].body {
                EventBody::MerchantNotified { reason, .. } if reason != fail.reason => format!(
                    "payment {} failed at sync with {} but the merchant was told {reason}",
                    fail.offline_id, fail.reason
                ),
                _ => continue,
            },
            many => format!(
                "payment {} failed at sync with {} and the merchant was told {} times",
                fail.offline_id,
                fail.reason,
                many.len()
            ),
        };
        let mut excerpt = vec![fail.at];
        excerpt.extend(after.iter().copied().take(3));
        found.push(Finding::new(Invariant::I11, Some(fail.offline_id), message).with(excerpt));
    }
}
