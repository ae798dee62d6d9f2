//! Storage faults: a device's disk fills up (until cleared, or for its n-th
//! write only) or a stored payment's record is damaged on disk. Both need a
//! simulated disk; a store on real files refuses them.

use super::{Draw, Fault, FaultRates, secs};
use crate::core::FaultKind;
use crate::sim::links::LinkId;
use crate::sim::{Device, FaultError, PlacedFault, Sim};
use crate::store::{LOG_FILE, codec};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A fault of a device's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageFault {
    /// The device's disk is full until cleared, or only its `nth_write`-th
    /// write fails (one-shot).
    StorageFull { device: Device, nth_write: Option<u64> },
    /// A stored payment's record is damaged on disk.
    RecordCorrupted { device: Device },
}

impl StorageFault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            StorageFault::StorageFull { .. } => FaultKind::StorageFull,
            StorageFault::RecordCorrupted { .. } => FaultKind::RecordCorrupted,
        }
    }

    /// The device it hits.
    pub fn device(&self) -> Device {
        match self {
            StorageFault::StorageFull { device, .. } | StorageFault::RecordCorrupted { device } => {
                *device
            }
        }
    }

    /// A one-shot full disk does not hold.
    pub(super) fn is_sustained(&self) -> bool {
        match self {
            StorageFault::StorageFull { nth_write, .. } => nth_write.is_none(),
            StorageFault::RecordCorrupted { .. } => false,
        }
    }

    pub(super) fn validate(&self, sim: &Sim, fault: &Fault) -> Result<(), FaultError> {
        sim.validate_device(self.device(), fault)?;
        sim.require_simulated_medium(self.device(), fault)
    }
}

/// A busy day's full disks.
pub(super) fn draw_storage_full(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.times(rates.storage_full, |rng, rig| {
        let device = rig.device(rng);
        if rng.random_bool(0.5) {
            let hold = Some(secs(rng.random_range(30..600)));
            (StorageFault::StorageFull { device, nth_write: None }.into(), hold)
        } else {
            let nth_write = Some(rng.random_range(1..4));
            (StorageFault::StorageFull { device, nth_write }.into(), None)
        }
    });
}

/// A busy day's damaged records. A damaged record only matters while
/// payments wait, so each comes late in an outage of its device's own
/// internet (drawn last).
pub(super) fn draw_record_corrupted(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.occurrences(rates.record_corrupted, |rng, rig, plan| {
        let device = rig.device(rng);
        let link = match device {
            Device::Pos => LinkId::PosBackend,
            Device::Reader(i) => LinkId::ReaderBackend(i),
        };
        let at = rig.at(rng);
        let hold = secs(rng.random_range(600..1_800));
        let down = super::LinkFault::LinkDown { link }.into();
        plan.push(PlacedFault { at, fault: down, holds_for: Some(hold) });
        let damaged = StorageFault::RecordCorrupted { device }.into();
        plan.push(PlacedFault { at: at + hold.mul_f64(0.8), fault: damaged, holds_for: None });
    });
}

impl Sim {
    pub(super) fn perform_storage(
        &mut self,
        fault: &StorageFault,
        whole: &Fault,
    ) -> Result<Option<String>, FaultError> {
        Ok(match fault {
            StorageFault::StorageFull { device, nth_write } => {
                let slot = self.slot(*device).expect("validated");
                let disk = slot.disk.simulated().expect("checked by validate");
                match nth_write {
                    Some(n) => disk.fail_nth_write(*n),
                    None => disk.set_capacity(Some(disk.used())),
                }
                nth_write.map(|n| format!("write #{n}"))
            }
            StorageFault::RecordCorrupted { device } => match self.corrupt_record(*device) {
                Some(id) => Some(id),
                None => return Err(self.no_effect(whole, "no stored payment to damage")),
            },
        })
    }

    pub(super) fn undo_storage(&mut self, fault: &StorageFault) {
        if let StorageFault::StorageFull { device, .. } = fault
            && let Some(disk) = self.slot(*device).expect("validated").disk.simulated()
        {
            disk.set_capacity(None);
        }
    }

    /// An armed write failure fired: the history says so at that instant
    /// (as for request faults), which is what the checker's quiet stretches
    /// need; arming it recorded nothing.
    pub(crate) fn check_write_fault(&mut self, device: Device) {
        let Some(slot) = self.slot(device) else { return };
        let fired = slot.disk.take_fired();
        for _ in 0..fired {
            *self.faults.entry(FaultKind::StorageFull).or_default() += 1;
            let body = crate::core::EventBody::FaultInjected {
                fault: FaultKind::StorageFull,
                target: self.device_target(device),
                sustained: false,
                detail: Some("a write failed for lack of space".to_owned()),
            };
            let now = self.now;
            self.record(now, crate::core::Part("fault".to_owned()), body);
        }
    }

    /// Damages one stored, not yet forwarded payment's record in the
    /// durable log (its ciphertext), as bit rot or tampering would.
    fn corrupt_record(&mut self, device: Device) -> Option<String> {
        let slot = self.slot(device).expect("validated");
        let pending: Vec<_> = slot
            .running
            .as_ref()
            .map(|d| d.store().pending().map(|p| p.offline_id.clone()).collect())
            .unwrap_or_default();
        let bytes = slot.disk.simulated()?.durable(LOG_FILE)?;
        let mut candidates = Vec::new();
        let mut at = codec::HEADER_LEN;
        while at < bytes.len() {
            let Ok((frame, len)) = codec::decode_frame(&bytes[at..]) else {
                // A record damaged earlier: step over it if its framing says
                // how long it is.
                match codec::framed_len(&bytes[at..]) {
                    Some(len) => {
                        at += len;
                        continue;
                    }
                    None => break,
                }
            };
            if frame.kind == codec::RecordKind::Payment && pending.contains(&frame.clear.offline_id)
            {
                let sealed_at = at + len - frame.sealed.len();
                candidates.push((frame.clear.offline_id.clone(), sealed_at, frame.sealed.len()));
            }
            at += len;
        }
        if candidates.is_empty() {
            return None;
        }
        let (id, from, len) = candidates.swap_remove(self.rng.random_range(0..candidates.len()));
        let offset = from + self.rng.random_range(0..len);
        let slot = self.slot(device).expect("validated");
        slot.disk.simulated()?.flip(LOG_FILE, offset as u64, 0x10).ok()?;
        Some(id.0)
    }
}
