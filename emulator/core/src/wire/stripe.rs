//! The backend's calls as Stripe's HTTP requests, both ways, as pure
//! functions: [`decode_request`] and [`encode_reply`] are what the served
//! backend does with what a Stripe client library sends; [`encode_request`]
//! and [`decode_reply`] are what the emulated devices do to call it.
//! `decode_request(encode_request(call))` is `call` for every request.
//!
//! Authentication: `Authorization: Bearer <secret key>` acts for the account
//! (`ApiCall::token` is `None`); `Bearer pst_…` is a connection token, how
//! emulated devices authenticate (`token` is its secret); anything else is
//! a 401. The forwarding of a stored payment, which Stripe does not publish,
//! is `POST /v1/readerlab/offline_payments` with the `StoredPayment` as a
//! JSON body (its serde form, exactly what the store keeps). Everything else
//! is form-encoded as Stripe does it; GET and DELETE take their parameters
//! in the query string. No sockets here: the router (`serve::stripe`) and
//! the devices' HTTP clients are shells around these functions.

use crate::backend::{
    Address, ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest, ListParams, PresentedCard,
    error_body,
};
use crate::cards::{CardNumber, PinEntry};
use crate::money::{Currency, Money};
use crate::offline::{CaptureMethod, StoredPayment};
use crate::profile::EntryMode;
use crate::wire::form::{Form, FormValue, decode, encode_form, escape_segment, parse_form};
use crate::wire::params::{Params, invalid_param, json_to_form};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An HTTP request as a device sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// `/v1/...` with the query string, if any.
    pub path_and_query: String,
    /// `Authorization`, `Idempotency-Key` (when the call has one), `Content-Type` (with a body).
    pub headers: Vec<(String, String)>,
    /// The form-encoded (or, for forwarding, JSON) body; empty for GET and DELETE.
    pub body: Vec<u8>,
}

/// The longest `Idempotency-Key`, id in a URL, or forwarded offline id
/// taken, in characters (Stripe's limit for idempotency keys; the store's
/// for offline ids, in bytes).
pub const MAX_ID_LEN: usize = 255;

/// A 400 `invalid_request_error` for a key or id over [`MAX_ID_LEN`].
fn too_long(message: &str) -> ApiError {
    ApiError {
        status: 400,
        kind: ApiErrorKind::InvalidRequestError,
        code: None,
        decline_code: None,
        message: message.to_owned(),
        payment_intent: None,
        param: None,
    }
}

/// Reads one Stripe request into the call the backend runs.
pub fn decode_request(
    method: &str,
    path_and_query: &str,
    authorization: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
    secret_key: &str,
) -> Result<ApiCall, ApiError> {
    let token = authenticate(authorization, secret_key)?;
    if let Some(key) = idempotency_key
        && key.chars().count() > MAX_ID_LEN
    {
        return Err(too_long(&format!(
            "Keys for idempotent requests can only be {MAX_ID_LEN} characters long."
        )));
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, query),
        None => (path_and_query, ""),
    };
    let unrecognized = || unrecognized(method, path);
    let segments: Vec<String> = path
        .strip_prefix("/v1/")
        .ok_or_else(unrecognized)?
        .split('/')
        // In a path `+` is itself, not a space as in a form.
        .map(|s| decode(s.replace('+', "%2B").as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| unrecognized())?;
    if segments.iter().any(String::is_empty) {
        return Err(unrecognized());
    }
    if segments.iter().any(|s| s.chars().count() > MAX_ID_LEN) {
        return Err(too_long(&format!(
            "An id in the URL is longer than {MAX_ID_LEN} characters: no object has such an id."
        )));
    }
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = method.to_ascii_uppercase();
    let request = if let (["readerlab", "offline_payments"], "POST") = (&segments[..], &*method) {
        forward(body)?
    } else {
        let mut form = parse_form(query.as_bytes()).map_err(|e| form_error(&e))?;
        if method == "POST" {
            for (name, value) in parse_form(body).map_err(|e| form_error(&e))? {
                if form.insert(name.clone(), value).is_some() {
                    let message = format!("{name} was given both in the query and in the body.");
                    return Err(invalid_param("parameter_invalid_string", &message, &name));
                }
            }
        }
        let mut params = Params::new(form);
        // Stripe's `expand[]` changes only how ids render; our objects never expand.
        params.take("expand");
        let request = route(&method, &segments, &mut params)?.ok_or_else(unrecognized)?;
        params.finish()?;
        request
    };
    Ok(ApiCall { token, idempotency_key: idempotency_key.map(str::to_owned), request })
}

