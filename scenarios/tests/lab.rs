//! `readerlab lab check` on a bench with no hardware: a served rig with an
//! outside POS plays the bench (an M2 offered on BLE-over-TCP, an S700 on
//! its LAN API, the backend), the bench file points at it the way it would
//! point at hardware, and the hooks are `curl` calls to the rig's control
//! API. Everything crosses real loopback sockets; readerlab runs as a
//! child process with a deadline. Green first, then one hook broken at a
//! time: exit 1 naming the check.

use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::RigSpec;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "sk_test_readerlab";
const KEY_ENV: &str = "READERLAB_TEST_BENCH_KEY";
/// Each run of `lab check` (a power cycle, an adapter session) ends within this.
const LIMIT: Duration = Duration::from_secs(90);

/// The served rig and what the bench file needs from it.
struct Rig {
    _server: Server,
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    m2_ble: String,
    s700_serial: String,
}

fn serve() -> Rig {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rig = RigSpec::single(ReaderModel::S700, 22);
    rig.readers.push(ReaderModel::M2);
    rig.outside_pos = true;
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: ClockMode::Real,
        token: None,
        rig,
        secret_key: KEY.to_owned(),
        ble: None,
        ui: None,
    };
    let server = runtime.block_on(Server::start(config)).unwrap();
    let addr = server.addr();
    let readers = runtime.block_on(ControlClient::new(addr, None).readers()).unwrap();
    let readers = readers.get("readers").cloned().unwrap_or(readers);
    let readers = readers.as_array().expect("GET /readers lists the readers");
    let by_model = |model: &str| readers.iter().find(|r| r["model"] == model).cloned().unwrap();
    let m2 = by_model("m2");
    let s700 = by_model("s700");
    Rig {
        m2_ble: m2["ble_tcp"].as_str().expect("the M2 is offered on BLE-over-TCP").to_owned(),
        s700_serial: s700["serial"].as_str().unwrap().to_owned(),
        _server: server,
        runtime,
        addr,
    }
}

impl Rig {
    /// A hook that posts `fault` to the control API (`clear`: clears it).
    fn fault_hook(&self, clear: bool, fault: &str) -> String {
        let path = if clear { "faults/clear" } else { "faults" };
        format!(
            "{{ run = \"curl -sSf -X POST http://{}/_readerlab/{path} -d '{{\\\"fault\\\": {fault}}}'\", timeout_s = 10 }}",
            self.addr
        )
    }

    /// The bench file; `power_on` and `link_up` replace the working hooks.
    fn bench(&self, power_on: Option<&str>, link_up: Option<&str>) -> String {
        let signal = r#"{\"signal_lost\": {\"reader\": 1}}"#;
        let link = r#"{\"link_down\": {\"link\": {\"ReaderBackend\": 0}}}"#;
        let power_on = power_on.map_or_else(|| self.fault_hook(true, signal), str::to_owned);
        let link_up = link_up.map_or_else(|| self.fault_hook(true, link), str::to_owned);
        format!(
            r#"pos = "{readerlab} adapter"

[[reader]]
id = "m2"
model = "m2"
ble_tcp = "{m2}"
boot_s = 10

[[reader]]
id = "counter"
model = "s700"
lan = "http://{addr}/_readerlab/readers/{s700}/lan"

[backend]
url = "http://{addr}"
key_env = "{KEY_ENV}"

[hooks.power_off]
m2 = {off}

[hooks.power_on]
m2 = {power_on}

[hooks.link_down.reader-backend]
counter = {down}

[hooks.link_up.reader-backend]
counter = {link_up}

[hooks.present_card]
counter = {{ run = "curl -sSf -X POST http://{addr}/_readerlab/readers/{s700}/present_card -d '{{}}'", timeout_s = 10 }}
"#,
            readerlab = env!("CARGO_BIN_EXE_readerlab"),
            m2 = self.m2_ble,
            addr = self.addr,
            s700 = self.s700_serial,
            off = self.fault_hook(false, signal),
            down = self.fault_hook(false, link),
        )
    }
}

