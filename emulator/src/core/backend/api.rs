//! The calls the POS/SDK model and the smart-reader engine make to the
//! payments backend, and its answers: the contract between those cores and
//! the backend ledger. The served target (issue 7) maps these one to one onto
//! Stripe's form-encoded HTTP endpoints; nothing here knows about HTTP.
//!
//! Answers carry Stripe's JSON object shapes (`payment_intent`, `charge`,
//! `terminal.connection_token`) and Stripe's error shape, so what the sim
//! target records is what a Stripe client library would parse.

use crate::core::cards::{CardNumber, PinEntry};
use crate::core::money::Money;
use crate::core::offline::{CaptureMethod, StoredPayment};
use crate::core::profile::EntryMode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One API call: who makes it and with which `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiCall {
    /// The connection token's secret the call is authorized by (`pst_…`),
    /// or `None` for the app's own server calls (create an intent, mint a
    /// connection token), which use the secret key.
    pub token: Option<String>,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// What is asked.
    pub request: ApiRequest,
}

/// The requests the rig's POS and readers make.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiRequest {
    /// `POST /v1/terminal/connection_tokens`: the app's token provider.
    CreateConnectionToken { location: Option<String> },
    /// `POST /v1/payment_intents` with `payment_method_types[]=card_present`.
    CreatePaymentIntent { amount: Money, capture: CaptureMethod },
    /// `POST /v1/payment_intents/{id}/confirm` with the collected card:
    /// an online authorization.
    ConfirmPaymentIntent { intent: String, card: PresentedCard },
    /// `POST /v1/payment_intents/{id}/capture`.
    CapturePaymentIntent { intent: String },
    /// `POST /v1/payment_intents/{id}/cancel`.
    CancelPaymentIntent { intent: String },
    /// The forwarding upload of one stored payment. The backend creates the
    /// intent (or uses `intent_id`), authorizes the card now (a decline here
    /// is "decline on sync"), and marks the charge
    /// `payment_method_details.card_present.offline = {stored_at, type: "deferred"}`.
    ForwardOfflinePayment { payment: StoredPayment },
}

/// A card as presented for an online authorization.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedCard {
    /// The full number (never logged: `Debug` masks it).
    pub number: CardNumber,
    /// How it was read.
    pub entry_mode: EntryMode,
    /// Whether a PIN was entered.
    pub pin: PinEntry,
}

impl fmt::Debug for PresentedCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedCard")
            .field("number", &self.number)
            .field("entry_mode", &self.entry_mode)
            .field("pin", &self.pin)
            .finish()
    }
}

/// The backend's answer to one call.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiReply {
    /// 200 with a Stripe object (`payment_intent`, `terminal.connection_token`, ...).
    Ok(serde_json::Value),
    /// A Stripe error.
    Err(ApiError),
}

/// Stripe's error object (`{"error": {...}}`) with its HTTP status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP status: 400, 401, 402 (card errors), 404, 409 (idempotency), 429, 500, 503.
    pub status: u16,
    /// Stripe's `type`.
    #[serde(rename = "type")]
    pub kind: ApiErrorKind,
    /// Stripe's `code` (`card_declined`, `expired_card`, `resource_missing`, ...).
    pub code: Option<String>,
    /// The issuer's `decline_code` of a card error.
    pub decline_code: Option<String>,
    /// A sentence for people.
    pub message: String,
    /// The intent the error concerns, with its state, for card errors.
    pub payment_intent: Option<serde_json::Value>,
}

/// Stripe's error `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    /// Server trouble (5xx): retry later with the same key.
    ApiError,
    /// The card was declined.
    CardError,
    /// Same `Idempotency-Key`, other parameters.
    IdempotencyError,
    /// The request itself is wrong (missing object, bad state, mismatch).
    InvalidRequestError,
    /// The token or key is missing, expired or wrong (401).
    AuthenticationError,
    /// Too many requests (429).
    RateLimitError,
}

impl ApiError {
    /// Whether sending the same call again later may succeed (server errors,
    /// rate limits, an expired token once refreshed).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::ApiError
                | ApiErrorKind::RateLimitError
                | ApiErrorKind::AuthenticationError
        )
    }
}
