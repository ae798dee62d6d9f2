//! What the history must show: outcomes of payments, forwarding, and any
//! recorded event. These steps read the history only (the contract every
//! target records), so they judge the simulator, a served rig or a lab rig
//! alike. The invariant checker runs after every scenario on top of them.

use super::params::within;
use super::{LabWorld, StepResult};
use cucumber::then;
use readerlab_emulator::core::Event;
use serde_json::Value;
use std::time::Duration;

/// An event as steps read it: its name, part and fields as JSON, made
/// once per event (the history only grows).
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub(crate) seq: u64,
    pub(crate) t_ms: u64,
    pub(crate) part: String,
    pub(crate) name: String,
    pub(crate) fields: Value,
}

impl View {
    pub(crate) fn of(event: &Event) -> View {
        let mut fields = serde_json::to_value(&event.body).unwrap_or(Value::Null);
        let name = match fields.as_object_mut().and_then(|m| m.remove("event")) {
            Some(Value::String(name)) => name,
            _ => String::new(),
        };
        View { seq: event.seq, t_ms: event.t_ms.0, part: event.part.0.clone(), name, fields }
    }

    /// A top-level field, as text (strings without quotes).
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// Whether the field `key` reads `value`. An amount (`{amount,
    /// currency}`) reads as its minor units (`"500"`) or as a step writes
    /// an amount (`"5.00 USD"`).
    pub(crate) fn has(&self, key: &str, value: &str) -> bool {
        if let Some(money) = self.fields.get(key).and_then(money_of)
            && (value == money.amount.to_string() || super::parse_money(value) == Ok(money))
        {
            return true;
        }
        self.get(key).as_deref() == Some(value)
    }
}

/// A field that is an amount, as the history writes one.
fn money_of(field: &Value) -> Option<readerlab_emulator::core::Money> {
    let object = field.as_object()?;
    if object.len() != 2 || !object.contains_key("currency") {
        return None;
    }
    serde_json::from_value(field.clone()).ok()
}

impl LabWorld {
    /// The history so far, as views (made once per event).
    pub(crate) fn views(&mut self) -> &[View] {
        let known = self.views.len();
        let fresh: Vec<View> = self.events()[known..].iter().map(View::of).collect();
        self.views.extend(fresh);
        &self.views
    }

    /// Looks for an event `pred` accepts in the history so far; with a
    /// wait, lets up to `within` pass until one is recorded.
    pub(crate) fn wait_until(
        &mut self,
        within: Option<Duration>,
        pred: &dyn Fn(&View) -> bool,
    ) -> Result<bool, String> {
        if self.views().iter().any(pred) {
            return Ok(true);
        }
        let Some(within) = within else { return Ok(false) };
        let known = self.views.len() as u64;
        let found = self.rig()?.wait_for(within, &mut |e| e.seq > known && pred(&View::of(e)));
        self.views();
        Ok(found)
    }
}

/// The app-facing outcome an event is, with its payment: `succeeded`,
/// `declined`, `failed` or `stored`.
pub(crate) fn outcome_of(view: &View) -> Option<(String, &'static str)> {
    let outcome = match view.name.as_str() {
        "payment.succeeded" => "succeeded",
        "payment.declined" => "declined",
        "payment.failed" => "failed",
        "offline.payment.stored" => "stored",
        _ => return None,
    };
    Some((view.get("payment")?, outcome))
}

/// The offline id a stored payment was given.
pub(crate) fn offline_id_of(views: &[View], payment: &str) -> Option<String> {
    views
        .iter()
        .find(|v| v.name == "offline.payment.stored" && v.has("payment", payment))
        .and_then(|v| v.get("offline_id"))
}

