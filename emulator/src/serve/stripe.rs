//! The Stripe-compatible HTTP API of the served backend: one axum fallback
//! handler that reads every `/v1/...` request with `wire::stripe::decode_request`,
//! runs it on a [`BackendHost`], and writes the reply with `encode_reply`.
//!
//! The host owns the clock and the ledger; this router owns neither, holds
//! no payment logic, and never decides an answer itself beyond refusing a
//! body that is too large. `BackendHost::call` is synchronous and may take a
//! lock, so it runs on tokio's blocking pool.

use crate::core::backend::{ApiCall, ApiError, ApiErrorKind, ApiReply};
use crate::wire::stripe::{decode_request, encode_reply};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest request body accepted: Stripe's requests are small forms; a
/// forwarded stored payment is well under a kilobyte.
pub const BODY_LIMIT: usize = 1 << 20;

/// What the router runs calls on: the served rig's backend.
pub trait BackendHost: Send + Sync + 'static {
    /// Runs one call at the host's current time (the host owns clock and ledger) and returns its reply.
    fn call(&self, call: ApiCall) -> ApiReply;
    /// The secret key clients must present.
    fn secret_key(&self) -> String;
    /// The key that marks a client as the outside POS (docs/driver-protocol.md),
    /// whose calls cross the POS's internet link; `None`: no such client.
    fn pos_key(&self) -> Option<String> {
        None
    }
    /// Runs one call of the outside POS; `None` when no answer reaches it
    /// (the connection is then closed without one).
    fn pos_call(&self, call: ApiCall) -> Option<ApiReply> {
        Some(self.call(call))
    }
    /// Whether `token` is a connection token minted for the outside POS
    /// (with its key): an SDK's calls under it are the POS's too.
    fn is_pos_token(&self, token: &str) -> bool {
        let _ = token;
        false
    }
}

/// Marks a response that must not be sent: the server closes the
/// connection instead, as a link that dropped the answer would
/// (`serve::conn` honours it).
#[derive(Clone, Copy, Debug)]
pub struct NoAnswer;

#[derive(Clone)]
struct Shared {
    host: Arc<dyn BackendHost>,
    requests: Arc<AtomicU64>,
}

/// The router serving Stripe's `/v1/...` API from `host`.
pub fn router(host: Arc<dyn BackendHost>) -> Router {
    let shared = Shared { host, requests: Arc::new(AtomicU64::new(0)) };
    Router::new().fallback(handle).layer(DefaultBodyLimit::max(BODY_LIMIT)).with_state(shared)
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let number = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("req_{number:014}");
    let reply = match body {
        Ok(body) => answer(&shared, &method, &uri, &headers, body).await,
        Err(rejection) => Some(ApiReply::Err(plain_error(
            rejection.status().as_u16(),
            ApiErrorKind::InvalidRequestError,
            &format!("The request body could not be read: {rejection}"),
        ))),
    };
    let Some(reply) = reply else {
        let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
        response.extensions_mut().insert(NoAnswer);
        return response;
    };
    let (status, body) = encode_reply(&reply);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response_headers.insert("request-id", value);
    }
    response
}

async fn answer(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Option<ApiReply> {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let host = Arc::clone(&shared.host);
    let authorization = header(header::AUTHORIZATION);
    // The outside POS presents its own key, or a connection token minted
    // with it (an SDK's calls); its calls cross its link.
    let bearer = authorization.and_then(|h| h.trim().split_once(' ')).map(|(_, k)| k.trim());
    let pos_key = host.pos_key().filter(|key| bearer == Some(key.as_str()));
    let pos_token = bearer.is_some_and(|token| host.is_pos_token(token));
    let call = match decode_request(
        method.as_str(),
        path_and_query,
        authorization,
        headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
        &body,
        pos_key.as_deref().unwrap_or(&host.secret_key()),
    ) {
        Ok(call) => call,
        Err(error) => return Some(ApiReply::Err(error)),
    };
    let from_pos = pos_key.is_some() || pos_token;
    let run = move || if from_pos { host.pos_call(call) } else { Some(host.call(call)) };
    match tokio::task::spawn_blocking(run).await {
        Ok(reply) => reply,
        Err(_) => Some(ApiReply::Err(plain_error(
            500,
            ApiErrorKind::ApiError,
            "The backend failed while answering this request.",
        ))),
    }
}

fn plain_error(status: u16, kind: ApiErrorKind, message: &str) -> ApiError {
    ApiError {
        status,
        kind,
        code: None,
        decline_code: None,
        message: message.to_owned(),
        payment_intent: None,
        param: None,
    }
}
