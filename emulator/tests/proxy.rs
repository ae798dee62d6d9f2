//! The fault proxy on real sockets (127.0.0.1): pass-through, each toxic,
//! link down and up, and the HTTP API's answers and errors.
//!
//! The machine running these is shared and noisy, so timings are checked
//! from below only (a toxic adds at least its delay); the upper bounds are
//! there to turn a hang into a failure, not to measure.

use readerlab_emulator::serve::proxy::{ProxyServer, ProxySpec, Stream, Toxic, ToxicKind};
use serde_json::{Value, json};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough that only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

/// An upstream that writes `greeting` to each client, then echoes what it reads.
async fn upstream_greeting(greeting: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                if socket.write_all(greeting).await.is_err() {
                    return;
                }
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if socket.write_all(&buffer[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn echo_upstream() -> SocketAddr {
    upstream_greeting(b"").await
}

/// A server on a free port with one proxy, `link`, in front of an echo server.
async fn server_with_echo_proxy() -> (ProxyServer, ProxySpec) {
    let server = ProxyServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let upstream = echo_upstream().await;
    let spec = server.create("link", "127.0.0.1:0", &upstream.to_string()).await.unwrap();
    (server, spec)
}

async fn connect(spec: &ProxySpec) -> TcpStream {
    let stream = TcpStream::connect(spec.listen_addr().unwrap()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes `message` and reads the same number of bytes back.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    tokio::time::timeout(HANG, stream.read_exact(&mut back)).await.unwrap().unwrap();
    (back, started.elapsed())
}

async fn median_round_trip(stream: &mut TcpStream, times: usize) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..times {
        samples.push(round_trip(stream, b"ping").await.1);
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// Reads until the connection ends; what was read, and whether it ended by reset.
async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut buffer = vec![0u8; 8192];
    loop {
        match tokio::time::timeout(HANG, stream.read(&mut buffer)).await.expect("hung") {
            Ok(0) => return (all, false),
            Ok(n) => all.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (all, true),
            Err(e) => panic!("unexpected read error {e}"),
        }
    }
}

fn down(kind: ToxicKind) -> Toxic {
    Toxic::new(kind, Stream::Downstream)
}

#[tokio::test]
async fn bytes_pass_through_unchanged() {
    let (server, spec) = server_with_echo_proxy().await;
    let mut client = connect(&spec).await;
    let message: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (back, _) = round_trip(&mut client, &message).await;
    assert_eq!(back, message);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn latency_delays_each_round_trip_on_a_live_connection() {
    let (server, spec) = server_with_echo_proxy().await;
    let mut client = connect(&spec).await;
    let without = median_round_trip(&mut client, 5).await;
    let toxic = down(ToxicKind::Latency { latency: 150, jitter: 0 });
    server.add_toxic("link", toxic).await.unwrap();
    let with = median_round_trip(&mut client, 5).await;
    println!("latency 150 ms: median round trip {without:?} without, {with:?} with");
    assert!(with >= Duration::from_millis(150), "{with:?}");
    server.remove_toxic("link", "latency_downstream").await.unwrap();
    let (_, after) = round_trip(&mut client, b"ping").await;
    println!("after removing it: {after:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn upstream_and_downstream_latency_add_up() {
    let (server, spec) = server_with_echo_proxy().await;
    let latency = ToxicKind::Latency { latency: 100, jitter: 0 };
    server.add_toxic("link", down(latency.clone())).await.unwrap();
    server.add_toxic("link", Toxic::new(latency, Stream::Upstream)).await.unwrap();
    let mut client = connect(&spec).await;
    let (back, took) = round_trip(&mut client, b"both ways").await;
    assert_eq!(back, b"both ways");
    assert!(took >= Duration::from_millis(200), "{took:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_toxic_acts_only_on_its_stream() {
    let server = ProxyServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let greeter = upstream_greeting(b"hello\n").await;
    let spec = server.create("greeter", "127.0.0.1:0", &greeter.to_string()).await.unwrap();

    // Upstream cut: the greeting still comes down, what the client says is lost.
    let cut = Toxic::new(ToxicKind::Timeout { timeout: 0 }, Stream::Upstream);
    server.add_toxic("greeter", cut).await.unwrap();
    let mut client = connect(&spec).await;
    let mut greeting = [0u8; 6];
    tokio::time::timeout(HANG, client.read_exact(&mut greeting)).await.unwrap().unwrap();
    assert_eq!(&greeting, b"hello\n");
    client.write_all(b"lost").await.unwrap();
    let mut echo = [0u8; 4];
    let nothing = tokio::time::timeout(Duration::from_millis(300), client.read(&mut echo)).await;
    assert!(nothing.is_err(), "the echo of data cut upstream came back: {nothing:?}");

    // Removing the toxic lets data through again on the same connection.
    server.remove_toxic("greeter", "timeout_upstream").await.unwrap();
    let (back, _) = round_trip(&mut client, b"again").await;
    assert_eq!(back, b"again");

    // Downstream cut: the greeting never arrives.
    server.add_toxic("greeter", down(ToxicKind::Timeout { timeout: 0 })).await.unwrap();
    let mut late = connect(&spec).await;
    let silent = tokio::time::timeout(Duration::from_millis(300), late.read(&mut greeting)).await;
    assert!(silent.is_err(), "data cut downstream arrived: {silent:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn toxicity_zero_never_applies() {
    let (server, spec) = server_with_echo_proxy().await;
    let cut = down(ToxicKind::Timeout { timeout: 0 }).with_toxicity(0.0);
    server.add_toxic("link", cut).await.unwrap();
    let mut client = connect(&spec).await;
    assert_eq!(round_trip(&mut client, b"through").await.0, b"through");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn disabling_takes_the_link_down_and_enabling_restores_it() {
    let (server, spec) = server_with_echo_proxy().await;
    let mut live = connect(&spec).await;
    round_trip(&mut live, b"up").await;

    let down_spec = server.set_enabled("link", false).await.unwrap();
    assert!(!down_spec.enabled);
    let (_, _) = read_to_end(&mut live).await;
    let refused = TcpStream::connect(spec.listen_addr().unwrap()).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::ConnectionRefused);

    let up_spec = server.set_enabled("link", true).await.unwrap();
    assert_eq!(up_spec.listen, spec.listen, "re-enabled on another address");
    let mut again = connect(&spec).await;
    assert_eq!(round_trip(&mut again, b"back").await.0, b"back");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeout_stops_data_then_closes_after_its_timeout() {
    let (server, spec) = server_with_echo_proxy().await;
    let mut client = connect(&spec).await;
    server.add_toxic("link", down(ToxicKind::Timeout { timeout: 300 })).await.unwrap();
    let started = Instant::now();
    client.write_all(b"into the void").await.unwrap();
    let (read, _) = read_to_end(&mut client).await;
    let took = started.elapsed();
    println!("timeout 300 ms: closed after {took:?}");
    assert!(read.is_empty(), "{read:?}");
    assert!(took >= Duration::from_millis(250), "{took:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reset_peer_resets_the_connection() {
    let (server, spec) = server_with_echo_proxy().await;
    server.add_toxic("link", down(ToxicKind::ResetPeer { timeout: 100 })).await.unwrap();
    let mut client = connect(&spec).await;
    let started = Instant::now();
    client.write_all(b"hello").await.unwrap();
    let (read, reset) = read_to_end(&mut client).await;
    println!("reset_peer 100 ms: ended after {:?}, by reset: {reset}", started.elapsed());
    assert!(read.is_empty(), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(reset, "the client saw an orderly close, not a reset");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn limit_data_lets_exactly_its_bytes_through() {
    let (server, spec) = server_with_echo_proxy().await;
    server.add_toxic("link", down(ToxicKind::LimitData { bytes: 1000 })).await.unwrap();
    let mut client = connect(&spec).await;
    client.write_all(&[42u8; 4000]).await.unwrap();
    let (read, _) = read_to_end(&mut client).await;
    assert_eq!(read.len(), 1000);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bandwidth_slows_a_transfer_down() {
    let (server, spec) = server_with_echo_proxy().await;
    server.add_toxic("link", down(ToxicKind::Bandwidth { rate: 50 })).await.unwrap();
    let mut client = connect(&spec).await;
    let message = vec![7u8; 50_000];
    let (back, took) = round_trip(&mut client, &message).await;
    println!("bandwidth 50 KB/s: 50,000 bytes back in {took:?}");
    assert_eq!(back, message);
    assert!(took >= Duration::from_millis(800), "{took:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn slicer_delivers_every_byte_in_order() {
    let (server, spec) = server_with_echo_proxy().await;
    let slicer = ToxicKind::Slicer { average_size: 100, size_variation: 50, delay: 200 };
    server.add_toxic("link", down(slicer.clone())).await.unwrap();
    server.add_toxic("link", Toxic::new(slicer, Stream::Upstream)).await.unwrap();
    let mut client = connect(&spec).await;
    let message: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(round_trip(&mut client, &message).await.0, message);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_upstream_closes_the_client() {
    let server = ProxyServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let nobody = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let spec = server.create("nowhere", "127.0.0.1:0", &nobody.to_string()).await.unwrap();
    let mut client = connect(&spec).await;
    let (read, _) = read_to_end(&mut client).await;
    assert!(read.is_empty());
    server.shutdown().await.unwrap();
}

// ---- the HTTP API ----

/// One HTTP/1.1 request with `Connection: close`; the status and the body.
async fn http(api: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(api).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(HANG, stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, rest.to_string())
}

async fn http_json(api: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, text) = http(api, method, path, body.as_deref()).await;
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    (status, value)
}

fn assert_error(answer: &(u16, Value), status: u16, mentions: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["status"], status, "{}", answer.1);
    let message = answer.1["error"].as_str().unwrap();
    assert!(message.contains(mentions), "`{message}` does not mention `{mentions}`");
}

#[tokio::test]
async fn the_api_creates_lists_updates_and_deletes_proxies() {
    let server = ProxyServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = server.api_addr();
    let upstream = echo_upstream().await.to_string();

    let (status, version) = http(api, "GET", "/version", None).await;
    assert_eq!(status, 200);
    assert!(version.contains("toxiproxy"), "{version}");

    let (status, created) = http_json(
        api,
        "POST",
        "/proxies",
        Some(json!({"name": "card", "listen": "127.0.0.1:0", "upstream": upstream})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    let listen: SocketAddr = created["listen"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0);

    let (status, all) = http_json(api, "GET", "/proxies", None).await;
    assert_eq!(status, 200);
    assert_eq!(all["card"]["upstream"], upstream);

    let (status, disabled) =
        http_json(api, "POST", "/proxies/card", Some(json!({"enabled": false}))).await;
    assert_eq!((status, &disabled["enabled"]), (200, &json!(false)));
    assert!(TcpStream::connect(listen).await.is_err());
    let (status, shown) = http_json(api, "GET", "/proxies/card", None).await;
    assert_eq!((status, &shown["enabled"]), (200, &json!(false)));

    let (status, _) = http_json(api, "POST", "/reset", None).await;
    assert_eq!(status, 204);
    let mut client = TcpStream::connect(listen).await.unwrap();
    assert_eq!(round_trip(&mut client, b"reset").await.0, b"reset");

    let (status, _) = http_json(api, "DELETE", "/proxies/card", None).await;
    assert_eq!(status, 204);
    assert_error(&http_json(api, "GET", "/proxies/card", None).await, 404, "card");
    assert!(TcpStream::connect(listen).await.is_err());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_api_manages_toxics() {
    let (server, spec) = server_with_echo_proxy().await;
    let api = server.api_addr();
    let latency = json!({"type": "latency", "attributes": {"latency": 120}});
    let (status, added) = http_json(api, "POST", "/proxies/link/toxics", Some(latency)).await;
    assert_eq!(status, 200);
    assert_eq!(
        added,
        json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
               "toxicity": 1.0, "attributes": {"latency": 120, "jitter": 0}})
    );
    let mut client = connect(&spec).await;
    assert!(round_trip(&mut client, b"slow").await.1 >= Duration::from_millis(120));

    let (status, list) = http_json(api, "GET", "/proxies/link/toxics", None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    let (status, shown) = http_json(api, "GET", "/proxies/link", None).await;
    assert_eq!((status, &shown["toxics"][0]["name"]), (200, &json!("latency_downstream")));

    let update = json!({"attributes": {"latency": 250}, "toxicity": 1.0});
    let path = "/proxies/link/toxics/latency_downstream";
    let (status, updated) = http_json(api, "POST", path, Some(update)).await;
    assert_eq!((status, &updated["attributes"]["latency"]), (200, &json!(250)));
    assert!(round_trip(&mut client, b"slower").await.1 >= Duration::from_millis(250));

    let (status, _) = http_json(api, "DELETE", path, None).await;
    assert_eq!(status, 204);
    assert_error(&http_json(api, "GET", path, None).await, 404, "latency_downstream");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_api_refuses_bad_requests_in_toxiproxys_shape() {
    let (server, _spec) = server_with_echo_proxy().await;
    let api = server.api_addr();
    let upstream = json!("127.0.0.1:9");

    assert_error(&http_json(api, "GET", "/proxies/nope", None).await, 404, "nope");
    assert_error(&http_json(api, "DELETE", "/proxies/nope", None).await, 404, "nope");
    assert_error(&http_json(api, "GET", "/proxies/nope/toxics", None).await, 404, "nope");
    assert_error(&http_json(api, "GET", "/proxies/link/toxics/nope", None).await, 404, "nope");
    let body = json!({"name": "link", "upstream": upstream});
    assert_error(&http_json(api, "POST", "/proxies", Some(body)).await, 409, "link");

    let (status, text) = http(api, "POST", "/proxies", Some("{\"name\": ")).await;
    let answer = (status, serde_json::from_str::<Value>(&text).unwrap());
    assert_error(&answer, 400, "bad request body");
    let (status, text) = http(api, "POST", "/proxies/link/toxics", Some("not json")).await;
    assert_error(&(status, serde_json::from_str(&text).unwrap()), 400, "bad request body");
    let (status, text) = http(api, "POST", "/proxies/link", Some("")).await;
    assert_error(&(status, serde_json::from_str(&text).unwrap()), 400, "bad request body");

    let cases = [
        ("/proxies", json!({"upstream": upstream}), "name"),
        ("/proxies", json!({"name": "x"}), "upstream"),
        ("/proxies", json!({"name": "x", "upstream": upstream, "enabled": "yes"}), "enabled"),
        ("/proxies", json!({"name": "x", "upstream": upstream, "listen": "nonsense"}), "nonsense"),
        ("/proxies/link", json!({"enabled": 1}), "enabled"),
        (
            "/proxies/link/toxics",
            json!({"type": "latency", "attributes": {"latency": -5}}),
            "latency",
        ),
        ("/proxies/link/toxics", json!({"type": "latency", "toxicity": 1.5}), "toxicity"),
        ("/proxies/link/toxics", json!({"type": "latency", "stream": "both"}), "stream"),
        ("/proxies/link/toxics", json!({"type": "teleport"}), "teleport"),
        ("/populate", json!({"name": "x"}), "array"),
        ("/populate", json!([{"name": "x"}]), "upstream"),
    ];
    for (path, body, mentions) in cases {
        assert_error(&http_json(api, "POST", path, Some(body)).await, 400, mentions);
    }

    let toxic = json!({"type": "timeout", "name": "cut"});
    assert_eq!(http_json(api, "POST", "/proxies/link/toxics", Some(toxic.clone())).await.0, 200);
    assert_error(&http_json(api, "POST", "/proxies/link/toxics", Some(toxic)).await, 409, "cut");
    assert_error(&http_json(api, "GET", "/nowhere", None).await, 404, "endpoint");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn populate_creates_and_updates_proxies() {
    let server = ProxyServer::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let api = server.api_addr();
    let upstream = echo_upstream().await.to_string();
    let first = json!([
        {"name": "one", "listen": "127.0.0.1:0", "upstream": upstream},
        {"name": "two", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": false},
    ]);
    let (status, populated) = http_json(api, "POST", "/populate", Some(first)).await;
    assert_eq!(status, 201, "{populated}");
    let proxies = populated["proxies"].as_array().unwrap();
    assert_eq!(
        (proxies[0]["enabled"].clone(), proxies[1]["enabled"].clone()),
        (json!(true), json!(false))
    );

    let again = json!([{"name": "two", "upstream": upstream}]);
    let (status, populated) = http_json(api, "POST", "/populate", Some(again)).await;
    assert_eq!((status, &populated["proxies"][0]["enabled"]), (201, &json!(true)));
    let (_, all) = http_json(api, "GET", "/proxies", None).await;
    assert_eq!(all.as_object().unwrap().len(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_the_api_and_every_proxy() {
    let (server, spec) = server_with_echo_proxy().await;
    let api = server.api_addr();
    let mut live = connect(&spec).await;
    server.shutdown().await.unwrap();
    assert!(TcpStream::connect(api).await.is_err());
    assert!(TcpStream::connect(spec.listen_addr().unwrap()).await.is_err());
    read_to_end(&mut live).await;
}
