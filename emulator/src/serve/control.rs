//! The control API under `/_readerlab/`: JSON over HTTP to drive a served
//! rig from outside (the served target, a lab script, a person with curl).
//! Every endpoint is listed in `docs/control-api.md`.
//!
//! Bad input is answered, never fatal: malformed JSON is a 400 naming
//! where it broke, an unknown reader a 404, a fault the rig cannot perform
//! a 409 with the simulator's reason, anything asked of a rig that is not
//! running a 409. Errors are `{"error": {"status": N, "message": "..."}}`,
//! the framework's own answers (413, 405, a query that does not parse)
//! included.
//! When the server listens beyond loopback, every request needs
//! `Authorization: Bearer <token>`.

use super::rig::{ClockMode, ServeError, ServedRig};
use crate::core::EntryMode;
use crate::core::Millis;
use crate::core::{Event, EventBody};
use crate::sim::PowerFault;
use crate::sim::{Fault, FaultError, PaymentSpec, RigSpec, Sim};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The control API's state: the rig and the token, if one is required.
#[derive(Clone, Debug)]
pub struct Control {
    rig: ServedRig,
    token: Option<Arc<str>>,
    ui: Option<Arc<dyn UiHost>>,
}

/// The timeline view at `/_readerlab/ui`: the harness, which owns the
/// checker and the timeline, draws it; the control API serves it.
pub trait UiHost: Send + Sync + std::fmt::Debug {
    /// The page (HTML): it carries no data, so it is served without the
    /// token; its script asks `ui/model` with it.
    fn page(&self) -> String;
    /// The page's model of a history (what `GET /ui/model` answers).
    fn model(&self, history: &[Event]) -> Value;
}

/// `app` with the control API under `/_readerlab`, its index answered at
/// `/_readerlab` and at `/_readerlab/` (the address `serve` prints).
pub fn mount(
    app: Router,
    rig: ServedRig,
    token: Option<String>,
    ui: Option<Arc<dyn UiHost>>,
) -> Router {
    let control = router(rig, token, ui);
    // A nested router does not see `/_readerlab/`; routed to as a service it
    // sees the whole path, which its `/_readerlab/` route answers.
    let whole = control.clone().into_service::<axum::body::Body>();
    app.route_service("/_readerlab/", whole).nest("/_readerlab", control)
}

/// The `/_readerlab` router (nest it there, or use [`mount`]).
pub fn router(rig: ServedRig, token: Option<String>, ui: Option<Arc<dyn UiHost>>) -> Router {
    let control = Control { rig, token: token.map(Arc::from), ui };
    Router::new()
        .route("/", get(index))
        .route("/_readerlab/", get(index))
        .route("/rig", get(rig_view).post(rig_start))
        .route("/rig/finish", post(rig_finish))
        .route("/clock", get(clock_view))
        .route("/clock/advance", post(clock_advance))
        .route("/faults", get(faults_list).post(faults_arm).delete(faults_clear_all))
        .route("/faults/clear", post(faults_clear))
        .route("/readers", get(readers_list))
        .route("/readers/{serial}", get(reader_view))
        .route("/readers/{serial}/present_card", post(reader_present_card))
        .route("/readers/{serial}/reboot", post(reader_reboot))
        .route("/readers/{serial}/battery", post(reader_battery))
        .route("/readers/{serial}/lan/payments", post(lan_collect))
        .route("/readers/{serial}/lan/payments/{payment}", get(lan_payment))
        .route("/readers/{serial}/lan/payments/{payment}/cancel", post(lan_cancel))
        .route("/pos", get(pos_view))
        .route("/pos/payments", post(pos_pay))
        .route("/pos/events", post(pos_event))
        .route("/history", get(history))
        .route("/ledger", get(ledger))
        .route("/ui", get(ui_page))
        .route("/ui/model", get(ui_model))
        .fallback(not_found)
        .layer(axum::middleware::map_response(in_error_shape))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(control.clone(), authorize))
        .with_state(control)
}

/// The largest control request body: rig specs, faults and payments are
/// small JSON objects.
pub const BODY_LIMIT: usize = 1 << 20;

