//! Devices and power: a reader reboots, a device loses power (at once or in
//! the middle of a write, tearing it), the app is killed, upgraded from the
//! version that wrote the old store format, or has its data wiped, the
//! device is locked (its keys unavailable), a reader's battery swings, or an
//! update server offers a required update.

use super::{Draw, Fault, FaultRates, secs};
use crate::core::FaultKind;
use crate::core::reader::{Input as ReaderInput, UpdateOffer};
use crate::disk::Disk;
use crate::sim::{Device, FaultError, Sim, Timer};
use crate::store::legacy;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A fault of a device or its power.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerFault {
    /// The app asks the reader to reboot.
    ReaderReboot { reader: usize },
    /// The device loses power: at once, or during its next disk write
    /// (`mid_write`), keeping `torn` bytes of unsynced data. Power returns
    /// after `off_for`.
    PowerLoss { device: Device, torn: usize, mid_write: bool, off_for: Duration },
    /// The app is killed; it starts again when cleared.
    AppKill { device: Device },
    /// The app is upgraded from a version that wrote the old store format.
    AppUpgrade { device: Device },
    /// The device is locked (keys unavailable) until cleared.
    DeviceLocked { device: Device },
    /// The reader's battery reads `percent`.
    Battery { reader: usize, percent: u8, charging: bool },
    /// The update server offers the reader a required update.
    RequiredUpdate { reader: usize },
    /// The app's data (store and keys) is erased.
    AppDataWiped { device: Device },
}

impl PowerFault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            PowerFault::ReaderReboot { .. } => FaultKind::ReaderReboot,
            PowerFault::PowerLoss { .. } => FaultKind::PowerLoss,
            PowerFault::AppKill { .. } => FaultKind::AppKill,
            PowerFault::AppUpgrade { .. } => FaultKind::AppUpgrade,
            PowerFault::DeviceLocked { .. } => FaultKind::DeviceLocked,
            PowerFault::Battery { .. } => FaultKind::Battery,
            PowerFault::RequiredUpdate { .. } => FaultKind::RequiredUpdate,
            PowerFault::AppDataWiped { .. } => FaultKind::AppDataWiped,
        }
    }

    /// The device it hits (a reader's faults hit that reader).
    pub fn device(&self) -> Device {
        match self {
            PowerFault::ReaderReboot { reader }
            | PowerFault::Battery { reader, .. }
            | PowerFault::RequiredUpdate { reader } => Device::Reader(*reader),
            PowerFault::PowerLoss { device, .. }
            | PowerFault::AppKill { device }
            | PowerFault::AppUpgrade { device }
            | PowerFault::DeviceLocked { device }
            | PowerFault::AppDataWiped { device } => *device,
        }
    }

    pub(super) fn validate(&self, sim: &Sim, fault: &Fault) -> Result<(), FaultError> {
        match self {
            PowerFault::ReaderReboot { reader }
            | PowerFault::Battery { reader, .. }
            | PowerFault::RequiredUpdate { reader } => sim.validate_reader(*reader),
            // A mobile reader loses power too; it only has nothing to tear.
            PowerFault::PowerLoss { device: Device::Reader(i), torn, mid_write, .. } => {
                sim.validate_reader(*i)?;
                if *torn > 0 || *mid_write {
                    sim.require_simulated_medium(Device::Reader(*i), fault)?;
                }
                Ok(())
            }
            PowerFault::PowerLoss { device, torn, mid_write, .. } => {
                sim.validate_device(*device, fault)?;
                if *torn > 0 || *mid_write {
                    sim.require_simulated_medium(*device, fault)?;
                }
                Ok(())
            }
            PowerFault::DeviceLocked { device } => {
                sim.validate_device(*device, fault)?;
                sim.require_simulated_medium(*device, fault)
            }
            PowerFault::AppKill { device }
            | PowerFault::AppUpgrade { device }
            | PowerFault::AppDataWiped { device } => sim.validate_device(*device, fault),
        }
    }
}

