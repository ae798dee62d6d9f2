//! One pass over the history that indexes what the invariants ask about:
//! each stored payment by its offline id, its outcomes, upload attempts and
//! charges, each holder's last offline status, each app payment's outcomes.
//!
//! It records positions in the history and borrowed values, never copies of
//! events, so indexing 30,000 events stays a few milliseconds. It must not
//! judge: deciding what a fact means is the invariant modules' job, and the
//! time-ordered checks (I4, I5, I7) walk the history themselves.

use super::report::Stats;
use readerlab_emulator::core::offline::OfflineConfig;
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{Event, EventBody, OfflineDetails, Part, PaymentRequest};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

/// A payment the history reports stored offline.
#[derive(Debug)]
pub(super) struct Stored<'h> {
    /// Position of its (first) `offline.payment.stored`.
    pub at: usize,
    /// Who holds it: the `part` of that event (`pos` or `reader/<serial>`).
    pub holder: &'h Part,
    /// The app's name for the payment.
    pub payment: &'h str,
    /// What was stored.
    pub amount: Money,
    /// `offlineDetails`: card summary and entry mode.
    pub details: &'h OfflineDetails,
    /// The `payment.intent.created` of this payment on this part that came
    /// last before it was stored, if any.
    pub intent_created: Option<usize>,
}

/// Everything the history says about one offline id.
#[derive(Debug, Default)]
pub(super) struct Payment<'h> {
    /// Its (first) `offline.payment.stored`; `None` when only uploads,
    /// outcomes or charges name the id.
    pub stored: Option<Stored<'h>>,
    /// `offline.payment.forwarded` and `offline.payment.unreadable` naming
    /// it, in history order.
    pub outcomes: Vec<usize>,
    /// `offline.forward.attempted`, in history order.
    pub attempts: Vec<usize>,
    /// `backend.charge.succeeded` naming it, in history order.
    pub charges: Vec<usize>,
}

/// One payment intent of the backend, and what the history says about it:
/// who claims it, what was charged on it, whether it was canceled.
#[derive(Debug, Default)]
pub(super) struct BackendIntent<'h> {
    /// Its `backend.payment_intent.created`; `None` when only later events
    /// name it (a history that starts late).
    pub created: Option<usize>,
    /// The app's name for its payment, `metadata[readerlab_payment]`.
    pub named: Option<&'h str>,
    /// The stored payment whose forward created it.
    pub offline_id: Option<&'h str>,
    /// `backend.charge.succeeded` on it, in history order.
    pub charges: Vec<usize>,
    /// Its first `backend.payment_intent.canceled`.
    pub canceled: Option<usize>,
    /// The charge that cancel released (an uncaptured authorization).
    pub released: Option<&'h str>,
    /// The SDK events that name it (`payment.intent.created`,
    /// `payment.succeeded`, `offline.payment.stored`, an outside POS's
    /// `pos.payment.started`), in history order.
    pub claims: Vec<usize>,
}

/// Values by a borrowed key, in the order the keys first appear in the
/// history. Lookups hash (a long run has thousands of offline ids, and
/// comparing them in a tree costs more than the rest of the pass), while
/// iteration follows the history, so what reaches a report is
/// deterministic.
#[derive(Debug)]
pub(super) struct FirstSeen<K, V> {
    index: HashMap<K, usize>,
    entries: Vec<(K, V)>,
}

impl<K, V> Default for FirstSeen<K, V> {
    fn default() -> Self {
        FirstSeen { index: HashMap::new(), entries: Vec::new() }
    }
}

impl<K: Copy + Eq + Hash, V: Default> FirstSeen<K, V> {
    /// The value for `key`, made on first sight.
    fn entry(&mut self, key: K) -> &mut V {
        let next = self.entries.len();
        let at = *self.index.entry(key).or_insert(next);
        if at == next {
            self.entries.push((key, V::default()));
        }
        &mut self.entries[at].1
    }

    /// The value for `key`, if the history named it.
    pub fn get<Q: ?Sized + Eq + Hash>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.index.get(key).map(|&at| &self.entries[at].1)
    }

    /// Every key and value, in the order the keys first appeared.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.entries.iter().map(|(key, value)| (*key, value))
    }
}

/// What one holder (a part that stores payments) said.
#[derive(Debug, Default)]
pub(super) struct Holder<'h> {
    /// Offline ids it stored, in history order.
    pub stored: Vec<&'h str>,
    /// Its last `offline.status.changed`.
    pub last_status: Option<usize>,
    /// Its `offline.store.recovered` events.
    pub recoveries: Vec<usize>,
    /// Its `offline.payment.unreadable` events that name no offline id.
    pub anonymous_unreadable: Vec<usize>,
}

