//! The deterministic simulator: a whole rig in one process on virtual time.
//!
//! A rig is the reference POS app (with its SDK's offline engine for mobile
//! readers), one or more emulated readers of any model (smart readers run
//! their own offline engine and store), the backend ledger, and the links
//! between them: POS↔backend, each smart reader↔backend, and POS↔reader
//! (Bluetooth or USB for mobile readers, the LAN for smart readers).
//!
//! The clock never ticks through idle time: [`Sim::run_until`] jumps from one
//! deadline to the next (a core's timeout, a message arriving, a placed fault,
//! a customer). All chance comes from one ChaCha8 generator seeded with the
//! run's seed, and every collection that reaches the history is ordered, so
//! a run is a pure function of (rig, workload, faults, seed, code version)
//! and its history is byte-identical every time.
//!
//! This is a shell: it moves messages and performs faults, and decides
//! nothing about payments. Rules, retries and outcomes live in the cores.

mod actions;
mod app;
mod device;
mod drills;
mod faults;
mod lan;
mod links;
mod medium;
mod outside;
mod reader_link;
mod scan;
mod timers;
mod view;
mod workload;

pub use device::{DeviceSlot, SimOfflineDevice};
pub use drills::drill;
pub use faults::{
    BackendFault, BluetoothFault, Device, Fault, FaultPlan, FaultRates, LinkFault, PlacedFault,
    PlanShape, PowerFault, StorageFault,
};
pub use lan::{LanError, LanPayment};
pub use links::{Link, LinkId, RequestFate, RequestRule};
pub use medium::{Keys, Medium, RunFile};
pub use outside::{NotPosEvent, may_record as outside_pos_may_record};
pub use reader_link::{ReaderCall, ReaderNotice, ReaderTraffic};
pub use view::ReaderView;
pub use workload::{PaymentSpec, WORKLOAD_CARDS, random_payments};

use crate::core::FaultKind;
use crate::core::Millis;
use crate::core::TestCards;
use crate::core::backend::{ApiCall, ApiReply, Backend, BackendConfig};
use crate::core::offline::merchant;
use crate::core::offline::{
    Account, Holder, Input as EngineInput, OfflineConfig, Session, Timings,
};
use crate::core::reader::{Input as ReaderInput, Reader};
use crate::core::{Defect, Defects};
use crate::core::{Event, EventBody, Part, RigReader, RunSource, StoredBy};
use crate::core::{Family, LinkKind, ReaderModel};
use crate::fixtures::ReaderCatalog;
use app::PosApp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The Location every reader of a simulated rig is registered to.
pub const LOCATION: &str = "tml_readerlab";

/// What a rig is made of. Its JSON (the control API's rig) leaves out
/// where stores live and how calls travel: the shell decides those.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RigSpec {
    /// The readers, by model; at most one mobile reader (an SDK holds one
    /// connection at a time), any number of smart readers.
    pub readers: Vec<ReaderModel>,
    /// The seed all chance comes from.
    pub seed: u64,
    /// Defect profiles switched on (none for the reference behaviour).
    pub defects: Defects,
    /// The Terminal configuration's offline part.
    pub offline: OfflineConfig,
    /// How long every link must stay up for the queue to move (I4).
    /// Default 120 s: the SDK's own documented schedule (a 60 s wait for
    /// the token provider, then up to 30 s of back-off and a 30 s attempt)
    /// can take that long after a single lost request, so docs/design.md's
    /// 60 s would flag the reference behaviour (recorded in ARCHITECTURE.md).
    pub drain_window: Duration,
    /// How the POS reaches its mobile reader: Bluetooth when the model has
    /// it (the default, `None`), or USB (Android POS, M2 and WisePad 3).
    pub mobile_link: Option<LinkKind>,
    /// Where the devices keep their stores: `None` for simulated disks (the
    /// default), or a directory whose `<device>/store` holds each device's
    /// real files (the served rig; a rig started again on the same
    /// directory finds what was stored).
    #[serde(skip)]
    pub data_dir: Option<PathBuf>,
    /// With a `data_dir`: where the devices' keys live, `<keys>/<device>`,
    /// never inside the data directory (docs/store.md, "Keys"); `None`: the
    /// data directory's sibling `<data>.keys` ([`default_keys_dir`]).
    #[serde(skip)]
    pub keys_dir: Option<PathBuf>,
    /// Whether the devices' calls to the backend leave the simulator
    /// ([`Sim::take_outgoing`]) for a shell to carry, over HTTP say, and come
    /// back through [`Sim::reply`]; `false` (the default) delivers them in
    /// process over the simulated links.
    #[serde(skip)]
    pub external_backend: bool,
    /// With an external backend: whether the links' latency model still
    /// applies to carried calls (their base latency and jitter; a `latency`
    /// fault's extra applies either way). Right on a virtual clock, where
    /// a carried call takes no time; wrong on a real one, where the socket
    /// has its own latency.
    #[serde(skip)]
    pub model_latency: bool,
    /// Whether what passes between the POS's SDK and a Bluetooth reader
    /// leaves the simulator for a shell to carry over a real Bluetooth
    /// carrier ([`Sim::take_reader_traffic`]): the SDK's commands arrive at
    /// the reader through [`Sim::command_arrived`] and the reader's events
    /// reach the app through [`Sim::notice_arrived`]. `false` (the default):
    /// in process.
    #[serde(skip)]
    pub carried_reader_link: bool,
    /// Whether the POS is outside the rig (an SDK's adapter,
    /// docs/driver-protocol.md): the rig's own app and its SDK do not run
    /// (the POS's events are the adapter's), and the served rig offers
    /// each Bluetooth reader on a BLE-over-TCP listener of its own
    /// (`ble_tcp` in the control API's reader list) for the outside SDK to
    /// connect to. `false` (the default): the rig's app is the POS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside_pos: bool,
    /// What the run is made from, recorded as `rig.source` right after
    /// `rig.started` so `readerlab replay` can run it again; `None` for a
    /// rig started by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RunSource>,
}