/// The request for a path and method, its parameters read from `p`; `None`
/// for a URL Stripe would not recognize.
fn route(method: &str, segments: &[&str], p: &mut Params) -> Result<Option<ApiRequest>, ApiError> {
    let id = |s: &str| s.to_owned();
    let request = match (method, segments) {
        ("POST", ["terminal", "connection_tokens"]) => {
            ApiRequest::CreateConnectionToken { location: p.text("location")? }
        }
        ("POST", ["payment_intents"]) => create_intent(p)?,
        ("GET", ["payment_intents"]) => ApiRequest::ListPaymentIntents { page: page(p)? },
        ("GET", ["payment_intents", intent]) => {
            ApiRequest::RetrievePaymentIntent { intent: id(intent) }
        }
        ("POST", ["payment_intents", intent, "confirm"]) => {
            ApiRequest::ConfirmPaymentIntent { intent: id(intent), card: presented_card(p)? }
        }
        ("POST", ["payment_intents", intent, "capture"]) => {
            ApiRequest::CapturePaymentIntent { intent: id(intent) }
        }
        ("POST", ["payment_intents", intent, "cancel"]) => {
            // Accepted for stripe-python's sake; the ledger does not keep a reason.
            p.text("cancellation_reason")?;
            ApiRequest::CancelPaymentIntent { intent: id(intent) }
        }
        ("GET", ["charges"]) => ApiRequest::ListCharges { page: page(p)? },
        ("GET", ["charges", charge]) => ApiRequest::RetrieveCharge { charge: id(charge) },
        ("POST", ["terminal", "locations"]) => ApiRequest::CreateLocation {
            display_name: p.required_text("display_name")?,
            address: address(p)?,
        },
        ("GET", ["terminal", "locations"]) => ApiRequest::ListLocations { page: page(p)? },
        ("GET", ["terminal", "locations", location]) => {
            ApiRequest::RetrieveLocation { location: id(location) }
        }
        ("POST", ["terminal", "configurations"]) => ApiRequest::CreateConfiguration {
            name: p.text("name")?,
            offline_enabled: offline_enabled(p)?,
        },
        ("GET", ["terminal", "configurations"]) => {
            ApiRequest::ListConfigurations { page: page(p)? }
        }
        ("POST", ["terminal", "configurations", configuration]) => {
            ApiRequest::UpdateConfiguration {
                configuration: id(configuration),
                name: p.text("name")?,
                offline_enabled: offline_enabled(p)?,
            }
        }
        ("GET", ["terminal", "configurations", configuration]) => {
            ApiRequest::RetrieveConfiguration { configuration: id(configuration) }
        }
        ("POST", ["terminal", "readers"]) => ApiRequest::RegisterReader {
            registration_code: p.required_text("registration_code")?,
            location: p.text("location")?,
            label: p.text("label")?,
        },
        ("GET", ["terminal", "readers"]) => ApiRequest::ListReaders { page: page(p)? },
        ("GET", ["terminal", "readers", reader]) => {
            ApiRequest::RetrieveReader { reader: id(reader) }
        }
        ("DELETE", ["terminal", "readers", reader]) => {
            ApiRequest::DeleteReader { reader: id(reader) }
        }
        ("POST", ["terminal", "readers", reader, "process_payment_intent"]) => {
            ApiRequest::ProcessPaymentIntent {
                reader: id(reader),
                intent: p.required_text("payment_intent")?,
                process_config: p.json_map("process_config")?,
            }
        }
        ("POST", ["terminal", "readers", reader, "cancel_action"]) => {
            ApiRequest::CancelReaderAction { reader: id(reader) }
        }
        ("POST", ["test_helpers", "terminal", "readers", reader, "present_payment_method"]) => {
            present(reader, p)?
        }
        _ => return Ok(None),
    };
    Ok(Some(request))
}