/// A busy day's reboots, power losses, kills, an upgrade, locked devices,
/// battery swings and a required update.
pub(super) fn draw(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.times(rates.reader_reboot, |rng, rig| {
        (PowerFault::ReaderReboot { reader: rng.random_range(0..rig.readers) }.into(), None)
    });
    draw.times(rates.power_loss, |rng, rig| {
        let device = rig.device(rng);
        let mid_write = rng.random_bool(0.5);
        let torn = rng.random_range(0..64);
        let off_for = secs(rng.random_range(5..60));
        (PowerFault::PowerLoss { device, torn, mid_write, off_for }.into(), None)
    });
    if !draw.targets.mobile.is_empty() {
        draw.times(rates.mobile_reader_power_loss, |rng, rig| {
            let reader = rig.mobile[rng.random_range(0..rig.mobile.len())];
            let off_for = secs(rng.random_range(5..60));
            let device = Device::Reader(reader);
            (PowerFault::PowerLoss { device, torn: 0, mid_write: false, off_for }.into(), None)
        });
    }
    draw.times(rates.app_kill, |rng, rig| {
        let device = rig.device(rng);
        (PowerFault::AppKill { device }.into(), Some(secs(rng.random_range(2..60))))
    });
    draw.times(rates.app_upgrade, |rng, rig| {
        (PowerFault::AppUpgrade { device: rig.device(rng) }.into(), None)
    });
    draw.times(rates.device_locked, |rng, rig| {
        let hold = secs(rng.random_range(30..900));
        (PowerFault::DeviceLocked { device: rig.device(rng) }.into(), Some(hold))
    });
    draw.times(rates.battery, |rng, rig| {
        let reader = rng.random_range(0..rig.readers);
        let percent = rng.random_range(3..100);
        let charging = rng.random_bool(0.5);
        (PowerFault::Battery { reader, percent, charging }.into(), None)
    });
    draw.times(rates.required_update, |rng, rig| {
        (PowerFault::RequiredUpdate { reader: rng.random_range(0..rig.readers) }.into(), None)
    });
}

impl Sim {
    pub(super) fn perform_power(
        &mut self,
        fault: &PowerFault,
        whole: &Fault,
    ) -> Result<Option<String>, FaultError> {
        let now = self.now;
        Ok(match fault {
            PowerFault::ReaderReboot { reader } => {
                let _ = self.readers[*reader].reader.handle(now, ReaderInput::Reboot);
                // A smart reader's offline engine goes down with it and comes
                // back when the reboot finishes (its store was synced).
                if let Some(slot) = self.slot_mut(Device::Reader(*reader)) {
                    slot.kill();
                    slot.powered = false;
                    let back = now + Duration::from_secs(45);
                    self.at(back, Timer::PowerOn(Device::Reader(*reader)));
                }
                None
            }
            PowerFault::PowerLoss { device, torn, mid_write, off_for } => {
                self.power_loss(*device, *torn, *mid_write, *off_for);
                Some(format!(
                    "torn {torn} bytes{}, off {} s",
                    if *mid_write { ", during the next write" } else { "" },
                    off_for.as_secs()
                ))
            }
            PowerFault::AppKill { device } => {
                let slot = self.slot_mut(*device).expect("validated");
                slot.kill();
                slot.wanted = false;
                None
            }
            PowerFault::AppUpgrade { device } => {
                let running = self.slot(*device).and_then(|s| s.running.as_ref());
                let Some(running) = running else {
                    return Err(self.no_effect(whole, "the app is not running"));
                };
                if running.store().corrupt().next().is_some() {
                    // A damaged record not yet reported has no format-1 form.
                    return Err(self.no_effect(whole, "the store holds a damaged record"));
                }
                self.upgrade(*device);
                None
            }
            PowerFault::DeviceLocked { device } => {
                let slot = self.slot(*device).expect("validated");
                slot.keys.simulated().expect("checked by validate").lock();
                None
            }
            PowerFault::Battery { reader, percent, charging } => {
                let input = ReaderInput::Battery { percent: *percent, charging: *charging };
                let _ = self.readers[*reader].reader.handle(now, input);
                if !charging {
                    // Someone plugs it in twenty minutes later.
                    let charge =
                        PowerFault::Battery { reader: *reader, percent: 100, charging: true };
                    self.at(now + Duration::from_secs(1_200), Timer::Inject(charge.into(), None));
                }
                Some(format!("{percent}%{}", if *charging { " charging" } else { "" }))
            }
            PowerFault::RequiredUpdate { reader } => {
                let version = format!(
                    "2.{}.0",
                    self.faults.get(&FaultKind::RequiredUpdate).unwrap_or(&0) + 1
                );
                let offer = UpdateOffer::new(version.clone(), true);
                let _ = self.readers[*reader].reader.handle(now, ReaderInput::OfferUpdate(offer));
                Some(version)
            }
            PowerFault::AppDataWiped { device } => {
                let slot = self.slot_mut(*device).expect("validated");
                slot.kill();
                let names = slot.disk.list().unwrap_or_default();
                for name in &names {
                    let _ = slot.disk.remove(name);
                }
                // The user opens the app again: it starts on an empty store.
                self.start_device(*device);
                Some(format!("{} files erased", names.len()))
            }
        })
    }

