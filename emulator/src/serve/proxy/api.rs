//! The HTTP API, route for route as Toxiproxy 2.x has it, over the
//! [`Registry`].
//!
//! Bodies are read as bytes and parsed here rather than by axum's `Json`
//! extractor, so a malformed body gets Toxiproxy's error shape
//! (`{"error": "...", "status": 400}`) with a message naming the field,
//! whatever the client's `Content-Type`.

use super::error::ProxyError;
use super::registry::{DEFAULT_LISTEN, ProxySpec, ProxyUpdate, Registry};
use super::toxics::Toxic;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What `GET /version` answers.
pub const VERSION: &str = concat!("readerlab-toxiproxy ", env!("CARGO_PKG_VERSION"));

/// The API's routes over `registry`.
pub(crate) fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/populate", post(populate))
        .route("/proxies", get(list_proxies).post(create_proxy))
        .route(
            "/proxies/{proxy}",
            get(show_proxy).post(update_proxy).patch(update_proxy).delete(delete_proxy),
        )
        .route("/proxies/{proxy}/toxics", get(list_toxics).post(add_toxic))
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(show_toxic).post(update_toxic).patch(update_toxic).delete(remove_toxic),
        )
        .fallback(unknown_route)
        .with_state(registry)
}

type Answer = Result<Response, ProxyError>;

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(status, &self.to_json())
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn ok(body: &Value) -> Answer {
    Ok(json_response(StatusCode::OK, body))
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn version() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], VERSION).into_response()
}

async fn unknown_route() -> Response {
    let error = serde_json::json!({"error": "no such endpoint", "status": 404});
    json_response(StatusCode::NOT_FOUND, &error)
}

async fn reset(State(registry): State<Arc<Registry>>) -> Answer {
    registry.reset().await?;
    no_content()
}

async fn list_proxies(State(registry): State<Arc<Registry>>) -> Answer {
    let proxies: Map<String, Value> =
        registry.proxies().await.into_iter().map(|p| (p.name.clone(), p.to_json())).collect();
    ok(&Value::Object(proxies))
}

async fn create_proxy(State(registry): State<Arc<Registry>>, body: Bytes) -> Answer {
    let spec = proxy_from_json(&parse(&body)?)?;
    let created = registry.create(&spec.name, &spec.listen, &spec.upstream, spec.enabled).await?;
    Ok(json_response(StatusCode::CREATED, &created.to_json()))
}

async fn populate(State(registry): State<Arc<Registry>>, body: Bytes) -> Answer {
    let Value::Array(items) = parse(&body)? else {
        return Err(ProxyError::BadRequest("the body must be a JSON array of proxies".into()));
    };
    let wanted = items.iter().map(proxy_from_json).collect::<Result<Vec<_>, _>>()?;
    let populated = registry.populate(wanted).await?;
    let proxies: Vec<Value> = populated.iter().map(ProxySpec::to_json).collect();
    Ok(json_response(StatusCode::CREATED, &serde_json::json!({ "proxies": proxies })))
}

async fn show_proxy(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> Answer {
    ok(&registry.proxy(&name).await?.to_json())
}

async fn update_proxy(
    State(registry): State<Arc<Registry>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    // Toxiproxy answers an unknown proxy with 404 before it reads the body.
    registry.proxy(&name).await?;
    let body = parse(&body)?;
    let object = as_object(&body, "a proxy")?;
    let update = ProxyUpdate {
        listen: string_field(object, "listen")?,
        upstream: string_field(object, "upstream")?,
        enabled: bool_field(object, "enabled")?,
    };
    ok(&registry.update(&name, update).await?.to_json())
}

async fn delete_proxy(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> Answer {
    registry.delete(&name).await?;
    no_content()
}

async fn list_toxics(State(registry): State<Arc<Registry>>, Path(name): Path<String>) -> Answer {
    let toxics = registry.toxics(&name).await?;
    ok(&Value::Array(toxics.iter().map(Toxic::to_json).collect()))
}

async fn add_toxic(
    State(registry): State<Arc<Registry>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    registry.proxy(&name).await?;
    let toxic = Toxic::from_json(&parse(&body)?)?;
    ok(&registry.add_toxic(&name, toxic).await?.to_json())
}

async fn show_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
) -> Answer {
    ok(&registry.toxic(&name, &toxic).await?.to_json())
}

async fn update_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    registry.toxic(&name, &toxic).await?;
    let body = parse(&body)?;
    let updated = registry.update_toxic(&name, &toxic, |t| t.update_from_json(&body)).await?;
    ok(&updated.to_json())
}

async fn remove_toxic(
    State(registry): State<Arc<Registry>>,
    Path((name, toxic)): Path<(String, String)>,
) -> Answer {
    registry.remove_toxic(&name, &toxic).await?;
    no_content()
}

/// The body as JSON, or a 400 saying where it stopped parsing.
fn parse(body: &[u8]) -> Result<Value, ProxyError> {
    serde_json::from_slice(body).map_err(|error| ProxyError::BadRequest(error.to_string()))
}

fn as_object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ProxyError> {
    body.as_object()
        .ok_or_else(|| ProxyError::BadRequest(format!("the body must be a JSON object: {what}")))
}

/// A proxy from `POST /proxies` or one item of `POST /populate`.
fn proxy_from_json(body: &Value) -> Result<ProxySpec, ProxyError> {
    let object = as_object(body, "a proxy")?;
    let name = string_field(object, "name")?.unwrap_or_default();
    let upstream = string_field(object, "upstream")?.unwrap_or_default();
    if name.is_empty() {
        return Err(ProxyError::MissingField("name"));
    }
    if upstream.is_empty() {
        return Err(ProxyError::MissingField("upstream"));
    }
    Ok(ProxySpec {
        name,
        listen: string_field(object, "listen")?.unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        upstream,
        enabled: bool_field(object, "enabled")?.unwrap_or(true),
        toxics: Vec::new(),
    })
}

fn string_field(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ProxyError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(ProxyError::bad_field(field, format!("must be a string, not {other}"))),
    }
}

fn bool_field(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, ProxyError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(other) => {
            Err(ProxyError::bad_field(field, format!("must be true or false, not {other}")))
        }
    }
}
