//! Steps about the store of offline payments: a full disk, a damaged
//! record, wiped app data, and how many payments a device holds.

use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{given, then, when};
use readerlab_emulator::sim::{PowerFault, StorageFault};

#[when(
    regex = r"^the storage of (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) (is full|has room again)$"
)]
pub(crate) fn storage_full(world: &mut LabWorld, who: String, change: String) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(StorageFault::StorageFull { device, nth_write: None }.into(), change == "is full")
}

#[given(
    regex = r"^the next write to the storage of (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) fails for lack of space$"
)]
pub(crate) fn next_write_fails(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(StorageFault::StorageFull { device, nth_write: Some(1) }.into(), true)
}

#[when(
    regex = r"^a stored record on (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) is damaged$"
)]
pub(crate) fn record_damaged(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::StorageFaults);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(StorageFault::RecordCorrupted { device }.into(), true)
}

#[when(
    regex = r"^the app data on (the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) is wiped$"
)]
pub(crate) fn data_wiped(world: &mut LabWorld, who: String) -> StepResult {
    world.need(Capability::AppLifecycle);
    world.rig()?;
    let device = world.device(&who)?;
    world.toggle(PowerFault::AppDataWiped { device }.into(), true)
}

#[then(
    regex = r"^(the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E) reports (\d+) stored payments?$"
)]
pub(crate) fn reports_stored(world: &mut LabWorld, who: String, count: u64) -> StepResult {
    let device = world.device(&who)?;
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
