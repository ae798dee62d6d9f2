//! An outside POS (docs/driver-protocol.md) held to its word: every payment
//! readerlab asked it for and it started ends exactly once (I3), what it
//! says agrees with the ledger (I3: no "declined" for a customer who was
//! charged), and one payment is charged at most once across every
//! PaymentIntent that carries its name (I2). An outcome the POS could not
//! tell (`unknown`) breaks nothing but leaves the verdict unknown.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::{Event, EventBody, Invariant, PosOutcome};
use std::collections::BTreeMap;

/// One payment of the outside POS, by the positions of its events.
#[derive(Debug, Default)]
struct PosPayment {
    started: Option<usize>,
    ended: Vec<usize>,
    /// Successful charges of intents carrying its name.
    charges: Vec<usize>,
    intents: Vec<usize>,
}

/// Checks the outside POS's payments; returns the payments whose outcome
/// it reported as unknown.
pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) -> Vec<String> {
    let payments = gather(facts);
    let mut unknown = Vec::new();
    for (name, payment) in &payments {
        outcomes(facts.history, name, payment, found, &mut unknown);
        if payment.charges.len() > 1 {
            let message = format!(
                "the POS's payment was charged {} times, under {} payment intents",
                payment.charges.len(),
                payment.intents.len()
            );
            let excerpt = payment.intents.iter().chain(&payment.charges).copied();
            found.push(Finding::new(Invariant::I2, Some(name), message).with(excerpt));
        }
    }
    unknown
}

fn outcomes(
    history: &[Event],
    name: &str,
    payment: &PosPayment,
    found: &mut Vec<Finding>,
    unknown: &mut Vec<String>,
) {
    let outcome_at = |at: usize| match &history[at].body {
        EventBody::PosPaymentEnded { outcome, .. } => Some(*outcome),
        _ => None,
    };
    match (payment.started, payment.ended.as_slice()) {
        (Some(started), []) => {
            let message = "the POS started it and never reported its outcome".to_owned();
            found.push(Finding::new(Invariant::I3, Some(name), message).with([started]));
        }
        (None, [first, ..]) if outcome_at(*first) != Some(PosOutcome::Unknown) => {
            let message = "the POS reported an outcome for a payment it never started".to_owned();
            found.push(Finding::new(Invariant::I3, Some(name), message).with([*first]));
        }
        (_, [_, _, ..]) => {
            let message = format!("the POS reported {} outcomes", payment.ended.len());
            let excerpt = payment.ended.iter().copied().take(4);
            found.push(Finding::new(Invariant::I3, Some(name), message).with(excerpt));
        }
        _ => {}
    }
    for &at in &payment.ended {
        match outcome_at(at) {
            Some(PosOutcome::Unknown) => unknown.push(name.to_owned()),
            Some(outcome) if outcome.says_unpaid() && !payment.charges.is_empty() => {
                let message = format!(
                    "the POS reported it {} but the customer was charged",
                    serde_json::to_value(outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
                let excerpt = [at].into_iter().chain(payment.charges.iter().copied());
                found.push(Finding::new(Invariant::I3, Some(name), message).with(excerpt));
            }
            _ => {}
        }
    }
}

/// Each outside-POS payment's events, and the standing charges of the
/// intents that carry its name (the index links them, as it does for I9
/// and I10).
fn gather<'h>(facts: &Facts<'h>) -> BTreeMap<&'h str, PosPayment> {
    let mut payments: BTreeMap<&'h str, PosPayment> = BTreeMap::new();
    for (at, event) in facts.history.iter().enumerate() {
        match &event.body {
            EventBody::PosPaymentStarted { payment, .. } => {
                payments.entry(payment).or_default().started = Some(at);
            }
            EventBody::PosPaymentEnded { payment, .. } => {
                payments.entry(payment).or_default().ended.push(at);
            }
            _ => {}
        }
    }
    for (name, intents) in facts.named.iter() {
        let payment = payments.entry(name).or_default();
        for intent in intents {
            payment.intents.extend(facts.intents.get(*intent).and_then(|i| i.created));
            payment.charges.extend(facts.standing_charges(intent));
        }
    }
    payments
}

#[cfg(test)]
mod tests {
    use super::*;
    use readerlab_emulator::core::offline::CaptureMethod;
    use readerlab_emulator::core::{Brand, CardSummary, Currency, Funding, Millis, Money, Part};

    fn usd(amount: u64) -> Money {
        Money::new(amount, Currency::USD)
    }

