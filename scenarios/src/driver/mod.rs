//! The POS driver protocol (docs/driver-protocol.md): readerlab's side of
//! the conversation with an adapter that plays the POS.
//!
//! [`protocol`] holds the messages (and generates the JSON Schema),
//! [`peer`] the process and its lines, and [`Session`] the typed calls with
//! their deadlines, the capabilities the adapter declared, and `app.kill`
//! (the process killed for real and started again on the same data).

mod line;
pub mod peer;
pub mod protocol;
pub mod socket;

pub use peer::{DriverError, Log, Peer};
pub use socket::PosListener;

use protocol::{
    ACCEPTED, AskedCapabilities, Notification, PROTOCOL, Request, SessionInfo, SessionNew,
    SessionNewResult, Software,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How to reach the adapter and how long to wait for it.
#[derive(Clone, Debug)]
pub struct PosCommand {
    /// Run with `sh -c`, once per scenario (and again after `app.kill`);
    /// with `listen`, the `ws://` address apps connect to.
    pub command: String,
    /// Apps connect in over a WebSocket here, once per session
    /// (`--pos-listen`), instead of readerlab starting `command`.
    pub listen: Option<Arc<PosListener>>,
    /// Replaces every deadline when set (`--pos-timeout`).
    pub timeout: Option<Duration>,
    /// What the adapter declared in the first session of this run: a
    /// scenario that needs what it lacks is skipped without starting it
    /// again (docs/driver-protocol.md, "Capabilities").
    pub declared: Arc<OnceLock<(Software, Capabilities)>>,
}

impl PosCommand {
    /// An adapter readerlab starts.
    pub fn spawn(command: String, timeout: Option<Duration>) -> PosCommand {
        PosCommand { command, listen: None, timeout, declared: Arc::default() }
    }

    /// Apps that connect in to `listener`.
    pub fn listen(listener: PosListener, timeout: Option<Duration>) -> PosCommand {
        let command = format!("ws://{}", listener.addr());
        PosCommand { command, listen: Some(Arc::new(listener)), timeout, declared: Arc::default() }
    }

    /// Starts the adapter, or waits for an app to connect (as long as
    /// `session.new` may take).
    pub fn open(&self) -> Result<Peer, DriverError> {
        match &self.listen {
            Some(listener) => Peer::accept(listener, self.deadline("session.new")),
            None => Peer::spawn(&self.command),
        }
    }

    /// The deadline of `method` (docs/driver-protocol.md, "Deadlines").
    pub fn deadline(&self, method: &str) -> Duration {
        self.timeout.unwrap_or(match method {
            "session.new" | "payment.collect" => Duration::from_secs(30),
            _ => Duration::from_secs(10),
        })
    }
}

/// Capability names (docs/driver-protocol.md, "Capabilities").
pub mod capability {
    pub const CLOCK: &str = "clock";
    pub const CANCEL: &str = "payment.cancel";
    pub const APP_KILL: &str = "app.kill";
    pub const SYNC_FORCE: &str = "sync.force";
    pub const QUEUE_INSPECT: &str = "queue.inspect";
    pub const MODELS: &str = "models";
    pub const INTEGRATION: &str = "integration";
    /// Protocol 2: `"ble_tcp"`, drives Bluetooth readers as a mobile SDK.
    pub const BLUETOOTH: &str = "bluetooth";
    /// Protocol 2: hears `device.network`.
    pub const DEVICE_NETWORK: &str = "device.network";
    /// Every capability the harness may ask for.
    pub const ASKED: [&str; 9] = [
        INTEGRATION,
        MODELS,
        CLOCK,
        CANCEL,
        APP_KILL,
        SYNC_FORCE,
        QUEUE_INSPECT,
        BLUETOOTH,
        DEVICE_NETWORK,
    ];
}

/// What an adapter said it supports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capabilities(pub BTreeMap<String, Value>);

impl Capabilities {
    /// A `true` capability.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| v.as_bool() == Some(true))
    }

    /// The reader models it declared.
    pub fn models(&self) -> Vec<String> {
        self.0
            .get(capability::MODELS)
            .and_then(Value::as_array)
            .map(|models| models.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Its integration (`server_driven`), if declared.
    pub fn integration(&self) -> Option<&str> {
        self.0.get(capability::INTEGRATION).and_then(Value::as_str)
    }

    /// How it drives Bluetooth readers (`ble_tcp`), if declared.
    pub fn bluetooth(&self) -> Option<&str> {
        self.0.get(capability::BLUETOOTH).and_then(Value::as_str)
    }

    /// Every declared capability, by name (vendor ones too).
    pub fn names(&self) -> Vec<String> {
        let declared = |(_, v): &(&String, &Value)| !matches!(v, Value::Bool(false) | Value::Null);
        self.0.iter().filter(declared).map(|(k, _)| k.clone()).collect()
    }
}

/// A conversation with an adapter that has answered `session.new`.
#[derive(Debug)]
pub struct Session {
    pos: PosCommand,
    peer: Peer,
    hello: SessionNew,
    /// The adapter's name and version.
    pub adapter: Software,
    /// What it supports.
    pub capabilities: Capabilities,
    /// The logs of the adapter processes this session ran before the current one.
    earlier_logs: Vec<String>,
    /// The current process runs (`false` after [`Session::kill`]).
    alive: bool,
}

/// The `session.new` params for a rig (the session id and data directory
/// are the caller's).
pub fn hello(id: &str, data_dir: &str, rig: protocol::Rig) -> SessionNew {
    SessionNew {
        protocol: PROTOCOL,
        harness: Software {
            name: "readerlab".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        session: SessionInfo {
            id: id.to_owned(),
            data_dir: data_dir.to_owned(),
            resumed: false,
            reported: Vec::new(),
        },
        rig,
        capabilities: AskedCapabilities {
            asked: capability::ASKED.iter().map(|c| (*c).to_owned()).collect(),
        },
    }
}

impl Session {
    /// Starts the adapter and has it answer `session.new`; on failure, the
    /// error and the last lines of the adapter's log.
    pub fn start(pos: &PosCommand, hello: SessionNew) -> Result<Session, (DriverError, String)> {
        let mut peer = pos.open().map_err(|e| (e, String::new()))?;
        let result = Session::handshake(pos, &mut peer, &hello).map_err(|e| {
            // Give a dying adapter a moment to finish its last words.
            std::thread::sleep(std::time::Duration::from_millis(100));
            (e, peer.log().tail())
        })?;
        Ok(Session {
            pos: pos.clone(),
            peer,
            hello,
            adapter: result.adapter,
            capabilities: Capabilities(result.capabilities),
            earlier_logs: Vec::new(),
            alive: true,
        })
    }

    fn handshake(
        pos: &PosCommand,
        peer: &mut Peer,
        hello: &SessionNew,
    ) -> Result<SessionNewResult, DriverError> {
        let request = Request::SessionNew(Box::new(hello.clone()));
        let result = peer.call(&request, pos.deadline("session.new"))?;
        let result: SessionNewResult = decode("session.new", peer, result)?;
        if !ACCEPTED.contains(&result.protocol) {
            return Err(DriverError::BadResult {
                method: "session.new".to_owned(),
                line: 0,
                why: format!(
                    "it speaks protocol {}, readerlab speaks {PROTOCOL} (and takes adapters of {ACCEPTED:?})",
                    result.protocol
                ),
            });
        }
        Ok(result)
    }

    /// Sends a request and decodes its result.
    pub fn call<T: DeserializeOwned>(&mut self, request: &Request) -> Result<T, DriverError> {
        let method = request.method();
        let result = self.peer.call(request, self.pos.deadline(method))?;
        decode(method, &self.peer, result)
    }

    /// Whether readerlab started the adapter (and so can kill it for real).
    pub fn killable(&self) -> bool {
        self.peer.is_process()
    }

    /// Whether the current process runs (not killed by `app.kill`).
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// The notifications that arrived so far (reading what is pending).
    pub fn notifications(&mut self) -> Result<Vec<(usize, Notification)>, DriverError> {
        self.peer.poll()?;
        Ok(self.peer.take_notifications())
    }

    /// `app.kill`: SIGKILL; nothing is flushed, nothing said.
    pub fn kill(&mut self) {
        self.alive = false;
        self.peer.kill();
        self.earlier_logs.extend(self.peer.log().lines());
        self.earlier_logs.push("--- readerlab: SIGKILL (app.kill) ---".to_owned());
    }

    /// After [`Session::kill`]: the command again, `session.new` with
    /// `resumed: true`, the same data directory, and the payments whose
    /// outcome readerlab already has.
    pub fn restart(&mut self, reported: Vec<String>) -> Result<(), DriverError> {
        self.hello.session.resumed = true;
        self.hello.session.reported = reported;
        let mut peer = self.pos.open()?;
        let result = Session::handshake(&self.pos, &mut peer, &self.hello)?;
        self.peer = peer;
        self.alive = true;
        self.capabilities = Capabilities(result.capabilities);
        Ok(())
    }

    /// The adapter's log (every process of this session).
    pub fn log_lines(&self) -> Vec<String> {
        let mut lines = self.earlier_logs.clone();
        if self.alive {
            lines.extend(self.peer.log().lines());
        }
        lines
    }

    /// Adds a line to the adapter's log (a `log` notification).
    pub fn note(&self, line: &str) {
        self.peer.log().note(line.to_owned());
    }

    /// The last lines of the current process's log, for an error message.
    pub fn log_tail(&self) -> String {
        self.peer.log().tail()
    }

    /// `session.end`, then the process is given its moment to exit.
    pub fn end(&mut self) -> Result<String, DriverError> {
        if !self.alive {
            return Ok("killed (app.kill) and not started again".to_owned());
        }
        let ended = self.call::<Value>(&Request::SessionEnd(protocol::Empty {}));
        let how = self.peer.close();
        self.earlier_logs.extend(self.peer.log().lines());
        self.alive = false;
        ended.map(|_| how)
    }
}

fn decode<T: DeserializeOwned>(method: &str, peer: &Peer, value: Value) -> Result<T, DriverError> {
    serde_json::from_value(value).map_err(|e| DriverError::BadResult {
        method: method.to_owned(),
        line: 0,
        why: format!("{e}{}", peer.log().tail()),
    })
}
