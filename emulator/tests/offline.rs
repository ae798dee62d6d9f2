//! The offline engine (POS/SDK model and smart-reader engine) through its
//! public interface, with the backend's answers scripted by each test and a
//! store that acknowledges at once, so every rule, retry and callback can be
//! pinned to an exact instant.

use readerlab_emulator::core::backend::{ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest};
use readerlab_emulator::core::offline::{
    Account, CaptureMethod, CollectedCard, Effect, Holder, Input, OfflineBehavior, OfflineConfig,
    OfflineEngine, OfflineId, Session, StoredPayment, Timings, UnreadableRecord,
};
use readerlab_emulator::core::{Currency, EventBody, Millis, Money, TerminalErrorCode as Code};
use readerlab_emulator::core::{EntryMode, ReaderModel};
use readerlab_emulator::core::{PinEntry, TestCards};
use rstest::rstest;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const VISA: &str = "4242424242424242";

/// An engine, a store that acknowledges (or refuses) at once, and the calls
/// waiting for the test to answer them.
struct Sdk {
    engine: OfflineEngine,
    now: Millis,
    events: Vec<(Millis, EventBody)>,
    calls: VecDeque<(u64, ApiCall)>,
    /// Durable payments, as the store would hold them.
    stored: Vec<StoredPayment>,
    /// When set, the store refuses every payment with this code.
    store_refuses: Option<Code>,
    /// When set, the store fails to write forwarded marks.
    marks_fail: bool,
}

fn usd(amount: u64) -> Money {
    Money::new(amount, Currency::USD)
}

fn online_session(config: OfflineConfig) -> Session {
    Session {
        account: Some(Account { id: "acct_1".into(), livemode: false }),
        config: Some(config),
        online_by_model: [(ReaderModel::M2, Millis(0))].into(),
        online_by_location: [("tml_1".to_owned(), Millis(0))].into(),
    }
}

impl Sdk {
    /// A POS that was online before with offline mode enabled; now offline.
    fn offline() -> Self {
        Sdk::with(online_session(OfflineConfig::enabled()))
    }

    fn with(session: Session) -> Self {
        let cards = Arc::new(TestCards::builtin().clone());
        let engine = OfflineEngine::new(Holder::Pos, "a1", session, cards, Timings::default());
        let mut sdk = Sdk {
            engine,
            now: Millis(1_000),
            events: Vec::new(),
            calls: VecDeque::new(),
            stored: Vec::new(),
            store_refuses: None,
            marks_fail: false,
        };
        sdk.input(Input::Restored { pending: Vec::new(), unreadable: Vec::new() });
        sdk
    }

    fn input(&mut self, input: Input) {
        self.engine.handle(self.now, input);
        self.pump();
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.engine.handle_timeout(self.now);
        self.pump();
    }

    /// Performs the store's effects at once and queues the calls.
    fn pump(&mut self) {
        loop {
            while let Some(event) = self.engine.poll_event() {
                self.events.push(event);
            }
            let Some(effect) = self.engine.poll_effect() else { break };
            let answer = match effect {
                Effect::Call { call, request } => {
                    self.calls.push_back((call, request));
                    continue;
                }
                Effect::Persist { payment } => match self.store_refuses {
                    Some(code) => Input::PersistFailed { offline_id: payment.offline_id, code },
                    None => {
                        let offline_id = payment.offline_id.clone();
                        self.stored.push(payment);
                        Input::Persisted { offline_id }
                    }
                },
                Effect::MarkForwarded { offline_id } if self.marks_fail => {
                    Input::MarkFailed { offline_id }
                }
                Effect::MarkForwarded { offline_id } => {
                    self.stored.retain(|p| p.offline_id != offline_id);
                    Input::MarkedForwarded { offline_id }
                }
            };
            self.engine.handle(self.now, answer);
        }
    }

    fn network(&mut self, up: bool) {
        self.input(Input::NetworkChanged { up });
    }

    fn create(&mut self, payment: &str, amount: Money, behavior: OfflineBehavior) {
        let capture = CaptureMethod::Automatic;
        let payment = payment.to_owned();
        self.input(Input::CreatePaymentIntent { payment, amount, behavior, capture });
    }