/// Gives the answers the framework writes itself (a body over the limit,
/// 413; a method the path does not take, 405; a query string that does not
/// parse, 400) the control API's error shape, keeping their status and
/// their text as the message.
async fn in_error_shape(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let mut shaped = Failure::new(status, message).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

/// An error answer.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({"error": {"status": self.status.as_u16(), "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<ServeError> for Failure {
    fn from(error: ServeError) -> Failure {
        Failure::new(StatusCode::CONFLICT, error.to_string())
    }
}

impl From<FaultError> for Failure {
    fn from(error: FaultError) -> Failure {
        let status = match error {
            FaultError::NoSuchReader(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::CONFLICT,
        };
        Failure::new(status, error.to_string())
    }
}

type Answer = Result<Response, Failure>;

fn ok(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

/// Parses a JSON body, naming where it broke.
fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Failure> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, format!("malformed {what}: {e}")))
}

async fn authorize(
    State(control): State<Control>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // The live view's page holds no data (its script asks `ui/model`,
    // with the token): a browser cannot send a header when it opens a page.
    let page = matches!(request.uri().path(), "/ui" | "/_readerlab/ui");
    if let Some(token) = control.token.as_ref().filter(|_| !page) {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            // The scheme is case-insensitive (RFC 7235), as on /v1.
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, presented)| presented.trim());
        if presented != Some(token.as_ref()) {
            return Failure::new(
                StatusCode::UNAUTHORIZED,
                "the control API needs `Authorization: Bearer <token>` (the --token of serve)",
            )
            .into_response();
        }
    }
    next.run(request).await
}

async fn not_found(uri: axum::http::Uri) -> Failure {
    Failure::new(StatusCode::NOT_FOUND, format!("no control endpoint {uri} (see GET /_readerlab/)"))
}

async fn index() -> Answer {
    ok(json!({
        "endpoints": [
            "GET  /_readerlab/rig", "POST /_readerlab/rig", "POST /_readerlab/rig/finish",
            "GET  /_readerlab/clock", "POST /_readerlab/clock/advance",
            "GET  /_readerlab/faults", "POST /_readerlab/faults", "POST /_readerlab/faults/clear",
            "DELETE /_readerlab/faults",
            "GET  /_readerlab/readers", "GET  /_readerlab/readers/{serial}",
            "POST /_readerlab/readers/{serial}/present_card",
            "POST /_readerlab/readers/{serial}/reboot",
            "POST /_readerlab/readers/{serial}/battery",
            "GET  /_readerlab/pos", "POST /_readerlab/pos/payments",
            "GET  /_readerlab/history", "GET  /_readerlab/ledger",
            "GET  /_readerlab/ui", "GET  /_readerlab/ui/model",
        ]
    }))
}

// --- the rig ------------------------------------------------------------------

/// Where the rig's Bluetooth readers listen for an outside POS, by index.
type Offered = std::collections::BTreeMap<usize, std::net::SocketAddr>;

/// The readers as the control API shows them: each [`ReaderView`], and
/// for a reader offered to an outside POS its BLE-over-TCP address
/// (`ble_tcp`).
fn reader_views(sim: &Sim, offered: &Offered) -> Vec<Value> {
    sim.reader_views().into_iter().map(|view| offer(json!(view), view.index, offered)).collect()
}

fn offer(mut view: Value, index: usize, offered: &Offered) -> Value {
    if let (Some(address), Some(fields)) = (offered.get(&index), view.as_object_mut()) {
        fields.insert("ble_tcp".to_owned(), json!(address.to_string()));
    }
    view
}

fn rig_json(rig: &ServedRig, sim: &Sim, offered: &Offered) -> Value {
    json!({
        "clock": clock_name(rig.mode()),
        "now_ms": sim.now().0,
        "seed": sim.spec().seed,
        "defects": sim.spec().defects,
        "offline": sim.spec().offline,
        "readers": reader_views(sim, offered),
        "pos_internet_up": sim.pos_internet_up(),
        "events": sim.events().len(),
        "idle": sim.is_idle(),
    })
}

