//! The messages of the POS driver protocol, version 2
//! (docs/driver-protocol.md), as Rust types: the JSON Schema
//! (docs/driver-protocol.schema.json) is generated from them ([`schema`]),
//! and a test fails when the file and the types differ.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The protocol version this harness speaks.
pub const PROTOCOL: u32 = 2;

/// The versions an adapter may answer with: 2 only adds to 1 (Bluetooth
/// readers, `device.network`, `sdk.event`, `rig.offline`), so an adapter
/// of version 1 runs unchanged (it declares no `bluetooth`).
pub const ACCEPTED: [u32; 2] = [1, 2];

/// The metadata key every PaymentIntent of a payment carries.
pub const PAYMENT_METADATA_KEY: &str = "readerlab_payment";

/// JSON-RPC's error codes, and the protocol's own.
pub mod codes {
    /// The line was not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method, or a capability the adapter did not declare.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The operation failed; `data.definite` says whether it may have
    /// taken effect.
    pub const FAILED: i64 = -32000;
    /// The POS cannot take this now; definite.
    pub const BUSY: i64 = -32001;
}

/// `{name, version}` of the harness or the adapter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Software {
    pub name: String,
    pub version: String,
}

/// An amount in minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Amount {
    /// Minor units (cents).
    pub amount: u64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
}

/// The session: what survives a restart of the adapter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    pub id: String,
    /// The app's own directory; it survives `app.kill`.
    pub data_dir: String,
    /// `true` after a restart.
    pub resumed: bool,
    /// On a restart: the payments whose `payment.ended` readerlab has
    /// recorded (report each of the others once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reported: Vec<String>,
}

/// Who drives time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// The harness drives it (`clock.advance`).
    Virtual,
    /// The wall clock.
    Real,
}

/// The rig's clock as the session starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Clock {
    pub mode: ClockMode,
    /// Rig time, ms since the rig started.
    pub now_ms: u64,
}

/// The Stripe-compatible backend the POS uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Backend {
    /// Use it instead of `https://api.stripe.com`.
    pub base_url: String,
    /// The POS's key: its requests cross the POS's internet link.
    pub secret_key: String,
    pub account: String,
}

/// A reader family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Smart,
    Bluetooth,
}

/// Who stores a reader's offline payments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoredBy {
    Reader,
    Pos,
}

/// One reader of the rig and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reader {
    pub serial: String,
    /// `m2`, `wisepad3`, `chipper2x`, `s700` or `wisepos_e`.
    pub model: String,
    pub family: Family,
    pub stored_by: StoredBy,
    /// Smart readers: the code to register it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_code: Option<String>,
    /// Smart readers: the base URL of the reader's LAN API, for a POS
    /// that drives it over the LAN (`integration: lan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan: Option<String>,
    /// Bluetooth readers (protocol 2): the reader's BLE-over-TCP address,
    /// `127.0.0.1:PORT`, for the SDK to connect to as its central
    /// (docs/ble-gatt.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ble_tcp: Option<String>,
}

/// The account's Terminal configuration, offline part (protocol 2): what
/// an SDK fetched when it was last online.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineSettings {
    /// Offline mode is enabled for the account.
    pub enabled: bool,
    /// Currencies enabled offline (lower-case ISO codes), each with its
    /// per-transaction maximum in minor units.
    pub max_amount: BTreeMap<String, u64>,
    /// The app's limit on the total stored per currency (none: no limit).
    pub stored_amount_limit: BTreeMap<String, u64>,
    /// The most payments stored at once.
    pub max_records: u32,
    /// The Location is in the EEA (offline cards inserted, PIN verified).
    pub eea: bool,
}

/// The rig the POS works in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rig {
    pub clock: Clock,
    pub backend: Backend,
    pub readers: Vec<Reader>,
    /// Protocol 2: the offline settings the SDK last fetched, with the
    /// POS having been online with these readers at rig time 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineSettings>,
}

/// What the harness would like.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AskedCapabilities {
    pub asked: Vec<String>,
}

