//! Steps that let time pass. On the simulator time is virtual: a day passes
//! in an instant; other targets wait for real, and skip the long waits.

use super::payments::{Phase, reach_phase};
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

/// Lets rig time pass until a payment reaches a phase (the phrases of `When
/// the reader is collecting "coffee"`), or for at most the bound (1 minute
/// when none is given), whichever comes first. A phase that does not come
/// is not a failure: the step aims the next one (a fault) at the phase;
/// what must happen is said with `Then` steps.
#[when(
    regex = r#"^time passes until (the app has created|the reader is collecting|the reader has read the card for|the SDK has stored|the SDK is forwarding) "([^"]+)"(?:, at most (\d+) (millisecond|second|minute)s?)?$"#
)]
pub(crate) fn time_passes_until(
    world: &mut LabWorld,
    phase: String,
    payment: String,
    count: String,
    unit: String,
) -> StepResult {
    let phase: Phase = phase.parse()?;
    let bound = if count.is_empty() { UNTIL_DEFAULT } else { parse_span(&count, &unit)? };
    if bound > REAL_TIME_LIMIT {
        world.need(Capability::VirtualTime);
    }
    world.known_payment(&payment)?;
    reach_phase(world, &payment, phase, bound)?;
    Ok(())
}

/// How long `time passes until …` waits when it names no bound.
pub(crate) const UNTIL_DEFAULT: Duration = Duration::from_secs(60);
