//! The Stripe-compatible router over real loopback HTTP: a test host (a
//! `Mutex<Backend>` on a wall clock) serves it, and a raw HTTP/1.1 client
//! drives it as a Stripe library would. The test also plays the shell for
//! reader commands, confirming through the devices' own call path
//! (`encode_request` → HTTP → router → `decode_reply`).

use readerlab_emulator::core::Millis;
use readerlab_emulator::core::PinEntry;
use readerlab_emulator::core::backend::{
    ActionResult, ApiCall, ApiReply, ApiRequest, Backend, BackendConfig, PresentedCard,
    ReaderCommand,
};
use readerlab_emulator::core::{EntryMode, ReaderModel};
use readerlab_emulator::serve::stripe::{BackendHost, router};
use readerlab_emulator::wire::stripe::{HttpRequest, decode_reply, encode_request};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk_test_readerlab";

struct TestHost {
    backend: Mutex<Backend>,
    started: Instant,
}

impl TestHost {
    fn now(&self) -> Millis {
        Millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn commands(&self) -> Vec<ReaderCommand> {
        let mut backend = self.backend.lock().unwrap();
        std::iter::from_fn(|| backend.poll_reader_command()).collect()
    }

    fn finish(&self, serial: &str, result: ActionResult) {
        let now = self.now();
        self.backend.lock().unwrap().finish_reader_action(now, serial, result);
    }
}

impl BackendHost for TestHost {
    fn call(&self, call: ApiCall) -> ApiReply {
        let now = self.now();
        self.backend.lock().unwrap().handle(now, call)
    }

    fn secret_key(&self) -> String {
        KEY.to_owned()
    }
}

async fn serve() -> (SocketAddr, Arc<TestHost>) {
    let mut backend = Backend::new(BackendConfig::default());
    backend.add_rig_reader("S700-0001", ReaderModel::S700);
    let host = Arc::new(TestHost { backend: Mutex::new(backend), started: Instant::now() });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Arc::clone(&host) as Arc<dyn BackendHost>);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, host)
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    json: Value,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange on a fresh connection.
async fn send(addr: SocketAddr, request: &HttpRequest) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head =
        format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", request.method, request.path_and_query);
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&request.body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": ").map(|(n, v)| (n.to_owned(), v.to_owned())))
        .collect();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Response { status, headers, json, body }
}

