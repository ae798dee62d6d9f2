//! [`ServedRig`]: the simulator's rig on a clock, with every call a device
//! makes to the backend carried over real HTTP.
//!
//! The rig is the same [`Sim`] the sim target runs (the same cores, the
//! same reference POS, the same faults, the same history), built with
//! [`RigSpec::external_backend`]: a device's call leaves the simulator as an
//! [`Outgoing`], a carrier sends it to the backend's HTTP endpoint (directly
//! or through a fault proxy), and the answer comes back through
//! [`Sim::reply`]. The backend's HTTP handler runs the call on the same rig
//! ([`Sim::backend_call`]), so one lock orders everything that reaches the
//! history.
//!
//! Two clocks:
//! - **real**: rig time is wall time since the rig started; a driver task
//!   wakes at every deadline, and calls are carried concurrently.
//! - **virtual**: time moves only when asked ([`ServedRig::advance`]); calls
//!   are carried one at a time in the order they were made, and the clock
//!   does not move while one is on its way, so a run's history depends only
//!   on what was asked of the rig (and on outside clients' timing).
//!
//! The lock is a plain mutex, never held across an `.await`.

use super::ble_bridge::{BleBridge, BleCarrier, ReaderMessage};
use super::device_http;
use super::journal::Journal;
use crate::core::Event;
use crate::core::Millis;
use crate::core::backend::{ApiCall, ApiReply};
use crate::sim::{Finished, Outgoing, RigError, RigSpec, Sim};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, watch};

/// How rig time passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Rig time is wall time since the rig started.
    Real,
    /// Rig time moves only when asked.
    Virtual,
}

impl std::str::FromStr for ClockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "real" => Ok(ClockMode::Real),
            "virtual" => Ok(ClockMode::Virtual),
            other => Err(format!("unknown clock `{other}` (known: real, virtual)")),
        }
    }
}

/// Carried calls give up after this long without an answer (the device's
/// own timeout has long fired by then; this only frees the carrier).
const CARRY_TIMEOUT: Duration = Duration::from_secs(60);
/// Calls carried at once in real time: keeps sockets (and file
/// descriptors) bounded however many readers the rig has.
const CARRIERS: usize = 64;

/// Why the served rig cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No rig runs (it finished, or none was started).
    #[error("no rig is running (start one with POST /_readerlab/rig)")]
    NoRig,
    /// The rig could not be built.
    #[error(transparent)]
    Rig(#[from] RigError),
    /// Only a virtual clock can be moved.
    #[error("the clock is real: time cannot be moved by hand (serve with --clock virtual)")]
    RealClock,
    /// A Bluetooth reader could not be offered to the outside POS.
    #[error("offering the Bluetooth readers to the outside POS on loopback: {0}")]
    Offer(std::io::Error),
}

/// Something the virtual carrier carries, one at a time in order.
#[derive(Debug)]
enum Carried {
    /// A device's call to the backend, over HTTP.
    Http(Outgoing),
    /// A message between the POS and a Bluetooth reader.
    Reader(ReaderMessage),
}

/// The served rig. Clones share it.
#[derive(Clone, Debug)]
pub struct ServedRig {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    mode: ClockMode,
    state: Mutex<State>,
    /// Wakes the real-clock driver and the virtual carrier.
    wake: Notify,
    /// Events recorded so far in the current rig (history streams wait on it).
    recorded: watch::Sender<(u64, usize)>,
    /// Calls queued or in flight; the virtual clock waits for zero.
    busy: watch::Sender<usize>,
    client: device_http::DeviceClient,
    carriers: Semaphore,
    secret_key: String,
    /// The backend's HTTP address, once it listens.
    backend: Mutex<Option<SocketAddr>>,
    /// Where rigs started through the control API keep their stores
    /// (`<data>/rigs/<generation>`); `None`: in memory.
    data_root: Mutex<Option<std::path::PathBuf>>,
    /// The carrier of the Bluetooth readers' link to the POS; `None`: in
    /// process.
    ble: Mutex<Option<BleCarrier>>,
}

