//! Steps that let time pass. On the simulator time is virtual: a day passes
//! in an instant; other targets wait for real, and skip the long waits.

use super::{LabWorld, StepResult, parse_span};
use crate::rig::Capability;
use cucumber::when;
use std::time::Duration;

/// Waits longer than this need virtual time.
const REAL_TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

#[when(regex = r"^(a|an|one|\d+) (millisecond|second|minute|hour|day)s? pass(?:es)?$")]
pub(crate) fn time_passes(world: &mut LabWorld, count: String, unit: String) -> StepResult {
    let span = parse_span(&count, &unit)?;
    if span > REAL_TIME_LIMIT {
        world.need(Capability::VirtualTime);
    }
    world.rig()?.wait(span);
    Ok(())
}
