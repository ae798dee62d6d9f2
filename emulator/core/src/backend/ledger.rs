//! [`Backend`]: the ledger of payment intents and charges, and the pipeline
//! every call goes through: armed HTTP faults, authentication, the
//! `Idempotency-Key`, then the request itself (`payments.rs`).
//!
//! Sans-IO, quinn-style: [`Backend::handle`] takes the time and a call and
//! returns the reply; [`Backend::poll_event`] hands out the history events it
//! produced. No clock, no randomness: ids come from counters, `created` from
//! the configured epoch plus `now`.

use crate::backend::api::{ApiCall, ApiError, ApiErrorKind, ApiReply, RequestKind};
use crate::backend::config::BackendConfig;
use crate::backend::faults::{ArmedFault, ArmedFaults, InvalidFault};
use crate::backend::idempotency::{IdempotencyKeys, KeyLookup, KeyScope, SavedReply};
use crate::backend::objects;
use crate::backend::records::{Charge, ChargeStatus, PaymentIntent};
use crate::backend::terminal::Terminal;
use crate::backend::tokens::{ConnectionTokens, TokenRefusal};
use crate::event::{EventBody, Part};
use crate::money::Currency;
use crate::offline::OfflineId;
use crate::time::Millis;
use std::collections::{BTreeMap, VecDeque};

/// Whom a call acts for: the token's account and mode, or the configured
/// ones for a secret-key call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) account: String,
    pub(crate) livemode: bool,
}

/// How a request ended inside the backend.
#[derive(Debug)]
pub(crate) enum Executed {
    /// It ran: the reply is saved under its idempotency key (unless 5xx).
    Ran(ApiReply),
    /// It was refused before it ran (its parameters do not fit the caller):
    /// nothing is saved, so the same key can run once the caller is right.
    Refused(ApiError),
}

/// Per currency, what the ledger holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CurrencyTotals {
    /// Approved and not released (captured or awaiting capture).
    pub succeeded: u64,
    /// Of those, captured.
    pub captured: u64,
    /// Declined charges.
    pub declined: u64,
}

/// The emulated payments backend.
#[derive(Debug)]
pub struct Backend {
    pub(super) config: BackendConfig,
    /// Keyed by id; fixed-width counter ids make key order creation order.
    pub(super) intents: BTreeMap<String, PaymentIntent>,
    pub(super) charges: BTreeMap<String, Charge>,
    pub(super) tokens: ConnectionTokens,
    keys: IdempotencyKeys,
    /// The first answer to each forwarded offline payment, by account and
    /// offline id, with the `Idempotency-Key` it came with.
    /// Idempotency keys expire after 24 h, but a payment stored offline may
    /// wait longer than that between an upload whose answer was lost and its
    /// retry; an upload of the same payment under the same key replays the
    /// first answer instead of charging again. Under another key it is, as
    /// for Stripe, a new request: an SDK that changes keys between retries
    /// charges twice (incident android-747), and the checker must see it.
    pub(super) forwarded: BTreeMap<(String, OfflineId), (Option<String>, SavedReply)>,
    pub(super) faults: ArmedFaults,
    pub(super) counters: Counters,
    /// Locations, configurations, registered readers and their commands.
    pub(super) terminal: Terminal,
    out: VecDeque<(Millis, EventBody)>,
}

/// The counters ids are made from.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) intents: u64,
    pub(super) charges: u64,
    pub(super) payment_methods: u64,
    /// Calls answered, of any kind and outcome.
    pub(super) calls: u64,
}

impl Backend {
    /// An empty ledger.
    pub fn new(config: BackendConfig) -> Backend {
        Backend {
            tokens: ConnectionTokens::new(config.connection_token_lifetime),
            keys: IdempotencyKeys::new(config.idempotency_key_lifetime),
            intents: BTreeMap::new(),
            charges: BTreeMap::new(),
            forwarded: BTreeMap::new(),
            faults: ArmedFaults::default(),
            counters: Counters::default(),
            terminal: Terminal::new(&config.account, config.livemode),
            config,
            out: VecDeque::new(),
        }
    }