/// Every event about a payment (by name, offline id or intent), one per
/// line, for the message of a failed expectation.
pub(crate) fn story(views: &[View], payment: &str) -> String {
    let id = offline_id_of(views, payment);
    let intent = views.iter().filter(|v| v.has("payment", payment)).find_map(|v| v.get("intent"));
    let about = |v: &View| {
        v.has("payment", payment)
            || id.as_deref().is_some_and(|id| v.has("offline_id", id))
            || intent.as_deref().is_some_and(|intent| v.has("intent", intent))
    };
    let lines: Vec<String> = views.iter().filter(|v| about(v)).map(line).collect();
    if lines.is_empty() {
        format!("the history has no event about \"{payment}\"")
    } else {
        format!("what the history says about \"{payment}\":\n{}", lines.join("\n"))
    }
}

/// One event, as a short line: `t=12.3s pos offline.payment.stored {..}`.
pub(crate) fn line(view: &View) -> String {
    format!("  t={:.1}s {} {} {}", view.t_ms as f64 / 1_000.0, view.part, view.name, view.fields)
}

/// Expects the payment's outcome to be `outcome`, with `key` = `value` if
/// given.
fn expect_outcome(
    world: &mut LabWorld,
    name: &str,
    outcome: &str,
    key: &str,
    value: &str,
) -> StepResult {
    world.known_payment(name)?;
    let views = world.views();
    let found = views.iter().find(|v| outcome_of(v).is_some_and(|(p, _)| p == name));
    let Some(view) = found else {
        return Err(format!(
            "expected \"{name}\" to be {outcome}, but it has no outcome yet\n{}",
            story(views, name)
        ));
    };
    let (_, got) = outcome_of(view).expect("found above");
    let detail = if key.is_empty() { None } else { view.get(key) };
    if got == outcome && (key.is_empty() || detail.as_deref() == Some(value)) {
        return Ok(());
    }
    Err(format!(
        "expected \"{name}\" to be {outcome}{}, but it was {got}{}\n{}",
        if key.is_empty() { String::new() } else { format!(" with {value}") },
        detail.map(|d| format!(" with {d}")).unwrap_or_default(),
        story(views, name)
    ))
}

#[then(regex = r#"^"([^"]+)" succeeds online$"#)]
fn succeeds_online(world: &mut LabWorld, name: String) -> StepResult {
    expect_outcome(world, &name, "succeeded", "", "")
}

#[then(regex = r#"^"([^"]+)" is stored offline$"#)]
fn is_stored_offline(world: &mut LabWorld, name: String) -> StepResult {
    expect_outcome(world, &name, "stored", "", "")
}

#[then(regex = r#"^"([^"]+)" is declined online with ([a-z_]+)$"#)]
fn is_declined_online(world: &mut LabWorld, name: String, decline: String) -> StepResult {
    expect_outcome(world, &name, "declined", "decline_code", &decline)
}

#[then(regex = r#"^"([^"]+)" fails with ([A-Z_]+)$"#)]
fn fails_with(world: &mut LabWorld, name: String, code: String) -> StepResult {
    expect_outcome(world, &name, "failed", "code", &code)
}

/// The offline id of a stored payment, or why there is none.
fn stored_id(world: &mut LabWorld, name: &str) -> Result<String, String> {
    world.known_payment(name)?;
    let views = world.views();
    offline_id_of(views, name)
        .ok_or_else(|| format!("\"{name}\" was never stored offline\n{}", story(views, name)))
}

/// Expects the stored payment's forwarded callback, with or without a
/// decline code.
fn expect_forwarded(
    world: &mut LabWorld,
    name: &str,
    decline: Option<&str>,
    wait: &str,
) -> StepResult {
    let id = stored_id(world, name)?;
    let forwarded = |v: &View| v.name == "offline.payment.forwarded" && v.has("offline_id", &id);
    if !world.wait_until(within(wait)?, &forwarded)? {
        return Err(format!(
            "\"{name}\" ({id}) was not forwarded{}\n{}",
            if wait.is_empty() { String::new() } else { format!(" within {wait} minutes") },
            story(world.views(), name)
        ));
    }
    let views = world.views();
    let view = views.iter().find(|v| forwarded(v)).expect("found above");
    let error = view.fields.get("error").filter(|e| !e.is_null());
    let got = error.and_then(|e| e.get("decline_code")).and_then(Value::as_str);
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    match (decline, error) {
        (None, None) => Ok(()),
        (Some(want), Some(_)) if got == Some(want) => Ok(()),
        (None, Some(_)) => Err(format!(
            "\"{name}\" was forwarded with an error ({}), not charged\n{}",
            got.or(code).unwrap_or("?"),
            story(views, name)
        )),
        (Some(want), _) => Err(format!(
            "expected \"{name}\" to be declined on sync with {want}, but the forward reported {}\n{}",
            got.or(code).unwrap_or("success"),
            story(views, name)
        )),
    }
}

