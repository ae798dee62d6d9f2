//! The backend's Stripe Terminal side through its sans-IO interface, with
//! the test playing the shell: shapes against the vendored Stripe fixtures,
//! registration by simulated code and running out of rig readers, the
//! reader-action lifecycle (process, present a card, confirm, finish),
//! cancel, refusals (offline, busy, wrong intent state), the account-default
//! configuration's command, lists, and idempotent replay of Terminal requests.

mod stripe_fixtures;

use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::backend::{
    ActionResult, Address, ApiCall, ApiReply, ApiRequest, Backend, BackendConfig, ListParams,
    PresentedCard, ReaderCommand,
};
use readerlab_emulator::core::offline::CaptureMethod;
use readerlab_emulator::core::{CardNumber, PinEntry};
use readerlab_emulator::core::{Currency, Millis, Money};
use readerlab_emulator::core::{EntryMode, ReaderModel};
use serde_json::Value;
use std::collections::BTreeMap;
use stripe_fixtures::{err, fixture, keys, ok};

const NOW: Millis = Millis(1_000);

fn rig() -> Backend {
    let mut backend = Backend::new(BackendConfig::default());
    backend.add_rig_reader("S700-0001", ReaderModel::S700);
    backend.add_rig_reader("S700-0002", ReaderModel::S700);
    backend.add_rig_reader("WPE-0001", ReaderModel::WiseposE);
    backend
}

fn run(backend: &mut Backend, key: Option<&str>, request: ApiRequest) -> ApiReply {
    backend.handle(NOW, ApiCall { token: None, idempotency_key: key.map(str::to_owned), request })
}

fn location(backend: &mut Backend) -> String {
    let request = ApiRequest::CreateLocation {
        display_name: "Shop".into(),
        address: Address {
            line1: Some("1 Main St".into()),
            city: Some("San Francisco".into()),
            country: "US".into(),
            postal_code: Some("94110".into()),
            state: Some("CA".into()),
            line2: None,
        },
    };
    ok(run(backend, None, request))["id"].as_str().unwrap().to_owned()
}

fn register(backend: &mut Backend, code: &str) -> ApiReply {
    let location = location(backend);
    let request = ApiRequest::RegisterReader {
        registration_code: code.into(),
        location: Some(location),
        label: None,
    };
    run(backend, None, request)
}

fn intent(backend: &mut Backend, amount: u64, capture: CaptureMethod) -> String {
    let request =
        ApiRequest::CreatePaymentIntent { amount: Money::new(amount, Currency::USD), capture };
    ok(run(backend, None, request))["id"].as_str().unwrap().to_owned()
}

fn process(backend: &mut Backend, reader: &str, intent: &str) -> ApiReply {
    let request = ApiRequest::ProcessPaymentIntent {
        reader: reader.into(),
        intent: intent.into(),
        process_config: serde_json::Map::new(),
    };
    run(backend, None, request)
}

fn present(backend: &mut Backend, reader: &str, number: Option<&str>) -> ApiReply {
    let request =
        ApiRequest::PresentPaymentMethod { reader: reader.into(), number: number.map(Into::into) };
    run(backend, None, request)
}

fn commands(backend: &mut Backend) -> Vec<ReaderCommand> {
    std::iter::from_fn(|| backend.poll_reader_command()).collect()
}

/// The shell's part: confirm the intent with the presented card through the
/// ledger, then report the reader's result.
fn shell_confirms(backend: &mut Backend, serial: &str, intent: &str, number: CardNumber) {
    let card =
        PresentedCard { number, entry_mode: EntryMode::Contactless, pin: PinEntry::NotEntered };
    let reply =
        run(backend, None, ApiRequest::ConfirmPaymentIntent { intent: intent.into(), card });
    let result = match reply {
        ApiReply::Ok(_) => ActionResult::Succeeded,
        ApiReply::Err(error) => {
            ActionResult::Failed { code: error.code.unwrap_or_default(), message: error.message }
        }
    };
    backend.finish_reader_action(NOW, serial, result);
}

fn retrieve(backend: &mut Backend, reader: &str) -> Value {
    ok(run(backend, None, ApiRequest::RetrieveReader { reader: reader.into() }))
}

fn events(backend: &mut Backend) -> Vec<EventBody> {
    std::iter::from_fn(|| backend.poll_event()).map(|(_, e)| e).collect()
}

// --- shapes -----------------------------------------------------------------

/// Ours has exactly Stripe's keys, but for `also` (documented keys the
/// fixture example happens to lack) and `absent` (fixture keys we omit).
fn same_keys(what: &str, ours: &Value, stripes: &Value, also: &[&str]) {
    let mut expected = keys(stripes);
    expected.extend(also.iter().map(|k| (*k).to_owned()));
    assert_eq!(keys(ours), expected, "{what}");
}

