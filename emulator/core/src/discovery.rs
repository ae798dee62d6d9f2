//! Discovery: what `discoverReaders` reports for a set of readers, and when.
//!
//! Pure: given the readers around the POS at `now`, it returns every event of
//! one discovery with the instant it happens. Per-model behaviour comes from
//! the profiles (docs/domain.md §1 and §7):
//! - Bluetooth scan lists each advertising reader once, after `report_ms`.
//! - Bluetooth proximity picks the one reader held closest (the first one
//!   given) and, for Chipper 2X BT, reports it twice: serial only, then full.
//! - USB lists the attached readers.
//! - Internet lists every registered smart reader, offline ones too, with the
//!   status the backend shows, which lags reality by `status_lag_s`.
//!
//! Discovery always finishes (incident android-343: it must never hang, even
//! at a critical battery); a closed Bluetooth radio fails it at once.
//!
//! Known simplification: readers are sampled once, at `now`, and the reports
//! are dated up to `full_report_ms` later. A reader that changes within that
//! window (taken by another POS, switched off) is still reported as it was,
//! and the caller must merge the dated events into its queue by time. The
//! POS's radio state is passed in here while each reader keeps its own view
//! of it (`Input::BluetoothRadio`); the simulator, which owns both, keeps them
//! in step. Both go when discovery becomes a timed machine of the POS model.

use crate::error::TerminalErrorCode;
use crate::event::{DiscoveredReader, EventBody, ReportPhase};
use crate::profile::DiscoveryMethod;
use crate::reader::Reader;
use crate::time::Millis;
use std::time::Duration;

/// The POS side of a discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscoveryRequest {
    /// How to discover.
    pub method: DiscoveryMethod,
    /// Whether the POS's Bluetooth radio is on.
    pub bluetooth_on: bool,
}

/// Every event of one discovery started at `now`, in time order. The events
/// belong to the POS part.
pub fn discover(
    now: Millis,
    request: DiscoveryRequest,
    readers: &[&Reader],
) -> Vec<(Millis, EventBody)> {
    let method = request.method;
    let bluetooth =
        matches!(method, DiscoveryMethod::BluetoothScan | DiscoveryMethod::BluetoothProximity);
    let mut events = vec![(now, EventBody::DiscoveryStarted { method })];
    if bluetooth && !request.bluetooth_on {
        let code = TerminalErrorCode::BluetoothError;
        events.push((now, EventBody::DiscoveryFailed { method, code }));
        return events;
    }
    let found = readers.iter().filter(|r| r.profile().discovery.methods.contains(&method));
    let found: Vec<&Reader> = match method {
        DiscoveryMethod::BluetoothScan => found.filter(|r| r.is_advertising()).copied().collect(),
        DiscoveryMethod::BluetoothProximity => {
            found.filter(|r| r.is_advertising()).take(1).copied().collect()
        }
        DiscoveryMethod::Usb => found.filter(|r| r.is_usb_attached()).copied().collect(),
        DiscoveryMethod::Internet => found
            .filter(|r| {
                r.registration().is_some()
                    && (r.profile().discovery.lists_offline || r.is_powered())
            })
            .copied()
            .collect(),
    };
    let mut finished = now;
    for reader in &found {
        let timing = &reader.profile().discovery;
        let first = now + Duration::from_millis(u64::from(timing.report_ms));
        if method == DiscoveryMethod::BluetoothProximity && timing.two_phase_proximity {
            events.push((first, EventBody::ReaderDiscovered(partial_report(reader))));
            let full = now + Duration::from_millis(u64::from(timing.full_report_ms));
            events.push((full, EventBody::ReaderDiscovered(full_report(reader, method, full))));
            finished = finished.max(full);
        } else {
            events.push((first, EventBody::ReaderDiscovered(full_report(reader, method, first))));
            finished = finished.max(first);
        }
    }
    let found = u32::try_from(found.len()).unwrap_or(u32::MAX);
    events.push((finished, EventBody::DiscoveryFinished { method, found }));
    // Stable: reports at the same instant keep the readers' order.
    events.sort_by_key(|(t, _)| *t);
    events
}

fn partial_report(reader: &Reader) -> DiscoveredReader {
    DiscoveredReader {
        serial: reader.serial().to_owned(),
        model: None,
        phase: ReportPhase::Partial,
        battery_percent: None,
        software_version: None,
        status: None,
        label: None,
        location: None,
    }
}

fn full_report(reader: &Reader, method: DiscoveryMethod, at: Millis) -> DiscoveredReader {
    let profile = reader.profile();
    let internet = method == DiscoveryMethod::Internet;
    let registration = reader.registration();
    DiscoveredReader {
        serial: reader.serial().to_owned(),
        model: Some(profile.model),
        phase: ReportPhase::Full,
        battery_percent: profile.battery.reported.then(|| reader.battery_percent()),
        software_version: Some(reader.software_version().to_owned()),
        status: internet.then(|| reader.listed_status(at)),
        label: registration.map(|r| r.label.clone()),
        location: registration.map(|r| r.location.clone()),
    }
}
