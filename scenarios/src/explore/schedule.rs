//! What exploration generates: a [`Case`] is a rig ([`RigPlan`]) and a
//! schedule of operations ([`Op`]), and every part of it is exactly one step
//! of the vocabulary.
//!
//! Each operation knows its step's text ([`Op::text`]) and performs itself
//! by calling that very step's definition with the captures its text would
//! give ([`Op::apply`]), so a case run here and its written `.feature` run
//! by `readerlab run` do the same thing; `tests/explore.rs` compares their
//! histories byte for byte.

use crate::steps::params::{AppKilled, CablePulled, InternetDown, Locked, MidWrite, Number};
use crate::steps::params::{DevicePhrase, ReaderPhrase};
use crate::steps::params::{PhraseError, SignalLost, StorageIsFull, TimesOut, WhileCharging};
use crate::steps::payments::Phase;
use crate::steps::{LabWorld, StepResult, backend, faults, payments, readers, rig, storage, time};
use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::{EntryMode, ReaderModel};
use readerlab_emulator::fixtures::ReaderCatalog;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The version of the saved-case format (`DIR/cases/*.json`).
pub const CASE_FORMAT: u32 = 1;

/// The rig of a case and its configuration: the `Given` steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RigPlan {
    /// The readers, each model at most once (steps name readers by model);
    /// at most one mobile reader.
    pub readers: Vec<ReaderModel>,
    /// The POS reaches its mobile reader over USB instead of Bluetooth.
    #[serde(default)]
    pub usb: bool,
    /// Offline mode is disabled in the Terminal configuration.
    #[serde(default)]
    pub offline_disabled: bool,
    /// The offline maximum per payment, in US cents.
    #[serde(default)]
    pub max_per_payment: Option<u64>,
    /// The most the app stores offline, in US cents.
    #[serde(default)]
    pub stored_limit: Option<u64>,
    /// The most payments the store holds.
    #[serde(default)]
    pub record_cap: Option<u32>,
    /// How the app collects unless a payment says otherwise.
    #[serde(default)]
    pub behavior: Option<OfflineBehavior>,
}

impl RigPlan {
    /// The `Given` steps, without keywords.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        for (i, model) in self.readers.iter().enumerate() {
            let lead = if i == 0 { "a rig with" } else { "the rig also has" };
            steps.push(format!("{lead} a {}", model_name(*model)));
        }
        if self.usb {
            steps.push("the POS reaches its reader over USB".to_owned());
        }
        if self.offline_disabled {
            steps.push("offline mode is disabled in the Terminal configuration".to_owned());
        }
        if let Some(cents) = self.max_per_payment {
            steps.push(format!("the offline maximum per payment is {}", usd(cents)));
        }
        if let Some(cents) = self.stored_limit {
            steps.push(format!("the app stores at most {} offline", usd(cents)));
        }
        if let Some(records) = self.record_cap {
            let noun = if records == 1 { "payment" } else { "payments" };
            steps.push(format!("the store holds at most {records} {noun}"));
        }
        if let Some(behavior) = self.behavior {
            steps.push(format!("the app collects with {}", behavior_name(behavior)));
        }
        steps
    }

    /// Describes the rig to `world`, through the same step definitions.
    pub fn apply(&self, world: &mut LabWorld) -> StepResult {
        for (i, model) in self.readers.iter().enumerate() {
            let model = arg(&model_name(*model))?;
            if i == 0 {
                rig::a_rig_with(world, model)?;
            } else {
                rig::the_rig_also_has(world, model)?;
            }
        }
        if self.usb {
            rig::over_link(world, "USB".to_owned())?;
        }
        if self.offline_disabled {
            rig::offline_mode(world, "disabled".to_owned())?;
        }
        if let Some(cents) = self.max_per_payment {
            rig::offline_maximum(world, arg(&usd(cents))?)?;
        }
        if let Some(cents) = self.stored_limit {
            rig::stored_amount_limit(world, arg(&usd(cents))?)?;
        }
        if let Some(records) = self.record_cap {
            rig::record_cap(world, records)?;
        }
        if let Some(behavior) = self.behavior {
            payments::app_behavior(world, behavior_name(behavior).to_owned())?;
        }
        Ok(())
    }

    /// The mobile reader, if any.
    pub fn mobile(&self) -> Option<ReaderModel> {
        self.readers.iter().copied().find(|m| !is_smart(*m))
    }

    /// The readers that store their own payments.
    pub fn smart(&self) -> impl Iterator<Item = ReaderModel> + '_ {
        self.readers.iter().copied().filter(|m| is_smart(*m))
    }

    /// Devices that store payments: the POS when a mobile reader is there,
    /// and each smart reader.
    pub fn stores(&self) -> Vec<Who> {
        let pos = self.mobile().map(|_| Who::Pos);
        pos.into_iter().chain(self.smart().map(Who::Reader)).collect()
    }

    /// Whether `who` is part of this rig.
    pub fn has(&self, who: Who) -> bool {
        match who {
            Who::Pos => true,
            Who::Reader(model) => self.readers.contains(&model),
        }
    }
}

