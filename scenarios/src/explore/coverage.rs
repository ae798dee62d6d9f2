//! Coverage: which fault kinds exploration injected, and which of the
//! invariants' risky paths its histories went through, at least once.
//!
//! A risky path is a situation in which an invariant is easy to break: a
//! power cut in the middle of a write while payments are stored (I1), the
//! answer to a forward lost (I2), a restart while a forward is in flight
//! (I3), and so on. Each is recognised in the history alone, in one pass per
//! case, from what devices report (`offline.status.changed` counts, forward
//! attempts, outcomes) and the `fault.injected` events.

use readerlab_emulator::core::FaultKind;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::TerminalErrorCode;
use readerlab_emulator::core::offline::Mode;
use readerlab_emulator::core::{Event, EventBody, NetworkStatus};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A risky path: its name, the invariant it endangers, and what it is.
#[derive(Clone, Copy, Debug)]
pub struct RiskyPath {
    /// Short name (`forward-answer-lost`).
    pub name: &'static str,
    /// The invariant it endangers.
    pub invariant: Invariant,
    /// What happened.
    pub what: &'static str,
}

/// Every risky path coverage looks for, by invariant.
pub const RISKY_PATHS: [RiskyPath; 19] = [
    path("stored-offline", Invariant::I1, "a payment was stored offline"),
    path(
        "power-cut-mid-write",
        Invariant::I1,
        "power was cut during a write while payments were stored",
    ),
    path("upgrade-with-payments", Invariant::I1, "the app was upgraded while payments were stored"),
    path(
        "forward-answer-lost",
        Invariant::I2,
        "the answer to a forward was lost after the backend applied it",
    ),
    path("forward-retried", Invariant::I2, "a forward was sent again"),
    path(
        "network-back-mid-forward",
        Invariant::I2,
        "the network came back while a forward was in flight",
    ),
    path(
        "restart-mid-forward",
        Invariant::I3,
        "the device restarted (app kill, power, reboot) while a forward was in flight",
    ),
    path("declined-on-sync", Invariant::I3, "a forwarded payment was declined"),
    path(
        "drained-after-outage",
        Invariant::I4,
        "a stored payment was forwarded once the internet was back",
    ),
    path(
        "forwarding-failed",
        Invariant::I4,
        "forwarding failed for a reason not tied to one payment",
    ),
    path(
        "damaged-record-ahead-of-queue",
        Invariant::I4,
        "a record was reported unreadable with more payments queued",
    ),
    path(
        "refused-at-a-limit",
        Invariant::I5,
        "a payment was refused at an amount or storage limit",
    ),
    path(
        "storage-full-with-payments",
        Invariant::I5,
        "the storage filled up while payments were stored",
    ),
    path("refused-by-a-rule", Invariant::I6, "a payment was refused by an offline rule"),
    path("damaged-record-reported", Invariant::I7, "a damaged record was detected and reported"),
    path(
        "restart-with-payments",
        Invariant::I8,
        "the device restarted (app kill, power, reboot, upgrade) holding stored payments",
    ),
    path(
        "confirm-answer-lost",
        Invariant::I9,
        "the answer to a confirm was lost after the backend applied it",
    ),
    path(
        "created-offline",
        Invariant::I10,
        "a payment was created offline (the device was offline, or its online create timed out)",
    ),
    path(
        "merchant-owed-a-notice",
        Invariant::I11,
        "a stored payment failed at sync, so the merchant's app owed a notice",
    ),
];

const fn path(name: &'static str, invariant: Invariant, what: &'static str) -> RiskyPath {
    RiskyPath { name, invariant, what }
}

/// Counts over a whole exploration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    /// Faults injected (or fired, for armed request faults), by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// Cases that went through each risky path, by its name.
    pub paths: BTreeMap<&'static str, u64>,
}

impl Coverage {
    /// Adds one case's history.
    pub fn add(&mut self, history: &[Event]) {
        for kind in faults_of(history) {
            *self.faults.entry(kind).or_default() += 1;
        }
        for name in paths_of(history) {
            *self.paths.entry(name).or_default() += 1;
        }
    }

    /// Fault kinds never injected.
    pub fn missing_faults(&self) -> Vec<FaultKind> {
        FaultKind::ALL.into_iter().filter(|k| !self.faults.contains_key(k)).collect()
    }

    /// Risky paths never reached.
    pub fn missing_paths(&self) -> Vec<&'static RiskyPath> {
        RISKY_PATHS.iter().filter(|p| !self.paths.contains_key(p.name)).collect()
    }
}

/// Every fault that took effect, in order.
fn faults_of(history: &[Event]) -> impl Iterator<Item = FaultKind> + '_ {
    history.iter().filter_map(|e| match &e.body {
        EventBody::FaultInjected { fault, .. } => Some(*fault),
        _ => None,
    })
}