    fn collect(&mut self, payment: &str, card: CollectedCard) {
        self.input(Input::Collected { payment: payment.to_owned(), card });
    }

    fn confirm(&mut self, payment: &str) {
        self.input(Input::Confirm { payment: payment.to_owned() });
    }

    /// Create, collect and confirm one payment with a card.
    fn pay(&mut self, payment: &str, amount: Money, card: CollectedCard) {
        self.create(payment, amount, OfflineBehavior::PreferOnline);
        self.collect(payment, card);
        self.confirm(payment);
    }

    fn next_call(&mut self) -> (u64, ApiCall) {
        self.calls.pop_front().expect("a call is waiting")
    }

    fn reply(&mut self, call: u64, reply: ApiReply) {
        self.input(Input::ApiReplied { call, reply });
    }

    /// Answers a token request with a fresh token.
    fn give_token(&mut self) {
        let (call, request) = self.next_call();
        assert!(matches!(request.request, ApiRequest::CreateConnectionToken { .. }), "{request:?}");
        self.reply(
            call,
            ApiReply::Ok(json!({"object": "terminal.connection_token", "secret": "pst_test_1"})),
        );
    }

    fn names(&self) -> Vec<String> {
        self.events.iter().map(|(_, e)| e.name()).collect()
    }

    fn count(&self, name: &str) -> usize {
        self.names().iter().filter(|n| *n == name).count()
    }

    /// The code of the one `payment.failed` event.
    fn failure(&self) -> Option<Code> {
        let codes: Vec<Code> = self
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                EventBody::SdkPaymentFailed { code, .. } => Some(*code),
                _ => None,
            })
            .collect();
        assert!(codes.len() <= 1, "more than one failure: {codes:?}");
        codes.first().copied()
    }

    fn forwarded(&self) -> Vec<&EventBody> {
        self.events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| matches!(e, EventBody::PaymentForwarded { .. }))
            .collect()
    }
}

fn card(number: &str, mode: EntryMode) -> CollectedCard {
    CollectedCard::read(number, mode)
}

fn intent_json(id: &str, status: &str) -> ApiReply {
    ApiReply::Ok(json!({"id": id, "object": "payment_intent", "status": status}))
}

fn api_error(status: u16, kind: ApiErrorKind, code: Option<&str>) -> ApiReply {
    ApiReply::Err(ApiError {
        status,
        kind,
        code: code.map(str::to_owned),
        decline_code: None,
        message: "scripted".into(),
        payment_intent: None,
        param: None,
    })
}

// --- storing offline ----------------------------------------------------------

#[test]
fn an_offline_payment_is_stored_without_an_intent_id_then_forwarded_once() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    assert_eq!(sdk.failure(), None);
    assert!(matches!(
        sdk.events.iter().find(|(_, e)| e.name() == "payment.intent.created"),
        Some((_, EventBody::SdkIntentCreated { intent: None, .. }))
    ));
    assert_eq!(sdk.stored.len(), 1);
    assert_eq!(sdk.engine.status().count, 1);
    assert_eq!(sdk.engine.status().amounts[&Currency::USD], 1_000);
    assert!(sdk.calls.is_empty(), "nothing is sent while offline");

    sdk.network(true);
    sdk.give_token();
    let (call, request) = sdk.next_call();
    let key = sdk.stored[0].offline_id.idempotency_key();
    assert_eq!(request.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(request.token.as_deref(), Some("pst_test_1"));
    sdk.reply(call, intent_json("pi_1", "succeeded"));

    assert!(sdk.stored.is_empty(), "the forwarded mark removed it from the store");
    let forwarded = sdk.forwarded();
    assert_eq!(forwarded.len(), 1);
    assert!(
        matches!(forwarded[0], EventBody::PaymentForwarded { error: None, intent: Some(i), .. } if i == "pi_1")
    );
    assert_eq!(sdk.engine.status().count, 0);
    // Status went unknown → offline 0 (start-up) → offline 1 → online 1 → online 0.
    let counts: Vec<(String, u32)> = sdk
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EventBody::OfflineStatusChanged { status } => {
                Some((format!("{:?}", status.network), status.count))
            }
            _ => None,
        })
        .collect();
    let expected = [("Offline", 0), ("Offline", 1), ("Online", 1), ("Online", 0)];
    let expected: Vec<(String, u32)> =
        expected.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect();
    assert_eq!(counts, expected);
}

