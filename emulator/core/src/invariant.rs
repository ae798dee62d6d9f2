//! The invariants the checker enforces (docs/design.md §4), named once here
//! so the checker's reports and the defect profiles that break them agree.
//!
//! This is vocabulary only: judging a history is the checker's job
//! (`scenarios/src/check/`), which reads nothing but the history.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the invariants I1–I11.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Invariant {
    /// Every payment reported stored is eventually forwarded or reported
    /// failed with a reason.
    I1,
    /// The backend never charges one collected payment twice, and holds no
    /// charge that no collect produced.
    I2,
    /// Each stored payment yields exactly one forwarded outcome.
    I3,
    /// Once every link is up and stays up for the drain window, the queue
    /// drains.
    I4,
    /// Nothing is stored past the limits; each refusal has its code.
    I5,
    /// The offline rules hold, each refusal with its code.
    I6,
    /// No full card number in clear; tampered records are reported.
    I7,
    /// Per currency, stored = forwarded + declined + failed + still stored.
    I8,
    /// The outcome the app is told agrees with the ledger: no "declined" or
    /// "failed" for a payment the backend charged, no "succeeded" for one it
    /// did not.
    I9,
    /// Every payment intent on the backend belongs to a payment the app
    /// started, and none is created for a payment that already ended.
    I10,
    /// Every payment that fails at sync is shown to the merchant once, with
    /// its reason.
    I11,
}

impl Invariant {
    /// Every invariant, in order.
    pub const ALL: [Invariant; 11] = [
        Invariant::I1,
        Invariant::I2,
        Invariant::I3,
        Invariant::I4,
        Invariant::I5,
        Invariant::I6,
        Invariant::I7,
        Invariant::I8,
        Invariant::I9,
        Invariant::I10,
        Invariant::I11,
    ];

    /// The short name docs/design.md §4 gives it.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::I1 => "no loss",
            Invariant::I2 => "exactly once",
            Invariant::I3 => "one outcome",
            Invariant::I4 => "liveness",
            Invariant::I5 => "limits",
            Invariant::I6 => "offline rules",
            Invariant::I7 => "confidentiality",
            Invariant::I8 => "conservation",
            Invariant::I9 => "honest outcome",
            Invariant::I10 => "no orphan intents",
            Invariant::I11 => "merchant told",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.name())
    }
}