#[derive(Debug)]
struct State {
    sim: Option<Sim>,
    /// Bumped with every new rig, so answers for an old rig are dropped.
    generation: u64,
    /// Wall instant of rig time zero (real clock).
    origin: Instant,
    /// Messages waiting for the virtual carrier, in the order they were made.
    queue: VecDeque<Carried>,
    /// The current rig's Bluetooth carriers, if its reader link is carried.
    bridge: Option<Arc<BleBridge>>,
    /// The history of the rig that finished last, until a new one starts.
    finished: Vec<Event>,
    /// The file the history is written to as it is recorded, if any.
    journal: Option<Journal>,
}

impl ServedRig {
    /// A served rig with no rig running yet. Must be called inside a tokio
    /// runtime (the driver and carriers are spawned on it).
    pub fn new(mode: ClockMode, secret_key: String) -> ServedRig {
        // The pool needs a timer to expire idle connections; without one a
        // connection idle past the timeout is handed out and hangs.
        let client = device_http::client();
        let shared = Arc::new(Shared {
            mode,
            state: Mutex::new(State {
                sim: None,
                generation: 0,
                origin: Instant::now(),
                queue: VecDeque::new(),
                bridge: None,
                finished: Vec::new(),
                journal: None,
            }),
            wake: Notify::new(),
            recorded: watch::channel((0, 0)).0,
            busy: watch::channel(0).0,
            client,
            carriers: Semaphore::new(CARRIERS),
            secret_key,
            backend: Mutex::new(None),
            data_root: Mutex::new(None),
            ble: Mutex::new(None),
        });
        let rig = ServedRig { shared };
        let driver = rig.clone();
        match mode {
            ClockMode::Real => tokio::spawn(async move { driver.drive_real_clock().await }),
            ClockMode::Virtual => tokio::spawn(async move { driver.carry_in_order().await }),
        };
        rig
    }

    /// The clock.
    pub fn mode(&self) -> ClockMode {
        self.shared.mode
    }

    /// The secret key the backend accepts and devices' calls carry.
    pub fn secret_key(&self) -> &str {
        &self.shared.secret_key
    }

    /// The key an outside POS presents (docs/driver-protocol.md): the
    /// secret key with `_pos` appended. Its calls cross the POS's internet
    /// link ([`Sim::pos_call`]).
    pub fn pos_key(&self) -> String {
        format!("{}_pos", self.shared.secret_key)
    }

    /// Runs one call of the outside POS on the rig; `Ok(None)` when no
    /// answer reaches it.
    pub fn pos_call(&self, call: ApiCall) -> Result<Option<ApiReply>, ServeError> {
        self.with_sim(|sim| sim.pos_call(call))
    }

    /// Where carried calls go: the backend's HTTP address, set once it
    /// listens.
    pub fn set_backend(&self, addr: SocketAddr) {
        *lock(&self.shared.backend) = Some(addr);
    }

    /// Rigs whose spec names no data directory keep their stores under
    /// `root/rigs/<generation>`, and their keys under
    /// `<root>.keys/rigs/<generation>`.
    pub fn set_data_root(&self, root: std::path::PathBuf) {
        *lock(&self.shared.data_root) = Some(root);
    }

    /// Carries the POS-to-reader link of the Bluetooth readers of rigs
    /// started from now on over `carrier` (`None`: in process).
    pub fn set_ble(&self, carrier: Option<BleCarrier>) {
        *lock(&self.shared.ble) = carrier;
    }

