//! Steps about the POS and its customers' payments: the reference POS app
//! creates each payment, has the reader collect the card, confirms, and
//! waits for its one outcome.

use super::expect::{View, offline_id_of};
use super::params::{Amount, EntryModePhrase, Maybe, ModelName, ReaderPhrase};
use super::{LabWorld, OUTCOME_WAIT, StepResult, parse_behavior};
use cucumber::gherkin::Step;
use cucumber::{given, when};
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::TestCards;
use readerlab_emulator::core::{EntryMode, Money};
use readerlab_emulator::core::{Event, EventBody};
use readerlab_emulator::fixtures::ReaderCatalog;
use readerlab_emulator::sim::PaymentSpec;
use std::time::Duration;

#[given(regex = r"^the app collects with (PREFER_ONLINE|REQUIRE_ONLINE|FORCE_OFFLINE)$")]
pub(crate) fn app_behavior(world: &mut LabWorld, behavior: String) -> StepResult {
    world.defaults.behavior = parse_behavior(&behavior)?;
    Ok(())
}

#[given(regex = r#"^customers pay with the "([a-z_]+)" card$"#)]
pub(crate) fn default_card(world: &mut LabWorld, card: String) -> StepResult {
    world.defaults.card = card_number(&card)?;
    Ok(())
}

/// One customer, as a step or a table row describes them.
struct Customer {
    amount: Money,
    name: String,
    /// The rig's first reader when `None`.
    reader: Option<ReaderPhrase>,
    card: String,
    number: String,
    /// The reader's default when `None`.
    entry: Option<EntryMode>,
    behavior: String,
}

// The one step over these phrases that keeps a regex: its optional clauses
// carry captures, which a cucumber expression cannot. Its amount, model and
// entry-mode clauses are those parameters' regexes (a test in `params`
// holds them to it), and they arrive parsed.
#[when(
    regex = r#"^the customer (pays|starts paying) (\d+(?:\.\d\d)? [A-Z]{3}) as "([^"]+)"(?: at the (Stripe Reader M2|BBPOS WisePad 3|BBPOS Chipper 2X BT|Stripe Reader S700|BBPOS WisePOS E))?(?: with the "([a-z_]+)" card| with card (\d{12,19}))?(?: by (tapping|inserting|swiping))?(?: with (PREFER_ONLINE|REQUIRE_ONLINE|FORCE_OFFLINE))?$"#
)]
#[expect(clippy::too_many_arguments, reason = "one argument per optional clause of the step")]
pub(crate) fn the_customer_pays(
    world: &mut LabWorld,
    wait: String,
    amount: Amount,
    name: String,
    reader: Maybe<ModelName>,
    card: String,
    number: String,
    entry: Maybe<EntryModePhrase>,
    behavior: String,
) -> StepResult {
    let customer = Customer {
        amount: amount.0,
        name,
        reader: reader.0.map(|m| ReaderPhrase::Model(m.0)),
        card,
        number,
        entry: entry.0.map(|e| e.0),
        behavior,
    };
    let name = arrive(world, &customer)?;
    if wait == "pays" {
        await_outcomes(world, &[name])?;
    }
    Ok(())
}

#[when(regex = r"^these customers pay:$")]
pub(crate) fn these_customers_pay(world: &mut LabWorld, #[step] step: &Step) -> StepResult {
    let table = step.table.as_ref().ok_or("this step needs a table of customers")?;
    let mut rows = table.rows.iter();
    let header = rows.next().ok_or("the table is empty")?;
    let mut names = Vec::new();
    for row in rows {
        let customer = customer_of(header, row)?;
        names.push(arrive(world, &customer)?);
    }
    await_outcomes(world, &names)
}

/// The columns of a table of customers.
const COLUMNS: [&str; 7] = ["name", "amount", "reader", "card", "number", "entry", "behavior"];