/// A device or reader a step names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// `the POS`.
    Pos,
    /// `the <model name>`.
    Reader(ReaderModel),
}

impl Who {
    /// How a step names it.
    pub fn phrase(self) -> String {
        match self {
            Who::Pos => "the POS".to_owned(),
            Who::Reader(model) => format!("the {}", model_name(model)),
        }
    }
}

impl From<Who> for DevicePhrase {
    fn from(who: Who) -> DevicePhrase {
        match who {
            Who::Pos => DevicePhrase::Pos,
            Who::Reader(model) => DevicePhrase::Reader(ReaderPhrase::Model(model)),
        }
    }
}

/// A request a request fault picks out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Creating a payment intent.
    Create,
    /// Confirming one.
    Confirm,
    /// Forwarding a stored payment.
    Forward,
    /// Minting a connection token.
    ConnectionToken,
    /// Whatever comes next.
    Any,
}

impl Request {
    /// How a step names it.
    pub fn phrase(self) -> &'static str {
        match self {
            Request::Create => "create",
            Request::Confirm => "confirm",
            Request::Forward => "forward",
            Request::ConnectionToken => "connection token",
            Request::Any => "any",
        }
    }
}

/// One operation of a schedule: one `When` step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A customer pays (`wait`: the step waits for the payment's outcome).
    Pay {
        /// The payment is called `p<name>`.
        name: u32,
        /// In US cents.
        cents: u64,
        /// At this reader.
        reader: ReaderModel,
        /// The test card, by its simulated type.
        card: String,
        /// How the card is presented (the reader's default when `None`).
        entry: Option<EntryMode>,
        /// The payment's OfflineBehavior (the app's when `None`).
        behavior: Option<OfflineBehavior>,
        /// `pays` (wait for the outcome) or `starts paying`.
        wait: bool,
    },
    /// Virtual time passes.
    Pass {
        /// How much.
        seconds: u64,
    },
    /// Time passes until a payment reaches a phase, for at most a minute:
    /// the next operation (a fault) lands in that phase.
    Until {
        /// The payment `p<name>`.
        name: u32,
        /// The phase.
        phase: Phase,
    },
    /// Every internet link goes down or comes back.
    Internet {
        /// Down, or back.
        down: bool,
    },
    /// One device's internet goes down or comes back.
    DeviceInternet {
        /// The POS or a smart reader.
        device: Who,
        /// Down, or back.
        down: bool,
    },
    /// The internet starts or stops flapping.
    Flapping {
        /// Starts, or stops.
        on: bool,
    },
    /// The internet slows down by `extra_ms` (`None`: fast again).
    Slow {
        /// The extra delay each way.
        extra_ms: Option<u64>,
    },
    /// The `nth` matching request from a device times out or loses its
    /// answer.
    Request {
        /// 1 for the next.
        nth: u32,
        /// Which requests count.
        kind: Request,
        /// The POS or a smart reader.
        device: Who,
        /// Loses its answer (after the backend applied it), or times out.
        lost: bool,
    },
    /// The app on a device is killed or starts again.
    App {
        /// The POS or a smart reader.
        device: Who,
        /// Killed, or starts again.
        killed: bool,
    },
    /// The app is upgraded from the version with the old store format.
    Upgrade {
        /// The POS or a smart reader.
        device: Who,
    },
    /// A device is locked or unlocked.
    Lock {
        /// The POS or a smart reader.
        device: Who,
        /// Locked, or unlocked.
        locked: bool,
    },
    /// A device or reader loses power (at once, or during its next write).
    PowerLoss {
        /// The POS or any reader.
        who: Who,
        /// In the middle of its next write.
        mid_write: bool,
    },
    /// A reader reboots.
    Reboot {
        /// Which.
        reader: ReaderModel,
    },
    /// A reader's battery reads `percent`.
    Battery {
        /// Which.
        reader: ReaderModel,
        /// 0–100.
        percent: u8,
        /// While charging.
        charging: bool,
    },
    /// A reader is offered a required update.
    RequiredUpdate {
        /// Which.
        reader: ReaderModel,
    },
    /// A mobile reader's Bluetooth signal is lost or back.
    Signal {
        /// Which.
        reader: ReaderModel,
        /// Lost, or back.
        lost: bool,
    },
    /// The POS's Bluetooth radio is switched off or on.
    Radio {
        /// Off, or on.
        off: bool,
    },
    /// A Bluetooth reader's next notification of `event` is lost on the air.
    NotificationLost {
        /// Which.
        reader: ReaderModel,
        /// The history event the notification carries
        /// (`reader.payment.collected`).
        event: String,
    },
    /// A Bluetooth reader's notifications reach the POS `seconds` late, or
    /// on time again (`None`).
    NotificationsLate {
        /// Which.
        reader: ReaderModel,
        /// How late; `None` is on time again.
        seconds: Option<u32>,
    },
    /// A Bluetooth reader's ATT MTU is renegotiated down to `mtu`, or back
    /// up (`None`).
    Mtu {
        /// Which.
        reader: ReaderModel,
        /// The smaller MTU; `None` is back up.
        mtu: Option<u16>,
    },
    /// A Bluetooth reader's connection interval slows to `ms`, or is normal
    /// again (`None`).
    Interval {
        /// Which.
        reader: ReaderModel,
        /// The slow interval; `None` is normal again.
        ms: Option<u32>,
    },
    /// A mobile reader's USB cable is pulled or plugged back in.
    Usb {
        /// Which.
        reader: ReaderModel,
        /// Pulled, or plugged back in.
        pulled: bool,
    },
    /// A device's storage is full or has room again.
    StorageFull {
        /// The POS or a smart reader.
        device: Who,
        /// Full, or room again.
        full: bool,
    },
    /// The next write to a device's storage fails for lack of space.
    NextWriteFails {
        /// The POS or a smart reader.
        device: Who,
    },
    /// A stored record on a device is damaged.
    RecordDamaged {
        /// The POS or a smart reader.
        device: Who,
    },
    /// The app data on a device is wiped.
    DataWiped {
        /// The POS or a smart reader.
        device: Who,
    },
    /// The backend declines the next `times` forwarded payments.
    Declines {
        /// How many.
        times: u32,
        /// With this decline code.
        code: String,
    },
    /// The connection token provider fails `times` times.
    TokenFails {
        /// How many.
        times: u32,
    },
    /// The next `times` connection tokens are for another account.
    OtherAccount {
        /// How many.
        times: u32,
    },
    /// The backend answers the next `times` (matching) requests with
    /// `status`.
    Http {
        /// How many.
        times: u32,
        /// Which requests (all when `None`).
        request: Option<Request>,
        /// 409, 429, 500, 502, 503 or 504.
        status: u16,
    },
}

