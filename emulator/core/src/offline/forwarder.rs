//! The forwarder: delivers stored payments to the backend, in order, each
//! exactly once, and reports one outcome per payment.
//!
//! One payment is in flight at a time, oldest first. Every attempt carries the
//! payment's [`OfflineId::idempotency_key`], so a retry after a timeout, a lost
//! response, a reboot or an app restart makes the backend replay its first
//! answer instead of charging again (incident android-747). A payment leaves
//! the queue only after the store has durably marked it forwarded, and its
//! outcome is reported only then: a crash before the mark forwards it again
//! (same key, same answer) and reports it once; a crash after the mark cannot
//! report it again because it is no longer stored.
//!
//! Retries: up to `forward_tries` attempts per round, each with its own
//! timeout; then a back-off that doubles up to `backoff_max` and resets when
//! the network comes back (incident android-485: forwarding must resume by
//! itself). An expired token (401) is dropped and fetched again. Nothing is
//! ever given up on: a payment leaves only with an outcome.
//!
//! The forwarder is driven by [`super::OfflineEngine`], which owns the
//! clock, the call ids and the output queues.

use super::effects::{Effect, Outbox};
use super::{ForwardError, OfflineId, StoredPayment};
use crate::backend::{ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest};
use crate::defect::{Defect, Defects};
use crate::error::TerminalErrorCode as Code;
use crate::event::EventBody;
use crate::offline::config::Timings;
use crate::time::Millis;
use std::collections::VecDeque;
use std::time::Duration;

/// What the forwarder is doing.
#[derive(Clone, Debug, PartialEq)]
enum State {
    /// Nothing in flight.
    Idle,
    /// Waiting for the connection-token provider.
    FetchingToken { call: u64, deadline: Millis },
    /// The front payment's upload is in flight.
    Sending { call: u64, deadline: Millis, attempt: u32 },
    /// The backend answered; waiting for the store to mark it forwarded.
    Marking { outcome: Outcome },
    /// Backing off until `until` (a failed round, or a failed mark).
    Waiting { until: Millis, then_mark: Option<Outcome> },
}

/// The backend's final answer about the front payment.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    intent: Option<String>,
    status: Option<String>,
    error: Option<ForwardError>,
}

/// The forwarding queue and its retry state.
#[derive(Debug)]
pub(super) struct Forwarder {
    queue: VecDeque<StoredPayment>,
    token: Option<String>,
    state: State,
    /// Attempts made for the front payment in this round.
    round_attempts: u32,
    /// Every attempt for the front payment, across rounds (for the history).
    total_attempts: u32,
    backoff: Duration,
    timings: Timings,
    /// Defect profiles switched on for this run (none in the reference).
    pub(super) defects: Defects,
    /// Uploads sent in this app run, for the fresh keys of the defects.
    uploads: u32,
    /// Set by a defect: nothing is sent until the app restarts.
    pub(super) stalled: bool,
    /// Set by a defect while it restarts an upload on reconnect.
    restarting: bool,
}

impl Forwarder {
    pub(super) fn new(timings: Timings) -> Self {
        Forwarder {
            queue: VecDeque::new(),
            token: None,
            state: State::Idle,
            round_attempts: 0,
            total_attempts: 0,
            backoff: timings.backoff_initial,
            timings,
            defects: Defects::none(),
            uploads: 0,
            stalled: false,
            restarting: false,
        }
    }

    /// Payments waiting to be forwarded, oldest first.
    pub(super) fn queue(&self) -> impl Iterator<Item = &StoredPayment> {
        self.queue.iter()
    }

    /// Whether `id` is already queued.
    pub(super) fn contains(&self, id: &OfflineId) -> bool {
        self.queue.iter().any(|p| &p.offline_id == id)
    }

    /// A durably stored payment joins the back of the queue.
    pub(super) fn push(&mut self, payment: StoredPayment) {
        self.queue.push_back(payment);
    }

    /// The next instant the forwarder must act by itself.
    pub(super) fn deadline(&self) -> Option<Millis> {
        match self.state {
            State::FetchingToken { deadline, .. } | State::Sending { deadline, .. } => {
                Some(deadline)
            }
            State::Waiting { until, .. } => Some(until),
            State::Idle | State::Marking { .. } => None,
        }
    }

    /// The network came back: skip any back-off and start now.
    pub(super) fn network_up(&mut self, now: Millis, out: &mut Outbox) {
        self.backoff = self.timings.backoff_initial;
        if self.defects.has(Defect::DoubleForwardOnReconnect)
            && let State::Sending { attempt, .. } = self.state
        {
            // Defect (android-747): the reconnect restarts the upload in
            // flight instead of waiting for its answer, under a new key.
            self.state = State::Idle;
            self.total_attempts = attempt - 1;
            self.restarting = true;
            self.pump(now, true, out);
            self.restarting = false;
            return;
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Waiting { then_mark: Some(outcome), .. } => self.mark(outcome, out),
            State::Waiting { then_mark: None, .. } => self.pump(now, true, out),
            state => {
                self.state = state;
                self.pump(now, true, out);
            }
        }
    }