/// The index of a history.
#[derive(Debug)]
pub(super) struct Facts<'h> {
    pub history: &'h [Event],
    /// The offline configuration of the first `rig.started`.
    pub offline: Option<&'h OfflineConfig>,
    /// Every offline id the history names, with what it says about it.
    pub payments: FirstSeen<&'h str, Payment<'h>>,
    /// Second and later `offline.payment.stored` events for an offline id
    /// already stored.
    pub stored_again: Vec<usize>,
    /// `backend.charge.succeeded` without an offline id, by intent.
    pub online_charges: FirstSeen<&'h str, Vec<usize>>,
    /// Every payment intent the history names, by id.
    pub intents: FirstSeen<&'h str, BackendIntent<'h>>,
    /// Intent ids by the app payment (part and name) whose SDK events name
    /// them, in the order first named.
    pub claimed: FirstSeen<(&'h Part, &'h str), Vec<&'h str>>,
    /// Intent ids by `metadata[readerlab_payment]`, in creation order.
    pub named: FirstSeen<&'h str, Vec<&'h str>>,
    /// Parts that stored, sent status or reported unreadable records.
    pub holders: BTreeMap<&'h Part, Holder<'h>>,
    /// App outcomes (`payment.succeeded`, `.declined`, `.failed`,
    /// `offline.payment.stored`) by part and payment name.
    pub app_outcomes: FirstSeen<(&'h Part, &'h str), Vec<usize>>,
    /// Each app payment's first `payment.intent.created`, by part and
    /// payment name, in history order.
    pub app_started: FirstSeen<(&'h Part, &'h str), Option<usize>>,
    /// Whether the history ends the run (`rig.finished`).
    pub finished: bool,
    /// Payments a reader gave up on (`reader.payment.failed`, `.canceled`,
    /// or a refused collect), by name.
    pub reader_ended: HashSet<&'h str>,
    /// Every event of part `fault`.
    pub faults: Vec<usize>,
    /// `rig.storage.scanned` events.
    pub storage_scans: Vec<usize>,
    pub stats: Stats,
}