#[then(regex = r#"^"([^"]+)" is forwarded(?: within (\d+) minutes?)?$"#)]
fn is_forwarded(world: &mut LabWorld, name: String, within: String) -> StepResult {
    expect_forwarded(world, &name, None, &within)
}

#[then(regex = r#"^"([^"]+)" is declined on sync with ([a-z_]+)(?: within (\d+) minutes?)?$"#)]
fn declined_on_sync(
    world: &mut LabWorld,
    name: String,
    decline: String,
    within: String,
) -> StepResult {
    expect_forwarded(world, &name, Some(&decline), &within)
}

#[then(regex = r#"^"([^"]+)" is not forwarded yet$"#)]
fn not_forwarded_yet(world: &mut LabWorld, name: String) -> StepResult {
    let id = stored_id(world, &name)?;
    let views = world.views();
    if views.iter().any(|v| v.name == "offline.payment.forwarded" && v.has("offline_id", &id)) {
        Err(format!("\"{name}\" was already forwarded\n{}", story(views, &name)))
    } else {
        Ok(())
    }
}

#[then(regex = r#"^"([^"]+)" is reported unreadable(?: within (\d+) minutes?)?$"#)]
fn reported_unreadable(world: &mut LabWorld, name: String, wait: String) -> StepResult {
    let id = stored_id(world, &name)?;
    let unreadable = |v: &View| v.name == "offline.payment.unreadable" && v.has("offline_id", &id);
    if world.wait_until(within(&wait)?, &unreadable)? {
        Ok(())
    } else {
        Err(format!("\"{name}\" was not reported unreadable\n{}", story(world.views(), &name)))
    }
}

/// Whether an event is `name` with `key` = `value` (when a key is given).
fn is_event(v: &View, name: &str, key: &str, value: &str) -> bool {
    v.name == name && (key.is_empty() || v.has(key, value))
}

/// `; its "name" events:` and one line each, for a message; `None` when
/// the history has none of that name.
fn its_events(world: &mut LabWorld, name: &str) -> Option<String> {
    let same_name: Vec<String> =
        world.views().iter().filter(|v| v.name == name).map(line).collect();
    (!same_name.is_empty()).then(|| format!("; its \"{name}\" events:\n{}", same_name.join("\n")))
}

/// `"name"` or `"name" with key "value"`, for messages.
fn describe(name: &str, key: &str, value: &str) -> String {
    if key.is_empty() {
        format!("\"{name}\"")
    } else {
        format!("\"{name}\" with {key} \"{value}\"")
    }
}

#[then(
    regex = r#"^the history has an? "([a-z_.]+)" event(?: with ([a-z_]+) "([^"]*)")?(?: within (\d+) minutes?)?$"#
)]
fn history_has(
    world: &mut LabWorld,
    name: String,
    key: String,
    value: String,
    wait: String,
) -> StepResult {
    if world.wait_until(within(&wait)?, &|v| is_event(v, &name, &key, &value))? {
        return Ok(());
    }
    Err(format!(
        "the history has no {} event{}",
        describe(&name, &key, &value),
        its_events(world, &name).unwrap_or_default()
    ))
}

