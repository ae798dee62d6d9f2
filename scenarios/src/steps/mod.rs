//! The step vocabulary: cucumber step definitions over the [`Rig`]
//! abstraction, one module per domain.
//!
//! | module | domain |
//! |---|---|
//! | [`rig`] | the rig and its configuration (before the first action) |
//! | [`readers`] | readers: reboots, battery, Bluetooth, USB, updates |
//! | [`payments`] | the POS and its customers' payments |
//! | [`faults`] | network faults and the app's life (kill, upgrade, lock, power) |
//! | [`time`] | letting time pass |
//! | [`storage`] | the store: full disks, damaged records, wiped data |
//! | [`backend`] | backend faults and the ledger |
//! | [`expect`] | what the history must show |
//!
//! [`params`] defines the phrases steps are written with (a device, a
//! reader, a model, an amount, ...) once, as cucumber parameter types. Every
//! step that names one is a cucumber expression over them, but `the
//! customer pays`: a regex (its optional clauses carry captures) whose
//! captures they read. Either way the step receives them parsed.
//!
//! Configuration steps shape a [`RigSpec`]; the first step that acts starts
//! the rig on the scenario's target. Assertions read the history only, so
//! they hold on every target. Every scenario ends with the invariant checker
//! ([`crate::run`] does that in its after-hook), whatever its own steps said.
//! [`VOCABULARY`] lists every step with an example; `readerlab steps` prints
//! it and a test proves each example matches exactly its own step.

#![allow(
    clippy::needless_pass_by_value,
    reason = "cucumber hands a step its captures as owned values"
)]

pub mod backend;
pub mod expect;
pub mod faults;
pub mod params;
pub mod payments;
pub mod readers;
pub mod rig;
pub mod storage;
pub mod time;
pub mod vocabulary;

pub use vocabulary::{Domain, StepDoc, VOCABULARY};

use crate::rig::{Capability, Rig, SimTarget, StartError, Target};
use params::{DevicePhrase, ModelName, ReaderPhrase};
use readerlab_emulator::core::Defects;
use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::{Event, EventBody, RunSource, StoredBy};
use readerlab_emulator::core::{Family, ReaderModel};
use readerlab_emulator::sim::{Device, RigSpec};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What a failing step says; the scenario fails with this message.
pub type StepResult = Result<(), String>;

/// The panic payload of a step the target cannot perform: the scenario is
/// reported skipped with this reason, never passed.
pub use crate::rig::Skipped;

/// How long a payment step waits for the payment's outcome: longer than the
/// app's own patience (5 min) and the SDK's fallback timeouts.
pub const OUTCOME_WAIT: Duration = Duration::from_secs(10 * 60);

/// How the run configures each scenario's world (set by the before-hook).
#[derive(Clone, Debug)]
pub struct ScenarioSetup {
    /// Who plays the rig.
    pub target: Arc<dyn Target>,
    /// The seed of every scenario of the run.
    pub seed: u64,
    /// Defect profiles switched on.
    pub defects: Defects,
    /// The scenario, recorded as the history's `rig.source`.
    pub source: Option<RunSource>,
}

impl Default for ScenarioSetup {
    fn default() -> Self {
        ScenarioSetup {
            target: Arc::new(SimTarget),
            seed: 1,
            defects: Defects::none(),
            source: None,
        }
    }
}

/// The payment the next "the customer pays" step makes, unless it says
/// otherwise.
#[derive(Clone, Debug)]
pub(crate) struct PaymentDefaults {
    pub(crate) card: String,
    pub(crate) behavior: OfflineBehavior,
}

/// One scenario's state: the rig being described, then the rig running,
/// then its finished history.
#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct LabWorld {
    pub(crate) setup: ScenarioSetup,
    pub(crate) spec: RigSpec,
    pub(crate) rig: Option<Box<dyn Rig>>,
    pub(crate) defaults: PaymentDefaults,
    pub(crate) history: Option<Vec<Event>>,
    /// The outside POS's log (an adapter's stderr), once finished.
    pub(crate) pos_log: Vec<String>,
    /// The history as steps read it, made once per event.
    pub(crate) views: Vec<expect::View>,
    /// Payment names used so far, with the reader each went to.
    pub(crate) payments: Vec<(String, usize)>,
}

impl fmt::Debug for LabWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabWorld")
            .field("target", &self.setup.target.name())
            .field("seed", &self.setup.seed)
            .field("readers", &self.spec.readers)
            .field("started", &self.rig.is_some())
            .field("events", &self.events().len())
            .finish()
    }
}

impl LabWorld {
    fn new() -> LabWorld {
        let mut spec = RigSpec::single(ReaderModel::M2, 1);
        spec.readers.clear();
        LabWorld {
            setup: ScenarioSetup::default(),
            spec,
            rig: None,
            defaults: PaymentDefaults {
                card: "4242424242424242".to_owned(),
                behavior: OfflineBehavior::PreferOnline,
            },
            history: None,
            pos_log: Vec::new(),
            views: Vec::new(),
            payments: Vec::new(),
        }
    }

