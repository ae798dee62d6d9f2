//! The backend ledger through its public sans-IO interface: Stripe's object
//! shapes, `Idempotency-Key` semantics, every test card and amount ending
//! online and at forwarding (decline on sync), exactly-once forwarding under
//! retries, connection tokens, account and mode mismatches, and armed faults.

mod stripe_fixtures;

use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::backend::{
    ApiCall, ApiErrorKind, ApiReply, ApiRequest, ArmedFault, Backend, BackendConfig, ChargeStatus,
    CurrencyTotals, ForwardMatch, IntentStatus, PresentedCard, RequestKind,
};
use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{Currency, Millis, Money};
use readerlab_emulator::core::{PinEntry, TestCards};
use rstest::rstest;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use stripe_fixtures::{err, fixture, keys, ok};

const ACCOUNT: &str = "acct_readerlab0000001";
const VISA: &str = "4242424242424242";

// --- helpers ----------------------------------------------------------------

fn usd(amount: u64) -> Money {
    Money::new(amount, Currency::USD)
}

fn new_backend() -> Backend {
    Backend::new(BackendConfig::default())
}

fn call(token: Option<&str>, key: Option<&str>, request: ApiRequest) -> ApiCall {
    ApiCall { token: token.map(str::to_owned), idempotency_key: key.map(str::to_owned), request }
}

/// Mints a connection token at `now` and returns its secret.
fn token(backend: &mut Backend, now: Millis) -> String {
    let reply =
        backend.handle(now, call(None, None, ApiRequest::CreateConnectionToken { location: None }));
    ok(reply)["secret"].as_str().expect("a token has a secret").to_owned()
}

/// A payment stored offline in the default account, test mode.
fn stored(offline_id: &str, number: &str, amount: u64) -> StoredPayment {
    let card = TestCards::builtin().by_number(number).expect("a test card");
    StoredPayment {
        offline_id: OfflineId(offline_id.to_owned()),
        intent_id: None,
        amount: usd(amount),
        stored_at: Millis(5_000),
        card: StoredCard {
            number: number.into(),
            brand: card.brand,
            funding: card.funding,
            entry_mode: EntryMode::Chip,
            pin: PinEntry::NotEntered,
        },
        capture: CaptureMethod::Automatic,
        account: ACCOUNT.to_owned(),
        livemode: false,
        location: "tml_0001".to_owned(),
        reader: "STRM2-0001".to_owned(),
    }
}

/// Forwards `payment` as the SDK does: with its token and the key derived
/// from its offline id.
fn forward(backend: &mut Backend, now: Millis, token: &str, payment: &StoredPayment) -> ApiReply {
    let key = payment.offline_id.idempotency_key();
    let request = ApiRequest::ForwardOfflinePayment { payment: payment.clone() };
    backend.handle(now, call(Some(token), Some(&key), request))
}

fn events(backend: &mut Backend) -> Vec<EventBody> {
    std::iter::from_fn(|| backend.poll_event()).map(|(_, e)| e).collect()
}

fn names(events: &[EventBody]) -> Vec<String> {
    events.iter().map(EventBody::name).collect()
}

fn presented(number: &str, entry_mode: EntryMode, pin: PinEntry) -> PresentedCard {
    PresentedCard { number: number.into(), entry_mode, pin }
}

fn create_intent(backend: &mut Backend, amount: u64, capture: CaptureMethod) -> String {
    let reply = backend.handle(
        Millis(1_000),
        call(None, None, ApiRequest::CreatePaymentIntent { amount: usd(amount), capture }),
    );
    ok(reply)["id"].as_str().expect("an intent id").to_owned()
}

fn confirm(backend: &mut Backend, intent: &str, card: PresentedCard) -> ApiReply {
    let request = ApiRequest::ConfirmPaymentIntent { intent: intent.to_owned(), card };
    backend.handle(Millis(2_000), call(None, None, request))
}

/// What an authorization attempt should come to.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Approved,
    /// A 402 card error with this `code` and `decline_code`, after a failed charge.
    Declined(&'static str, &'static str),
    /// A 402 asking for a PIN with this decline code; no charge.
    PinAsked(&'static str),
}

