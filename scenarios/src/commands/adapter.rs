//! `readerlab adapter`: readerlab's reference POS as an adapter of the
//! driver protocol (docs/driver-protocol.md), on stdin and stdout.
//!
//! Smart readers it drives over the reader's LAN API (`integration: lan`),
//! as the reference POS does in process: it asks the reader to take the
//! payment with the scenario's OfflineBehavior, waits for the reader's
//! outcome on every `clock.advance`, gives up on a payment after five
//! minutes as the reference app does, and reports one `payment.ended` per
//! payment. Bluetooth readers it drives as a mobile SDK (`mobile.rs`:
//! `bluetooth: ble_tcp`, protocol 2). So `readerlab run --target served
//! --pos 'readerlab adapter'` must give every scenario it can run the
//! verdict the in-process POS gives it (ci/driver.sh checks that).

mod mobile;

use super::{Outcome, Verdict};
use crate::driver::protocol::{
    self, ClockAdvance, ClockAdvanceResult, DeviceNetwork, NotificationMessage, Outcome as Ended,
    PaymentCancel, PaymentCollect, PaymentEnded, QueueInspectResult, QueuedPayment,
    ResponseMessage, RpcError, SessionNew, SessionNewResult, Software, Version, codes,
};
use anyhow::Context;
use readerlab_emulator::core::{Defects, Money};
use readerlab_emulator::serve::client::{ControlClient, ControlError};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::SocketAddr;

/// How long the reference app waits for a payment before giving up on it
/// (as in process, `sim/app.rs`).
const PATIENCE_MS: u64 = 300_000;

/// The flags of `readerlab adapter` (it speaks on stdin and stdout).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Switch a defect profile on in its mobile SDK (repeatable; see
    /// `readerlab defects`), as `run --defect` does in the in-process one:
    /// the defects of the rig's readers are the rig's.
    #[arg(long = "defect", value_name = "NAME")]
    defects: Vec<String>,
}

/// A payment started and not yet reported ended.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Open {
    reader: String,
    started_ms: u64,
}

/// The reference POS's state for one session.
#[derive(Debug)]
struct Session {
    client: ControlClient,
    /// Each smart reader's LAN API base URL (`lan`), by serial.
    smart: BTreeMap<String, String>,
    /// The SDK of the Bluetooth readers, if the rig has one.
    mobile: Option<mobile::Mobile>,
    open: BTreeMap<String, Open>,
    now_ms: u64,
    /// Where the open payments are kept, so `app.kill` loses none
    /// (`session.data_dir/open.json`, replaced whole after each change).
    file: std::path::PathBuf,
}

/// What one request does: an answer, notifications to send before it, and
/// whether the session is over.
#[derive(Debug, Default)]
struct Step {
    notifications: Vec<NotificationMessage>,
    ended: bool,
}

/// Runs the adapter until its stdin closes or the session ends.
pub fn run(args: &Args) -> Outcome {
    let defects = Defects::of(super::parse_defects(&args.defects)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a runtime for the rig's API")?;
    let mut session: Option<Session> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let mut step = Step::default();
        let answer = answer(&runtime, &defects, &mut session, &line, &mut step);
        if let Some(mobile) = session.as_mut().and_then(|s| s.mobile.as_mut()) {
            step.notifications.extend(mobile.take_notifications());
        }
        let mut out = stdout.lock();
        for notification in &step.notifications {
            writeln!(out, "{}", serde_json::to_string(notification)?)?;
        }
        if let Some(answer) = answer {
            writeln!(out, "{}", serde_json::to_string(&answer)?)?;
        }
        out.flush()?;
        if step.ended {
            break;
        }
    }
    Ok(Verdict::Holds)
}

/// The response to one line (`None` for a notification from readerlab).
fn answer(
    runtime: &tokio::runtime::Runtime,
    defects: &Defects,
    session: &mut Option<Session>,
    line: &str,
    step: &mut Step,
) -> Option<ResponseMessage> {
    let message: Value = match serde_json::from_str(line) {
        Ok(message) => message,
        Err(e) => return Some(error(None, codes::PARSE_ERROR, format!("parse error: {e}"))),
    };
    let id = message.get("id").and_then(Value::as_u64);
    let method = message.get("method").and_then(Value::as_str);
    let (Some(method), true) = (method, message.get("jsonrpc") == Some(&json!("2.0"))) else {
        let why = "invalid request: it needs \"jsonrpc\": \"2.0\" and a method";
        return Some(error(id, codes::INVALID_REQUEST, why.to_owned()));
    };
    let id = message.get("id")?.as_u64();
    let params = message.get("params").cloned().unwrap_or(json!({}));
    let result = dispatch(runtime, defects, session, method, params, step);
    Some(match result {
        Ok(result) => {
            ResponseMessage { jsonrpc: Version::V2, id, result: Some(result), error: None }
        }
        Err(rpc) => ResponseMessage { jsonrpc: Version::V2, id, result: None, error: Some(rpc) },
    })
}

