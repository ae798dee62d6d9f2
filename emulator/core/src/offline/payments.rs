//! The payment flow of the offline engine: create, collect, confirm, online
//! or offline, and the online-to-offline fallback after a request timeout.
//!
//! Rules applied here (docs/domain.md §3): an intent created offline has no
//! Stripe id, only an offline id, until forwarded; one created online and
//! confirmed offline keeps its id. A card collected while online and
//! confirmed while the SDK already knows it is offline is refused with
//! `OFFLINE_COLLECT_AND_CONFIRM_MISMATCH`; the fallback of §3 happens only
//! when an online request *times out* (incident ios-294: the flap went
//! unnoticed, confirm timed out, and the payment was stored), so the offline
//! path then takes the card collected online.

use super::effects::Effect;
use super::engine::{Intent, OfflineEngine, Step};
use super::forwarder::is_paid;
use super::rules::{self, CollectedCard, Mode, OfflineBehavior};
use super::session::UnreadableRecord;
use super::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use crate::backend::{ApiCall, ApiErrorKind, ApiReply, ApiRequest, POS_PAYMENT_KEY, PresentedCard};
use crate::defect::Defect;
use crate::error::TerminalErrorCode as Code;
use crate::event::{CardSummary, EventBody, OfflineDetails, PaymentRequest};
use crate::money::Money;
use crate::time::Millis;
use std::collections::BTreeMap;

impl OfflineEngine {
    pub(super) fn create(
        &mut self,
        now: Millis,
        payment: String,
        amount: Money,
        behavior: OfflineBehavior,
        capture: CaptureMethod,
    ) {
        if self.intents.contains_key(&payment) || self.stored_names.contains(&payment) {
            return self.request_refused(now, &payment, PaymentRequest::Create);
        }
        // Stripe refuses a zero amount online; offline it must not become a
        // stored payment the backend then refuses at forwarding.
        if amount.amount == 0 {
            return self.refuse(now, &payment, Code::InvalidRequiredParameter);
        }
        let config = self.session.config.as_ref();
        let account_known = self.session.account.is_some();
        let mode = rules::mode_for_create(behavior, self.network_up, config, account_known);
        if !self.network_up && self.defects.has(Defect::CreateQueuedWhileOffline) {
            // Defect: the online create waits in the SDK's request queue
            // and goes out when the network returns, whatever became of
            // the payment meanwhile (stored, failed, canceled).
            self.queued_creates.push(create_request(&payment, amount, capture));
        }
        let mode = match mode {
            Ok(mode) => mode,
            Err(code) => return self.refuse(now, &payment, code),
        };
        let step = match mode {
            Mode::Online => {
                let request = create_request(&payment, amount, capture);
                let call = self.out.call(ApiCall { token: None, idempotency_key: None, request });
                Step::Creating { call, deadline: now + self.timings.online_request_timeout }
            }
            Mode::Offline => {
                let body = EventBody::SdkIntentCreated {
                    payment: payment.clone(),
                    intent: None,
                    mode,
                    behavior,
                    amount,
                };
                self.out.event(now, body);
                Step::Created
            }
        };
        let intent = Intent { amount, behavior, capture, mode, id: None, step };
        self.intents.insert(payment, intent);
    }

    /// A server-driven payment: the intent exists on the backend already.
    /// Confirmed online when the network is up, stored offline (keeping its
    /// id) when it is not, like any intent created online.
    pub(super) fn adopt(
        &mut self,
        now: Millis,
        payment: String,
        id: String,
        amount: Money,
        capture: CaptureMethod,
    ) {
        if self.intents.contains_key(&payment) || self.stored_names.contains(&payment) {
            return self.request_refused(now, &payment, PaymentRequest::Create);
        }
        let behavior = OfflineBehavior::PreferOnline;
        let body = EventBody::SdkIntentCreated {
            payment: payment.clone(),
            intent: Some(id.clone()),
            mode: Mode::Online,
            behavior,
            amount,
        };
        self.out.event(now, body);
        let intent = Intent {
            amount,
            behavior,
            capture,
            mode: Mode::Online,
            id: Some(id),
            step: Step::Created,
        };
        self.intents.insert(payment, intent);
    }

