//! The `lab` target: `readerlab run --target lab --rig BENCH.toml`. The
//! scenarios' rigs are played by a bench: its readers (found the way
//! hardware is found), its POS adapter (the driver protocol), its backend
//! (reached with its key) and its hooks (shell commands that power, cut
//! and present). Time is real: a wait is a real wait, and every wait has a
//! deadline.
//!
//! The history is what readerlab can see from outside: the adapter's
//! notifications (`pos.*` and its SDK's events), each hook as it ran
//! (`lab.hook.ran`) and the faults it performed (`fault.injected` /
//! `fault.cleared`), and the backend's new PaymentIntents and Charges,
//! read from its API every 2 s and at the end (`ledger.rs`). The checker
//! judges it as any other history.

use super::bench::{Bench, BenchReader, Find, Hook};
use super::ledger::{Ledger, Seen};
use super::operator::{self, OPERATOR};
use super::plan::{Plan, plan};
use super::{checks, hooks, probe};
use crate::driver::protocol::{self, PaymentCollectResult};
use crate::driver::protocol::{ClockAdvance, ClockAdvanceResult, DeviceNetwork, Request};
use crate::driver::{DriverError, PosCommand, Session, capability};
use crate::rig::{BenchError, Capability, InjectError, Rig, Skipped, StartError, Target};
use crate::rig::{Told, check_capabilities, collect_answer, collect_request, told};
use readerlab_emulator::core::StoredBy;
use readerlab_emulator::core::backend::BackendConfig;
use readerlab_emulator::core::offline::OfflineId;
use readerlab_emulator::core::{Event, EventBody, Family, Millis, Part, RigReader};
use readerlab_emulator::sim::outside_pos_may_record;
use readerlab_emulator::sim::{Fault, LinkFault, LinkId, PaymentSpec, RigSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest real wait a scenario may ask for: a longer `wait` skips the
/// scenario, and a step waiting for an event gives up after this long.
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);
/// Between two looks at the adapter while time passes.
const QUANTUM: Duration = Duration::from_millis(100);
/// How long after `payment.collect` the customer first presents the card.
const CUSTOMER_DELAY: Duration = Duration::from_secs(2);
/// Between two tries of a `present_card` hook that failed (the reader was
/// not asking yet).
const CUSTOMER_RETRY: Duration = Duration::from_secs(1);
/// How long the cashier waits for a smart reader to answer on its LAN
/// (after a reboot, say) before starting a payment on it.
const READER_WAIT: Duration = Duration::from_secs(60);
/// How long the customer keeps trying before walking away.
const CUSTOMER_PATIENCE: Duration = Duration::from_secs(60);
/// At the end, how long the POS gets to report what it has open and
/// forward what it stored.
const SETTLE_CAP: Duration = Duration::from_secs(120);
/// At the end, the rig is settled once this long passes with nothing new.
const QUIET: Duration = Duration::from_secs(5);
/// Between two reads of the backend's ledger while time passes.
const LEDGER_POLL: Duration = Duration::from_secs(2);

/// The lab target: one bench, one scenario at a time.
#[derive(Debug)]
pub struct LabTarget {
    bench: Bench,
    /// The backend's secret key, read from the bench's `key_env`:
    /// readerlab reads the ledger with it.
    key: String,
    /// The key the POS is given (`pos_key_env`).
    pos_key: String,
    pos: PosCommand,
    /// `false` with `--no-operator`: scenarios that need a person skip.
    operator: bool,
    /// The serial each Bluetooth reader told, by bench id.
    serials: Mutex<BTreeMap<String, String>>,
    /// The bench's labgrid place, held while the target lives.
    _place: Option<super::place::Held>,
}

