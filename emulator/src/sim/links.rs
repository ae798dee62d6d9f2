//! The links of a rig and what can go wrong on them: per link a state (up or
//! down), a latency with jitter, and an ordered chain of rules for the n-th
//! matching request (swallow it, or apply it and lose its answer), in the
//! spirit of turmoil's per-link fault rules.
//!
//! Pure data and decisions; the simulator moves the messages.

use crate::core::backend::RequestKind;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which link. The target names in fault events are `pos~backend`,
/// `reader/<serial>~backend` and `pos~reader/<serial>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LinkId {
    /// The POS's internet connection to the backend.
    PosBackend,
    /// A smart reader's own internet connection (reader index in the rig).
    ReaderBackend(usize),
    /// POS to reader: Bluetooth or USB for mobile readers, the LAN for smart
    /// readers.
    PosReader(usize),
}

/// What a request rule does to the request it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestFate {
    /// It never arrives; the caller times out.
    Swallowed,
    /// It arrives and is applied; the answer is lost on the way back.
    ResponseLost,
}

/// A rule: the `nth` request from now (1: the next) of `kind` (any when
/// `None`) on this link meets `fate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRule {
    /// Only requests of this kind count.
    pub kind: Option<RequestKind>,
    /// Matching requests still to let through before this one.
    pub remaining: u32,
    /// What happens to it.
    pub fate: RequestFate,
}

/// One link's state.
#[derive(Clone, Debug)]
pub struct Link {
    /// Whether traffic passes.
    pub up: bool,
    /// One-way latency, milliseconds.
    pub latency_ms: u64,
    /// Up to this much more, drawn per message.
    pub jitter_ms: u64,
    /// Extra latency from a `latency` fault.
    pub extra_ms: u64,
    /// Flapping until cleared.
    pub flapping: bool,
    /// Rules for coming requests, in the order they were armed.
    pub rules: Vec<RequestRule>,
}

impl Link {
    /// An internet link: tens of milliseconds each way.
    pub fn internet() -> Link {
        Link {
            up: true,
            latency_ms: 40,
            jitter_ms: 60,
            extra_ms: 0,
            flapping: false,
            rules: Vec::new(),
        }
    }

    /// A local link (Bluetooth, USB, LAN).
    pub fn local() -> Link {
        Link { latency_ms: 5, jitter_ms: 10, ..Link::internet() }
    }

    /// One message's travel time.
    pub fn delay(&self, rng: &mut ChaCha8Rng) -> u64 {
        let jitter = if self.jitter_ms == 0 { 0 } else { rng.random_range(0..=self.jitter_ms) };
        self.latency_ms + self.extra_ms + jitter
    }

    /// Whether a request of `kind` meets `fate`: the first rule for that
    /// fate that matches counts it, and fires when its count runs out.
    /// Swallowing is decided when a request is sent; a lost response only
    /// for a request the backend applied, so "the n-th" counts requests that
    /// changed something (a 401 or a 5xx changed nothing).
    pub fn meets(&mut self, kind: RequestKind, fate: RequestFate) -> bool {
        let matching = |r: &RequestRule| r.fate == fate && r.kind.is_none_or(|k| k == kind);
        let Some(index) = self.rules.iter().position(matching) else { return false };
        let rule = &mut self.rules[index];
        if rule.remaining > 0 {
            rule.remaining -= 1;
            return false;
        }
        self.rules.remove(index);
        true
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkId::PosBackend => f.write_str("pos~backend"),
            LinkId::ReaderBackend(i) => write!(f, "reader#{i}~backend"),
            LinkId::PosReader(i) => write!(f, "pos~reader#{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_matching_request_meets_its_fate_once() {
        let mut link = Link::internet();
        link.rules.push(RequestRule {
            kind: Some(RequestKind::ForwardOfflinePayment),
            remaining: 1,
            fate: RequestFate::ResponseLost,
        });
        let lost = RequestFate::ResponseLost;
        assert!(!link.meets(RequestKind::CreateConnectionToken, lost));
        assert!(!link.meets(RequestKind::ForwardOfflinePayment, RequestFate::Swallowed));
        assert!(!link.meets(RequestKind::ForwardOfflinePayment, lost));
        assert!(link.meets(RequestKind::ForwardOfflinePayment, lost));
        assert!(!link.meets(RequestKind::ForwardOfflinePayment, lost));
    }
}
