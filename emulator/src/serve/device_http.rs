//! A device's call to a Stripe-compatible backend over HTTP: the request
//! the pure codec writes (`wire::stripe::encode_request`), sent with hyper,
//! and the answer read back (`decode_reply`). The served rig carries its
//! devices' calls this way, and so does an SDK outside the rig (the
//! reference adapter's, `readerlab adapter`).

use crate::core::backend::{ApiCall, ApiReply};
use crate::wire::stripe as wire;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;

/// A pooled HTTP/1 client for device calls.
pub type DeviceClient = Client<HttpConnector, Full<Bytes>>;

/// A client whose idle connections expire (the pool needs a timer for
/// that; without one a connection idle past the timeout is handed out and
/// hangs). Must be made inside a tokio runtime.
pub fn client() -> DeviceClient {
    Client::builder(TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http()
}

/// One call to the backend at `addr` with `secret_key`; `None` when no
/// answer came back within `timeout` (refused, closed, cut short).
pub async fn send(
    client: &DeviceClient,
    addr: SocketAddr,
    call: &ApiCall,
    secret_key: &str,
    timeout: Duration,
) -> Option<ApiReply> {
    let request = wire::encode_request(call, secret_key);
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(format!("http://{addr}{}", request.path_and_query));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http = builder.body(Full::new(Bytes::from(request.body))).ok()?;
    let exchange = async {
        let response = client.request(http).await.ok()?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some(wire::decode_reply(status, &body))
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

/// `GET uri` (an `http://` URI) with `Authorization: Bearer` when a key is
/// given: the answer's status and body, or what went wrong, in words, when
/// none came back whole within `timeout` (a lab bench's health checks ask
/// backends and readers this way).
pub async fn get(
    client: &DeviceClient,
    uri: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let mut builder = hyper::Request::builder().method("GET").uri(uri);
    if let Some(key) = bearer {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    let request = builder.body(Full::new(Bytes::new())).map_err(|e| format!("{uri}: {e}"))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| format!("{uri}: {e}"))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| format!("{uri}: {e}"))?;
        Ok((status, body.to_bytes().to_vec()))
    };
    tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| {
        Err(format!("{uri}: no whole answer within {} ms", timeout.as_millis()))
    })
}