    pub(super) fn collected(&mut self, now: Millis, payment: &str, card: CollectedCard) {
        let online = self.network_up;
        match self.intents.get_mut(payment) {
            Some(intent) if matches!(intent.step, Step::Created | Step::Collected { .. }) => {
                intent.step =
                    Step::Collected { card, online: online && intent.mode == Mode::Online };
            }
            _ => self.request_refused(now, payment, PaymentRequest::Collect),
        }
    }

    pub(super) fn confirm(&mut self, now: Millis, payment: &str) {
        let Some(intent) = self.intents.get(payment) else {
            return self.request_refused(now, payment, PaymentRequest::Confirm);
        };
        let Step::Collected { card, online } = intent.step.clone() else {
            return self.request_refused(now, payment, PaymentRequest::Confirm);
        };
        match intent.mode {
            Mode::Online if self.network_up => {
                let id = intent.id.clone().expect("an intent created online has its id");
                let request = ApiRequest::ConfirmPaymentIntent {
                    intent: id,
                    card: PresentedCard {
                        number: card.number.clone(),
                        entry_mode: card.entry_mode,
                        pin: card.pin,
                    },
                };
                let call = self.out.call(ApiCall { token: None, idempotency_key: None, request });
                let deadline = now + self.timings.online_request_timeout;
                let intent = self.intents.get_mut(payment).expect("looked up above");
                intent.step = Step::Confirming { call, deadline, card };
            }
            Mode::Online if intent.behavior == OfflineBehavior::RequireOnline => {
                self.refuse(now, payment, Code::NotConnectedToInternetAndRequireOnlineSet);
            }
            Mode::Online if online => {
                self.refuse(now, payment, Code::OfflineCollectAndConfirmMismatch);
            }
            Mode::Online | Mode::Offline => self.store_offline(now, payment, &card),
        }
    }

    /// Cancels the intent of `payment`, whose confirm timed out and cannot
    /// fall back offline: a canceled intent can no longer be charged by that
    /// confirm, however late it arrives, and a refused cancel shows the
    /// intent paid. Sent again on every timeout until an answer comes.
    fn cancel_after_timeout(&mut self, now: Millis, payment: &str, code: Code) {
        let intent = self.intents.get_mut(payment).expect("canceling a known payment");
        let id = intent.id.clone().expect("an intent created online has its id");
        let request = ApiRequest::CancelPaymentIntent { intent: id };
        let call = self.out.call(ApiCall { token: None, idempotency_key: None, request });
        let deadline = now + self.timings.online_request_timeout;
        intent.step = Step::Canceling { call, deadline, code };
    }

    /// The answer to that cancel: the app hears the truth about the charge.
    fn canceled_after_timeout(
        &mut self,
        now: Millis,
        payment: String,
        code: Code,
        reply: &ApiReply,
    ) {
        let paid = match reply {
            ApiReply::Err(e) if e.is_retryable() => {
                return self.cancel_after_timeout(now, &payment, code);
            }
            ApiReply::Err(e) => e.payment_intent.as_ref().filter(|i| is_paid(i)),
            ApiReply::Ok(_) => None,
        };
        match paid {
            Some(object) => self.succeeded(now, payment, object),
            None => self.refuse(now, &payment, code),
        }
    }

    /// Tells the app `payment` succeeded, as the intent `object` shows it.
    fn succeeded(&mut self, now: Millis, payment: String, object: &serde_json::Value) {
        let intent = self.intents.remove(&payment).expect("a payment in progress");
        let text = |k: &str| object.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let body = EventBody::SdkPaymentSucceeded {
            payment,
            intent: text("id"),
            status: text("status"),
            amount: intent.amount,
        };
        self.out.event(now, body);
    }

    /// Why the offline path would refuse `payment` with `card` now, if it
    /// would: offline mode, the account, and every offline rule.
    fn offline_refusal(&self, payment: &str, card: &CollectedCard) -> Option<Code> {
        let Some(config) = self.session.config.as_ref().filter(|c| c.enabled) else {
            return Some(Code::NotConnectedToInternet);
        };
        if self.session.account.is_none() {
            return Some(Code::NoLastSeenAccount);
        }
        let amount = self.intents.get(payment)?.amount;
        let test_card = self.card_profile(card);
        rules::check_offline_confirm(config, card, test_card, amount, &self.totals).err()
    }