#[test]
fn stored_is_announced_only_after_the_store_acknowledges() {
    let mut sdk = Sdk::offline();
    sdk.store_refuses = Some(Code::OfflineEncryptionKeysUnavailable);
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    assert_eq!(sdk.failure(), Some(Code::OfflineEncryptionKeysUnavailable));
    assert_eq!(sdk.count("offline.payment.stored"), 0);
    assert_eq!(sdk.engine.status().count, 0);

    // Incident ios-355: after unlock the next payment works.
    sdk.store_refuses = None;
    sdk.events.clear();
    sdk.pay("p2", usd(1_000), card(VISA, EntryMode::Contactless));
    assert_eq!(sdk.failure(), None);
    assert_eq!(sdk.count("offline.payment.stored"), 1);
}

#[test]
fn forwarding_drains_in_store_order_one_at_a_time() {
    let mut sdk = Sdk::offline();
    for i in 0..3 {
        sdk.pay(&format!("p{i}"), usd(100 + i), card(VISA, EntryMode::Contactless));
    }
    let ids: Vec<OfflineId> = sdk.stored.iter().map(|p| p.offline_id.clone()).collect();
    sdk.network(true);
    sdk.give_token();
    for id in &ids {
        let (call, request) = sdk.next_call();
        assert!(sdk.calls.is_empty(), "one upload in flight at a time");
        let ApiRequest::ForwardOfflinePayment { payment } = request.request else { panic!() };
        assert_eq!(&payment.offline_id, id);
        sdk.reply(call, intent_json(&format!("pi_{id}"), "succeeded"));
    }
    assert_eq!(sdk.forwarded().len(), 3);
}

// --- retries ------------------------------------------------------------------

#[test]
fn a_timed_out_upload_is_resent_with_the_same_key_then_backs_off() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    let (_, first) = sdk.next_call();
    let key = first.idempotency_key;
    // Three tries of 30 s each, every one with the same key.
    for _ in 0..2 {
        sdk.advance(Duration::from_secs(30));
        let (_, again) = sdk.next_call();
        assert_eq!(again.idempotency_key, key);
    }
    sdk.advance(Duration::from_secs(30));
    assert!(sdk.calls.is_empty(), "after three tries the forwarder backs off");
    sdk.advance(Duration::from_secs(2));
    let (call, again) = sdk.next_call();
    assert_eq!(again.idempotency_key, key);
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
    assert_eq!(sdk.count("offline.forward.attempted"), 4);
}