fn outcome(backend: &Backend, reply: ApiReply) -> Expect {
    match reply {
        ApiReply::Ok(intent) => {
            assert_eq!(intent["status"], "succeeded", "{intent}");
            Expect::Approved
        }
        ApiReply::Err(error) => {
            assert_eq!((error.status, error.kind), (402, ApiErrorKind::CardError), "{error:?}");
            let intent = error.payment_intent.as_ref().expect("a card error carries the intent");
            assert_eq!(intent["status"], "requires_payment_method");
            let code = leak(error.code.expect("a card error has a code"));
            let decline = leak(error.decline_code.expect("a card error has a decline code"));
            let failed = backend.charges().any(|c| c.status == ChargeStatus::Failed);
            if failed { Expect::Declined(code, decline) } else { Expect::PinAsked(decline) }
        }
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

// --- object shapes ------------------------------------------------------------

fn repo_path(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Every key of `ours` exists in Stripe's object, and every key of
/// `required` exists in ours.
fn check_keys(what: &str, ours: &Value, stripes: &Value, required: &[&str]) {
    let (ours, stripes) = (keys(ours), keys(stripes));
    let extra: Vec<_> = ours.difference(&stripes).collect();
    assert!(extra.is_empty(), "{what}: keys Stripe's object does not have: {extra:?}");
    let missing: Vec<_> = required.iter().filter(|k| !ours.contains(**k)).collect();
    assert!(missing.is_empty(), "{what}: keys we lack: {missing:?}");
    for key in required {
        assert!(stripes.contains(*key), "{what}: `{key}` is not in the fixture; fix the test");
    }
}

/// A forwarded payment on a fresh backend: (intent JSON, charge JSON).
fn forwarded_objects(capture: CaptureMethod) -> (Value, Value, Backend) {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let mut payment = stored("off_app1_000001", VISA, 1_000);
    payment.capture = capture;
    let intent = ok(forward(&mut backend, Millis(60_000), &secret, &payment));
    let charge_id = intent["latest_charge"].as_str().expect("a charge").to_owned();
    let charge = backend.charge_json(&charge_id).expect("the charge exists");
    (intent, charge, backend)
}

#[test]
fn payment_intents_and_charges_have_stripes_keys() {
    let (intent, charge, _) = forwarded_objects(CaptureMethod::Automatic);
    check_keys(
        "payment_intent",
        &intent,
        &fixture("payment_intent"),
        &[
            "id",
            "object",
            "amount",
            "amount_capturable",
            "amount_received",
            "canceled_at",
            "cancellation_reason",
            "capture_method",
            "client_secret",
            "created",
            "currency",
            "last_payment_error",
            "latest_charge",
            "livemode",
            "metadata",
            "payment_method",
            "payment_method_types",
            "status",
        ],
    );
    let stripe_charge = fixture("charge");
    check_keys(
        "charge",
        &charge,
        &stripe_charge,
        &[
            "id",
            "object",
            "amount",
            "amount_captured",
            "amount_refunded",
            "captured",
            "created",
            "currency",
            "failure_code",
            "failure_message",
            "livemode",
            "metadata",
            "outcome",
            "paid",
            "payment_intent",
            "payment_method",
            "payment_method_details",
            "refunded",
            "status",
        ],
    );
    check_keys(
        "charge.outcome",
        &charge["outcome"],
        &stripe_charge["outcome"],
        &["network_status", "reason", "seller_message", "type"],
    );
    check_keys(
        "charge.billing_details.address",
        &charge["billing_details"]["address"],
        &stripe_charge["billing_details"]["address"],
        &["city", "country", "line1", "line2", "postal_code", "state"],
    );
    // The fixture's charge was paid by `card`, so `card_present` is checked
    // against the fields Stripe documents for `payment_method_details.card_present`.
    let documented: BTreeSet<String> = [
        "amount_authorized",
        "brand",
        "brand_product",
        "cardholder_name",
        "country",
        "description",
        "emv_auth_data",
        "exp_month",
        "exp_year",
        "fingerprint",
        "funding",
        "generated_card",
        "incremental_authorization_supported",
        "issuer",
        "last4",
        "network",
        "network_transaction_id",
        "offline",
        "overcapture_supported",
        "preferred_locales",
        "read_method",
        "receipt",
        "wallet",
    ]
    .map(str::to_owned)
    .into();
    let card_present = keys(&charge["payment_method_details"]["card_present"]);
    assert!(card_present.is_subset(&documented), "{card_present:?}");
    assert_eq!(charge["payment_method_details"]["type"], "card_present");
    assert_eq!(intent["payment_method_types"], serde_json::json!(["card_present"]));
}

#[test]
fn connection_tokens_have_stripes_keys() {
    let mut backend = new_backend();
    let request = ApiRequest::CreateConnectionToken { location: Some("tml_0001".into()) };
    let object = ok(backend.handle(Millis::ZERO, call(None, None, request)));
    // `location` is in Stripe's schema but absent from the fixture's example.
    let mut stripes = fixture("terminal.connection_token");
    stripes["location"] = Value::Null;
    check_keys("terminal.connection_token", &object, &stripes, &["object", "secret", "location"]);
    assert_eq!(object["object"], "terminal.connection_token");
    assert_eq!(object["location"], "tml_0001");
    assert!(object["secret"].as_str().unwrap().starts_with("pst_test_"), "{object}");
}

/// The vendored subset (docs/stripe-shapes.md) holds exactly the resources
/// the shape tests read, each an example of the object it is filed under, so
/// a careless edit of the file cannot leave a test comparing against nothing.
#[test]
fn the_vendored_fixtures_hold_each_resource_the_tests_read() {
    let text = std::fs::read_to_string(repo_path("fixtures/stripe/fixtures3-subset.json"))
        .expect("the vendored fixtures are readable");
    let all: Value = serde_json::from_str(&text).expect("the vendored fixtures are JSON");
    let resources = all["resources"].as_object().expect("a resources object");
    let mut names: Vec<&str> = resources.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "charge",
            "payment_intent",
            "terminal.configuration",
            "terminal.connection_token",
            "terminal.location",
            "terminal.reader"
        ]
    );
    for (name, object) in resources {
        assert_eq!(object["object"], name.as_str(), "{name}");
    }
}

#[test]
fn golden_forwarded_offline_charge() {
    let (intent, charge, mut backend) = forwarded_objects(CaptureMethod::Automatic);
    assert_eq!(intent["status"], "succeeded");
    let offline = &charge["payment_method_details"]["card_present"]["offline"];
    assert_eq!(offline["type"], "deferred");
    assert_eq!(offline["stored_at"], 1_700_000_005);
    insta::assert_json_snapshot!("forwarded_offline_charge", charge);
    insta::assert_json_snapshot!("forwarded_offline_intent", intent);
    let history: Vec<Value> =
        events(&mut backend).iter().map(|e| serde_json::to_value(e).unwrap()).collect();
    insta::assert_json_snapshot!("forwarded_offline_history", history);
}

// --- idempotency ----------------------------------------------------------------

/// What the first forward meets.
#[derive(Clone, Copy, Debug)]
enum First {
    Applied,
    ServerError,
    Declined,
}

/// The second call, with the same key.
#[derive(Clone, Copy, Debug)]
enum Second {
    Same,
    OtherAmount,
    OtherAccount,
}

#[rstest]
#[case::same_parameters_replay(First::Applied, Second::Same, 200, true, 1)]
#[case::a_saved_decline_replays(First::Declined, Second::Same, 402, true, 1)]
#[case::other_parameters_are_refused(First::Applied, Second::OtherAmount, 400, false, 1)]
#[case::a_server_error_is_not_saved(First::ServerError, Second::Same, 200, false, 1)]
#[case::keys_are_scoped_per_account(First::Applied, Second::OtherAccount, 200, false, 2)]
fn idempotency_keys(
    #[case] first: First,
    #[case] second: Second,
    #[case] second_status: u16,
    #[case] replayed: bool,
    #[case] charges: usize,
) {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let number = match first {
        First::Declined => "4000000000009995",
        First::Applied | First::ServerError => VISA,
    };
    let payment = stored("off_app1_000001", number, 1_000);
    if let First::ServerError = first {
        let fault = ArmedFault::HttpError { status: 503, only: None, times: 1 };
        backend.arm(Millis::ZERO, fault).unwrap();
    }
    let first_reply = forward(&mut backend, Millis(1_000), &secret, &payment);
    events(&mut backend);

    let (second_token, second_payment) = match second {
        Second::Same => (secret, payment),
        Second::OtherAmount => (secret, StoredPayment { amount: usd(2_000), ..payment }),
        Second::OtherAccount => {
            let fault = ArmedFault::TokensFor {
                account: "acct_other0000001".into(),
                livemode: false,
                times: Some(1),
            };
            backend.arm(Millis(1_500), fault).unwrap();
            let other = token(&mut backend, Millis(1_500));
            (other, StoredPayment { account: "acct_other0000001".into(), ..payment })
        }
    };
    let second_reply = forward(&mut backend, Millis(2_000), &second_token, &second_payment);
    let status = match &second_reply {
        ApiReply::Ok(_) => 200,
        ApiReply::Err(e) => e.status,
    };
    assert_eq!(status, second_status, "{second_reply:?}");
    let history = names(&events(&mut backend));
    assert_eq!(history.contains(&"backend.request.replayed".to_owned()), replayed, "{history:?}");
    if replayed {
        assert_eq!(second_reply, first_reply, "a replay is the very same reply");
        assert!(!history.iter().any(|n| n.starts_with("backend.charge.")), "{history:?}");
    }
    if let Second::OtherAmount = second {
        assert_eq!(err(second_reply).kind, ApiErrorKind::IdempotencyError);
    }
    assert_eq!(backend.charges().count(), charges);
}

#[rstest]
#[case::once(1)]
#[case::twice(2)]
#[case::five_times(5)]
fn a_payment_forwarded_k_times_with_its_key_is_charged_once(#[case] k: usize) {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let payment = stored("off_app1_000001", VISA, 1_000);
    let replies: Vec<ApiReply> = (0..k)
        .map(|i| forward(&mut backend, Millis(1_000 * (i as u64 + 1)), &secret, &payment))
        .collect();
    assert!(replies.windows(2).all(|w| w[0] == w[1]), "every retry gets the first reply");
    let charges: Vec<_> = backend.charges_for_offline(&payment.offline_id).collect();
    assert_eq!(charges.len(), 1);
    assert_eq!(backend.intents().count(), 1);
    let history = names(&events(&mut backend));
    let replays = history.iter().filter(|n| *n == "backend.request.replayed").count();
    assert_eq!(replays, k - 1);
}

#[test]
fn a_retry_with_a_refreshed_token_still_replays() {
    let mut backend = new_backend();
    let lifetime = backend.config().connection_token_lifetime;
    let old = token(&mut backend, Millis::ZERO);
    let payment = stored("off_app1_000001", VISA, 1_000);
    let first = forward(&mut backend, Millis(1_000), &old, &payment);
    // The response was lost; by the retry the token has expired.
    let later = Millis::ZERO + lifetime;
    let expired = err(forward(&mut backend, later, &old, &payment));
    assert_eq!((expired.status, expired.kind), (401, ApiErrorKind::AuthenticationError));
    let fresh = token(&mut backend, later);
    assert_eq!(forward(&mut backend, later, &fresh, &payment), first);
    assert_eq!(backend.charges().count(), 1);
}

#[test]
fn a_stored_payment_forwarded_again_after_its_key_expired_is_still_charged_once() {
    let config = BackendConfig {
        idempotency_key_lifetime: Duration::from_secs(60),
        connection_token_lifetime: Duration::from_secs(3_600),
        ..BackendConfig::default()
    };
    let mut backend = Backend::new(config);
    let secret = token(&mut backend, Millis::ZERO);
    let payment = stored("off_app1_000001", VISA, 1_000);
    let first = forward(&mut backend, Millis::ZERO, &secret, &payment);
    ok(first.clone());
    // Stripe forgets keys after their lifetime, but a stored payment may
    // wait days between an upload whose answer was lost and its retry: the
    // offline id, not the key, is what makes it one payment.
    let again = forward(&mut backend, Millis(60_000), &secret, &payment);
    assert_eq!(again, first);
    assert_eq!(backend.charges_for_offline(&payment.offline_id).count(), 1);
}

// --- outcomes: every test card, every amount ending ------------------------------

#[rstest]
#[case::visa(VISA, Expect::Approved, Expect::Approved)]
#[case::visa_debit("4000056655665556", Expect::Approved, Expect::Approved)]
#[case::mastercard("5555555555554444", Expect::Approved, Expect::Approved)]
#[case::mastercard_debit("5200828282828210", Expect::Approved, Expect::Approved)]
#[case::mastercard_prepaid("5105105105105100", Expect::Approved, Expect::Approved)]
#[case::amex("378282246310005", Expect::Approved, Expect::Approved)]
#[case::discover("6011111111111117", Expect::Approved, Expect::Approved)]
#[case::jcb("3566002020360505", Expect::Approved, Expect::Approved)]
#[case::unionpay("6200000000000005", Expect::Approved, Expect::Approved)]
// The backend authorizes whatever reaches it; refusing Interac and girocard
// offline is the SDK's rule (I6), checked before anything is stored.
#[case::interac("4506445006931933", Expect::Approved, Expect::Approved)]
#[case::girocard("4711009900000316877", Expect::Approved, Expect::Approved)]
#[case::offline_pin_cvm(
    "4001007020000002",
    Expect::PinAsked("offline_pin_required"),
    Expect::Declined("card_declined", "offline_pin_required")
)]
#[case::online_pin_cvm(
    "4001000360000005",
    Expect::PinAsked("online_or_offline_pin_required"),
    Expect::Declined("card_declined", "online_or_offline_pin_required")
)]
#[case::online_pin_sca_retry(
    "4000002760000008",
    Expect::PinAsked("online_or_offline_pin_required"),
    Expect::Declined("card_declined", "online_or_offline_pin_required")
)]
#[case::card_declined(
    "4000000000000002",
    Expect::Declined("card_declined", "generic_decline"),
    Expect::Declined("card_declined", "generic_decline")
)]
#[case::insufficient_funds(
    "4000000000009995",
    Expect::Declined("card_declined", "insufficient_funds"),
    Expect::Declined("card_declined", "insufficient_funds")
)]
#[case::lost_card(
    "4000000000009987",
    Expect::Declined("card_declined", "lost_card"),
    Expect::Declined("card_declined", "lost_card")
)]
#[case::stolen_card(
    "4000000000009979",
    Expect::Declined("card_declined", "stolen_card"),
    Expect::Declined("card_declined", "stolen_card")
)]
#[case::expired_card(
    "4000000000000069",
    Expect::Declined("expired_card", "expired_card"),
    Expect::Declined("expired_card", "expired_card")
)]
#[case::processing_error(
    "4000000000000119",
    Expect::Declined("processing_error", "processing_error"),
    Expect::Declined("processing_error", "processing_error")
)]
fn every_test_card_online_and_at_forwarding(
    #[case] number: &str,
    #[case] online: Expect,
    #[case] forwarded: Expect,
) {
    let mut backend = new_backend();
    let intent = create_intent(&mut backend, 1_000, CaptureMethod::Automatic);
    let reply =
        confirm(&mut backend, &intent, presented(number, EntryMode::Chip, PinEntry::NotEntered));
    assert_eq!(outcome(&backend, reply), online, "online");

    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let reply = forward(&mut backend, Millis(1_000), &secret, &stored("off_1", number, 1_000));
    assert_eq!(outcome(&backend, reply), forwarded, "forwarded");
}