/// The risky paths one history went through.
pub fn paths_of(history: &[Event]) -> BTreeSet<&'static str> {
    let mut reached = BTreeSet::new();
    // Per device part (`pos`, `reader/<serial>`): payments it says it holds,
    // whether a forward is in flight, whether it last said it was online.
    let mut queued: BTreeMap<&str, u32> = BTreeMap::new();
    let mut in_flight: BTreeSet<&str> = BTreeSet::new();
    let mut online: BTreeMap<&str, bool> = BTreeMap::new();
    let mut was_offline: BTreeSet<&str> = BTreeSet::new();
    for event in history {
        let part = event.part.0.as_str();
        match &event.body {
            EventBody::OfflineStatusChanged { status } => {
                queued.insert(part, status.count);
                let now_online = status.network == NetworkStatus::Online;
                let before = online.insert(part, now_online);
                if now_online && before == Some(false) && in_flight.contains(part) {
                    reached.insert("network-back-mid-forward");
                }
                if !now_online {
                    was_offline.insert(part);
                }
            }
            EventBody::OfflinePaymentStored { .. } => {
                reached.insert("stored-offline");
            }
            EventBody::ForwardAttempted { attempt, .. } => {
                in_flight.insert(part);
                if *attempt >= 2 {
                    reached.insert("forward-retried");
                }
            }
            EventBody::PaymentForwarded { error, .. } => {
                in_flight.remove(part);
                if error.is_some() {
                    reached.insert("merchant-owed-a-notice");
                }
                if error.as_ref().is_some_and(|e| e.decline_code.is_some()) {
                    reached.insert("declined-on-sync");
                } else if error.is_none() && was_offline.contains(part) {
                    reached.insert("drained-after-outage");
                }
            }
            EventBody::PaymentUnreadable { .. } => {
                reached.insert("damaged-record-reported");
                if queued.get(part).copied().unwrap_or(0) > 1 {
                    reached.insert("damaged-record-ahead-of-queue");
                }
            }
            EventBody::ForwardingFailed { .. } => {
                reached.insert("forwarding-failed");
            }
            EventBody::SdkPaymentFailed { code, .. } => {
                if let Some(name) = refusal(*code) {
                    reached.insert(name);
                }
            }
            EventBody::FaultInjected { fault, target, detail, .. } => {
                let target = target.as_str();
                let holding = queued.get(target).copied().unwrap_or(0) > 0;
                let forwarding = in_flight.contains(target);
                match fault {
                    FaultKind::PowerLoss => {
                        let mid_write =
                            detail.as_deref().is_some_and(|d| d.contains("during the next write"));
                        if mid_write && holding {
                            reached.insert("power-cut-mid-write");
                        }
                    }
                    FaultKind::AppUpgrade if holding => {
                        reached.insert("upgrade-with-payments");
                    }
                    FaultKind::StorageFull if holding => {
                        reached.insert("storage-full-with-payments");
                    }
                    FaultKind::ResponseLost => reached.extend(lost_answer(detail.as_deref())),
                    _ => {}
                }
                let restarts = matches!(
                    fault,
                    FaultKind::AppKill | FaultKind::PowerLoss | FaultKind::ReaderReboot
                );
                if restarts && forwarding {
                    reached.insert("restart-mid-forward");
                }
                if (restarts || *fault == FaultKind::AppUpgrade) && holding {
                    reached.insert("restart-with-payments");
                }
                if restarts || *fault == FaultKind::AppDataWiped {
                    in_flight.remove(target);
                }
            }
            EventBody::SdkIntentCreated { mode: Mode::Offline, .. } => {
                reached.insert("created-offline");
            }
            _ => {}
        }
    }
    reached
}

/// The risky path of an answer lost after the backend applied the request
/// (`fault.injected`'s detail names the request kind it was aimed at).
fn lost_answer(detail: Option<&str>) -> Option<&'static str> {
    let detail = detail?;
    if detail.contains("Forward") {
        Some("forward-answer-lost")
    } else if detail.contains("Confirm") {
        Some("confirm-answer-lost")
    } else {
        None
    }
}

/// The risky path a refusal code belongs to.
fn refusal(code: TerminalErrorCode) -> Option<&'static str> {
    use TerminalErrorCode as C;
    match code {
        C::AmountExceedsMaxOfflineAmount | C::OfflinePaymentsDatabaseTooLarge => {
            Some("refused-at-a-limit")
        }
        C::CardSwipeNotAvailable
        | C::InteracNotSupportedOffline
        | C::OfflineAndCardExpired
        | C::OnlinePinNotSupportedOffline
        | C::ForceOfflineWithFeatureDisabled
        | C::NotConnectedToInternetAndRequireOnlineSet
        | C::NotConnectedToInternet
        | C::MissingEmvData
        | C::InvalidOfflineCurrency => Some("refused-by-a-rule"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_risky_path_has_a_unique_name_and_every_invariant_has_one() {
        let names: BTreeSet<_> = RISKY_PATHS.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), RISKY_PATHS.len());
        let invariants: BTreeSet<_> = RISKY_PATHS.iter().map(|p| p.invariant).collect();
        assert_eq!(invariants.len(), Invariant::ALL.len(), "every invariant has a risky path");
    }
}