/// `session.new` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionNew {
    pub protocol: u32,
    pub harness: Software,
    pub session: SessionInfo,
    pub rig: Rig,
    pub capabilities: AskedCapabilities,
}

/// `session.new` result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionNewResult {
    pub protocol: u32,
    pub adapter: Software,
    /// An absent capability is unsupported; `x-VENDOR:` names are the
    /// adapter's own.
    pub capabilities: BTreeMap<String, Value>,
}

/// `clock.advance` result: `{}`, or (protocol 2) when the adapter has
/// something of its own due later (a retry, a timeout, a poll), the rig
/// time it is due: readerlab then moves the rig no further than that before
/// the next `clock.advance`, and lets rig time pass while it is set before
/// ending a scenario (an SDK's offline queue draining).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvanceResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_ms: Option<u64>,
}

/// `device.network` params (protocol 2): the POS device's connectivity as
/// its operating system reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceNetwork {
    pub up: bool,
}

/// `sdk.event` params (protocol 2): one of the SDK's own events, as the
/// history writes it (docs/history.md): its name under `event`, and its
/// fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SdkEvent {
    /// The history's name of the event (`offline.payment.stored`, ...).
    pub event: String,
    /// Its fields, as docs/history.md lists them.
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

/// `clock.advance` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    pub now_ms: u64,
}

/// The SDK's OfflineBehavior.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Behavior {
    PreferOnline,
    RequireOnline,
    ForceOffline,
}

/// `payment.collect` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCollect {
    /// The harness's name of the payment.
    pub payment: String,
    /// The reader's serial.
    pub reader: String,
    pub amount: Amount,
    pub behavior: Behavior,
}

/// `payment.collect` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCollectResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
}

/// `payment.cancel` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCancel {
    pub payment: String,
}

/// No params, or an empty result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// One payment the POS has started and not reported ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueuedPayment {
    pub payment: String,
    pub reader: String,
    pub intent: Option<String>,
    /// The adapter's own word for where it stands.
    pub state: String,
}

/// `queue.inspect` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueInspectResult {
    pub payments: Vec<QueuedPayment>,
}

/// What the POS tells the cashier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Declined,
    Failed,
    Canceled,
    Unknown,
}

/// `payment.ended` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentEnded {
    pub payment: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `sdk.error` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SdkError {
    pub code: String,
    pub message: String,
}

/// `reader.battery` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReaderBattery {
    pub reader: String,
    pub percent: u8,
}

/// A log level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// `log` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Log {
    pub level: Level,
    pub message: String,
}

/// `"2.0"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Version {
    #[default]
    #[serde(rename = "2.0")]
    V2,
}

/// A request of the harness, by method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", content = "params")]
pub enum Request {
    #[serde(rename = "session.new")]
    SessionNew(Box<SessionNew>),
    #[serde(rename = "session.end")]
    SessionEnd(Empty),
    #[serde(rename = "clock.advance")]
    ClockAdvance(ClockAdvance),
    #[serde(rename = "payment.collect")]
    PaymentCollect(PaymentCollect),
    #[serde(rename = "payment.cancel")]
    PaymentCancel(PaymentCancel),
    #[serde(rename = "sync.force")]
    SyncForce(Empty),
    #[serde(rename = "queue.inspect")]
    QueueInspect(Empty),
    #[serde(rename = "device.network")]
    DeviceNetwork(DeviceNetwork),
}

impl Request {
    /// The method's name.
    pub fn method(&self) -> &'static str {
        match self {
            Request::SessionNew(_) => "session.new",
            Request::SessionEnd(_) => "session.end",
            Request::ClockAdvance(_) => "clock.advance",
            Request::PaymentCollect(_) => "payment.collect",
            Request::PaymentCancel(_) => "payment.cancel",
            Request::SyncForce(_) => "sync.force",
            Request::QueueInspect(_) => "queue.inspect",
            Request::DeviceNetwork(_) => "device.network",
        }
    }
}