    /// The part its events are stamped with: `backend`.
    pub fn part() -> Part {
        Part("backend".to_owned())
    }

    /// Calls answered so far, of any kind and outcome.
    pub fn requests_handled(&self) -> u64 {
        self.counters.calls
    }

    /// Its configuration.
    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    /// Answers one call at `now`.
    ///
    /// Order, and why: an armed HTTP fault answers first (it stands for the
    /// server failing before it looked at anything); then the token (a call
    /// Stripe cannot attribute to an account has no key scope); then the
    /// `Idempotency-Key` (a replay executes nothing); then the request.
    pub fn handle(&mut self, now: Millis, call: ApiCall) -> ApiReply {
        let kind = call.request.kind();
        self.counters.calls += 1;
        if let Some((fault, status)) = self.faults.http_error(kind) {
            self.emit(now, EventBody::BackendFaultFired { fault, request: kind });
            return self.reject(now, kind, http_fault_error(status));
        }
        let caller = match self.authenticate(now, call.token.as_deref()) {
            Ok(caller) => caller,
            Err(error) => return self.reject(now, kind, error),
        };
        let scope = KeyScope { account: caller.account.clone(), livemode: caller.livemode };
        if let Some(key) = &call.idempotency_key {
            match self.keys.lookup(now, &scope, key, &call.request) {
                KeyLookup::New => {}
                KeyLookup::Replay(reply) => {
                    let status = match &reply {
                        ApiReply::Ok(_) => 200,
                        ApiReply::Err(error) => error.status,
                    };
                    let idempotency_key = key.clone();
                    self.emit(
                        now,
                        EventBody::BackendRequestReplayed {
                            request: kind,
                            idempotency_key,
                            status,
                        },
                    );
                    return reply;
                }
                KeyLookup::Mismatch => {
                    let error = objects::error(
                        400,
                        ApiErrorKind::IdempotencyError,
                        None,
                        "Keys for idempotent requests can only be used with the same parameters \
                         they were first used with.",
                    );
                    return self.reject(now, kind, error);
                }
            }
        }
        match self.execute(now, &caller, call.idempotency_key.as_deref(), &call.request) {
            Executed::Ran(reply) => {
                if let ApiReply::Err(error) = &reply {
                    self.emit_rejected(now, kind, error);
                }
                if let Some(key) = call.idempotency_key {
                    self.keys.save(now, scope, key, &call.request, &reply);
                }
                reply
            }
            Executed::Refused(error) => self.reject(now, kind, error),
        }
    }

    /// The next history event, with the instant it happened.
    pub fn poll_event(&mut self) -> Option<(Millis, EventBody)> {
        self.out.pop_front()
    }

    /// Arms a fault at `now`; it fires on the requests it matches.
    pub fn arm(&mut self, now: Millis, fault: ArmedFault) -> Result<(), InvalidFault> {
        self.faults.arm(fault.clone())?;
        self.emit(now, EventBody::BackendFaultArmed { fault });
        Ok(())
    }

    /// Disarms every fault at `now`.
    pub fn clear_faults(&mut self, now: Millis) {
        self.faults.clear();
        self.emit(now, EventBody::BackendFaultsCleared);
    }

    /// The faults still armed, in arming order.
    pub fn armed_faults(&self) -> impl Iterator<Item = &ArmedFault> {
        self.faults.armed()
    }

    /// Every payment intent, in creation order.
    pub fn intents(&self) -> impl Iterator<Item = &PaymentIntent> {
        self.intents.values()
    }

    /// Every charge, in creation order.
    pub fn charges(&self) -> impl Iterator<Item = &Charge> {
        self.charges.values()
    }

    /// One payment intent.
    pub fn intent(&self, id: &str) -> Option<&PaymentIntent> {
        self.intents.get(id)
    }

    /// One charge.
    pub fn charge(&self, id: &str) -> Option<&Charge> {
        self.charges.get(id)
    }

    /// The charges forwarded for one stored payment, in creation order. More
    /// than one that [holds funds](Charge::holds_funds) breaks invariant I2.
    pub fn charges_for_offline(&self, offline_id: &OfflineId) -> impl Iterator<Item = &Charge> {
        self.charges
            .values()
            .filter(move |c| c.offline.as_ref().is_some_and(|o| o.offline_id == *offline_id))
    }

