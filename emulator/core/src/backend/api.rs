//! The calls the POS/SDK model and the smart-reader engine make to the
//! payments backend, and its answers: the contract between those cores and
//! the backend ledger. The served target (issue 7) maps these one to one onto
//! Stripe's form-encoded HTTP endpoints; nothing here knows about HTTP.
//!
//! Answers carry Stripe's JSON object shapes (`payment_intent`, `charge`,
//! `terminal.connection_token`) and Stripe's error shape, so what the sim
//! target records is what a Stripe client library would parse.

use crate::cards::{CardNumber, PinEntry};
use crate::money::Money;
use crate::offline::{CaptureMethod, StoredPayment};
use crate::profile::EntryMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// `GET /v1/payment_intents/{id}`: how the SDK learns an intent's state
    /// after a lost response.
    RetrievePaymentIntent { intent: String },
    /// `GET /v1/charges/{id}`.
    RetrieveCharge { charge: String },
    /// `POST /v1/payment_intents` with a `description` or `metadata`: what a
    /// server-side integration (a Stripe client library) sends. A separate
    /// variant so that the devices' [`ApiRequest::CreatePaymentIntent`] keeps
    /// its meaning; the wire decoder picks this one only when either is given.
    CreateDescribedPaymentIntent {
        amount: Money,
        capture: CaptureMethod,
        description: Option<String>,
        metadata: BTreeMap<String, String>,
    },
    /// `GET /v1/payment_intents`: newest first.
    ListPaymentIntents { page: ListParams },
    /// `GET /v1/charges`: newest first.
    ListCharges { page: ListParams },
    /// `POST /v1/terminal/locations`.
    CreateLocation { display_name: String, address: Address },
    /// `GET /v1/terminal/locations/{id}`.
    RetrieveLocation { location: String },
    /// `GET /v1/terminal/locations`.
    ListLocations { page: ListParams },
    /// `POST /v1/terminal/configurations`.
    CreateConfiguration { name: Option<String>, offline_enabled: Option<bool> },
    /// `POST /v1/terminal/configurations/{id}`: only what is given changes.
    UpdateConfiguration {
        configuration: String,
        name: Option<String>,
        offline_enabled: Option<bool>,
    },
    /// `GET /v1/terminal/configurations/{id}`.
    RetrieveConfiguration { configuration: String },
    /// `GET /v1/terminal/configurations`.
    ListConfigurations { page: ListParams },
    /// `POST /v1/terminal/readers`: binds a rig reader by its simulated
    /// registration code (`simulated-s700`, `simulated-wpe`).
    RegisterReader { registration_code: String, location: Option<String>, label: Option<String> },
    /// `GET /v1/terminal/readers/{id}`.
    RetrieveReader { reader: String },
    /// `GET /v1/terminal/readers`.
    ListReaders { page: ListParams },
    /// `DELETE /v1/terminal/readers/{id}`: the rig reader can be registered again.
    DeleteReader { reader: String },
    /// `POST /v1/terminal/readers/{id}/process_payment_intent`. `process_config`
    /// is Stripe's JSON of the `process_config[...]` parameters, stored and echoed.
    ProcessPaymentIntent {
        reader: String,
        intent: String,
        process_config: serde_json::Map<String, serde_json::Value>,
    },
    /// `POST /v1/terminal/readers/{id}/cancel_action`.
    CancelReaderAction { reader: String },
    /// `POST /v1/test_helpers/terminal/readers/{id}/present_payment_method`
    /// with `type=card_present`; `number` defaults to 4242 4242 4242 4242.
    PresentPaymentMethod { reader: String, number: Option<CardNumber> },
}

/// The paging parameters of a list request (`limit` 1..=100, default 10).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// How many objects at most; `None` is Stripe's default of 10.
    pub limit: Option<u64>,
    /// The page starts after this id (older objects).
    pub starting_after: Option<String>,
    /// The page ends before this id (newer objects).
    pub ending_before: Option<String>,
}

/// A Location's postal address; Stripe requires `country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub country: String,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