#[test]
fn a_late_answer_to_a_timed_out_attempt_changes_nothing() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    let (old, _) = sdk.next_call();
    sdk.advance(Duration::from_secs(30));
    let (new, _) = sdk.next_call();
    sdk.reply(old, intent_json("pi_1", "succeeded"));
    assert!(sdk.forwarded().is_empty());
    sdk.reply(new, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

#[rstest]
#[case::server_error(api_error(500, ApiErrorKind::ApiError, None))]
#[case::rate_limited(api_error(429, ApiErrorKind::RateLimitError, Some("rate_limit")))]
fn retryable_errors_are_retried_with_the_same_key(#[case] error: ApiReply) {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    let (call, first) = sdk.next_call();
    sdk.reply(call, error);
    let (call, second) = sdk.next_call();
    assert_eq!(first.idempotency_key, second.idempotency_key);
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

#[test]
fn an_expired_token_is_refreshed_and_the_upload_retried() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(call, api_error(401, ApiErrorKind::AuthenticationError, Some("token_expired")));
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

#[test]
fn forwarding_resumes_by_itself_when_the_network_returns() {
    // Incident android-485: forwarded late or never until the app restarts.
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    sdk.network(false);
    for _ in 0..3 {
        sdk.advance(Duration::from_secs(30));
        sdk.calls.clear();
    }
    sdk.advance(Duration::from_secs(600));
    sdk.calls.clear();
    sdk.network(true);
    let (call, _) = sdk.calls.pop_front().expect("an upload starts as soon as the network is back");
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

#[test]
fn a_failed_mark_withholds_the_callback_and_is_retried_without_resending() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    sdk.network(true);
    sdk.give_token();
    sdk.marks_fail = true;
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert!(sdk.forwarded().is_empty(), "no callback before the mark is durable");
    sdk.marks_fail = false;
    sdk.advance(Duration::from_secs(2));
    assert!(sdk.calls.is_empty(), "the upload is not sent again");
    assert_eq!(sdk.forwarded().len(), 1);
}

// --- restart ------------------------------------------------------------------

#[test]
fn after_an_app_restart_the_same_key_is_sent_and_unreadable_records_are_reported() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Contactless));
    let stored = sdk.stored.clone();
    let key = stored[0].offline_id.idempotency_key();

    let mut restarted = Sdk::with(sdk.engine.session().clone());
    restarted.events.clear();
    let unreadable = vec![UnreadableRecord {
        offline_id: Some(OfflineId("off_zz_000001".into())),
        amount: Some(usd(700)),
        reason: "authentication tag mismatch".into(),
    }];
    restarted.input(Input::Restored { pending: stored, unreadable });
    assert_eq!(restarted.count("offline.payment.unreadable"), 1);
    assert_eq!(restarted.engine.status().count, 1);
    restarted.network(true);
    restarted.give_token();
    let (_, request) = restarted.next_call();
    assert_eq!(request.idempotency_key, Some(key));
}

#[test]
fn offline_ids_differ_between_app_runs() {
    let session = online_session(OfflineConfig::enabled());
    let cards = Arc::new(TestCards::builtin().clone());
    let mut ids = Vec::new();
    for instance in ["run1", "run2"] {
        let engine = OfflineEngine::new(
            Holder::Pos,
            instance,
            session.clone(),
            cards.clone(),
            Timings::default(),
        );
        let mut sdk = Sdk::with(session.clone());
        sdk.engine = engine;
        sdk.input(Input::Restored { pending: Vec::new(), unreadable: Vec::new() });
        sdk.pay("p1", usd(100), card(VISA, EntryMode::Contactless));
        ids.push(sdk.stored[0].offline_id.clone());
    }
    assert_ne!(ids[0], ids[1]);
}

// --- online, and the fallback ---------------------------------------------------

#[test]
fn online_payments_are_created_and_confirmed_through_the_backend() {
    let mut sdk = Sdk::offline();
    sdk.network(true);
    sdk.create("p1", usd(1_000), OfflineBehavior::PreferOnline);
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_9", "requires_payment_method"));
    sdk.collect("p1", card(VISA, EntryMode::Contactless));
    sdk.confirm("p1");
    let (call, request) = sdk.next_call();
    assert!(
        matches!(request.request, ApiRequest::ConfirmPaymentIntent { ref intent, .. } if intent == "pi_9")
    );
    sdk.reply(call, intent_json("pi_9", "succeeded"));
    assert_eq!(sdk.count("payment.succeeded"), 1);
    assert!(sdk.stored.is_empty());
}

