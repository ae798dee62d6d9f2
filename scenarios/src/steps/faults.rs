//! Steps that break the network and the devices: internet links down,
//! flapping or slow, a request that times out or whose answer is lost, the
//! POS app killed, upgraded or locked, power lost.

use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{given, when};
use readerlab_emulator::core::backend::RequestKind;
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
    fn internet_of(&self, phrase: &str) -> Result<LinkId, String> {
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

#[when(regex = r"^the internet (goes down|comes back)$")]
pub(crate) fn the_internet(world: &mut LabWorld, change: String) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    for link in world.internet_links() {
        world.toggle(LinkFault::LinkDown { link }.into(), change == "goes down")?;
    }
    Ok(())
}

#[when(
    regex = r"^(the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E)'s internet (goes down|comes back)$"
)]
pub(crate) fn a_devices_internet(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::NetworkFaults);
    world.rig()?;
    let link = world.internet_of(&who)?;
    world.toggle(LinkFault::LinkDown { link }.into(), change == "goes down")
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

/// The request kind a step names.
fn request_kind(name: &str) -> Result<Option<RequestKind>, String> {
    Ok(Some(match name {
        "create" => RequestKind::CreatePaymentIntent,
        "confirm" => RequestKind::ConfirmPaymentIntent,
        "forward" => RequestKind::ForwardOfflinePayment,
        "connection token" => RequestKind::CreateConnectionToken,
        "capture" => RequestKind::CapturePaymentIntent,
        "cancel" => RequestKind::CancelPaymentIntent,
        "" | "any" => return Ok(None),
        other => return Err(format!("`{other}` is not a request kind")),
    }))
}

/// `next` → 1, `3rd` → 3.
fn ordinal(text: &str) -> Result<u32, String> {
    if text == "next" {
        return Ok(1);
    }
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    digits.parse().map_err(|_| format!("`{text}` is not an ordinal"))
}

#[given(
    regex = r#"^the (next|\d+(?:st|nd|rd|th)) "(create|confirm|forward|connection token|capture|cancel|any)" request from (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) (times out|loses its answer)$"#
)]
pub(crate) fn request_fault(
    world: &mut LabWorld,
    nth: String,
    kind: String,
    who: String,
    fate: String,
) -> StepResult {
    world.need(Capability::RequestFaults);
    world.rig()?;
    let (link, request, nth) = (world.internet_of(&who)?, request_kind(&kind)?, ordinal(&nth)?);
    let fault = if fate == "times out" {
        LinkFault::RequestTimeout { link, request, nth }.into()
    } else {
        LinkFault::ResponseLost { link, request, nth }.into()
    };
    world.toggle(fault, true)
}

#[when(
    regex = r"^the app on (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) (is killed|starts again)$"
)]
pub(crate) fn app_killed(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(PowerFault::AppKill { device }.into(), change == "is killed")
}

#[when(
    regex = r"^the app on (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) is upgraded from the version with the old store format$"
)]
pub(crate) fn app_upgraded(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(PowerFault::AppUpgrade { device }.into(), true)
}

#[when(
    regex = r"^(the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) is (locked|unlocked)$"
)]
pub(crate) fn locked(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::DeviceLock);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(PowerFault::DeviceLocked { device }.into(), change == "locked")
}

#[when(
    regex = r"^(the POS|the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E) loses power( in the middle of its next write)?$"
)]
pub(crate) fn loses_power(world: &mut LabWorld, who: String, mid_write: String) -> StepResult {
    world.need(Capability::Power);
    world.rig()?;
    let device = if who == "the POS" { Device::Pos } else { Device::Reader(world.reader(&who)?) };
    let mid_write = !mid_write.is_empty();
    let torn = if mid_write { TORN_BYTES } else { 0 };
    world.toggle(
        PowerFault::PowerLoss { device, torn, mid_write, off_for: POWER_OFF_FOR }.into(),
        true,
    )
}
