//! The `served` target: every scenario gets its own `readerlab serve` (in
//! this process, on a loopback port, virtual clock, stores on real files in
//! a temporary directory), and every step reaches it through its sockets:
//! the control API for customers, faults and time, the backend's HTTP API
//! for every call a device makes.
//!
//! What it cannot do, it says: stores on real files cannot tear a write,
//! fill up, rot or lock on demand, so scenarios needing `power`,
//! `storage-faults` or `device-lock` skip with that reason.
//!
//! The POS is readerlab's reference POS in the served process, or, with
//! `--pos CMD`, an adapter speaking the driver protocol (`external.rs`).

use super::external::{AdapterRig, ExternalError, ExternalPos};
use super::pos::{InProcessPos, Pos, RigAccess};
use super::{Capability, InjectError, Rig, StartError, Target};
use crate::driver::PosCommand;
use crate::driver::protocol;
use readerlab_emulator::core::backend::BackendConfig;
use readerlab_emulator::core::{Event, EventBody, Millis};
use readerlab_emulator::serve::ble_bridge::BleCarrier;
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::{Fault, PaymentSpec, RigSpec};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// How much rig time the final drain of a scenario may take (as on `sim`).
const DRAIN_CAP: Duration = Duration::from_secs(6 * 3_600);

/// The secret key the in-process servers accept.
const SECRET_KEY: &str = "sk_test_readerlab";

/// How much rig time an outside POS gets, before the rig drains, to
/// report the payments it still has open.
const SETTLE_CAP: Duration = Duration::from_secs(10 * 60);
/// How long an outside POS's customer waits for the reader to be ready.
const READER_WAIT: Duration = Duration::from_secs(60);
/// While an outside POS has work open, rig time moves in steps of at most
/// this, each followed by a `clock.advance` (its polls and timers).
const POS_QUANTUM: Duration = Duration::from_secs(1);

/// The served target.
#[derive(Clone, Debug, Default)]
pub struct ServedTarget {
    /// The carrier of the POS's link to Bluetooth readers (`None`: in
    /// process).
    pub ble: Option<BleCarrier>,
    /// An adapter plays the POS (`--pos`); `None`: the reference POS.
    pub pos: Option<PosCommand>,
}

/// The runtime every in-process server and client runs on (steps are
/// synchronous; they block on it).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("served-target")
            .enable_all()
            .build()
            .expect("a tokio runtime for the served target")
    })
}

impl Target for ServedTarget {
    fn name(&self) -> &'static str {
        "served"
    }

    fn capabilities(&self) -> BTreeSet<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| match c {
                Capability::Power | Capability::StorageFaults | Capability::DeviceLock => false,
                // An outside POS's requests take no rig time.
                Capability::CallsInFlight => self.pos.is_none(),
                _ => true,
            })
            .collect()
    }

    fn replay_flags(&self) -> String {
        let mut flags = String::new();
        match self.ble {
            Some(BleCarrier::Tcp) => flags.push_str(" --ble tcp"),
            Some(BleCarrier::Bluez) => flags.push_str(" --ble bluez"),
            None => {}
        }
        if let Some(pos) = &self.pos {
            match &pos.listen {
                Some(listener) => flags.push_str(&format!(" --pos-listen {}", listener.addr())),
                None => flags.push_str(&format!(" --pos {}", shell_quote(&pos.command))),
            }
            if let Some(timeout) = pos.timeout {
                flags.push_str(&format!(" --pos-timeout {}", timeout.as_secs_f64()));
            }
        }
        flags
    }

    /// Over BlueZ every scenario's reader advertises on the same virtual
    /// adapter, which shows one advertisement at a time: one scenario at
    /// a time.
    /// An app that connects in is one app: one session at a time.
    fn max_concurrent(&self) -> Option<usize> {
        let one_listener = self.pos.as_ref().is_some_and(|p| p.listen.is_some());
        (self.ble == Some(BleCarrier::Bluez) || one_listener).then_some(1)
    }

    fn start(&self, mut spec: RigSpec) -> Result<Box<dyn Rig>, StartError> {
        spec.outside_pos = self.pos.is_some();
        let mut rig = self.serve(spec)?;
        if let Some(command) = &self.pos {
            let described = rig.for_adapter();
            let external = ExternalPos::start(command, &rig.access(), &described);
            rig.pos = Box::new(external.map_err(|e| match e {
                ExternalError::Unsupported(reason) => StartError::Unsupported(reason),
                other => StartError::Pos(other.to_string()),
            })?);
        }
        Ok(Box::new(rig))
    }
}

/// A served rig with no POS of its own attached yet, for the conformance
/// kit's protocol checks: what `session.new` describes, on a live backend.
#[derive(Debug)]
pub struct ProbeRig(ServedRig);