#[test]
fn a_confirm_that_times_out_falls_back_offline_and_keeps_the_intent_id() {
    // Incident ios-294: the flap went unnoticed; confirm fell back offline.
    let mut sdk = Sdk::offline();
    sdk.network(true);
    sdk.create("p1", usd(4_000), OfflineBehavior::PreferOnline);
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_9", "requires_payment_method"));
    sdk.collect("p1", card("4000000000009995", EntryMode::Contactless));
    sdk.confirm("p1");
    let _lost = sdk.next_call();
    sdk.advance(Duration::from_secs(15));
    assert_eq!(sdk.count("payment.fell_back_offline"), 1);
    assert_eq!(sdk.count("offline.payment.stored"), 1);
    assert_eq!(sdk.stored[0].intent_id.as_deref(), Some("pi_9"));

    // At forwarding the card declines: decline on sync, reported once.
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(
        call,
        ApiReply::Err(ApiError {
            status: 402,
            kind: ApiErrorKind::CardError,
            code: Some("card_declined".into()),
            decline_code: Some("insufficient_funds".into()),
            message: "Your card has insufficient funds.".into(),
            payment_intent: Some(json!({"id": "pi_9", "status": "requires_payment_method"})),
            param: None,
        }),
    );
    let forwarded = sdk.forwarded();
    assert_eq!(forwarded.len(), 1);
    let EventBody::PaymentForwarded { error: Some(error), intent, .. } = forwarded[0] else {
        panic!("{forwarded:?}")
    };
    assert_eq!(error.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(intent.as_deref(), Some("pi_9"));
}

#[test]
fn a_create_that_times_out_falls_back_to_an_offline_intent() {
    let mut sdk = Sdk::offline();
    sdk.network(true);
    sdk.create("p1", usd(1_000), OfflineBehavior::PreferOnline);
    sdk.advance(Duration::from_secs(15));
    sdk.collect("p1", card(VISA, EntryMode::Chip));
    sdk.confirm("p1");
    assert_eq!(sdk.count("offline.payment.stored"), 1);
    assert_eq!(sdk.stored[0].intent_id, None);
}

#[test]
fn force_offline_stores_while_online_and_forwards_in_the_background() {
    let mut sdk = Sdk::offline();
    sdk.network(true);
    sdk.create("p1", usd(1_000), OfflineBehavior::ForceOffline);
    sdk.collect("p1", card(VISA, EntryMode::Contactless));
    sdk.confirm("p1");
    assert_eq!(sdk.count("offline.payment.stored"), 1);
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

// --- every offline error code the engine produces (docs/domain.md §5) ------------

/// What a test case does before it looks for its code.
enum Case {
    /// Pay offline with this amount and card, on this configuration.
    Pay { config: OfflineConfig, amount: Money, card: CollectedCard },
    /// Create with a behaviour, on this session, with the network as given.
    Create { session: Session, behavior: OfflineBehavior, network_up: bool },
}

fn pay(amount: Money, number: &str, mode: EntryMode) -> Case {
    Case::Pay { config: OfflineConfig::enabled(), amount, card: card(number, mode) }
}

fn pay_with(config: OfflineConfig, number: &str, mode: EntryMode, pin: PinEntry) -> Case {
    let mut card = card(number, mode);
    card.pin = pin;
    Case::Pay { config, amount: usd(1_000), card }
}

#[rstest]
#[case::over_the_maximum(
    pay(usd(1_000_001), VISA, EntryMode::Chip),
    Code::AmountExceedsMaxOfflineAmount
)]
#[case::currency(pay(Money::new(1_000, "eur".parse().unwrap()), VISA, EntryMode::Chip), Code::InvalidOfflineCurrency)]
#[case::swipe(pay(usd(1_000), VISA, EntryMode::Swipe), Code::CardSwipeNotAvailable)]
#[case::interac(
    pay(usd(1_000), "4506445006931933", EntryMode::Chip),
    Code::InteracNotSupportedOffline
)]
#[case::girocard(
    pay(usd(1_000), "4711009900000316877", EntryMode::Chip),
    Code::OfflineTransactionDeclined
)]
#[case::expired(pay(usd(1_000), "4000000000000069", EntryMode::Chip), Code::OfflineAndCardExpired)]
#[case::online_pin(
    pay(usd(1_000), "4001000360000005", EntryMode::Chip),
    Code::OnlinePinNotSupportedOffline
)]
#[case::sca_retry(
    pay(usd(1_000), "4000002760000008", EntryMode::Contactless),
    Code::OnlinePinNotSupportedOffline
)]
#[case::offline_pin_missing(
    pay(usd(1_000), "4001007020000002", EntryMode::Chip),
    Code::OfflineTransactionDeclined
)]
#[case::wrong_pin(
    pay_with(OfflineConfig::enabled(), "4001007020000002", EntryMode::Chip, PinEntry::Wrong),
    Code::OfflineTransactionDeclined
)]
#[case::eea_tap(pay_with(OfflineConfig { eea: true, ..OfflineConfig::enabled() }, VISA, EntryMode::Contactless, PinEntry::NotEntered), Code::OfflineTransactionDeclined)]
#[case::unknown_card(pay(usd(1_000), "4111111111111111", EntryMode::Chip), Code::MissingEmvData)]
#[case::record_cap(Case::Pay { config: OfflineConfig { max_records: 0, ..OfflineConfig::enabled() }, amount: usd(1_000), card: card(VISA, EntryMode::Chip) }, Code::OfflinePaymentsDatabaseTooLarge)]
#[case::stored_amount_limit(Case::Pay { config: OfflineConfig { stored_amount_limit: [(Currency::USD, 999)].into(), ..OfflineConfig::enabled() }, amount: usd(1_000), card: card(VISA, EntryMode::Chip) }, Code::OfflinePaymentsDatabaseTooLarge)]
#[case::require_online(Case::Create { session: online_session(OfflineConfig::enabled()), behavior: OfflineBehavior::RequireOnline, network_up: false }, Code::NotConnectedToInternetAndRequireOnlineSet)]
#[case::force_offline_disabled(Case::Create { session: online_session(OfflineConfig::default()), behavior: OfflineBehavior::ForceOffline, network_up: true }, Code::ForceOfflineWithFeatureDisabled)]
#[case::offline_disabled(Case::Create { session: online_session(OfflineConfig::default()), behavior: OfflineBehavior::PreferOnline, network_up: false }, Code::NotConnectedToInternet)]
#[case::never_online(Case::Create { session: Session { config: Some(OfflineConfig::enabled()), ..Session::default() }, behavior: OfflineBehavior::PreferOnline, network_up: false }, Code::NoLastSeenAccount)]
fn each_offline_rule_refuses_with_its_documented_code(#[case] case: Case, #[case] code: Code) {
    let mut sdk;
    match case {
        Case::Pay { config, amount, card } => {
            sdk = Sdk::with(online_session(config));
            sdk.pay("p1", amount, card);
        }
        Case::Create { session, behavior, network_up } => {
            sdk = Sdk::with(session);
            sdk.network(network_up);
            sdk.create("p1", usd(1_000), behavior);
        }
    }
    assert_eq!(sdk.failure(), Some(code), "{:?}", sdk.names());
    assert!(sdk.stored.is_empty(), "a refused payment is never stored");
}

