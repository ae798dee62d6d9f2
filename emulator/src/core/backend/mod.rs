//! The payments backend, sans-IO: a ledger of payment intents and charges
//! that answers [`ApiCall`]s with Stripe's shapes and `Idempotency-Key`
//! semantics. The sim target calls it in process; the served target puts it
//! behind HTTP.
//!
//! [`Backend`] is the ledger (`ledger.rs`: the call pipeline and the queries;
//! `payments.rs`: what each request does). Around it: `config.rs` (plain
//! data, every default), `tokens.rs` (connection tokens), `idempotency.rs`
//! (saved replies), `faults.rs` (armed backend faults), `records.rs` (what
//! the ledger keeps) and `objects.rs` (Stripe's JSON of it).

mod api;
mod config;
mod faults;
mod idempotency;
mod ledger;
mod objects;
mod payments;
mod records;
mod tokens;

pub use api::{ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest, PresentedCard, RequestKind};
pub use config::BackendConfig;
pub use faults::{BackendFault, ForwardMatch, InvalidFault};
pub use ledger::{Backend, CurrencyTotals};
pub use objects::error_body;
pub use records::{Charge, ChargeStatus, Decline, IntentStatus, OfflineCharge, PaymentIntent};
pub use tokens::ConnectionToken;
