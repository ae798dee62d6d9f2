//! Offline mode: collect while the backend is unreachable, keep every payment
//! safe, forward each one exactly once when the network returns.
//!
//! The POS/SDK model (mobile readers) and the smart-reader engine are one
//! [`OfflineEngine`] with a different [`Holder`]; they share the rules, the
//! stored-payment shape and the [`forwarder`](self::forwarder). The durable
//! store that keeps [`StoredPayment`]s lives outside the core
//! (`crate::store`), driven by the [`Effect`]s the engine returns.

mod config;
mod effects;
mod engine;
mod forwarder;
pub mod merchant;
mod payments;
mod rules;
mod session;
mod stored;

pub use crate::event::OfflineStatus;
pub use config::{OfflineConfig, Timings};
pub use effects::Effect;
pub use engine::{Input, OfflineEngine};
pub use rules::{
    CollectedCard, Mode, OfflineBehavior, StoredTotals, check_offline_amount,
    check_offline_confirm, mode_for_create,
};
pub use session::{Account, Holder, Session, UnreadableRecord};
pub use stored::{CaptureMethod, ForwardError, OfflineId, StoredCard, StoredPayment};