fn create_intent(p: &mut Params) -> Result<ApiRequest, ApiError> {
    let amount =
        p.integer("amount")?.ok_or_else(|| crate::wire::params::missing_param("amount"))?;
    check_amount(amount)?;
    let currency_text = p.required_text("currency")?;
    let currency: Currency = currency_text.parse().map_err(|_| {
        invalid_param(
            "parameter_invalid_string",
            &format!("Invalid currency: {currency_text}"),
            "currency",
        )
    })?;
    let capture = match p.text("capture_method")?.as_deref() {
        None | Some("automatic") | Some("automatic_async") => CaptureMethod::Automatic,
        Some("manual") => CaptureMethod::Manual,
        Some(other) => {
            return Err(invalid_param(
                "parameter_invalid_string",
                &format!(
                    "Invalid capture_method: must be one of automatic, automatic_async, or \
                     manual (got {other})"
                ),
                "capture_method",
            ));
        }
    };
    if let Some(types) = p.texts("payment_method_types")?
        && types != ["card_present"]
    {
        return Err(invalid_param(
            "parameter_invalid_string",
            "readerlab's backend takes card_present payment intents only: \
             payment_method_types must be [card_present].",
            "payment_method_types",
        ));
    }
    let description = p.text("description")?;
    let metadata = p.string_map("metadata")?;
    let amount = Money::new(amount, currency);
    Ok(if description.is_none() && metadata.is_empty() {
        ApiRequest::CreatePaymentIntent { amount, capture }
    } else {
        ApiRequest::CreateDescribedPaymentIntent { amount, capture, description, metadata }
    })
}

fn presented_card(p: &mut Params) -> Result<PresentedCard, ApiError> {
    let mut data = p
        .hash("payment_method_data")?
        .ok_or_else(|| crate::wire::params::missing_param("payment_method_data"))?;
    match data.text("type")?.as_deref() {
        Some("card_present") => {}
        _ => {
            return Err(invalid_param(
                "parameter_invalid_string",
                "payment_method_data[type] must be card_present.",
                "payment_method_data[type]",
            ));
        }
    }
    let mut card = data.hash("card_present")?.ok_or_else(|| {
        crate::wire::params::missing_param("payment_method_data[card_present][number]")
    })?;
    // A reader's sealed card data (docs/ble-gatt.md, `card_data`) stands
    // for the number; the rig opens it before the backend reads the card.
    let number = match card.text("emv_data")? {
        Some(sealed) => CardNumber::from(sealed),
        None => CardNumber::from(card.required_text("number")?),
    };
    let entry_mode = match card.text("entry_mode")?.as_deref() {
        None | Some("contactless") => EntryMode::Contactless,
        Some("chip") => EntryMode::Chip,
        Some("swipe") => EntryMode::Swipe,
        Some(_) => return Err(one_of("payment_method_data[card_present][entry_mode]", ENTRY)),
    };
    let pin = match card.text("pin")?.as_deref() {
        None | Some("not_entered") => PinEntry::NotEntered,
        Some("correct") => PinEntry::Correct,
        Some("wrong") => PinEntry::Wrong,
        Some(_) => return Err(one_of("payment_method_data[card_present][pin]", PIN)),
    };
    card.finish()?;
    data.finish()?;
    Ok(PresentedCard { number, entry_mode, pin })
}

const ENTRY: &str = "contactless, chip, or swipe";
const PIN: &str = "not_entered, correct, or wrong";