impl RigSpec {
    /// One reader of `model`, offline mode enabled, everything else default.
    pub fn single(model: ReaderModel, seed: u64) -> RigSpec {
        RigSpec {
            readers: vec![model],
            seed,
            defects: Defects::none(),
            offline: OfflineConfig::enabled(),
            drain_window: Duration::from_secs(120),
            mobile_link: None,
            data_dir: None,
            keys_dir: None,
            external_backend: false,
            model_latency: true,
            carried_reader_link: false,
            outside_pos: false,
            source: None,
        }
    }
}

/// A rig that cannot be built as specified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// No reader at all.
    #[error("a rig needs at least one reader")]
    NoReader,
    /// Two mobile readers: the POS's SDK connects to one at a time.
    #[error("a rig takes at most one mobile reader (the POS's SDK holds one connection)")]
    TwoMobileReaders,
    /// The mobile reader cannot be reached the way the rig asks.
    #[error("{model} has no {link:?} link to the POS")]
    NoSuchLink { model: ReaderModel, link: LinkKind },
    /// A device's store directory cannot be opened.
    #[error("cannot open the store of {device} under {dir}: {message}")]
    Storage { device: String, dir: String, message: String },
}

/// A fault that cannot be performed on this rig.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// The fault names a reader the rig does not have.
    #[error("the rig has no reader #{0}")]
    NoSuchReader(usize),
    /// The fault needs a kind of reader or link the target lacks.
    #[error("{fault} does not apply to {target}: {why}")]
    NotApplicable { fault: FaultKind, target: String, why: &'static str },
    /// The backend refused to arm it.
    #[error("the backend refused the fault: {0}")]
    Backend(String),
    /// It would change nothing now (an upgrade of an app that is not
    /// running, a damaged record when nothing is stored); not recorded.
    #[error("{fault} on {target} would have no effect now: {why}")]
    NoEffect { fault: FaultKind, target: String, why: &'static str },
}

/// One reader of the rig.
#[derive(Debug)]
pub(crate) struct ReaderSlot {
    pub(crate) reader: Reader,
    pub(crate) model: ReaderModel,
    /// Smart readers store their own payments: their device slot.
    pub(crate) device: Option<DeviceSlot>,
    /// How the POS reaches it.
    pub(crate) via: LinkKind,
    /// The app tries to connect again no earlier than this.
    pub(crate) next_connect: Millis,
    /// Power is off because of a fault (the app must not switch it on).
    pub(crate) power_fault: bool,
    /// Events whose next notification to the POS is lost (a
    /// `notification_dropped` fault), oldest first.
    pub(crate) drop_next: Vec<String>,
    /// How late its notifications reach the POS (`notification_delayed`).
    pub(crate) notice_delay: Duration,
    /// The ATT MTU of its radio link (lowered by `mtu_reduced`).
    pub(crate) mtu: u16,
    /// The wait per fragment for a connection event (`Duration::ZERO`,
    /// the default: not modelled; `slow_connection_interval` sets it).
    pub(crate) interval: Duration,
    /// Its radio link to the POS is up (the last [`Sim::radio_link`]).
    pub(crate) radio_up: bool,
    /// Offered to an outside POS: what its carrier was last told (radio
    /// up and the reader powered), so a reader that powers off stops
    /// answering centrals and one that powers on answers again.
    pub(crate) offered_up: bool,
}

/// The ATT MTU a reader's radio link has unless a fault lowers it (a
/// typical phone's; the served carriers offer the same).
pub const RADIO_MTU: u16 = 185;

/// A message on its way.
#[derive(Debug)]
enum Message {
    /// A call from a device to the backend.
    Request { link: LinkId, from: Device, generation: u64, call: u64, api: ApiCall },
    /// The backend's answer on its way back.
    Reply { link: LinkId, to: Device, generation: u64, call: u64, reply: ApiReply },
}

/// Something due at a virtual instant.
#[derive(Debug)]
enum Timer {
    /// Inject a fault, and clear it after `holds_for` if sustained.
    Inject(Fault, Option<Duration>),
    /// Clear a sustained fault.
    Clear(Fault),
    /// A device's power returns after a power loss.
    PowerOn(Device),
    /// A flapping link changes state.
    Flap(LinkId),
    /// A customer arrives.
    Arrive(Box<PaymentSpec>),
    /// The customer presents the card for `payment`.
    PresentCard { payment: String },
    /// The customer takes the card out of the reader's slot.
    RemoveCard(usize),
    /// The app gives up on a payment that did not finish.
    Watchdog { payment: String },
    /// The app looks again (connect retries).
    Wake,
    /// A call for the external backend has crossed its link.
    Carry(Outgoing),
    /// The external backend's answer has crossed the link back.
    Answer(Awaiting, Option<ApiReply>),
    /// A reader's delayed notification reaches the POS.
    Notice(usize, Box<EventBody>),
    /// The POS's command reaches a reader after its air time.
    Command(usize, Box<ReaderInput>),
}

/// The shape of one long random run: how long, how many customers, how
/// many faults.
#[derive(Clone, Debug)]
pub struct RandomRun {
    /// Virtual time the workload and the faults spread over.
    pub duration: Duration,
    /// Customers at the counter.
    pub payments: u32,
    /// Faults per kind scale with this; 1.0 is a busy day, 0 none.
    pub intensity: f64,
    /// The most virtual time the final drain may take.
    pub drain_cap: Duration,
    /// Drills to run besides those of the rig's own defects (a run without
    /// a defect can go through the same conditions as one with it).
    pub drills: Vec<Defect>,
    /// Each drill is placed at these fractions of the run (`drills.rs`).
    pub drills_at: Vec<f64>,
}

impl RandomRun {
    /// `hours` of virtual time with `payments` customers and a busy day's
    /// faults.
    pub fn busy(hours: u64, payments: u32) -> RandomRun {
        RandomRun {
            duration: Duration::from_secs(hours * 3_600),
            payments,
            intensity: 1.0,
            drain_cap: Duration::from_secs(6 * 3_600),
            drills: Vec::new(),
            drills_at: vec![0.25, 0.5, 0.75],
        }
    }

    /// A quiet run: no random faults, only the defects' drills.
    pub fn quiet(hours: u64, payments: u32) -> RandomRun {
        RandomRun { intensity: 0.0, drills_at: vec![0.3], ..RandomRun::busy(hours, payments) }
    }
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct Finished {
    /// The history, in order.
    pub events: Vec<Event>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<FaultKind, u32>,
    /// Virtual time the run covered.
    pub virtual_time: Duration,
    /// Payments the app started, and those it never got to.
    pub payments_started: u32,
    /// Payments still waiting at the counter when the run ended.
    pub payments_unserved: u32,
}

impl Finished {
    /// The history as JSON Lines.
    pub fn to_jsonl(&self) -> Vec<u8> {
        crate::history::to_jsonl(&self.events)
    }
}

/// The simulator. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    spec: RigSpec,
    now: Millis,
    rng: ChaCha8Rng,
    cards: Arc<TestCards>,
    timings: Timings,
    backend: Backend,
    pos: DeviceSlot,
    readers: Vec<ReaderSlot>,
    links: BTreeMap<LinkId, Link>,
    inflight: BTreeMap<(Millis, u64), Message>,
    timers: BTreeMap<(Millis, u64), Timer>,
    next_id: u64,
    events: Vec<Event>,
    app: PosApp,
    /// The merchant's app on each device that runs one (by its part).
    merchant: BTreeMap<Part, merchant::MerchantApp>,
    faults: BTreeMap<FaultKind, u32>,
    /// Sustained faults in effect, by kind and target, with how many
    /// overlapping injections hold each (it ends when the last is cleared).
    active: BTreeMap<(FaultKind, String), (Fault, u32)>,
    /// Server-driven payments in progress, by reader index.
    actions: BTreeMap<usize, actions::Action>,
    /// Every payment name a server-driven or LAN action has used.
    action_names: BTreeSet<String>,
    /// Payments started over the smart readers' LAN API, by name.
    lan: BTreeMap<String, LanPayment>,
    /// Calls waiting for the shell to carry them (external backend only).
    outgoing: Vec<Outgoing>,
    /// Calls the shell carries, by id: who made them and on which link.
    awaiting: BTreeMap<u64, Awaiting>,
    /// SDK commands and reader events waiting for the shell's Bluetooth
    /// carrier (a rig with [`RigSpec::carried_reader_link`]).
    reader_traffic: ReaderTraffic,
    /// Card data the Bluetooth readers sealed for the backend, in the
    /// order they were asked (`card_data`): `emv_<serial>_<n>_<last4>` is
    /// entry `n - 1`.
    sealed: Vec<crate::core::offline::StoredCard>,
    /// The connection tokens the outside POS minted with its key.
    pos_tokens: BTreeSet<String>,
    /// Devices changed since [`Sim::pump`] last drained them (0: the POS,
    /// `i + 1`: reader `i`): with a thousand readers, draining only these
    /// keeps an answer's cost independent of the rig's size.
    dirty: BTreeSet<usize>,
}

/// A device's call to the backend that the shell carries (a rig with
/// [`RigSpec::external_backend`]); answer it with [`Sim::reply`].
#[derive(Debug)]
pub struct Outgoing {
    /// Unique for the run; [`Sim::reply`] takes it back.
    pub id: u64,
    /// The caller's internet link.
    pub link: LinkId,
    /// The call.
    pub call: ApiCall,
}

/// Who waits for an [`Outgoing`] call's answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Awaiting {
    link: LinkId,
    from: Device,
    generation: u64,
    call: u64,
    kind: crate::core::backend::RequestKind,
}

