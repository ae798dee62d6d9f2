//! Defect profiles: named switches that make the reference POS/SDK or the
//! smart reader misbehave the way a field device did (docs/incidents.md), so the
//! harness can prove it catches that class of bug.
//!
//! A defect is off unless a run names it. Each switch sits at the one place
//! in the code where the field bug lived, guarded by
//! [`Defects::has`]; nothing else changes. Each names the invariant it breaks,
//! and the tests check that a targeted run breaks exactly that one.

use crate::invariant::Invariant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One defect profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// While the queue drains, a network change restarts the upload of the
    /// payment in flight with a fresh idempotency key.
    DoubleForwardOnReconnect,
    /// An app upgrade that meets the old store format drops it and starts
    /// an empty one.
    StoreLostOnUpgrade,
    /// The app is told "stored" but the payment never reaches the store or
    /// the forwarding queue.
    SuccessWithoutStore,
    /// Forwarding stops when the network drops and resumes only when the app
    /// restarts.
    ForwardStallsUntilRestart,
    /// A payment declined at forwarding is reported to the app twice.
    DuplicateOutcome,
    /// A record that cannot be read back stops the whole forwarding queue.
    CorruptRecordAbortsQueue,
    /// Every retry of an upload carries a new idempotency key.
    FreshIdempotencyKeyOnRetry,
    /// After a confirm's answer is lost and the payment falls back offline,
    /// the forward's "already succeeded" answer is reported as a failure.
    FailedAfterLostConfirmAnswer,
    /// A create made while offline is queued and sent when the network
    /// returns, after the payment was stored, failed or canceled.
    CreateQueuedWhileOffline,
    /// The merchant's app never shows a payment that failed at sync.
    FailedSyncNotShown,
}

/// What `readerlab defects` says about a defect.
#[derive(Clone, Copy, Debug)]
pub struct DefectSheet {
    /// The defect.
    pub defect: Defect,
    /// The incident it models (`android-747`), or `None` for a class of bug
    /// no single incident shows.
    pub incident: Option<&'static str>,
    /// The invariant a run with it breaks.
    pub breaks: Invariant,
    /// Which part misbehaves, and how.
    pub summary: &'static str,
}

impl Defect {
    /// Every defect profile.
    pub const ALL: [Defect; 10] = [
        Defect::DoubleForwardOnReconnect,
        Defect::StoreLostOnUpgrade,
        Defect::SuccessWithoutStore,
        Defect::ForwardStallsUntilRestart,
        Defect::DuplicateOutcome,
        Defect::CorruptRecordAbortsQueue,
        Defect::FreshIdempotencyKeyOnRetry,
        Defect::FailedAfterLostConfirmAnswer,
        Defect::CreateQueuedWhileOffline,
        Defect::FailedSyncNotShown,
    ];

    /// Its command-line name (`double-forward-on-reconnect`).
    pub fn name(self) -> &'static str {
        match self {
            Defect::DoubleForwardOnReconnect => "double-forward-on-reconnect",
            Defect::StoreLostOnUpgrade => "store-lost-on-upgrade",
            Defect::SuccessWithoutStore => "success-without-store",
            Defect::ForwardStallsUntilRestart => "forward-stalls-until-restart",
            Defect::DuplicateOutcome => "duplicate-outcome",
            Defect::CorruptRecordAbortsQueue => "corrupt-record-aborts-queue",
            Defect::FreshIdempotencyKeyOnRetry => "fresh-idempotency-key-on-retry",
            Defect::FailedAfterLostConfirmAnswer => "failed-after-lost-confirm-answer",
            Defect::CreateQueuedWhileOffline => "create-queued-while-offline",
            Defect::FailedSyncNotShown => "failed-sync-not-shown",
        }
    }

    /// The incident, the invariant and a summary.
    pub fn sheet(self) -> DefectSheet {
        let (incident, breaks, summary) = match self {
            Defect::DoubleForwardOnReconnect => (
                Some("android-747"),
                Invariant::I2,
                "POS SDK / smart reader: when the network comes back while an upload is in flight, it \
                 uploads the same payment again under a fresh idempotency key",
            ),
            Defect::StoreLostOnUpgrade => (
                Some("android-731"),
                Invariant::I1,
                "POS SDK / smart reader: an upgraded app that finds the old store format drops it and \
                 recreates an empty store",
            ),
            Defect::SuccessWithoutStore => (
                Some("ios-261"),
                Invariant::I1,
                "POS SDK / smart reader: the confirm reports the payment stored, but it is \
                 neither written nor queued for forwarding",
            ),
            Defect::ForwardStallsUntilRestart => (
                Some("android-485"),
                Invariant::I4,
                "POS SDK / smart reader: once the network drops, the forwarder stops and \
                 only an app restart starts it again",
            ),
            Defect::DuplicateOutcome => (
                Some("rn-1061"),
                Invariant::I3,
                "POS SDK / smart reader: a payment declined at forwarding is reported to \
                 the app twice",
            ),
            Defect::CorruptRecordAbortsQueue => (
                Some("android-459"),
                Invariant::I4,
                "POS SDK / smart reader: a stored record that cannot be decrypted is \
                 reported, and then nothing behind it is ever forwarded",
            ),
            Defect::FreshIdempotencyKeyOnRetry => (
                None,
                Invariant::I2,
                "POS SDK / smart reader: each retry of an upload (after a timeout or a lost \
                 response) carries a new idempotency key",
            ),
            Defect::FailedAfterLostConfirmAnswer => (
                None,
                Invariant::I9,
                "POS SDK / smart reader: when a confirm's answer is lost, the payment falls back \
                 offline; its forward meets the intent that confirm already charged \
                 (payment_intent_unexpected_state) and the SDK reports the payment failed, \
                 though the customer paid",
            ),
            Defect::CreateQueuedWhileOffline => (
                None,
                Invariant::I10,
                "POS SDK / smart reader: a payment created while offline also leaves its online \
                 create in the SDK's request queue, sent when the network returns, after the \
                 payment was stored, failed or canceled: an intent nobody confirms or cancels",
            ),
            Defect::FailedSyncNotShown => (
                None,
                Invariant::I11,
                "merchant's app (POS or smart reader): a stored payment declined when it is \
                 forwarded is reported by the SDK, but the app never tells the merchant, who \
                 believes the customer paid",
            ),
        };
        DefectSheet { defect: self, incident, breaks, summary }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a defect profile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no defect profile is called {0:?}; `readerlab defects` lists them")]
pub struct UnknownDefect(pub String);

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| UnknownDefect(name.to_owned()))
    }
}

/// The defects switched on for a run; empty for the reference behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    /// No defect: the reference behaviour.
    pub fn none() -> Self {
        Defects::default()
    }

    /// Exactly these defects.
    pub fn of(defects: impl IntoIterator<Item = Defect>) -> Self {
        Defects(defects.into_iter().collect())
    }

    /// Whether no defect is switched on (the reference behaviour).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `defect` is switched on.
    pub fn has(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    /// The defects switched on, in order.
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for defect in Defect::ALL {
            assert_eq!(defect.name().parse::<Defect>(), Ok(defect));
            let json = serde_json::to_string(&defect).expect("serializes");
            assert_eq!(json, format!("\"{}\"", defect.name()));
        }
        assert!("double-forward".parse::<Defect>().is_err());
    }
}