impl Op {
    /// The step's text, without its keyword.
    pub fn text(&self) -> String {
        let either = |yes: bool, a: &str, b: &str| if yes { a.to_owned() } else { b.to_owned() };
        match self {
            Op::Pay { name, cents, reader, card, entry, behavior, wait } => {
                pay_text(*name, *cents, *reader, card, *entry, *behavior, *wait)
            }
            Op::Pass { seconds } => {
                let (count, unit) = time_phrase(*seconds);
                if count == 1 {
                    format!("1 {unit} passes")
                } else {
                    format!("{count} {unit}s pass")
                }
            }
            Op::Until { name, phase } => {
                format!("time passes until {} \"p{name}\"", phase.phrase())
            }
            Op::Internet { down } => {
                format!("the internet {}", either(*down, "goes down", "comes back"))
            }
            Op::DeviceInternet { device, down } => format!(
                "{}'s internet {}",
                device.phrase(),
                either(*down, "goes down", "comes back")
            ),
            Op::Flapping { on } => {
                format!("the internet {} flapping", either(*on, "starts", "stops"))
            }
            Op::Slow { extra_ms: Some(ms) } => format!("the internet slows down by {ms} ms"),
            Op::Slow { extra_ms: None } => "the internet is fast again".to_owned(),
            Op::Request { nth, kind, device, lost } => format!(
                "the {} \"{}\" request from {} {}",
                ordinal(*nth),
                kind.phrase(),
                device.phrase(),
                either(*lost, "loses its answer", "times out")
            ),
            Op::App { device, killed } => format!(
                "the app on {} {}",
                device.phrase(),
                either(*killed, "is killed", "starts again")
            ),
            Op::Upgrade { device } => format!(
                "the app on {} is upgraded from the version with the old store format",
                device.phrase()
            ),
            Op::Lock { device, locked } => {
                format!("{} is {}", device.phrase(), either(*locked, "locked", "unlocked"))
            }
            Op::PowerLoss { who, mid_write } => format!(
                "{} loses power{}",
                who.phrase(),
                either(*mid_write, " in the middle of its next write", "")
            ),
            Op::Reboot { reader } => format!("{} reboots", Who::Reader(*reader).phrase()),
            Op::Battery { reader, percent, charging } => format!(
                "{}'s battery reads {percent}%{}",
                Who::Reader(*reader).phrase(),
                either(*charging, " while charging", "")
            ),
            Op::RequiredUpdate { reader } => {
                format!("{} is offered a required update", Who::Reader(*reader).phrase())
            }
            Op::Signal { .. }
            | Op::Radio { .. }
            | Op::Usb { .. }
            | Op::NotificationLost { .. }
            | Op::NotificationsLate { .. }
            | Op::Mtu { .. }
            | Op::Interval { .. } => self.link_text(),
            Op::StorageFull { device, full } => format!(
                "the storage of {} {}",
                device.phrase(),
                either(*full, "is full", "has room again")
            ),
            Op::NextWriteFails { device } => format!(
                "the next write to the storage of {} fails for lack of space",
                device.phrase()
            ),
            Op::RecordDamaged { device } => {
                format!("a stored record on {} is damaged", device.phrase())
            }
            Op::DataWiped { device } => format!("the app data on {} is wiped", device.phrase()),
            Op::Declines { times, code } => format!(
                "the backend declines the next {times} forwarded {} with {code}",
                plural(*times, "payment")
            ),
            Op::TokenFails { times } => {
                format!("the connection token provider fails {times} {}", plural(*times, "time"))
            }
            Op::OtherAccount { times } => {
                let tokens = if *times == 1 { "token is" } else { "tokens are" };
                format!("the next {times} connection {tokens} for another account")
            }
            Op::Http { times, request, status } => http_text(*times, *request, *status),
        }
    }