    /// What the offline rules know of a collected card: its row of the
    /// test-card table, by its number or, for sealed card data (an SDK
    /// outside the rig), by the type the reader read.
    fn card_profile(&self, card: &CollectedCard) -> Option<&crate::cards::TestCard> {
        let by_type = || card.simulated_type.as_deref().and_then(|kind| self.cards.by_type(kind));
        self.cards.by_number(card.number.as_str()).or_else(by_type)
    }

    /// Confirms `payment` offline: every offline rule, then the store.
    fn store_offline(&mut self, now: Millis, payment: &str, card: &CollectedCard) {
        let Some(config) = self.session.config.clone().filter(|c| c.enabled) else {
            return self.refuse(now, payment, Code::NotConnectedToInternet);
        };
        let Some(account) = self.session.account.clone() else {
            return self.refuse(now, payment, Code::NoLastSeenAccount);
        };
        let intent = self.intents.get(payment).expect("confirming a known payment").clone();
        let test_card = self.card_profile(card).cloned();
        let checked = rules::check_offline_confirm(
            &config,
            card,
            test_card.as_ref(),
            intent.amount,
            &self.totals,
        );
        if let Err(code) = checked {
            return self.refuse(now, payment, code);
        }
        let test_card = test_card.expect("the rules refuse unknown cards");
        self.next_offline += 1;
        let offline_id = OfflineId(format!("off_{}_{:06}", self.instance, self.next_offline));
        let (location, reader) = self.reader.clone().unwrap_or_default();
        let stored = StoredPayment {
            offline_id,
            intent_id: intent.id.clone(),
            amount: intent.amount,
            stored_at: now,
            // The number as collected: sealed card data stays sealed.
            card: StoredCard {
                number: card.number.clone(),
                ..StoredCard::read(&test_card, card.entry_mode, card.pin)
            },
            capture: intent.capture,
            account: account.id,
            livemode: account.livemode,
            location,
            reader,
        };
        let id = stored.offline_id.clone();
        let intent = self.intents.get_mut(payment).expect("looked up above");
        intent.step = Step::Storing { payment: Box::new(stored.clone()) };
        if self.defects.has(Defect::SuccessWithoutStore) {
            // Defect (ios-261): the app hears "stored" at once; the payment
            // is written nowhere and never queued.
            return self.acknowledge(now, id, false);
        }
        self.totals.add(stored.amount);
        self.out.effect(Effect::Persist { payment: stored });
    }

    pub(super) fn persisted(&mut self, now: Millis, offline_id: OfflineId) {
        self.acknowledge(now, offline_id, true);
    }

    /// Tells the app the payment is stored and, unless a defect drops it,
    /// queues it for forwarding.
    fn acknowledge(&mut self, now: Millis, offline_id: OfflineId, queue: bool) {
        let Some((name, intent)) = self.storing(&offline_id) else {
            panic!("the store acknowledged {offline_id}, which nothing was storing");
        };
        self.intents.remove(&name);
        self.stored_names.insert(name.clone());
        let Step::Storing { payment } = intent.step else { unreachable!("found storing") };
        let offline_details = OfflineDetails {
            stored_at: payment.stored_at,
            requires_upload: true,
            amount: payment.amount,
            card: CardSummary {
                brand: payment.card.brand,
                funding: payment.card.funding,
                last4: payment.card.number.last4(),
            },
            entry_mode: payment.card.entry_mode,
        };
        self.out.event(
            now,
            EventBody::OfflinePaymentStored {
                payment: name,
                offline_id,
                intent: intent.id,
                amount: intent.amount,
                offline_details,
            },
        );
        if queue {
            self.forwarder.push(*payment);
            let network_up = self.network_up;
            self.forwarder.pump(now, network_up, &mut self.out);
        }
    }

    pub(super) fn persist_failed(&mut self, now: Millis, offline_id: &OfflineId, code: Code) {
        let Some((name, intent)) = self.storing(offline_id) else {
            panic!("the store refused {offline_id}, which nothing was storing");
        };
        self.totals.remove(intent.amount);
        if intent.id.is_some() {
            // Created online: a confirm that timed out before this fallback
            // may have charged it (I9); cancel and hear before saying.
            return self.cancel_after_timeout(now, &name, code);
        }
        self.refuse(now, &name, code);
    }

