//! Performing faults and timers on the rig: what each fault of
//! docs/design.md §5 does to links, devices, disks and the backend, the
//! `fault.injected` / `fault.cleared` events that say so, and the end of a
//! run (every fault cleared, storage scanned for card numbers).

use super::{Device, Fault, FaultError, LinkId, RequestFate, RequestRule, Sim, Timer};
use crate::core::FaultKind;
use crate::core::LinkKind;
use crate::core::Millis;
use crate::core::backend::{BackendFault, ForwardMatch};
use crate::core::luhn_valid_digits;
use crate::core::offline::Input as EngineInput;
use crate::core::reader::{Input as ReaderInput, UpdateOffer};
use crate::core::{EventBody, Part};
use crate::disk::Disk;
use crate::store::{LOG_FILE, codec, legacy};
use rand::RngExt;
use std::time::Duration;

impl Sim {
    pub(super) fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Notice(index, body) => self.deliver_notice(index, *body),
            Timer::Command(index, input) => self.deliver_command(index, *input),
            Timer::Inject(fault, holds_for) => {
                let sustained = fault.is_sustained();
                if self.inject(fault.clone()).is_ok()
                    && sustained
                    && let Some(hold) = holds_for
                {
                    let at = self.now + hold;
                    self.at(at, Timer::Clear(fault));
                }
            }
            Timer::Clear(fault) => self.clear(&fault),
            Timer::PowerOn(device) => self.power_on(device),
            Timer::Flap(link) => {
                let flapping = self.links.get(&link).is_some_and(|l| l.flapping);
                if flapping {
                    // A link held down by a `link_down` stays down.
                    let up = !self.links[&link].up && !self.held_down(link);
                    self.set_link(link, up);
                    let wait = self.rng.random_range(2_000..20_000);
                    let at = self.now + Duration::from_millis(wait);
                    self.at(at, Timer::Flap(link));
                }
            }
            Timer::Arrive(spec) => self.arrive(*spec),
            Timer::PresentCard { payment } => self.present_card(&payment),
            Timer::RemoveCard(index) => {
                let now = self.now;
                let _ = self.readers[index].reader.handle(now, ReaderInput::RemoveCard);
            }
            Timer::Watchdog { payment } => self.watchdog(&payment),
            Timer::Wake => {}
            Timer::Carry(outgoing) => {
                // A call that left before its link went down is lost with it.
                if self.links[&outgoing.link].up {
                    self.outgoing.push(outgoing);
                } else {
                    self.awaiting.remove(&outgoing.id);
                }
            }
            Timer::Answer(waiting, reply) => self.answer(waiting, reply),
        }
    }

    /// The name a fault event gives a device.
    pub(super) fn device_target(&self, device: Device) -> String {
        match device {
            Device::Pos => "pos".to_owned(),
            Device::Reader(index) => format!("reader/{}", self.readers[index].reader.serial()),
        }
    }

    /// The name a fault event gives a link.
    pub(super) fn link_target(&self, link: LinkId) -> String {
        match link {
            LinkId::PosBackend => "pos~backend".to_owned(),
            LinkId::ReaderBackend(i) => {
                format!("reader/{}~backend", self.readers[i].reader.serial())
            }
            LinkId::PosReader(i) => format!("pos~reader/{}", self.readers[i].reader.serial()),
        }
    }

    fn target_of(&self, fault: &Fault) -> String {
        match fault {
            Fault::LinkDown { link }
            | Fault::LinkFlapping { link }
            | Fault::Latency { link, .. }
            | Fault::RequestTimeout { link, .. }
            | Fault::ResponseLost { link, .. } => self.link_target(*link),
            Fault::HttpError { .. }
            | Fault::DeclineOnSync { .. }
            | Fault::TokenProviderFailure { .. }
            | Fault::AccountMismatch { .. } => "backend".to_owned(),
            Fault::ReaderReboot { reader }
            | Fault::Battery { reader, .. }
            | Fault::SignalLost { reader }
            | Fault::UsbDetach { reader }
            | Fault::NotificationDropped { reader, .. }
            | Fault::NotificationDelayed { reader, .. }
            | Fault::MtuReduced { reader, .. }
            | Fault::SlowConnectionInterval { reader, .. }
            | Fault::RequiredUpdate { reader } => self.device_target(Device::Reader(*reader)),
            Fault::BluetoothRadioOff => "pos".to_owned(),
            Fault::PowerLoss { device, .. }
            | Fault::AppKill { device }
            | Fault::AppUpgrade { device }
            | Fault::DeviceLocked { device }
            | Fault::StorageFull { device, .. }
            | Fault::RecordCorrupted { device }
            | Fault::AppDataWiped { device } => self.device_target(*device),
        }
    }

    /// Checks that the fault's targets exist on this rig.
    fn validate(&self, fault: &Fault) -> Result<(), FaultError> {
        let reader = |i: usize| {
            if i < self.readers.len() { Ok(()) } else { Err(FaultError::NoSuchReader(i)) }
        };
        let device = |d: Device| match d {
            Device::Pos => Ok(()),
            Device::Reader(i) => {
                reader(i)?;
                if self.readers[i].device.is_some() {
                    Ok(())
                } else {
                    Err(FaultError::NotApplicable {
                        fault: fault.kind(),
                        target: self.device_target(d),
                        why: "a mobile reader stores nothing; its POS does",
                    })
                }
            }
        };
        let link = |l: LinkId| match l {
            LinkId::PosBackend => Ok(()),
            LinkId::PosReader(i) => reader(i),
            LinkId::ReaderBackend(i) => {
                reader(i)?;
                if self.links.contains_key(&l) {
                    Ok(())
                } else {
                    Err(FaultError::NotApplicable {
                        fault: fault.kind(),
                        target: self.device_target(Device::Reader(i)),
                        why: "a mobile reader has no internet link of its own",
                    })
                }
            }
        };
        match fault {
            Fault::LinkDown { link: l }
            | Fault::LinkFlapping { link: l }
            | Fault::Latency { link: l, .. }
            | Fault::RequestTimeout { link: l, .. }
            | Fault::ResponseLost { link: l, .. } => link(*l),
            Fault::ReaderReboot { reader: i }
            | Fault::Battery { reader: i, .. }
            | Fault::SignalLost { reader: i }
            | Fault::UsbDetach { reader: i }
            | Fault::RequiredUpdate { reader: i } => reader(*i),
            Fault::NotificationDropped { reader: i, .. }
            | Fault::NotificationDelayed { reader: i, .. }
            | Fault::MtuReduced { reader: i, .. }
            | Fault::SlowConnectionInterval { reader: i, .. } => {
                reader(*i)?;
                if self.readers[*i].via == LinkKind::Ble {
                    Ok(())
                } else {
                    Err(FaultError::NotApplicable {
                        fault: fault.kind(),
                        target: self.device_target(Device::Reader(*i)),
                        why: "only a reader on Bluetooth notifies the POS over the air",
                    })
                }
            }
            Fault::PowerLoss { device: Device::Reader(i), .. } => reader(*i),
            Fault::PowerLoss { device: d, .. }
            | Fault::AppKill { device: d }
            | Fault::AppUpgrade { device: d }
            | Fault::DeviceLocked { device: d }
            | Fault::StorageFull { device: d, .. }
            | Fault::RecordCorrupted { device: d }
            | Fault::AppDataWiped { device: d } => device(*d),
            Fault::HttpError { .. }
            | Fault::BluetoothRadioOff
            | Fault::DeclineOnSync { .. }
            | Fault::TokenProviderFailure { .. }
            | Fault::AccountMismatch { .. } => Ok(()),
        }?;
        self.check_medium(fault)
    }

    /// Refuses the faults only a simulated disk or keychain can perform on
    /// a device whose store is on real files.
    fn check_medium(&self, fault: &Fault) -> Result<(), FaultError> {
        let device = match fault {
            Fault::PowerLoss { device, torn, mid_write, .. } if *torn > 0 || *mid_write => *device,
            Fault::DeviceLocked { device }
            | Fault::StorageFull { device, .. }
            | Fault::RecordCorrupted { device } => *device,
            _ => return Ok(()),
        };
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
        if matches!(
            fault,
            Fault::RequestTimeout { .. }
                | Fault::ResponseLost { .. }
                | Fault::StorageFull { nth_write: Some(_), .. }
        ) {
            // Armed on the link or the disk; it takes effect, and is
            // recorded, when its request or write comes
            // (`request_fault_fired`, `check_write_fault`).
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

    /// A request rule took effect on `link`: the history says so at the
    /// instant it happened, which is what the checker's quiet stretches need.
    pub(super) fn request_fault_fired(&mut self, link: LinkId, fate: RequestFate, request: String) {
        let kind = match fate {
            RequestFate::Swallowed => FaultKind::RequestTimeout,
            RequestFate::ResponseLost => FaultKind::ResponseLost,
        };
        *self.faults.entry(kind).or_default() += 1;
        let body = EventBody::FaultInjected {
            fault: kind,
            target: self.link_target(link),
            sustained: false,
            detail: Some(request),
        };
        let now = self.now;
        self.record(now, Part("fault".to_owned()), body);
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

    /// Does what the fault does; returns the detail its event records.
    fn perform(&mut self, fault: &Fault) -> Result<Option<String>, FaultError> {
        let now = self.now;
        Ok(match fault {
            Fault::LinkDown { link } => {
                self.set_link(*link, false);
                None
            }
            Fault::LinkFlapping { link } => {
                self.links.get_mut(link).expect("validated").flapping = true;
                self.at(now, Timer::Flap(*link));
                None
            }
            Fault::Latency { link, extra_ms } => {
                self.links.get_mut(link).expect("validated").extra_ms = *extra_ms;
                Some(format!("+{extra_ms} ms"))
            }
            Fault::RequestTimeout { link, request, nth }
            | Fault::ResponseLost { link, request, nth } => {
                let fate = if matches!(fault, Fault::RequestTimeout { .. }) {
                    RequestFate::Swallowed
                } else {
                    RequestFate::ResponseLost
                };
                let rule = RequestRule { kind: *request, remaining: nth.saturating_sub(1), fate };
                self.links.get_mut(link).expect("validated").rules.push(rule);
                let which = request.map_or("any".to_owned(), |k| format!("{k:?}"));
                Some(format!("request #{nth} of {which}"))
            }
            Fault::HttpError { status, request, times } => {
                let armed =
                    BackendFault::HttpError { status: *status, only: *request, times: *times };
                self.arm_backend(armed)?;
                Some(format!("{status} x{times}"))
            }
            Fault::DeclineOnSync { times, decline_code } => {
                let armed = BackendFault::DeclineOnSync {
                    when: ForwardMatch::Any,
                    decline_code: decline_code.clone(),
                    times: Some(*times),
                };
                self.arm_backend(armed)?;
                Some(format!("{decline_code} x{times}"))
            }
            Fault::TokenProviderFailure { times } => {
                self.arm_backend(BackendFault::TokenProviderFailure { times: *times })?;
                Some(format!("x{times}"))
            }
            Fault::AccountMismatch { times } => {
                let armed = BackendFault::TokensFor {
                    account: "acct_other".to_owned(),
                    livemode: false,
                    times: Some(*times),
                };
                self.arm_backend(armed)?;
                Some(format!("x{times}"))
            }
            Fault::ReaderReboot { reader } => {
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
            Fault::PowerLoss { device, torn, mid_write, off_for } => {
                self.power_loss(*device, *torn, *mid_write, *off_for);
                Some(format!(
                    "torn {torn} bytes{}, off {} s",
                    if *mid_write { ", during the next write" } else { "" },
                    off_for.as_secs()
                ))
            }
            Fault::AppKill { device } => {
                let slot = self.slot_mut(*device).expect("validated");
                slot.kill();
                slot.wanted = false;
                None
            }
            Fault::AppUpgrade { device } => {
                let running = self.slot(*device).and_then(|s| s.running.as_ref());
                let Some(running) = running else {
                    return Err(self.no_effect(fault, "the app is not running"));
                };
                if running.store().corrupt().next().is_some() {
                    // A damaged record not yet reported has no format-1 form.
                    return Err(self.no_effect(fault, "the store holds a damaged record"));
                }
                self.upgrade(*device);
                None
            }
            Fault::DeviceLocked { device } => {
                let slot = self.slot(*device).expect("validated");
                slot.keys.simulated().expect("checked by check_medium").lock();
                None
            }
            Fault::Battery { reader, percent, charging } => {
                let input = ReaderInput::Battery { percent: *percent, charging: *charging };
                let _ = self.readers[*reader].reader.handle(now, input);
                if !charging {
                    // Someone plugs it in twenty minutes later.
                    let charge = Fault::Battery { reader: *reader, percent: 100, charging: true };
                    self.at(now + Duration::from_secs(1_200), Timer::Inject(charge, None));
                }
                Some(format!("{percent}%{}", if *charging { " charging" } else { "" }))
            }
            Fault::BluetoothRadioOff => {
                for index in 0..self.readers.len() {
                    self.radio_link(index, false);
                    let off = ReaderInput::BluetoothRadio { on: false };
                    let _ = self.readers[index].reader.handle(now, off);
                }
                None
            }
            Fault::SignalLost { reader } | Fault::UsbDetach { reader } => {
                self.set_link(LinkId::PosReader(*reader), false);
                None
            }
            Fault::NotificationDropped { reader, event } => {
                self.readers[*reader].drop_next.push(event.clone());
                Some(event.clone())
            }
            Fault::NotificationDelayed { reader, ms } => {
                self.readers[*reader].notice_delay = Duration::from_millis(*ms);
                Some(format!("{ms} ms"))
            }
            Fault::MtuReduced { reader, mtu } => {
                if !(crate::wire::ble::gatt::DEFAULT_ATT_MTU..=super::RADIO_MTU).contains(mtu) {
                    return Err(self.no_effect(fault, "an MTU renegotiated down is from 23 to 185"));
                }
                self.set_radio_mtu(*reader, *mtu);
                Some(format!("MTU {mtu}"))
            }
            Fault::SlowConnectionInterval { reader, ms } => {
                self.readers[*reader].interval = Duration::from_millis(*ms);
                Some(format!("{ms} ms"))
            }
            Fault::RequiredUpdate { reader } => {
                let version = format!(
                    "2.{}.0",
                    self.faults.get(&FaultKind::RequiredUpdate).unwrap_or(&0) + 1
                );
                let offer = UpdateOffer::new(version.clone(), true);
                let _ = self.readers[*reader].reader.handle(now, ReaderInput::OfferUpdate(offer));
                Some(version)
            }
            Fault::StorageFull { device, nth_write } => {
                let slot = self.slot(*device).expect("validated");
                let disk = slot.disk.simulated().expect("checked by check_medium");
                match nth_write {
                    Some(n) => disk.fail_nth_write(*n),
                    None => disk.set_capacity(Some(disk.used())),
                }
                nth_write.map(|n| format!("write #{n}"))
            }
            Fault::RecordCorrupted { device } => match self.corrupt_record(*device) {
                Some(id) => Some(id),
                None => return Err(self.no_effect(fault, "no stored payment to damage")),
            },
            Fault::AppDataWiped { device } => {
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

    /// Whether a `link_down` holds this link down.
    fn held_down(&self, link: LinkId) -> bool {
        self.active.contains_key(&(FaultKind::LinkDown, self.link_target(link)))
    }

    /// Undoes a sustained fault.
    fn undo(&mut self, fault: &Fault) {
        let now = self.now;
        match fault {
            // The link comes back unless the other of the two still holds
            // it: a flap keeps toggling, a `link_down` keeps it down.
            Fault::LinkDown { link } if !self.links[link].flapping => {
                self.set_link(*link, true);
            }
            Fault::LinkFlapping { link } => {
                self.links.get_mut(link).expect("validated").flapping = false;
                if !self.held_down(*link) {
                    self.set_link(*link, true);
                }
            }
            Fault::Latency { link, .. } => {
                self.links.get_mut(link).expect("validated").extra_ms = 0;
            }
            Fault::AppKill { device } => {
                self.slot_mut(*device).expect("validated").wanted = true;
                self.start_device(*device);
            }
            Fault::DeviceLocked { device } => {
                if let Some(keys) = self.slot(*device).expect("validated").keys.simulated() {
                    keys.unlock();
                }
                self.start_device(*device);
            }
            Fault::BluetoothRadioOff => {
                for index in 0..self.readers.len() {
                    self.radio_link(index, self.links[&LinkId::PosReader(index)].up);
                    let on = ReaderInput::BluetoothRadio { on: true };
                    let _ = self.readers[index].reader.handle(now, on);
                }
            }
            Fault::SignalLost { reader } | Fault::UsbDetach { reader } => {
                self.set_link(LinkId::PosReader(*reader), true);
            }
            Fault::NotificationDelayed { reader, .. } => {
                self.readers[*reader].notice_delay = Duration::ZERO;
            }
            Fault::MtuReduced { reader, .. } => self.set_radio_mtu(*reader, super::RADIO_MTU),
            Fault::SlowConnectionInterval { reader, .. } => {
                self.readers[*reader].interval = Duration::ZERO;
            }
            Fault::StorageFull { device, .. } => {
                if let Some(disk) = self.slot(*device).expect("validated").disk.simulated() {
                    disk.set_capacity(None);
                }
            }
            _ => {}
        }
    }

    fn no_effect(&self, fault: &Fault, why: &'static str) -> FaultError {
        FaultError::NoEffect { fault: fault.kind(), target: self.target_of(fault), why }
    }

    fn arm_backend(&mut self, fault: BackendFault) -> Result<(), FaultError> {
        let now = self.now;
        self.backend.arm(now, fault).map_err(|e| FaultError::Backend(e.to_string()))
    }

    /// A link goes up or down, and whoever sits at its ends notices.
    pub(super) fn set_link(&mut self, link: LinkId, up: bool) {
        let now = self.now;
        let Some(state) = self.links.get_mut(&link) else { return };
        if state.up == up {
            return;
        }
        state.up = up;
        self.backend_sees_link(link, up);
        match link {
            LinkId::PosBackend => {
                self.engine_input(Device::Pos, EngineInput::NetworkChanged { up });
            }
            LinkId::ReaderBackend(i) => {
                let _ = self.readers[i].reader.handle(now, ReaderInput::Internet { up });
                self.engine_input(Device::Reader(i), EngineInput::NetworkChanged { up });
            }
            LinkId::PosReader(i) => {
                let input = match self.readers[i].via {
                    LinkKind::Ble => ReaderInput::Signal { up },
                    LinkKind::Usb => ReaderInput::Usb { attached: up },
                    LinkKind::Lan => ReaderInput::Lan { up },
                };
                self.radio_link(i, up);
                let _ = self.readers[i].reader.handle(now, input);
            }
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
            let disk = disk.simulated().expect("checked by check_medium");
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
        // written stays (no torn tail: `check_medium` refused one).
        if let Some(disk) = disk.simulated() {
            disk.power_loss(torn);
        }
        self.at(now + off_for, Timer::PowerOn(device));
    }

    fn power_on(&mut self, device: Device) {
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

    /// Reads every file of every device for card numbers in clear.
    pub(super) fn scan_storage(&mut self) {
        for device in self.devices() {
            let slot = self.slot(device).expect("listed");
            let names = slot.disk.list().unwrap_or_default();
            let (mut bytes, mut found) = (0u64, 0u32);
            for name in &names {
                let data = slot.disk.read(name).unwrap_or_default();
                bytes += data.len() as u64;
                found += count_card_numbers(&data);
            }
            let body = EventBody::StorageScanned {
                device: self.device_target(device),
                files: u32::try_from(names.len()).unwrap_or(u32::MAX),
                bytes,
                card_numbers_in_clear: found,
            };
            let now = self.now;
            self.record(now, Part("rig".to_owned()), body);
        }
    }
}

/// Counts runs of 13 to 19 ASCII digits that pass the Luhn check.
pub fn count_card_numbers(data: &[u8]) -> u32 {
    let mut count = 0;
    let mut run = 0usize;
    for (i, byte) in data.iter().enumerate() {
        if byte.is_ascii_digit() {
            run += 1;
            continue;
        }
        if (13..=19).contains(&run) && luhn_valid_digits(&data[i - run..i]) {
            count += 1;
        }
        run = 0;
    }
    if (13..=19).contains(&run) && luhn_valid_digits(&data[data.len() - run..]) {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::count_card_numbers;

    #[test]
    fn card_numbers_in_clear_are_counted_and_other_digits_are_not() {
        assert_eq!(count_card_numbers(b"{\"n\":\"4242424242424242\"}"), 1);
        assert_eq!(count_card_numbers(b"4242424242424241"), 0);
        assert_eq!(count_card_numbers(b"123"), 0);
        assert_eq!(count_card_numbers(b"x5555555555554444"), 1);
    }
}
