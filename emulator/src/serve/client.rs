//! [`ControlClient`]: the control API from the other side of the socket,
//! for the served target and for lab tools written in Rust.
//!
//! Plain HTTP/1.1 with JSON bodies; every non-2xx answer becomes a
//! [`ControlError`] carrying the server's message.

use crate::core::Event;
use crate::core::Millis;
use crate::sim::{Fault, PaymentSpec, RigSpec};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// A control API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request did not complete.
    #[error("control API at {addr} unreachable: {message}")]
    Transport { addr: SocketAddr, message: String },
    /// The server answered with an error.
    #[error("control API answered {status}: {message}")]
    Refused { status: u16, message: String },
    /// The answer was not what the API promises.
    #[error("control API answered something unreadable: {0}")]
    Unreadable(String),
}

/// A client of one server's control API.
#[derive(Clone, Debug)]
pub struct ControlClient {
    addr: SocketAddr,
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ControlClient {
    /// A client of the server at `addr` (with its token, if it needs one).
    pub fn new(addr: SocketAddr, token: Option<String>) -> ControlClient {
        let client = Client::builder(TokioExecutor::new()).build_http();
        ControlClient { addr, token, client }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Bytes, ControlError> {
        self.call_url(method, &format!("http://{}/_readerlab{path}", self.addr), body).await
    }

    /// [`Self::call`] at a whole URL (a smart reader's LAN API, which may
    /// be anywhere its `lan` base URL says).
    async fn call_url(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
    ) -> Result<Bytes, ControlError> {
        let transport = |message: String| ControlError::Transport { addr: self.addr, message };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| transport(e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| transport(e.to_string()))?;
        let bytes = bytes.to_bytes();
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(ControlError::Refused { status, message })
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ControlError> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ControlError::Unreadable(e.to_string()))
    }

    /// Starts a new rig (replacing the one running).
    pub async fn start_rig(&self, spec: &RigSpec) -> Result<Value, ControlError> {
        let spec =
            serde_json::to_value(spec).map_err(|e| ControlError::Unreadable(e.to_string()))?;
        self.json("POST", "/rig", Some(spec)).await
    }

    /// A customer arrives.
    pub async fn pay(&self, payment: &PaymentSpec) -> Result<(), ControlError> {
        let body =
            serde_json::to_value(payment).map_err(|e| ControlError::Unreadable(e.to_string()))?;
        self.call("POST", "/pos/payments", Some(body)).await.map(drop)
    }

    /// Records what an outside POS said (a `pos.*` event) now.
    pub async fn record_pos(&self, event: &crate::core::EventBody) -> Result<(), ControlError> {
        let body =
            serde_json::to_value(event).map_err(|e| ControlError::Unreadable(e.to_string()))?;
        self.call("POST", "/pos/events", Some(body)).await.map(drop)
    }

    /// Presents a card to a reader now (the customer at the counter).
    pub async fn present_card(
        &self,
        serial: &str,
        number: &str,
        entry_mode: crate::core::EntryMode,
    ) -> Result<(), ControlError> {
        let body = json!({"number": number, "entry_mode": entry_mode});
        self.call("POST", &format!("/readers/{serial}/present_card"), Some(body)).await.map(drop)
    }

    /// Clears every fault in effect; returns them.
    pub async fn clear_all(&self) -> Result<Vec<Fault>, ControlError> {
        let answer = self.json("DELETE", "/faults", None).await?;
        serde_json::from_value(answer.get("cleared").cloned().unwrap_or_default())
            .map_err(|e| ControlError::Unreadable(e.to_string()))
    }

    /// Asks a smart reader to take a payment over its LAN API, at the base
    /// URL `lan` (`{lan}/payments`; a served rig's readers are at
    /// `/_readerlab/readers/{serial}/lan`).
    pub async fn lan_collect(
        &self,
        lan: &str,
        payment: &str,
        amount: crate::core::Money,
        behavior: crate::core::offline::OfflineBehavior,
    ) -> Result<(), ControlError> {
        let body = json!({"payment": payment, "amount": amount, "behavior": behavior});
        self.call_url("POST", &format!("{lan}/payments"), Some(body)).await.map(drop)
    }

    /// A LAN payment's state (`{status, code, message}`).
    pub async fn lan_payment(&self, lan: &str, payment: &str) -> Result<Value, ControlError> {
        let bytes = self.call_url("GET", &format!("{lan}/payments/{payment}"), None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ControlError::Unreadable(e.to_string()))
    }

    /// Gives up on a LAN payment still in progress.
    pub async fn lan_cancel(&self, lan: &str, payment: &str) -> Result<(), ControlError> {
        self.call_url("POST", &format!("{lan}/payments/{payment}/cancel"), None).await.map(drop)
    }

    /// Whether the POS's internet link is up now (`pos_internet_up` of
    /// `GET /rig`).
    pub async fn pos_internet_up(&self) -> Result<bool, ControlError> {
        let rig = self.json("GET", "/rig", None).await?;
        Ok(rig.get("pos_internet_up").and_then(Value::as_bool).unwrap_or(true))
    }

    /// Every reader of the rig, as `GET /readers` shows them.
    pub async fn readers(&self) -> Result<Value, ControlError> {
        self.json("GET", "/readers", None).await
    }

    /// Performs a fault now.
    pub async fn inject(&self, fault: &Fault) -> Result<(), ControlError> {
        self.call("POST", "/faults", Some(json!({"fault": fault}))).await.map(drop)
    }

    /// Ends a sustained fault.
    pub async fn clear(&self, fault: &Fault) -> Result<(), ControlError> {
        self.call("POST", "/faults/clear", Some(json!({"fault": fault}))).await.map(drop)
    }

    /// Virtual clock: moves to `until`, or only to the next instant at
    /// which something is due when `step`. Returns the new time.
    pub async fn advance(&self, until: Millis, step: bool) -> Result<Millis, ControlError> {
        let answer = self
            .json("POST", "/clock/advance", Some(json!({"to_ms": until.0, "step": step})))
            .await?;
        answer["now_ms"]
            .as_u64()
            .map(Millis)
            .ok_or_else(|| ControlError::Unreadable(format!("no now_ms in {answer}")))
    }

    /// The rig's time now.
    pub async fn now(&self) -> Result<Millis, ControlError> {
        let answer = self.json("GET", "/clock", None).await?;
        answer["now_ms"]
            .as_u64()
            .map(Millis)
            .ok_or_else(|| ControlError::Unreadable(format!("no now_ms in {answer}")))
    }

    /// The history from event index `from` on.
    pub async fn history(&self, from: usize) -> Result<Vec<Event>, ControlError> {
        let bytes = self.call("GET", &format!("/history?from={from}"), None).await?;
        let mut events: Vec<Event> = Vec::new();
        for (index, line) in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let event: Event = serde_json::from_slice(line).map_err(|e| {
                ControlError::Unreadable(format!("history line {}: {e}", from + index + 1))
            })?;
            let expected = (from + index + 1) as u64;
            if event.seq != expected {
                let message =
                    format!("sequence number {} where {expected} was expected", event.seq);
                return Err(ControlError::Unreadable(message));
            }
            events.push(event);
        }
        Ok(events)
    }

    /// Ends the run (faults cleared, queues drained, storage scanned).
    pub async fn finish(&self, cap_ms: u64) -> Result<Value, ControlError> {
        self.json("POST", "/rig/finish", Some(json!({"cap_ms": cap_ms}))).await
    }
}
