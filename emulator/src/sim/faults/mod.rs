//! Faults the simulator can place (docs/design.md §5), one file per family:
//! [`links`] (drops, flapping, latency, lost requests and answers),
//! [`power`] (devices and power: reboots, power loss, app kills and
//! upgrades, battery, updates, wiped data), [`storage`] (full disks, damaged
//! records, locked keys), [`backend`] (HTTP errors, declines on sync, token
//! failures) and [`bluetooth`] (the radio, the signal, USB, notifications,
//! MTU and connection interval). Each family owns its variants and, for
//! them, what a fault hits, when it applies, how it is performed and undone,
//! and how a random plan draws it; adding a fault kind touches its family's
//! file, its [`FaultKind`] name in the core and the docs.
//!
//! A fault is plain data. [`Sim::inject`] performs it at once (a scenario
//! step), [`Sim::schedule`] at a virtual time; request faults fire on the
//! n-th matching request of a link; [`FaultPlan::random`] draws a busy day of
//! them from the run's seed at the rates of [`FaultRates`]. Sustained faults
//! (a link down, a locked device, ...) hold until [`Sim::clear`].
//!
//! Names are one vocabulary from the core to the control API: a fault is
//! written `{"link_down": {"link": ...}}`, its [`FaultKind`] name as the
//! history says it. The older CamelCase names (`{"LinkDown": ...}`) are still
//! read, with a warning on stderr, and are deprecated.

pub mod backend;
pub mod bluetooth;
pub mod links;
pub mod power;
pub mod storage;

pub use backend::BackendFault;
pub use bluetooth::BluetoothFault;
pub use links::LinkFault;
pub use power::PowerFault;
pub use storage::StorageFault;

use super::links::LinkId;
use super::{FaultError, Sim, Timer};
use crate::core::FaultKind;
use crate::core::Millis;
use crate::core::{EventBody, Part};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A device that stores offline payments: the POS (mobile readers) or a
/// smart reader, by its index in the rig.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Device {
    /// The POS app and its SDK.
    Pos,
    /// The reader with this index.
    Reader(usize),
}

/// One fault, with its target and parameters, by family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Fault {
    /// Internet links and the requests on them.
    Link(LinkFault),
    /// Devices and their power.
    Power(PowerFault),
    /// Disks and keys.
    Storage(StorageFault),
    /// The backend's answers.
    Backend(BackendFault),
    /// The POS's link to a mobile reader.
    Bluetooth(BluetoothFault),
}

macro_rules! from_family {
    ($($family:ident($ty:ty)),*) => {$(
        impl From<$ty> for Fault {
            fn from(fault: $ty) -> Fault {
                Fault::$family(fault)
            }
        }
    )*};
}
from_family!(
    Link(LinkFault),
    Power(PowerFault),
    Storage(StorageFault),
    Backend(BackendFault),
    Bluetooth(BluetoothFault)
);

/// Set once a deprecated CamelCase fault name was read, so the warning is
/// printed once per process.
static WARNED_CAMEL_CASE: AtomicBool = AtomicBool::new(false);

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Fault, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        let value = snake_case_name(value);
        let mut unknown = true;
        let mut errors = Vec::new();
        macro_rules! attempt {
            ($($family:ident),*) => {$(
                match serde_json::from_value(value.clone()) {
                    Ok(fault) => return Ok(Fault::$family(fault)),
                    Err(e) => {
                        let text = e.to_string();
                        if !text.starts_with("unknown variant") {
                            unknown = false;
                            errors.push(text);
                        }
                    }
                }
            )*};
        }
        attempt!(Link, Power, Storage, Backend, Bluetooth);
        if unknown {
            let name = match &value {
                serde_json::Value::String(name) => name.clone(),
                serde_json::Value::Object(map) if map.len() == 1 => {
                    map.keys().next().cloned().unwrap_or_default()
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "a fault is an object with one key, its name (`{{\"link_down\": {{...}}}}`), not `{other}`"
                    )));
                }
            };
            let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
            return Err(D::Error::custom(format!(
                "unknown variant `{name}`, expected one of {}",
                known.join(", ")
            )));
        }
        Err(D::Error::custom(errors.join("; ")))
    }
}

