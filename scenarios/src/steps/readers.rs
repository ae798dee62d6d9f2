//! Steps about the readers: reboots, battery, the Bluetooth radio and
//! signal, the USB cable, software updates, and whether a reader is
//! connected.

use super::expect::{View, line};
use super::params::{AnyReader, BluetoothReader, UsbReader};
use super::params::{CablePulled, Connected, SignalLost, WhileCharging, Within};
use super::params::{EventName, IntervalChange, Lateness, MtuChange, Number};
use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{then, when};
use readerlab_emulator::sim::{BluetoothFault, PowerFault};

#[when(expr = "{reader} reboots")]
pub(crate) fn reboots(world: &mut LabWorld, who: AnyReader) -> StepResult {
    world.need(Capability::Power);
    world.rig()?;
    let reader = world.reader(who)?;
    world.toggle(PowerFault::ReaderReboot { reader }.into(), true)
}

#[when(expr = "{reader}'s battery reads {n}%{while charging?}")]
pub(crate) fn battery(
    world: &mut LabWorld,
    who: AnyReader,
    percent: Number,
    charging: WhileCharging,
) -> StepResult {
    world.need(Capability::Battery);
    world.rig()?;
    let percent = match u8::try_from(percent.0) {
        Ok(percent) if percent <= 100 => percent,
        _ => return Err(format!("a battery reads at most 100%, not {}%", percent.0)),
    };
    let reader = world.reader(who)?;
    world.toggle(PowerFault::Battery { reader, percent, charging: charging.0 }.into(), true)
}

#[when(expr = "{reader} is offered a required update")]
pub(crate) fn required_update(world: &mut LabWorld, who: AnyReader) -> StepResult {
    world.need(Capability::SoftwareUpdates);
    world.rig()?;
    let reader = world.reader(who)?;
    world.toggle(PowerFault::RequiredUpdate { reader }.into(), true)
}

#[when(expr = "the Bluetooth signal of {bluetooth reader} is {lost or back}")]
pub(crate) fn signal(world: &mut LabWorld, who: BluetoothReader, lost: SignalLost) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    world.toggle(BluetoothFault::SignalLost { reader }.into(), lost.0)
}

#[when(expr = r#"the next "{event}" notification of {bluetooth reader} to the POS is lost"#)]
pub(crate) fn notification_lost(
    world: &mut LabWorld,
    event: EventName,
    who: BluetoothReader,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    world.toggle(BluetoothFault::NotificationDropped { reader, event: event.0 }.into(), true)
}

#[when(
    expr = "the notifications of {bluetooth reader} reach the POS {n seconds late or on time again}"
)]
pub(crate) fn notifications_late(
    world: &mut LabWorld,
    who: BluetoothReader,
    late: Lateness,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    let ms = late.0.unwrap_or(0).saturating_mul(1_000);
    world.toggle(BluetoothFault::NotificationDelayed { reader, ms }.into(), late.0.is_some())
}

#[when(expr = "the Bluetooth MTU of {bluetooth reader} is renegotiated {down to n or back up}")]
pub(crate) fn mtu_renegotiated(
    world: &mut LabWorld,
    who: BluetoothReader,
    change: MtuChange,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    if let Some(mtu) = change.0
        && !(23..=readerlab_emulator::sim::RADIO_MTU).contains(&mtu)
    {
        return Err(format!("an MTU renegotiated down is from 23 to 185 (the link's), not {mtu}"));
    }
    let mtu = change.0.unwrap_or(0);
    world.toggle(BluetoothFault::MtuReduced { reader, mtu }.into(), change.0.is_some())
}

#[when(
    expr = "the Bluetooth connection interval of {bluetooth reader} {slows to n ms or is normal again}"
)]
pub(crate) fn connection_interval(
    world: &mut LabWorld,
    who: BluetoothReader,
    change: IntervalChange,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    let ms = change.0.unwrap_or(0);
    world.toggle(BluetoothFault::SlowConnectionInterval { reader, ms }.into(), change.0.is_some())
}

#[when(regex = r"^the POS's Bluetooth radio is switched (off|on)$")]
pub(crate) fn radio(world: &mut LabWorld, change: String) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    world.toggle(BluetoothFault::BluetoothRadioOff.into(), change == "off")
}

#[when(expr = "the USB cable of {usb reader} is {pulled or plugged back in}")]
pub(crate) fn usb(world: &mut LabWorld, who: UsbReader, pulled: CablePulled) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(who)?;
    world.toggle(BluetoothFault::UsbDetach { reader }.into(), pulled.0)
}

/// Whether an event says the reader at `part` is now connected (`Some`), or
/// not connected.
pub(crate) fn connection_change(view: &View, part: &str) -> Option<bool> {
    if view.part != part {
        return None;
    }
    match view.name.as_str() {
        "reader.connected" => Some(true),
        "reader.disconnected" | "reader.powered_off" => Some(false),
        _ => None,
    }
}

#[then(expr = "{reader} is {connected or not connected}{within?}")]
pub(crate) fn is_connected(
    world: &mut LabWorld,
    who: AnyReader,
    state: Connected,
    wait: Within,
) -> StepResult {
    // The serial comes from `rig.started`: start the rig before naming the
    // reader's part, or a first step would look for a part that never exists.
    world.rig()?;
    let reader = world.reader(who)?;
    let part = format!("reader/{}", world.serial(reader));
    let want = state.0;
    let connected = |views: &[View]| {
        views.iter().rev().find_map(|v| connection_change(v, &part)).unwrap_or(false)
    };
    if let Some(span) = wait.0
        && connected(world.views()) != want
    {
        let after = world.views().len() as u64;
        let change = |v: &View| v.seq > after && connection_change(v, &part) == Some(want);
        world.wait_until(Some(span), &change)?;
    }
    let views = world.views();
    if connected(views) == want {
        return Ok(());
    }
    let recent: Vec<String> = views
        .iter()
        .filter(|v| {
            v.part == part
                && ["reader.connect", "reader.disconnect", "reader.reconnect", "reader.powered"]
                    .iter()
                    .any(|p| v.name.starts_with(p))
        })
        .map(line)
        .collect();
    let tail = recent.len().saturating_sub(8);
    Err(format!("{who} is not {state}; its last connection events:\n{}", recent[tail..].join("\n")))
}