    /// A world for one scenario of a run configured by `setup` (what
    /// `readerlab explore` runs its cases in).
    pub(crate) fn with_setup(setup: ScenarioSetup) -> LabWorld {
        let mut world = LabWorld::new();
        world.set_up(setup);
        world
    }

    /// Takes the run's configuration (the before-hook calls this).
    pub fn set_up(&mut self, setup: ScenarioSetup) {
        self.spec.seed = setup.seed;
        self.spec.defects = setup.defects.clone();
        self.spec.source = setup.source.clone();
        self.setup = setup;
    }

    /// Skips the scenario unless the target can do `capability`.
    pub(crate) fn need(&self, capability: Capability) {
        if !self.setup.target.capabilities().contains(&capability) {
            let reason = format!(
                "the {} target cannot do this step (needs {capability})",
                self.setup.target.name()
            );
            std::panic::panic_any(Skipped(reason));
        }
    }

    /// The rig's specification, while it can still change.
    pub(crate) fn configure(&mut self) -> Result<&mut RigSpec, String> {
        if self.rig.is_some() {
            return Err("the rig is already running: describe it (Given steps about the rig \
                        and its configuration) before the first step that acts"
                .to_owned());
        }
        Ok(&mut self.spec)
    }

    /// The running rig, started on first use.
    pub(crate) fn rig(&mut self) -> Result<&mut dyn Rig, String> {
        if self.history.is_some() {
            return Err("the run has already ended".to_owned());
        }
        if self.rig.is_none() {
            if self.spec.readers.is_empty() {
                return Err("the rig has no reader yet: start with a step such as \
                            `Given a rig with a Stripe Reader M2`"
                    .to_owned());
            }
            let rig = match self.setup.target.start(self.spec.clone()) {
                Ok(rig) => rig,
                Err(StartError::Unsupported(reason)) => std::panic::panic_any(Skipped(reason)),
                Err(e) => return Err(e.to_string()),
            };
            self.rig = Some(rig);
        }
        Ok(self.rig.as_deref_mut().expect("started above"))
    }

    /// The history so far (the whole of it once finished).
    pub fn events(&self) -> &[Event] {
        match (&self.history, &self.rig) {
            (Some(history), _) => history,
            (None, Some(rig)) => rig.events(),
            (None, None) => &[],
        }
    }

    /// Ends the run (once) and returns the whole history, or `None` when
    /// the scenario never started a rig.
    pub fn finish(&mut self) -> Option<&[Event]> {
        if self.history.is_none()
            && let Some(rig) = self.rig.take()
        {
            let (history, log) = rig.finish_with_log();
            self.history = Some(history);
            self.pos_log = log;
        }
        self.history.as_deref()
    }

    /// Ends the run (once) and hands over the whole history, or nothing when
    /// the scenario never started a rig.
    pub fn into_history(mut self) -> Vec<Event> {
        self.finish();
        self.history.unwrap_or_default()
    }

    /// Index of the reader a phrase names: `the reader` (the first), or
    /// the rig's reader of a model.
    pub(crate) fn reader(&self, phrase: impl Into<ReaderPhrase>) -> Result<usize, String> {
        match phrase.into() {
            ReaderPhrase::First if self.spec.readers.is_empty() => {
                Err("the rig has no reader yet".to_owned())
            }
            ReaderPhrase::First => Ok(0),
            ReaderPhrase::Model(model) => {
                let missing = || format!("the rig has no {}", ModelName(model));
                self.spec.readers.iter().position(|m| *m == model).ok_or_else(missing)
            }
        }
    }

    /// The device that stores the payments a phrase names: `the POS`, or a
    /// smart reader (a device of its own; a mobile reader's payments live
    /// on the POS).
    pub(crate) fn device(&self, phrase: impl Into<DevicePhrase>) -> Result<Device, String> {
        let reader = match phrase.into() {
            DevicePhrase::Pos => return Ok(Device::Pos),
            DevicePhrase::Reader(reader) => reader,
        };
        let index = self.reader(reader)?;
        if self.spec.readers[index].family() == Family::Smart {
            Ok(Device::Reader(index))
        } else {
            Err(format!(
                "{reader} is a mobile reader: it stores nothing; its payments are stored by \
                 the POS (say `the POS`)"
            ))
        }
    }

    /// The device a phrase names, whether it stores payments or not: the
    /// POS, or any reader.
    pub(crate) fn device_or_reader(
        &self,
        phrase: impl Into<DevicePhrase>,
    ) -> Result<Device, String> {
        match phrase.into() {
            DevicePhrase::Pos => Ok(Device::Pos),
            DevicePhrase::Reader(reader) => Ok(Device::Reader(self.reader(reader)?)),
        }
    }

    /// The history part of a device (`pos`, `reader/<serial>`).
    pub(crate) fn part_of(&self, device: Device) -> String {
        match device {
            Device::Pos => "pos".to_owned(),
            Device::Reader(index) => format!("reader/{}", self.serial(index)),
        }
    }