    /// Whether its step is defined as a `Given` (faults armed for a later
    /// request, write or forward); the others are `When` steps.
    pub fn is_given(&self) -> bool {
        matches!(
            self,
            Op::Request { .. }
                | Op::NextWriteFails { .. }
                | Op::Declines { .. }
                | Op::TokenFails { .. }
                | Op::OtherAccount { .. }
                | Op::Http { .. }
        )
    }

    /// The text of a fault of the POS's link to its mobile reader: the
    /// signal, the radio, the cable, and what the air does.
    fn link_text(&self) -> String {
        let either = |yes: bool, a: &str, b: &str| if yes { a.to_owned() } else { b.to_owned() };
        match self {
            Op::Signal { reader, lost } => format!(
                "the Bluetooth signal of {} is {}",
                Who::Reader(*reader).phrase(),
                either(*lost, "lost", "back")
            ),
            Op::Radio { off } => {
                format!("the POS's Bluetooth radio is switched {}", either(*off, "off", "on"))
            }
            Op::Usb { reader, pulled } => format!(
                "the USB cable of {} is {}",
                Who::Reader(*reader).phrase(),
                either(*pulled, "pulled", "plugged back in")
            ),
            Op::NotificationLost { reader, event } => format!(
                "the next \"{event}\" notification of {} to the POS is lost",
                Who::Reader(*reader).phrase()
            ),
            Op::NotificationsLate { reader, seconds } => format!(
                "the notifications of {} reach the POS {}",
                Who::Reader(*reader).phrase(),
                late_phrase(*seconds)
            ),
            Op::Mtu { reader, mtu } => format!(
                "the Bluetooth MTU of {} is renegotiated {}",
                Who::Reader(*reader).phrase(),
                mtu_phrase(*mtu)
            ),
            Op::Interval { reader, ms } => format!(
                "the Bluetooth connection interval of {} {}",
                Who::Reader(*reader).phrase(),
                interval_phrase(*ms)
            ),
            _ => unreachable!("link_text of {self:?}, not a fault of the POS's link to its reader"),
        }
    }

