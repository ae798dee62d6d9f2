//! The POS driver protocol (docs/driver-protocol.md) from both sides: the
//! schema file is the one the Rust types generate, every example of the
//! document fits it, and adapters that misbehave (garbage, an early exit,
//! silence, a hang after the handshake, a response to nothing, a huge line)
//! fail their scenario with a clear error within the deadline: readerlab
//! exits 1 and never hangs. The conformance kit's verdicts on the skeleton
//! adapter.

use readerlab::driver::protocol::{self, RESULT_DEFS, validate};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_schema_file_is_the_one_the_types_generate() {
    let path = repo().join("docs/driver-protocol.schema.json");
    let generated = protocol::schema_text();
    if std::env::var_os("READERLAB_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_file = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_file == generated,
        "docs/driver-protocol.schema.json differs from the Rust types: regenerate it with \
         READERLAB_UPDATE_SCHEMA=1 cargo test -p readerlab --test driver"
    );
}

/// Every JSON line of the document's ```json blocks, with its line number.
fn document_examples() -> Vec<(usize, Value)> {
    let text = std::fs::read_to_string(repo().join("docs/driver-protocol.md")).unwrap();
    let mut examples = Vec::new();
    let mut inside = false;
    for (number, line) in text.lines().enumerate() {
        match line.trim() {
            "```json" => inside = true,
            "```" => inside = false,
            json if inside && !json.is_empty() => {
                let value = serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("driver-protocol.md:{}: not JSON: {e}", number + 1));
                examples.push((number + 1, value));
            }
            _ => {}
        }
    }
    examples
}

#[test]
fn every_example_of_the_document_fits_the_schema() {
    let examples = document_examples();
    assert!(examples.len() >= 8, "the document shows its messages: {}", examples.len());
    let results: BTreeMap<&str, &str> = RESULT_DEFS.into_iter().collect();
    // A response's result is judged by the method of the request with its id.
    let mut methods: BTreeMap<u64, String> = BTreeMap::new();
    for (line, message) in examples {
        let at = format!("docs/driver-protocol.md:{line}");
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            if let Some(id) = message.get("id").and_then(Value::as_u64) {
                validate("RequestMessage", &message).unwrap_or_else(|e| panic!("{at}: {e}"));
                methods.insert(id, method.to_owned());
            } else {
                validate("AdapterMessage", &message).unwrap_or_else(|e| panic!("{at}: {e}"));
            }
            continue;
        }
        validate("AdapterMessage", &message).unwrap_or_else(|e| panic!("{at}: {e}"));
        if let Some(result) = message.get("result") {
            let id = message["id"].as_u64().expect("a result answers a request");
            let method =
                methods.get(&id).unwrap_or_else(|| panic!("{at}: answers no request shown"));
            let def = results[method.as_str()];
            validate(def, result).unwrap_or_else(|e| panic!("{at}: result of {method}: {e}"));
        }
    }
}

#[test]
fn the_schema_refuses_what_the_protocol_refuses() {
    let collect = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "payment.collect",
        "params": {"payment": "p", "reader": "R", "amount": {"amount": 100, "currency": "usd"},
                   "behavior": "SOMETIMES_ONLINE"}});
    assert!(validate("RequestMessage", &collect).is_err());
    let ended = serde_json::json!({"jsonrpc": "2.0", "method": "payment.ended",
        "params": {"payment": "p", "outcome": "probably"}});
    assert!(validate("AdapterMessage", &ended).is_err());
    let ok = serde_json::json!({"jsonrpc": "2.0", "method": "payment.ended",
        "params": {"payment": "p", "outcome": "unknown"}});
    validate("AdapterMessage", &ok).unwrap();
}

