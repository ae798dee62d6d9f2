//! The whole served process: `Server::start` on a loopback port, driven
//! from outside through real sockets (the control API's client, raw HTTP),
//! as `readerlab serve` runs and as lab scripts talk to it.

use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{
    ServeConfig, ServeLimits, Server, StartError, check_exposure,
};
use readerlab_emulator::sim::{Fault, LinkFault, LinkId, PaymentSpec, RigSpec};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "sk_test_readerlab";

fn config(data: Option<&Path>) -> ServeConfig {
    let mut rig = RigSpec::single(ReaderModel::M2, 1);
    rig.data_dir = data.map(Path::to_owned);
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: ClockMode::Virtual,
        token: None,
        rig,
        secret_key: KEY.to_owned(),
        ble: None,
        ui: None,
    }
}

async fn start(data: Option<&Path>) -> (Server, ControlClient) {
    let server = Server::start(config(data)).await.unwrap();
    let client = ControlClient::new(server.addr(), None);
    (server, client)
}

async fn advance(client: &ControlClient, by: Duration) -> Millis {
    let now = client.now().await.unwrap();
    client.advance(now + by, false).await.unwrap()
}

fn offline_payment(name: &str, amount: u64, at: Millis) -> PaymentSpec {
    PaymentSpec {
        name: name.to_owned(),
        at,
        amount: Money::new(amount, Currency::USD),
        card: "4242424242424242".to_owned(),
        entry_mode: EntryMode::Contactless,
        behavior: OfflineBehavior::ForceOffline,
        reader: 0,
    }
}