#[test]
fn missing_emv_data_is_refused() {
    let mut sdk = Sdk::offline();
    let mut read = card(VISA, EntryMode::Chip);
    read.emv_complete = false;
    sdk.pay("p1", usd(1_000), read);
    assert_eq!(sdk.failure(), Some(Code::MissingEmvData));
}

#[test]
fn a_card_collected_online_and_confirmed_offline_is_a_mismatch() {
    let mut sdk = Sdk::offline();
    sdk.network(true);
    sdk.create("p1", usd(1_000), OfflineBehavior::PreferOnline);
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_9", "requires_payment_method"));
    sdk.collect("p1", card(VISA, EntryMode::Chip));
    sdk.network(false);
    sdk.confirm("p1");
    assert_eq!(sdk.failure(), Some(Code::OfflineCollectAndConfirmMismatch));
}

#[test]
fn earlier_payments_stay_stored_when_the_cap_refuses_one() {
    let config = OfflineConfig { max_records: 2, ..OfflineConfig::enabled() };
    let mut sdk = Sdk::with(online_session(config));
    for i in 0..3 {
        sdk.pay(&format!("p{i}"), usd(100), card(VISA, EntryMode::Chip));
    }
    assert_eq!(sdk.failure(), Some(Code::OfflinePaymentsDatabaseTooLarge));
    assert_eq!(sdk.stored.len(), 2);
    assert_eq!(sdk.engine.status().count, 2);
}