/// A request on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestMessage {
    pub jsonrpc: Version,
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// A notification of the adapter, by method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "method", content = "params")]
pub enum Notification {
    #[serde(rename = "payment.ended")]
    PaymentEnded(PaymentEnded),
    #[serde(rename = "sdk.error")]
    SdkError(SdkError),
    #[serde(rename = "reader.battery")]
    ReaderBattery(ReaderBattery),
    #[serde(rename = "log")]
    Log(Log),
    #[serde(rename = "sdk.event")]
    SdkEvent(SdkEvent),
}

/// A notification on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationMessage {
    pub jsonrpc: Version,
    #[serde(flatten)]
    pub notification: Notification,
}

/// `error.data`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorData {
    /// `true`: it did not happen. Absent or `false`: it may have.
    #[serde(default)]
    pub definite: bool,
    /// The SDK's or API's own code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_code: Option<String>,
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ErrorData>,
}

impl RpcError {
    /// Whether the operation certainly did not happen.
    pub fn definite(&self) -> bool {
        // A method the adapter does not know did nothing.
        self.data.as_ref().is_some_and(|d| d.definite)
            || matches!(
                self.code,
                codes::METHOD_NOT_FOUND
                    | codes::INVALID_PARAMS
                    | codes::INVALID_REQUEST
                    | codes::BUSY
            )
    }
}

/// A response on the wire: `result` or `error`, and the request's id
/// (`null` for an error about a line that had none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseMessage {
    pub jsonrpc: Version,
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// Anything the adapter may write: the schema's root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AdapterMessage {
    Notification(NotificationMessage),
    Response(ResponseMessage),
}

/// Every message type with its result types, for the schema's `$defs`.
#[derive(JsonSchema)]
#[allow(dead_code, reason = "exists only for its schema")]
struct Protocol {
    request: RequestMessage,
    adapter_message: AdapterMessage,
    session_new_result: SessionNewResult,
    payment_collect_result: PaymentCollectResult,
    queue_inspect_result: QueueInspectResult,
    clock_advance_result: ClockAdvanceResult,
    empty_result: Empty,
}

/// The result type of each method, by name in the schema's `$defs`.
pub const RESULT_DEFS: [(&str, &str); 8] = [
    ("session.new", "SessionNewResult"),
    ("session.end", "Empty"),
    ("clock.advance", "ClockAdvanceResult"),
    ("payment.collect", "PaymentCollectResult"),
    ("payment.cancel", "Empty"),
    ("sync.force", "Empty"),
    ("queue.inspect", "QueueInspectResult"),
    ("device.network", "Empty"),
];

/// The protocol's JSON Schema (draft 2020-12): its root is an object with
/// one property per message kind; each type is under `$defs`.
pub fn schema() -> Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(Protocol)).expect("a schema serializes");
    if let Some(object) = schema.as_object_mut() {
        object.insert("title".to_owned(), Value::from("readerlab POS driver protocol 2"));
        object.insert(
            "description".to_owned(),
            Value::from(
                "docs/driver-protocol.md. Validate a harness request against \
                 #/$defs/RequestMessage, an adapter's line against #/$defs/AdapterMessage, \
                 and a method's result against the $defs its method names \
                 (RESULT_DEFS in scenarios/src/driver/protocol.rs).",
            ),
        );
    }
    schema
}

/// The schema as the file holds it: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema serializes");
    text.push('\n');
    text
}

/// Checks `instance` against the schema's `$defs/<def>`; `Err` says the
/// first way it does not fit, with where.
pub fn validate(def: &str, instance: &Value) -> Result<(), String> {
    let full = schema();
    let mut root = serde_json::Map::new();
    root.insert("$schema".to_owned(), full["$schema"].clone());
    root.insert("$ref".to_owned(), Value::from(format!("#/$defs/{def}")));
    root.insert("$defs".to_owned(), full["$defs"].clone());
    let validator = jsonschema::validator_for(&Value::Object(root))
        .map_err(|e| format!("the schema itself: {e}"))?;
    match validator.iter_errors(instance).next() {
        None => Ok(()),
        Some(error) => Err(format!("{error} (at {})", error.instance_path())),
    }
}
