//! Bluetooth (and USB) faults on the POS's link to a mobile reader: the
//! POS's radio switched off, the reader's signal lost or its cable pulled,
//! and what the air does to notifications: one lost, all late, a smaller
//! MTU, a slow connection interval.

use super::{Draw, Fault, FaultRates, secs};
use crate::core::reader::Input as ReaderInput;
use crate::core::{FaultKind, LinkKind};
use crate::sim::links::LinkId;
use crate::sim::{Device, FaultError, Sim};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A fault of the POS's link to a mobile reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BluetoothFault {
    /// The POS's Bluetooth radio is off until cleared.
    BluetoothRadioOff,
    /// The reader's Bluetooth signal is lost until cleared.
    SignalLost { reader: usize },
    /// The reader's USB cable is pulled until cleared.
    UsbDetach { reader: usize },
    /// The reader's next notification of `event` (a history event name,
    /// `reader.payment.collected`) is lost on its way to the POS.
    NotificationDropped { reader: usize, event: String },
    /// The reader's notifications reach the POS `ms` late until cleared.
    NotificationDelayed { reader: usize, ms: u64 },
    /// The reader's ATT MTU is renegotiated down to `mtu` (at least 23)
    /// until cleared.
    MtuReduced { reader: usize, mtu: u16 },
    /// Each fragment to or from the reader waits `ms` for a connection
    /// event until cleared.
    SlowConnectionInterval { reader: usize, ms: u64 },
}

impl BluetoothFault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            BluetoothFault::BluetoothRadioOff => FaultKind::BluetoothRadioOff,
            BluetoothFault::SignalLost { .. } => FaultKind::SignalLost,
            BluetoothFault::UsbDetach { .. } => FaultKind::UsbDetach,
            BluetoothFault::NotificationDropped { .. } => FaultKind::NotificationDropped,
            BluetoothFault::NotificationDelayed { .. } => FaultKind::NotificationDelayed,
            BluetoothFault::MtuReduced { .. } => FaultKind::MtuReduced,
            BluetoothFault::SlowConnectionInterval { .. } => FaultKind::SlowConnectionInterval,
        }
    }

    /// The reader it hits; `None` for the POS's radio.
    pub fn reader(&self) -> Option<usize> {
        match self {
            BluetoothFault::BluetoothRadioOff => None,
            BluetoothFault::SignalLost { reader }
            | BluetoothFault::UsbDetach { reader }
            | BluetoothFault::NotificationDropped { reader, .. }
            | BluetoothFault::NotificationDelayed { reader, .. }
            | BluetoothFault::MtuReduced { reader, .. }
            | BluetoothFault::SlowConnectionInterval { reader, .. } => Some(*reader),
        }
    }

    pub(super) fn target(&self, sim: &Sim) -> String {
        match self.reader() {
            None => "pos".to_owned(),
            Some(reader) => sim.device_target(Device::Reader(reader)),
        }
    }

    pub(super) fn validate(&self, sim: &Sim, fault: &Fault) -> Result<(), FaultError> {
        let Some(i) = self.reader() else { return Ok(()) };
        sim.validate_reader(i)?;
        let over_the_air =
            !matches!(self, BluetoothFault::SignalLost { .. } | BluetoothFault::UsbDetach { .. });
        if over_the_air && sim.readers[i].via != LinkKind::Ble {
            return Err(FaultError::NotApplicable {
                fault: fault.kind(),
                target: sim.device_target(Device::Reader(i)),
                why: "only a reader on Bluetooth notifies the POS over the air",
            });
        }
        Ok(())
    }
}

/// Notifications a busy day's air loses: the ones a payment turns on.
const DROPPABLE: [&str; 4] = [
    "reader.payment.collected",
    "reader.card.presented",
    "reader.payment.collect.started",
    "reader.card.removed",
];

