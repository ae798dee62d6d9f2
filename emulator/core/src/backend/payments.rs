//! The requests a [`Backend`] executes once a call is authenticated and its
//! key is new: connection tokens, payment intents (create, confirm, capture,
//! cancel, retrieve) and the forwarding of stored payments.
//!
//! Authorization always goes through [`TestCards::authorize`], the single
//! issuer, so the readers' online answers and the backend's answers at
//! forwarding time (decline on sync) cannot disagree.
//!
//! [`TestCards::authorize`]: crate::cards::TestCards::authorize

use crate::backend::api::{ApiError, ApiErrorKind, ApiReply, ApiRequest, PresentedCard};
use crate::backend::idempotency::SavedReply;
use crate::backend::ledger::{Backend, Caller, Executed};
use crate::backend::objects;
use crate::backend::records::{
    Charge, ChargeStatus, Decline, IntentStatus, OfflineCharge, POS_PAYMENT_KEY, PaymentIntent,
};
use crate::cards::Authorization;
use crate::event::{CardSummary, EventBody};
use crate::money::Money;
use crate::offline::{CaptureMethod, OfflineId, StoredPayment};
use crate::profile::EntryMode;
use crate::time::Millis;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The card side of one authorization attempt.
struct Attempt {
    card: CardSummary,
    entry_mode: EntryMode,
    offline: Option<OfflineCharge>,
}

impl Backend {
    /// Runs one request for `caller`.
    pub(super) fn execute(
        &mut self,
        now: Millis,
        caller: &Caller,
        key: Option<&str>,
        request: &ApiRequest,
    ) -> Executed {
        match request {
            ApiRequest::CreateConnectionToken { location } => {
                self.create_connection_token(now, caller, location.clone())
            }
            ApiRequest::CreatePaymentIntent { amount, capture } => {
                if amount.amount == 0 {
                    return Executed::Refused(invalid(
                        "parameter_invalid_integer",
                        "This value must be greater than or equal to 1.",
                    ));
                }
                let id = self.create_intent(now, caller, *amount, *capture, None, None);
                Executed::Ran(self.intent_reply(&id))
            }
            ApiRequest::CreateDescribedPaymentIntent { amount, capture, description, metadata } => {
                if amount.amount == 0 {
                    return Executed::Refused(invalid(
                        "parameter_invalid_integer",
                        "This value must be greater than or equal to 1.",
                    ));
                }
                let payment = metadata.get(POS_PAYMENT_KEY).cloned();
                let id = self.create_intent(now, caller, *amount, *capture, None, payment);
                if let Some(intent) = self.intents.get_mut(&id) {
                    intent.description = description.clone();
                    intent.metadata = metadata.clone();
                }
                Executed::Ran(self.intent_reply(&id))
            }
            ApiRequest::ListPaymentIntents { page } => {
                Executed::Ran(self.list_intents(caller, page))
            }
            ApiRequest::ListCharges { page } => Executed::Ran(self.list_charges(caller, page)),
            ApiRequest::ConfirmPaymentIntent { intent, card } => {
                Executed::Ran(self.confirm(now, caller, intent, card))
            }
            ApiRequest::CapturePaymentIntent { intent } => {
                Executed::Ran(self.capture(now, caller, intent))
            }
            ApiRequest::CancelPaymentIntent { intent } => {
                Executed::Ran(self.cancel(now, caller, intent))
            }
            ApiRequest::ForwardOfflinePayment { payment } => {
                self.forward(now, caller, key, payment)
            }
            ApiRequest::RetrievePaymentIntent { intent } => {
                Executed::Ran(match self.find_intent(caller, intent) {
                    Ok(intent) => ApiReply::Ok(objects::payment_intent(intent, &self.config)),
                    Err(error) => ApiReply::Err(error),
                })
            }
            ApiRequest::RetrieveCharge { charge } => {
                Executed::Ran(match self.charges.get(charge).filter(|c| owned_by(caller, c)) {
                    Some(charge) => ApiReply::Ok(objects::charge(charge, &self.config)),
                    None => ApiReply::Err(missing("charge", charge)),
                })
            }
            terminal => self.execute_terminal(now, caller, terminal),
        }
    }

