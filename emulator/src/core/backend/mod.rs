//! The payments backend, sans-IO: a ledger of payment intents and charges
//! that answers [`ApiCall`]s with Stripe's shapes and `Idempotency-Key`
//! semantics. The sim target calls it in process; the served target puts it
//! behind HTTP.

mod api;

pub use api::{ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest, PresentedCard, RequestKind};
