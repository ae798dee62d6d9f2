//! Offline mode: collect while the backend is unreachable, keep every payment
//! safe, forward each one exactly once when the network returns.
//!
//! The POS/SDK model (mobile readers) and the smart-reader engine share the
//! rules, the stored-payment shape and the forwarder; the durable store that
//! keeps [`StoredPayment`]s lives outside the core (`crate::store`), driven
//! by the effects these machines return.

mod stored;

pub use stored::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
