//! I8, conservation: per holder and currency, the amount stored equals the
//! amount forwarded (declined at forwarding included) plus the amount
//! reported unreadable plus the amount the holder says it still holds (its
//! last `offline.status.changed`); and every forwarded outcome and every
//! charge of a stored payment carries the amount that was stored.
//!
//! The balance is kept per holder, which is stricter than one sum per
//! currency (two holders cannot hide each other's errors) and names the
//! device. A payment that has an outcome counts with its stored amount; an
//! outcome that names another amount is reported on its own, so one wrong
//! amount is not reported twice. Holders I1 already found losing payments
//! are left out: a loss is named once, under the most specific invariant.

use super::facts::Facts;
use super::names;
use super::report::Finding;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{EventBody, Part};
use std::collections::{BTreeMap, BTreeSet};

/// Stored events of waiting payments shown in a balance excerpt.
const MAX_STORED_SHOWN: usize = 3;

/// One holder's sums in one currency.
#[derive(Debug, Default)]
struct Balance<'h> {
    stored: u64,
    forwarded: u64,
    unreadable: u64,
    held: u64,
    /// Payments with no outcome: what the holder should still hold.
    waiting: Vec<&'h str>,
}

pub(super) fn check(facts: &Facts<'_>, lost: &BTreeSet<&Part>, found: &mut Vec<Finding>) {
    amounts_match(facts, found);
    for (&holder, record) in &facts.holders {
        if lost.contains(holder) {
            continue;
        }
        let mut balances: BTreeMap<Currency, Balance<'_>> = BTreeMap::new();
        for &id in &record.stored {
            let Some(stored) = facts.stored(id) else { continue };
            let balance = balances.entry(stored.amount.currency).or_default();
            balance.stored += stored.amount.amount;
            match facts.outcomes_of(id).first().map(|&at| &facts.history[at].body) {
                Some(EventBody::PaymentForwarded { .. }) => {
                    balance.forwarded += stored.amount.amount;
                }
                Some(_) => balance.unreadable += stored.amount.amount,
                None => balance.waiting.push(id),
            }
        }
        // An unreadable record without an id accounts for its amount when
        // its header kept one; without an amount the sum cannot close, and
        // only a holder claiming more than was stored is still provably wrong.
        let mut unknown = false;
        for &at in &record.anonymous_unreadable {
            match &facts.history[at].body {
                EventBody::PaymentUnreadable { amount: Some(amount), .. } => {
                    balances.entry(amount.currency).or_default().unreadable += amount.amount;
                }
                _ => unknown = true,
            }
        }
        if let Some((_, amounts)) = facts.last_status(holder) {
            for (currency, held) in amounts {
                balances.entry(*currency).or_default().held += held;
            }
        }
        for (currency, balance) in &balances {
            let accounted = balance.forwarded + balance.unreadable + balance.held;
            let broken =
                if unknown { balance.stored < accounted } else { balance.stored != accounted };
            if broken {
                found.push(unbalanced(facts, holder, *currency, balance));
            }
        }
    }
}

fn unbalanced(facts: &Facts<'_>, holder: &Part, currency: Currency, b: &Balance<'_>) -> Finding {
    let waiting = if b.waiting.is_empty() {
        "no payment is waiting by the history".to_owned()
    } else {
        format!("waiting by the history: {}", names::list(&b.waiting))
    };
    let message = format!(
        "{holder}, {currency}: stored {} ≠ forwarded {} + unreadable {} + still held {} \
         (its last offline status); {waiting}",
        b.stored, b.forwarded, b.unreadable, b.held
    );
    let stored = b.waiting.iter().take(MAX_STORED_SHOWN).filter_map(|id| facts.stored(id));
    let status = facts.holders.get(holder).and_then(|h| h.last_status);
    Finding::new(Invariant::I8, None, message).with(stored.map(|s| s.at).chain(status))
}

/// A forwarded outcome or a charge of a stored payment for another amount
/// than was stored.
fn amounts_match(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    for (offline_id, payment) in facts.payments.iter() {
        let Some(stored) = &payment.stored else { continue };
        let expected = stored.amount;
        if let Some(&at) = payment.outcomes.first()
            && let EventBody::PaymentForwarded { amount, .. } = &facts.history[at].body
            && *amount != expected
        {
            let message = mismatch("forwarded", *amount, expected);
            found
                .push(Finding::new(Invariant::I8, Some(offline_id), message).with([stored.at, at]));
        }
        let wrong = payment.charges.iter().find_map(|&at| match &facts.history[at].body {
            EventBody::ChargeSucceeded { amount, .. } if *amount != expected => Some((at, *amount)),
            _ => None,
        });
        if let Some((at, amount)) = wrong {
            let message = mismatch("charged", amount, expected);
            found
                .push(Finding::new(Invariant::I8, Some(offline_id), message).with([stored.at, at]));
        }
    }
}

fn mismatch(what: &str, got: Money, stored: Money) -> String {
    format!("{what} as {got} but stored as {stored}")
}