impl ProbeRig {
    /// Serves a rig of these readers, for a POS outside it.
    pub fn start(mut spec: RigSpec) -> Result<ProbeRig, StartError> {
        spec.outside_pos = true;
        ServedTarget::default().serve(spec).map(ProbeRig)
    }

    /// The rig as `session.new` describes it.
    pub fn description(&self) -> protocol::Rig {
        let described = self.0.for_adapter();
        let now = self.0.now().0;
        super::external::describe_rig(now, &described)
    }
}

impl ServedTarget {
    /// A served rig with the reference POS.
    fn serve(&self, mut spec: RigSpec) -> Result<ServedRig, StartError> {
        let data = tempfile::Builder::new()
            .prefix("readerlab-served-")
            .tempdir()
            .map_err(StartError::DataDir)?;
        spec.data_dir = Some(data.path().to_owned());
        // The keys apart from the data, as `serve` keeps them, in a
        // temporary directory of their own that goes with the rig.
        let keys = tempfile::Builder::new()
            .prefix("readerlab-served-keys-")
            .tempdir()
            .map_err(StartError::DataDir)?;
        spec.keys_dir = Some(keys.path().to_owned());
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            clock: ClockMode::Virtual,
            token: None,
            rig: spec,
            secret_key: SECRET_KEY.to_owned(),
            ble: self.ble,
            ui: None,
        };
        let server = runtime().block_on(Server::start(config))?;
        let client = ControlClient::new(server.addr(), None);
        let mut rig = ServedRig {
            server: Some(server),
            client,
            events: Vec::new(),
            pos: Box::new(InProcessPos),
            _data: data,
            _keys: keys,
        };
        rig.refresh();
        Ok(rig)
    }
}

/// One scenario's served rig, seen through its control API.
struct ServedRig {
    server: Option<Server>,
    client: ControlClient,
    /// The history as fetched so far.
    events: Vec<Event>,
    /// Who plays the POS.
    pos: Box<dyn Pos>,
    _data: tempfile::TempDir,
    _keys: tempfile::TempDir,
}

