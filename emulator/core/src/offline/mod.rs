//! Offline mode: collect while the backend is unreachable, keep every payment
//! safe, forward each one exactly once when the network returns.
//!
//! The POS/SDK model (mobile readers) and the smart-reader engine are one
//! [`OfflineEngine`] with a different [`Holder`]; they share the rules, the
//! stored-payment shape and the [`forwarder`](self::forwarder). The durable
//! store that keeps [`StoredPayment`]s lives outside the core
//! (`crate::store`), driven by the [`Effect`]s the engine returns.

mod config;
mod engine;
mod forwarder;
mod payments;
mod rules;
mod stored;

pub use config::{OfflineConfig, Timings};
pub use engine::{
    Account, Effect, Holder, Input, OfflineEngine, OfflineStatus, Session, UnreadableRecord,
};
pub use rules::{
    CollectedCard, Mode, OfflineBehavior, StoredTotals, check_offline_amount,
    check_offline_confirm, mode_for_create,
};
pub use stored::{CaptureMethod, OfflineId, StoredCard, StoredPayment};

use serde::{Deserialize, Serialize};

/// Why a forwarded payment did not succeed, as `onPaymentIntentForwarded`
/// reports it: a Stripe code (`card_declined`, with the issuer's decline
/// code: decline on sync) or an SDK code (`ACCOUNT_ID_MISMATCH_WHILE_FORWARDING`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardError {
    /// The error code.
    pub code: String,
    /// The issuer's decline code, for a decline on sync.
    pub decline_code: Option<String>,
}