    pub(super) fn undo_power(&mut self, fault: &PowerFault) {
        match fault {
            PowerFault::AppKill { device } => {
                self.slot_mut(*device).expect("validated").wanted = true;
                self.start_device(*device);
            }
            PowerFault::DeviceLocked { device } => {
                if let Some(keys) = self.slot(*device).expect("validated").keys.simulated() {
                    keys.unlock();
                }
                self.start_device(*device);
            }
            _ => {}
        }
    }

    fn power_loss(&mut self, device: Device, torn: usize, mid_write: bool, off_for: Duration) {
        let now = self.now;
        if let Device::Reader(i) = device {
            self.readers[i].power_fault = true;
            if self.readers[i].device.is_none() || !mid_write {
                let _ = self.readers[i].reader.handle(now, ReaderInput::PowerOff);
            }
        }
        let Some(slot) = self.slot_mut(device) else {
            // A mobile reader: it stores nothing; power returns later.
            self.at(now + off_for, Timer::PowerOn(device));
            return;
        };
        let disk = slot.disk.clone();
        if mid_write {
            let disk = disk.simulated().expect("checked by validate");
            // The power goes during the device's next write: the append goes
            // through, the sync does not, and `torn` bytes of it survive. The
            // rig notices when the device touches the dead disk
            // (`check_power`) and brings the power back `off_for` later.
            disk.cut_power_after(1, torn);
            slot.off_for = off_for;
            return;
        }
        slot.kill();
        slot.powered = false;
        // On real files the app dies and what the operating system has
        // written stays (no torn tail: validate refused one).
        if let Some(disk) = disk.simulated() {
            disk.power_loss(torn);
        }
        self.at(now + off_for, Timer::PowerOn(device));
    }

    pub(crate) fn power_on(&mut self, device: Device) {
        let now = self.now;
        if let Device::Reader(i) = device {
            self.readers[i].power_fault = false;
            if !self.readers[i].reader.is_powered() {
                let _ = self.readers[i].reader.handle(now, ReaderInput::PowerOn);
            }
        }
        if let Some(slot) = self.slot_mut(device) {
            if let Some(disk) = slot.disk.simulated().filter(|d| d.is_powered_off()) {
                disk.power_on();
            }
            slot.powered = true;
        }
        self.start_device(device);
    }

    /// A device whose disk lost its power mid-write is down: its app dies
    /// with it, and its power returns a little later.
    pub(crate) fn check_power(&mut self, device: Device) {
        let Some(slot) = self.slot_untouched(device) else { return };
        if !slot.powered || !slot.disk.is_powered_off() {
            return;
        }
        slot.kill();
        slot.powered = false;
        let off_for = slot.off_for;
        if let Device::Reader(index) = device {
            let now = self.now;
            let _ = self.readers[index].reader.handle(now, ReaderInput::PowerOff);
            self.readers[index].power_fault = true;
        }
        let back = self.now + off_for;
        self.at(back, Timer::PowerOn(device));
    }

    /// The app is replaced by a new version; the old one had written its
    /// store in format 1.
    fn upgrade(&mut self, device: Device) {
        let slot = self.slot_mut(device).expect("validated");
        let pending: Vec<_> = match slot.running.as_ref() {
            Some(running) => running.store().pending().cloned().collect(),
            None => return,
        };
        slot.kill();
        let (mut disk, mut keys) = (slot.disk.clone(), slot.keys.clone());
        // Records the old app could not read are not carried over; a locked
        // or full device keeps the current file and the upgrade is a restart.
        let _ = legacy::write_v1(&mut disk, &mut keys, &pending);
        self.start_device(device);
    }
}