fn one_of(param: &str, values: &str) -> ApiError {
    invalid_param(
        "parameter_invalid_string",
        &format!("Invalid {param}: must be one of {values}"),
        param,
    )
}

fn present(reader: &str, p: &mut Params) -> Result<ApiRequest, ApiError> {
    if let Some(kind) = p.text("type")?
        && kind != "card_present"
    {
        return Err(invalid_param(
            "parameter_invalid_string",
            "readerlab's test helper presents card_present payment methods only.",
            "type",
        ));
    }
    // Accepted and ignored: the emulated readers do not tip.
    p.integer("amount_tip")?;
    let number = match p.hash("card_present")? {
        Some(mut card) => {
            let number = card.text("number")?.map(CardNumber::from);
            card.finish()?;
            number
        }
        None => None,
    };
    Ok(ApiRequest::PresentPaymentMethod { reader: reader.to_owned(), number })
}

fn address(p: &mut Params) -> Result<Address, ApiError> {
    let mut a = p.hash("address")?.ok_or_else(|| crate::wire::params::missing_param("address"))?;
    let address = Address {
        line1: a.text("line1")?,
        line2: a.text("line2")?,
        city: a.text("city")?,
        country: a.required_text("country")?,
        postal_code: a.text("postal_code")?,
        state: a.text("state")?,
    };
    a.finish()?;
    Ok(address)
}

fn offline_enabled(p: &mut Params) -> Result<Option<bool>, ApiError> {
    let Some(mut offline) = p.hash("offline")? else { return Ok(None) };
    let enabled = offline.boolean("enabled")?;
    offline.finish()?;
    Ok(enabled)
}

fn page(p: &mut Params) -> Result<ListParams, ApiError> {
    Ok(ListParams {
        limit: p.integer("limit")?,
        starting_after: p.text("starting_after")?,
        ending_before: p.text("ending_before")?,
    })
}

fn forward(body: &[u8]) -> Result<ApiRequest, ApiError> {
    // The error names only where the JSON broke: serde's message could quote
    // the card number (invariant I7).
    let payment: StoredPayment = serde_json::from_slice(body).map_err(|e| {
        invalid_param(
            "parameter_invalid_string",
            &format!(
                "The body is not a stored payment in JSON (line {}, column {}).",
                e.line(),
                e.column()
            ),
            "payment",
        )
    })?;
    check_amount(payment.amount.amount)?;
    let id = &payment.offline_id.0;
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(invalid_param(
            "parameter_invalid_string",
            &format!("offline_id must be 1 to {MAX_ID_LEN} bytes long."),
            "offline_id",
        ));
    }
    Ok(ApiRequest::ForwardOfflinePayment { payment })
}

/// Stripe's ceiling on an amount: 99,999,999 minor units (zero is the
/// backend's `parameter_invalid_integer`).
fn check_amount(amount: u64) -> Result<(), ApiError> {
    if amount <= crate::money::MAX_AMOUNT {
        return Ok(());
    }
    Err(invalid_param(
        "amount_too_large",
        &format!(
            "Amount must be no more than {} in the currency's smallest unit ($999,999.99).",
            crate::money::MAX_AMOUNT
        ),
        "amount",
    ))
}

fn form_error(error: &crate::wire::form::FormError) -> ApiError {
    invalid_param(
        "parameter_invalid_string",
        &format!("Invalid parameter {}: {}", error.param, error.reason),
        &error.param,
    )
}

fn unrecognized(method: &str, path: &str) -> ApiError {
    ApiError {
        status: 404,
        kind: ApiErrorKind::InvalidRequestError,
        code: Some("resource_missing".to_owned()),
        decline_code: None,
        message: format!(
            "Unrecognized request URL ({}: {path}). Please see https://stripe.com/docs or we \
             can help at https://support.stripe.com/.",
            method.to_ascii_uppercase()
        ),
        payment_intent: None,
        param: None,
    }
}