impl fmt::Debug for ServedRig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedRig")
            .field("addr", &self.server.as_ref().map(Server::addr))
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl ServedRig {
    /// Fetches the events recorded since the last fetch.
    fn refresh(&mut self) {
        let from = self.events.len();
        let new = runtime()
            .block_on(self.client.history(from))
            .unwrap_or_else(|e| panic!("served rig: reading the history: {e}"));
        self.events.extend(new);
    }

    fn now(&self) -> readerlab_emulator::core::Millis {
        runtime()
            .block_on(self.client.now())
            .unwrap_or_else(|e| panic!("served rig: reading the clock: {e}"))
    }

    /// What an adapter is told of this rig: the backend, the readers and
    /// how to reach them, the offline settings.
    fn for_adapter(&self) -> AdapterRig {
        let server = self.server.as_ref().expect("started");
        let readers = self
            .events
            .iter()
            .find_map(|e| match &e.body {
                EventBody::RigStarted { readers, .. } => Some(readers.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let backend = protocol::Backend {
            base_url: format!("http://{}", server.addr()),
            secret_key: server.rig().pos_key(),
            account: BackendConfig::default().account,
        };
        let offline = server.rig().read(|sim| sim.spec().offline.clone()).unwrap_or_default();
        AdapterRig { backend, readers, offered: server.rig().offered_readers(), offline }
    }

    fn access(&self) -> RigAccess<'_> {
        RigAccess { client: &self.client, runtime: runtime() }
    }

    /// Lets the POS catch up with rig time and the history.
    /// (The reference POS runs inside the rig: only the history is read.)
    fn tick(&mut self) {
        self.refresh();
        if self.pos.is_outside() {
            let now = self.now();
            self.catch_up(now);
        }
    }

    /// An outside POS catches up with rig time `now`.
    fn catch_up(&mut self, now: Millis) {
        let access = RigAccess { client: &self.client, runtime: runtime() };
        self.pos.tick(&access, now, &self.events);
        self.refresh();
    }

    /// Advances rig time towards `until`: straight there with the
    /// reference POS, or in steps of at most [`POS_QUANTUM`] while an
    /// outside POS has work open (`step`: only to the next instant
    /// something is due). Returns the new time.
    fn advance(&mut self, until: Millis, step: bool) -> Millis {
        let (busy, due) = (self.pos.busy(), self.pos.next_due());
        // The clock is read only when the POS needs it (the reference POS
        // never does: one request fewer per advance).
        let now = if busy || due.is_some() { self.now() } else { Millis::ZERO };
        let (mut target, step) =
            if busy { ((now + POS_QUANTUM).min(until), true) } else { (until, step) };
        // No further than the POS's own next deadline (an adapter's timer).
        if let Some(due) = due {
            target = target.min(due.max(now + Duration::from_millis(1)));
        }
        let reached = runtime()
            .block_on(self.client.advance(target, step))
            .unwrap_or_else(|e| panic!("served rig: advancing the clock: {e}"));
        self.refresh();
        if self.pos.is_outside() {
            self.catch_up(reached);
        }
        reached
    }

    /// Lets rig time pass (at most [`READER_WAIT`]) until reader `index` is
    /// connected and free, as a cashier waits for the reader before taking
    /// the next payment (the reference POS queues the customer instead).
    fn await_reader(&mut self, index: usize) {
        let deadline = self.now() + READER_WAIT;
        loop {
            let readers = runtime()
                .block_on(self.client.readers())
                .unwrap_or_else(|e| panic!("served rig: reading the readers: {e}"));
            let reader = readers.get("readers").and_then(|r| r.get(index));
            let ready = reader.is_some_and(|r| {
                r.get("status").and_then(serde_json::Value::as_str) == Some("connected")
                    && r.get("busy").and_then(serde_json::Value::as_bool) == Some(false)
            });
            let now = self.now();
            if ready || now >= deadline {
                return;
            }
            self.advance((now + POS_QUANTUM).min(deadline), true);
        }
    }

    /// Before the rig drains: every fault cleared, and an outside POS
    /// given [`SETTLE_CAP`] of rig time to report what it has open, then
    /// its session ended.
    fn settle_pos(&mut self) -> Vec<String> {
        if !self.pos.is_outside() {
            return Vec::new();
        }
        let cleared = runtime()
            .block_on(self.client.clear_all())
            .unwrap_or_else(|e| panic!("served rig: clearing the faults: {e}"));
        let access = RigAccess { client: &self.client, runtime: runtime() };
        for fault in &cleared {
            self.pos.clear(&access, fault);
        }
        self.tick();
        let deadline = self.now() + SETTLE_CAP;
        while self.pos.busy() && self.now() < deadline {
            self.advance(deadline, true);
        }
        // An SDK that stores offline payments drains its queue while it
        // runs: rig time passes while it has something due, as the rig's
        // own drain lets it pass for the reference SDK.
        let deadline = self.now() + DRAIN_CAP;
        while self.pos.next_due().is_some() && self.now() < deadline {
            self.advance(deadline, true);
        }
        let access = RigAccess { client: &self.client, runtime: runtime() };
        let log = self.pos.end(&access);
        self.refresh();
        log
    }
}

impl Rig for ServedRig {
    fn pay(&mut self, payment: PaymentSpec) {
        let now = self.now();
        if payment.at > now {
            self.wait(Duration::from_millis(payment.at.0 - now.0));
        }
        if self.pos.is_outside() {
            self.await_reader(payment.reader);
        }
        let access = RigAccess { client: &self.client, runtime: runtime() };
        self.pos.pay(&access, payment);
        self.tick();
    }

    fn inject(&mut self, fault: Fault) -> Result<(), InjectError> {
        let access = RigAccess { client: &self.client, runtime: runtime() };
        self.pos.inject(&access, &fault);
        let result = runtime().block_on(self.client.inject(&fault)).map_err(InjectError::from);
        self.tick();
        result
    }

    fn clear(&mut self, fault: &Fault) {
        runtime()
            .block_on(self.client.clear(fault))
            .unwrap_or_else(|e| panic!("served rig: clearing {fault:?}: {e}"));
        let access = RigAccess { client: &self.client, runtime: runtime() };
        self.pos.clear(&access, fault);
        self.tick();
    }

    fn wait(&mut self, span: Duration) {
        let until = self.now() + span;
        while self.advance(until, false) < until {}
    }

    fn wait_for(&mut self, cap: Duration, until: &mut dyn FnMut(&Event) -> bool) -> bool {
        if self.events.iter().any(&mut *until) {
            return true;
        }
        let deadline = self.now() + cap;
        loop {
            let seen = self.events.len();
            let now = self.advance(deadline, true);
            if self.events[seen..].iter().any(&mut *until) {
                return true;
            }
            if now >= deadline {
                return false;
            }
        }
    }

    fn events(&self) -> &[Event] {
        &self.events
    }

    fn finish(self: Box<Self>) -> Vec<Event> {
        self.finish_with_log().0
    }

    fn finish_with_log(mut self: Box<Self>) -> (Vec<Event>, Vec<String>) {
        let log = self.settle_pos();
        let cap = DRAIN_CAP.as_millis() as u64;
        runtime()
            .block_on(self.client.finish(cap))
            .unwrap_or_else(|e| panic!("served rig: finishing: {e}"));
        self.refresh();
        if let Some(server) = self.server.take() {
            let _ = runtime().block_on(server.shutdown());
        }
        (std::mem::take(&mut self.events), log)
    }
}

impl Drop for ServedRig {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = runtime().block_on(server.shutdown());
        }
    }
}

/// `text` as one word for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