/// An order: the event comes after the last `fault.cleared` of the history
/// so far, and (with a bound) within that long of it. Rig time passes, up
/// to the bound, for it to happen.
#[then(
    regex = r#"^the history has an? "([a-z_.]+)" event(?: with ([a-z_]+) "([^"]*)")? after the last fault clears(?: within (\d+) (millisecond|second|minute)s?)?$"#
)]
fn history_has_after_faults(
    world: &mut LabWorld,
    name: String,
    key: String,
    value: String,
    count: String,
    unit: String,
) -> StepResult {
    let cleared = world.views().iter().rev().find(|v| v.name == "fault.cleared").cloned();
    let Some(cleared) = cleared else {
        return Err("no fault has cleared yet in this scenario: \"after the last fault clears\" \
                    needs one (a step that clears a fault, or a fault with a duration)"
            .to_owned());
    };
    let bound = if count.is_empty() { None } else { Some(super::parse_span(&count, &unit)?) };
    let by = bound
        .map(|b| cleared.t_ms.saturating_add(u64::try_from(b.as_millis()).unwrap_or(u64::MAX)));
    let fits = |v: &View| {
        is_event(v, &name, &key, &value) && v.seq > cleared.seq && by.is_none_or(|by| v.t_ms <= by)
    };
    if world.wait_until(bound, &fits)? {
        return Ok(());
    }
    Err(format!(
        "no {} event after the last fault cleared{} (the last: {}){}",
        describe(&name, &key, &value),
        bound.map_or(String::new(), |b| format!(" within {b:?} of it")),
        line(&cleared),
        its_events(world, &name)
            .unwrap_or_else(|| format!("; the history has no \"{name}\" event"))
    ))
}

#[then(regex = r#"^the history has no "([a-z_.]+)" event(?: with ([a-z_]+) "([^"]*)")?$"#)]
fn history_has_no(world: &mut LabWorld, name: String, key: String, value: String) -> StepResult {
    let found: Vec<String> =
        world.views().iter().filter(|v| is_event(v, &name, &key, &value)).map(line).collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the history has {} events:\n{}",
            describe(&name, &key, &value),
            found.join("\n")
        ))
    }
}

#[then(regex = r#"^the history has (\d+) "([a-z_.]+)" events?(?: with ([a-z_]+) "([^"]*)")?$"#)]
fn history_has_count(
    world: &mut LabWorld,
    count: usize,
    name: String,
    key: String,
    value: String,
) -> StepResult {
    let found: Vec<String> =
        world.views().iter().filter(|v| is_event(v, &name, &key, &value)).map(line).collect();
    if found.len() == count {
        Ok(())
    } else {
        Err(format!(
            "expected {count} {} events, the history has {}:\n{}",
            describe(&name, &key, &value),
            found.len(),
            found.join("\n")
        ))
    }
}

/// A stored payment whose forward ended with an SDK error code rather than
/// a charge or an issuer's decline (`ACCOUNT_ID_MISMATCH_WHILE_FORWARDING`,
/// the test/live mode mismatches): its `offline.payment.forwarded` carries
/// `error.code`.
#[then(regex = r#"^"([^"]+)" is forwarded with error ([A-Z_]+)(?: within (\d+) minutes?)?$"#)]
fn forwarded_with_error(
    world: &mut LabWorld,
    name: String,
    code: String,
    wait: String,
) -> StepResult {
    let id = stored_id(world, &name)?;
    let forwarded = |v: &View| v.name == "offline.payment.forwarded" && v.has("offline_id", &id);
    if !world.wait_until(within(&wait)?, &forwarded)? {
        return Err(format!(
            "\"{name}\" ({id}) was not forwarded{}\n{}",
            if wait.is_empty() { String::new() } else { format!(" within {wait} minutes") },
            story(world.views(), &name)
        ));
    }
    let views = world.views();
    let view = views.iter().find(|v| forwarded(v)).expect("found above");
    let error = view.fields.get("error").filter(|e| !e.is_null());
    let got = error.and_then(|e| e.get("code")).and_then(Value::as_str);
    if got == Some(code.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "expected \"{name}\" to be forwarded with error {code}, but the forward reported {}\n{}",
            got.unwrap_or("success"),
            story(views, &name)
        ))
    }
}