    fn create_connection_token(
        &mut self,
        now: Millis,
        caller: &Caller,
        location: Option<String>,
    ) -> Executed {
        if let Some(fault) = self.faults.token_provider_failure() {
            let request = crate::backend::api::RequestKind::CreateConnectionToken;
            self.emit(now, EventBody::BackendFaultFired { fault, request });
            return Executed::Ran(ApiReply::Err(objects::error(
                500,
                ApiErrorKind::ApiError,
                None,
                "The connection token provider failed (injected fault).",
            )));
        }
        let (account, livemode) = match self.faults.token_binding() {
            Some((fault, binding)) => {
                let request = crate::backend::api::RequestKind::CreateConnectionToken;
                self.emit(now, EventBody::BackendFaultFired { fault, request });
                binding
            }
            None => (caller.account.clone(), caller.livemode),
        };
        let token = self.tokens.mint(now, &account, livemode, location);
        self.emit(
            now,
            EventBody::ConnectionTokenCreated {
                account: token.account.clone(),
                livemode: token.livemode,
                location: token.location.clone(),
            },
        );
        Executed::Ran(ApiReply::Ok(objects::connection_token(&token)))
    }

    /// A new intent; `payment` is an outside POS's name for it
    /// (`metadata[readerlab_payment]`), carried into its history event.
    fn create_intent(
        &mut self,
        now: Millis,
        caller: &Caller,
        amount: Money,
        capture: CaptureMethod,
        offline_id: Option<OfflineId>,
        payment: Option<String>,
    ) -> String {
        self.counters.intents += 1;
        let id = format!("pi_{:016}", self.counters.intents);
        let intent = PaymentIntent {
            id: id.clone(),
            account: caller.account.clone(),
            livemode: caller.livemode,
            amount,
            capture,
            status: IntentStatus::RequiresPaymentMethod,
            created: now,
            offline_id: offline_id.clone(),
            payment_method: None,
            latest_charge: None,
            canceled_at: None,
            last_payment_error: None,
            description: None,
            metadata: BTreeMap::new(),
        };
        self.intents.insert(id.clone(), intent);
        self.emit(
            now,
            EventBody::IntentCreated { intent: id.clone(), amount, capture, offline_id, payment },
        );
        id
    }

    /// An online confirm with the card the reader collected.
    fn confirm(
        &mut self,
        now: Millis,
        caller: &Caller,
        id: &str,
        card: &PresentedCard,
    ) -> ApiReply {
        let intent = match self.find_intent(caller, id) {
            Ok(intent) => intent,
            Err(error) => return ApiReply::Err(error),
        };
        if intent.status != IntentStatus::RequiresPaymentMethod {
            return ApiReply::Err(self.unexpected_state(intent, "confirm"));
        }
        let amount = intent.amount;
        let cards = Arc::clone(&self.config.cards);
        let Some(test_card) = cards.by_number(card.number.as_str()) else {
            return ApiReply::Err(unknown_card());
        };
        let attempt = Attempt {
            card: CardSummary::from(test_card),
            entry_mode: card.entry_mode,
            offline: None,
        };
        // A PIN pad is assumed online: whether the reader has one is the
        // reader's business, and it turns the request into a decline itself.
        match cards.authorize(test_card, amount, card.entry_mode, card.pin, true) {
            Authorization::Approved => self.settle(now, id, attempt, None),
            Authorization::Declined { error_code, decline_code } => {
                self.settle(now, id, attempt, Some(Decline { error_code, decline_code }))
            }
            Authorization::PinRequired { decline_code, insert_first } => {
                self.ask_for_pin(id, &decline_code, insert_first)
            }
        }
    }