    /// The online request of `payment` timed out.
    pub(super) fn online_request_timed_out(&mut self, now: Millis, payment: &str) {
        let intent = self.intents.get(payment).expect("a timed-out intent exists").clone();
        if let Step::Canceling { code, .. } = intent.step {
            return self.cancel_after_timeout(now, payment, code);
        }
        self.out.event(now, EventBody::FellBackOffline { payment: payment.to_owned() });
        let config = self.session.config.as_ref();
        let fallback = intent.behavior == OfflineBehavior::PreferOnline
            && config.is_some_and(|c| c.enabled)
            && self.session.account.is_some();
        if let Step::Creating { call, .. } = intent.step {
            self.abandoned_creates.insert(call);
        }
        match intent.step {
            Step::Creating { .. } if fallback => {
                let intent = self.intents.get_mut(payment).expect("exists");
                intent.mode = Mode::Offline;
                intent.step = Step::Created;
                let body = EventBody::SdkIntentCreated {
                    payment: payment.to_owned(),
                    intent: None,
                    mode: Mode::Offline,
                    behavior: intent.behavior,
                    amount: intent.amount,
                };
                self.out.event(now, body);
            }
            // The confirm may have charged the card: telling the app it
            // failed could be a lie (I9). Unless it can go on offline (the
            // forward then meets that charge), cancel the intent and hear.
            Step::Confirming { card, .. } => {
                let refusal = if fallback {
                    self.offline_refusal(payment, &card)
                } else {
                    Some(Code::NotConnectedToInternet)
                };
                match refusal {
                    None => self.store_offline(now, payment, &card),
                    Some(code) => self.cancel_after_timeout(now, payment, code),
                }
            }
            _ => self.refuse(now, payment, Code::NotConnectedToInternet),
        }
    }

    /// Routes a backend answer to whoever made the call. An answer to a call
    /// that already timed out is late and changes nothing.
    pub(super) fn replied(&mut self, now: Millis, call: u64, reply: ApiReply) {
        if self.forwarder.owns(call) {
            let network_up = self.network_up;
            return self.forwarder.on_reply(now, network_up, reply, &mut self.out);
        }
        if self.abandoned_creates.remove(&call) {
            return self.cancel_abandoned(&reply);
        }
        let found = self.intents.iter().find_map(|(name, i)| match i.step {
            Step::Creating { call: c, .. }
            | Step::Confirming { call: c, .. }
            | Step::Canceling { call: c, .. }
                if c == call =>
            {
                Some(name.clone())
            }
            _ => None,
        });
        let Some(payment) = found else { return };
        let intent = self.intents.get(&payment).expect("found above").clone();
        match (intent.step, reply) {
            (Step::Creating { .. }, ApiReply::Ok(object)) => {
                let id = object.get("id").and_then(|v| v.as_str()).map(str::to_owned);
                let body = EventBody::SdkIntentCreated {
                    payment: payment.clone(),
                    intent: id.clone(),
                    mode: Mode::Online,
                    behavior: intent.behavior,
                    amount: intent.amount,
                };
                self.out.event(now, body);
                let intent = self.intents.get_mut(&payment).expect("found above");
                intent.id = id;
                intent.step = Step::Created;
            }
            (Step::Confirming { .. }, ApiReply::Ok(object)) => {
                self.succeeded(now, payment, &object);
            }
            (Step::Confirming { .. }, ApiReply::Err(e)) if e.kind == ApiErrorKind::CardError => {
                self.intents.remove(&payment);
                let body = EventBody::SdkPaymentDeclined {
                    payment,
                    error_code: e.code.unwrap_or_else(|| "card_declined".into()),
                    decline_code: e.decline_code,
                };
                self.out.event(now, body);
            }
            (Step::Canceling { code, .. }, reply) => {
                self.canceled_after_timeout(now, payment, code, &reply);
            }
            (_, ApiReply::Err(_)) => self.refuse(now, &payment, Code::DeclinedByStripeApi),
            (step, reply) => unreachable!("reply {reply:?} to a call in step {step:?}"),
        }
    }