/// The customer a table row describes, its cells read as the step's
/// clauses would read them (`reader` loosely: a model's name or id).
fn customer_of(header: &[String], row: &[String]) -> Result<Customer, String> {
    if let Some(other) = header.iter().map(|c| c.trim()).find(|c| !COLUMNS.contains(c)) {
        return Err(format!("unknown column `{other}` ({})", COLUMNS.join(", ")));
    }
    let cell = |column: &str| {
        let mut cells = header.iter().zip(row).filter(|(c, _)| c.trim() == column);
        cells.next_back().map_or("", |(_, value)| value.trim())
    };
    let reader = match cell("reader") {
        "" => None,
        name => Some(ReaderPhrase::named(name)?),
    };
    Ok(Customer {
        amount: cell("amount").parse::<Amount>()?.0,
        name: cell("name").to_owned(),
        reader,
        card: cell("card").to_owned(),
        number: cell("number").to_owned(),
        entry: cell("entry").parse::<Maybe<EntryModePhrase>>()?.0.map(|e| e.0),
        behavior: cell("behavior").to_owned(),
    })
}

#[when(
    regex = r#"^(the app has created|the reader is collecting|the reader has read the card for|the SDK has stored|the SDK is forwarding) "([^"]+)"$"#
)]
pub(crate) fn payment_reaches(world: &mut LabWorld, phase: String, name: String) -> StepResult {
    world.known_payment(&name)?;
    let phase: Phase = phase.parse()?;
    if reach_phase(world, &name, phase, OUTCOME_WAIT)? {
        return Ok(());
    }
    Err(match (phase, offline_id_of(world.views(), &name)) {
        (Phase::Forwarding, Some(id)) => {
            format!("\"{name}\" ({id}) was not forwarded within 10 minutes")
        }
        _ => format!("\"{name}\" never reached `{}` within 10 minutes", phase.event()),
    })
}

/// A phase of a payment a step can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `the app has created`: its intent exists (`payment.intent.created`).
    Created,
    /// `the reader is collecting` (`reader.payment.collect.started`).
    Collecting,
    /// `the reader has read the card for` (`reader.payment.collected`):
    /// the confirm or the offline store comes next.
    CardRead,
    /// `the SDK has stored` (`offline.payment.stored`).
    Stored,
    /// `the SDK is forwarding`: an upload of it was sent
    /// (`offline.forward.attempted`) and is on its way to the backend.
    Forwarding,
}

impl std::str::FromStr for Phase {
    type Err = String;

    fn from_str(phrase: &str) -> Result<Phase, String> {
        Ok(match phrase {
            "the app has created" => Phase::Created,
            "the reader is collecting" => Phase::Collecting,
            "the reader has read the card for" => Phase::CardRead,
            "the SDK has stored" => Phase::Stored,
            "the SDK is forwarding" => Phase::Forwarding,
            other => return Err(format!("`{other}` is not a phase of a payment")),
        })
    }
}

impl Phase {
    /// The history event that marks it (for `Forwarding`, once the payment
    /// is stored under an offline id).
    pub(crate) fn event(self) -> &'static str {
        match self {
            Phase::Created => "payment.intent.created",
            Phase::Collecting => "reader.payment.collect.started",
            Phase::CardRead => "reader.payment.collected",
            Phase::Stored => "offline.payment.stored",
            Phase::Forwarding => "offline.forward.attempted",
        }
    }

    /// The phrase the steps use.
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            Phase::Created => "the app has created",
            Phase::Collecting => "the reader is collecting",
            Phase::CardRead => "the reader has read the card for",
            Phase::Stored => "the SDK has stored",
            Phase::Forwarding => "the SDK is forwarding",
        }
    }
}

/// Runs the rig until `payment` has reached `phase` (at once if it has),
/// for at most `within`; whether it did.
pub(crate) fn reach_phase(
    world: &mut LabWorld,
    payment: &str,
    phase: Phase,
    within: Duration,
) -> Result<bool, String> {
    let mut offline_id = offline_id_of(world.views(), payment);
    let mut reached = |view: &View| {
        if phase != Phase::Forwarding {
            return view.name == phase.event() && view.has("payment", payment);
        }
        if offline_id.is_none()
            && view.name == "offline.payment.stored"
            && view.has("payment", payment)
        {
            offline_id = view.get("offline_id");
        }
        view.name == phase.event()
            && offline_id.as_deref().is_some_and(|id| view.has("offline_id", id))
    };
    if world.views().iter().any(&mut reached) {
        return Ok(true);
    }
    let known = world.views().len() as u64;
    let found = world.rig()?.wait_for(within, &mut |e| e.seq > known && reached(&View::of(e)));
    world.views();
    Ok(found)
}

