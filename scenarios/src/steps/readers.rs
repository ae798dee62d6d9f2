//! Steps about the readers: reboots, battery, the Bluetooth radio and
//! signal, the USB cable, software updates, and whether a reader is
//! connected.

use super::expect::{View, line, within};
use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{then, when};
use readerlab_emulator::sim::{BluetoothFault, PowerFault};

#[when(
    regex = r"^(the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E) reboots$"
)]
pub(crate) fn reboots(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::Power);
    world.rig()?;
    let reader = world.reader(&who)?;
    world.toggle(PowerFault::ReaderReboot { reader }.into(), true)
}

#[when(
    regex = r"^(the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E)'s battery reads (\d+)%( while charging)?$"
)]
pub(crate) fn battery(
    world: &mut LabWorld,
    who: String,
    percent: u8,
    charging: String,
) -> StepResult {
    world.need(Capability::Battery);
    world.rig()?;
    if percent > 100 {
        return Err(format!("a battery reads at most 100%, not {percent}%"));
    }
    let reader = world.reader(&who)?;
    world.toggle(
        PowerFault::Battery { reader, percent, charging: !charging.is_empty() }.into(),
        true,
    )
}

#[when(
    regex = r"^(the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E) is offered a required update$"
)]
pub(crate) fn required_update(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::SoftwareUpdates);
    world.rig()?;
    let reader = world.reader(&who)?;
    world.toggle(PowerFault::RequiredUpdate { reader }.into(), true)
}

#[when(
    regex = r"^the Bluetooth signal of (the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT) is (lost|back)$"
)]
pub(crate) fn signal(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    world.toggle(BluetoothFault::SignalLost { reader }.into(), change == "lost")
}

#[when(
    regex = r#"^the next "([a-z_.]+)" notification of (the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT) to the POS is lost$"#
)]
pub(crate) fn notification_lost(world: &mut LabWorld, event: String, who: String) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    world.toggle(BluetoothFault::NotificationDropped { reader, event }.into(), true)
}

#[when(
    regex = r"^the notifications of (the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT) reach the POS ((\d+) seconds? late|on time again)$"
)]
pub(crate) fn notifications_late(
    world: &mut LabWorld,
    who: String,
    change: String,
    seconds: String,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    let late = change.ends_with("late");
    let seconds: u64 = if late {
        seconds.parse().map_err(|_| format!("{seconds} seconds is not a duration"))?
    } else {
        0
    };
    let ms = seconds.saturating_mul(1_000);
    world.toggle(BluetoothFault::NotificationDelayed { reader, ms }.into(), late)
}

#[when(
    regex = r"^the Bluetooth MTU of (the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT) is renegotiated (down to (\d+)|back up)$"
)]
pub(crate) fn mtu_renegotiated(
    world: &mut LabWorld,
    who: String,
    change: String,
    mtu: String,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    let down = change.starts_with("down");
    let mtu: u16 = if down {
        mtu.parse().map_err(|_| format!("MTU {mtu} is not a number from 23 to 185"))?
    } else {
        0
    };
    if down && !(23..=readerlab_emulator::sim::RADIO_MTU).contains(&mtu) {
        return Err(format!("an MTU renegotiated down is from 23 to 185 (the link's), not {mtu}"));
    }
    world.toggle(BluetoothFault::MtuReduced { reader, mtu }.into(), down)
}

#[when(
    regex = r"^the Bluetooth connection interval of (the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT) (slows to (\d+) ms|is normal again)$"
)]
pub(crate) fn connection_interval(
    world: &mut LabWorld,
    who: String,
    change: String,
    ms: String,
) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    let slow = change.starts_with("slows");
    let ms: u64 =
        if slow { ms.parse().map_err(|_| format!("{ms} ms is not a duration"))? } else { 0 };
    world.toggle(BluetoothFault::SlowConnectionInterval { reader, ms }.into(), slow)
}

#[when(regex = r"^the POS's Bluetooth radio is switched (off|on)$")]
pub(crate) fn radio(world: &mut LabWorld, change: String) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    world.toggle(BluetoothFault::BluetoothRadioOff.into(), change == "off")
}

#[when(
    regex = r"^the USB cable of (the reader|the Stripe Reader M2|the BBPOS WisePad 3) is (pulled|plugged back in)$"
)]
pub(crate) fn usb(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::ReaderLinks);
    world.rig()?;
    let reader = world.reader(&who)?;
    world.toggle(BluetoothFault::UsbDetach { reader }.into(), change == "pulled")
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

#[then(
    regex = r"^(the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E) is (connected|not connected)(?: within (\d+) minutes?)?$"
)]
pub(crate) fn is_connected(
    world: &mut LabWorld,
    who: String,
    state: String,
    wait: String,
) -> StepResult {
    // The serial comes from `rig.started`: start the rig before naming the
    // reader's part, or a first step would look for a part that never exists.
    world.rig()?;
    let reader = world.reader(&who)?;
    let part = format!("reader/{}", world.serial(reader));
    let want = state == "connected";
    let connected = |views: &[View]| {
        views.iter().rev().find_map(|v| connection_change(v, &part)).unwrap_or(false)
    };
    if let Some(span) = within(&wait)?
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