    /// The late answer to a create the SDK gave up on: the payment went on
    /// without that intent (offline, or failed), so it is canceled rather
    /// than left open on the backend for nobody (I10).
    fn cancel_abandoned(&mut self, reply: &ApiReply) {
        let ApiReply::Ok(object) = reply else { return };
        let Some(id) = object.get("id").and_then(|v| v.as_str()) else { return };
        let request = ApiRequest::CancelPaymentIntent { intent: id.to_owned() };
        self.out.call(ApiCall { token: None, idempotency_key: None, request });
    }

    /// Defect `create-queued-while-offline`: the creates queued while
    /// offline go out now; their answers match no payment and are dropped.
    pub(super) fn send_queued_creates(&mut self) {
        for request in std::mem::take(&mut self.queued_creates) {
            self.out.call(ApiCall { token: None, idempotency_key: None, request });
        }
    }

    pub(super) fn restored(
        &mut self,
        now: Millis,
        pending: Vec<StoredPayment>,
        unreadable: Vec<UnreadableRecord>,
    ) {
        let body = EventBody::StoreRecovered {
            pending: u32::try_from(pending.len()).unwrap_or(u32::MAX),
            unreadable: u32::try_from(unreadable.len()).unwrap_or(u32::MAX),
        };
        self.out.event(now, body);
        // A store written by an earlier run under this very instance (an
        // older data directory, whose run count was not kept): new ids start
        // above the highest stored, so none collides with a stored one.
        let prefix = format!("off_{}_", self.instance);
        for payment in &pending {
            if let Some(n) = payment.offline_id.0.strip_prefix(&prefix).and_then(|n| n.parse().ok())
            {
                self.next_offline = self.next_offline.max(n);
            }
        }
        for payment in pending {
            if self.forwarder.contains(&payment.offline_id) {
                continue;
            }
            self.totals.add(payment.amount);
            self.forwarder.push(payment);
        }
        self.unreadable(now, unreadable);
        let network_up = self.network_up;
        self.forwarder.pump(now, network_up, &mut self.out);
    }

    /// Reports damaged records the shell has dropped from the store.
    pub(super) fn unreadable(&mut self, now: Millis, records: Vec<UnreadableRecord>) {
        // Incident android-459: one undecryptable record must not stop the
        // rest. It is reported by id and amount when its header survived;
        // the shell dropped it from the store first, so it is reported once.
        for record in records {
            let body = EventBody::PaymentUnreadable {
                offline_id: record.offline_id,
                amount: record.amount,
                reason: record.reason,
            };
            self.out.event(now, body);
            if self.defects.has(Defect::CorruptRecordAbortsQueue) {
                // Defect (android-459): the failure to decrypt one record
                // takes the whole queue down with it.
                self.forwarder.stalled = true;
            }
        }
    }

    /// A request about no payment in the right state. For a payment already
    /// stored offline the SDK has a code of its own: its offline intent is
    /// gone from the app's reach (`OFFLINE_PAYMENT_INTENT_NOT_FOUND`).
    fn request_refused(&mut self, now: Millis, payment: &str, request: PaymentRequest) {
        let code = if self.stored_names.contains(payment) {
            Code::OfflinePaymentIntentNotFound
        } else {
            Code::InvalidRequiredParameter
        };
        let body = EventBody::SdkRequestRefused { payment: payment.to_owned(), request, code };
        self.out.event(now, body);
    }

    fn storing(&self, offline_id: &OfflineId) -> Option<(String, Intent)> {
        self.intents.iter().find_map(|(name, i)| match &i.step {
            Step::Storing { payment } if &payment.offline_id == offline_id => {
                Some((name.clone(), i.clone()))
            }
            _ => None,
        })
    }
}

/// The online create of `payment`. The app's name goes with the intent (as
/// a server-side integration puts its order id in metadata), so an intent
/// whose answer was lost still says whose it is (I10).
fn create_request(payment: &str, amount: Money, capture: CaptureMethod) -> ApiRequest {
    let metadata = BTreeMap::from([(POS_PAYMENT_KEY.to_owned(), payment.to_owned())]);
    ApiRequest::CreateDescribedPaymentIntent { amount, capture, description: None, metadata }
}