    /// The issuer asks for a PIN: a card error the SDK answers by collecting
    /// it and confirming again. Not a decline, so no failed charge is
    /// recorded and the intent waits for the retry.
    fn ask_for_pin(&mut self, id: &str, decline_code: &str, insert_first: bool) -> ApiReply {
        let message = if insert_first {
            "Insert the card and enter the PIN to complete this payment."
        } else {
            "Enter the PIN to complete this payment."
        };
        let mut error = card_error("card_declined", decline_code, message);
        if let Some(intent) = self.intents.get_mut(id) {
            intent.last_payment_error = Some(error.clone());
        }
        error.payment_intent = self.intent_json(id);
        ApiReply::Err(error)
    }

    /// Records one authorization attempt on intent `id` and moves the intent:
    /// approved → captured (`succeeded`) or `requires_capture`; declined → a
    /// failed charge, the intent back to `requires_payment_method`, and a 402.
    fn settle(
        &mut self,
        now: Millis,
        id: &str,
        attempt: Attempt,
        decline: Option<Decline>,
    ) -> ApiReply {
        self.counters.charges += 1;
        self.counters.payment_methods += 1;
        let charge_id = format!("ch_{:016}", self.counters.charges);
        let payment_method = format!("pm_{:016}", self.counters.payment_methods);
        let intent = self.intents.get_mut(id).expect("settle is only called on an existing intent");
        let automatic = intent.capture == CaptureMethod::Automatic;
        let approved = decline.is_none();
        let charge = Charge {
            id: charge_id.clone(),
            intent: id.to_owned(),
            account: intent.account.clone(),
            livemode: intent.livemode,
            amount: intent.amount,
            status: if approved { ChargeStatus::Succeeded } else { ChargeStatus::Failed },
            captured: approved && automatic,
            released: false,
            card: attempt.card.clone(),
            entry_mode: attempt.entry_mode,
            payment_method: payment_method.clone(),
            created: now,
            offline: attempt.offline.clone(),
            failure: decline.clone(),
        };
        intent.latest_charge = Some(charge_id.clone());
        intent.payment_method = Some(payment_method);
        let offline_id = attempt.offline.map(|o| o.offline_id);
        let amount = intent.amount;
        let reply = match decline {
            None => {
                intent.status =
                    if automatic { IntentStatus::Succeeded } else { IntentStatus::RequiresCapture };
                intent.last_payment_error = None;
                self.emit(
                    now,
                    EventBody::ChargeSucceeded {
                        charge: charge_id.clone(),
                        intent: id.to_owned(),
                        amount,
                        card: attempt.card,
                        captured: automatic,
                        offline_id,
                    },
                );
                None
            }
            Some(Decline { error_code, decline_code }) => {
                let error = card_error(&error_code, &decline_code, "Your card was declined.");
                intent.status = IntentStatus::RequiresPaymentMethod;
                intent.last_payment_error = Some(error.clone());
                self.emit(
                    now,
                    EventBody::ChargeFailed {
                        charge: charge_id.clone(),
                        intent: id.to_owned(),
                        amount,
                        card: attempt.card,
                        error_code,
                        decline_code,
                        offline_id,
                    },
                );
                Some(error)
            }
        };
        self.charges.insert(charge_id, charge);
        match reply {
            None => self.intent_reply(id),
            Some(mut error) => {
                error.payment_intent = self.intent_json(id);
                ApiReply::Err(error)
            }
        }
    }

    fn capture(&mut self, now: Millis, caller: &Caller, id: &str) -> ApiReply {
        let intent = match self.find_intent(caller, id) {
            Ok(intent) => intent,
            Err(error) => return ApiReply::Err(error),
        };
        if intent.status != IntentStatus::RequiresCapture {
            return ApiReply::Err(self.unexpected_state(intent, "capture"));
        }
        let charge_id = intent.latest_charge.clone().expect("an authorized intent has its charge");
        let amount = intent.amount;
        if let Some(intent) = self.intents.get_mut(id) {
            intent.status = IntentStatus::Succeeded;
        }
        if let Some(charge) = self.charges.get_mut(&charge_id) {
            charge.captured = true;
        }
        self.emit(
            now,
            EventBody::IntentCaptured { intent: id.to_owned(), charge: charge_id, amount },
        );
        self.intent_reply(id)
    }