async fn rig_view(State(control): State<Control>) -> Answer {
    let rig = &control.rig;
    let offered = rig.offered_readers();
    ok(rig.read(|sim| rig_json(rig, sim, &offered))?)
}

async fn rig_start(State(control): State<Control>, body: Bytes) -> Answer {
    let spec: RigSpec = parse(&body, "rig (a RigSpec: see docs/control-api.md)")?;
    control.rig.start(spec).map_err(|e| match e {
        ServeError::Rig(e) => Failure::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        other => other.into(),
    })?;
    let rig = &control.rig;
    let offered = rig.offered_readers();
    let view = rig.read(|sim| rig_json(rig, sim, &offered))?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishRequest {
    /// Most time the final drain may take, in milliseconds (default 6 h
    /// of rig time on a virtual clock, 60 s on a real one).
    cap_ms: Option<u64>,
}

/// The most time one request may move the rig's clock (`by_ms`, `to_ms`
/// ahead of now) or let a drain take (`cap_ms`): a leap year. Rig time is
/// work (every timer due runs and records its events), so an unbounded span
/// would hold the rig, and grow its history, without end.
pub const MAX_SPAN_MS: u64 = 366 * 24 * 3_600_000;

/// A 400 for a span over [`MAX_SPAN_MS`].
fn too_long_a_span(what: &str, ms: u64) -> Failure {
    let message = format!(
        "{what} {ms} is more than one request may span ({MAX_SPAN_MS} ms, 366 days): move the clock in steps"
    );
    Failure::new(StatusCode::BAD_REQUEST, message)
}

async fn rig_finish(State(control): State<Control>, body: Bytes) -> Answer {
    let request: FinishRequest = parse(&body, "finish request")?;
    let default = match control.rig.mode() {
        ClockMode::Virtual => 6 * 3_600_000,
        ClockMode::Real => 60_000,
    };
    let cap_ms = request.cap_ms.unwrap_or(default);
    if cap_ms > MAX_SPAN_MS {
        return Err(too_long_a_span("cap_ms", cap_ms));
    }
    let cap = Duration::from_millis(cap_ms);
    let finished = control.rig.finish(cap).await?;
    ok(json!({
        "events": finished.events.len(),
        "virtual_time_ms": finished.virtual_time.as_millis() as u64,
        "payments_started": finished.payments_started,
        "payments_unserved": finished.payments_unserved,
    }))
}

// --- the clock ----------------------------------------------------------------

fn clock_name(mode: ClockMode) -> &'static str {
    match mode {
        ClockMode::Real => "real",
        ClockMode::Virtual => "virtual",
    }
}

