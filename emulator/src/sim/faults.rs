//! Faults the simulator can place (docs/design.md §5): what each one is,
//! what it hits, and a random plan of them for a long run.
//!
//! A fault is plain data. [`super::Sim::inject`] performs it at once (a
//! scenario step), [`super::Sim::schedule`] at a virtual time; request faults
//! fire on the n-th matching request of a link; [`FaultPlan::random`] draws a
//! busy day of them from the run's seed. Sustained faults (a link down, a
//! locked device, ...) hold until [`super::Sim::clear`].

use super::links::LinkId;
use crate::core::FaultKind;
use crate::core::Millis;
use crate::core::backend::RequestKind;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
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

/// One fault, with its target and parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// The link is down until cleared.
    LinkDown { link: LinkId },
    /// The link goes down and up every few seconds until cleared.
    LinkFlapping { link: LinkId },
    /// The link is this much slower each way until cleared.
    Latency { link: LinkId, extra_ms: u64 },
    /// The `nth` matching request (1: the next) never arrives.
    RequestTimeout { link: LinkId, request: Option<RequestKind>, nth: u32 },
    /// The `nth` matching request the backend applies loses its answer.
    ResponseLost { link: LinkId, request: Option<RequestKind>, nth: u32 },
    /// The backend answers the next `times` requests with `status`.
    HttpError { status: u16, request: Option<RequestKind>, times: u32 },
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
    /// The update server offers the reader a required update.
    RequiredUpdate { reader: usize },
    /// The device's disk is full until cleared, or only its `nth_write`-th
    /// write fails (one-shot).
    StorageFull { device: Device, nth_write: Option<u64> },
    /// A stored payment's record is damaged on disk.
    RecordCorrupted { device: Device },
    /// The app's data (store and keys) is erased.
    AppDataWiped { device: Device },
    /// The next `times` forwarded payments are declined with `decline_code`.
    DeclineOnSync { times: u32, decline_code: String },
    /// The connection-token provider fails `times` times.
    TokenProviderFailure { times: u32 },
    /// The next `times` connection tokens are for another account.
    AccountMismatch { times: u32 },
}

impl Fault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::LinkDown { .. } => FaultKind::LinkDown,
            Fault::LinkFlapping { .. } => FaultKind::LinkFlapping,
            Fault::Latency { .. } => FaultKind::Latency,
            Fault::RequestTimeout { .. } => FaultKind::RequestTimeout,
            Fault::ResponseLost { .. } => FaultKind::ResponseLost,
            Fault::HttpError { .. } => FaultKind::HttpError,
            Fault::ReaderReboot { .. } => FaultKind::ReaderReboot,
            Fault::PowerLoss { .. } => FaultKind::PowerLoss,
            Fault::AppKill { .. } => FaultKind::AppKill,
            Fault::AppUpgrade { .. } => FaultKind::AppUpgrade,
            Fault::DeviceLocked { .. } => FaultKind::DeviceLocked,
            Fault::Battery { .. } => FaultKind::Battery,
            Fault::BluetoothRadioOff => FaultKind::BluetoothRadioOff,
            Fault::SignalLost { .. } => FaultKind::SignalLost,
            Fault::UsbDetach { .. } => FaultKind::UsbDetach,
            Fault::NotificationDropped { .. } => FaultKind::NotificationDropped,
            Fault::NotificationDelayed { .. } => FaultKind::NotificationDelayed,
            Fault::MtuReduced { .. } => FaultKind::MtuReduced,
            Fault::SlowConnectionInterval { .. } => FaultKind::SlowConnectionInterval,
            Fault::RequiredUpdate { .. } => FaultKind::RequiredUpdate,
            Fault::StorageFull { .. } => FaultKind::StorageFull,
            Fault::RecordCorrupted { .. } => FaultKind::RecordCorrupted,
            Fault::AppDataWiped { .. } => FaultKind::AppDataWiped,
            Fault::DeclineOnSync { .. } => FaultKind::DeclineOnSync,
            Fault::TokenProviderFailure { .. } => FaultKind::TokenProviderFailure,
            Fault::AccountMismatch { .. } => FaultKind::AccountMismatch,
        }
    }

    /// Whether it holds until cleared (a one-shot full disk does not).
    pub fn is_sustained(&self) -> bool {
        match self {
            Fault::StorageFull { nth_write, .. } => nth_write.is_none(),
            other => other.kind().is_sustained(),
        }
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

/// A schedule of faults, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The faults, sorted by time.
    pub faults: Vec<PlacedFault>,
}