    /// Performs the step: calls its definition with the captures its text
    /// gives (a phrase read as cucumber reads it, by its parameter type).
    pub fn apply(&self, world: &mut LabWorld) -> StepResult {
        let s = str::to_owned;
        let either = |yes: bool, a: &str, b: &str| if yes { s(a) } else { s(b) };
        let reader = |model: ReaderModel| Who::Reader(model).phrase();
        match self {
            Op::Pay { name, cents, reader, card, entry, behavior, wait } => {
                payments::the_customer_pays(
                    world,
                    either(*wait, "pays", "starts paying"),
                    arg(&usd(*cents))?,
                    format!("p{name}"),
                    arg(&model_name(*reader))?,
                    card.clone(),
                    String::new(),
                    arg(entry.map_or("", entry_phrase))?,
                    behavior.map_or(String::new(), |b| s(behavior_name(b))),
                )
            }
            Op::Pass { seconds } => {
                let (count, unit) = time_phrase(*seconds);
                time::time_passes(world, count.to_string(), s(unit))
            }
            Op::Until { name, phase } => time::time_passes_until(
                world,
                s(phase.phrase()),
                format!("p{name}"),
                String::new(),
                String::new(),
            ),
            Op::Internet { down } => faults::the_internet(world, InternetDown(*down)),
            Op::DeviceInternet { device, down } => {
                faults::a_devices_internet(world, arg(&device.phrase())?, InternetDown(*down))
            }
            Op::Flapping { on } => faults::flapping(world, either(*on, "starts", "stops")),
            Op::Slow { extra_ms } => {
                faults::latency(world, extra_ms.map_or(String::new(), |ms| ms.to_string()))
            }
            Op::Request { nth, kind, device, lost } => faults::request_fault(
                world,
                arg(&ordinal(*nth))?,
                arg(kind.phrase())?,
                arg(&device.phrase())?,
                TimesOut(!*lost),
            ),
            Op::App { device, killed } => {
                faults::app_killed(world, arg(&device.phrase())?, AppKilled(*killed))
            }
            Op::Upgrade { device } => faults::app_upgraded(world, arg(&device.phrase())?),
            Op::Lock { device, locked } => {
                faults::locked(world, arg(&device.phrase())?, Locked(*locked))
            }
            Op::PowerLoss { who, mid_write } => {
                faults::loses_power(world, arg(&who.phrase())?, MidWrite(*mid_write))
            }
            Op::Reboot { reader: r } => readers::reboots(world, arg(&reader(*r))?),
            Op::Battery { reader: r, percent, charging } => readers::battery(
                world,
                arg(&reader(*r))?,
                Number(u64::from(*percent)),
                WhileCharging(*charging),
            ),
            Op::RequiredUpdate { reader: r } => readers::required_update(world, arg(&reader(*r))?),
            Op::Signal { reader: r, lost } => {
                readers::signal(world, arg(&reader(*r))?, SignalLost(*lost))
            }
            Op::Radio { off } => readers::radio(world, either(*off, "off", "on")),
            Op::NotificationLost { reader: r, event } => {
                readers::notification_lost(world, arg(event)?, arg(&reader(*r))?)
            }
            Op::NotificationsLate { reader: r, seconds } => {
                readers::notifications_late(world, arg(&reader(*r))?, arg(&late_phrase(*seconds))?)
            }
            Op::Mtu { reader: r, mtu } => {
                readers::mtu_renegotiated(world, arg(&reader(*r))?, arg(&mtu_phrase(*mtu))?)
            }
            Op::Interval { reader: r, ms } => {
                readers::connection_interval(world, arg(&reader(*r))?, arg(&interval_phrase(*ms))?)
            }
            Op::Usb { reader: r, pulled } => {
                readers::usb(world, arg(&reader(*r))?, CablePulled(*pulled))
            }
            Op::StorageFull { device, full } => {
                storage::storage_full(world, arg(&device.phrase())?, StorageIsFull(*full))
            }
            Op::NextWriteFails { device } => {
                storage::next_write_fails(world, arg(&device.phrase())?)
            }
            Op::RecordDamaged { device } => storage::record_damaged(world, arg(&device.phrase())?),
            Op::DataWiped { device } => storage::data_wiped(world, arg(&device.phrase())?),
            Op::Declines { times, code } => backend::declines_on_sync(world, *times, code.clone()),
            Op::TokenFails { times } => backend::token_failure(world, *times),
            Op::OtherAccount { times } => backend::another_account(world, *times),
            Op::Http { times, request, status } => backend::http_error(
                world,
                *times,
                request.map_or(String::new(), |r| s(r.phrase())),
                *status,
            ),
        }
    }
}