#[test]
fn terminal_objects_have_stripes_keys() {
    let mut backend = rig();
    let reader = ok(register(&mut backend, "simulated-s700"));
    same_keys("terminal.reader", &reader, &fixture("terminal.reader"), &[]);
    let location = backend.locations().next().unwrap().id.clone();
    let location = ok(run(&mut backend, None, ApiRequest::RetrieveLocation { location }));
    same_keys("terminal.location", &location, &fixture("terminal.location"), &[]);
    assert_eq!(
        keys(&location["address"]),
        keys(&fixture("terminal.location")["address"]),
        "address"
    );
    let configuration = ok(run(
        &mut backend,
        None,
        ApiRequest::RetrieveConfiguration { configuration: "tmc_0000000000000001".into() },
    ));
    // The fixture's example configures a WisePOS E splash screen instead of
    // offline mode; `offline` is a documented key of the object.
    let mut stripes = fixture("terminal.configuration");
    stripes.as_object_mut().unwrap().remove("bbpos_wisepos_e");
    same_keys("terminal.configuration", &configuration, &stripes, &["offline"]);
    assert_eq!(configuration["is_account_default"], true);
    assert_eq!(configuration["offline"]["enabled"], false);
}

// --- registration -------------------------------------------------------------

#[test]
fn registration_binds_rig_readers_in_order_until_none_is_left() {
    let mut backend = rig();
    let first = ok(register(&mut backend, "simulated-s700"));
    assert!(first["id"].as_str().unwrap().starts_with("tmr_"));
    assert_eq!(first["object"], "terminal.reader");
    assert_eq!(first["device_type"], "stripe_s700");
    assert_eq!(first["serial_number"], "S700-0001");
    assert_eq!(first["status"], "online");
    assert_eq!(first["action"], Value::Null);
    assert_eq!(first["livemode"], false);
    assert!(first["location"].as_str().unwrap().starts_with("tml_"));
    let second = ok(register(&mut backend, "simulated-s700"));
    assert_eq!(second["serial_number"], "S700-0002");
    let wpe = ok(register(&mut backend, "simulated-wpe"));
    assert_eq!(wpe["device_type"], "bbpos_wisepos_e");

    let none_left = err(register(&mut backend, "simulated-s700"));
    assert_eq!(none_left.status, 400);
    assert!(none_left.message.contains("s700"), "{}", none_left.message);
    assert!(none_left.message.contains("rig file"), "{}", none_left.message);

    let bad = err(register(&mut backend, "puppies-plug-fun"));
    assert_eq!(bad.status, 400);
    assert!(bad.message.contains("invalid"), "{}", bad.message);

    // Deleting frees the rig reader for another registration.
    let id = first["id"].as_str().unwrap().to_owned();
    let deleted = ok(run(&mut backend, None, ApiRequest::DeleteReader { reader: id.clone() }));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(err(run(&mut backend, None, ApiRequest::RetrieveReader { reader: id })).status, 404);
    let again = ok(register(&mut backend, "simulated-s700"));
    assert_eq!(again["serial_number"], "S700-0001");

    let names: Vec<String> = events(&mut backend).iter().map(EventBody::name).collect();
    assert!(names.contains(&"backend.reader.registered".to_owned()), "{names:?}");
    assert!(names.contains(&"backend.reader.deleted".to_owned()), "{names:?}");
}

#[test]
fn the_status_follows_the_rigs_internet() {
    let mut backend = rig();
    let reader = ok(register(&mut backend, "simulated-wpe"))["id"].as_str().unwrap().to_owned();
    backend.set_reader_online("WPE-0001", false);
    assert_eq!(retrieve(&mut backend, &reader)["status"], "offline");
    let pi = intent(&mut backend, 1_000, CaptureMethod::Automatic);
    let offline = err(process(&mut backend, &reader, &pi));
    assert_eq!(offline.code.as_deref(), Some("terminal_reader_offline"));
    backend.set_reader_online("WPE-0001", true);
    assert_eq!(retrieve(&mut backend, &reader)["status"], "online");
}

// --- actions ------------------------------------------------------------------