/// Who the `Authorization` header says the caller is.
fn authenticate(authorization: Option<&str>, secret_key: &str) -> Result<Option<String>, ApiError> {
    let unauthorized = |message: String| ApiError {
        status: 401,
        kind: ApiErrorKind::AuthenticationError,
        code: None,
        decline_code: None,
        message,
        payment_intent: None,
        param: None,
    };
    let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
        return Err(unauthorized(
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
                .to_owned(),
        ));
    };
    let key = match header.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
        _ => {
            return Err(unauthorized(
                "Invalid Authorization header: use Bearer auth ('Authorization: Bearer \
                 YOUR_SECRET_KEY')."
                    .to_owned(),
            ));
        }
    };
    if key == secret_key {
        Ok(None)
    } else if key.starts_with("pst_") {
        Ok(Some(key.to_owned()))
    } else {
        Err(unauthorized(format!("Invalid API Key provided: {}", mask(key))))
    }
}

/// Stripe's masking of a key in an error: its prefix (`sk_test_`) and last
/// four characters only.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        return format!("****{tail}");
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// The HTTP status and JSON body of a reply: the object, or `{"error": {...}}`.
pub fn encode_reply(reply: &ApiReply) -> (u16, Vec<u8>) {
    match reply {
        ApiReply::Ok(object) => (200, object.to_string().into_bytes()),
        ApiReply::Err(error) => {
            (error.status, json!({"error": error_body(error)}).to_string().into_bytes())
        }
    }
}

/// The reply an HTTP response carries. A body that is not Stripe's JSON is a
/// 502-style `api_error` with the status it came with.
pub fn decode_reply(status: u16, body: &[u8]) -> ApiReply {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        return match parsed {
            Some(object) => ApiReply::Ok(object),
            None => ApiReply::Err(garbled(status)),
        };
    }
    let Some(error) = parsed.as_ref().and_then(|v| v.get("error")).and_then(Value::as_object)
    else {
        return ApiReply::Err(garbled(status));
    };
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
    let kind = error
        .get("type")
        .and_then(|t| serde_json::from_value::<ApiErrorKind>(t.clone()).ok())
        .unwrap_or(ApiErrorKind::ApiError);
    ApiReply::Err(ApiError {
        status,
        kind,
        code: text("code"),
        decline_code: text("decline_code"),
        message: text("message").unwrap_or_default(),
        payment_intent: error.get("payment_intent").cloned(),
        param: text("param").map(Box::new),
    })
}

fn garbled(status: u16) -> ApiError {
    ApiError {
        status,
        kind: ApiErrorKind::ApiError,
        code: None,
        decline_code: None,
        message: format!("The backend answered HTTP {status} without a Stripe JSON body."),
        payment_intent: None,
        param: None,
    }
}