impl Sim {
    /// Builds the rig at time zero: every reader on and connected (or
    /// connecting) to the POS, every device started, the history opened with
    /// `rig.started`.
    pub fn new(spec: RigSpec) -> Result<Sim, RigError> {
        if spec.readers.is_empty() {
            return Err(RigError::NoReader);
        }
        let catalog = ReaderCatalog::builtin();
        let mobile = spec.readers.iter().filter(|m| catalog.get(**m).family == Family::Mobile);
        if mobile.count() > 1 {
            return Err(RigError::TwoMobileReaders);
        }
        let cards = Arc::new(TestCards::builtin().clone());
        let backend_config = BackendConfig::default();
        let account = Account { id: backend_config.account.clone(), livemode: false };
        let now = Millis::ZERO;
        let session = Session {
            account: Some(account),
            config: Some(spec.offline.clone()),
            online_by_model: spec.readers.iter().map(|m| (*m, now)).collect(),
            online_by_location: BTreeMap::from([(LOCATION.to_owned(), now)]),
        };
        let mut links = BTreeMap::from([(LinkId::PosBackend, Link::internet())]);
        let mut readers = Vec::new();
        let mut rig_readers = Vec::new();
        for (index, model) in spec.readers.iter().enumerate() {
            let (slot, rig_reader) = reader_slot(&spec, &cards, &session, index, *model)?;
            if slot.device.is_some() {
                links.insert(LinkId::ReaderBackend(index), Link::internet());
            }
            links.insert(LinkId::PosReader(index), Link::local());
            rig_readers.push(rig_reader);
            readers.push(slot);
        }
        let pos = DeviceSlot::new(
            Holder::Pos,
            Part::pos(),
            medium_for(&spec, "pos", spec.seed)?,
            session,
        )
        .with_run_file(run_file_for(&spec, "pos"));
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            now,
            cards,
            timings: Timings::default(),
            backend: Backend::new(backend_config),
            pos,
            readers,
            links,
            inflight: BTreeMap::new(),
            timers: BTreeMap::new(),
            next_id: 0,
            events: Vec::new(),
            merchant: BTreeMap::new(),
            app: PosApp::default(),
            faults: BTreeMap::new(),
            active: BTreeMap::new(),
            actions: BTreeMap::new(),
            action_names: BTreeSet::new(),
            lan: BTreeMap::new(),
            outgoing: Vec::new(),
            awaiting: BTreeMap::new(),
            dirty: BTreeSet::new(),
            reader_traffic: ReaderTraffic::default(),
            sealed: Vec::new(),
            pos_tokens: BTreeSet::new(),
            spec,
        };
        for (index, model) in sim.spec.readers.clone().into_iter().enumerate() {
            if sim.readers[index].device.is_some() {
                let serial = sim.readers[index].reader.serial().to_owned();
                sim.backend.add_rig_reader(&serial, model);
            }
        }
        sim.backend.set_default_offline(sim.spec.offline.enabled);
        let started = EventBody::RigStarted {
            seed: sim.spec.seed,
            defects: sim.spec.defects.clone(),
            readers: rig_readers,
            offline: sim.spec.offline.clone(),
            drain_window_ms: sim.spec.drain_window.as_millis() as u64,
        };
        sim.record(now, Part("rig".to_owned()), started);
        if let Some(source) = sim.spec.source.clone() {
            sim.record(now, Part("rig".to_owned()), EventBody::RigSource { source });
        }
        sim.start_device(Device::Pos);
        for index in 0..sim.readers.len() {
            sim.start_device(Device::Reader(index));
            sim.connect_reader(index);
        }
        sim.pump();
        Ok(sim)
    }

    /// One long random run: a workload and a fault plan drawn from the
    /// seed, run to the end, settled, drained and finished.
    pub fn random(spec: RigSpec, run: &RandomRun) -> Result<Finished, RigError> {
        let mut sim = Sim::new(spec)?;
        let catalog = ReaderCatalog::builtin();
        let profiles: Vec<_> = sim.spec.readers.iter().map(|m| catalog.get(*m)).collect();
        let payments = random_payments(run.payments, run.duration, &profiles, &mut sim.rng);
        let shape = PlanShape {
            duration: run.duration,
            smart: sim.readers.iter().map(|r| r.device.is_some()).collect(),
            mobile_link: sim.readers.iter().find(|r| r.device.is_none()).map(|r| r.via),
            intensity: run.intensity,
        };
        let mut plan = if run.intensity > 0.0 {
            FaultPlan::random(&shape, &mut sim.rng)
        } else {
            FaultPlan::default()
        };
        // Each drill runs on the device that stores the first reader's
        // payments.
        let device = sim.device_for(0);
        let drills: BTreeSet<Defect> = sim.spec.defects.iter().chain(run.drills.clone()).collect();
        for defect in drills {
            for fraction in &run.drills_at {
                let at = Millis((run.duration.as_millis() as f64 * fraction) as u64);
                plan.faults.extend(drill(defect, device, at));
            }
        }
        plan.faults.sort_by_key(|p| p.at);
        for payment in payments {
            sim.pay(payment);
        }
        sim.schedule_plan(plan);
        sim.run_until(Millis::ZERO + run.duration);
        Ok(sim.finish(run.drain_cap))
    }

    /// The current virtual time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// The rig's specification.
    pub fn spec(&self) -> &RigSpec {
        &self.spec
    }

    /// The backend ledger, to read charges and intents.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The history so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// A reader's serial number.
    pub fn serial(&self, reader: usize) -> Option<&str> {
        self.readers.get(reader).map(|r| r.reader.serial())
    }

    /// Stored payments a device still has to forward (none while its app is
    /// down).
    pub fn queued(&self, device: Device) -> usize {
        self.slot(device)
            .and_then(|s| s.running.as_ref())
            .map_or(0, |d| d.engine().queued().count())
    }

    /// Puts `payments` into a device's store as if it had stored them
    /// before a restart: the app stops, the payments are appended and
    /// synced through the store on the device's own medium, and the app
    /// starts again, recovering them (`store.recovered`) and forwarding them
    /// when its network is up. For benches and tests that need a big queue
    /// without collecting it card by card; the history has no
    /// `offline.payment.stored` for them, so it is not a checker input.
    pub fn preload_stored(
        &mut self,
        device: Device,
        payments: &[crate::core::offline::StoredPayment],
    ) -> Result<(), crate::store::StoreError> {
        let Some(slot) = self.slot_mut(device) else { return Ok(()) };
        slot.kill();
        let config = crate::store::StoreConfig::default();
        let (mut store, _) =
            crate::store::Store::open(slot.disk.clone(), slot.keys.clone(), config)?;
        for payment in payments {
            store.append(payment)?;
        }
        store.sync()?;
        drop(store);
        self.start_device(device);
        self.pump();
        Ok(())
    }

    /// A customer will arrive at `spec.at` (or now, if that has passed).
    pub fn pay(&mut self, spec: PaymentSpec) {
        let at = spec.at.max(self.now);
        self.at(at, Timer::Arrive(Box::new(spec)));
    }

    /// Places a fault at a virtual time; a sustained one is cleared again
    /// after `holds_for`, or holds until [`Sim::clear`] when `None`.
    pub fn schedule(&mut self, at: Millis, fault: Fault, holds_for: Option<Duration>) {
        let at = at.max(self.now);
        self.at(at, Timer::Inject(fault, holds_for));
    }

    /// Places every fault of a plan.
    pub fn schedule_plan(&mut self, plan: FaultPlan) {
        for placed in plan.faults {
            self.schedule(placed.at, placed.fault, placed.holds_for);
        }
    }

    /// Runs the virtual clock to `until`, jumping from deadline to deadline.
    pub fn run_until(&mut self, until: Millis) {
        loop {
            self.pump();
            match self.next_due() {
                Some(next) if next <= until => self.advance_to(next),
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until an event of the history so far (or one recorded while
    /// running) satisfies `until`, for at most `cap` of virtual time; tells
    /// whether one did. Every instant is run to its end, so the rig is left
    /// between instants, where a step can inject a fault.
    pub fn run_until_event(
        &mut self,
        cap: Duration,
        mut until: impl FnMut(&Event) -> bool,
    ) -> bool {
        let deadline = self.now + cap;
        let mut seen = 0;
        loop {
            self.pump();
            if self.events[seen..].iter().any(&mut until) {
                return true;
            }
            seen = self.events.len();
            match self.next_due() {
                Some(next) if next <= deadline => self.advance_to(next),
                _ => break,
            }
        }
        self.now = self.now.max(deadline);
        false
    }

    /// Runs for `span` of virtual time.
    pub fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        self.run_until(until);
    }

    // --- an external backend (the served rig) ------------------------------

    /// The calls made since the last time, for the shell to carry to the
    /// backend (only with [`RigSpec::external_backend`]).
    pub fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outgoing)
    }

    /// Whether calls are being carried and not yet answered.
    pub fn awaiting_replies(&self) -> usize {
        self.awaiting.len()
    }

    /// The answer to an [`Outgoing`] call, or `None` when the shell could not
    /// carry it (refused, reset, timed out): the caller hears nothing and
    /// its own timeout decides, as when a simulated link drops a message.
    /// The answer is lost if the link went down meanwhile, if a
    /// `response_lost` rule takes it, or if the device restarted since.
    pub fn reply(&mut self, id: u64, reply: Option<ApiReply>) {
        let Some(waiting) = self.awaiting.remove(&id) else { return };
        let delay = self.carried_delay(waiting.link);
        if delay.is_zero() {
            self.answer(waiting, reply);
        } else {
            let at = self.now + delay;
            self.at(at, Timer::Answer(waiting, reply));
        }
        self.pump();
    }

    /// How long a carried call or answer takes to cross `link` in rig time.
    fn carried_delay(&mut self, link: LinkId) -> Duration {
        let state = self.links.get(&link).expect("calls leave on known links");
        let ms = if self.spec.model_latency { state.delay(&mut self.rng) } else { state.extra_ms };
        Duration::from_millis(ms)
    }

    /// An answer arrives at its device (if the link and the device are
    /// still there).
    fn answer(&mut self, waiting: Awaiting, reply: Option<ApiReply>) {
        let Some(reply) = reply else { return };
        let link = self.links.get_mut(&waiting.link).expect("calls leave on known links");
        if !link.up {
            return;
        }
        let applied = reply.applied();
        if applied && link.meets(waiting.kind, RequestFate::ResponseLost) {
            let detail = format!("{:?}", waiting.kind);
            return self.request_fault_fired(waiting.link, RequestFate::ResponseLost, detail);
        }
        let now = self.now;
        if let Some(slot) = self.slot_mut(waiting.from)
            && slot.generation == waiting.generation
            && let Some(device) = slot.running.as_mut()
        {
            device.reply(now, waiting.call, reply);
        }
    }

    /// Runs a call that reached the backend from outside the simulator (a
    /// device's call the shell carried, or any HTTP client's) at the current
    /// time, and records what it did.
    pub fn backend_call(&mut self, call: ApiCall) -> ApiReply {
        let reply = self.backend.handle(self.now, call);
        self.pump();
        reply
    }

    /// The earliest instant something is due (a core's timeout, a message,
    /// a timer), if anything is.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.next_due()
    }

    /// Ends the run: stops placing faults, clears every fault in effect,
    /// brings every link and device up, lets the queues drain (up to `cap`
    /// of virtual time), waits one more drain window, scans every device's
    /// storage for card numbers in clear, and records `rig.finished`.
    pub fn finish(mut self, cap: Duration) -> Finished {
        self.settle();
        let deadline = self.now + cap;
        while self.now < deadline && !self.is_idle() {
            self.run_for(Duration::from_secs(10));
        }
        let window = self.spec.drain_window;
        self.run_for(window);
        self.conclude()
    }

    /// The first half of [`Sim::finish`], for a shell that drives the clock
    /// itself (the served rig carries calls while time passes): every
    /// fault cleared, every link up, every device powered and running.
    pub fn settle_all(&mut self) {
        self.settle();
    }

    /// The last half of [`Sim::finish`], once the shell has let the queues
    /// drain: scans every device's storage for card numbers in clear and
    /// records `rig.finished`.
    pub fn conclude(mut self) -> Finished {
        self.scan_storage();
        self.record(self.now, Part("rig".to_owned()), EventBody::RigFinished);
        Finished {
            virtual_time: self.now.since(Millis::ZERO),
            payments_started: self.app.started,
            payments_unserved: u32::try_from(self.app.waiting()).unwrap_or(u32::MAX),
            faults: self.faults,
            events: self.events,
        }
    }

    /// Nothing left to do: no customer waiting, no payment in progress, no
    /// stored payment left to forward on any device.
    pub fn is_idle(&self) -> bool {
        let devices =
            std::iter::once(Device::Pos).chain((0..self.readers.len()).map(Device::Reader));
        self.app.is_idle() && devices.into_iter().all(|d| self.queued(d) == 0)
    }

    // --- the loop --------------------------------------------------------------

    fn next_due(&self) -> Option<Millis> {
        let readers = self.readers.iter().filter_map(|r| r.reader.poll_timeout());
        let devices = self.slots().filter_map(|s| s.running.as_ref()?.poll_timeout());
        let messages = self.inflight.keys().next().map(|(t, _)| *t);
        let timers = self.timers.keys().next().map(|(t, _)| *t);
        readers.chain(devices).chain(messages).chain(timers).min().map(|t| t.max(self.now))
    }

    fn advance_to(&mut self, t: Millis) {
        self.now = t;
        for slot in &mut self.readers {
            if slot.reader.poll_timeout().is_some_and(|due| due <= t) {
                slot.reader.handle_timeout(t);
            }
        }
        for device in self.devices() {
            let due = |s: &DeviceSlot| s.running.as_ref().and_then(|d| d.poll_timeout());
            if let Some(slot) = self.slot_mut(device)
                && due(slot).is_some_and(|due| due <= t)
            {
                slot.running.as_mut().expect("has a deadline").handle_timeout(t);
            }
        }
        self.pump();
        while let Some(entry) = self.inflight.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let message = entry.remove();
            self.deliver(message);
            self.pump();
        }
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let timer = entry.remove();
            self.fire(timer);
            self.pump();
        }
    }

    /// Moves every event and call out of every part until nothing moves.
    /// The app starts the next customer's payment inside the loop, so the
    /// events that causes are recorded at this instant too.
    fn pump(&mut self) {
        loop {
            self.try_start_payment();
            let mut moved = false;
            for index in 0..self.readers.len() {
                while let Some((at, body)) = self.readers[index].reader.poll_event() {
                    moved = true;
                    let part = self.readers[index].reader.part().clone();
                    self.record(at, part, body.clone());
                    self.notify_pos(index, body);
                }
            }
            // Only devices touched since they were last drained can have
            // anything to say; they are visited in the same order as a full
            // sweep would (POS, then readers by index), and one touched
            // again behind the cursor waits for the next pass, as it would.
            let mut cursor = 0;
            while let Some(&key) = self.dirty.range(cursor..).next() {
                self.dirty.remove(&key);
                cursor = key + 1;
                let device = if key == 0 { Device::Pos } else { Device::Reader(key - 1) };
                let Some(slot) = self.slot_untouched(device) else { continue };
                let mut events = Vec::new();
                slot.drain_events(|at, body| events.push((at, body)));
                let part = slot.part.clone();
                let generation = slot.generation;
                let mut calls = Vec::new();
                if let Some(running) = slot.running.as_mut() {
                    while let Some(call) = running.poll_call() {
                        calls.push(call);
                    }
                }
                moved |= !events.is_empty() || !calls.is_empty();
                for (at, body) in events {
                    self.record(at, part.clone(), body.clone());
                    self.on_device_event(device, &body);
                    // The merchant's app on that device (the POS's, or the
                    // one a smart reader runs) shows what it must.
                    let app = self.merchant.entry(part.clone()).or_default();
                    if let Some(shown) = app.notice(&body, &self.spec.defects) {
                        self.record(at, part.clone(), shown);
                    }
                }
                for (call, api) in calls {
                    self.send(device, generation, call, api);
                }
                self.check_write_fault(device);
                self.check_power(device);
            }
            while let Some((at, body)) = self.backend.poll_event() {
                moved = true;
                self.record(at, Backend::part(), body);
            }
            moved |= self.run_reader_commands();
            if !moved {
                break;
            }
        }
    }

    fn record(&mut self, at: Millis, part: Part, body: EventBody) {
        let last = self.events.last().map_or(Millis::ZERO, |e| e.t_ms);
        assert!(at >= last, "{} at {at} recorded after {last}", body.name());
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event { seq, t_ms: at, part, body });
    }

    // --- messages ----------------------------------------------------------------

    fn internet_of(device: Device) -> LinkId {
        match device {
            Device::Pos => LinkId::PosBackend,
            Device::Reader(index) => LinkId::ReaderBackend(index),
        }
    }

    fn send(&mut self, from: Device, generation: u64, call: u64, api: ApiCall) {
        let link_id = Sim::internet_of(from);
        let kind = api.request.kind();
        let link = self.links.get_mut(&link_id).expect("every device has an internet link");
        if !link.up {
            return;
        }
        if link.meets(kind, RequestFate::Swallowed) {
            return self.request_fault_fired(link_id, RequestFate::Swallowed, format!("{kind:?}"));
        }
        if self.spec.external_backend {
            let delay = self.carried_delay(link_id);
            self.next_id += 1;
            let id = self.next_id;
            self.awaiting.insert(id, Awaiting { link: link_id, from, generation, call, kind });
            let outgoing = Outgoing { id, link: link_id, call: api };
            if delay.is_zero() {
                self.outgoing.push(outgoing);
            } else {
                let at = self.now + delay;
                self.at(at, Timer::Carry(outgoing));
            }
            return;
        }
        let delay = link.delay(&mut self.rng);
        let message = Message::Request { link: link_id, from, generation, call, api };
        let at = self.now + Duration::from_millis(delay);
        self.next_id += 1;
        self.inflight.insert((at, self.next_id), message);
    }

    fn deliver(&mut self, message: Message) {
        match message {
            Message::Request { link, from, generation, call, api } => {
                if !self.links[&link].up {
                    return;
                }
                let kind = api.request.kind();
                let reply = self.backend.handle(self.now, api);
                let applied = reply.applied();
                let state = self.links.get_mut(&link).expect("exists");
                if applied && state.meets(kind, RequestFate::ResponseLost) {
                    let detail = format!("{kind:?}");
                    return self.request_fault_fired(link, RequestFate::ResponseLost, detail);
                }
                let delay = self.links.get(&link).expect("exists").delay(&mut self.rng);
                let at = self.now + Duration::from_millis(delay);
                self.next_id += 1;
                let message = Message::Reply { link, to: from, generation, call, reply };
                self.inflight.insert((at, self.next_id), message);
            }
            Message::Reply { link, to, generation, call, reply } => {
                if !self.links[&link].up {
                    return;
                }
                let now = self.now;
                let Some(slot) = self.slot_mut(to) else { return };
                if slot.generation != generation {
                    return;
                }
                if let Some(device) = slot.running.as_mut() {
                    device.reply(now, call, reply);
                }
            }
        }
    }

    fn at(&mut self, at: Millis, timer: Timer) {
        self.next_id += 1;
        self.timers.insert((at, self.next_id), timer);
    }

    // --- devices -----------------------------------------------------------------

    fn devices(&self) -> Vec<Device> {
        let smart = (0..self.readers.len()).filter(|i| self.readers[*i].device.is_some());
        std::iter::once(Device::Pos).chain(smart.map(Device::Reader)).collect()
    }

    fn slots(&self) -> impl Iterator<Item = &DeviceSlot> {
        std::iter::once(&self.pos).chain(self.readers.iter().filter_map(|r| r.device.as_ref()))
    }

    fn slot(&self, device: Device) -> Option<&DeviceSlot> {
        match device {
            Device::Pos => Some(&self.pos),
            Device::Reader(index) => self.readers.get(index)?.device.as_ref(),
        }
    }

    /// The device's slot, to change: marks it for the next
    /// [`Sim::pump`], which drains only the devices marked so.
    fn slot_mut(&mut self, device: Device) -> Option<&mut DeviceSlot> {
        self.dirty.insert(match device {
            Device::Pos => 0,
            Device::Reader(index) => index + 1,
        });
        self.slot_untouched(device)
    }

    /// [`Sim::slot_mut`] without marking: for the pump's own draining.
    fn slot_untouched(&mut self, device: Device) -> Option<&mut DeviceSlot> {
        match device {
            Device::Pos => Some(&mut self.pos),
            Device::Reader(index) => self.readers.get_mut(index)?.device.as_mut(),
        }
    }

    /// Starts the device's app if it should run and can, and tells it which
    /// reader it serves.
    fn start_device(&mut self, device: Device) {
        if device == Device::Pos && self.spec.outside_pos {
            return;
        }
        let Some(network_up) = self.links.get(&Sim::internet_of(device)).map(|l| l.up) else {
            return;
        };
        let (now, cards, timings, defects) =
            (self.now, Arc::clone(&self.cards), self.timings.clone(), self.spec.defects.clone());
        let Some(slot) = self.slot_mut(device) else { return };
        if !slot.start(now, &cards, &timings, &defects, network_up) {
            return;
        }
        match device {
            Device::Reader(index) => self.tell_connected(Device::Reader(index), index),
            Device::Pos => {
                let connected = (0..self.readers.len()).find(|i| {
                    self.readers[*i].device.is_none()
                        && self.readers[*i].reader.connected_pos().is_some()
                });
                if let Some(index) = connected {
                    self.tell_connected(Device::Pos, index);
                }
            }
        }
    }

    /// Tells a device's engine that it now works with reader `index`.
    fn tell_connected(&mut self, device: Device, index: usize) {
        let (serial, model) =
            (self.readers[index].reader.serial().to_owned(), self.readers[index].model);
        let input = EngineInput::ConnectReader {
            serial,
            model,
            location: LOCATION.to_owned(),
            software_updated_at: Millis::ZERO,
        };
        let now = self.now;
        if let Some(running) = self.slot_mut(device).and_then(|s| s.running.as_mut()) {
            running.handle(now, input);
        }
    }
}