    /// Starts the next step if nothing is in flight and the network is up.
    pub(super) fn pump(&mut self, now: Millis, network_up: bool, out: &mut Outbox) {
        if self.state != State::Idle || !network_up || self.stalled {
            return;
        }
        let Some(front) = self.queue.front() else { return };
        match &self.token {
            None => {
                let call = out.call(ApiCall {
                    token: None,
                    idempotency_key: None,
                    request: ApiRequest::CreateConnectionToken { location: None },
                });
                let deadline = now + self.timings.token_wait;
                self.state = State::FetchingToken { call, deadline };
            }
            Some(token) => {
                let payment = front.clone();
                self.round_attempts += 1;
                self.total_attempts += 1;
                let (offline_id, attempt) = (payment.offline_id.clone(), self.total_attempts);
                self.uploads += 1;
                let call = out.call(ApiCall {
                    token: Some(token.clone()),
                    idempotency_key: Some(self.key_for(&payment.offline_id)),
                    request: ApiRequest::ForwardOfflinePayment { payment },
                });
                out.event(now, EventBody::ForwardAttempted { offline_id, attempt });
                let deadline = now + self.timings.forward_attempt_timeout;
                self.state = State::Sending { call, deadline, attempt };
            }
        }
    }

    /// Fires the deadline that fell due at `now`.
    pub(super) fn on_timeout(&mut self, now: Millis, network_up: bool, out: &mut Outbox) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::FetchingToken { .. } => {
                let message = "the connection-token provider did not answer in time".to_owned();
                self.token_failed(now, message, out);
            }
            State::Sending { .. } => self.attempt_failed(now, network_up, out),
            State::Waiting { then_mark: Some(outcome), .. } => self.mark(outcome, out),
            State::Waiting { then_mark: None, .. } => self.pump(now, network_up, out),
            state @ (State::Idle | State::Marking { .. }) => self.state = state,
        }
    }

    /// Whether `call` is the forwarder's call in flight.
    pub(super) fn owns(&self, call: u64) -> bool {
        matches!(self.state, State::FetchingToken { call: c, .. } | State::Sending { call: c, .. } if c == call)
    }

    /// The backend answered the forwarder's call in flight.
    pub(super) fn on_reply(
        &mut self,
        now: Millis,
        network_up: bool,
        reply: ApiReply,
        out: &mut Outbox,
    ) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::FetchingToken { .. } => match reply {
                ApiReply::Ok(token) => {
                    self.token = token.get("secret").and_then(|s| s.as_str()).map(str::to_owned);
                    if self.token.is_none() {
                        let message = "the connection token had no secret".to_owned();
                        return self.token_failed(now, message, out);
                    }
                    self.pump(now, network_up, out);
                }
                ApiReply::Err(error) => self.token_failed(now, error.message, out),
            },
            State::Sending { .. } => match reply {
                ApiReply::Ok(intent) => self.mark(Outcome::of_intent(&intent, None), out),
                ApiReply::Err(error) => self.on_error(now, network_up, &error, out),
            },
            state => unreachable!("a reply routed to the forwarder in state {state:?}"),
        }
    }

    /// The store marked the front payment forwarded: report its outcome.
    pub(super) fn on_marked(
        &mut self,
        now: Millis,
        id: &OfflineId,
        network_up: bool,
        out: &mut Outbox,
    ) -> StoredPayment {
        let State::Marking { outcome } = std::mem::replace(&mut self.state, State::Idle) else {
            panic!("the store marked {id} forwarded, but the forwarder was not marking");
        };
        let payment = self.queue.pop_front().expect("marking implies a front payment");
        assert_eq!(&payment.offline_id, id, "the store marked another payment than the front one");
        let declined = outcome.error.is_some();
        let forwarded = EventBody::PaymentForwarded {
            offline_id: payment.offline_id.clone(),
            amount: payment.amount,
            intent: outcome.intent,
            status: outcome.status,
            error: outcome.error,
        };
        if declined && self.defects.has(Defect::DuplicateOutcome) {
            // Defect (rn-1061): the failed forward is reported twice.
            out.event(now, forwarded.clone());
        }
        out.event(now, forwarded);
        self.round_attempts = 0;
        self.total_attempts = 0;
        self.backoff = self.timings.backoff_initial;
        self.pump(now, network_up, out);
        payment
    }

    /// The store could not write the mark: keep the outcome, try the mark
    /// again after a back-off. The payment is not sent again meanwhile.
    pub(super) fn on_mark_failed(&mut self, now: Millis) {
        let State::Marking { outcome } = std::mem::replace(&mut self.state, State::Idle) else {
            panic!("a mark failed while the forwarder was not marking");
        };
        let until = now + self.next_backoff();
        self.state = State::Waiting { until, then_mark: Some(outcome) };
    }

    fn mark(&mut self, outcome: Outcome, out: &mut Outbox) {
        let offline_id = self.queue.front().expect("a front payment").offline_id.clone();
        out.effect(Effect::MarkForwarded { offline_id });
        self.state = State::Marking { outcome };
    }

    fn on_error(&mut self, now: Millis, network_up: bool, error: &ApiError, out: &mut Outbox) {
        let code = |c: Code| Some(ForwardError { code: c.name(), decline_code: None });
        let final_error = match (error.kind, error.code.as_deref()) {
            // Decline on sync: the merchant carries the risk; reported once.
            (ApiErrorKind::CardError, _) => Some(ForwardError {
                code: error.code.clone().unwrap_or_else(|| "card_declined".to_owned()),
                decline_code: error.decline_code.clone(),
            }),
            // A response lost after the upload was applied, then an online
            // confirm that also went through: the intent is already paid.
            // (Defect `failed-after-lost-confirm-answer` takes this for a
            // failure like any other and reports it.)
            (ApiErrorKind::InvalidRequestError, Some("payment_intent_unexpected_state"))
                if error.payment_intent.as_ref().is_some_and(is_paid)
                    && !self.defects.has(Defect::FailedAfterLostConfirmAnswer) =>
            {
                let intent = error.payment_intent.as_ref().expect("checked above");
                return self.mark(Outcome::of_intent(intent, None), out);
            }
            (ApiErrorKind::InvalidRequestError, Some("account_id_mismatch")) => {
                code(Code::AccountIdMismatchWhileForwarding)
            }
            (ApiErrorKind::InvalidRequestError, Some("offline_testmode_payment_in_livemode")) => {
                code(Code::OfflineTestmodePaymentInLivemode)
            }
            (ApiErrorKind::InvalidRequestError, Some("offline_livemode_payment_in_testmode")) => {
                code(Code::OfflineLivemodePaymentInTestmode)
            }
            (ApiErrorKind::AuthenticationError, _) => {
                self.token = None;
                None
            }
            (ApiErrorKind::ApiError | ApiErrorKind::RateLimitError, _) => None,
            // Another upload under this key is still in progress: this one
            // was not applied; the same upload again, later.
            (ApiErrorKind::IdempotencyError, Some("idempotency_key_in_use")) => None,
            // Anything else will not change by sending it again: report it.
            (ApiErrorKind::InvalidRequestError | ApiErrorKind::IdempotencyError, c) => {
                Some(ForwardError {
                    code: c.unwrap_or("invalid_request_error").to_owned(),
                    decline_code: None,
                })
            }
        };
        match (final_error, &error.payment_intent) {
            (Some(forward_error), Some(intent)) => {
                self.mark(Outcome::of_intent(intent, Some(forward_error)), out);
            }
            (Some(forward_error), None) => {
                let outcome = Outcome { intent: None, status: None, error: Some(forward_error) };
                self.mark(outcome, out);
            }
            (None, _) => self.attempt_failed(now, network_up, out),
        }
    }

    /// An attempt timed out or met a retryable error.
    fn attempt_failed(&mut self, now: Millis, network_up: bool, out: &mut Outbox) {
        if self.round_attempts < self.timings.forward_tries {
            return self.pump(now, network_up, out);
        }
        self.round_attempts = 0;
        let until = now + self.next_backoff();
        self.state = State::Waiting { until, then_mark: None };
    }

    fn token_failed(&mut self, now: Millis, message: String, out: &mut Outbox) {
        // onForwardingFailure: a failure not tied to one payment.
        let code = Code::ConnectionTokenProviderErrorWhileForwarding;
        out.event(now, EventBody::ForwardingFailed { code, message });
        let until = now + self.next_backoff();
        self.state = State::Waiting { until, then_mark: None };
    }

    /// The upload's `Idempotency-Key`: the payment's own, the same on every
    /// attempt, unless a defect profile makes it fresh.
    fn key_for(&self, id: &OfflineId) -> String {
        let key = id.idempotency_key();
        let fresh_retry =
            self.defects.has(Defect::FreshIdempotencyKeyOnRetry) && self.total_attempts > 1;
        if fresh_retry || self.restarting { format!("{key}-upload{}", self.uploads) } else { key }
    }

    fn next_backoff(&mut self) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(self.timings.backoff_max);
        wait
    }
}

impl Outcome {
    fn of_intent(intent: &serde_json::Value, error: Option<ForwardError>) -> Outcome {
        let text = |key: &str| intent.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Outcome { intent: text("id"), status: text("status"), error }
    }
}

/// Whether a payment intent's JSON shows it paid (`succeeded`, or
/// `requires_capture` for manual capture).
pub(super) fn is_paid(intent: &serde_json::Value) -> bool {
    matches!(intent.get("status").and_then(|v| v.as_str()), Some("succeeded" | "requires_capture"))
}