/// A phrase of a step's text as the step receives it: read by its
/// parameter type, as cucumber reads the capture (a phrase the step's text
/// could not hold fails here as the text would fail to match).
/// `30 seconds late` or `on time again`.
fn late_phrase(seconds: Option<u32>) -> String {
    match seconds {
        Some(1) => "1 second late".to_owned(),
        Some(n) => format!("{n} seconds late"),
        None => "on time again".to_owned(),
    }
}

/// `down to 23` or `back up`.
fn mtu_phrase(mtu: Option<u16>) -> String {
    mtu.map_or_else(|| "back up".to_owned(), |mtu| format!("down to {mtu}"))
}

/// `slows to 400 ms` or `is normal again`.
fn interval_phrase(ms: Option<u32>) -> String {
    ms.map_or_else(|| "is normal again".to_owned(), |ms| format!("slows to {ms} ms"))
}

fn arg<T: FromStr<Err = PhraseError>>(phrase: &str) -> Result<T, String> {
    phrase.parse().map_err(String::from)
}

/// A rig and a schedule: one scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The rig.
    pub rig: RigPlan,
    /// The schedule, in order.
    pub ops: Vec<Op>,
}

impl Case {
    /// A case of this rig and schedule.
    pub fn new(rig: RigPlan, ops: Vec<Op>) -> Case {
        Case { rig, ops }
    }

    /// Its steps as a scenario lists them, keywords included, leaving out
    /// the operations at `skip` (those whose step did nothing). A step
    /// takes the keyword it is defined with (`Given` for the rig and for
    /// faults armed for a later request or write, `When` for the rest), or
    /// `And` after a step of the same keyword.
    pub fn scenario_lines(&self, skip: &[usize]) -> Vec<String> {
        let given = self.rig.steps().into_iter().map(|text| (true, text));
        let ops = self.ops.iter().enumerate().filter(|(i, _)| !skip.contains(i));
        let ops = ops.map(|(_, op)| (op.is_given(), op.text()));
        let mut previous = None;
        given
            .chain(ops)
            .map(|(is_given, text)| {
                let keyword = match (previous, is_given) {
                    (Some(was), now) if was == now => "And",
                    (_, true) => "Given",
                    (_, false) => "When",
                };
                previous = Some(is_given);
                format!("{keyword} {text}")
            })
            .collect()
    }

    /// How many steps its scenario has.
    pub fn step_count(&self) -> usize {
        self.rig.steps().len() + self.ops.len()
    }