impl LabTarget {
    /// A target for `bench`, whose `pos` and `backend` must be set.
    pub fn new(
        bench: Bench,
        serials: BTreeMap<String, String>,
        operator: bool,
        place: Option<super::place::Held>,
    ) -> anyhow::Result<LabTarget> {
        let Some(command) = bench.pos.clone() else {
            anyhow::bail!("{}: `run --target lab` needs `pos` (the adapter command)", bench.file);
        };
        let Some(backend) = &bench.backend else {
            anyhow::bail!("{}: `run --target lab` needs a [backend]", bench.file);
        };
        let var = |name: &str, key: &str| {
            std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "{}: the environment variable `{name}` (backend.{key}) is not set",
                    bench.file
                )
            })
        };
        let key = var(&backend.key_env, "key_env")?;
        let pos_key = var(&backend.pos_key_env, "pos_key_env")?;
        let pos = PosCommand::spawn(command, None);
        Ok(LabTarget {
            bench,
            key,
            pos_key,
            pos,
            operator,
            serials: Mutex::new(serials),
            _place: place,
        })
    }

    /// The bench reader that plays each of the rig's readers: the first
    /// free one of its model.
    fn place(
        &self,
        models: &[readerlab_emulator::core::ReaderModel],
    ) -> Result<Vec<BenchReader>, StartError> {
        let mut free: Vec<&BenchReader> = self.bench.readers.iter().collect();
        let mut placed = Vec::new();
        for model in models {
            let Some(at) = free.iter().position(|r| r.model == *model) else {
                let bench: Vec<String> = self
                    .bench
                    .readers
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.model.id()))
                    .collect();
                return Err(StartError::Unsupported(format!(
                    "the scenario needs a {} and the bench has no free one (bench: {})",
                    model.id(),
                    if bench.is_empty() { "no readers".to_owned() } else { bench.join(", ") }
                )));
            };
            placed.push(free.remove(at).clone());
        }
        Ok(placed)
    }

    /// The serial a reader tells (a Bluetooth reader's Device Information,
    /// looked at once per run), else the bench's id for it.
    fn serial(&self, reader: &BenchReader) -> String {
        let mut serials = self.serials.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(serial) = serials.get(&reader.id) {
            return serial.clone();
        }
        if let Find::BleTcp(_) = reader.find
            && let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
            && let Ok(probe::Seen { serial: Some(serial), .. }) =
                probe::look(&runtime, reader, probe::PROBE_DEADLINE)
        {
            serials.insert(reader.id.clone(), serial.clone());
            return serial;
        }
        reader.id.clone()
    }
}

impl Target for LabTarget {
    fn name(&self) -> &'static str {
        "lab"
    }

    /// What a bench's hooks can do at all: links, power and the POS's link
    /// to a reader. Whether this bench has the hook is asked when the step
    /// comes, so that a scenario it cannot do is skipped naming the hook.
    fn capabilities(&self) -> BTreeSet<Capability> {
        [Capability::NetworkFaults, Capability::Power, Capability::ReaderLinks].into()
    }

    fn replay_flags(&self) -> String {
        format!(" --rig {}", self.bench.file)
    }

    /// One bench: one scenario at a time.
    fn max_concurrent(&self) -> Option<usize> {
        Some(1)
    }

    fn start(&self, spec: RigSpec) -> Result<Box<dyn Rig>, StartError> {
        if !spec.defects.is_empty() {
            return Err(StartError::Unsupported(
                "defect profiles switch bugs on in readerlab's own SDK; on the lab target the \
                 SDK is the bench's adapter"
                    .to_owned(),
            ));
        }
        let placed = self.place(&spec.readers)?;
        Ok(Box::new(LabRig::start(self, &spec, placed)?))
    }
}

impl LabTarget {
    /// The rig as `session.new` describes it to the bench's adapter.
    fn describe(
        &self,
        spec: &RigSpec,
        placed: &[BenchReader],
        serials: &[String],
    ) -> protocol::Rig {
        let backend = self.bench.backend.as_ref().expect("checked by LabTarget::new");
        protocol::Rig {
            clock: protocol::Clock { mode: protocol::ClockMode::Real, now_ms: 0 },
            backend: protocol::Backend {
                base_url: backend.url.clone(),
                secret_key: self.pos_key.clone(),
                account: BackendConfig::default().account,
            },
            readers: placed
                .iter()
                .zip(serials)
                .map(|(r, s)| checks::describe(r, Some(s)))
                .collect(),
            offline: serde_json::to_value(&spec.offline)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok()),
        }
    }
}