#[rstest]
#[case::ending_00(1_000, Expect::Approved, Expect::Approved)]
#[case::ending_42(1_042, Expect::Approved, Expect::Approved)]
#[case::ending_01(
    1_001,
    Expect::Declined("card_declined", "call_issuer"),
    Expect::Declined("card_declined", "call_issuer")
)]
#[case::ending_02(
    1_002,
    Expect::PinAsked("offline_pin_required"),
    Expect::Declined("card_declined", "offline_pin_required")
)]
#[case::ending_03(
    1_003,
    Expect::PinAsked("online_or_offline_pin_required"),
    Expect::Declined("card_declined", "online_or_offline_pin_required")
)]
#[case::ending_05(
    1_005,
    Expect::Declined("card_declined", "generic_decline"),
    Expect::Declined("card_declined", "generic_decline")
)]
#[case::ending_55(
    1_055,
    Expect::Declined("card_declined", "incorrect_pin"),
    Expect::Declined("card_declined", "incorrect_pin")
)]
#[case::ending_65(
    1_065,
    Expect::Declined("card_declined", "withdrawal_count_limit_exceeded"),
    Expect::Declined("card_declined", "withdrawal_count_limit_exceeded")
)]
#[case::ending_75(
    1_075,
    Expect::Declined("card_declined", "pin_try_exceeded"),
    Expect::Declined("card_declined", "pin_try_exceeded")
)]
fn every_amount_ending_online_and_at_forwarding(
    #[case] amount: u64,
    #[case] online: Expect,
    #[case] forwarded: Expect,
) {
    let mut backend = new_backend();
    let intent = create_intent(&mut backend, amount, CaptureMethod::Automatic);
    let reply = confirm(
        &mut backend,
        &intent,
        presented(VISA, EntryMode::Contactless, PinEntry::NotEntered),
    );
    assert_eq!(outcome(&backend, reply), online, "online");

    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let reply = forward(&mut backend, Millis(1_000), &secret, &stored("off_1", VISA, amount));
    assert_eq!(outcome(&backend, reply), forwarded, "forwarded");
}