#[test]
fn confirming_a_payment_already_stored_offline_is_not_found() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Chip));
    sdk.confirm("p1");
    let refused = sdk.events.iter().find_map(|(_, e)| match e {
        EventBody::SdkRequestRefused { code, .. } => Some(*code),
        _ => None,
    });
    assert_eq!(refused, Some(Code::OfflinePaymentIntentNotFound));
}

#[rstest]
#[case::account("account_id_mismatch", Code::AccountIdMismatchWhileForwarding)]
#[case::test_in_live(
    "offline_testmode_payment_in_livemode",
    Code::OfflineTestmodePaymentInLivemode
)]
#[case::live_in_test(
    "offline_livemode_payment_in_testmode",
    Code::OfflineLivemodePaymentInTestmode
)]
fn forwarding_mismatches_are_reported_once_with_their_code(
    #[case] api_code: &str,
    #[case] code: Code,
) {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Chip));
    sdk.network(true);
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(call, api_error(400, ApiErrorKind::InvalidRequestError, Some(api_code)));
    let forwarded = sdk.forwarded();
    assert_eq!(forwarded.len(), 1);
    let EventBody::PaymentForwarded { error: Some(error), .. } = forwarded[0] else { panic!() };
    assert_eq!(error.code, code.name());
    assert!(sdk.calls.is_empty());
}

#[test]
fn a_failing_token_provider_is_reported_as_a_forwarding_failure_and_retried() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Chip));
    sdk.network(true);
    let (call, _) = sdk.next_call();
    sdk.reply(call, api_error(500, ApiErrorKind::ApiError, None));
    let failure = sdk.events.iter().find_map(|(_, e)| match e {
        EventBody::ForwardingFailed { code, .. } => Some(*code),
        _ => None,
    });
    assert_eq!(failure, Some(Code::ConnectionTokenProviderErrorWhileForwarding));
    sdk.advance(Duration::from_secs(2));
    sdk.give_token();
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    assert_eq!(sdk.forwarded().len(), 1);
}

// --- connecting offline (docs/domain.md §2, incident android-602) ----------------

fn connect_offline(
    sdk: &mut Sdk,
    model: ReaderModel,
    location: &str,
    updated: Millis,
) -> Option<Code> {
    sdk.input(Input::ConnectReader {
        serial: "R1".into(),
        model,
        location: location.into(),
        software_updated_at: updated,
    });
    sdk.events.iter().find_map(|(_, e)| match e {
        EventBody::OfflineConnectRefused { code, .. } => Some(*code),
        _ => None,
    })
}

const DAY: u64 = 24 * 3600 * 1000;

#[rstest]
#[case::recent(ReaderModel::M2, "tml_1", 0, 0, 10, None)]
#[case::other_model(
    ReaderModel::Wisepad3,
    "tml_1",
    0,
    0,
    10,
    Some(Code::ReaderConnectionNotAvailableOffline)
)]
#[case::other_location(
    ReaderModel::M2,
    "tml_2",
    0,
    0,
    10,
    Some(Code::LocationConnectionNotAvailableOffline)
)]
#[case::too_long_ago(
    ReaderModel::M2,
    "tml_1",
    0,
    0,
    31,
    Some(Code::ReaderConnectionNotAvailableOffline)
)]
#[case::stale_software(
    ReaderModel::M2,
    "tml_1",
    60,
    30,
    61,
    Some(Code::ReaderConnectionNotAvailableOffline)
)]
fn offline_connects_follow_the_thirty_day_rules(
    #[case] model: ReaderModel,
    #[case] location: &str,
    #[case] online_day: u64,
    #[case] updated_day: u64,
    #[case] today: u64,
    #[case] code: Option<Code>,
) {
    let mut session = online_session(OfflineConfig::enabled());
    session.online_by_model.insert(ReaderModel::M2, Millis(online_day * DAY));
    session.online_by_location.insert("tml_1".into(), Millis(online_day * DAY));
    let mut sdk = Sdk::with(session);
    sdk.now = Millis(today * DAY);
    let updated = Millis(updated_day * DAY);
    assert_eq!(connect_offline(&mut sdk, model, location, updated), code);
}

