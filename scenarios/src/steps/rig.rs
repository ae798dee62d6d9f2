//! Steps about the rig and its configuration. They come before the first
//! step that acts (which starts the rig).

use super::params::{Amount, ModelName};
use super::{LabWorld, StepResult};
use cucumber::given;
use readerlab_emulator::core::LinkKind;

#[given(expr = "a rig with a(n) {model}")]
pub(crate) fn a_rig_with(world: &mut LabWorld, model: ModelName) -> StepResult {
    world.configure()?.readers = vec![model.0];
    Ok(())
}

#[given(expr = "the rig also has a(n) {model}")]
pub(crate) fn the_rig_also_has(world: &mut LabWorld, model: ModelName) -> StepResult {
    world.configure()?.readers.push(model.0);
    Ok(())
}

#[given(regex = r"^the POS reaches its reader over (USB|Bluetooth)$")]
pub(crate) fn over_link(world: &mut LabWorld, link: String) -> StepResult {
    let link = if link == "USB" { LinkKind::Usb } else { LinkKind::Ble };
    world.configure()?.mobile_link = Some(link);
    Ok(())
}

#[given(regex = r"^offline mode is (enabled|disabled) in the Terminal configuration$")]
pub(crate) fn offline_mode(world: &mut LabWorld, state: String) -> StepResult {
    world.configure()?.offline.enabled = state == "enabled";
    Ok(())
}

#[given(expr = "the offline maximum per payment is {amount}")]
pub(crate) fn offline_maximum(world: &mut LabWorld, amount: Amount) -> StepResult {
    let money = amount.0;
    world.configure()?.offline.max_amount.insert(money.currency, money.amount);
    Ok(())
}

#[given(expr = "the app stores at most {amount} offline")]
pub(crate) fn stored_amount_limit(world: &mut LabWorld, amount: Amount) -> StepResult {
    let money = amount.0;
    world.configure()?.offline.stored_amount_limit.insert(money.currency, money.amount);
    Ok(())
}

#[given(regex = r"^the store holds at most (\d+) payments?$")]
pub(crate) fn record_cap(world: &mut LabWorld, records: u32) -> StepResult {
    world.configure()?.offline.max_records = records;
    Ok(())
}

#[given(regex = r"^the Location is in the EEA$")]
pub(crate) fn in_the_eea(world: &mut LabWorld) -> StepResult {
    world.configure()?.offline.eea = true;
    Ok(())
}