/// A fault's name in the deprecated CamelCase spelling becomes its
/// snake_case name (with a warning, once).
fn snake_case_name(value: serde_json::Value) -> serde_json::Value {
    let convert = |name: &str| -> Option<String> {
        if !name.chars().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        FaultKind::ALL.iter().any(|k| k.name() == out).then_some(out)
    };
    let warn = |old: &str, new: &str| {
        if !WARNED_CAMEL_CASE.swap(true, Ordering::Relaxed) {
            eprintln!(
                "readerlab: the fault name `{old}` is deprecated and will be removed; write \
                 `{new}` (faults are named as the history names them, docs/control-api.md)"
            );
        }
    };
    match value {
        serde_json::Value::String(name) => match convert(&name) {
            Some(new) => {
                warn(&name, &new);
                serde_json::Value::String(new)
            }
            None => serde_json::Value::String(name),
        },
        serde_json::Value::Object(map) if map.len() == 1 => {
            let (name, body) = map.into_iter().next().expect("one key");
            let name = match convert(&name) {
                Some(new) => {
                    warn(&name, &new);
                    new
                }
                None => name,
            };
            serde_json::Value::Object([(name, body)].into_iter().collect())
        }
        other => other,
    }
}

impl Fault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Link(f) => f.kind(),
            Fault::Power(f) => f.kind(),
            Fault::Storage(f) => f.kind(),
            Fault::Backend(f) => f.kind(),
            Fault::Bluetooth(f) => f.kind(),
        }
    }

    /// Whether it holds until cleared (a one-shot full disk does not).
    pub fn is_sustained(&self) -> bool {
        match self {
            Fault::Storage(f) => f.is_sustained(),
            other => other.kind().is_sustained(),
        }
    }

    /// Armed on a link or a disk: it takes effect, and is recorded, when its
    /// request or write comes (`request_fault_fired`, `check_write_fault`).
    fn is_armed(&self) -> bool {
        matches!(
            self,
            Fault::Link(LinkFault::RequestTimeout { .. } | LinkFault::ResponseLost { .. })
                | Fault::Storage(StorageFault::StorageFull { nth_write: Some(_), .. })
        )
    }
}

/// A fault placed at a virtual time, with how long a sustained one holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedFault {
    /// When it is injected.
    pub at: Millis,
    /// The fault.
    pub fault: Fault,
    /// For a sustained fault: cleared this long after.
    pub holds_for: Option<Duration>,
}

/// What the random plan may draw from, given the rig.
#[derive(Clone, Debug)]
pub struct PlanShape {
    /// The run's length.
    pub duration: Duration,
    /// Reader count, and which of them are smart (store their own payments).
    pub smart: Vec<bool>,
    /// Whether the POS reaches a mobile reader over Bluetooth or USB.
    pub mobile_link: Option<crate::core::LinkKind>,
    /// How busy: faults per kind scale with this (1.0: a busy day).
    pub intensity: f64,
}

/// How many of each fault a busy day has (per 24 h at intensity 1), in one
/// place. The plan draws them in the order of [`FaultPlan::random`], which is
/// part of the case stream: a seed's plan stays the same only while that
/// order does.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRates {
    pub link_down: f64,
    pub link_flapping: f64,
    pub latency: f64,
    pub response_lost: f64,
    pub request_timeout: f64,
    pub http_error: f64,
    pub reader_reboot: f64,
    /// Power lost on a device that stores payments.
    pub power_loss: f64,
    /// Power lost on a mobile reader (it stores nothing).
    pub mobile_reader_power_loss: f64,
    pub app_kill: f64,
    pub app_upgrade: f64,
    pub device_locked: f64,
    pub battery: f64,
    pub required_update: f64,
    pub bluetooth_radio_off: f64,
    /// A lost signal, or a pulled USB cable on a USB rig.
    pub signal_lost: f64,
    /// One notification of a payment lost on the air (Bluetooth rigs).
    pub notification_dropped: f64,
    /// Every notification late for a while (Bluetooth rigs).
    pub notification_delayed: f64,
    /// The ATT MTU renegotiated down for a while (Bluetooth rigs).
    pub mtu_reduced: f64,
    /// A slow connection interval for a while (Bluetooth rigs).
    pub slow_connection_interval: f64,
    pub storage_full: f64,
    pub decline_on_sync: f64,
    pub token_provider_failure: f64,
    pub account_mismatch: f64,
    /// Each with an outage of its device's internet around it.
    pub record_corrupted: f64,
}