impl<'h> Facts<'h> {
    /// Nothing indexed yet.
    fn empty(history: &'h [Event]) -> Facts<'h> {
        Facts {
            history,
            offline: None,
            payments: FirstSeen::default(),
            stored_again: Vec::new(),
            online_charges: FirstSeen::default(),
            intents: FirstSeen::default(),
            claimed: FirstSeen::default(),
            named: FirstSeen::default(),
            holders: BTreeMap::new(),
            app_outcomes: FirstSeen::default(),
            app_started: FirstSeen::default(),
            finished: false,
            reader_ended: HashSet::new(),
            faults: Vec::new(),
            storage_scans: Vec::new(),
            stats: Stats { events: history.len(), ..Stats::default() },
        }
    }

    /// Indexes `history` in one pass.
    pub fn gather(history: &'h [Event]) -> Facts<'h> {
        let mut facts = Facts::empty(history);
        // The latest intent created per (part, payment name): I6 reads the
        // behaviour of the intent a stored payment came from.
        let mut intents: HashMap<(&'h Part, &'h str), usize> = HashMap::new();
        for (at, event) in history.iter().enumerate() {
            let part = &event.part;
            if part.0 == "fault" {
                facts.faults.push(at);
            }
            match &event.body {
                EventBody::RigStarted { offline, .. } if facts.offline.is_none() => {
                    facts.offline = Some(offline);
                }
                EventBody::SdkIntentCreated { payment, intent, .. } => {
                    intents.insert((part, payment), at);
                    facts.app_started.entry((part, payment)).get_or_insert(at);
                    facts.claim(at, part, payment, intent.as_deref());
                }
                EventBody::OfflinePaymentStored {
                    payment,
                    offline_id,
                    amount,
                    offline_details,
                    intent,
                } => {
                    facts.stats.stored += 1;
                    facts.claim(at, part, payment, intent.as_deref());
                    facts.app_outcomes.entry((part, payment)).push(at);
                    let record = facts.payments.entry(offline_id.as_str());
                    if record.stored.is_some() {
                        facts.stored_again.push(at);
                        continue;
                    }
                    record.stored = Some(Stored {
                        at,
                        holder: part,
                        payment,
                        amount: *amount,
                        details: offline_details,
                        intent_created: intents.get(&(part, payment.as_str())).copied(),
                    });
                    facts.holders.entry(part).or_default().stored.push(offline_id.as_str());
                }
                EventBody::SdkPaymentSucceeded { payment, intent, .. } => {
                    facts.stats.paid_online += 1;
                    facts.claim(at, part, payment, intent.as_deref());
                    facts.app_outcomes.entry((part, payment)).push(at);
                }
                EventBody::SdkPaymentDeclined { payment, .. }
                | EventBody::SdkPaymentFailed { payment, .. } => {
                    facts.app_outcomes.entry((part, payment)).push(at);
                }
                EventBody::ForwardAttempted { offline_id, .. } => {
                    facts.payments.entry(offline_id.as_str()).attempts.push(at);
                }
                EventBody::PaymentForwarded { offline_id, .. } => {
                    facts.stats.forwarded += 1;
                    facts.payments.entry(offline_id.as_str()).outcomes.push(at);
                }
                EventBody::PaymentUnreadable { offline_id, .. } => {
                    facts.stats.unreadable += 1;
                    match offline_id {
                        Some(id) => facts.payments.entry(id.as_str()).outcomes.push(at),
                        None => {
                            facts.holders.entry(part).or_default().anonymous_unreadable.push(at);
                        }
                    }
                }
                EventBody::OfflineStatusChanged { .. } => {
                    facts.holders.entry(part).or_default().last_status = Some(at);
                }
                EventBody::StoreRecovered { .. } => {
                    facts.holders.entry(part).or_default().recoveries.push(at);
                }
                EventBody::ChargeSucceeded { intent, offline_id, .. } => {
                    facts.stats.charged += 1;
                    facts.intents.entry(intent).charges.push(at);
                    match offline_id {
                        Some(id) => facts.payments.entry(id.as_str()).charges.push(at),
                        None => facts.online_charges.entry(intent).push(at),
                    }
                }
                EventBody::StorageScanned { .. } => facts.storage_scans.push(at),
                EventBody::PosPaymentStarted { payment, intent } => {
                    facts.claim(at, part, payment, intent.as_deref());
                }
                body => facts.note_intent(at, body),
            }
        }
        facts.stats.still_held =
            facts.holders.keys().map(|holder| u64::from(facts.status_count(holder))).sum();
        facts
    }

    /// The backend's side of an intent: created (with its name and offline
    /// id) and canceled; otherwise the run's end and the reader's ends.
    fn note_intent(&mut self, at: usize, body: &'h EventBody) {
        match body {
            EventBody::IntentCreated { intent, offline_id, payment, .. } => {
                let record = self.intents.entry(intent);
                record.created.get_or_insert(at);
                record.offline_id = offline_id.as_ref().map(|id| id.0.as_str());
                record.named = payment.as_deref();
                if let Some(name) = payment {
                    self.named.entry(name).push(intent);
                }
            }
            EventBody::IntentCanceled { intent, released_charge } => {
                let record = self.intents.entry(intent);
                if record.canceled.is_none() {
                    record.canceled = Some(at);
                    record.released = released_charge.as_deref();
                }
            }
            body => self.note_ends(body),
        }
    }

    /// An SDK event at `at` names `intent` for the app payment `payment`
    /// of `part`.
    fn claim(&mut self, at: usize, part: &'h Part, payment: &'h str, intent: Option<&'h str>) {
        let Some(intent) = intent else { return };
        self.intents.entry(intent).claims.push(at);
        let ids = self.claimed.entry((part, payment));
        if !ids.contains(&intent) {
            ids.push(intent);
        }
    }

    /// The run's end, and payments a reader gave up on (I3's "never
    /// ended").
    fn note_ends(&mut self, body: &'h EventBody) {
        match body {
            EventBody::RigFinished => self.finished = true,
            EventBody::PaymentFailed { payment, .. }
            | EventBody::PaymentCanceled { payment }
            | EventBody::PaymentRefused { payment, request: PaymentRequest::Collect, .. } => {
                self.reader_ended.insert(payment);
            }
            _ => {}
        }
    }

    /// The count of `holder`'s last offline status; 0 when it never sent
    /// one (nothing in the history says it holds anything).
    pub fn status_count(&self, holder: &Part) -> u32 {
        self.last_status(holder).map_or(0, |(count, _)| count)
    }

    /// The count and amounts of `holder`'s last offline status.
    pub fn last_status(&self, holder: &Part) -> Option<(u32, &'h BTreeMap<Currency, u64>)> {
        let at = self.holders.get(holder)?.last_status?;
        match &self.history[at].body {
            EventBody::OfflineStatusChanged { status } => Some((status.count, &status.amounts)),
            _ => None,
        }
    }

    /// The succeeded charges on `intent` that still stand: all but one a
    /// cancel of the intent released.
    pub fn standing_charges(&self, intent: &str) -> Vec<usize> {
        let Some(record) = self.intents.get(intent) else { return Vec::new() };
        let released = |at: usize| match &self.history[at].body {
            EventBody::ChargeSucceeded { charge, .. } => record.released == Some(charge.as_str()),
            _ => false,
        };
        record.charges.iter().copied().filter(|&at| !released(at)).collect()
    }

    /// What the history says about a stored payment, if it was stored.
    pub fn stored(&self, offline_id: &str) -> Option<&Stored<'h>> {
        self.payments.get(offline_id)?.stored.as_ref()
    }

    /// The outcomes reported for an offline id, in history order.
    pub fn outcomes_of(&self, offline_id: &str) -> &[usize] {
        self.payments.get(offline_id).map_or(&[], |p| p.outcomes.as_slice())
    }

    /// The stored payments of `holder` that have no outcome in the history.
    pub fn without_outcome(&self, holder: &Holder<'h>) -> Vec<&'h str> {
        holder.stored.iter().copied().filter(|id| self.outcomes_of(id).is_empty()).collect()
    }

    /// The last `offline.forward.attempted` for `offline_id` before position
    /// `before`: the upload that produced what happened there.
    pub fn attempt_before(&self, offline_id: &str, before: usize) -> Option<usize> {
        let attempts = &self.payments.get(offline_id)?.attempts;
        let earlier = attempts.partition_point(|&at| at < before);
        earlier.checked_sub(1).map(|i| attempts[i])
    }
}