#[test]
fn a_pin_entered_on_the_reader_offline_satisfies_the_issuer_at_forwarding() {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let mut payment = stored("off_1", "4001007020000002", 1_002);
    payment.card.pin = PinEntry::Correct;
    let intent = ok(forward(&mut backend, Millis(1_000), &secret, &payment));
    assert_eq!(intent["status"], "succeeded");
}

#[test]
fn a_pin_request_online_then_the_pin_approves_with_one_charge() {
    let mut backend = new_backend();
    let intent = create_intent(&mut backend, 1_000, CaptureMethod::Automatic);
    let card = |pin| presented("4001007020000002", EntryMode::Chip, pin);
    let asked = err(confirm(&mut backend, &intent, card(PinEntry::NotEntered)));
    assert_eq!(asked.decline_code.as_deref(), Some("offline_pin_required"));
    let approved = ok(confirm(&mut backend, &intent, card(PinEntry::Correct)));
    assert_eq!(approved["status"], "succeeded");
    assert_eq!(approved["last_payment_error"], Value::Null);
    assert_eq!(backend.charges().count(), 1);
}

// --- the online flow ----------------------------------------------------------

#[test]
fn manual_capture_waits_for_capture_and_cancel_releases_the_authorization() {
    let mut backend = new_backend();
    let captured = create_intent(&mut backend, 1_000, CaptureMethod::Manual);
    let authorized = ok(confirm(
        &mut backend,
        &captured,
        presented(VISA, EntryMode::Chip, PinEntry::NotEntered),
    ));
    assert_eq!(
        (authorized["status"].as_str(), authorized["amount_capturable"].as_u64()),
        (Some("requires_capture"), Some(1_000))
    );
    let request = ApiRequest::CapturePaymentIntent { intent: captured.clone() };
    let done = ok(backend.handle(Millis(3_000), call(None, None, request.clone())));
    assert_eq!(
        (done["status"].as_str(), done["amount_received"].as_u64()),
        (Some("succeeded"), Some(1_000))
    );
    let again = err(backend.handle(Millis(3_000), call(None, None, request)));
    assert_eq!(again.code.as_deref(), Some("payment_intent_unexpected_state"));

    let released = create_intent(&mut backend, 2_000, CaptureMethod::Manual);
    ok(confirm(&mut backend, &released, presented(VISA, EntryMode::Chip, PinEntry::NotEntered)));
    let cancel = ApiRequest::CancelPaymentIntent { intent: released.clone() };
    let canceled = ok(backend.handle(Millis(4_000), call(None, None, cancel.clone())));
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["canceled_at"], 1_700_000_004);
    let twice = err(backend.handle(Millis(4_000), call(None, None, cancel)));
    assert_eq!(
        (twice.status, twice.code.as_deref()),
        (400, Some("payment_intent_unexpected_state"))
    );

    let totals = backend.totals();
    assert_eq!(
        totals.get(&Currency::USD),
        Some(&CurrencyTotals { succeeded: 1_000, captured: 1_000, declined: 0 })
    );
    let history = names(&events(&mut backend));
    assert!(history.contains(&"backend.payment_intent.captured".to_owned()), "{history:?}");
    assert!(history.contains(&"backend.payment_intent.canceled".to_owned()), "{history:?}");
}