    /// Cancels an intent that has not succeeded. An authorization waiting for
    /// capture is released (Stripe shows its charge as refunded).
    fn cancel(&mut self, now: Millis, caller: &Caller, id: &str) -> ApiReply {
        let intent = match self.find_intent(caller, id) {
            Ok(intent) => intent,
            Err(error) => return ApiReply::Err(error),
        };
        let released = match intent.status {
            IntentStatus::RequiresPaymentMethod => None,
            IntentStatus::RequiresCapture => intent.latest_charge.clone(),
            IntentStatus::Succeeded | IntentStatus::Canceled => {
                return ApiReply::Err(self.unexpected_state(intent, "cancel"));
            }
        };
        if let Some(intent) = self.intents.get_mut(id) {
            intent.status = IntentStatus::Canceled;
            intent.canceled_at = Some(now);
        }
        if let Some(charge) = released.as_ref().and_then(|c| self.charges.get_mut(c)) {
            charge.released = true;
        }
        self.emit(
            now,
            EventBody::IntentCanceled { intent: id.to_owned(), released_charge: released },
        );
        self.intent_reply(id)
    }

    /// The forwarding of one stored payment: checks that it belongs to the
    /// caller's account and mode, creates its intent (or takes the one it was
    /// created online with), and authorizes the card now, without a PIN pad.
    fn forward(
        &mut self,
        now: Millis,
        caller: &Caller,
        key: Option<&str>,
        payment: &StoredPayment,
    ) -> Executed {
        if payment.account != caller.account {
            return Executed::Refused(invalid(
                "account_id_mismatch",
                "The stored payment belongs to another account than the connection token's.",
            ));
        }
        if payment.livemode != caller.livemode {
            let (code, message) = if caller.livemode {
                (
                    "offline_testmode_payment_in_livemode",
                    "A test-mode stored payment cannot be forwarded in live mode.",
                )
            } else {
                (
                    "offline_livemode_payment_in_testmode",
                    "A live-mode stored payment cannot be forwarded in test mode.",
                )
            };
            return Executed::Refused(invalid(code, message));
        }
        let identity = (payment.account.clone(), payment.offline_id.clone());
        if let Some((first_key, first)) = self.forwarded.get(&identity)
            && first_key.as_deref() == key
        {
            return Executed::Ran(first.reply());
        }
        let reply = self.forward_once(now, caller, payment);
        if !matches!(&reply, ApiReply::Err(e) if e.is_retryable()) {
            let saved = SavedReply::of(&reply);
            self.forwarded.entry(identity).or_insert((key.map(str::to_owned), saved));
        }
        Executed::Ran(reply)
    }

    /// [`Self::forward`] for an offline id the backend has not seen yet.
    fn forward_once(&mut self, now: Millis, caller: &Caller, payment: &StoredPayment) -> ApiReply {
        let id = match &payment.intent_id {
            Some(id) => {
                let intent = match self.find_intent(caller, id) {
                    Ok(intent) => intent,
                    Err(error) => return ApiReply::Err(error),
                };
                if intent.status != IntentStatus::RequiresPaymentMethod {
                    return ApiReply::Err(self.unexpected_state(intent, "forward"));
                }
                if intent.amount != payment.amount {
                    return ApiReply::Err(invalid(
                        "parameter_invalid_integer",
                        "The stored payment's amount differs from its payment intent's.",
                    ));
                }
                if let Some(intent) = self.intents.get_mut(id) {
                    intent.offline_id = Some(payment.offline_id.clone());
                }
                id.clone()
            }
            None => self.create_intent(
                now,
                caller,
                payment.amount,
                payment.capture,
                Some(payment.offline_id.clone()),
                None,
            ),
        };
        let attempt = Attempt {
            card: CardSummary {
                brand: payment.card.brand,
                funding: payment.card.funding,
                last4: payment.card.number.last4(),
            },
            entry_mode: payment.card.entry_mode,
            offline: Some(OfflineCharge {
                offline_id: payment.offline_id.clone(),
                stored_at: payment.stored_at,
            }),
        };
        let decline = self.decline_at_forwarding(now, payment);
        self.settle(now, &id, attempt, decline)
    }