/// `readerlab lab check --rig FILE` with the key in the environment, with
/// a deadline of its own.
fn lab_check(file: &Path, key: &str, json: bool) -> Output {
    let started = Instant::now();
    let mut args = vec!["lab", "check", "--rig", file.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(&args)
        .env(KEY_ENV, key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("readerlab runs");
    let waited = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waited.is_finished() {
        assert!(started.elapsed() < LIMIT, "lab check did not end within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    waited.join().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_served_bench_is_green_and_a_broken_hook_is_named() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "bench.toml", &rig.bench(None, None));

    let output = lab_check(&good, KEY, true);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true, "{report:#}");
    let rows = report["checks"].as_array().unwrap();
    let status = |check: &str, target: &str| {
        rows.iter()
            .find(|r| r["check"] == check && r["target"] == target)
            .unwrap_or_else(|| panic!("no {check} {target} in {report:#}"))["status"]
            .clone()
    };
    for (check, target) in [
        ("reader.reachable", "m2"),
        ("reader.reachable", "counter"),
        ("hook.power_off", "m2"),
        ("effect.power_off", "m2"),
        ("hook.power_on", "m2"),
        ("effect.power_on", "m2"),
        ("hook.link_down.reader-backend", "counter"),
        ("hook.link_up.reader-backend", "counter"),
        ("effect.link_up.reader-backend", "counter"),
    ] {
        assert_eq!(status(check, target), "ok", "{check} {target}: {report:#}");
    }
    assert_eq!(status("hook.present_card", "counter"), "skip", "{report:#}");
    let reachable =
        rows.iter().find(|r| r["check"] == "reader.reachable" && r["target"] == "m2").unwrap();
    assert!(reachable["detail"].as_str().unwrap().contains("serial STRM2-"), "{report:#}");
    let backend = rows.iter().find(|r| r["check"] == "backend.reachable").unwrap();
    assert_eq!(backend["status"], "ok", "{report:#}");
    let pos = rows.iter().find(|r| r["check"] == "pos.session").unwrap();
    assert_eq!(pos["status"], "ok", "{report:#}");

    // The table says the same.
    let output = lab_check(&good, KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout.contains("bench healthy"), "{stdout}");

    // A wrong key is said to be one.
    let output = lab_check(&good, "sk_test_wrong", false);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("FAILED backend.reachable"),
        "{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("the key is wrong"),
        "{}",
        text(&output)
    );
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
fn a_power_on_that_does_nothing_another_model_or_a_failing_hook_fails_the_check_it_names() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let client = ControlClient::new(rig.addr, None);

    let stays_off = rig.bench(Some(r#"{ run = "true", timeout_s = 5 }"#), None);
    let output = lab_check(&write(dir.path(), "off.toml", &stays_off), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stdout.contains("FAILED effect.power_on m2: still unreachable"), "{}", text(&output));
    rig.runtime.block_on(client.clear_all()).unwrap();

    let other_model = rig.bench(None, None).replace("model = \"m2\"", "model = \"wisepad3\"");
    let output = lab_check(&write(dir.path(), "model.toml", &other_model), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stdout.contains("FAILED reader.reachable m2: it says it is a `m2` (Device Information), the bench says wisepad3"),
        "{}",
        text(&output)
    );
    rig.runtime.block_on(client.clear_all()).unwrap();

    let failing =
        rig.bench(None, Some(r#"{ run = "echo relay stuck >&2; exit 1", timeout_s = 5 }"#));
    let output = lab_check(&write(dir.path(), "fails.toml", &failing), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stdout.contains("FAILED hook.link_up.reader-backend counter")
            && stdout.contains("relay stuck"),
        "{}",
        text(&output)
    );
    rig.runtime.block_on(client.clear_all()).unwrap();
}

#[test]
fn a_bench_file_that_cannot_be_read_is_exit_2_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bench =
        "[backend]\nurl = \"http://127.0.0.1:1\"\nkey_env = \"K\"\nkey = \"sk_test_oops\"\n";
    let file = write(dir.path(), "bench.toml", bench);
    let output = lab_check(&file, KEY, false);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bench.toml:4: key `backend.key`"), "{stderr}");
}
