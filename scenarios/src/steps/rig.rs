//! Steps about the rig and its configuration. They come before the first
//! step that acts (which starts the rig).

use super::{LabWorld, StepResult, model_named, parse_money};
use cucumber::given;
use readerlab_emulator::core::LinkKind;

#[given(
    regex = r"^a rig with an? (Stripe Reader M2|BBPOS WisePad 3|BBPOS Chipper 2X BT|Stripe Reader S700|BBPOS WisePOS E)$"
)]
pub(crate) fn a_rig_with(world: &mut LabWorld, model: String) -> StepResult {
    let model = model_named(&model).ok_or("unknown model")?;
    world.configure()?.readers = vec![model];
    Ok(())
}

#[given(
    regex = r"^the rig also has an? (Stripe Reader M2|BBPOS WisePad 3|BBPOS Chipper 2X BT|Stripe Reader S700|BBPOS WisePOS E)$"
)]
pub(crate) fn the_rig_also_has(world: &mut LabWorld, model: String) -> StepResult {
    let model = model_named(&model).ok_or("unknown model")?;
    world.configure()?.readers.push(model);
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

#[given(regex = r"^the offline maximum per payment is (\d+(?:\.\d\d)? [A-Z]{3})$")]
pub(crate) fn offline_maximum(world: &mut LabWorld, amount: String) -> StepResult {
    let money = parse_money(&amount)?;
    world.configure()?.offline.max_amount.insert(money.currency, money.amount);
    Ok(())
}

#[given(regex = r"^the app stores at most (\d+(?:\.\d\d)? [A-Z]{3}) offline$")]
pub(crate) fn stored_amount_limit(world: &mut LabWorld, amount: String) -> StepResult {
    let money = parse_money(&amount)?;
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