    /// A reader's serial, as `rig.started` recorded it.
    pub(crate) fn serial(&self, index: usize) -> String {
        self.events()
            .iter()
            .find_map(|e| match &e.body {
                EventBody::RigStarted { readers, .. } => {
                    readers.get(index).map(|r| r.serial.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| format!("#{index}"))
    }

    /// Whether reader `index` stores its own payments, as `rig.started`
    /// recorded it.
    pub(crate) fn stores_own(&self, index: usize) -> bool {
        self.events().iter().any(|e| match &e.body {
            EventBody::RigStarted { readers, .. } => {
                readers.get(index).is_some_and(|r| r.stored_by == StoredBy::Reader)
            }
            _ => false,
        })
    }
}

/// Parses `12.50 USD` (or `1000 JPY`) into minor units, as the steps write
/// amounts (the `{amount}` parameter type); public for the fuzz targets.
pub fn parse_money(text: &str) -> Result<readerlab_emulator::core::Money, String> {
    text.parse::<params::Amount>().map(|amount| amount.0).map_err(|e| e.to_string())
}

/// Parses an OfflineBehavior as the SDK spells it.
pub(crate) fn parse_behavior(text: &str) -> Result<OfflineBehavior, String> {
    match text {
        "PREFER_ONLINE" => Ok(OfflineBehavior::PreferOnline),
        "REQUIRE_ONLINE" => Ok(OfflineBehavior::RequireOnline),
        "FORCE_OFFLINE" => Ok(OfflineBehavior::ForceOffline),
        other => Err(format!("`{other}` is not an OfflineBehavior")),
    }
}

/// `a`/`an`/a number, as steps write counts.
pub(crate) fn parse_count(text: &str) -> Result<u64, String> {
    match text {
        "a" | "an" | "one" => Ok(1),
        other => other.parse().map_err(|_| format!("`{other}` is not a number")),
    }
}

/// `count` seconds, minutes, hours or days (`unit` in the singular), as
/// the time step writes a span: `a day`, `90 minutes`. At most 366 days,
/// the most one request moves a served rig's clock
/// (`serve::control::MAX_SPAN_MS`): rig time is work, and a step of a
/// million days would hold the run, and grow its history, for good.
pub fn parse_span(count: &str, unit: &str) -> Result<Duration, String> {
    let count = parse_count(count)?;
    if unit == "millisecond" {
        let most = readerlab_emulator::serve::control::MAX_SPAN_MS;
        return match count {
            ms if ms <= most => Ok(Duration::from_millis(ms)),
            _ => Err(format!("{count} milliseconds is more than one step lets pass (366 days)")),
        };
    }
    let seconds: u64 = match unit {
        "second" => 1,
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        other => return Err(format!("`{other}` is not a second, minute, hour or day")),
    };
    // The step's pattern takes any number of digits.
    let most = readerlab_emulator::serve::control::MAX_SPAN_MS / 1000;
    match count.checked_mul(seconds) {
        Some(span) if span <= most => Ok(Duration::from_secs(span)),
        _ => Err(format!(
            "{count} {unit}s is more than one step lets pass (366 days): write several steps"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use readerlab_emulator::core::{Currency, Money};

    #[test]
    fn amounts_parse_in_minor_units() {
        assert_eq!(parse_money("12.50 USD"), Ok(Money::new(1_250, Currency::USD)));
        assert_eq!(parse_money("10000 USD"), Ok(Money::new(1_000_000, Currency::USD)));
        let jpy: Currency = "jpy".parse().unwrap();
        assert_eq!(parse_money("1000 JPY"), Ok(Money::new(1_000, jpy)));
        assert!(parse_money("10.5 USD").is_err());
        assert!(parse_money("10.50 JPY").is_err());
        assert!(parse_money("ten USD").is_err());
    }

    /// Found by `fuzz_step_arguments`: the steps' patterns take any number
    /// of digits, and the conversion to minor units overflowed (a panic in
    /// a debug build, a wrapped amount in a release one); so did a span of
    /// days, and one that fits in u64 ran the simulator for good.
    #[test]
    fn amounts_beyond_u64_and_spans_beyond_366_days_are_refused() {
        let error = parse_money("999999942949672969 USD").unwrap_err();
        assert!(error.contains("more minor units"), "{error}");
        assert!(parse_money("184467440737095516.16 USD").is_err());
        let most = parse_money("184467440737095516.15 USD").unwrap();
        assert_eq!(most.amount, u64::MAX);
        assert_eq!(parse_money("18446744073709551615 JPY").unwrap().amount, u64::MAX);
        assert_eq!(parse_span("a", "day"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_span("90", "minute"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_span("250", "millisecond"), Ok(Duration::from_millis(250)));
        let error = parse_span("213503982334602", "day").unwrap_err();
        assert!(error.contains("366 days"), "{error}");
        assert_eq!(parse_span("366", "day"), Ok(Duration::from_secs(366 * 86_400)));
        assert!(parse_span("367", "day").is_err(), "a step would run the rig for good");
    }
}