impl Default for FaultRates {
    fn default() -> FaultRates {
        FaultRates {
            link_down: 12.0,
            link_flapping: 3.0,
            latency: 3.0,
            response_lost: 12.0,
            request_timeout: 6.0,
            http_error: 4.0,
            reader_reboot: 3.0,
            power_loss: 4.0,
            mobile_reader_power_loss: 2.0,
            app_kill: 4.0,
            app_upgrade: 1.0,
            device_locked: 2.0,
            battery: 2.0,
            required_update: 1.0,
            bluetooth_radio_off: 2.0,
            signal_lost: 4.0,
            notification_dropped: 3.0,
            notification_delayed: 2.0,
            mtu_reduced: 1.5,
            slow_connection_interval: 1.5,
            storage_full: 2.0,
            decline_on_sync: 3.0,
            token_provider_failure: 2.0,
            account_mismatch: 0.5,
            record_corrupted: 1.5,
        }
    }
}

/// A schedule of faults, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The faults, sorted by time.
    pub faults: Vec<PlacedFault>,
}

/// The rig as the families draw against it.
#[derive(Debug)]
pub(crate) struct Targets {
    /// The run's length in milliseconds.
    span: u64,
    /// Devices that store payments.
    pub(crate) devices: Vec<Device>,
    /// Internet links.
    pub(crate) internet: Vec<LinkId>,
    /// Reader count.
    pub(crate) readers: usize,
    /// Indices of the mobile readers.
    pub(crate) mobile: Vec<usize>,
    /// How the POS reaches its mobile reader.
    pub(crate) mobile_link: Option<crate::core::LinkKind>,
}

impl Targets {
    /// A random instant in the first 90 % of the run (so the run ends with
    /// time for the rig to settle).
    pub(crate) fn at(&self, rng: &mut ChaCha8Rng) -> Millis {
        Millis(rng.random_range(0..self.span * 9 / 10))
    }

    pub(crate) fn device(&self, rng: &mut ChaCha8Rng) -> Device {
        self.devices[rng.random_range(0..self.devices.len())]
    }

    pub(crate) fn internet_link(&self, rng: &mut ChaCha8Rng) -> LinkId {
        self.internet[rng.random_range(0..self.internet.len())]
    }
}

/// A plan being drawn: the seed's generator, the rig's targets, and the
/// faults so far.
#[derive(Debug)]
pub(crate) struct Draw<'a> {
    rng: &'a mut ChaCha8Rng,
    scale: f64,
    pub(crate) targets: Targets,
    faults: Vec<PlacedFault>,
}

