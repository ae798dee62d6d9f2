//! The `served` target: every scenario gets its own `readerlab serve` (in
//! this process, on a loopback port, virtual clock, stores on real files in
//! a temporary directory), and every step reaches it through its sockets:
//! the control API for customers, faults and time, the backend's HTTP API
//! for every call a device makes.
//!
//! What it cannot do, it says: stores on real files cannot tear a write,
//! fill up, rot or lock on demand, so scenarios needing `power`,
//! `storage-faults` or `device-lock` skip with that reason.

use super::{Capability, InjectError, Rig, StartError, Target};
use readerlab_emulator::core::Event;
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

/// The served target.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServedTarget {
    /// The carrier of the POS's link to Bluetooth readers (`None`: in
    /// process).
    pub ble: Option<BleCarrier>,
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
            .filter(|c| {
                !matches!(c, Capability::Power | Capability::StorageFaults | Capability::DeviceLock)
            })
            .collect()
    }

    /// Over BlueZ every scenario's reader advertises on the same virtual
    /// adapter, which shows one advertisement at a time: one scenario at
    /// a time.
    fn max_concurrent(&self) -> Option<usize> {
        (self.ble == Some(BleCarrier::Bluez)).then_some(1)
    }

    fn start(&self, mut spec: RigSpec) -> Result<Box<dyn Rig>, StartError> {
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
        };
        let server = runtime().block_on(Server::start(config))?;
        let client = ControlClient::new(server.addr(), None);
        let mut rig = ServedRig {
            server: Some(server),
            client,
            events: Vec::new(),
            _data: data,
            _keys: keys,
        };
        rig.refresh();
        Ok(Box::new(rig))
    }
}

/// One scenario's served rig, seen through its control API.
struct ServedRig {
    server: Option<Server>,
    client: ControlClient,
    /// The history as fetched so far.
    events: Vec<Event>,
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
}

impl Rig for ServedRig {
    fn pay(&mut self, payment: PaymentSpec) {
        runtime()
            .block_on(self.client.pay(&payment))
            .unwrap_or_else(|e| panic!("served rig: placing {}: {e}", payment.name));
        self.refresh();
    }

    fn inject(&mut self, fault: Fault) -> Result<(), InjectError> {
        let result = runtime().block_on(self.client.inject(&fault)).map_err(InjectError::from);
        self.refresh();
        result
    }

    fn clear(&mut self, fault: &Fault) {
        runtime()
            .block_on(self.client.clear(fault))
            .unwrap_or_else(|e| panic!("served rig: clearing {fault:?}: {e}"));
        self.refresh();
    }

    fn wait(&mut self, span: Duration) {
        let until = self.now() + span;
        runtime()
            .block_on(self.client.advance(until, false))
            .unwrap_or_else(|e| panic!("served rig: advancing the clock: {e}"));
        self.refresh();
    }

    fn wait_for(&mut self, cap: Duration, until: &mut dyn FnMut(&Event) -> bool) -> bool {
        if self.events.iter().any(&mut *until) {
            return true;
        }
        let deadline = self.now() + cap;
        loop {
            let seen = self.events.len();
            let now = runtime()
                .block_on(self.client.advance(deadline, true))
                .unwrap_or_else(|e| panic!("served rig: advancing the clock: {e}"));
            self.refresh();
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

    fn finish(mut self: Box<Self>) -> Vec<Event> {
        let cap = DRAIN_CAP.as_millis() as u64;
        runtime()
            .block_on(self.client.finish(cap))
            .unwrap_or_else(|e| panic!("served rig: finishing: {e}"));
        self.refresh();
        if let Some(server) = self.server.take() {
            let _ = runtime().block_on(server.shutdown());
        }
        std::mem::take(&mut self.events)
    }
}

impl Drop for ServedRig {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = runtime().block_on(server.shutdown());
        }
    }
}