/// A busy day's radio and signal losses (a pulled cable on a USB rig), on a
/// rig with a mobile reader; on Bluetooth, also what the air does to
/// notifications (one lost, all late for a while) and to the link (a smaller
/// MTU, a slow connection interval, each for a while).
pub(super) fn draw(draw: &mut Draw<'_>, rates: &FaultRates) {
    if draw.targets.mobile.is_empty() {
        return;
    }
    draw.times(rates.bluetooth_radio_off, |rng, _| {
        (BluetoothFault::BluetoothRadioOff.into(), Some(secs(rng.random_range(10..300))))
    });
    draw.times(rates.signal_lost, |rng, rig| {
        let reader = rig.mobile[rng.random_range(0..rig.mobile.len())];
        let hold = Some(secs(rng.random_range(1..120)));
        match rig.mobile_link {
            Some(LinkKind::Usb) => (BluetoothFault::UsbDetach { reader }.into(), hold),
            _ => (BluetoothFault::SignalLost { reader }.into(), hold),
        }
    });
    if draw.targets.mobile_link == Some(LinkKind::Usb) {
        return;
    }
    let pick = |rng: &mut rand_chacha::ChaCha8Rng, rig: &super::Targets| {
        rig.mobile[rng.random_range(0..rig.mobile.len())]
    };
    draw.times(rates.notification_dropped, |rng, rig| {
        let reader = pick(rng, rig);
        let event = DROPPABLE[rng.random_range(0..DROPPABLE.len())].to_owned();
        (BluetoothFault::NotificationDropped { reader, event }.into(), None)
    });
    draw.times(rates.notification_delayed, |rng, rig| {
        let reader = pick(rng, rig);
        let ms = rng.random_range(1..=45) * 1_000;
        let hold = Some(secs(rng.random_range(30..1_800)));
        (BluetoothFault::NotificationDelayed { reader, ms }.into(), hold)
    });
    draw.times(rates.mtu_reduced, |rng, rig| {
        let reader = pick(rng, rig);
        let mtu = [23, 27, 64, 100][rng.random_range(0..4)];
        let hold = Some(secs(rng.random_range(60..3_600)));
        (BluetoothFault::MtuReduced { reader, mtu }.into(), hold)
    });
    draw.times(rates.slow_connection_interval, |rng, rig| {
        let reader = pick(rng, rig);
        let ms = [100, 200, 400, 1_000][rng.random_range(0..4)];
        let hold = Some(secs(rng.random_range(60..3_600)));
        (BluetoothFault::SlowConnectionInterval { reader, ms }.into(), hold)
    });
}

impl Sim {
    pub(super) fn perform_bluetooth(
        &mut self,
        fault: &BluetoothFault,
        whole: &Fault,
    ) -> Result<Option<String>, FaultError> {
        let now = self.now;
        Ok(match fault {
            BluetoothFault::BluetoothRadioOff => {
                for index in 0..self.readers.len() {
                    self.radio_link(index, false);
                    let off = ReaderInput::BluetoothRadio { on: false };
                    let _ = self.readers[index].reader.handle(now, off);
                }
                None
            }
            BluetoothFault::SignalLost { reader } | BluetoothFault::UsbDetach { reader } => {
                self.set_link(LinkId::PosReader(*reader), false);
                None
            }
            BluetoothFault::NotificationDropped { reader, event } => {
                self.readers[*reader].drop_next.push(event.clone());
                Some(event.clone())
            }
            BluetoothFault::NotificationDelayed { reader, ms } => {
                self.readers[*reader].notice_delay = Duration::from_millis(*ms);
                Some(format!("{ms} ms"))
            }
            BluetoothFault::MtuReduced { reader, mtu } => {
                if !(crate::wire::ble::gatt::DEFAULT_ATT_MTU..=crate::sim::RADIO_MTU).contains(mtu)
                {
                    return Err(self.no_effect(whole, "an MTU renegotiated down is from 23 to 185"));
                }
                self.set_radio_mtu(*reader, *mtu);
                Some(format!("MTU {mtu}"))
            }
            BluetoothFault::SlowConnectionInterval { reader, ms } => {
                self.readers[*reader].interval = Duration::from_millis(*ms);
                Some(format!("{ms} ms"))
            }
        })
    }

    pub(super) fn undo_bluetooth(&mut self, fault: &BluetoothFault) {
        let now = self.now;
        match fault {
            BluetoothFault::BluetoothRadioOff => {
                for index in 0..self.readers.len() {
                    self.radio_link(index, self.links[&LinkId::PosReader(index)].up);
                    let on = ReaderInput::BluetoothRadio { on: true };
                    let _ = self.readers[index].reader.handle(now, on);
                }
            }
            BluetoothFault::SignalLost { reader } | BluetoothFault::UsbDetach { reader } => {
                self.set_link(LinkId::PosReader(*reader), true);
            }
            BluetoothFault::NotificationDelayed { reader, .. } => {
                self.readers[*reader].notice_delay = Duration::ZERO;
            }
            BluetoothFault::MtuReduced { reader, .. } => {
                self.set_radio_mtu(*reader, crate::sim::RADIO_MTU);
            }
            BluetoothFault::SlowConnectionInterval { reader, .. } => {
                self.readers[*reader].interval = Duration::ZERO;
            }
            BluetoothFault::NotificationDropped { .. } => {}
        }
    }
}