/// A request as a Stripe library sends it, with the secret key.
fn stripe(method: &str, path: &str, body: &str, key: Option<&str>) -> HttpRequest {
    let mut headers = vec![
        ("Authorization".to_owned(), format!("Bearer {KEY}")),
        ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
        ("Stripe-Version".to_owned(), "2026-01-28.clover".to_owned()),
        ("X-Stripe-Client-User-Agent".to_owned(), "{}".to_owned()),
    ];
    if let Some(key) = key {
        headers.push(("Idempotency-Key".to_owned(), key.to_owned()));
    }
    HttpRequest {
        method: method.to_owned(),
        path_and_query: path.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// A Stripe client's POST with the test key.
async fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    send(addr, &stripe("POST", path, body, None)).await
}

async fn device(addr: SocketAddr, call: ApiCall) -> ApiReply {
    let response = send(addr, &encode_request(&call, KEY)).await;
    decode_reply(response.status, &response.body)
}

#[tokio::test]
async fn a_wrong_key_is_a_stripe_401_and_a_malformed_form_a_400() {
    let (addr, _host) = serve().await;
    let mut request = stripe("GET", "/v1/payment_intents", "", None);
    request.headers[0].1 = "Bearer sk_test_nottherightone".to_owned();
    let response = send(addr, &request).await;
    assert_eq!(response.status, 401);
    assert_eq!(response.json["error"]["type"], "authentication_error");
    assert!(response.json["error"]["message"].as_str().unwrap().starts_with("Invalid API Key"));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response.header("request-id").unwrap().starts_with("req_"));

    let response =
        send(addr, &stripe("POST", "/v1/payment_intents", "amount=1&amount[x]=2", None)).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json["error"]["type"], "invalid_request_error");
    assert_eq!(response.json["error"]["param"], "amount[x]");

    let response = send(addr, &stripe("GET", "/v1/nothing", "", None)).await;
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn intents_are_created_retrieved_listed_and_replayed_by_key() {
    let (addr, _host) = serve().await;
    let body = "amount=1000&currency=usd&payment_method_types[0]=card_present";
    let created = send(addr, &stripe("POST", "/v1/payment_intents", body, Some("k1"))).await;
    assert_eq!(created.status, 200, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let again = send(addr, &stripe("POST", "/v1/payment_intents", body, Some("k1"))).await;
    assert_eq!(again.json["id"], id.as_str());
    let changed = "amount=2000&currency=usd&payment_method_types[0]=card_present";
    let mismatch = send(addr, &stripe("POST", "/v1/payment_intents", changed, Some("k1"))).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.json["error"]["type"], "idempotency_error");

    let retrieved =
        send(addr, &stripe("GET", &format!("/v1/payment_intents/{id}"), "", None)).await;
    assert_eq!(retrieved.json["status"], "requires_payment_method");
    let list = send(addr, &stripe("GET", "/v1/payment_intents?limit=5", "", None)).await;
    assert_eq!(list.json["object"], "list");
    assert_eq!(list.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_reader_processes_an_intent_the_shell_confirms_over_http() {
    let (addr, host) = serve().await;
    let location = post(
        addr,
        "/v1/terminal/locations",
        "display_name=Shop&address[line1]=1+Main+St&address[city]=SF&address[country]=US\
             &address[postal_code]=94110&address[state]=CA",
    )
    .await;
    assert_eq!(location.status, 200, "{}", location.json);
    let location = location.json["id"].as_str().unwrap().to_owned();
    let reader = post(
        addr,
        "/v1/terminal/readers",
        &format!("registration_code=simulated-s700&location={location}&label=Front"),
    )
    .await;
    assert_eq!(reader.status, 200, "{}", reader.json);
    assert_eq!(reader.json["device_type"], "stripe_s700");
    let reader = reader.json["id"].as_str().unwrap().to_owned();
    let intent =
        post(addr, "/v1/payment_intents", "amount=1500&currency=usd&capture_method=manual").await;
    let intent = intent.json["id"].as_str().unwrap().to_owned();

    let process = post(
        addr,
        &format!("/v1/terminal/readers/{reader}/process_payment_intent"),
        &format!("payment_intent={intent}&process_config[skip_tipping]=true"),
    )
    .await;
    assert_eq!(process.status, 200, "{}", process.json);
    assert_eq!(process.json["action"]["status"], "in_progress");
    let present = post(
        addr,
        &format!("/v1/test_helpers/terminal/readers/{reader}/present_payment_method"),
        "type=card_present&card_present[number]=4242424242424242",
    )
    .await;
    assert_eq!(present.status, 200, "{}", present.json);

    // The shell: the reader got the intent and the card; it mints a
    // connection token and confirms as a device does, over HTTP.
    let commands = host.commands();
    let [ReaderCommand::Process { serial, .. }, ReaderCommand::PresentCard { number, .. }] =
        &commands[..]
    else {
        panic!("{commands:?}");
    };
    let token = device(
        addr,
        ApiCall {
            token: None,
            idempotency_key: None,
            request: ApiRequest::CreateConnectionToken { location: Some(location) },
        },
    )
    .await;
    let ApiReply::Ok(token) = token else { panic!("{token:?}") };
    let confirm = ApiCall {
        token: Some(token["secret"].as_str().unwrap().to_owned()),
        idempotency_key: Some("confirm-1".into()),
        request: ApiRequest::ConfirmPaymentIntent {
            intent: intent.clone(),
            card: PresentedCard {
                number: number.clone(),
                entry_mode: EntryMode::Contactless,
                pin: PinEntry::NotEntered,
            },
        },
    };
    let confirmed = device(addr, confirm).await;
    let ApiReply::Ok(confirmed) = confirmed else { panic!("{confirmed:?}") };
    assert_eq!(confirmed["status"], "requires_capture");
    host.finish(serial, ActionResult::Succeeded);

    let after =
        send(addr, &stripe("GET", &format!("/v1/terminal/readers/{reader}"), "", None)).await;
    assert_eq!(after.json["action"]["status"], "succeeded");
    assert_eq!(
        after.json["action"]["process_payment_intent"]["process_config"]["skip_tipping"],
        true
    );
    let captured =
        send(addr, &stripe("POST", &format!("/v1/payment_intents/{intent}/capture"), "", None))
            .await;
    assert_eq!(captured.json["status"], "succeeded");
    let charges = send(addr, &stripe("GET", "/v1/charges", "", None)).await;
    assert_eq!(charges.json["data"][0]["payment_intent"], intent.as_str());
}

#[tokio::test]
async fn a_form_nested_past_the_depth_limit_is_a_400_and_the_server_lives_on() {
    let (addr, _host) = serve().await;
    // ~45 KB: 15,000 levels of brackets, in a body and in a query string.
    let deep = format!("metadata{}=1", "[a]".repeat(15_000));
    let body = format!("amount=1000&currency=usd&{deep}");
    let response = send(addr, &stripe("POST", "/v1/payment_intents", &body, None)).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert_eq!(response.json["error"]["type"], "invalid_request_error");
    let param = response.json["error"]["param"].as_str().unwrap();
    assert!(param.starts_with("metadata[a][a]"), "{param}");
    assert!(param.len() < 1000, "the error names the parameter, shortened: {}", param.len());
    assert!(response.json["error"]["message"].as_str().unwrap().contains("32"));
    let response =
        send(addr, &stripe("GET", &format!("/v1/payment_intents?{deep}"), "", None)).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert_eq!(response.json["error"]["type"], "invalid_request_error");

    // 32 levels are fine as far as the form goes.
    let ok = format!("limit=1&x{}=1", "[a]".repeat(32));
    let response = send(addr, &stripe("GET", &format!("/v1/payment_intents?{ok}"), "", None)).await;
    assert_eq!(response.json["error"]["code"], "parameter_unknown", "{}", response.json);

    // More than 1,000 parameters.
    let many: Vec<String> = (0..1001).map(|i| format!("metadata[k{i}]=v")).collect();
    let body = format!("amount=1000&currency=usd&{}", many.join("&"));
    let response = send(addr, &stripe("POST", "/v1/payment_intents", &body, None)).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert_eq!(response.json["error"]["type"], "invalid_request_error");
    assert!(response.json["error"]["message"].as_str().unwrap().contains("1000"));

    // Still serving.
    let list = send(addr, &stripe("GET", "/v1/payment_intents", "", None)).await;
    assert_eq!(list.status, 200, "{}", list.json);
}

#[tokio::test]
async fn amounts_beyond_stripes_maximum_are_refused_naming_amount() {
    let (addr, _host) = serve().await;
    for amount in ["18446744073709551615", "100000000"] {
        let body = format!("amount={amount}&currency=usd");
        let response = send(addr, &stripe("POST", "/v1/payment_intents", &body, None)).await;
        assert_eq!(response.status, 400, "{amount}: {}", response.json);
        assert_eq!(response.json["error"]["type"], "invalid_request_error");
        assert_eq!(response.json["error"]["code"], "amount_too_large", "{}", response.json);
        assert_eq!(response.json["error"]["param"], "amount");
    }
    let response = send(
        addr,
        &stripe("POST", "/v1/payment_intents", "amount=18446744073709551616&currency=usd", None),
    )
    .await;
    assert_eq!(response.json["error"]["code"], "parameter_invalid_integer", "{}", response.json);
    assert_eq!(response.json["error"]["param"], "amount");
    let response =
        send(addr, &stripe("POST", "/v1/payment_intents", "amount=99999999&currency=usd", None))
            .await;
    assert_eq!(response.status, 200, "{}", response.json);
    assert_eq!(response.json["amount"], 99_999_999);
    // A forwarded payment is held to the same range.
    let forwarded = r#"{"offline_id":"off_x_000001","intent_id":null,"amount":{"amount":18446744073709551615,"currency":"usd"},"stored_at":0,"card":{"number":"4242424242424242","brand":"visa","funding":"credit","entry_mode":"contactless","pin":"not_entered"},"capture":"automatic","account":"acct_x","livemode":false,"location":"","reader":""}"#;
    let mut request = stripe("POST", "/v1/readerlab/offline_payments", forwarded, None);
    request.headers[1].1 = "application/json".to_owned();
    let response = send(addr, &request).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert_eq!(response.json["error"]["code"], "amount_too_large", "{}", response.json);
}

#[tokio::test]
async fn idempotency_keys_and_ids_longer_than_255_characters_are_refused() {
    let (addr, _host) = serve().await;
    let body = "amount=1000&currency=usd";
    let long = "k".repeat(256);
    let response = send(addr, &stripe("POST", "/v1/payment_intents", body, Some(&long))).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert_eq!(response.json["error"]["type"], "invalid_request_error");
    assert!(response.json["error"]["message"].as_str().unwrap().contains("255"));
    let ok = send(addr, &stripe("POST", "/v1/payment_intents", body, Some(&long[..255]))).await;
    assert_eq!(ok.status, 200, "{}", ok.json);

    let path = format!("/v1/payment_intents/pi_{}", "x".repeat(300));
    let response = send(addr, &stripe("GET", &path, "", None)).await;
    assert_eq!(response.status, 400, "{}", response.json);
    assert!(response.json["error"]["message"].as_str().unwrap().contains("255"));
    assert!(response.json.to_string().len() < 1000, "the id is not echoed whole");
}