impl FaultPlan {
    /// A busy day of faults for a rig of this shape, drawn from `rng`:
    /// network drops and flapping on every internet link, lost responses and
    /// timeouts, HTTP errors, reboots and power losses, app kills, an
    /// upgrade, locked devices, battery swings, radio and signal loss, a
    /// required update, full disks, a damaged record, declines on sync and
    /// token failures. Counts are per 24 h at intensity 1.
    pub fn random(shape: &PlanShape, rng: &mut ChaCha8Rng) -> FaultPlan {
        let mut plan = FaultPlan::default();
        let span = shape.duration.as_millis() as u64;
        let day = 86_400_000.0;
        let scale = shape.intensity * span as f64 / day;
        // Devices that store payments, and internet links.
        let mut devices = Vec::new();
        let mut internet = Vec::new();
        if shape.smart.iter().any(|s| !s) {
            devices.push(Device::Pos);
        }
        internet.push(LinkId::PosBackend);
        for (i, smart) in shape.smart.iter().enumerate() {
            if *smart {
                devices.push(Device::Reader(i));
                internet.push(LinkId::ReaderBackend(i));
            }
        }
        let readers = shape.smart.len();
        let mobile: Vec<usize> = (0..readers).filter(|i| !shape.smart[*i]).collect();
        let secs = |s: u64| Duration::from_secs(s);
        let mut draw =
            |count: f64, make: &mut dyn FnMut(&mut ChaCha8Rng) -> (Fault, Option<Duration>)| {
                let whole = count.floor() as u32 + u32::from(rng.random_bool(count.fract()));
                for _ in 0..whole {
                    // Faults land in the first 90 % of the run, so the run ends
                    // with time for the rig to settle.
                    let at = Millis(rng.random_range(0..span * 9 / 10));
                    let (fault, holds_for) = make(rng);
                    plan.faults.push(PlacedFault { at, fault, holds_for });
                }
            };
        let pick = |rng: &mut ChaCha8Rng, from: &[Device]| from[rng.random_range(0..from.len())];
        let pick_link = |rng: &mut ChaCha8Rng| internet[rng.random_range(0..internet.len())];
        draw(12.0 * scale, &mut |rng| {
            let hold = secs(rng.random_range(20..1_800));
            (Fault::LinkDown { link: pick_link(rng) }, Some(hold))
        });
        draw(3.0 * scale, &mut |rng| {
            let hold = secs(rng.random_range(60..600));
            (Fault::LinkFlapping { link: pick_link(rng) }, Some(hold))
        });
        draw(3.0 * scale, &mut |rng| {
            let extra_ms = rng.random_range(200..3_000);
            let hold = secs(rng.random_range(60..900));
            (Fault::Latency { link: pick_link(rng), extra_ms }, Some(hold))
        });
        draw(12.0 * scale, &mut |rng| {
            let request = rng.random_bool(0.7).then_some(RequestKind::ForwardOfflinePayment);
            let nth = rng.random_range(1..4);
            (Fault::ResponseLost { link: pick_link(rng), request, nth }, None)
        });
        draw(6.0 * scale, &mut |rng| {
            let nth = rng.random_range(1..4);
            (Fault::RequestTimeout { link: pick_link(rng), request: None, nth }, None)
        });
        draw(4.0 * scale, &mut |rng| {
            let status = [500, 502, 503, 429][rng.random_range(0..4)];
            (Fault::HttpError { status, request: None, times: rng.random_range(1..4) }, None)
        });
        draw(3.0 * scale, &mut |rng| {
            (Fault::ReaderReboot { reader: rng.random_range(0..readers) }, None)
        });
        draw(4.0 * scale, &mut |rng| {
            let device = pick(rng, &devices);
            let mid_write = rng.random_bool(0.5);
            let torn = rng.random_range(0..64);
            let off_for = secs(rng.random_range(5..60));
            (Fault::PowerLoss { device, torn, mid_write, off_for }, None)
        });
        if !mobile.is_empty() {
            draw(2.0 * scale, &mut |rng| {
                let reader = mobile[rng.random_range(0..mobile.len())];
                let off_for = secs(rng.random_range(5..60));
                let fault = Fault::PowerLoss {
                    device: Device::Reader(reader),
                    torn: 0,
                    mid_write: false,
                    off_for,
                };
                (fault, None)
            });
        }
        draw(4.0 * scale, &mut |rng| {
            (Fault::AppKill { device: pick(rng, &devices) }, Some(secs(rng.random_range(2..60))))
        });
        draw(1.0 * scale, &mut |rng| (Fault::AppUpgrade { device: pick(rng, &devices) }, None));
        draw(2.0 * scale, &mut |rng| {
            let hold = secs(rng.random_range(30..900));
            (Fault::DeviceLocked { device: pick(rng, &devices) }, Some(hold))
        });
        draw(2.0 * scale, &mut |rng| {
            let reader = rng.random_range(0..readers);
            let percent = rng.random_range(3..100);
            (Fault::Battery { reader, percent, charging: rng.random_bool(0.5) }, None)
        });
        draw(1.0 * scale, &mut |rng| {
            (Fault::RequiredUpdate { reader: rng.random_range(0..readers) }, None)
        });
        if !mobile.is_empty() {
            let link = shape.mobile_link;
            draw(2.0 * scale, &mut |rng| {
                (Fault::BluetoothRadioOff, Some(secs(rng.random_range(10..300))))
            });
            draw(4.0 * scale, &mut |rng| {
                let reader = mobile[rng.random_range(0..mobile.len())];
                let hold = Some(secs(rng.random_range(1..120)));
                match link {
                    Some(crate::core::LinkKind::Usb) => (Fault::UsbDetach { reader }, hold),
                    _ => (Fault::SignalLost { reader }, hold),
                }
            });
        }
        draw(2.0 * scale, &mut |rng| {
            let device = pick(rng, &devices);
            if rng.random_bool(0.5) {
                (
                    Fault::StorageFull { device, nth_write: None },
                    Some(secs(rng.random_range(30..600))),
                )
            } else {
                (Fault::StorageFull { device, nth_write: Some(rng.random_range(1..4)) }, None)
            }
        });

        draw(3.0 * scale, &mut |rng| {
            let decline_code = ["insufficient_funds", "generic_decline"][rng.random_range(0..2)];
            let times = rng.random_range(1..4);
            (Fault::DeclineOnSync { times, decline_code: decline_code.to_owned() }, None)
        });
        draw(2.0 * scale, &mut |rng| {
            (Fault::TokenProviderFailure { times: rng.random_range(1..4) }, None)
        });
        draw(0.5 * scale, &mut |_| (Fault::AccountMismatch { times: 1 }, None));
        // A damaged record only matters while payments wait, so each comes
        // late in an outage of its device's own internet.
        let count = 1.5 * scale;
        let whole = count.floor() as u32 + u32::from(rng.random_bool(count.fract()));
        for _ in 0..whole {
            let device = pick(rng, &devices);
            let link = match device {
                Device::Pos => LinkId::PosBackend,
                Device::Reader(i) => LinkId::ReaderBackend(i),
            };
            let at = Millis(rng.random_range(0..span * 9 / 10));
            let hold = secs(rng.random_range(600..1_800));
            plan.faults.push(PlacedFault {
                at,
                fault: Fault::LinkDown { link },
                holds_for: Some(hold),
            });
            let damaged = Fault::RecordCorrupted { device };
            plan.faults.push(PlacedFault {
                at: at + hold.mul_f64(0.8),
                fault: damaged,
                holds_for: None,
            });
        }
        plan.faults.sort_by_key(|p| p.at);
        plan
    }
}