    /// Renames its payments `p1`, `p2`, … in the order they come.
    pub fn renumber(&mut self) {
        let mut renamed = std::collections::BTreeMap::new();
        for op in &mut self.ops {
            match op {
                Op::Pay { name, .. } => {
                    let next = renamed.len() as u32 + 1;
                    renamed.insert(*name, next);
                    *name = next;
                }
                Op::Until { name, .. } => {
                    *name = renamed.get(name).copied().unwrap_or(*name);
                }
                _ => {}
            }
        }
    }
}

/// A model's marketing name, as steps write it.
pub fn model_name(model: ReaderModel) -> String {
    ReaderCatalog::builtin().get(model).name.clone()
}

/// Whether a model stores its own payments.
pub fn is_smart(model: ReaderModel) -> bool {
    model.family() == readerlab_emulator::core::Family::Smart
}

/// US cents as a step writes them: `12.50 USD`.
pub fn usd(cents: u64) -> String {
    format!("{}.{:02} USD", cents / 100, cents % 100)
}

/// `FORCE_OFFLINE`.
pub fn behavior_name(behavior: OfflineBehavior) -> &'static str {
    match behavior {
        OfflineBehavior::PreferOnline => "PREFER_ONLINE",
        OfflineBehavior::RequireOnline => "REQUIRE_ONLINE",
        OfflineBehavior::ForceOffline => "FORCE_OFFLINE",
    }
}

/// `tapping`, `inserting`, `swiping`.
fn entry_phrase(entry: EntryMode) -> &'static str {
    match entry {
        EntryMode::Contactless => "tapping",
        EntryMode::Chip => "inserting",
        EntryMode::Swipe => "swiping",
    }
}

/// `next`, `2nd`, `3rd`, `4th`.
fn ordinal(nth: u32) -> String {
    match nth {
        1 => "next".to_owned(),
        n if n % 10 == 2 && n % 100 != 12 => format!("{n}nd"),
        n if n % 10 == 3 && n % 100 != 13 => format!("{n}rd"),
        n if n % 10 == 1 && n % 100 != 11 => format!("{n}st"),
        n => format!("{n}th"),
    }
}

/// A span in the largest whole unit: 120 s → (2, "minute").
fn time_phrase(seconds: u64) -> (u64, &'static str) {
    match seconds {
        0 => (0, "second"),
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    }
}

fn plural(count: u32, noun: &str) -> String {
    if count == 1 { noun.to_owned() } else { format!("{noun}s") }
}

/// The text of a customer's payment step.
fn pay_text(
    name: u32,
    cents: u64,
    reader: ReaderModel,
    card: &str,
    entry: Option<EntryMode>,
    behavior: Option<OfflineBehavior>,
    wait: bool,
) -> String {
    let mut text = format!(
        "the customer {} {} as \"p{name}\" at the {} with the \"{card}\" card",
        if wait { "pays" } else { "starts paying" },
        usd(cents),
        model_name(reader),
    );
    if let Some(entry) = entry {
        text.push_str(&format!(" by {}", entry_phrase(entry)));
    }
    if let Some(behavior) = behavior {
        text.push_str(&format!(" with {}", behavior_name(behavior)));
    }
    text
}

/// The text of an HTTP-error step.
fn http_text(times: u32, request: Option<Request>, status: u16) -> String {
    format!(
        "the backend answers the next {times} {}{} with HTTP {status}",
        request.map_or(String::new(), |r| format!("\"{}\" ", r.phrase())),
        plural(times, "request")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_ordinals_read_as_steps_write_them() {
        assert_eq!(time_phrase(90), (90, "second"));
        assert_eq!(time_phrase(120), (2, "minute"));
        assert_eq!(time_phrase(7_200), (2, "hour"));
        assert_eq!(Op::Pass { seconds: 1 }.text(), "1 second passes");
        assert_eq!(Op::Pass { seconds: 300 }.text(), "5 minutes pass");
        assert_eq!(ordinal(1), "next");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(3), "3rd");
        assert_eq!(ordinal(4), "4th");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(usd(1_250), "12.50 USD");
        assert_eq!(usd(5), "0.05 USD");
    }
}