fn dispatch(
    runtime: &tokio::runtime::Runtime,
    defects: &Defects,
    session: &mut Option<Session>,
    method: &str,
    params: Value,
    step: &mut Step,
) -> Result<Value, RpcError> {
    if method == "session.new" {
        let hello: SessionNew = params_of(params)?;
        let (new, result) = start(runtime, defects, &hello)?;
        *session = Some(new);
        return Ok(serde_json::to_value(result).expect("results serialize"));
    }
    if method == "session.end" {
        step.ended = true;
        return Ok(json!({}));
    }
    let known =
        ["payment.collect", "payment.cancel", "clock.advance", "queue.inspect", "device.network"];
    if !known.contains(&method) {
        return Err(rpc(codes::METHOD_NOT_FOUND, format!("method not found: {method}"), true));
    }
    // Params first: invalid params say so even before a session.
    match method {
        "payment.collect" => {
            let collect: PaymentCollect = params_of(params)?;
            started(session)?.collect(runtime, &collect)
        }
        "payment.cancel" => {
            let cancel: PaymentCancel = params_of(params)?;
            started(session)?.cancel(runtime, &cancel.payment)
        }
        "clock.advance" => {
            let advance: ClockAdvance = params_of(params)?;
            let session = started(session)?;
            step.notifications = session.advance(runtime, advance.now_ms)?;
            let next = session.mobile.as_ref().and_then(mobile::Mobile::next_due);
            let result = ClockAdvanceResult { next_ms: next.map(|at| at.0) };
            Ok(serde_json::to_value(result).expect("results serialize"))
        }
        "device.network" => {
            let network: DeviceNetwork = params_of(params)?;
            if let Some(mobile) = started(session)?.mobile.as_mut() {
                mobile.network(runtime, network.up);
            }
            Ok(json!({}))
        }
        _ => Ok(serde_json::to_value(started(session)?.queue()).expect("results serialize")),
    }
}

fn started(session: &mut Option<Session>) -> Result<&mut Session, RpcError> {
    session
        .as_mut()
        .ok_or_else(|| rpc(codes::FAILED, "no session: send session.new first".to_owned(), true))
}

fn start(
    runtime: &tokio::runtime::Runtime,
    defects: &Defects,
    hello: &SessionNew,
) -> Result<(Session, SessionNewResult), RpcError> {
    let addr: SocketAddr = hello
        .rig
        .backend
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| rpc(codes::FAILED, format!("rig.backend.base_url: {e}"), true))?;
    let smart = hello
        .rig
        .readers
        .iter()
        .filter_map(|r| {
            r.lan.as_ref().map(|lan| (r.serial.clone(), lan.trim_end_matches('/').to_owned()))
        })
        .collect();
    let file = std::path::Path::new(&hello.session.data_dir).join("open.json");
    // After app.kill: what was open is still open, unless readerlab already
    // has its outcome.
    let mut open: BTreeMap<String, Open> = match std::fs::read(&file) {
        Ok(bytes) if hello.session.resumed => serde_json::from_slice(&bytes)
            .map_err(|e| rpc(codes::FAILED, format!("{}: {e}", file.display()), true))?,
        _ => BTreeMap::new(),
    };
    open.retain(|payment, _| !hello.session.reported.contains(payment));
    let mobile = mobile::Mobile::start(runtime, hello, addr, defects)?;
    let session = Session {
        client: ControlClient::new(addr, None),
        smart,
        mobile,
        open,
        now_ms: hello.rig.clock.now_ms,
        file,
    };
    let capabilities = json!({
        "integration": "lan",
        "bluetooth": "ble_tcp",
        "models": ["s700", "wisepos_e", "m2", "wisepad3", "chipper2x"],
        "device.network": true,
        "clock": true,
        "payment.cancel": true,
        "queue.inspect": true,
        "app.kill": true,
        "merchant.notices": true,
    });
    let result = SessionNewResult {
        protocol: protocol::PROTOCOL,
        adapter: Software {
            name: "readerlab-reference".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        capabilities: serde_json::from_value(capabilities).expect("an object"),
    };
    Ok((session, result))
}

impl Session {
    fn collect(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        collect: &PaymentCollect,
    ) -> Result<Value, RpcError> {
        let amount: Money = serde_json::from_value(json!(collect.amount))
            .map_err(|e| rpc(codes::INVALID_PARAMS, format!("amount: {e}"), true))?;
        let behavior =
            serde_json::from_value(json!(collect.behavior)).expect("the same three names");
        if let Some(mobile) = self.mobile.as_mut().filter(|m| m.has_reader(&collect.reader)) {
            mobile.collect(runtime, &collect.payment, &collect.reader, amount, behavior)?;
            return Ok(json!({}));
        }
        let Some(lan) = self.smart.get(&collect.reader) else {
            let why = format!("no reader {} in this rig", collect.reader);
            return Err(rpc(codes::FAILED, why, true));
        };
        // On file before the request goes out: a kill after the reader took
        // it must not lose it.
        let open = Open { reader: collect.reader.clone(), started_ms: self.now_ms };
        self.open.insert(collect.payment.clone(), open);
        self.save()?;
        let asked = self.client.lan_collect(lan, &collect.payment, amount, behavior);
        match runtime.block_on(asked) {
            Ok(()) => Ok(json!({})),
            // Refused (nothing started), or indefinite (readerlab records
            // an unknown outcome): either way no payment.ended follows.
            Err(error) => {
                self.open.remove(&collect.payment);
                self.save()?;
                Err(failure(&error))
            }
        }
    }

