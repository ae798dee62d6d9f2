//! Steps about the store of offline payments: a full disk, a damaged
//! record, wiped app data, and how many payments a device holds.

use super::params::{Amount, Number, StorageIsFull, StoringDevice};
use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{given, then, when};
use readerlab_emulator::sim::{PowerFault, StorageFault};

#[when(expr = "the storage of {device} {is full or has room again}")]
pub(crate) fn storage_full(
    world: &mut LabWorld,
    who: StoringDevice,
    full: StorageIsFull,
) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(StorageFault::StorageFull { device, nth_write: None }.into(), full.0)
}

#[given(expr = "the next write to the storage of {device} fails for lack of space")]
pub(crate) fn next_write_fails(world: &mut LabWorld, who: StoringDevice) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(StorageFault::StorageFull { device, nth_write: Some(1) }.into(), true)
}

#[when(expr = "a stored record on {device} is damaged")]
pub(crate) fn record_damaged(world: &mut LabWorld, who: StoringDevice) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(StorageFault::RecordCorrupted { device }.into(), true)
}

#[when(expr = "the app data on {device} is wiped")]
pub(crate) fn data_wiped(world: &mut LabWorld, who: StoringDevice) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(who)?;
    world.toggle(PowerFault::AppDataWiped { device }.into(), true)
}

#[then(expr = "{device} reports {n} stored payment(s)")]
pub(crate) fn reports_stored(
    world: &mut LabWorld,
    who: StoringDevice,
    count: Number,
) -> StepResult {
    let count = count.0;
    let device = world.device(who)?;
    let part = world.part_of(device);
    let views = world.views();
    let last = views.iter().rev().find(|v| v.part == part && v.name == "offline.status.changed");
    let reported = last.and_then(|v| v.get("count")).unwrap_or_else(|| "0".to_owned());
    if reported == count.to_string() {
        Ok(())
    } else {
        Err(format!("{who} reports {reported} stored payments, not {count}"))
    }
}

/// The amount of one currency a device says it holds offline: its last
/// `offline.status.changed`, whose `amounts` are kept per currency (a
/// counter taking USD and CAD keeps two totals, never one).
#[then(expr = "{device} reports {amount} stored offline")]
pub(crate) fn reports_amount(
    world: &mut LabWorld,
    who: StoringDevice,
    amount: Amount,
) -> StepResult {
    let amount = amount.0;
    let device = world.device(who)?;
    let part = world.part_of(device);
    let views = world.views();
    let last = views.iter().rev().find(|v| v.part == part && v.name == "offline.status.changed");
    let amounts = last.and_then(|v| v.fields.get("amounts")).and_then(|a| a.as_object());
    let held = |currency: &str| amounts.and_then(|a| a.get(currency)).and_then(|v| v.as_u64());
    let currency = amount.currency.to_string();
    let reported = held(&currency).unwrap_or(0);
    if reported == amount.amount {
        return Ok(());
    }
    let all: Vec<String> =
        amounts.map(|a| a.iter().map(|(c, v)| format!("{v} {c}")).collect()).unwrap_or_default();
    Err(format!(
        "{who} reports {reported} {currency} (minor units) stored offline, not {} ({}); its \
         totals: {}",
        amount.amount,
        amount,
        if all.is_empty() { "none".to_owned() } else { all.join(", ") }
    ))
}