/// The number of the test card of this simulated type.
pub(crate) fn card_number(simulated_type: &str) -> Result<String, String> {
    TestCards::builtin()
        .by_type(simulated_type)
        .map(|c| c.number.clone())
        .ok_or_else(|| format!("no test card of type `{simulated_type}` (see fixtures/cards.toml)"))
}

/// Places a customer at the counter; returns the payment's name.
fn arrive(world: &mut LabWorld, customer: &Customer) -> Result<String, String> {
    if customer.name.is_empty() {
        return Err("every payment needs a name".to_owned());
    }
    if world.payments.iter().any(|(n, _)| *n == customer.name) {
        return Err(format!("a payment is already called \"{}\"", customer.name));
    }
    let reader = world.reader(customer.reader.unwrap_or(ReaderPhrase::First))?;
    let card = match (customer.card.as_str(), customer.number.as_str()) {
        ("", "") => world.defaults.card.clone(),
        (simulated_type, "") => card_number(simulated_type)?,
        (_, number) => number.to_owned(),
    };
    let model = world.spec.readers[reader];
    let catalog = ReaderCatalog::builtin();
    let profile = catalog.get(model);
    let entry_mode =
        customer.entry.unwrap_or(if profile.entry_modes.contains(&EntryMode::Contactless) {
            EntryMode::Contactless
        } else {
            EntryMode::Chip
        });
    let behavior = if customer.behavior.is_empty() {
        world.defaults.behavior
    } else {
        parse_behavior(&customer.behavior)?
    };
    let spec = PaymentSpec {
        name: customer.name.clone(),
        at: Millis::ZERO,
        amount: customer.amount,
        card,
        entry_mode,
        behavior,
        reader,
    };
    world.rig()?.pay(spec);
    world.payments.push((customer.name.clone(), reader));
    Ok(customer.name.clone())
}

/// Lets time pass until every named payment has its outcome (or the wait
/// runs out, which is not an error here: the Then steps say what was due).
/// The outcome events are matched as they are recorded, without making a
/// view of every event the wait goes through (this step is the hottest of
/// `readerlab explore`).
fn await_outcomes(world: &mut LabWorld, names: &[String]) -> StepResult {
    for name in names {
        let done = |e: &Event| outcome_payment(&e.body) == Some(name.as_str());
        if world.events().iter().any(done) {
            continue;
        }
        world.rig()?.wait_for(OUTCOME_WAIT, &mut |e| done(e));
    }
    Ok(())
}

/// The payment an app-facing outcome event is about (`payment.succeeded`,
/// `payment.declined`, `payment.failed`, `offline.payment.stored`): the
/// same events [`super::expect::outcome_of`] reads from a view.
fn outcome_payment(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::SdkPaymentSucceeded { payment, .. }
        | EventBody::SdkPaymentDeclined { payment, .. }
        | EventBody::SdkPaymentFailed { payment, .. }
        | EventBody::OfflinePaymentStored { payment, .. }
        // An outside POS's own word (docs/driver-protocol.md).
        | EventBody::PosPaymentEnded { payment, .. }
        | EventBody::PosPaymentRefused { payment, .. } => Some(payment),
        _ => None,
    }
}

impl LabWorld {
    /// Fails unless a payment of this name was placed.
    pub(crate) fn known_payment(&self, name: &str) -> StepResult {
        if self.payments.iter().any(|(n, _)| n == name) {
            Ok(())
        } else {
            let known: Vec<_> = self.payments.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            Err(format!(
                "no payment is called \"{name}\" (known: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_are_found_by_their_simulated_type() {
        assert_eq!(card_number("visa").unwrap(), "4242424242424242");
        assert!(card_number("platinum").unwrap_err().contains("no test card"));
    }
}