/// One reader of the rig at time zero: its profile's serial, how the POS
/// reaches it, and (a smart reader) its own offline device.
fn reader_slot(
    spec: &RigSpec,
    cards: &Arc<TestCards>,
    session: &Session,
    index: usize,
    model: ReaderModel,
) -> Result<(ReaderSlot, RigReader), RigError> {
    let now = Millis::ZERO;
    let profile = Arc::new(ReaderCatalog::builtin().get(model).clone());
    let serial = format!("{}-{:04}", profile.serial_prefix, index + 1);
    let smart = profile.family == Family::Smart;
    let via = if smart {
        LinkKind::Lan
    } else if let Some(link) = spec.mobile_link {
        if !profile.links.contains(&link) {
            return Err(RigError::NoSuchLink { model, link });
        }
        link
    } else if profile.links.contains(&LinkKind::Ble) {
        LinkKind::Ble
    } else {
        LinkKind::Usb
    };
    let device = smart.then(|| {
        let holder = Holder::SmartReader { serial: serial.clone() };
        let key_seed = spec.seed ^ (index as u64 + 1);
        let medium = medium_for(spec, &serial, key_seed)?;
        Ok::<_, RigError>(
            DeviceSlot::new(holder, Part::reader(&serial), medium, session.clone())
                .with_run_file(run_file_for(spec, &serial)),
        )
    });
    let device = device.transpose()?;
    let rig_reader = RigReader {
        serial: serial.clone(),
        model,
        stored_by: if smart { StoredBy::Reader } else { StoredBy::Pos },
    };
    let reader = Reader::new(profile, Arc::clone(cards), serial, now);
    let slot = ReaderSlot {
        reader,
        model,
        device,
        via,
        next_connect: now,
        power_fault: false,
        drop_next: Vec::new(),
        notice_delay: Duration::ZERO,
        mtu: RADIO_MTU,
        interval: Duration::ZERO,
        radio_up: true,
        offered_up: true,
    };
    Ok((slot, rig_reader))
}