#[test]
fn an_offline_connect_without_a_last_seen_account_is_refused() {
    let mut sdk = Sdk::with(Session::default());
    assert_eq!(
        connect_offline(&mut sdk, ReaderModel::M2, "tml_1", Millis(0)),
        Some(Code::NoLastSeenAccount)
    );
}

// --- smart readers --------------------------------------------------------------

#[test]
fn a_smart_reader_reports_its_status_to_the_pos_a_lag_later() {
    let cards = Arc::new(TestCards::builtin().clone());
    let holder = Holder::SmartReader { serial: "WPE-1".into() };
    let engine = OfflineEngine::new(
        holder,
        "r1",
        online_session(OfflineConfig::enabled()),
        cards,
        Timings::default(),
    );
    let mut sdk = Sdk::offline();
    sdk.engine = engine;
    sdk.input(Input::Restored { pending: Vec::new(), unreadable: Vec::new() });
    sdk.events.clear();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Chip));
    assert_eq!(sdk.count("offline.status.reported"), 0);
    sdk.advance(Duration::from_secs(59));
    assert_eq!(sdk.count("offline.status.reported"), 0);
    sdk.advance(Duration::from_secs(1));
    assert_eq!(sdk.count("offline.status.reported"), 1);
}

#[test]
fn no_event_carries_a_card_number() {
    let mut sdk = Sdk::offline();
    for (i, c) in TestCards::builtin().cards.iter().enumerate() {
        sdk.pay(&format!("p{i}"), usd(1_000), card(&c.number, EntryMode::Chip));
    }
    let history =
        serde_json::to_string(&sdk.events.iter().map(|(_, e)| e).collect::<Vec<_>>()).unwrap();
    for c in &TestCards::builtin().cards {
        assert!(!history.contains(&c.number[..12]), "{} leaked", &c.number[c.number.len() - 4..]);
    }
}

#[test]
fn a_second_create_with_a_name_in_use_is_refused_and_the_first_survives() {
    let mut sdk = Sdk::offline();
    sdk.create("p1", usd(1_000), OfflineBehavior::PreferOnline);
    sdk.create("p1", usd(2_000), OfflineBehavior::PreferOnline);
    assert_eq!(sdk.count("payment.request.refused"), 1);
    sdk.collect("p1", card(VISA, EntryMode::Chip));
    sdk.confirm("p1");
    assert_eq!(sdk.stored.len(), 1);
    assert_eq!(sdk.stored[0].amount, usd(1_000));
}

#[test]
fn a_mark_waiting_out_its_back_off_is_written_as_soon_as_the_network_returns() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_000), card(VISA, EntryMode::Chip));
    sdk.network(true);
    sdk.give_token();
    sdk.marks_fail = true;
    let (call, _) = sdk.next_call();
    sdk.reply(call, intent_json("pi_1", "succeeded"));
    sdk.marks_fail = false;
    sdk.network(false);
    sdk.network(true);
    assert_eq!(sdk.forwarded().len(), 1);
    assert!(sdk.calls.is_empty());
}

#[test]
fn a_stored_payment_carries_its_offline_details() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(1_234), card("5555555555554444", EntryMode::Contactless));
    let details = sdk
        .events
        .iter()
        .find_map(|(_, e)| match e {
            EventBody::OfflinePaymentStored { offline_details, intent: None, .. } => {
                Some(offline_details.clone())
            }
            _ => None,
        })
        .expect("stored without an intent id");
    assert!(details.requires_upload);
    assert_eq!(details.amount, usd(1_234));
    assert_eq!(details.card.last4, "4444");
    assert_eq!(details.entry_mode, EntryMode::Contactless);
    assert_eq!(details.stored_at, sdk.now);
}

#[test]
fn a_zero_amount_is_refused_before_anything_is_stored() {
    let mut sdk = Sdk::offline();
    sdk.pay("p1", usd(0), card(VISA, EntryMode::Chip));
    assert_eq!(sdk.failure(), Some(Code::InvalidRequiredParameter));
    assert!(sdk.stored.is_empty());
}