    /// The LAN API base URL of smart reader `serial`.
    fn lan(&self, serial: &str) -> Result<&str, RpcError> {
        self.smart.get(serial).map(String::as_str).ok_or_else(|| {
            rpc(
                codes::FAILED,
                format!("no reader {serial} in this rig (a payment kept from another)"),
                false,
            )
        })
    }

    /// Writes the open payments (a new file, synced, then renamed over the
    /// old one).
    fn save(&self) -> Result<(), RpcError> {
        let text = serde_json::to_vec(&self.open).expect("open payments serialize");
        let temporary = self.file.with_extension("json.new");
        let written = std::fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temporary, &self.file));
        written.map_err(|e| rpc(codes::FAILED, format!("{}: {e}", self.file.display()), false))
    }

    fn cancel(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        payment: &str,
    ) -> Result<Value, RpcError> {
        let Some(open) = self.open.get(payment) else {
            return match self.mobile.as_mut() {
                Some(mobile) => mobile.cancel(runtime, payment).map(|()| json!({})),
                None => {
                    Err(rpc(codes::FAILED, format!("no payment `{payment}` in progress"), true))
                }
            };
        };
        let lan = self.lan(&open.reader)?;
        runtime.block_on(self.client.lan_cancel(lan, payment)).map_err(|e| failure(&e))?;
        Ok(json!({}))
    }

    /// Rig time is `now_ms`: each open payment's reader is asked how it
    /// stands; the ended ones are reported, the ones past patience given up.
    fn advance(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        now_ms: u64,
    ) -> Result<Vec<NotificationMessage>, RpcError> {
        self.now_ms = now_ms;
        if let Some(mobile) = self.mobile.as_mut() {
            mobile.advance(runtime, readerlab_emulator::core::Millis(now_ms));
        }
        let mut ended = Vec::new();
        for (payment, open) in &self.open {
            let lan = self.lan(&open.reader)?;
            let state = match runtime.block_on(self.client.lan_payment(lan, payment)) {
                Ok(state) => state,
                // The reader is out of reach (its LAN is down): ask again later.
                Err(ControlError::Refused { status: 503, .. }) => continue,
                Err(error) => return Err(failure(&error)),
            };
            let status = state.get("status").and_then(Value::as_str).unwrap_or_default();
            let code = state.get("code").and_then(Value::as_str).map(str::to_owned);
            let outcome = match status {
                "succeeded" | "stored" => Ended::Succeeded,
                "declined" => Ended::Declined,
                "failed" => Ended::Failed,
                "canceled" => Ended::Canceled,
                _ if now_ms.saturating_sub(open.started_ms) >= PATIENCE_MS => {
                    let _ = runtime.block_on(self.client.lan_cancel(lan, payment));
                    Ended::Canceled
                }
                _ => continue,
            };
            ended.push(PaymentEnded {
                payment: payment.clone(),
                outcome,
                intent: None,
                code,
                decline_code: None,
                message: state.get("message").and_then(Value::as_str).map(str::to_owned),
            });
        }
        for end in &ended {
            self.open.remove(&end.payment);
        }
        if !ended.is_empty() {
            self.save()?;
        }
        Ok(ended
            .into_iter()
            .map(|end| NotificationMessage {
                jsonrpc: Version::V2,
                notification: protocol::Notification::PaymentEnded(end),
            })
            .collect())
    }

    fn queue(&self) -> QueueInspectResult {
        let payments = self
            .open
            .iter()
            .map(|(payment, open)| QueuedPayment {
                payment: payment.clone(),
                reader: open.reader.clone(),
                intent: None,
                state: "collecting".to_owned(),
            })
            .chain(self.mobile.iter().flat_map(mobile::Mobile::queue))
            .collect();
        QueueInspectResult { payments }
    }
}

/// A refusal by the rig did nothing (definite); a failed exchange may have.
fn failure(error: &ControlError) -> RpcError {
    let definite = matches!(error, ControlError::Refused { .. });
    rpc(codes::FAILED, error.to_string(), definite)
}

fn params_of<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params)
        .map_err(|e| rpc(codes::INVALID_PARAMS, format!("invalid params: {e}"), true))
}

fn rpc(code: i64, message: String, definite: bool) -> RpcError {
    RpcError { code, message, data: Some(protocol::ErrorData { definite, sdk_code: None }) }
}

fn error(id: Option<u64>, code: i64, message: String) -> ResponseMessage {
    ResponseMessage {
        jsonrpc: Version::V2,
        id,
        result: None,
        error: Some(RpcError { code, message, data: None }),
    }
}
