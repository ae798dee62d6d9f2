//! Who plays the POS of a served rig: readerlab's own reference POS, in the
//! served process ([`InProcessPos`]), or an adapter speaking the driver
//! protocol (`external.rs`). The readers, the backend, the faults and the
//! clock stay the rig's either way; only the POS role moves.

use super::Skipped;
use readerlab_emulator::core::{Event, Millis};
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::sim::{Fault, PaymentSpec};
use std::fmt;

/// What a served rig needs of its POS. Every method gets the rig's control
/// API (the POS reaches the rig only as an outside client would) and may
/// fail the scenario by panicking with its reason, or skip it with a
/// [`Skipped`] payload.
pub trait Pos: fmt::Debug {
    /// A customer arrives at the counter now.
    fn pay(&mut self, rig: &RigAccess<'_>, payment: PaymentSpec);
    /// Rig time moved to `now` and `history` is everything recorded so far:
    /// the POS catches up (an adapter does what is due, the customer presents
    /// a card the reader asks for).
    fn tick(&mut self, rig: &RigAccess<'_>, now: Millis, history: &[Event]);
    /// Whether the POS has work of its own in progress that only ticks
    /// move on (the rig then advances in small steps).
    fn busy(&self) -> bool;
    /// When the POS next has something of its own due (an adapter's
    /// timer): the rig moves no further before it ticks the POS again.
    fn next_due(&self) -> Option<Millis>;
    /// A fault is about to be performed on the rig; the POS plays its part
    /// (an adapter's app is killed for real) or skips what it cannot do.
    fn inject(&mut self, rig: &RigAccess<'_>, fault: &Fault);
    /// A sustained fault was cleared on the rig.
    fn clear(&mut self, rig: &RigAccess<'_>, fault: &Fault);
    /// Whether an adapter plays it (the rig then settles it before draining).
    fn is_outside(&self) -> bool;
    /// The scenario ends: the POS says goodbye. Returns its log lines.
    fn end(&mut self, rig: &RigAccess<'_>) -> Vec<String>;
}

/// The rig as a POS reaches it: its control API, on the served target's
/// runtime.
pub struct RigAccess<'a> {
    pub client: &'a ControlClient,
    pub runtime: &'a tokio::runtime::Runtime,
}

impl fmt::Debug for RigAccess<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RigAccess").finish_non_exhaustive()
    }
}

/// readerlab's reference POS, which the served rig runs itself: customers
/// are handed to it through the control API.
#[derive(Debug, Default)]
pub struct InProcessPos;

impl Pos for InProcessPos {
    fn pay(&mut self, rig: &RigAccess<'_>, payment: PaymentSpec) {
        rig.runtime
            .block_on(rig.client.pay(&payment))
            .unwrap_or_else(|e| panic!("served rig: placing {}: {e}", payment.name));
    }

    fn tick(&mut self, _: &RigAccess<'_>, _: Millis, _: &[Event]) {}

    fn busy(&self) -> bool {
        false
    }

    fn next_due(&self) -> Option<Millis> {
        None
    }

    fn is_outside(&self) -> bool {
        false
    }

    fn inject(&mut self, _: &RigAccess<'_>, _: &Fault) {}

    fn clear(&mut self, _: &RigAccess<'_>, _: &Fault) {}

    fn end(&mut self, _: &RigAccess<'_>) -> Vec<String> {
        Vec::new()
    }
}

/// Skips the scenario with `reason`.
pub fn skip(reason: String) -> ! {
    std::panic::panic_any(Skipped(reason))
}