async fn clock_view(State(control): State<Control>) -> Answer {
    let (now, next) = control.rig.read(|sim| (sim.now(), sim.next_deadline()))?;
    ok(json!({
        "mode": clock_name(control.rig.mode()),
        "now_ms": now.0,
        "next_deadline_ms": next.map(|t| t.0),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    /// Move by this much.
    by_ms: Option<u64>,
    /// Or to this instant.
    to_ms: Option<u64>,
    /// Stop after the first instant at which something was due.
    #[serde(default)]
    step: bool,
}

async fn clock_advance(State(control): State<Control>, body: Bytes) -> Answer {
    let request: AdvanceRequest = parse(&body, "clock advance")?;
    let now = control.rig.read(Sim::now)?;
    let until = match (request.by_ms, request.to_ms) {
        (Some(by), None) => now + Duration::from_millis(by),
        (None, Some(to)) if to >= now.0 => Millis(to),
        (None, Some(to)) => {
            let message = format!("to_ms {to} is in the past (now is {})", now.0);
            return Err(Failure::new(StatusCode::BAD_REQUEST, message));
        }
        _ => {
            let message = "give exactly one of by_ms and to_ms";
            return Err(Failure::new(StatusCode::BAD_REQUEST, message));
        }
    };
    if until.0 - now.0 > MAX_SPAN_MS {
        return Err(match request.by_ms {
            Some(by) => too_long_a_span("by_ms", by),
            None => too_long_a_span("to_ms - now_ms", until.0 - now.0),
        });
    }
    let now = control.rig.advance(until, request.step).await.map_err(|e| match e {
        ServeError::RealClock => Failure::new(StatusCode::CONFLICT, e.to_string()),
        other => other.into(),
    })?;
    let events = control.rig.read(|sim| sim.events().len())?;
    ok(json!({"now_ms": now.0, "events": events}))
}

// --- faults -------------------------------------------------------------------

async fn faults_list(State(control): State<Control>) -> Answer {
    let (faults, backend) = control.rig.read(|sim| {
        let backend: Vec<String> = sim.backend().armed_faults().map(|f| format!("{f:?}")).collect();
        (sim.faults_in_effect(), backend)
    })?;
    ok(json!({"in_effect": faults, "backend_armed": backend}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArmRequest {
    fault: Fault,
    /// A sustained fault ends by itself after this long.
    holds_for_ms: Option<u64>,
}

async fn faults_arm(State(control): State<Control>, body: Bytes) -> Answer {
    let request: ArmRequest = parse(&body, "fault (see docs/control-api.md for the shapes)")?;
    let fault = request.fault;
    let held = request.holds_for_ms.map(Duration::from_millis);
    control.rig.with_sim(|sim| {
        sim.inject(fault.clone())?;
        if let Some(hold) = held.filter(|_| fault.is_sustained()) {
            sim.clear_at(sim.now() + hold, fault.clone());
        }
        Ok::<_, FaultError>(())
    })??;
    Ok((StatusCode::CREATED, axum::Json(json!({"armed": fault}))).into_response())
}

async fn faults_clear(State(control): State<Control>, body: Bytes) -> Answer {
    let request: ArmRequest = parse(&body, "fault to clear")?;
    control.rig.with_sim(|sim| sim.clear(&request.fault))?;
    ok(json!({"cleared": request.fault}))
}

async fn faults_clear_all(State(control): State<Control>) -> Answer {
    let cleared = control.rig.with_sim(|sim| {
        let faults = sim.faults_in_effect();
        for fault in &faults {
            sim.clear(fault);
        }
        faults
    })?;
    ok(json!({"cleared": cleared}))
}

// --- readers ------------------------------------------------------------------

fn reader_index(control: &Control, serial: &str) -> Result<usize, Failure> {
    control.rig.read(|sim| sim.reader_index(serial))?.ok_or_else(|| {
        Failure::new(StatusCode::NOT_FOUND, format!("the rig has no reader `{serial}`"))
    })
}

async fn readers_list(State(control): State<Control>) -> Answer {
    let offered = control.rig.offered_readers();
    ok(json!({"readers": control.rig.read(|sim| reader_views(sim, &offered))?}))
}

async fn reader_view(State(control): State<Control>, Path(serial): Path<String>) -> Answer {
    let index = reader_index(&control, &serial)?;
    let offered = control.rig.offered_readers();
    ok(offer(json!(control.rig.read(|sim| sim.reader_view(index))?), index, &offered))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresentCard {
    number: String,
    #[serde(default = "contactless")]
    entry_mode: EntryMode,
}

fn contactless() -> EntryMode {
    EntryMode::Contactless
}

async fn reader_present_card(
    State(control): State<Control>,
    Path(serial): Path<String>,
    body: Bytes,
) -> Answer {
    let index = reader_index(&control, &serial)?;
    let card: PresentCard = parse(&body, "card")?;
    control
        .rig
        .with_sim(|sim| sim.present_card_now(index, &card.number, card.entry_mode))?
        .map_err(|why| Failure::new(StatusCode::CONFLICT, why))?;
    ok(json!({"presented": true}))
}

async fn reader_reboot(State(control): State<Control>, Path(serial): Path<String>) -> Answer {
    let index = reader_index(&control, &serial)?;
    control.rig.with_sim(|sim| sim.inject(PowerFault::ReaderReboot { reader: index }.into()))??;
    ok(json!({"rebooting": serial}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Battery {
    percent: u8,
    #[serde(default)]
    charging: bool,
}

async fn reader_battery(
    State(control): State<Control>,
    Path(serial): Path<String>,
    body: Bytes,
) -> Answer {
    let index = reader_index(&control, &serial)?;
    let battery: Battery = parse(&body, "battery")?;
    if battery.percent > 100 {
        return Err(Failure::new(StatusCode::BAD_REQUEST, "percent must be 0..=100"));
    }
    let fault =
        PowerFault::Battery { reader: index, percent: battery.percent, charging: battery.charging }
            .into();
    control.rig.with_sim(|sim| sim.inject(fault))??;
    ok(json!({"battery_percent": battery.percent, "charging": battery.charging}))
}

// --- the reference POS ----------------------------------------------------------

async fn pos_view(State(control): State<Control>) -> Answer {
    let view = control.rig.read(|sim| {
        json!({
            "idle": sim.is_idle(),
            "queued": sim.queued(crate::sim::Device::Pos),
        })
    })?;
    ok(view)
}

async fn pos_pay(State(control): State<Control>, body: Bytes) -> Answer {
    let spec: PaymentSpec = parse(&body, "payment (a PaymentSpec: see docs/control-api.md)")?;
    let amount = spec.amount.amount;
    if !(1..=crate::core::MAX_AMOUNT).contains(&amount) {
        let message = format!(
            "amount {amount} is out of range: give 1..={} minor units",
            crate::core::MAX_AMOUNT
        );
        return Err(Failure::new(StatusCode::BAD_REQUEST, message));
    }
    let readers = control.rig.read(|sim| sim.reader_views().len())?;
    if spec.reader >= readers {
        let message = format!("the rig has no reader #{} (it has {readers})", spec.reader);
        return Err(Failure::new(StatusCode::NOT_FOUND, message));
    }
    let name = spec.name.clone();
    control.rig.with_sim(|sim| sim.pay(spec))?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"payment": name}))).into_response())
}

/// What an outside POS said (docs/driver-protocol.md), recorded now as a
/// `pos.*` event: the harness that speaks to the adapter posts it here.
async fn pos_event(State(control): State<Control>, body: Bytes) -> Answer {
    let event: crate::core::EventBody =
        parse(&body, "event (a pos.* history event: see docs/history.md)")?;
    let recorded = control.rig.with_sim(|sim| sim.record_pos(event))?;
    recorded.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok((StatusCode::CREATED, axum::Json(json!({"recorded": true}))).into_response())
}

// --- a smart reader's LAN API (docs/control-api.md) -----------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanCollect {
    payment: String,
    amount: crate::core::Money,
    #[serde(default)]
    behavior: crate::core::offline::OfflineBehavior,
}

impl From<crate::sim::LanError> for Failure {
    fn from(error: crate::sim::LanError) -> Failure {
        use crate::sim::LanError;
        let status = match error {
            LanError::NoSuchReader(_) => StatusCode::NOT_FOUND,
            LanError::Unreachable(_) | LanError::Silent(_) => StatusCode::SERVICE_UNAVAILABLE,
            LanError::NotSmart(_) | LanError::NotReady(..) | LanError::Duplicate(_) => {
                StatusCode::CONFLICT
            }
        };
        Failure::new(status, error.to_string())
    }
}

async fn lan_collect(
    State(control): State<Control>,
    Path(serial): Path<String>,
    body: Bytes,
) -> Answer {
    let index = reader_index(&control, &serial)?;
    let asked: LanCollect = parse(&body, "LAN payment ({payment, amount, behavior})")?;
    let amount = asked.amount.amount;
    if !(1..=crate::core::MAX_AMOUNT).contains(&amount) {
        let message = format!(
            "amount {amount} is out of range: give 1..={} minor units",
            crate::core::MAX_AMOUNT
        );
        return Err(Failure::new(StatusCode::BAD_REQUEST, message));
    }
    let name = asked.payment.clone();
    control
        .rig
        .with_sim(|sim| sim.lan_collect(index, asked.payment, asked.amount, asked.behavior))??;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"payment": name}))).into_response())
}

