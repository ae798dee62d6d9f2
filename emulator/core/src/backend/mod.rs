//! The payments backend, sans-IO: a ledger of payment intents and charges
//! that answers [`ApiCall`]s with Stripe's shapes and `Idempotency-Key`
//! semantics. The sim target calls it in process; the served target puts it
//! behind HTTP.
//!
//! [`Backend`] is the ledger (`ledger.rs`: the call pipeline and the queries;
//! `payments.rs`: what each request does). Around it: `config.rs` (plain
//! data, every default), `tokens.rs` (connection tokens), `idempotency.rs`
//! (saved replies), `faults.rs` (armed backend faults), `records.rs` (what
//! the ledger keeps) and `objects.rs` (Stripe's JSON of it). Stripe
//! Terminal's objects (locations, configurations, registered readers and
//! their actions, handed to the shell as `ReaderCommand`s) are in
//! `terminal.rs` and `terminal_requests.rs`; `lists.rs` pages Stripe lists.

mod api;
mod config;
mod faults;
mod idempotency;
mod ledger;
mod lists;
mod objects;
mod payments;
mod records;
mod rig_readers;
mod terminal;
mod terminal_requests;
mod tokens;

pub use api::{
    Address, ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest, ListParams, PresentedCard,
    RequestKind,
};
pub use config::BackendConfig;
pub use faults::{ArmedFault, ForwardMatch, InvalidFault};
pub use ledger::{Backend, CurrencyTotals};
pub use objects::error_body;
pub use records::{
    Charge, ChargeStatus, Decline, IntentStatus, OfflineCharge, POS_PAYMENT_KEY, PaymentIntent,
};
pub use terminal::{
    ActionResult, ActionStatus, Configuration, Location, ReaderAction, ReaderCommand,
    RegisteredReader,
};
pub use tokens::ConnectionToken;