    /// The Stripe JSON of an intent, as a retrieve would return it.
    pub fn intent_json(&self, id: &str) -> Option<serde_json::Value> {
        self.intents.get(id).map(|i| objects::payment_intent(i, &self.config))
    }

    /// The Stripe JSON of a charge, as a retrieve would return it.
    pub fn charge_json(&self, id: &str) -> Option<serde_json::Value> {
        self.charges.get(id).map(|c| objects::charge(c, &self.config))
    }

    /// Totals per currency over every charge.
    pub fn totals(&self) -> BTreeMap<Currency, CurrencyTotals> {
        totals(self.charges.values())
    }

    /// Totals per currency over forwarded charges only: the backend's side of
    /// invariant I8.
    pub fn offline_totals(&self) -> BTreeMap<Currency, CurrencyTotals> {
        totals(self.charges.values().filter(|c| c.offline.is_some()))
    }

    /// Queues an event.
    pub(super) fn emit(&mut self, now: Millis, event: EventBody) {
        self.out.push_back((now, event));
    }

    fn emit_rejected(&mut self, now: Millis, request: RequestKind, error: &ApiError) {
        self.emit(
            now,
            EventBody::BackendRequestRejected {
                request,
                status: error.status,
                error_type: error.kind,
                code: error.code.clone(),
                decline_code: error.decline_code.clone(),
            },
        );
    }

    fn reject(&mut self, now: Millis, request: RequestKind, error: ApiError) -> ApiReply {
        self.emit_rejected(now, request, &error);
        ApiReply::Err(error)
    }

    /// Whom the call acts for. A call without a token uses the secret key of
    /// the configured account.
    fn authenticate(&self, now: Millis, token: Option<&str>) -> Result<Caller, ApiError> {
        let Some(secret) = token else {
            return Ok(Caller {
                account: self.config.account.clone(),
                livemode: self.config.livemode,
            });
        };
        match self.tokens.check(now, secret) {
            Ok(token) => Ok(Caller { account: token.account.clone(), livemode: token.livemode }),
            Err(TokenRefusal::Unknown) => Err(objects::error(
                401,
                ApiErrorKind::AuthenticationError,
                None,
                "Invalid connection token provided.",
            )),
            Err(TokenRefusal::Expired) => Err(objects::error(
                401,
                ApiErrorKind::AuthenticationError,
                Some("api_key_expired"),
                "The connection token provided has expired.",
            )),
        }
    }
}

/// The error an armed HTTP fault answers with.
fn http_fault_error(status: u16) -> ApiError {
    if status == 409 {
        // Stripe's answer while another request with the same key is still
        // being processed: nothing was applied; the same call again later.
        objects::error(
            409,
            ApiErrorKind::IdempotencyError,
            Some("idempotency_key_in_use"),
            "There is currently another in-progress request using this Idempotency-Key (that \
             probably means you submitted twice, and the other request is still going \
             through). Please try again later.",
        )
    } else if status == 429 {
        objects::error(
            429,
            ApiErrorKind::RateLimitError,
            Some("rate_limit"),
            "Too many requests hit the API too quickly.",
        )
    } else {
        objects::error(
            status,
            ApiErrorKind::ApiError,
            None,
            "The server failed before applying the request (injected fault); retry with the same key.",
        )
    }
}

fn totals<'a>(charges: impl Iterator<Item = &'a Charge>) -> BTreeMap<Currency, CurrencyTotals> {
    let mut totals = BTreeMap::<Currency, CurrencyTotals>::new();
    for charge in charges {
        let entry = totals.entry(charge.amount.currency).or_default();
        match charge.status {
            ChargeStatus::Failed => entry.declined += charge.amount.amount,
            ChargeStatus::Succeeded if charge.released => {}
            ChargeStatus::Succeeded => {
                entry.succeeded += charge.amount.amount;
                if charge.captured {
                    entry.captured += charge.amount.amount;
                }
            }
        }
    }
    totals
}