impl ApiRequest {
    /// Which endpoint this request calls, for histories and fault filters.
    pub fn kind(&self) -> RequestKind {
        match self {
            ApiRequest::CreateConnectionToken { .. } => RequestKind::CreateConnectionToken,
            ApiRequest::CreatePaymentIntent { .. } => RequestKind::CreatePaymentIntent,
            ApiRequest::ConfirmPaymentIntent { .. } => RequestKind::ConfirmPaymentIntent,
            ApiRequest::CapturePaymentIntent { .. } => RequestKind::CapturePaymentIntent,
            ApiRequest::CancelPaymentIntent { .. } => RequestKind::CancelPaymentIntent,
            ApiRequest::ForwardOfflinePayment { .. } => RequestKind::ForwardOfflinePayment,
            ApiRequest::RetrievePaymentIntent { .. } => RequestKind::RetrievePaymentIntent,
            ApiRequest::RetrieveCharge { .. } => RequestKind::RetrieveCharge,
            ApiRequest::CreateDescribedPaymentIntent { .. } => RequestKind::CreatePaymentIntent,
            ApiRequest::ListPaymentIntents { .. } => RequestKind::ListPaymentIntents,
            ApiRequest::ListCharges { .. } => RequestKind::ListCharges,
            ApiRequest::CreateLocation { .. } => RequestKind::CreateLocation,
            ApiRequest::RetrieveLocation { .. } => RequestKind::RetrieveLocation,
            ApiRequest::ListLocations { .. } => RequestKind::ListLocations,
            ApiRequest::CreateConfiguration { .. } => RequestKind::CreateConfiguration,
            ApiRequest::UpdateConfiguration { .. } => RequestKind::UpdateConfiguration,
            ApiRequest::RetrieveConfiguration { .. } => RequestKind::RetrieveConfiguration,
            ApiRequest::ListConfigurations { .. } => RequestKind::ListConfigurations,
            ApiRequest::RegisterReader { .. } => RequestKind::RegisterReader,
            ApiRequest::RetrieveReader { .. } => RequestKind::RetrieveReader,
            ApiRequest::ListReaders { .. } => RequestKind::ListReaders,
            ApiRequest::DeleteReader { .. } => RequestKind::DeleteReader,
            ApiRequest::ProcessPaymentIntent { .. } => RequestKind::ProcessPaymentIntent,
            ApiRequest::CancelReaderAction { .. } => RequestKind::CancelReaderAction,
            ApiRequest::PresentPaymentMethod { .. } => RequestKind::PresentPaymentMethod,
        }
    }
}

/// The endpoint of an [`ApiRequest`], without its parameters: what a history
/// names and what a fault can be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    CreateConnectionToken,
    CreatePaymentIntent,
    ConfirmPaymentIntent,
    CapturePaymentIntent,
    CancelPaymentIntent,
    ForwardOfflinePayment,
    RetrievePaymentIntent,
    RetrieveCharge,
    ListPaymentIntents,
    ListCharges,
    CreateLocation,
    RetrieveLocation,
    ListLocations,
    CreateConfiguration,
    UpdateConfiguration,
    RetrieveConfiguration,
    ListConfigurations,
    RegisterReader,
    RetrieveReader,
    ListReaders,
    DeleteReader,
    ProcessPaymentIntent,
    CancelReaderAction,
    PresentPaymentMethod,
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

impl ApiReply {
    /// Whether the backend acted on the request: an answer, or a card
    /// error (a 402 records the decline). What a lost answer is counted on:
    /// a 401 or a 5xx changed nothing.
    pub fn applied(&self) -> bool {
        match self {
            ApiReply::Ok(_) => true,
            ApiReply::Err(error) => error.status == 402,
        }
    }
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
    /// Stripe's `param`: the request parameter the error is about. Boxed
    /// (one pointer) so that the error stays small enough to return by value.
    #[serde(default)]
    pub param: Option<Box<String>>,
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
    /// rate limits, an expired token once refreshed, and a 409 while another
    /// request with the same idempotency key is still in progress).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ApiErrorKind::ApiError
                | ApiErrorKind::RateLimitError
                | ApiErrorKind::AuthenticationError
        ) || self.is_key_in_use()
    }

    /// A 409: another request with this idempotency key is in progress.
    pub fn is_key_in_use(&self) -> bool {
        self.status == 409
            && self.kind == ApiErrorKind::IdempotencyError
            && self.code.as_deref() == Some("idempotency_key_in_use")
    }
}