/// The HTTP request of a call, as a device sends it: the connection token
/// (or, without one, `secret_key`) as Bearer auth.
pub fn encode_request(call: &ApiCall, secret_key: &str) -> HttpRequest {
    let bearer = call.token.as_deref().unwrap_or(secret_key);
    let mut headers = vec![("Authorization".to_owned(), format!("Bearer {bearer}"))];
    if let Some(key) = &call.idempotency_key {
        headers.push(("Idempotency-Key".to_owned(), key.clone()));
    }
    let (method, path, body) = parts(&call.request);
    let (path_and_query, body) = match body {
        Body::Form(form) if method != "POST" => {
            let query = encode_form(&form);
            let path = if query.is_empty() { path } else { format!("{path}?{query}") };
            (path, Vec::new())
        }
        Body::Form(form) => {
            headers
                .push(("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()));
            (path, encode_form(&form).into_bytes())
        }
        Body::Json(bytes) => {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
            (path, bytes)
        }
    };
    HttpRequest { method: method.to_owned(), path_and_query, headers, body }
}

enum Body {
    Form(Form),
    Json(Vec<u8>),
}

fn text(value: &str) -> FormValue {
    FormValue::Text(value.to_owned())
}

fn form<const N: usize>(pairs: [(&str, Option<FormValue>); N]) -> Body {
    Body::Form(pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect())
}

fn map<const N: usize>(pairs: [(&str, Option<FormValue>); N]) -> Option<FormValue> {
    let map: BTreeMap<String, FormValue> =
        pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect();
    (!map.is_empty()).then_some(FormValue::Map(map))
}

fn opt(value: &Option<String>) -> Option<FormValue> {
    value.as_deref().map(text)
}

fn seg(id: &str) -> String {
    escape_segment(id)
}

fn page_form(page: &ListParams) -> Body {
    form([
        ("ending_before", opt(&page.ending_before)),
        ("limit", page.limit.map(|l| text(&l.to_string()))),
        ("starting_after", opt(&page.starting_after)),
    ])
}

fn capture_text(capture: CaptureMethod) -> FormValue {
    text(match capture {
        CaptureMethod::Automatic => "automatic",
        CaptureMethod::Manual => "manual",
    })
}

fn intent_form(
    amount: Money,
    capture: CaptureMethod,
    description: Option<&String>,
    metadata: Option<&BTreeMap<String, String>>,
) -> Body {
    form([
        ("amount", Some(text(&amount.amount.to_string()))),
        ("capture_method", Some(capture_text(capture))),
        ("currency", Some(text(amount.currency.as_str()))),
        ("description", description.map(|d| text(d))),
        (
            "metadata",
            metadata
                .filter(|m| !m.is_empty())
                .map(|m| FormValue::Map(m.iter().map(|(k, v)| (k.clone(), text(v))).collect())),
        ),
        ("payment_method_types", Some(FormValue::List(vec![text("card_present")]))),
    ])
}

/// Method, path and body of each request.
fn parts(request: &ApiRequest) -> (&'static str, String, Body) {
    let none = || form([]);
    match request {
        ApiRequest::CreateConnectionToken { location } => {
            ("POST", "/v1/terminal/connection_tokens".into(), form([("location", opt(location))]))
        }
        ApiRequest::CreatePaymentIntent { amount, capture } => {
            ("POST", "/v1/payment_intents".into(), intent_form(*amount, *capture, None, None))
        }
        ApiRequest::CreateDescribedPaymentIntent { amount, capture, description, metadata } => (
            "POST",
            "/v1/payment_intents".into(),
            intent_form(*amount, *capture, description.as_ref(), Some(metadata)),
        ),
        ApiRequest::ConfirmPaymentIntent { intent, card } => {
            ("POST", format!("/v1/payment_intents/{}/confirm", seg(intent)), confirm_form(card))
        }
        ApiRequest::CapturePaymentIntent { intent } => {
            ("POST", format!("/v1/payment_intents/{}/capture", seg(intent)), none())
        }
        ApiRequest::CancelPaymentIntent { intent } => {
            ("POST", format!("/v1/payment_intents/{}/cancel", seg(intent)), none())
        }
        ApiRequest::ForwardOfflinePayment { payment } => (
            "POST",
            "/v1/readerlab/offline_payments".into(),
            Body::Json(serde_json::to_vec(payment).expect("a stored payment serializes")),
        ),
        ApiRequest::RetrievePaymentIntent { intent } => {
            ("GET", format!("/v1/payment_intents/{}", seg(intent)), none())
        }
        ApiRequest::RetrieveCharge { charge } => {
            ("GET", format!("/v1/charges/{}", seg(charge)), none())
        }
        ApiRequest::ListPaymentIntents { page } => {
            ("GET", "/v1/payment_intents".into(), page_form(page))
        }
        ApiRequest::ListCharges { page } => ("GET", "/v1/charges".into(), page_form(page)),
        ApiRequest::CreateLocation { display_name, address } => {
            ("POST", "/v1/terminal/locations".into(), location_form(display_name, address))
        }
        ApiRequest::RetrieveLocation { location } => {
            ("GET", format!("/v1/terminal/locations/{}", seg(location)), none())
        }
        ApiRequest::ListLocations { page } => {
            ("GET", "/v1/terminal/locations".into(), page_form(page))
        }
        ApiRequest::CreateConfiguration { name, offline_enabled } => (
            "POST",
            "/v1/terminal/configurations".into(),
            configuration_form(name, *offline_enabled),
        ),
        ApiRequest::UpdateConfiguration { configuration, name, offline_enabled } => (
            "POST",
            format!("/v1/terminal/configurations/{}", seg(configuration)),
            configuration_form(name, *offline_enabled),
        ),
        ApiRequest::RetrieveConfiguration { configuration } => {
            ("GET", format!("/v1/terminal/configurations/{}", seg(configuration)), none())
        }
        ApiRequest::ListConfigurations { page } => {
            ("GET", "/v1/terminal/configurations".into(), page_form(page))
        }
        ApiRequest::RegisterReader { registration_code, location, label } => {
            let code = ("registration_code", Some(text(registration_code)));
            let body = form([("label", opt(label)), ("location", opt(location)), code]);
            ("POST", "/v1/terminal/readers".into(), body)
        }
        ApiRequest::RetrieveReader { reader } => {
            ("GET", format!("/v1/terminal/readers/{}", seg(reader)), none())
        }
        ApiRequest::ListReaders { page } => ("GET", "/v1/terminal/readers".into(), page_form(page)),
        ApiRequest::DeleteReader { reader } => {
            ("DELETE", format!("/v1/terminal/readers/{}", seg(reader)), none())
        }
        ApiRequest::ProcessPaymentIntent { reader, intent, process_config } => (
            "POST",
            format!("/v1/terminal/readers/{}/process_payment_intent", seg(reader)),
            form([
                ("payment_intent", Some(text(intent))),
                ("process_config", json_to_form(&Value::Object(process_config.clone()))),
            ]),
        ),
        ApiRequest::CancelReaderAction { reader } => {
            ("POST", format!("/v1/terminal/readers/{}/cancel_action", seg(reader)), none())
        }
        ApiRequest::PresentPaymentMethod { reader, number } => (
            "POST",
            format!("/v1/test_helpers/terminal/readers/{}/present_payment_method", seg(reader)),
            form([
                ("card_present", map([("number", number.as_ref().map(|n| text(n.as_str())))])),
                ("type", Some(text("card_present"))),
            ]),
        ),
    }
}

/// The body of a confirm: the card as the reader read it.
fn confirm_form(card: &PresentedCard) -> Body {
    let entry = match card.entry_mode {
        EntryMode::Contactless => "contactless",
        EntryMode::Chip => "chip",
        EntryMode::Swipe => "swipe",
    };
    let pin = match card.pin {
        PinEntry::NotEntered => "not_entered",
        PinEntry::Correct => "correct",
        PinEntry::Wrong => "wrong",
    };
    let card_present = map([
        ("entry_mode", Some(text(entry))),
        ("number", Some(text(card.number.as_str()))),
        ("pin", Some(text(pin))),
    ]);
    let data = map([("card_present", card_present), ("type", Some(text("card_present")))]);
    form([("payment_method_data", data)])
}

/// The body of a location's create.
fn location_form(display_name: &str, address: &Address) -> Body {
    let address = map([
        ("city", opt(&address.city)),
        ("country", Some(text(&address.country))),
        ("line1", opt(&address.line1)),
        ("line2", opt(&address.line2)),
        ("postal_code", opt(&address.postal_code)),
        ("state", opt(&address.state)),
    ]);
    form([("address", address), ("display_name", Some(text(display_name)))])
}

fn configuration_form(name: &Option<String>, offline_enabled: Option<bool>) -> Body {
    form([
        ("name", opt(name)),
        ("offline", map([("enabled", offline_enabled.map(|e| text(&e.to_string())))])),
    ])
}