#[rstest]
#[case::confirm(ApiRequest::ConfirmPaymentIntent {
    intent: "pi_nope".into(),
    card: presented(VISA, EntryMode::Chip, PinEntry::NotEntered),
})]
#[case::capture(ApiRequest::CapturePaymentIntent { intent: "pi_nope".into() })]
#[case::cancel(ApiRequest::CancelPaymentIntent { intent: "pi_nope".into() })]
#[case::retrieve(ApiRequest::RetrievePaymentIntent { intent: "pi_nope".into() })]
#[case::retrieve_charge(ApiRequest::RetrieveCharge { charge: "ch_nope".into() })]
#[case::forward_with_unknown_intent(ApiRequest::ForwardOfflinePayment {
    payment: StoredPayment { intent_id: Some("pi_nope".into()), ..stored("off_1", VISA, 1_000) },
})]
fn unknown_ids_are_resource_missing(#[case] request: ApiRequest) {
    let mut backend = new_backend();
    let error = err(backend.handle(Millis::ZERO, call(None, None, request)));
    assert_eq!(
        (error.status, error.kind, error.code.as_deref()),
        (404, ApiErrorKind::InvalidRequestError, Some("resource_missing"))
    );
    assert_eq!(backend.charges().count(), 0);
}

#[test]
fn an_intent_created_online_and_confirmed_offline_keeps_its_id() {
    let mut backend = new_backend();
    let id = create_intent(&mut backend, 1_000, CaptureMethod::Manual);
    let secret = token(&mut backend, Millis::ZERO);
    let payment = StoredPayment { intent_id: Some(id.clone()), ..stored("off_1", VISA, 1_000) };
    let intent = ok(forward(&mut backend, Millis(5_000), &secret, &payment));
    assert_eq!(
        (intent["id"].as_str(), intent["status"].as_str()),
        (Some(id.as_str()), Some("requires_capture"))
    );
    assert_eq!(intent["metadata"]["offline_id"], "off_1");
    assert_eq!(backend.intents().count(), 1);
    assert_eq!(backend.intent(&id).map(|i| i.status), Some(IntentStatus::RequiresCapture));
}