#[test]
fn an_action_runs_from_process_to_the_shells_result() {
    let mut backend = rig();
    let reader = ok(register(&mut backend, "simulated-s700"))["id"].as_str().unwrap().to_owned();
    let pi = intent(&mut backend, 1_500, CaptureMethod::Automatic);
    let started = ok(process(&mut backend, &reader, &pi));
    assert_eq!(started["action"]["type"], "process_payment_intent");
    assert_eq!(started["action"]["status"], "in_progress");
    assert_eq!(started["action"]["process_payment_intent"]["payment_intent"], pi.as_str());
    assert_eq!(started["action"]["failure_code"], Value::Null);
    assert_eq!(
        commands(&mut backend),
        [ReaderCommand::Process {
            serial: "S700-0001".into(),
            intent: pi.clone(),
            amount: Money::new(1_500, Currency::USD),
            capture: CaptureMethod::Automatic,
            payment: None,
        }]
    );
    // Busy while in progress.
    let other = intent(&mut backend, 100, CaptureMethod::Automatic);
    assert_eq!(
        err(process(&mut backend, &reader, &other)).code.as_deref(),
        Some("terminal_reader_busy")
    );

    ok(present(&mut backend, &reader, None));
    let [ReaderCommand::PresentCard { serial, number, entry_mode }] = &commands(&mut backend)[..]
    else {
        panic!("one card presented");
    };
    assert_eq!(number.as_str(), "4242424242424242");
    assert_eq!(*entry_mode, EntryMode::Contactless);
    shell_confirms(&mut backend, serial, &pi, number.clone());
    let done = retrieve(&mut backend, &reader);
    assert_eq!(done["action"]["status"], "succeeded");
    assert_eq!(backend.intent(&pi).unwrap().status.as_str(), "succeeded");

    // A finished action leaves the reader free; the helper needs an action.
    assert_eq!(err(present(&mut backend, &reader, None)).status, 400);
    let events = events(&mut backend);
    let finished = events
        .iter()
        .find(|e| e.name() == "backend.reader.action.finished")
        .expect("the action's end is recorded");
    let json = serde_json::to_string(finished).unwrap();
    assert!(json.contains("succeeded") && !json.contains("4242424242424242"), "{json}");
}

#[test]
fn a_declined_card_fails_the_action_and_the_intent_waits_for_another() {
    for (number, code, decline) in [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000000069", "expired_card", "expired_card"),
    ] {
        let mut backend = rig();
        let reader =
            ok(register(&mut backend, "simulated-s700"))["id"].as_str().unwrap().to_owned();
        let pi = intent(&mut backend, 2_000, CaptureMethod::Automatic);
        ok(process(&mut backend, &reader, &pi));
        ok(present(&mut backend, &reader, Some(number)));
        let _ = commands(&mut backend);
        shell_confirms(&mut backend, "S700-0001", &pi, number.into());
        let action = retrieve(&mut backend, &reader)["action"].clone();
        assert_eq!(action["status"], "failed", "{number}");
        assert_eq!(action["failure_code"], code, "{number}");
        let pi_json = backend.intent_json(&pi).unwrap();
        assert_eq!(pi_json["status"], "requires_payment_method");
        assert_eq!(pi_json["last_payment_error"]["decline_code"], decline);
        // The intent can be processed again.
        ok(process(&mut backend, &reader, &pi));
    }
}

#[test]
fn cancel_action_fails_the_action_and_tells_the_reader() {
    let mut backend = rig();
    let reader = ok(register(&mut backend, "simulated-s700"))["id"].as_str().unwrap().to_owned();
    let pi = intent(&mut backend, 1_000, CaptureMethod::Manual);
    ok(process(&mut backend, &reader, &pi));
    let _ = commands(&mut backend);
    let canceled =
        ok(run(&mut backend, None, ApiRequest::CancelReaderAction { reader: reader.clone() }));
    assert_eq!(canceled["action"]["status"], "failed");
    assert_eq!(canceled["action"]["failure_code"], "canceled");
    assert_eq!(commands(&mut backend), [ReaderCommand::Cancel { serial: "S700-0001".into() }]);
    // A late result from the reader does not revive it.
    backend.finish_reader_action(NOW, "S700-0001", ActionResult::Succeeded);
    assert_eq!(retrieve(&mut backend, &reader)["action"]["status"], "failed");
    // Nothing to cancel now.
    assert_eq!(err(run(&mut backend, None, ApiRequest::CancelReaderAction { reader })).status, 400);
}

#[test]
fn only_an_intent_awaiting_a_payment_method_can_be_processed() {
    let mut backend = rig();
    let reader = ok(register(&mut backend, "simulated-s700"))["id"].as_str().unwrap().to_owned();
    let pi = intent(&mut backend, 1_000, CaptureMethod::Automatic);
    ok(run(&mut backend, None, ApiRequest::CancelPaymentIntent { intent: pi.clone() }));
    let error = err(process(&mut backend, &reader, &pi));
    assert_eq!(error.code.as_deref(), Some("payment_intent_unexpected_state"));
    let missing = err(process(&mut backend, &reader, "pi_nope"));
    assert_eq!((missing.status, missing.code.as_deref()), (404, Some("resource_missing")));
    assert_eq!(err(process(&mut backend, "tmr_nope", "pi_nope")).status, 404);
}