impl Draw<'_> {
    fn count(&mut self, per_day: f64) -> u32 {
        let count = per_day * self.scale;
        count.floor() as u32 + u32::from(self.rng.random_bool(count.fract()))
    }

    /// About `per_day` faults a day, each at a random time of the run.
    pub(crate) fn times(
        &mut self,
        per_day: f64,
        mut make: impl FnMut(&mut ChaCha8Rng, &Targets) -> (Fault, Option<Duration>),
    ) {
        for _ in 0..self.count(per_day) {
            let at = self.targets.at(self.rng);
            let (fault, holds_for) = make(self.rng, &self.targets);
            self.faults.push(PlacedFault { at, fault, holds_for });
        }
    }

    /// Like [`Draw::times`], for a fault that comes with others around it:
    /// `make` places each occurrence itself.
    pub(crate) fn occurrences(
        &mut self,
        per_day: f64,
        mut make: impl FnMut(&mut ChaCha8Rng, &Targets, &mut Vec<PlacedFault>),
    ) {
        for _ in 0..self.count(per_day) {
            make(self.rng, &self.targets, &mut self.faults);
        }
    }
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl FaultPlan {
    /// A busy day of faults for a rig of this shape, drawn from `rng` at the
    /// default [`FaultRates`].
    pub fn random(shape: &PlanShape, rng: &mut ChaCha8Rng) -> FaultPlan {
        FaultPlan::random_at(shape, &FaultRates::default(), rng)
    }

    /// A plan at these rates: network drops and flapping on every internet
    /// link, lost responses and timeouts, HTTP errors, reboots and power
    /// losses, app kills, an upgrade, locked devices, battery swings, radio
    /// and signal loss, a required update, full disks, a damaged record,
    /// declines on sync and token failures. Each family draws its own; the
    /// order below is the order of the seed's draws.
    pub fn random_at(shape: &PlanShape, rates: &FaultRates, rng: &mut ChaCha8Rng) -> FaultPlan {
        let span = shape.duration.as_millis() as u64;
        let mut devices = Vec::new();
        let mut internet = vec![LinkId::PosBackend];
        if shape.smart.iter().any(|s| !s) {
            devices.push(Device::Pos);
        }
        for (i, smart) in shape.smart.iter().enumerate() {
            if *smart {
                devices.push(Device::Reader(i));
                internet.push(LinkId::ReaderBackend(i));
            }
        }
        let targets = Targets {
            span,
            devices,
            internet,
            readers: shape.smart.len(),
            mobile: (0..shape.smart.len()).filter(|i| !shape.smart[*i]).collect(),
            mobile_link: shape.mobile_link,
        };
        let scale = shape.intensity * span as f64 / 86_400_000.0;
        let mut draw = Draw { rng, scale, targets, faults: Vec::new() };
        links::draw(&mut draw, rates);
        backend::draw_http_errors(&mut draw, rates);
        power::draw(&mut draw, rates);
        bluetooth::draw(&mut draw, rates);
        storage::draw_storage_full(&mut draw, rates);
        backend::draw(&mut draw, rates);
        storage::draw_record_corrupted(&mut draw, rates);
        let mut plan = FaultPlan { faults: draw.faults };
        plan.faults.sort_by_key(|p| p.at);
        plan
    }
}

impl Sim {
    /// The name a fault event gives a device.
    pub(super) fn device_target(&self, device: Device) -> String {
        match device {
            Device::Pos => "pos".to_owned(),
            Device::Reader(index) => self.reader_name(index),
        }
    }

    /// `reader/<serial>`; for an index the rig does not have, `reader/#<index>`,
    /// which names no fault in effect: a fault to clear is not validated
    /// first (the control API's `POST /faults/clear` found this).
    fn reader_name(&self, index: usize) -> String {
        match self.readers.get(index) {
            Some(slot) => format!("reader/{}", slot.reader.serial()),
            None => format!("reader/#{index}"),
        }
    }

    /// The name a fault event gives a link.
    pub(super) fn link_target(&self, link: LinkId) -> String {
        match link {
            LinkId::PosBackend => "pos~backend".to_owned(),
            LinkId::ReaderBackend(i) => format!("{}~backend", self.reader_name(i)),
            LinkId::PosReader(i) => format!("pos~{}", self.reader_name(i)),
        }
    }

    fn target_of(&self, fault: &Fault) -> String {
        match fault {
            Fault::Link(f) => self.link_target(f.link()),
            Fault::Power(f) => self.device_target(f.device()),
            Fault::Storage(f) => self.device_target(f.device()),
            Fault::Backend(_) => "backend".to_owned(),
            Fault::Bluetooth(f) => f.target(self),
        }
    }