// --- tokens, accounts and modes ---------------------------------------------------

#[rstest]
#[case::unknown_token(Some("pst_test_unknown"), Duration::ZERO, None)]
#[case::expired_token(None, Duration::from_secs(600), Some("api_key_expired"))]
fn calls_with_an_unknown_or_expired_token_get_401(
    #[case] given: Option<&str>,
    #[case] after: Duration,
    #[case] code: Option<&str>,
) {
    let mut backend = new_backend();
    let minted = token(&mut backend, Millis::ZERO);
    let secret = given.map_or(minted, str::to_owned);
    let at = Millis::ZERO + after;
    let reply = forward(&mut backend, at, &secret, &stored("off_1", VISA, 1_000));
    let error = err(reply);
    assert_eq!(
        (error.status, error.kind, error.code.as_deref()),
        (401, ApiErrorKind::AuthenticationError, code)
    );
    assert!(error.is_retryable());
    assert_eq!(backend.intents().count(), 0);
}

#[test]
fn a_token_works_until_just_before_its_lifetime_ends() {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let just_before = Millis(600_000 - 1);
    ok(forward(&mut backend, just_before, &secret, &stored("off_1", VISA, 1_000)));
}

#[rstest]
#[case::other_account("acct_other0000001", false, false, "account_id_mismatch")]
#[case::test_payment_in_live_mode(ACCOUNT, true, false, "offline_testmode_payment_in_livemode")]
#[case::live_payment_in_test_mode(ACCOUNT, false, true, "offline_livemode_payment_in_testmode")]
fn forwards_to_another_account_or_mode_are_refused_and_not_saved(
    #[case] token_account: &str,
    #[case] token_livemode: bool,
    #[case] payment_livemode: bool,
    #[case] code: &str,
) {
    let mut backend = new_backend();
    let fault = ArmedFault::TokensFor {
        account: token_account.into(),
        livemode: token_livemode,
        times: Some(1),
    };
    backend.arm(Millis::ZERO, fault).unwrap();
    let wrong = token(&mut backend, Millis::ZERO);
    let payment = StoredPayment { livemode: payment_livemode, ..stored("off_1", VISA, 1_000) };
    let error = err(forward(&mut backend, Millis(1_000), &wrong, &payment));
    assert_eq!(
        (error.status, error.kind, error.code.as_deref()),
        (400, ApiErrorKind::InvalidRequestError, Some(code))
    );
    assert_eq!(backend.intents().count(), 0);
    // Nothing was saved under the key: once the mode fits, the same key runs.
    if !payment_livemode {
        let right = token(&mut backend, Millis(2_000));
        ok(forward(&mut backend, Millis(2_000), &right, &payment));
        assert_eq!(backend.charges().count(), 1);
    }
}