/// The customer of `payment` at bench reader `reader`, presenting the
/// card through `hook` a moment from now.
fn customer(payment: &PaymentSpec, reader: String, hook: Hook) -> Customer {
    let entry = serde_json::to_value(payment.entry_mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let (name, amount) = (payment.name.clone(), payment.amount);
    let ask = format!(
        "present card {} ({entry}) on reader `{reader}` for payment `{name}` ({} {})",
        payment.card, amount.amount, amount.currency
    );
    let env = vec![
        ("READERLAB_CARD", payment.card.clone()),
        ("READERLAB_ENTRY_MODE", entry),
        ("READERLAB_PAYMENT", name.clone()),
        ("READERLAB_AMOUNT", amount.amount.to_string()),
        ("READERLAB_CURRENCY", amount.currency.to_string()),
    ];
    let now = Instant::now();
    Customer {
        payment: name,
        reader,
        hook,
        env,
        ask,
        next_try: now + CUSTOMER_DELAY,
        give_up: now + CUSTOMER_PATIENCE,
    }
}

/// A bench reader as `rig.started` names it.
fn rig_reader(reader: &BenchReader, serial: &str) -> RigReader {
    let smart = reader.model.family() == Family::Smart;
    RigReader {
        serial: serial.to_owned(),
        model: reader.model,
        stored_by: if smart { StoredBy::Reader } else { StoredBy::Pos },
    }
}

/// A fault a hook performed that holds until its undo hook runs.
#[derive(Debug)]
struct Held {
    fault: Fault,
    plan: Plan,
    /// Injections still holding it (the same fault injected twice holds
    /// until cleared twice, as on the simulator).
    holds: u32,
    /// A power loss: when the reader is powered on again.
    until: Option<Instant>,
    /// Its undo hook's id in the list an interrupt undoes.
    undo: Option<u64>,
}

/// A customer at the counter: presents the card through the bench's hook.
#[derive(Debug)]
struct Customer {
    payment: String,
    /// The bench id of the reader.
    reader: String,
    hook: Hook,
    env: Vec<(&'static str, String)>,
    /// What the operator is asked, when an operator presents the card.
    ask: String,
    next_try: Instant,
    give_up: Instant,
}

/// One scenario on the bench.
pub struct LabRig {
    started: Instant,
    events: Vec<Event>,
    session: Session,
    /// Each rig reader's bench id and history part, in rig order.
    placed: Vec<(String, String)>,
    /// The bench readers, in rig order.
    readers: Vec<BenchReader>,
    /// For looking at readers (`probe`).
    runtime: tokio::runtime::Runtime,
    bench: Bench,
    operator: bool,
    customers: Vec<Customer>,
    /// Payments started and not yet reported ended.
    open: BTreeSet<String>,
    held: Vec<Held>,
    /// The POS's internet as the hooks left it.
    pos_online: bool,
    /// What the adapter was last told of it (`device.network`).
    told_online: Option<bool>,
    /// The conversation failed: nothing more is sent to the adapter.
    broken: bool,
    ledger: Ledger,
    /// What the history already says of the ledger.
    seen: Seen,
    /// When the ledger was last read.
    ledger_read: Instant,
    _data: tempfile::TempDir,
}

impl std::fmt::Debug for LabRig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabRig")
            .field("bench", &self.bench.file)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl LabRig {
    fn start(
        target: &LabTarget,
        spec: &RigSpec,
        placed: Vec<BenchReader>,
    ) -> Result<LabRig, StartError> {
        let bench_error = |why: String| StartError::Pos(format!("BENCH ERROR: {why}"));
        let backend = target.bench.backend.as_ref().expect("checked by LabTarget::new");
        let ledger = Ledger { url: backend.url.clone(), key: target.key.clone() };
        let before =
            ledger.snapshot().map_err(|e| bench_error(format!("the backend's ledger: {e}")))?;
        let seen = Seen::all_of(&before);
        let serials: Vec<String> = placed.iter().map(|r| target.serial(r)).collect();
        let rig_readers: Vec<RigReader> =
            placed.iter().zip(&serials).map(|(r, serial)| rig_reader(r, serial)).collect();
        let rig = target.describe(spec, &placed, &serials);
        let data = tempfile::Builder::new()
            .prefix("readerlab-lab-pos-")
            .tempdir()
            .map_err(StartError::DataDir)?;
        let id =
            data.path().file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let hello = crate::driver::hello(&id, &data.path().to_string_lossy(), rig);
        let session = Session::start(&target.pos, hello).map_err(|(error, log)| {
            StartError::Pos(format!("the POS adapter: {error}\n  its log, last lines:{log}"))
        })?;
        target.pos.declared.get_or_init(|| (session.adapter.clone(), session.capabilities.clone()));
        check_capabilities(&session.adapter, &session.capabilities, &rig_readers, false)
            .map_err(StartError::Unsupported)?;
        let mut rig = LabRig {
            started: Instant::now(),
            events: Vec::new(),
            placed: placed
                .iter()
                .zip(&rig_readers)
                .map(|(b, r)| (b.id.clone(), Part::reader(&r.serial).0))
                .collect(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StartError::Pos(format!("a runtime for the lab rig: {e}")))?,
            readers: placed,
            bench: target.bench.clone(),
            operator: target.operator,
            customers: Vec::new(),
            open: BTreeSet::new(),
            held: Vec::new(),
            pos_online: true,
            told_online: None,
            broken: false,
            ledger,
            seen,
            ledger_read: Instant::now(),
            session,
            _data: data,
        };
        rig.record(
            Part("rig".to_owned()),
            EventBody::RigStarted {
                seed: spec.seed,
                defects: spec.defects.clone(),
                readers: rig_readers,
                offline: spec.offline.clone(),
                drain_window_ms: spec.drain_window.as_millis() as u64,
            },
        );
        let body = EventBody::PosSessionStarted {
            adapter: rig.session.adapter.name.clone(),
            version: rig.session.adapter.version.clone(),
            capabilities: rig.session.capabilities.names(),
            resumed: false,
        };
        rig.record(Part::pos(), body);
        Ok(rig)
    }

    fn now(&self) -> Millis {
        Millis(self.started.elapsed().as_millis() as u64)
    }

    fn record(&mut self, part: Part, body: EventBody) {
        let seq = self.events.len() as u64 + 1;
        let t_ms = self.now();
        self.events.push(Event { seq, t_ms, part, body });
    }

    /// Runs a hook (or asks the operator `ask`, or to do the action),
    /// recording it as it ran.
    fn run_hook(
        &mut self,
        action: &str,
        target: &str,
        hook: &Hook,
        env: &[(&str, String)],
        ask: Option<&str>,
    ) -> Result<Duration, String> {
        let result = if hook.run == OPERATOR {
            let what = ask.map_or_else(|| format!("do `{action}` on `{target}`"), str::to_owned);
            operator::ask(&what, hook.timeout())
        } else {
            hooks::run_with(hook, action, target, env)
        };
        let (ok, ms, detail) = match &result {
            Ok(took) => {
                (true, took.as_millis() as u64, format!("exit 0 in {} ms", took.as_millis()))
            }
            Err(why) => (false, 0, why.clone()),
        };
        let body = EventBody::LabHookRan {
            action: action.to_owned(),
            target: target.to_owned(),
            ok,
            ms,
            detail,
        };
        self.record(Part("lab".to_owned()), body);
        result
    }

    /// Fails the scenario: the adapter's conversation broke.
    fn broken(&mut self, error: &DriverError) -> ! {
        self.broken = true;
        panic!(
            "the POS adapter (`{}`): {error}\n  its log, last lines:{}",
            self.session.adapter.name,
            self.session.log_tail()
        )
    }

    /// Records what the adapter notified.
    fn drain(&mut self) {
        let notifications = match self.session.notifications() {
            Ok(notifications) => notifications,
            Err(error) => self.broken(&error),
        };
        for (line, notification) in notifications {
            let body = match told(notification) {
                Ok(Told::Event(body)) => body,
                Ok(Told::Log(text)) => {
                    self.session.note(&text);
                    continue;
                }
                Err(why) => self.broken(&DriverError::BadNotification {
                    method: "sdk.event".to_owned(),
                    line,
                    why,
                }),
            };
            if let Err(refused) = outside_pos_may_record(&body) {
                let why = format!("readerlab refused to record it: {refused}");
                self.broken(&DriverError::BadNotification {
                    method: "sdk.event".to_owned(),
                    line,
                    why,
                });
            }
            if let EventBody::PosPaymentEnded { payment, .. } = &body {
                self.open.remove(payment);
                self.customers.retain(|c| c.payment != *payment);
            }
            self.record(Part::pos(), body);
        }
    }

    /// Everything due now: a reader powered on again, a customer's card,
    /// the adapter told of its network and of the time, its news recorded.
    fn tick(&mut self) {
        let now = Instant::now();
        let due: Vec<Fault> = self
            .held
            .iter()
            .filter(|h| h.until.is_some_and(|u| u <= now))
            .map(|h| h.fault.clone())
            .collect();
        for fault in due {
            self.release(&fault, true);
        }
        self.customers_act(now);
        if now >= self.ledger_read + LEDGER_POLL {
            self.read_ledger();
        }
        if self.broken || !self.session.alive() {
            return;
        }
        if self.session.capabilities.has(capability::DEVICE_NETWORK)
            && self.told_online != Some(self.pos_online)
        {
            self.told_online = Some(self.pos_online);
            let told = Request::DeviceNetwork(DeviceNetwork { up: self.pos_online });
            if let Err(error) = self.session.call::<Value>(&told) {
                self.broken(&error);
            }
        }
        if self.session.capabilities.has(capability::CLOCK) {
            let advance = Request::ClockAdvance(ClockAdvance { now_ms: self.now().0 });
            if let Err(error) = self.session.call::<ClockAdvanceResult>(&advance) {
                self.broken(&error);
            }
        }
        self.drain();
    }

    /// A cashier waits (at most [`READER_WAIT`]) for a smart reader that
    /// does not answer on its LAN (rebooting, say) before starting a
    /// payment on it. A Bluetooth reader is not looked at: the POS holds
    /// its connection, so it answers no one else.
    fn await_reader(&mut self, index: usize) {
        let Some(reader) = self.readers.get(index) else { return };
        if let Find::Lan(_) = reader.find {
            let _ = probe::wait_until(&self.runtime, reader, true, READER_WAIT);
            self.tick();
        }
    }

    /// Asks the adapter to take `payment` on the reader with `serial`,
    /// recording what it answered; whether the payment started and is
    /// still open (a customer is then due at the counter).
    fn collect(&mut self, payment: &PaymentSpec, serial: &str) -> bool {
        let name = payment.name.clone();
        let requested = EventBody::PosPaymentRequested {
            payment: name.clone(),
            reader: serial.to_owned(),
            amount: payment.amount,
        };
        self.record(Part::pos(), requested);
        let result = self.session.call::<PaymentCollectResult>(&collect_request(payment, serial));
        let body = match collect_answer(&name, result) {
            Ok(body) => body,
            Err(error) => self.broken(&error),
        };
        if matches!(body, EventBody::PosPaymentStarted { .. }) {
            self.open.insert(name.clone());
        }
        let started = matches!(body, EventBody::PosPaymentStarted { .. });
        self.record(Part::pos(), body);
        self.drain();
        started && self.open.contains(&name)
    }

    /// Records what the backend's ledger holds that the history does not
    /// say yet. A ledger that cannot be read is the bench's failure.
    fn read_ledger(&mut self) {
        self.ledger_read = Instant::now();
        let news = self.ledger.snapshot().and_then(|snapshot| self.seen.news(&snapshot));
        match news {
            Ok(news) => {
                for body in news {
                    self.record(Part("backend".to_owned()), body);
                }
            }
            Err(why) => {
                std::panic::panic_any(BenchError(format!("reading the backend's ledger: {why}")))
            }
        }
    }

    /// Customers whose turn it is present their card through the hook; a
    /// hook that fails (the reader is not asking yet) is tried again until
    /// the payment ends or the customer's patience runs out.
    fn customers_act(&mut self, now: Instant) {
        let mut index = 0;
        while index < self.customers.len() {
            if self.customers[index].next_try > now {
                index += 1;
                continue;
            }
            let customer = &self.customers[index];
            let (hook, reader, env, ask) = (
                customer.hook.clone(),
                customer.reader.clone(),
                customer.env.clone(),
                customer.ask.clone(),
            );
            let result = self.run_hook("present_card", &reader, &hook, &env, Some(&ask));
            let customer = &mut self.customers[index];
            match result {
                Ok(_) => {
                    self.customers.remove(index);
                }
                Err(why) if hook.run == OPERATOR => panic!("{why}"),
                Err(_) if Instant::now() >= customer.give_up => {
                    self.customers.remove(index);
                }
                Err(_) => {
                    customer.next_try = Instant::now() + CUSTOMER_RETRY;
                    index += 1;
                }
            }
        }
    }

    /// Lets real time pass until `deadline`, or until `until` holds for a
    /// new event; tells whether it did.
    fn run_until(
        &mut self,
        deadline: Instant,
        mut until: Option<&mut dyn FnMut(&Event) -> bool>,
    ) -> bool {
        loop {
            let seen = self.events.len();
            self.tick();
            if let Some(until) = until.as_mut()
                && self.events[seen..].iter().any(&mut **until)
            {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep(QUANTUM.min(deadline - now));
        }
    }

    /// Undoes a held fault (its last hold, or every hold with `all`).
    fn release(&mut self, fault: &Fault, all: bool) {
        let Some(at) = self.held.iter().position(|h| h.fault == *fault) else { return };
        self.held[at].holds -= 1;
        if self.held[at].holds > 0 && !all {
            return;
        }
        let held = self.held.remove(at);
        if let Some(id) = held.undo {
            super::interrupt::forget(id);
        }
        let Some((action, hook)) = &held.plan.undo else { return };
        if let Err(why) = self.run_hook(action, &held.plan.target, hook, &[], None) {
            std::panic::panic_any(BenchError(format!(
                "hook `hooks.{action}.{}`: {why}",
                held.plan.target
            )));
        }
        if is_pos_link(fault) {
            self.pos_online = true;
        }
        self.record(
            Part("fault".to_owned()),
            EventBody::FaultCleared { fault: held.plan.kind, target: held.plan.part.clone() },
        );
    }

    /// Whether the POS has work open: a payment without its end, a
    /// customer still at the counter, a stored payment not forwarded.
    fn busy(&self) -> bool {
        if !self.open.is_empty() || !self.customers.is_empty() {
            return true;
        }
        let mut stored: BTreeSet<&OfflineId> = BTreeSet::new();
        for event in &self.events {
            match &event.body {
                EventBody::OfflinePaymentStored { offline_id, .. } => {
                    stored.insert(offline_id);
                }
                EventBody::PaymentForwarded { offline_id, .. } => {
                    stored.remove(offline_id);
                }
                _ => {}
            }
        }
        !stored.is_empty()
    }

    /// Before the end: every fault undone, then real time passes until the
    /// POS has nothing open and nothing new happened for [`QUIET`], for at
    /// most [`SETTLE_CAP`].
    fn settle(&mut self) {
        while let Some(held) = self.held.first() {
            let fault = held.fault.clone();
            self.release(&fault, true);
        }
        let cap = Instant::now() + SETTLE_CAP;
        let mut last = (self.events.len(), Instant::now());
        while Instant::now() < cap && !self.broken {
            self.run_until((Instant::now() + Duration::from_secs(1)).min(cap), None);
            if self.events.len() != last.0 {
                last = (self.events.len(), Instant::now());
            } else if !self.busy() && last.1.elapsed() >= QUIET {
                return;
            }
        }
    }
}

fn is_pos_link(fault: &Fault) -> bool {
    matches!(fault, Fault::Link(LinkFault::LinkDown { link: LinkId::PosBackend }))
}

impl Rig for LabRig {
    fn pay(&mut self, payment: PaymentSpec) {
        let now = self.now();
        if payment.at > now {
            self.wait(Duration::from_millis(payment.at.0 - now.0));
        }
        let Some((id, part)) = self.placed.get(payment.reader).cloned() else {
            panic!("the rig has no reader #{}", payment.reader);
        };
        let Some(hook) = self.bench.hooks.find("present_card", &id).cloned() else {
            std::panic::panic_any(Skipped(format!(
                "the bench has no hook `hooks.present_card.{id}`: nobody presents the card"
            )));
        };
        if hook.run == OPERATOR && !self.operator {
            std::panic::panic_any(Skipped(format!(
                "an operator must present the card on `{id}` (--no-operator)"
            )));
        }
        if self.broken {
            return;
        }
        self.await_reader(payment.reader);
        let serial = part.trim_start_matches("reader/").to_owned();
        if self.collect(&payment, &serial) {
            self.customers.push(customer(&payment, id, hook));
        }
        self.tick();
    }

    fn inject(&mut self, fault: Fault) -> Result<(), InjectError> {
        let plan = plan(&self.bench.hooks, &self.placed, &fault)
            .unwrap_or_else(|why| std::panic::panic_any(Skipped(why)));
        if let Some(held) = self.held.iter_mut().find(|h| h.fault == fault) {
            held.holds += 1;
            return Ok(());
        }
        match self.run_hook(&plan.action, &plan.target, &plan.hook, &[], None) {
            Ok(took) => {
                let detail = format!(
                    "hooks.{}.{}: exit 0 in {} ms",
                    plan.action,
                    plan.target,
                    took.as_millis()
                );
                let body = EventBody::FaultInjected {
                    fault: plan.kind,
                    target: plan.part.clone(),
                    sustained: plan.undo.is_some(),
                    detail: Some(detail),
                };
                self.record(Part("fault".to_owned()), body);
            }
            Err(why) => std::panic::panic_any(BenchError(format!(
                "hook `hooks.{}.{}`: {why}",
                plan.action, plan.target
            ))),
        }
        if is_pos_link(&fault) {
            self.pos_online = false;
        }
        if plan.undo.is_some() {
            let until = plan.off_for.map(|off| Instant::now() + off);
            let undo = plan
                .undo
                .as_ref()
                .map(|(action, hook)| super::interrupt::remember(action, &plan.target, hook));
            self.held.push(Held { fault, plan, holds: 1, until, undo });
        }
        self.tick();
        Ok(())
    }

    fn clear(&mut self, fault: &Fault) {
        self.release(fault, false);
        self.tick();
    }

    fn wait(&mut self, span: Duration) {
        if span > MAX_WAIT {
            std::panic::panic_any(Skipped(format!(
                "the scenario waits {} s, in real time on the lab target (at most {} s)",
                span.as_secs(),
                MAX_WAIT.as_secs()
            )));
        }
        self.run_until(Instant::now() + span, None);
    }

    fn wait_for(&mut self, cap: Duration, until: &mut dyn FnMut(&Event) -> bool) -> bool {
        if self.events.iter().any(&mut *until) {
            return true;
        }
        self.run_until(Instant::now() + cap.min(MAX_WAIT), Some(until))
    }

    fn events(&self) -> &[Event] {
        &self.events
    }

    fn finish(self: Box<Self>) -> Vec<Event> {
        self.finish_with_log().0
    }

    fn finish_with_log(mut self: Box<Self>) -> (Vec<Event>, Vec<String>) {
        self.settle();
        if self.broken {
            self.session.kill();
        } else if let Err(error) = self.session.end() {
            self.session.note(&format!("[readerlab] session.end: {error}"));
        }
        self.read_ledger();
        self.record(Part("rig".to_owned()), EventBody::RigFinished);
        let log = self.session.log_lines();
        (std::mem::take(&mut self.events), log)
    }
}

impl Drop for LabRig {
    /// A scenario that failed midway leaves no fault on the bench: every
    /// held fault's undo hook runs (what fails is said on stderr).
    fn drop(&mut self) {
        for held in std::mem::take(&mut self.held) {
            if let Some(id) = held.undo {
                super::interrupt::forget(id);
            }
            if let Some((action, hook)) = &held.plan.undo
                && let Err(why) = hooks::run(hook, action, &held.plan.target)
            {
                eprintln!(
                    "readerlab: BENCH ERROR undoing a fault: hooks.{action}.{}: {why}",
                    held.plan.target
                );
            }
        }
        if self.session.alive() {
            self.session.kill();
        }
    }
}