async fn lan_payment(
    State(control): State<Control>,
    Path((serial, payment)): Path<(String, String)>,
) -> Answer {
    let index = reader_index(&control, &serial)?;
    match control.rig.read(|sim| sim.lan_payment(index, &payment))?? {
        Some(state) => ok(json!(state)),
        None => Err(Failure::new(StatusCode::NOT_FOUND, format!("no LAN payment `{payment}`"))),
    }
}

async fn lan_cancel(
    State(control): State<Control>,
    Path((serial, payment)): Path<(String, String)>,
) -> Answer {
    let index = reader_index(&control, &serial)?;
    control.rig.with_sim(|sim| sim.lan_cancel(index, &payment))??;
    ok(json!({"payment": payment}))
}

// --- history and ledger ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Events from this index on (0: the first).
    #[serde(default)]
    from: usize,
    /// Keep the response open and stream events as they are recorded.
    #[serde(default)]
    follow: bool,
}

/// Events as JSON Lines, keeping their sequence numbers (a page from the
/// middle of a history starts where it is, not at 1).
fn jsonl(events: &[Event]) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 160);
    for event in events {
        serde_json::to_writer(&mut out, event).expect("events always serialize");
        out.push(b'\n');
    }
    Bytes::from(out)
}

async fn history(State(control): State<Control>, Query(query): Query<HistoryQuery>) -> Answer {
    let (generation, events) = control.rig.events_from(query.from)?;
    let first = jsonl(&events);
    let ndjson = [(header::CONTENT_TYPE, "application/x-ndjson")];
    if !query.follow {
        return Ok((ndjson, first).into_response());
    }
    let rig = control.rig.clone();
    let watch = control.rig.watch_history();
    let ended = events.last().is_some_and(|e| matches!(e.body, EventBody::RigFinished));
    let state = (Some(first), ended, query.from + events.len(), watch, rig);
    let stream =
        futures::stream::unfold(state, move |(first, ended, next, mut watch, rig)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, std::io::Error>(first), (None, ended, next, watch, rig)));
            }
            if ended {
                return None;
            }
            loop {
                watch.changed().await.ok()?;
                match rig.events_from(next) {
                    Ok((g, events)) if g == generation && !events.is_empty() => {
                        let next = next + events.len();
                        // `rig.finished` is the last event a rig records.
                        let ended = events.iter().any(|e| matches!(e.body, EventBody::RigFinished));
                        return Some((Ok(jsonl(&events)), (None, ended, next, watch, rig)));
                    }
                    Ok((g, _)) if g == generation => {}
                    // Another rig started: this history is over.
                    _ => return None,
                }
            }
        });
    Ok((ndjson, Body::from_stream(stream)).into_response())
}