// --- faults -------------------------------------------------------------------

#[test]
fn decline_on_sync_for_the_next_n_forwards() {
    let mut backend = new_backend();
    let fault = ArmedFault::DeclineOnSync {
        when: ForwardMatch::Any,
        decline_code: "insufficient_funds".into(),
        times: Some(2),
    };
    backend.arm(Millis::ZERO, fault).unwrap();
    let secret = token(&mut backend, Millis::ZERO);
    let outcomes: Vec<Option<String>> = (1..=3)
        .map(|i| {
            let payment = stored(&format!("off_{i}"), VISA, 1_000);
            match forward(&mut backend, Millis(1_000), &secret, &payment) {
                ApiReply::Ok(_) => None,
                ApiReply::Err(e) => e.decline_code,
            }
        })
        .collect();
    assert_eq!(
        outcomes,
        [Some("insufficient_funds".to_owned()), Some("insufficient_funds".to_owned()), None]
    );
    assert_eq!(backend.armed_faults().count(), 0);
    let history = names(&events(&mut backend));
    assert_eq!(history.iter().filter(|n| *n == "backend.fault.fired").count(), 2);
    assert_eq!(
        backend.offline_totals().get(&Currency::USD),
        Some(&CurrencyTotals { succeeded: 1_000, captured: 1_000, declined: 2_000 })
    );
}