/// The history's events as JSON, with their names.
async fn events(client: &ControlClient) -> Vec<Value> {
    let history = client.history(0).await.unwrap();
    history.iter().map(|e| serde_json::to_value(e).unwrap()).collect()
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// One HTTP/1.1 exchange on a fresh connection; (status, body).
async fn http(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let status = String::from_utf8_lossy(&raw[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (status, raw[split + 4..].to_vec())
}

async fn http_json(addr: SocketAddr, head: &str, body: &str) -> (u16, Value) {
    let (status, body) = http(addr, head, body.as_bytes()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_ids_never_repeat_across_restarts_of_the_process_on_the_same_data() {
    // The keys go beside the data directory: both inside one temporary root.
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let internet: Fault = LinkFault::LinkDown { link: LinkId::PosBackend }.into();

    // First process: three payments stored while the POS is offline, still
    // stored when it stops.
    let (server, client) = start(Some(&data)).await;
    let now = advance(&client, Duration::from_secs(5)).await;
    client.inject(&internet).await.unwrap();
    for i in 1..=3 {
        client.pay(&offline_payment(&format!("pay_a{i}"), 1000 + 100 * i, now)).await.unwrap();
    }
    advance(&client, Duration::from_secs(60)).await;
    let first = events(&client).await;
    let stored_first: BTreeSet<String> = named(&first, "offline.payment.stored")
        .iter()
        .map(|e| e["offline_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored_first.len(), 3, "{first:#?}");
    server.shutdown().await.unwrap();

    // Second process on the same data: three more, offline again.
    let (server, client) = start(Some(&data)).await;
    client.inject(&internet).await.unwrap();
    let now = advance(&client, Duration::from_secs(5)).await;
    for i in 4..=6 {
        client.pay(&offline_payment(&format!("pay_b{i}"), 1000 + 100 * i, now)).await.unwrap();
    }
    advance(&client, Duration::from_secs(60)).await;
    let second = events(&client).await;
    let failed = named(&second, "payment.failed");
    assert!(failed.is_empty(), "payments refused after the restart: {failed:#?}");
    let stored_second: BTreeSet<String> = named(&second, "offline.payment.stored")
        .iter()
        .map(|e| e["offline_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored_second.len(), 3, "{second:#?}");
    assert!(
        stored_first.is_disjoint(&stored_second),
        "ids repeated: {stored_first:?} then {stored_second:?}"
    );

    // The internet returns: every payment is charged exactly once.
    client.clear(&internet).await.unwrap();
    advance(&client, Duration::from_secs(600)).await;
    let (status, ledger) = http_json(server.addr(), "GET /_readerlab/ledger HTTP/1.1", "").await;
    assert_eq!(status, 200);
    let mut amounts: Vec<u64> = ledger["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["amount"].as_u64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, (1..=6).map(|i| 1000 + 100 * i).collect::<Vec<u64>>(), "{ledger:#}");
    let last = events(&client).await;
    let forwarded = named(&last, "offline.payment.forwarded");
    assert_eq!(forwarded.len(), 6, "{forwarded:#?}");
    assert!(forwarded.iter().all(|e| e["error"].is_null()), "{forwarded:#?}");
    server.shutdown().await.unwrap();
}

/// Reads until the server closes; `None` if it is still open after `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await.ok().map(|()| got)
}

fn short_limits(per_ip: usize) -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(900),
        max_connections_per_ip: per_ip,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_headers_are_closed_after_the_timeout() {
    let server = Server::start_with(config(None), short_limits(128)).await.unwrap();
    let addr = server.addr();
    let mut slow = Vec::new();
    for _ in 0..60 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /_readerlab/clock HT").await.unwrap();
        slow.push(stream);
    }
    // A normal client is answered while they hang.
    let (status, clock) = http_json(addr, "GET /_readerlab/clock HTTP/1.1", "").await;
    assert_eq!(status, 200, "{clock}");
    assert!(closed_within(&mut slow[0], Duration::from_millis(200)).await.is_none());
    for stream in &mut slow {
        let closed = closed_within(stream, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "a connection that never finished its request line is still open"
        );
    }

    // A kept-alive connection is closed once idle.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /_readerlab/clock HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    kept.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert!(closed_within(&mut kept, Duration::from_millis(300)).await.is_none());
    assert!(closed_within(&mut kept, Duration::from_secs(5)).await.is_some(), "idle kept forever");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_may_hold_only_so_many_connections() {
    let server = Server::start_with(config(None), short_limits(4)).await.unwrap();
    let addr = server.addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /_readerlab/clock HT").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /_readerlab/clock HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let _ = refused.write_all(head.as_bytes()).await;
    let answer = closed_within(&mut refused, Duration::from_millis(500)).await;
    let answer = answer.expect("the fifth connection is closed at once");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 503"), "{text}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = http_json(addr, "GET /_readerlab/clock HTTP/1.1", "").await;
    assert_eq!(status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_the_public_default_secret_key_is_refused_at_start() {
    let mut exposed = config(None);
    exposed.listen = "0.0.0.0:0".parse().unwrap();
    exposed.token = Some("lab-token".to_owned());
    let refused = Server::start(exposed.clone()).await.unwrap_err();
    assert!(matches!(refused, StartError::DefaultSecretKey(_)), "{refused}");
    assert!(refused.to_string().contains("--secret-key"), "{refused}");
    // The same check without binding, on an address of another host.
    let lan: SocketAddr = "192.0.2.10:12111".parse().unwrap();
    let token = Some("lab-token");
    assert!(matches!(check_exposure(lan, token, KEY), Err(StartError::DefaultSecretKey(_))));
    assert!(matches!(check_exposure(lan, None, "sk_test_mine"), Err(StartError::TokenRequired(_))));
    assert!(check_exposure(lan, token, "sk_test_mine").is_ok());
    assert!(check_exposure("127.0.0.1:0".parse().unwrap(), None, KEY).is_ok());
    assert!(check_exposure("[::1]:0".parse().unwrap(), None, KEY).is_ok());

    // With a key of its own it starts, and /v1 takes only that key.
    exposed.secret_key = "sk_test_lab_only".to_owned();
    let server = Server::start(exposed).await.unwrap();
    let local = SocketAddr::from(([127, 0, 0, 1], server.addr().port()));
    let (status, _) = http_json(
        local,
        "GET /v1/payment_intents HTTP/1.1\r\nAuthorization: Bearer sk_test_readerlab",
        "",
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http_json(
        local,
        "GET /v1/payment_intents HTTP/1.1\r\nAuthorization: Bearer sk_test_lab_only",
        "",
    )
    .await;
    assert_eq!(status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_refuses_an_amount_beyond_the_maximum_in_its_error_shape() {
    let (server, _client) = start(None).await;
    let addr = server.addr();
    let pay = |amount: u64| {
        format!(
            r#"{{"name": "pay_big", "at": 0, "amount": {{"amount": {amount}, "currency": "usd"}},
               "card": "4242424242424242", "entry_mode": "contactless",
               "behavior": "PREFER_ONLINE", "reader": 0}}"#
        )
    };
    for amount in [9_223_372_036_854_775_807, 100_000_000, 0] {
        let (status, answer) =
            http_json(addr, "POST /_readerlab/pos/payments HTTP/1.1", &pay(amount)).await;
        assert_eq!(status, 400, "{amount}: {answer}");
        assert_eq!(answer["error"]["status"], 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("amount") && message.contains("99999999"), "{message}");
    }
    let (status, answer) =
        http_json(addr, "POST /_readerlab/pos/payments HTTP/1.1", &pay(99_999_999)).await;
    assert_eq!(status, 202, "{answer}");
    server.shutdown().await.unwrap();
}

/// Found by `fuzz_control_api`: rig time is work (a thousand years of it
/// took 14 s and two million events on an idle rig), so one request may move
/// the virtual clock, or let the final drain take, at most a leap year.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_refuses_to_move_the_clock_more_than_a_year_at_once() {
    let (server, client) = start(None).await;
    let addr = server.addr();
    let year = readerlab_emulator::serve::control::MAX_SPAN_MS;
    for (path, body) in [
        ("POST /_readerlab/clock/advance", format!(r#"{{"by_ms": {}}}"#, year + 1)),
        ("POST /_readerlab/clock/advance", format!(r#"{{"by_ms": {}}}"#, u64::MAX)),
        ("POST /_readerlab/clock/advance", format!(r#"{{"to_ms": {}}}"#, u64::MAX)),
        ("POST /_readerlab/rig/finish", format!(r#"{{"cap_ms": {}}}"#, year + 1)),
    ] {
        let (status, answer) = http_json(addr, &format!("{path} HTTP/1.1"), &body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("366 days"), "{message}");
    }
    let now = client.now().await.unwrap();
    assert_eq!(now, Millis(0), "nothing moved");
    let (status, answer) = http_json(
        addr,
        "POST /_readerlab/clock/advance HTTP/1.1",
        &format!(r#"{{"by_ms": {year}}}"#),
    )
    .await;
    assert_eq!((status, answer["now_ms"].as_u64()), (200, Some(year)), "{answer}");
    server.shutdown().await.unwrap();
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_key_lives_outside_the_data_directory_and_nothing_is_world_readable() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // A data directory written by an earlier version: the key inside it.
    let old_keys = data.join("pos").join("keys");
    let old_key = {
        use readerlab_emulator::store::Keychain as _;
        readerlab_emulator::store::FileKeychain::open(&old_keys).unwrap().key().unwrap()
    };

    let (server, client) = start(Some(&data)).await;
    let now = advance(&client, Duration::from_secs(5)).await;
    client.inject(&LinkFault::LinkDown { link: LinkId::PosBackend }.into()).await.unwrap();
    client.pay(&offline_payment("pay_k1", 1200, now)).await.unwrap();
    advance(&client, Duration::from_secs(30)).await;
    assert_eq!(named(&events(&client).await, "offline.payment.stored").len(), 1);
    server.shutdown().await.unwrap();

    // The key moved beside the data directory, not into it.
    let keys = root.path().join("data.keys");
    let key_file = keys.join("pos").join("store.key");
    assert_eq!(std::fs::read(&key_file).unwrap(), old_key, "the old key was carried over");
    assert!(!old_keys.exists(), "the key stayed in the data directory");
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&keys.join("pos")), 0o700);
    assert_eq!(mode(&keys), 0o700);
    let stored = files_under(&data);
    assert!(stored.iter().any(|f| f.ends_with("offline-payments.log")), "{stored:?}");
    for file in &stored {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !bytes.windows(old_key.len()).any(|w| w == old_key),
            "{} holds the key",
            file.display()
        );
        assert_eq!(mode(file) & 0o077, 0, "{} is readable by others", file.display());
    }
    assert_eq!(mode(&data.join("pos")), 0o700);
    assert_eq!(mode(&data.join("pos").join("store")), 0o700);

    // The next process finds the key where it now lives, and its store.
    let (server, client) = start(Some(&data)).await;
    let recovered = named(&events(&client).await, "offline.store.recovered")
        .first()
        .map(|e| e["pending"].clone());
    assert_eq!(recovered, Some(Value::from(1)));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_answers_its_index_with_a_slash_and_errors_in_its_own_shape() {
    let (server, _client) = start(None).await;
    let addr = server.addr();
    for path in ["/_readerlab", "/_readerlab/"] {
        let (status, index) = http_json(addr, &format!("GET {path} HTTP/1.1"), "").await;
        assert_eq!(status, 200, "{path}: {index}");
        assert!(index["endpoints"].as_array().is_some_and(|e| !e.is_empty()), "{path}: {index}");
    }
    // A body over the limit, a method the path does not take, a query that
    // does not parse: all in {"error": {"status", "message"}}.
    let big = "x".repeat(3 << 20);
    for (head, body, expected) in [
        ("POST /_readerlab/pos/payments HTTP/1.1", big.as_str(), 413),
        ("DELETE /_readerlab/clock HTTP/1.1", "", 405),
        ("GET /_readerlab/history?from=minus HTTP/1.1", "", 400),
    ] {
        let (status, answer) = http_json(addr, head, body).await;
        assert_eq!(status, expected, "{head}: {answer}");
        assert_eq!(answer["error"]["status"], expected, "{head}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive_in_both_apis() {
    let mut guarded = config(None);
    guarded.token = Some("lab-token".to_owned());
    let server = Server::start(guarded).await.unwrap();
    let addr = server.addr();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, answer) = http_json(
            addr,
            &format!("GET /_readerlab/clock HTTP/1.1\r\nAuthorization: {scheme} lab-token"),
            "",
        )
        .await;
        assert_eq!(status, 200, "control, {scheme}: {answer}");
        let (status, answer) = http_json(
            addr,
            &format!("GET /v1/payment_intents HTTP/1.1\r\nAuthorization: {scheme} {KEY}"),
            "",
        )
        .await;
        assert_eq!(status, 200, "backend, {scheme}: {answer}");
    }
    let (status, _) =
        http_json(addr, "GET /_readerlab/clock HTTP/1.1\r\nAuthorization: Bearer nope", "").await;
    assert_eq!(status, 401);
    server.shutdown().await.unwrap();
}
