//! The wire codecs: Stripe's form encoding round-trips and never panics on
//! arbitrary bytes; every request the devices send round-trips through
//! `encode_request` and `decode_request`, and so do the Terminal requests;
//! replies round-trip through `encode_reply` and `decode_reply`; and the
//! refusals a Stripe client meets (401, 404, unknown and malformed
//! parameters) have Stripe's shapes.

use proptest::prelude::*;
use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::backend::{
    Address, ApiCall, ApiError, ApiErrorKind, ApiReply, ApiRequest, ListParams, PresentedCard,
};
use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{Brand, CardNumber, Funding, PinEntry};
use readerlab_emulator::core::{Currency, Millis, Money};
use readerlab_emulator::wire::form::{Form, FormValue, encode_form, parse_form};
use readerlab_emulator::wire::stripe::{
    HttpRequest, decode_reply, decode_request, encode_reply, encode_request,
};
use serde_json::json;
use std::collections::BTreeMap;

const SECRET: &str = "sk_test_readerlab";

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn round_trip(call: &ApiCall) -> Result<ApiCall, ApiError> {
    let http = encode_request(call, SECRET);
    decode_request(
        &http.method,
        &http.path_and_query,
        header(&http, "Authorization"),
        header(&http, "Idempotency-Key"),
        &http.body,
        SECRET,
    )
}

fn decode(method: &str, path: &str, auth: Option<&str>, body: &str) -> Result<ApiCall, ApiError> {
    decode_request(method, path, auth, None, body.as_bytes(), SECRET)
}

const BEARER: Option<&str> = Some("Bearer sk_test_readerlab");

// --- form ---------------------------------------------------------------------

fn form_value() -> impl Strategy<Value = FormValue> {
    let leaf = any::<String>().prop_map(FormValue::Text);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map("[a-z_][a-z0-9_]{0,6}", inner.clone(), 1..4)
                .prop_map(FormValue::Map),
            prop::collection::vec(inner, 1..4).prop_map(FormValue::List),
        ]
    })
}

fn form() -> impl Strategy<Value = Form> {
    prop::collection::btree_map("[a-z_][a-z0-9_]{0,8}", form_value(), 0..5)
}

proptest! {
    #[test]
    fn forms_round_trip(form in form()) {
        let encoded = encode_form(&form);
        prop_assert_eq!(parse_form(encoded.as_bytes()), Ok(form));
    }

    #[test]
    fn arbitrary_bytes_parse_or_name_a_parameter(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_form(&bytes);
    }

    #[test]
    fn arbitrary_requests_never_panic(
        method in prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
        path in "/v1/[a-z_/%0-9\\[\\]?=&]{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode_request(method, &path, BEARER, None, &body, SECRET);
    }
}

// --- device requests round-trip ---------------------------------------------------

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_./ %+-]{1,24}"
}

fn money() -> impl Strategy<Value = Money> {
    (1..1_000_000_u64, prop_oneof![Just("usd"), Just("eur"), Just("cad")])
        .prop_map(|(amount, c)| Money::new(amount, c.parse::<Currency>().unwrap()))
}

fn capture() -> impl Strategy<Value = CaptureMethod> {
    prop_oneof![Just(CaptureMethod::Automatic), Just(CaptureMethod::Manual)]
}

fn entry() -> impl Strategy<Value = EntryMode> {
    prop_oneof![Just(EntryMode::Contactless), Just(EntryMode::Chip), Just(EntryMode::Swipe)]
}

fn pin() -> impl Strategy<Value = PinEntry> {
    prop_oneof![Just(PinEntry::NotEntered), Just(PinEntry::Correct), Just(PinEntry::Wrong)]
}

fn stored_payment() -> impl Strategy<Value = StoredPayment> {
    (id(), prop::option::of(id()), money(), any::<u32>(), "[0-9]{13,19}", entry(), pin(), capture())
        .prop_map(|(offline, intent, amount, at, number, entry_mode, pin, capture)| StoredPayment {
            offline_id: OfflineId(offline),
            intent_id: intent,
            amount,
            stored_at: Millis(u64::from(at)),
            card: StoredCard {
                number: CardNumber::from(number),
                brand: Brand::Visa,
                funding: Funding::Credit,
                entry_mode,
                pin,
            },
            capture,
            account: "acct_readerlab0000001".into(),
            livemode: false,
            location: "tml_0001".into(),
            reader: "S700-0001".into(),
        })
}