#[rstest]
#[case::by_last4(ForwardMatch::CardLast4 { last4: "4444".into() })]
#[case::by_amount(ForwardMatch::Amount { amount: usd(1_234) })]
fn decline_on_sync_by_card_or_amount(#[case] when: ForwardMatch) {
    let mut backend = new_backend();
    let fault =
        ArmedFault::DeclineOnSync { when, decline_code: "expired_card".into(), times: None };
    backend.arm(Millis::ZERO, fault).unwrap();
    let secret = token(&mut backend, Millis::ZERO);
    let hit = stored("off_hit", "5555555555554444", 1_234);
    let miss = stored("off_miss", VISA, 1_000);
    let error = err(forward(&mut backend, Millis(1_000), &secret, &hit));
    assert_eq!(
        (error.code.as_deref(), error.decline_code.as_deref()),
        (Some("expired_card"), Some("expired_card"))
    );
    ok(forward(&mut backend, Millis(1_000), &secret, &miss));
    assert_eq!(backend.armed_faults().count(), 1, "a fault without a count stays armed");
}

#[test]
fn connection_token_provider_failure_for_the_next_n_creations() {
    let mut backend = new_backend();
    backend.arm(Millis::ZERO, ArmedFault::TokenProviderFailure { times: 2 }).unwrap();
    let request = || call(None, None, ApiRequest::CreateConnectionToken { location: None });
    for _ in 0..2 {
        let error = err(backend.handle(Millis::ZERO, request()));
        assert_eq!((error.status, error.kind), (500, ApiErrorKind::ApiError));
    }
    ok(backend.handle(Millis::ZERO, request()));
}

#[rstest]
#[case::server_error(503, ApiErrorKind::ApiError)]
#[case::rate_limited(429, ApiErrorKind::RateLimitError)]
fn an_http_error_then_success_with_the_same_key_charges_once(
    #[case] status: u16,
    #[case] kind: ApiErrorKind,
) {
    let mut backend = new_backend();
    let secret = token(&mut backend, Millis::ZERO);
    let only = Some(RequestKind::ForwardOfflinePayment);
    backend.arm(Millis::ZERO, ArmedFault::HttpError { status, only, times: 2 }).unwrap();
    let payment = stored("off_1", VISA, 1_000);
    for _ in 0..2 {
        let error = err(forward(&mut backend, Millis(1_000), &secret, &payment));
        assert_eq!((error.status, error.kind), (status, kind));
        assert_eq!(backend.intents().count(), 0, "nothing is applied before the fault answers");
    }
    ok(forward(&mut backend, Millis(2_000), &secret, &payment));
    ok(forward(&mut backend, Millis(3_000), &secret, &payment));
    assert_eq!(backend.charges_for_offline(&payment.offline_id).count(), 1);
}

#[test]
fn clearing_disarms_every_fault() {
    let mut backend = new_backend();
    backend.arm(Millis::ZERO, ArmedFault::TokenProviderFailure { times: 5 }).unwrap();
    backend.clear_faults(Millis(1));
    token(&mut backend, Millis(2));
    let history = names(&events(&mut backend));
    assert_eq!(
        history,
        ["backend.fault.armed", "backend.faults.cleared", "backend.connection_token.created"]
    );
}

// --- history ----------------------------------------------------------------------

#[test]
fn histories_never_carry_a_full_card_number_and_repeat_exactly() {
    let run = || {
        let mut backend = new_backend();
        let secret = token(&mut backend, Millis::ZERO);
        let mut lines = Vec::new();
        for (i, card) in TestCards::builtin().cards.iter().enumerate() {
            let payment = stored(&format!("off_{i:02}"), &card.number, 1_000 + i as u64);
            let reply = forward(&mut backend, Millis(1_000), &secret, &payment);
            lines.push(format!("{reply:?}"));
            let intent = create_intent(&mut backend, 2_000, CaptureMethod::Automatic);
            let reply = confirm(
                &mut backend,
                &intent,
                presented(&card.number, EntryMode::Chip, PinEntry::NotEntered),
            );
            lines.push(format!("{reply:?}"));
        }
        for event in events(&mut backend) {
            lines.push(serde_json::to_string(&event).unwrap());
        }
        lines
    };
    let lines = run();
    assert_eq!(lines, run(), "the same calls give the same replies and history");
    let text = lines.join("\n");
    for card in &TestCards::builtin().cards {
        assert!(!text.contains(&card.number[..12]), "{} leaked", card.last4());
    }
}
