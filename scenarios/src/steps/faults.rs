//! Steps that break the network and the devices: internet links down,
//! flapping or slow, a request that times out or whose answer is lost, the
//! POS app killed, upgraded or locked, power lost.

use super::params::{AppKilled, InternetDown, Locked, MidWrite, Ordinal, RequestFilter, TimesOut};
use super::params::{DeviceOrReader, DevicePhrase, StoringDevice};
use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{given, when};
use readerlab_emulator::sim::{Device, Fault, LinkId};
use readerlab_emulator::sim::{LinkFault, PowerFault};
use std::time::Duration;

/// How long a device stays off after it loses power.
const POWER_OFF_FOR: Duration = Duration::from_secs(30);

/// Bytes of the unsynced write a mid-write power loss leaves on disk.
const TORN_BYTES: usize = 7;

impl LabWorld {
    /// Every internet link of the rig: the POS's and each smart reader's.
    fn internet_links(&self) -> Vec<LinkId> {
        let smart = (0..self.spec.readers.len()).filter(|i| self.stores_own(*i));
        std::iter::once(LinkId::PosBackend).chain(smart.map(LinkId::ReaderBackend)).collect()
    }

    /// The internet link of the device a phrase names.
    fn internet_of(&self, phrase: impl Into<DevicePhrase>) -> Result<LinkId, String> {
        Ok(match self.device(phrase)? {
            Device::Pos => LinkId::PosBackend,
            Device::Reader(index) => LinkId::ReaderBackend(index),
        })
    }

    /// Injects (`on`) or clears a fault.
    pub(crate) fn toggle(&mut self, fault: Fault, on: bool) -> StepResult {
        let rig = self.rig()?;
        if on {
            rig.inject(fault).map_err(|e| e.to_string())
        } else {
            rig.clear(&fault);
            Ok(())
        }
    }
}

#[when(expr = "the internet {goes down or comes back}")]
pub(crate) fn the_internet(world: &mut LabWorld, down: InternetDown) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    for link in world.internet_links() {
        world.toggle(LinkFault::LinkDown { link }.into(), down.0)?;
    }
    Ok(())
}

#[when(expr = "{device}'s internet {goes down or comes back}")]
pub(crate) fn a_devices_internet(
    world: &mut LabWorld,
    who: StoringDevice,
    down: InternetDown,
) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    let link = world.internet_of(who)?;
    world.toggle(LinkFault::LinkDown { link }.into(), down.0)
}

#[when(regex = r"^the internet (starts|stops) flapping$")]
pub(crate) fn flapping(world: &mut LabWorld, change: String) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    for link in world.internet_links() {
        world.toggle(LinkFault::LinkFlapping { link }.into(), change == "starts")?;
    }
    Ok(())
}

#[when(regex = r"^the internet (?:slows down by (\d+) ms|is fast again)$")]
pub(crate) fn latency(world: &mut LabWorld, extra_ms: String) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    // Clearing matches a fault by kind and target, whatever its delay.
    let on = !extra_ms.is_empty();
    let extra_ms = extra_ms.parse().unwrap_or(0);
    for link in world.internet_links() {
        world.toggle(LinkFault::Latency { link, extra_ms }.into(), on)?;
    }
    Ok(())
}

#[given(
    expr = r#"the {ordinal} "{request}" request from {device} {times out or loses its answer}"#
)]
pub(crate) fn request_fault(
    world: &mut LabWorld,
    nth: Ordinal,
    kind: RequestFilter,
    who: StoringDevice,
    times_out: TimesOut,
) -> StepResult {
    world.need(Capability::RequestFaults);
    world.rig()?;
    let (link, request, nth) = (world.internet_of(who)?, kind.0, nth.0);
    let fault = if times_out.0 {
        LinkFault::RequestTimeout { link, request, nth }.into()
    } else {
        LinkFault::ResponseLost { link, request, nth }.into()
    };
    world.toggle(fault, true)
}

#[when(expr = "the app on {device} {is killed or starts again}")]
pub(crate) fn app_killed(
    world: &mut LabWorld,
    who: StoringDevice,
    killed: AppKilled,
) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(PowerFault::AppKill { device }.into(), killed.0)
}

#[when(expr = "the app on {device} is upgraded from the version with the old store format")]
pub(crate) fn app_upgraded(world: &mut LabWorld, who: StoringDevice) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(PowerFault::AppUpgrade { device }.into(), true)
}

#[when(expr = "{device} is {locked or unlocked}")]
pub(crate) fn locked(world: &mut LabWorld, who: StoringDevice, lock: Locked) -> StepResult {
    world.need(Capability::DeviceLock);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(PowerFault::DeviceLocked { device }.into(), lock.0)
}

#[when(expr = "{device or reader} loses power{mid write?}")]
pub(crate) fn loses_power(
    world: &mut LabWorld,
    who: DeviceOrReader,
    mid_write: MidWrite,
) -> StepResult {
    world.need(Capability::Power);
    world.rig()?;
    let device = world.device_or_reader(who)?;
    let mid_write = mid_write.0;
    let torn = if mid_write { TORN_BYTES } else { 0 };
    world.toggle(
        PowerFault::PowerLoss { device, torn, mid_write, off_for: POWER_OFF_FOR }.into(),
        true,
    )
}
