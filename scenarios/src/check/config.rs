//! What the checker takes from outside the invariants themselves: today only
//! the drain window of I4.
//!
//! The window comes from the history (`rig.started.drain_window_ms`) so a
//! history is judged by the rig's own setting; this file must not read
//! anything else (no environment, no files), or the same history could be
//! judged two ways.

use readerlab_emulator::core::Event;
use readerlab_emulator::core::EventBody;
use std::time::Duration;

/// The drain window when the history does not state one: docs/design.md §4's
/// default of 60 s.
pub const DEFAULT_DRAIN_WINDOW: Duration = Duration::from_secs(60);

/// How the checker judges a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    /// I4: how long a queue may sit still while every link is up.
    pub drain_window: Duration,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig { drain_window: DEFAULT_DRAIN_WINDOW }
    }
}

impl CheckConfig {
    /// The configuration a history asks for: the drain window of its first
    /// `rig.started`, or the default when it has none (a history recorded by
    /// a shell that does not write rig events).
    pub fn for_history(history: &[Event]) -> CheckConfig {
        history
            .iter()
            .find_map(|event| match &event.body {
                EventBody::RigStarted { drain_window_ms, .. } => {
                    Some(CheckConfig { drain_window: Duration::from_millis(*drain_window_ms) })
                }
                _ => None,
            })
            .unwrap_or_default()
    }
}