/// Runs readerlab with a deadline of its own, so a hang fails the test
/// instead of hanging it.
fn readerlab(args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("readerlab runs");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("readerlab {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

const HANDSHAKE: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocol":1,"adapter":{"name":"bad","version":"1"},"capabilities":{"integration":"server_driven","models":["s700"],"clock":true}}}"#;

#[test]
fn adapters_that_misbehave_fail_their_scenario_clearly_within_the_deadline() {
    let answered_then = |then: &str| format!("read line; echo '{HANDSHAKE}'; {then}");
    // Answers the handshake, then the collect (request 2), after `line`.
    let answered_collect = |line: &str| {
        answered_then(&format!(
            r#"read line; echo '{line}'; echo '{{"jsonrpc":"2.0","id":2,"result":{{}}}}'; sleep 30"#
        ))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "garbage",
            "echo 'this is not JSON'; sleep 30".to_owned(),
            "line 1 of the adapter's stdout is not a JSON-RPC message",
        ),
        ("exits at once", "exit 3".to_owned(), "exited with status 3"),
        ("never answers", "sleep 30".to_owned(), "`session.new` got no answer within its deadline"),
        (
            "hangs after session.new",
            answered_then("sleep 30"),
            "got no answer within its deadline of 2s",
        ),
        (
            "closes stdout after session.new",
            answered_then("exec 1>&-; sleep 30"),
            "closed its stdout before it answered",
        ),
        (
            "answers nothing asked",
            answered_then(r#"read line; echo '{"jsonrpc":"2.0","id":77,"result":{}}'; sleep 30"#),
            "answers request Some(77), which is not waiting",
        ),
        (
            "records an event that is not its SDK's",
            answered_collect(
                r#"{"jsonrpc":"2.0","method":"sdk.event","params":{"event":"rig.finished","reason":"done"}}"#,
            ),
            "`sdk.event` notification (line 2) does not fit the protocol",
        ),
        (
            "records an SDK event with fields missing",
            answered_collect(
                r#"{"jsonrpc":"2.0","method":"sdk.event","params":{"event":"offline.payment.stored","payment":"x"}}"#,
            ),
            "`offline.payment.stored`: missing field",
        ),
        (
            "a line of two megabytes",
            "head -c 2097152 /dev/zero | tr '\\0' x; echo; sleep 30".to_owned(),
            "longer than 1048576 bytes",
        ),
    ];
    for (name, command, expected) in cases {
        let args = [
            "run",
            "features/pos/server_driven.feature:9",
            "--target",
            "served",
            "--pos",
            &command,
            "--pos-timeout",
            "2",
        ];
        let (out, took) = readerlab(&args, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: exit status\n{stdout}");
        assert!(stdout.contains(expected), "{name}: expected `{expected}` in\n{stdout}");
        assert!(stdout.contains("--pos '"), "{name}: the replay line names the adapter\n{stdout}");
        // Two deadlines at most: the step's, and none after the conversation broke.
        assert!(took < Duration::from_secs(20), "{name}: took {took:?}");
    }
}

#[test]
fn conform_says_unknown_for_an_adapter_that_declares_nothing() {
    let junit = tempfile::NamedTempFile::new().unwrap();
    let junit_path = junit.path().to_str().unwrap();
    let args = [
        "conform",
        "--pos",
        "python3 adapters/skeleton/adapter.py",
        "features/pos",
        "--json",
        "--junit",
        junit_path,
    ];
    let (out, _) = readerlab(&args, Duration::from_secs(120));
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert!(xml.contains(r#"name="protocol" package"#), "{xml}");
    assert!(xml.contains(r#"name="parse error""#), "{xml}");
    assert!(xml.contains("server_driven.feature"), "the scenarios follow: {xml}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verdict"], "unknown");
    let checks = report["protocol"].as_array().unwrap();
    let status = |name: &str| {
        checks.iter().find(|c| c["name"] == name).map(|c| c["status"].clone()).unwrap_or_default()
    };
    assert_eq!(status("handshake"), "ok");
    assert_eq!(status("capabilities"), "missing");
    assert_eq!(status("parse error"), "ok");
    assert_eq!(status("invalid request"), "ok");
    assert_eq!(status("session.end"), "ok");
    assert_eq!(report["scenarios"]["skipped"], 6, "{stdout}");
}

#[test]
fn conform_says_invalid_for_an_adapter_that_breaks_the_protocol() {
    // Answers the handshake, then everything with a result, even garbage.
    let sloppy = format!(
        "read line; echo '{HANDSHAKE}'; while read line; do \
         echo '{{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{{}}}}'; done"
    );
    let args = [
        "conform",
        "--pos",
        &sloppy,
        "features/pos/server_driven.feature:9",
        "--pos-timeout",
        "2",
        "--json",
    ];
    let (out, _) = readerlab(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verdict"], "invalid");
    let failed: Vec<&str> = report["protocol"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(failed.contains(&"parse error"), "{failed:?}");
}

/// Plays an app on a device: connects to readerlab's WebSocket with the
/// token, once per session, and carries the messages to and from a fresh
/// skeleton adapter process; returns the sessions carried once readerlab
/// stops accepting.
fn carry_sessions(addr: &str, token: &str) -> usize {
    use std::io::{BufRead, BufReader, Write};
    use tungstenite::client::IntoClientRequest;
    let mut sessions = 0;
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_secs(5) {
        let mut request = format!("ws://{addr}/").into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let Ok((mut socket, _)) = tungstenite::connect(request) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        sessions += 1;
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        }
        let mut adapter = Command::new("python3")
            .arg("adapters/skeleton/adapter.py")
            .current_dir(repo())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = adapter.stdin.take().unwrap();
        let stdout = adapter.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    let _ = writeln!(stdin, "{}", text.as_str());
                }
                Ok(tungstenite::Message::Close(_)) => break,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            while let Ok(line) = lines.try_recv() {
                let _ = socket.send(tungstenite::Message::text(line));
            }
        }
        drop(stdin);
        let _ = adapter.wait();
        idle_since = Instant::now();
    }
    sessions
}

#[test]
fn an_app_connects_in_over_a_websocket_with_its_token() {
    use std::io::{BufRead, BufReader};
    let mut readerlab = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["conform", "--pos-listen", "127.0.0.1:0", "--pos-token", "t0ken", "features/pos"])
        .args(["--pos-timeout", "10", "--json"])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(readerlab.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .split("ws://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("readerlab says where it listens: {first}"))
        .to_owned();
    // Without the token: refused with 401, and the session still waits.
    match tungstenite::connect(format!("ws://{addr}/")) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a client without the token must be refused: {:?}", other.map(|_| ())),
    }
    let sessions = carry_sessions(&addr, "t0ken");
    let out = readerlab.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let handshake = &report["protocol"][0];
    assert_eq!(handshake["status"], "ok", "{stdout}");
    assert_eq!(report["scenarios"]["skipped"], 6, "{stdout}");
    // The protocol checks, and the first scenario's session: the other five
    // are skipped from what that one declared (no `clock`), without
    // starting the adapter again.
    assert_eq!(sessions, 2);
}

/// Runs `features` on the served target with `adapter` as the POS and the
/// histories kept; the run must exit 0 with `summary`. Returns where the
/// histories (and the adapter's logs) are.
fn run_through(adapter: &str, features: &str, summary: &str) -> tempfile::TempDir {
    let histories = tempfile::tempdir().unwrap();
    let dir = histories.path().to_str().unwrap();
    let args = ["run", features, "--target", "served", "--pos", adapter, "--history-dir", dir];
    let (out, _) = readerlab(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(summary), "{stdout}");
    histories
}

#[test]
fn the_reference_pos_passes_through_the_protocol_and_its_log_is_kept_beside_the_history() {
    let adapter =
        format!("echo 'the adapter starts' >&2; exec {} adapter", env!("CARGO_BIN_EXE_readerlab"));
    let histories = run_through(&adapter, "features/pos", "6 passed, 0 failed, 0 skipped");
    let log = histories.path().join("features-pos-server_driven.feature-9.adapter.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert_eq!(text, "the adapter starts\n");
    let history = histories.path().join("features-pos-server_driven.feature-9.jsonl");
    let history = std::fs::read_to_string(history).unwrap();
    for event in
        ["pos.session.started", "pos.payment.requested", "pos.payment.started", "pos.payment.ended"]
    {
        assert!(history.contains(&format!("\"event\":\"{event}\"")), "{event} in\n{history}");
    }
}

#[test]
fn the_reference_sdk_drives_a_bluetooth_reader_through_the_protocol() {
    let adapter = format!("{} adapter", env!("CARGO_BIN_EXE_readerlab"));
    let histories =
        run_through(&adapter, "features/offline/m2.feature", "3 passed, 0 failed, 0 skipped");
    let history = histories.path().join("features-offline-m2.feature-15.jsonl");
    let history = std::fs::read_to_string(history).unwrap();
    let events: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by = |name: &str| events.iter().filter(|e| e["event"] == name).collect::<Vec<_>>();
    // The SDK's own events, as the outside SDK said them, are the POS's.
    for name in ["offline.payment.stored", "offline.payment.forwarded", "offline.status.changed"] {
        let found = by(name);
        assert!(!found.is_empty(), "{name} in\n{history}");
        assert!(found.iter().all(|e| e["part"] == "pos"), "{name}: {found:?}");
    }
    // The rig's own POS did not run: the first of the POS's events is the session.
    let first = events.iter().find(|e| e["part"] == "pos").unwrap();
    assert_eq!(first["event"], "pos.session.started", "{history}");
    // The forward charged the card the reader read, not its sealed value.
    let charge = by("backend.charge.succeeded");
    assert_eq!(charge.len(), 1, "{history}");
    assert_eq!(charge[0]["card"]["last4"], "4242", "{history}");
    assert!(!history.contains("emv_"), "the sealed card data stays between SDK and backend");
}