    /// Writes the history to `path` as it is recorded, from now on and from
    /// the first event of the current rig ([`Journal`]): a server killed
    /// without warning leaves its history up to the kill.
    pub fn journal_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut journal = Journal::create(path)?;
        let mut state = self.state();
        let generation = state.generation;
        match state.sim.as_ref() {
            Some(sim) => journal.record(generation, sim.events()),
            None => journal.record(generation, &state.finished),
        }
        state.journal = Some(journal);
        Ok(())
    }

    /// Builds a new rig from `spec` (calls carried externally) and starts
    /// it at rig time zero, replacing any rig that ran.
    pub fn start(&self, mut spec: RigSpec) -> Result<(), ServeError> {
        spec.external_backend = true;
        // Virtual time has no real latency, so the links' model supplies
        // it; on the real clock the sockets have their own.
        spec.model_latency = self.shared.mode == ClockMode::Virtual;
        let generation = self.state().generation + 1;
        if spec.data_dir.is_none()
            && let Some(root) = lock(&self.shared.data_root).as_ref()
        {
            spec.data_dir = Some(root.join("rigs").join(generation.to_string()));
            // Their keys beside the data root, not inside it.
            if spec.keys_dir.is_none() {
                let keys = crate::sim::default_keys_dir(root).map_err(|e| RigError::Storage {
                    device: "rig".to_owned(),
                    dir: root.display().to_string(),
                    message: e.to_string(),
                })?;
                spec.keys_dir = Some(keys.join("rigs").join(generation.to_string()));
            }
        }
        let carrier = *lock(&self.shared.ble);
        let outside = spec.outside_pos;
        spec.carried_reader_link = carrier.is_some() || outside;
        let sim = Sim::new(spec)?;
        let far_end: Arc<dyn super::ble_bridge::FarEnd> = Arc::new(self.clone());
        let bridge = if outside {
            let offered = BleBridge::offer(far_end, sim.carried_readers());
            Some(Arc::new(offered.map_err(ServeError::Offer)?))
        } else {
            carrier.map(|c| Arc::new(BleBridge::start(far_end, sim.carried_readers(), c)))
        };
        let mut state = self.state();
        state.generation += 1;
        state.origin = Instant::now();
        self.drop_queue(&mut state);
        state.bridge = bridge;
        state.finished.clear();
        state.sim = Some(sim);
        // The new rig's start-up calls go on their way.
        self.dispatch(state);
        Ok(())
    }

    /// Runs `f` on the rig at the current time (the real clock first
    /// catches up), then sends the calls it caused on their way.
    pub fn with_sim<R>(&self, f: impl FnOnce(&mut Sim) -> R) -> Result<R, ServeError> {
        let mut state = self.state();
        let mode = self.shared.mode;
        let origin = state.origin;
        let sim = state.sim.as_mut().ok_or(ServeError::NoRig)?;
        if mode == ClockMode::Real {
            let now = Millis(origin.elapsed().as_millis() as u64);
            if now > sim.now() {
                sim.run_until(now);
            }
        }
        let result = f(sim);
        self.dispatch(state);
        Ok(result)
    }

    /// Where the current rig's Bluetooth readers listen for an outside POS
    /// (a rig with [`RigSpec::outside_pos`]), by reader index.
    pub fn offered_readers(&self) -> std::collections::BTreeMap<usize, SocketAddr> {
        self.state().bridge.as_ref().map(|b| b.addresses()).unwrap_or_default()
    }

    /// Reads the rig without running it.
    pub fn read<R>(&self, f: impl FnOnce(&Sim) -> R) -> Result<R, ServeError> {
        let state = self.state();
        state.sim.as_ref().map(f).ok_or(ServeError::NoRig)
    }

    /// Events of the current rig from index `from` on, and the rig's
    /// generation (a new rig starts its history again).
    pub fn events_from(&self, from: usize) -> Result<(u64, Vec<Event>), ServeError> {
        let state = self.state();
        let all = match state.sim.as_ref() {
            Some(sim) => sim.events(),
            None if !state.finished.is_empty() => &state.finished,
            None => return Err(ServeError::NoRig),
        };
        let events = all.get(from..).unwrap_or_default().to_vec();
        Ok((state.generation, events))
    }

    /// Watches (generation, events recorded): changes whenever the history grows.
    pub fn watch_history(&self) -> watch::Receiver<(u64, usize)> {
        self.shared.recorded.subscribe()
    }

    /// Virtual clock: lets time pass to `until`, stopping early after the
    /// first instant at which something was due when `one_step`. Calls are
    /// carried to the end before each move. Returns the new time.
    pub async fn advance(&self, until: Millis, one_step: bool) -> Result<Millis, ServeError> {
        if self.shared.mode == ClockMode::Real {
            return Err(ServeError::RealClock);
        }
        loop {
            self.quiesce().await;
            let (done, now) = self.with_sim(|sim| match sim.next_deadline() {
                Some(next) if next <= until => {
                    sim.run_until(next);
                    (one_step || next >= until, next)
                }
                _ => {
                    sim.run_until(until);
                    (true, until)
                }
            })?;
            if done {
                self.quiesce().await;
                return Ok(now);
            }
        }
    }

    /// Ends the run as [`Sim::finish`] does: settles every fault, lets the
    /// queues drain (up to `cap` of rig time; on the real clock, of wall
    /// time), on the virtual clock waits one more drain window, then scans
    /// storage and records `rig.finished`. The rig is gone afterwards.
    pub async fn finish(&self, cap: Duration) -> Result<Finished, ServeError> {
        let (start, window) = self.with_sim(|sim| {
            sim.settle_all();
            (sim.now(), sim.spec().drain_window)
        })?;
        match self.shared.mode {
            ClockMode::Virtual => {
                let deadline = start + cap;
                loop {
                    let (now, idle) = self.read(|sim| (sim.now(), sim.is_idle()))?;
                    if idle || now >= deadline {
                        break;
                    }
                    self.advance(now + Duration::from_secs(10), false).await?;
                }
                let now = self.read(Sim::now)?;
                self.advance(now + window, false).await?;
            }
            ClockMode::Real => {
                let deadline = Instant::now() + cap;
                while Instant::now() < deadline && !self.read(Sim::is_idle)? {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                self.quiesce().await;
            }
        }
        let mut state = self.state();
        self.drop_queue(&mut state);
        state.bridge = None;
        let finished = state.sim.take().ok_or(ServeError::NoRig)?.conclude();
        state.finished = finished.events.clone();
        let (generation, recorded) = (state.generation, state.finished.len());
        let State { journal, finished: events, .. } = &mut *state;
        if let Some(journal) = journal {
            journal.record(generation, events);
        }
        drop(state);
        self.shared.recorded.send_replace((generation, recorded));
        Ok(finished)
    }

    /// Runs one call from an outside HTTP client (or a carried device call
    /// arriving at the backend) on the rig.
    pub fn backend_call(&self, call: ApiCall) -> Result<ApiReply, ServeError> {
        self.with_sim(|sim| sim.backend_call(call))
    }

    /// Waits until no call is queued or in flight.
    pub async fn quiesce(&self) {
        let mut busy = self.shared.busy.subscribe();
        let _ = busy.wait_for(|n| *n == 0).await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// After the rig ran: its new calls go on their way, and watchers hear
    /// how far the history got.
    fn dispatch(&self, state: MutexGuard<'_, State>) {
        self.dispatch_quietly(state);
        self.shared.wake.notify_one();
    }

    /// [`ServedRig::dispatch`] without waking the clock driver: what the
    /// driver itself uses (waking itself would make it spin and starve the
    /// carriers it just spawned).
    fn dispatch_quietly(&self, mut state: MutexGuard<'_, State>) {
        let generation = state.generation;
        let (outgoing, traffic, recorded) = match state.sim.as_mut() {
            Some(sim) => (sim.take_outgoing(), sim.take_reader_traffic(), sim.events().len()),
            None => (Vec::new(), Default::default(), 0),
        };
        // On file before the calls go out and before anyone hears of it.
        let State { journal, sim, .. } = &mut *state;
        if let (Some(journal), Some(sim)) = (journal, sim.as_ref()) {
            journal.record(generation, sim.events());
        }
        let traffic: Vec<ReaderMessage> = match &state.bridge {
            Some(_) => ReaderMessage::all(traffic).collect(),
            None => Vec::new(),
        };
        let count = outgoing.len() + traffic.len();
        if count > 0 {
            self.shared.busy.send_modify(|n| *n += count);
        }
        match self.shared.mode {
            ClockMode::Virtual => {
                state.queue.extend(outgoing.into_iter().map(Carried::Http));
                state.queue.extend(traffic.into_iter().map(Carried::Reader));
            }
            ClockMode::Real => {
                for call in outgoing {
                    let rig = self.clone();
                    tokio::spawn(async move { rig.carry(generation, call).await });
                }
                if let Some(bridge) = &state.bridge {
                    for message in traffic {
                        let (rig, bridge) = (self.clone(), Arc::clone(bridge));
                        tokio::spawn(async move { rig.carry_reader(&bridge, message).await });
                    }
                }
            }
        }
        drop(state);
        self.shared.recorded.send_if_modified(|seen| {
            let changed = *seen != (generation, recorded);
            *seen = (generation, recorded);
            changed
        });
    }

    /// Real clock: runs the rig to the wall clock at every deadline.
    async fn drive_real_clock(self) {
        loop {
            let next = {
                let mut state = self.state();
                let origin = state.origin;
                let next = state.sim.as_mut().and_then(|sim| {
                    let now = Millis(origin.elapsed().as_millis() as u64);
                    if now > sim.now() {
                        sim.run_until(now);
                    }
                    sim.next_deadline()
                });
                self.dispatch_quietly(state);
                next.map(|t| origin + Duration::from_millis(t.0))
            };
            let ran = Instant::now();
            let cap = ran + Duration::from_secs(1);
            let wake_at = next.map_or(cap, |t| t.min(cap));
            tokio::select! {
                () = tokio::time::sleep_until(wake_at.into()) => {}
                () = self.shared.wake.notified() => {
                    // Answers arrive thousands of times a second, and each
                    // run looks at every reader's deadlines; rig time has
                    // millisecond resolution, so one run per millisecond
                    // loses nothing (wakes in between coalesce).
                    tokio::time::sleep_until((ran + Duration::from_millis(1)).into()).await;
                }
            }
        }
    }

    /// Virtual clock: carries queued calls one at a time, in order.
    async fn carry_in_order(self) {
        loop {
            let next = {
                let mut state = self.state();
                let bridge = state.bridge.clone();
                state.queue.pop_front().map(|item| (state.generation, item, bridge))
            };
            match next {
                Some((generation, Carried::Http(call), _)) => self.carry(generation, call).await,
                Some((_, Carried::Reader(message), Some(bridge))) => {
                    self.carry_reader(&bridge, message).await;
                }
                Some((_, Carried::Reader(_), None)) => self.done_one(),
                None => self.shared.wake.notified().await,
            }
        }
    }

    /// Carries one message between the POS and a Bluetooth reader; done
    /// when the far end applied it.
    async fn carry_reader(&self, bridge: &BleBridge, message: ReaderMessage) {
        bridge.carry(message).await;
        self.done_one();
    }

    /// Forgets the messages the virtual carrier had not carried yet (their
    /// rig is gone), so the clock does not wait for them.
    fn drop_queue(&self, state: &mut State) {
        let dropped = state.queue.len();
        state.queue.clear();
        if dropped > 0 {
            self.shared.busy.send_modify(|n| *n = n.saturating_sub(dropped));
        }
    }

    /// One carried message fewer on its way.
    fn done_one(&self) {
        self.shared.busy.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// Carries one call to the backend and hands its answer to the rig.
    async fn carry(&self, generation: u64, outgoing: Outgoing) {
        let permit = self.shared.carriers.acquire().await;
        let reply = self.send(&outgoing).await;
        drop(permit);
        {
            let mut state = self.state();
            if state.generation == generation
                && let Some(sim) = state.sim.as_mut()
            {
                sim.reply(outgoing.id, reply);
            }
            self.dispatch(state);
        }
        self.done_one();
    }

    /// One HTTP exchange; `None` when it did not complete.
    async fn send(&self, outgoing: &Outgoing) -> Option<ApiReply> {
        let addr = (*lock(&self.shared.backend))?;
        let (client, key) = (&self.shared.client, &self.shared.secret_key);
        device_http::send(client, addr, &outgoing.call, key, CARRY_TIMEOUT).await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl super::ble_bridge::FarEnd for ServedRig {
    fn command_arrived(
        &self,
        reader: usize,
        command: crate::wire::ble::protocol::Command,
    ) -> Option<crate::wire::ble::protocol::Reply> {
        self.with_sim(|sim| sim.command_arrived(reader, command)).ok()
    }

    fn notice_arrived(&self, reader: usize, body: &crate::core::EventBody) {
        let _ = self.with_sim(|sim| sim.notice_arrived(reader, body));
    }
}