/// Where a device on real files counts its app runs across processes
/// (`<data>/<name>/app-runs`); none on a simulated disk.
fn run_file_for(spec: &RigSpec, name: &str) -> Option<medium::RunFile> {
    spec.data_dir.as_ref().map(|root| medium::RunFile::new(&root.join(name)))
}

/// The medium of a device named `name` (`pos` or a reader's serial): a
/// simulated disk and keychain, or real files: the store under the rig's
/// data directory (`<data>/<name>/store`), the keys apart from it
/// (`<keys>/<name>`, see [`RigSpec::keys_dir`]). A key an earlier version
/// kept inside the data directory (`<data>/<name>/keys`) is moved out first.
fn medium_for(spec: &RigSpec, name: &str, key_seed: u64) -> Result<(Medium, Keys), RigError> {
    let Some(root) = &spec.data_dir else {
        return Ok((
            Medium::Simulated(crate::disk::SimDisk::new()),
            Keys::Simulated(crate::store::SimKeychain::new(key_seed)),
        ));
    };
    let dir = root.join(name);
    let failed = |message: String| RigError::Storage {
        device: name.to_owned(),
        dir: dir.display().to_string(),
        message,
    };
    let keys_root = match &spec.keys_dir {
        Some(keys) => keys.clone(),
        None => default_keys_dir(root).map_err(|e| failed(e.to_string()))?,
    };
    let disk = Medium::files(&dir.join("store")).map_err(|e| failed(e.to_string()))?;
    let key_dir = keys_root.join(name);
    crate::store::move_keychain(&dir.join("keys"), &key_dir).map_err(|e| failed(e.to_string()))?;
    let keys = Keys::files(&key_dir).map_err(|e| failed(e.to_string()))?;
    Ok((disk, keys))
}

/// Where the keys of the stores under `data` live by default: the sibling
/// directory `<data>.keys` (`readerlab-data` → `readerlab-data.keys`), so
/// copying, archiving or wiping the data directory never carries the key.
/// `data` is made absolute first (`.` has no name of its own).
pub fn default_keys_dir(data: &std::path::Path) -> std::io::Result<PathBuf> {
    let absolute = match std::fs::canonicalize(data) {
        Ok(path) => path,
        Err(_) => std::path::absolute(data)?,
    };
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => {
            let mut keys = name.to_os_string();
            keys.push(".keys");
            Ok(parent.join(keys))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} has no parent directory to keep the keys beside it: use another data directory",
                data.display()
            ),
        )),
    }
}