    /// Checks that the fault's targets exist on this rig and that it can be
    /// performed there.
    fn validate(&self, fault: &Fault) -> Result<(), FaultError> {
        match fault {
            Fault::Link(f) => self.validate_link(f.link(), fault),
            Fault::Power(f) => f.validate(self, fault),
            Fault::Storage(f) => f.validate(self, fault),
            Fault::Backend(_) => Ok(()),
            Fault::Bluetooth(f) => f.validate(self, fault),
        }
    }

    /// The rig has this reader.
    pub(super) fn validate_reader(&self, index: usize) -> Result<(), FaultError> {
        if index < self.readers.len() { Ok(()) } else { Err(FaultError::NoSuchReader(index)) }
    }

    /// The device exists and stores payments.
    pub(super) fn validate_device(&self, device: Device, fault: &Fault) -> Result<(), FaultError> {
        match device {
            Device::Pos => Ok(()),
            Device::Reader(i) => {
                self.validate_reader(i)?;
                if self.readers[i].device.is_some() {
                    Ok(())
                } else {
                    Err(FaultError::NotApplicable {
                        fault: fault.kind(),
                        target: self.device_target(device),
                        why: "a mobile reader stores nothing; its POS does",
                    })
                }
            }
        }
    }

    /// Refuses what only a simulated disk or keychain can do on a device
    /// whose store is on real files.
    pub(super) fn require_simulated_medium(
        &self,
        device: Device,
        fault: &Fault,
    ) -> Result<(), FaultError> {
        match self.slot(device) {
            Some(slot) if slot.disk.simulated().is_none() || slot.keys.simulated().is_none() => {
                Err(FaultError::NotApplicable {
                    fault: fault.kind(),
                    target: self.device_target(device),
                    why: "its store is on real files, which cannot tear a write, fill up, \
                          rot or lock on demand (a simulated disk can)",
                })
            }
            _ => Ok(()),
        }
    }

    /// Ends a sustained fault at `at` (a fault injected now that should hold
    /// for a while).
    pub fn clear_at(&mut self, at: Millis, fault: Fault) {
        let at = at.max(self.now);
        self.at(at, Timer::Clear(fault));
    }

    /// Injects a fault now (a scenario step, or a placed fault falling due).
    pub fn inject(&mut self, fault: Fault) -> Result<(), FaultError> {
        self.validate(&fault)?;
        let kind = fault.kind();
        let target = self.target_of(&fault);
        let sustained = fault.is_sustained();
        if sustained && let Some((_, holds)) = self.active.get_mut(&(kind, target.clone())) {
            // Already in effect: it now also holds until this injection is
            // cleared; nothing changes, nothing to record.
            *holds += 1;
            return Ok(());
        }
        let detail = self.perform(&fault)?;
        if fault.is_armed() {
            return Ok(());
        }
        *self.faults.entry(kind).or_default() += 1;
        let now = self.now;
        let body =
            EventBody::FaultInjected { fault: kind, target: target.clone(), sustained, detail };
        self.record(now, Part("fault".to_owned()), body);
        if sustained {
            self.active.insert((kind, target), (fault, 1));
        }
        self.pump();
        Ok(())
    }

    /// Does what the fault does; returns the detail its event records.
    fn perform(&mut self, fault: &Fault) -> Result<Option<String>, FaultError> {
        match fault {
            Fault::Link(f) => Ok(self.perform_link(f)),
            Fault::Power(f) => self.perform_power(f, fault),
            Fault::Storage(f) => self.perform_storage(f, fault),
            Fault::Backend(f) => self.perform_backend(f),
            Fault::Bluetooth(f) => self.perform_bluetooth(f, fault),
        }
    }

    /// Undoes a sustained fault.
    fn undo(&mut self, fault: &Fault) {
        match fault {
            Fault::Link(f) => self.undo_link(f),
            Fault::Power(f) => self.undo_power(f),
            Fault::Storage(f) => self.undo_storage(f),
            Fault::Backend(_) => {}
            Fault::Bluetooth(f) => self.undo_bluetooth(f),
        }
    }