// --- configurations -------------------------------------------------------------

#[test]
fn changing_the_account_defaults_offline_mode_configures_the_rig() {
    let mut backend = rig();
    backend.set_default_offline(true);
    assert!(commands(&mut backend).is_empty(), "the rig sets its own start");
    let update = |enabled| ApiRequest::UpdateConfiguration {
        configuration: "tmc_0000000000000001".into(),
        name: None,
        offline_enabled: Some(enabled),
    };
    let same = ok(run(&mut backend, None, update(true)));
    assert_eq!(same["offline"]["enabled"], true);
    assert!(commands(&mut backend).is_empty(), "no change, no command");
    ok(run(&mut backend, None, update(false)));
    assert_eq!(commands(&mut backend), [ReaderCommand::Configure { offline_enabled: false }]);
    assert!(!backend.default_offline());

    let created = ok(run(
        &mut backend,
        None,
        ApiRequest::CreateConfiguration { name: Some("Kiosk".into()), offline_enabled: Some(true) },
    ));
    assert_eq!(created["is_account_default"], false);
    assert!(commands(&mut backend).is_empty(), "another configuration is not the readers'");
    let list =
        ok(run(&mut backend, None, ApiRequest::ListConfigurations { page: ListParams::default() }));
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(list["data"][0]["id"], created["id"]);
}

// --- lists and intents --------------------------------------------------------------

#[test]
fn intents_list_newest_first_and_echo_description_and_metadata() {
    let mut backend = rig();
    let first = intent(&mut backend, 100, CaptureMethod::Automatic);
    let described = ok(run(
        &mut backend,
        None,
        ApiRequest::CreateDescribedPaymentIntent {
            amount: Money::new(200, Currency::USD),
            capture: CaptureMethod::Manual,
            description: Some("Coffee".into()),
            metadata: BTreeMap::from([("order".to_owned(), "42".to_owned())]),
        },
    ));
    assert_eq!(described["description"], "Coffee");
    assert_eq!(described["metadata"]["order"], "42");
    let page = |limit, after: Option<&str>| ApiRequest::ListPaymentIntents {
        page: ListParams { limit, starting_after: after.map(str::to_owned), ending_before: None },
    };
    let list = ok(run(&mut backend, None, page(Some(1), None)));
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/payment_intents");
    assert_eq!(list["data"][0]["id"], described["id"]);
    assert_eq!(list["has_more"], true);
    let rest = ok(run(&mut backend, None, page(Some(1), described["id"].as_str())));
    assert_eq!(rest["data"][0]["id"], first.as_str());
    assert_eq!(rest["has_more"], false);
    let error = err(run(&mut backend, None, page(Some(101), None)));
    assert_eq!(error.param.as_deref().map(String::as_str), Some("limit"));
    let charges =
        ok(run(&mut backend, None, ApiRequest::ListCharges { page: ListParams::default() }));
    assert_eq!(charges["data"], Value::Array(vec![]));
}

// --- idempotency ------------------------------------------------------------------

#[test]
fn terminal_requests_replay_under_their_idempotency_key() {
    let mut backend = rig();
    let location = location(&mut backend);
    let register = ApiRequest::RegisterReader {
        registration_code: "simulated-s700".into(),
        location: Some(location),
        label: Some("Front".into()),
    };
    let first = ok(run(&mut backend, Some("reg-1"), register.clone()));
    let again = ok(run(&mut backend, Some("reg-1"), register));
    assert_eq!(first, again);
    assert_eq!(backend.registered_readers().count(), 1, "the replay registered nothing");
    let reader = first["id"].as_str().unwrap().to_owned();
    let pi = intent(&mut backend, 1_000, CaptureMethod::Automatic);
    let request = ApiRequest::ProcessPaymentIntent {
        reader: reader.clone(),
        intent: pi,
        process_config: serde_json::Map::from_iter([(
            "skip_tipping".to_owned(),
            Value::Bool(true),
        )]),
    };
    let started = ok(run(&mut backend, Some("proc-1"), request.clone()));
    assert_eq!(started["action"]["process_payment_intent"]["process_config"]["skip_tipping"], true);
    assert_eq!(ok(run(&mut backend, Some("proc-1"), request)), started);
    assert_eq!(commands(&mut backend).len(), 1, "a replay sends the reader nothing");
    let other = ApiRequest::CancelReaderAction { reader };
    let mismatch = err(run(&mut backend, Some("proc-1"), other));
    assert_eq!(mismatch.kind, readerlab_emulator::core::backend::ApiErrorKind::IdempotencyError);
}