fn device_request() -> impl Strategy<Value = ApiRequest> {
    prop_oneof![
        prop::option::of(id()).prop_map(|location| ApiRequest::CreateConnectionToken { location }),
        (money(), capture())
            .prop_map(|(amount, capture)| ApiRequest::CreatePaymentIntent { amount, capture }),
        (id(), "[0-9]{13,19}", entry(), pin()).prop_map(|(intent, number, entry_mode, pin)| {
            ApiRequest::ConfirmPaymentIntent {
                intent,
                card: PresentedCard { number: number.into(), entry_mode, pin },
            }
        }),
        id().prop_map(|intent| ApiRequest::CapturePaymentIntent { intent }),
        id().prop_map(|intent| ApiRequest::CancelPaymentIntent { intent }),
        id().prop_map(|intent| ApiRequest::RetrievePaymentIntent { intent }),
        id().prop_map(|charge| ApiRequest::RetrieveCharge { charge }),
        stored_payment().prop_map(|payment| ApiRequest::ForwardOfflinePayment { payment }),
    ]
}

proptest! {
    #[test]
    fn every_device_request_round_trips(
        request in device_request(),
        token in prop::option::of("pst_test_[0-9]{12}"),
        key in prop::option::of("[ -~]{1,40}"),
    ) {
        let call = ApiCall { token, idempotency_key: key, request };
        prop_assert_eq!(round_trip(&call), Ok(call));
    }

    #[test]
    fn replies_round_trip(
        status in prop_oneof![Just(400_u16), Just(401), Just(402), Just(404), Just(429), Just(500)],
        code in prop::option::of("[a-z_]{1,20}"),
        decline in prop::option::of("[a-z_]{1,20}"),
        param in prop::option::of("[a-z_\\[\\]]{1,20}"),
        message in any::<String>(),
        ok in any::<bool>(),
    ) {
        let reply = if ok {
            ApiReply::Ok(json!({"id": "pi_1", "object": "payment_intent", "message": message}))
        } else {
            ApiReply::Err(ApiError {
                status,
                kind: ApiErrorKind::InvalidRequestError,
                code,
                decline_code: decline,
                message,
                payment_intent: None,
                param: param.map(Box::new),
            })
        };
        let (status, body) = encode_reply(&reply);
        prop_assert_eq!(decode_reply(status, &body), reply);
    }
}

#[test]
fn every_terminal_and_list_request_round_trips() {
    let page =
        ListParams { limit: Some(3), starting_after: Some("pi_1".into()), ending_before: None };
    let requests = [
        ApiRequest::CreateDescribedPaymentIntent {
            amount: Money::new(1_000, Currency::USD),
            capture: CaptureMethod::Manual,
            description: Some("A & B = c".into()),
            metadata: BTreeMap::from([("order id".to_owned(), "7/8".to_owned())]),
        },
        ApiRequest::ListPaymentIntents { page: page.clone() },
        ApiRequest::ListCharges { page: ListParams::default() },
        ApiRequest::CreateLocation {
            display_name: "Shop #1".into(),
            address: Address {
                line1: Some("1 Main St".into()),
                line2: None,
                city: Some("Zürich".into()),
                country: "CH".into(),
                postal_code: Some("8001".into()),
                state: None,
            },
        },
        ApiRequest::RetrieveLocation { location: "tml_1".into() },
        ApiRequest::ListLocations { page: page.clone() },
        ApiRequest::CreateConfiguration { name: Some("Kiosk".into()), offline_enabled: Some(true) },
        ApiRequest::CreateConfiguration { name: None, offline_enabled: None },
        ApiRequest::UpdateConfiguration {
            configuration: "tmc_1".into(),
            name: None,
            offline_enabled: Some(false),
        },
        ApiRequest::RetrieveConfiguration { configuration: "tmc_1".into() },
        ApiRequest::ListConfigurations { page: page.clone() },
        ApiRequest::RegisterReader {
            registration_code: "simulated-s700".into(),
            location: Some("tml_1".into()),
            label: Some("Front desk".into()),
        },
        ApiRequest::RetrieveReader { reader: "tmr_1".into() },
        ApiRequest::ListReaders { page },
        ApiRequest::DeleteReader { reader: "tmr_1".into() },
        ApiRequest::ProcessPaymentIntent {
            reader: "tmr_1".into(),
            intent: "pi_1".into(),
            process_config: serde_json::from_value(
                json!({"skip_tipping": true, "tipping": {"amount_eligible": 500}}),
            )
            .unwrap(),
        },
        ApiRequest::CancelReaderAction { reader: "tmr_1".into() },
        ApiRequest::PresentPaymentMethod { reader: "tmr_1".into(), number: None },
        ApiRequest::PresentPaymentMethod {
            reader: "tmr_1".into(),
            number: Some("4000000000000002".into()),
        },
    ];
    for request in requests {
        let call = ApiCall { token: None, idempotency_key: Some("k".into()), request };
        assert_eq!(round_trip(&call), Ok(call.clone()), "{call:?}");
    }
}

// --- what stripe-python sends -------------------------------------------------------