    fn history(bodies: Vec<EventBody>) -> Vec<Event> {
        let part = |body: &EventBody| {
            if body.name().starts_with("pos.") { Part::pos() } else { Part("backend".to_owned()) }
        };
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Event {
                seq: i as u64 + 1,
                t_ms: Millis(i as u64),
                part: part(&body),
                body,
            })
            .collect()
    }

    fn started(payment: &str) -> EventBody {
        EventBody::PosPaymentStarted { payment: payment.to_owned(), intent: None }
    }

    fn ended(payment: &str, outcome: PosOutcome) -> EventBody {
        EventBody::PosPaymentEnded {
            payment: payment.to_owned(),
            outcome,
            intent: None,
            code: None,
            decline_code: None,
        }
    }

    fn intent(id: &str, payment: &str) -> EventBody {
        EventBody::IntentCreated {
            intent: id.to_owned(),
            amount: usd(500),
            capture: CaptureMethod::Automatic,
            offline_id: None,
            payment: Some(payment.to_owned()),
        }
    }

    fn charged(charge: &str, intent: &str) -> EventBody {
        EventBody::ChargeSucceeded {
            charge: charge.to_owned(),
            intent: intent.to_owned(),
            amount: usd(500),
            card: CardSummary {
                brand: Brand::Visa,
                funding: Funding::Credit,
                last4: "4242".to_owned(),
            },
            captured: true,
            offline_id: None,
        }
    }

    fn judge(bodies: Vec<EventBody>) -> (Vec<(Invariant, String)>, Vec<String>) {
        let mut found = Vec::new();
        let history = history(bodies);
        let unknown = check(&Facts::gather(&history), &mut found);
        (found.into_iter().map(|f| (f.invariant, f.message)).collect(), unknown)
    }

    #[test]
    fn a_payment_charged_once_and_reported_paid_holds() {
        let bodies = vec![
            started("lunch"),
            intent("pi_1", "lunch"),
            charged("ch_1", "pi_1"),
            ended("lunch", PosOutcome::Succeeded),
        ];
        assert_eq!(judge(bodies), (vec![], vec![]));
    }

    #[test]
    fn a_started_payment_must_end_once() {
        let (found, _) = judge(vec![started("lunch")]);
        assert_eq!(
            found,
            [(Invariant::I3, "the POS started it and never reported its outcome".to_owned())]
        );
        let twice = vec![
            started("lunch"),
            ended("lunch", PosOutcome::Failed),
            ended("lunch", PosOutcome::Failed),
        ];
        assert_eq!(judge(twice).0, [(Invariant::I3, "the POS reported 2 outcomes".to_owned())]);
        let (found, _) = judge(vec![ended("ghost", PosOutcome::Succeeded)]);
        assert_eq!(found[0].1, "the POS reported an outcome for a payment it never started");
    }

    #[test]
    fn failed_for_a_customer_who_was_charged_is_a_wrong_outcome() {
        let bodies = vec![
            started("lunch"),
            intent("pi_1", "lunch"),
            charged("ch_1", "pi_1"),
            ended("lunch", PosOutcome::Failed),
        ];
        let (found, _) = judge(bodies);
        assert_eq!(
            found,
            [(Invariant::I3, "the POS reported it failed but the customer was charged".to_owned())]
        );
        // The same outcome with no charge is the truth.
        let honest =
            vec![started("lunch"), intent("pi_1", "lunch"), ended("lunch", PosOutcome::Failed)];
        assert_eq!(judge(honest), (vec![], vec![]));
    }

    #[test]
    fn two_charges_under_two_intents_of_one_payment_break_exactly_once() {
        let bodies = vec![
            started("lunch"),
            intent("pi_1", "lunch"),
            charged("ch_1", "pi_1"),
            intent("pi_2", "lunch"),
            charged("ch_2", "pi_2"),
            ended("lunch", PosOutcome::Succeeded),
        ];
        let (found, _) = judge(bodies);
        assert_eq!(
            found,
            [(
                Invariant::I2,
                "the POS's payment was charged 2 times, under 2 payment intents".to_owned()
            )]
        );
    }

    #[test]
    fn an_unknown_outcome_breaks_nothing_but_is_listed() {
        let bodies = vec![started("lunch"), ended("lunch", PosOutcome::Unknown)];
        assert_eq!(judge(bodies), (vec![], vec!["lunch".to_owned()]));
        // An indefinite failure of payment.collect: unknown, never started.
        assert_eq!(
            judge(vec![ended("soup", PosOutcome::Unknown)]),
            (vec![], vec!["soup".to_owned()])
        );
    }
}
