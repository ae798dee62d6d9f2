//! Drills: for each defect profile, the few faults that expose it, placed
//! around an instant. A targeted run is a quiet run plus the drill; a busy
//! random run with a defect on adds the drill to its plan, so the defect's
//! trigger is reached on every seed instead of by luck.
//!
//! A drill only arranges conditions the field incident had (an offline
//! period, an upgrade, a damaged record, a lost response); it never touches
//! the code under test.

use super::faults::{BackendFault, LinkFault, PowerFault, StorageFault};
use super::faults::{Device, Fault, PlacedFault};
use super::links::LinkId;
use crate::core::Defect;
use crate::core::Millis;
use crate::core::backend::RequestKind;
use std::time::Duration;

/// The faults that expose `defect` on `device` (the POS, or a smart reader
/// that stores its own payments), starting at `at`. The device's internet
/// goes down for a while first, so payments are stored offline.
pub fn drill(defect: Defect, device: Device, at: Millis) -> Vec<PlacedFault> {
    let internet = match device {
        Device::Pos => LinkId::PosBackend,
        Device::Reader(index) => LinkId::ReaderBackend(index),
    };
    let min = |m: u64| Duration::from_secs(m * 60);
    let offline = |hold: Duration| PlacedFault {
        at,
        fault: LinkFault::LinkDown { link: internet }.into(),
        holds_for: Some(hold),
    };
    let then = |after: Duration, fault: Fault, holds_for: Option<Duration>| PlacedFault {
        at: at + after,
        fault,
        holds_for,
    };
    match defect {
        // android-747: the network comes and goes while the queue drains;
        // slow answers keep each upload in flight long enough to be caught
        // by a reconnect.
        Defect::DoubleForwardOnReconnect => vec![
            offline(min(20)),
            then(
                min(19),
                LinkFault::Latency { link: internet, extra_ms: 2_500 }.into(),
                Some(min(15)),
            ),
            then(min(21), LinkFault::LinkFlapping { link: internet }.into(), Some(min(10))),
        ],
        // android-731: payments wait offline, and the app is upgraded from
        // the version that wrote the old format.
        Defect::StoreLostOnUpgrade => {
            vec![offline(min(30)), then(min(20), PowerFault::AppUpgrade { device }.into(), None)]
        }
        // ios-261, android-485: payments are stored while offline; the
        // network returns.
        Defect::SuccessWithoutStore | Defect::ForwardStallsUntilRestart => vec![offline(min(20))],
        // rn-1061: the stored payments are declined when forwarded (and a
        // merchant must be told of each).
        Defect::DuplicateOutcome | Defect::FailedSyncNotShown => vec![
            offline(min(20)),
            then(
                min(10),
                BackendFault::DeclineOnSync { times: 3, decline_code: "insufficient_funds".into() }
                    .into(),
                None,
            ),
        ],
        // android-459: a stored record is damaged and the app restarts
        // before it forwarded it, with more payments behind it.
        // Late in the outage, so payments are waiting behind the damaged one.
        Defect::CorruptRecordAbortsQueue => vec![
            offline(min(40)),
            then(min(30), StorageFault::RecordCorrupted { device }.into(), None),
            then(min(31), PowerFault::AppKill { device }.into(), Some(Duration::from_secs(10))),
        ],
        // Lost answers to the first three uploads the backend applies: each
        // retry must carry the same key.
        Defect::FreshIdempotencyKeyOnRetry => {
            let lost: Fault = LinkFault::ResponseLost {
                link: internet,
                request: Some(RequestKind::ForwardOfflinePayment),
                nth: 1,
            }
            .into();
            let mut drill = vec![offline(min(20))];
            drill.extend((0..3).map(|_| then(min(19), lost.clone(), None)));
            drill
        }
        // Lost answers to the next three confirms the backend applies: each
        // of those payments falls back offline with its intent already
        // charged, and its forward meets that charge.
        Defect::FailedAfterLostConfirmAnswer => {
            let lost: Fault = LinkFault::ResponseLost {
                link: internet,
                request: Some(RequestKind::ConfirmPaymentIntent),
                nth: 1,
            }
            .into();
            (0..3).map(|_| then(Duration::ZERO, lost.clone(), None)).collect()
        }
        // Payments are created while offline; the network returns.
        Defect::CreateQueuedWhileOffline => vec![offline(min(20))],
    }
}