    /// The issuer's answer to a stored card now: an armed decline on sync,
    /// or the test tables with the PIN as it was entered on the reader (there
    /// is no PIN pad at forwarding, so a PIN request is a decline).
    fn decline_at_forwarding(&mut self, now: Millis, payment: &StoredPayment) -> Option<Decline> {
        if let Some((fault, decline_code)) = self.faults.decline_on_sync(payment) {
            let request = crate::backend::api::RequestKind::ForwardOfflinePayment;
            self.emit(now, EventBody::BackendFaultFired { fault, request });
            return Some(Decline { error_code: error_code_for(&decline_code), decline_code });
        }
        let cards = Arc::clone(&self.config.cards);
        let Some(card) = cards.by_number(payment.card.number.as_str()) else {
            return Some(Decline {
                error_code: "incorrect_number".to_owned(),
                decline_code: "incorrect_number".to_owned(),
            });
        };
        match cards.authorize(
            card,
            payment.amount,
            payment.card.entry_mode,
            payment.card.pin,
            false,
        ) {
            Authorization::Approved => None,
            Authorization::Declined { error_code, decline_code } => {
                Some(Decline { error_code, decline_code })
            }
            // `authorize` without a PIN pad never asks; kept total anyway.
            Authorization::PinRequired { decline_code, .. } => {
                Some(Decline { error_code: "card_declined".to_owned(), decline_code })
            }
        }
    }

    /// The intent `id` if the caller may see it; other accounts' and other
    /// modes' intents do not exist for it.
    pub(super) fn find_intent(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<&PaymentIntent, ApiError> {
        self.intents
            .get(id)
            .filter(|i| i.account == caller.account && i.livemode == caller.livemode)
            .ok_or_else(|| missing("payment_intent", id))
    }

    pub(super) fn unexpected_state(&self, intent: &PaymentIntent, action: &str) -> ApiError {
        let mut error = invalid(
            "payment_intent_unexpected_state",
            &format!(
                "You cannot {action} this PaymentIntent because it has a status of {}.",
                intent.status.as_str()
            ),
        );
        error.payment_intent = Some(objects::payment_intent(intent, &self.config));
        error
    }

    fn intent_reply(&self, id: &str) -> ApiReply {
        ApiReply::Ok(self.intent_json(id).expect("the intent was just written"))
    }
}

pub(super) fn owned_by(caller: &Caller, charge: &Charge) -> bool {
    charge.account == caller.account && charge.livemode == caller.livemode
}

/// Stripe's error `code` for a decline code: the few declines that are their
/// own code, `card_declined` for the rest.
fn error_code_for(decline_code: &str) -> String {
    match decline_code {
        "expired_card" | "processing_error" | "incorrect_number" => decline_code.to_owned(),
        _ => "card_declined".to_owned(),
    }
}

pub(super) fn invalid(code: &str, message: &str) -> ApiError {
    objects::error(400, ApiErrorKind::InvalidRequestError, Some(code), message)
}

pub(super) fn missing(object: &str, id: &str) -> ApiError {
    objects::error(
        404,
        ApiErrorKind::InvalidRequestError,
        Some("resource_missing"),
        &format!("No such {object}: '{id}'"),
    )
}

fn card_error(code: &str, decline_code: &str, message: &str) -> ApiError {
    let mut error = objects::error(402, ApiErrorKind::CardError, Some(code), message);
    error.decline_code = Some(decline_code.to_owned());
    error
}

/// A number that is not a test card: Stripe's test mode refuses it before
/// any charge exists.
fn unknown_card() -> ApiError {
    objects::error(
        402,
        ApiErrorKind::CardError,
        Some("incorrect_number"),
        "Your card number is incorrect.",
    )
}
