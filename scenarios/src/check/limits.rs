//! I5, limits: nothing is stored past the per-transaction maximum, in a
//! currency offline mode does not take, past the record cap or past the
//! stored-amount limit of the configuration `rig.started` states.
//!
//! What a holder holds is counted along the history (stored minus outcomes)
//! and brought down to the holder's own `offline.status.changed` whenever
//! that says less: a payment a device lost is I1's finding and must not make
//! every later store look over the cap. Refusals need no check here: a
//! `payment.failed` code is typed, so any code that parsed is a documented
//! one. Without a `rig.started` this file judges nothing, because every
//! limit comes from there.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{EventBody, Part};
use std::collections::{BTreeMap, HashMap};

/// What a holder holds, as far as the history shows.
#[derive(Debug, Default)]
struct Held {
    count: u64,
    amounts: BTreeMap<Currency, u64>,
    /// Position of its last `offline.status.changed`.
    status: Option<usize>,
}

impl Held {
    fn add(&mut self, amount: Money) {
        self.count += 1;
        *self.amounts.entry(amount.currency).or_default() += amount.amount;
    }

    fn remove(&mut self, amount: Option<Money>) {
        self.count = self.count.saturating_sub(1);
        if let Some(amount) = amount
            && let Some(total) = self.amounts.get_mut(&amount.currency)
        {
            *total = total.saturating_sub(amount.amount);
        }
    }
}

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    let Some(config) = facts.offline else { return };
    let mut held: BTreeMap<&Part, Held> = BTreeMap::new();
    // Which holder holds each stored payment, and for how much.
    let mut holding: HashMap<&str, (&Part, Money)> = HashMap::new();
    for (at, event) in facts.history.iter().enumerate() {
        let part = &event.part;
        match &event.body {
            EventBody::OfflinePaymentStored { offline_id, amount, .. } => {
                let id = offline_id.as_str();
                // A second store under one id is I1's finding, counted once.
                if holding.contains_key(id) {
                    continue;
                }
                holding.insert(id, (part, *amount));
                let currency = amount.currency;
                match config.max_amount.get(&currency) {
                    None => {
                        let message = format!(
                            "stored {amount}, a currency offline mode does not accept \
                             (INVALID_OFFLINE_CURRENCY)"
                        );
                        found.push(Finding::new(Invariant::I5, Some(id), message).with([at]));
                    }
                    Some(max) if amount.amount > *max => {
                        let message = format!(
                            "stored {amount}, over the offline maximum of {max} {currency} \
                             (AMOUNT_EXCEEDS_MAX_OFFLINE_AMOUNT)"
                        );
                        found.push(Finding::new(Invariant::I5, Some(id), message).with([at]));
                    }
                    Some(_) => {}
                }
                let holder = held.entry(part).or_default();
                holder.add(*amount);
                let excerpt = [at].into_iter().chain(holder.status);
                if holder.count > u64::from(config.max_records) {
                    let message = format!(
                        "{part} held {} payments after storing it, over the record cap of {} \
                         (OFFLINE_PAYMENTS_DATABASE_TOO_LARGE)",
                        holder.count, config.max_records
                    );
                    found
                        .push(Finding::new(Invariant::I5, Some(id), message).with(excerpt.clone()));
                }
                let total = holder.amounts.get(&currency).copied().unwrap_or(0);
                if let Some(limit) = config.stored_amount_limit.get(&currency)
                    && total > *limit
                {
                    let message = format!(
                        "{part} held {total} {currency} after storing it, over the stored-amount \
                         limit of {limit} {currency}"
                    );
                    found.push(Finding::new(Invariant::I5, Some(id), message).with(excerpt));
                }
            }
            EventBody::PaymentForwarded { offline_id, .. }
            | EventBody::PaymentUnreadable { offline_id: Some(offline_id), .. } => {
                if let Some((holder, amount)) = holding.remove(offline_id.as_str()) {
                    held.entry(holder).or_default().remove(Some(amount));
                }
            }
            EventBody::PaymentUnreadable { offline_id: None, amount, .. } => {
                held.entry(part).or_default().remove(*amount);
            }
            EventBody::OfflineStatusChanged { status } => {
                let holder = held.entry(part).or_default();
                holder.status = Some(at);
                holder.count = holder.count.min(u64::from(status.count));
                for (currency, total) in &mut holder.amounts {
                    *total = (*total).min(status.amounts.get(currency).copied().unwrap_or(0));
                }
            }
            _ => {}
        }
    }
}