#[test]
fn stripe_python_requests_decode() {
    let body = "amount=1000&currency=usd&payment_method_types[0]=card_present&capture_method=manual\
                &metadata[order]=42&description=Coffee";
    let call = decode("POST", "/v1/payment_intents", BEARER, body).unwrap();
    assert_eq!(call.token, None);
    let ApiRequest::CreateDescribedPaymentIntent { amount, capture, description, metadata } =
        call.request
    else {
        panic!("{:?}", call.request);
    };
    assert_eq!(amount, Money::new(1_000, Currency::USD));
    assert_eq!(capture, CaptureMethod::Manual);
    assert_eq!(description.as_deref(), Some("Coffee"));
    assert_eq!(metadata["order"], "42");

    let list = decode("GET", "/v1/payment_intents?limit=3", BEARER, "").unwrap();
    assert_eq!(
        list.request,
        ApiRequest::ListPaymentIntents {
            page: ListParams { limit: Some(3), starting_after: None, ending_before: None }
        }
    );
    let present = decode(
        "POST",
        "/v1/test_helpers/terminal/readers/tmr_1/present_payment_method",
        BEARER,
        "type=card_present&card_present[number]=4000000000009995&amount_tip=100",
    )
    .unwrap();
    assert_eq!(
        present.request,
        ApiRequest::PresentPaymentMethod {
            reader: "tmr_1".into(),
            number: Some("4000000000009995".into())
        }
    );
    let plus = decode("GET", "/v1/charges/ch_a+b", BEARER, "").unwrap();
    assert_eq!(plus.request, ApiRequest::RetrieveCharge { charge: "ch_a+b".into() });
    let token = decode("GET", "/v1/payment_intents/pi_1", Some("Bearer pst_test_1"), "").unwrap();
    assert_eq!(token.token.as_deref(), Some("pst_test_1"));
}

// --- refusals -----------------------------------------------------------------

#[test]
fn a_wrong_or_missing_key_is_a_401_that_masks_the_key() {
    let wrong = decode("GET", "/v1/charges", Some("Bearer sk_test_wrongkey1234"), "").unwrap_err();
    assert_eq!((wrong.status, wrong.kind), (401, ApiErrorKind::AuthenticationError));
    assert_eq!(wrong.message, "Invalid API Key provided: sk_test_********1234");
    let missing = decode("GET", "/v1/charges", None, "").unwrap_err();
    assert_eq!(missing.status, 401);
    assert!(missing.message.contains("did not provide an API key"), "{}", missing.message);
    let (status, body) = encode_reply(&ApiReply::Err(wrong));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "authentication_error");
}

#[test]
fn unknown_urls_and_parameters_are_refused_as_stripe_does() {
    let unknown = decode("POST", "/v1/widgets", BEARER, "").unwrap_err();
    assert_eq!((unknown.status, unknown.code.as_deref()), (404, Some("resource_missing")));
    assert!(unknown.message.starts_with("Unrecognized request URL (POST: /v1/widgets)"));
    let wrong_method = decode("DELETE", "/v1/payment_intents/pi_1", BEARER, "").unwrap_err();
    assert_eq!(wrong_method.status, 404);

    let extra = decode("POST", "/v1/payment_intents", BEARER, "amount=1&currency=usd&x=1");
    let extra = extra.unwrap_err();
    assert_eq!((extra.status, extra.code.as_deref()), (400, Some("parameter_unknown")));
    assert_eq!(extra.message, "Received unknown parameter: x");
    let nested = decode(
        "POST",
        "/v1/terminal/locations",
        BEARER,
        "display_name=a&address[country]=US&address[planet]=earth",
    )
    .unwrap_err();
    assert_eq!(nested.message, "Received unknown parameter: address[planet]");

    let bad = decode("POST", "/v1/payment_intents", BEARER, "amount=ten&currency=usd");
    let bad = bad.unwrap_err();
    assert_eq!((bad.status, bad.code.as_deref()), (400, Some("parameter_invalid_integer")));
    assert_eq!(bad.param.as_deref().map(String::as_str), Some("amount"));
    let missing = decode("POST", "/v1/payment_intents", BEARER, "currency=usd").unwrap_err();
    assert_eq!(missing.code.as_deref(), Some("parameter_missing"));

    let malformed = decode("POST", "/v1/payment_intents", BEARER, "amount[=1").unwrap_err();
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.param.as_deref().map(String::as_str), Some("amount["));
}

#[test]
fn a_malformed_forward_never_echoes_the_card_number() {
    let body = r#"{"offline_id": "off_1", "card": {"number": 4242424242424242}}"#;
    let error = decode("POST", "/v1/readerlab/offline_payments", BEARER, body).unwrap_err();
    assert_eq!(error.status, 400);
    assert!(!error.message.contains("4242"), "{}", error.message);
}
