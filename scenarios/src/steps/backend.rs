//! Steps about the backend: faults it is told to play (declines on sync,
//! connection-token failures, another account's tokens, HTTP errors) and
//! what its ledger holds.

use super::expect::{offline_id_of, story};
use super::{LabWorld, StepResult};
use crate::rig::Capability;
use cucumber::{given, then};
use readerlab_emulator::core::backend::RequestKind;
use readerlab_emulator::sim::BackendFault;

#[given(regex = r"^the backend declines the next (\d+) forwarded payments? with ([a-z_]+)$")]
pub(crate) fn declines_on_sync(
    world: &mut LabWorld,
    times: u32,
    decline_code: String,
) -> StepResult {
    world.need(Capability::BackendFaults);
    world.rig()?;
    world.toggle(BackendFault::DeclineOnSync { times, decline_code }.into(), true)
}

#[given(regex = r"^the connection token provider fails (\d+) times?$")]
pub(crate) fn token_failure(world: &mut LabWorld, times: u32) -> StepResult {
    world.need(Capability::BackendFaults);
    world.rig()?;
    world.toggle(BackendFault::TokenProviderFailure { times }.into(), true)
}

#[given(regex = r"^the next (\d+) connection tokens? (?:is|are) for another account$")]
pub(crate) fn another_account(world: &mut LabWorld, times: u32) -> StepResult {
    world.need(Capability::BackendFaults);
    world.rig()?;
    world.toggle(BackendFault::AccountMismatch { times }.into(), true)
}

#[given(
    regex = r#"^the backend answers the next (\d+) (?:"(create|confirm|forward|connection token)" )?requests? with HTTP (409|429|500|502|503|504)$"#
)]
pub(crate) fn http_error(
    world: &mut LabWorld,
    times: u32,
    kind: String,
    status: u16,
) -> StepResult {
    world.need(Capability::BackendFaults);
    world.rig()?;
    let request = match kind.as_str() {
        "create" => Some(RequestKind::CreatePaymentIntent),
        "confirm" => Some(RequestKind::ConfirmPaymentIntent),
        "forward" => Some(RequestKind::ForwardOfflinePayment),
        "connection token" => Some(RequestKind::CreateConnectionToken),
        _ => None,
    };
    world.toggle(BackendFault::HttpError { status, request, times }.into(), true)
}

#[then(regex = r#"^the backend holds (\d+) charges? for "([^"]+)"$"#)]
pub(crate) fn charges_for(world: &mut LabWorld, count: usize, name: String) -> StepResult {
    world.known_payment(&name)?;
    let views = world.views();
    let id = offline_id_of(views, &name);
    let intents: Vec<String> =
        views.iter().filter(|v| v.has("payment", &name)).filter_map(|v| v.get("intent")).collect();
    let charges = views
        .iter()
        .filter(|v| v.name == "backend.charge.succeeded")
        .filter(|v| {
            let by_id = id.as_deref().is_some_and(|id| v.has("offline_id", id));
            let by_intent = v.get("intent").is_some_and(|i| intents.contains(&i));
            by_id || by_intent
        })
        .count();
    if charges == count {
        Ok(())
    } else {
        Err(format!(
            "the backend holds {charges} charges for \"{name}\", not {count}\n{}",
            story(views, &name)
        ))
    }
}

#[then(regex = r#"^the charge for "([^"]+)" is marked as collected offline$"#)]
pub(crate) fn charge_marked_offline(world: &mut LabWorld, name: String) -> StepResult {
    world.known_payment(&name)?;
    let views = world.views();
    let id = offline_id_of(views, &name)
        .ok_or_else(|| format!("\"{name}\" was never stored offline\n{}", story(views, &name)))?;
    let marked =
        views.iter().any(|v| v.name == "backend.charge.succeeded" && v.has("offline_id", &id));
    if marked {
        Ok(())
    } else {
        Err(format!("no charge carries \"{name}\"'s offline id {id}\n{}", story(views, &name)))
    }
}