async fn ui_page(State(control): State<Control>) -> Answer {
    let Some(ui) = &control.ui else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "this server has no timeline view (readerlab serve answers /_readerlab/ui)",
        ));
    };
    let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    Ok((html, ui.page()).into_response())
}

/// The live view's poll: the model of the whole history and its lines from
/// index `from` on, with the rig's generation (a new rig starts again).
async fn ui_model(State(control): State<Control>, Query(query): Query<HistoryQuery>) -> Answer {
    let Some(ui) = control.ui.clone() else {
        return Err(Failure::new(StatusCode::NOT_FOUND, "this server has no timeline view"));
    };
    let (generation, events) = control.rig.events_from(0)?;
    let lines = jsonl(events.get(query.from..).unwrap_or_default());
    let model = tokio::task::spawn_blocking(move || ui.model(&events))
        .await
        .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    ok(json!({
        "generation": generation,
        "model": model,
        "lines": String::from_utf8_lossy(&lines),
    }))
}

async fn ledger(State(control): State<Control>) -> Answer {
    let value = control.rig.read(|sim| {
        let backend = sim.backend();
        let intents: Vec<Value> =
            backend.intents().filter_map(|i| backend.intent_json(&i.id)).collect();
        let charges: Vec<Value> =
            backend.charges().filter_map(|c| backend.charge_json(&c.id)).collect();
        json!({"payment_intents": intents, "charges": charges})
    })?;
    ok(value)
}