    /// Ends a sustained fault; nothing happens if it is not in effect.
    pub fn clear(&mut self, fault: &Fault) {
        let key = (fault.kind(), self.target_of(fault));
        let Some((_, holds)) = self.active.get_mut(&key) else { return };
        *holds -= 1;
        if *holds > 0 {
            return;
        }
        let (fault, _) = self.active.remove(&key).expect("looked up above");
        let now = self.now;
        let body = EventBody::FaultCleared { fault: key.0, target: key.1 };
        self.record(now, Part("fault".to_owned()), body);
        self.undo(&fault);
        self.pump();
    }

    pub(super) fn no_effect(&self, fault: &Fault, why: &'static str) -> FaultError {
        FaultError::NoEffect { fault: fault.kind(), target: self.target_of(fault), why }
    }

    /// Clears every fault: placed faults not yet due are dropped, sustained
    /// faults end, backend faults are disarmed, every link comes up, every
    /// device has power and its app runs.
    pub(super) fn settle(&mut self) {
        self.timers.retain(|_, t| !matches!(t, Timer::Inject(..) | Timer::Clear(..)));
        let active: Vec<Fault> = self.active.values().map(|(f, _)| f.clone()).collect();
        for fault in &active {
            if let Some((_, holds)) = self.active.get_mut(&(fault.kind(), self.target_of(fault))) {
                *holds = 1;
            }
            self.clear(fault);
        }
        let now = self.now;
        self.backend.clear_faults(now);
        let links: Vec<LinkId> = self.links.keys().copied().collect();
        for link in links {
            self.links.get_mut(&link).expect("listed").rules.clear();
            self.set_link(link, true);
        }
        for device in self.devices() {
            let slot = self.slot_mut(device).expect("listed");
            if let Some(disk) = slot.disk.simulated() {
                disk.fail_nth_write(u64::MAX);
                // A mid-write cut armed but not yet fired is disarmed.
                disk.cut_power_after(u64::MAX, 0);
            }
            if slot.disk.is_powered_off() || !slot.powered {
                self.power_on(device);
            }
        }
        for index in 0..self.readers.len() {
            if self.readers[index].power_fault {
                self.power_on(Device::Reader(index));
            }
        }
        self.pump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fault kind has a family variant whose written name is the
    /// kind's history name, and reads back from it and from the deprecated
    /// CamelCase spelling.
    #[test]
    fn fault_names_are_the_history_names_and_the_old_names_still_read() {
        let link = LinkId::ReaderBackend(0);
        let faults: Vec<Fault> = vec![
            LinkFault::LinkDown { link }.into(),
            BluetoothFault::BluetoothRadioOff.into(),
            PowerFault::AppKill { device: Device::Pos }.into(),
            StorageFault::StorageFull { device: Device::Pos, nth_write: Some(2) }.into(),
            BackendFault::AccountMismatch { times: 1 }.into(),
        ];
        for fault in faults {
            let json = serde_json::to_value(&fault).unwrap();
            let name = match &json {
                serde_json::Value::String(name) => name.clone(),
                serde_json::Value::Object(map) => map.keys().next().unwrap().clone(),
                other => panic!("{other}"),
            };
            assert_eq!(name, fault.kind().name(), "{json}");
            let back: Fault = serde_json::from_value(json).unwrap();
            assert_eq!(back, fault);
        }
        let old: Fault =
            serde_json::from_str(r#"{"LinkDown": {"link": {"ReaderBackend": 0}}}"#).unwrap();
        assert_eq!(old, LinkFault::LinkDown { link }.into());
        let old: Fault = serde_json::from_str(r#""BluetoothRadioOff""#).unwrap();
        assert_eq!(old, BluetoothFault::BluetoothRadioOff.into());
    }

    #[test]
    fn an_unknown_or_malformed_fault_is_named_in_the_error() {
        let e = serde_json::from_str::<Fault>(r#"{"link_dwn": {}}"#).unwrap_err().to_string();
        assert!(e.contains("unknown variant `link_dwn`") && e.contains("link_down"), "{e}");
        let e = serde_json::from_str::<Fault>(r#"{"link_down": {"lnk": 1}}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `link`"), "{e}");
    }
}
