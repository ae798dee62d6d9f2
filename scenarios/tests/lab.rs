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
    m2_serial: String,
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
        m2_serial: m2["serial"].as_str().unwrap().to_owned(),
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

impl Rig {
    /// A bench file for `run --target lab`: every hook the bundled lab
    /// scenarios need (the POS's internet, a reboot, cards presented with
    /// the number and entry mode readerlab puts in the hook's environment),
    /// the POS given the served rig's POS key so that its calls cross the
    /// POS's link. `reboot = false` leaves the S700's reboot hook out.
    fn run_bench(&self, reboot: bool) -> String {
        let pos_link = r#"{\"link_down\": {\"link\": \"PosBackend\"}}"#;
        let present = |serial: &str| {
            "{ run = 'curl -sSf -X POST http://ADDR/_readerlab/readers/SERIAL/present_card -d \"{\\\"number\\\": \\\"$READERLAB_CARD\\\", \\\"entry_mode\\\": \\\"$READERLAB_ENTRY_MODE\\\"}\"', timeout_s = 10 }"
                .replace("ADDR", &self.addr.to_string())
                .replace("SERIAL", serial)
        };
        let mut bench = self.bench(None, None).replace(
            "key_env = \"READERLAB_TEST_BENCH_KEY\"",
            "key_env = \"READERLAB_TEST_BENCH_KEY\"\npos_key_env = \"READERLAB_TEST_BENCH_POS_KEY\"",
        );
        bench = bench.replace("[hooks.present_card]", "[hooks.present_card_of_lab_check]");
        let start = bench.find("[hooks.present_card_of_lab_check]").unwrap();
        bench.truncate(start);
        bench.push_str(&format!(
            "[hooks.present_card]\nm2 = {}\ncounter = {}\n\n[hooks.link_down.pos-backend]\npos = {}\n\n[hooks.link_up.pos-backend]\npos = {}\n",
            present(&self.m2_serial),
            present(&self.s700_serial),
            self.fault_hook(false, pos_link),
            self.fault_hook(true, pos_link),
        ));
        if reboot {
            let reboot = r#"{\"reader_reboot\": {\"reader\": 0}}"#;
            bench.push_str(&format!(
                "\n[hooks.reboot]\ncounter = {}\n",
                self.fault_hook(false, reboot)
            ));
        }
        bench
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

/// `readerlab run --target lab --rig FILE ARGS...` with both keys in the
/// environment, within `limit`.
fn lab_run(file: &Path, args: &[&str], limit: Duration) -> Output {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--target", "lab", "--rig", file.to_str().unwrap()])
        .args(args)
        .env(KEY_ENV, KEY)
        .env("READERLAB_TEST_BENCH_POS_KEY", format!("{KEY}_pos"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("readerlab runs");
    let waited = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waited.is_finished() {
        assert!(started.elapsed() < limit, "run --target lab did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    waited.join().unwrap()
}

fn features(path: &str) -> String {
    format!("{}/../features/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[ignore = "real time, about 2 minutes: ci/lab.sh runs it (cargo test --test lab -- --include-ignored)"]
fn the_lab_scenarios_pass_on_a_served_bench_with_their_histories_checked() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let bench = write(dir.path(), "bench.toml", &rig.run_bench(true));
    let histories = dir.path().join("histories");
    let lab = features("lab");
    let args = ["--json", "--history-dir", histories.to_str().unwrap(), lab.as_str()];
    let output = lab_run(&bench, &args, Duration::from_secs(420));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["target"], "lab", "{report:#}");
    assert_eq!(report["passed"], 3, "every lab scenario passes: {report:#}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("health checks of"), "the health checks ran first: {stderr}");

    // The histories say what the bench did and what the backend holds.
    let mut all = String::new();
    for entry in std::fs::read_dir(&histories).unwrap() {
        all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for needle in [
        "\"event\":\"lab.hook.ran\"",
        "\"action\":\"present_card\"",
        "hooks.power_off.m2: exit 0",
        "hooks.reboot.counter: exit 0",
        "hooks.link_down.pos-backend.pos: exit 0",
        "\"event\":\"backend.charge.succeeded\"",
        "\"event\":\"offline.payment.forwarded\"",
    ] {
        assert!(all.contains(needle), "no {needle} in the histories");
    }
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
#[ignore = "real time, about a minute: ci/lab.sh runs it (cargo test --test lab -- --include-ignored)"]
fn a_bench_without_a_hook_skips_naming_it_and_a_broken_bench_is_refused() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let reboot = format!("{}:33", features("lab/bench.feature"));

    let no_reboot = write(dir.path(), "no-reboot.toml", &rig.run_bench(false));
    let output = lab_run(&no_reboot, &["--json", &reboot], Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["skipped"], 1, "{report:#}");
    let message = report["results"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("hooks.reboot.counter"), "the missing hook is named: {report:#}");

    let broken = rig.run_bench(false).replace(
        &rig.fault_hook(true, r#"{\"link_down\": {\"link\": {\"ReaderBackend\": 0}}}"#),
        r#"{ run = "echo relay stuck >&2; exit 1", timeout_s = 5 }"#,
    );
    let broken = write(dir.path(), "broken.toml", &broken);
    let output = lab_run(&broken, &[&reboot], Duration::from_secs(120));
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("failed its health checks; nothing was run")
            && stderr.contains("FAILED hook.link_up.reader-backend counter")
            && stderr.contains("relay stuck"),
        "{}",
        text(&output)
    );
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

/// labgrid's commands, from `READERLAB_LABGRID_BIN` (ci/lab.sh sets it to
/// the directory labgrid was installed in, from PyPI).
fn labgrid(name: &str) -> String {
    let dir = std::env::var("READERLAB_LABGRID_BIN")
        .expect("READERLAB_LABGRID_BIN: the directory of labgrid's commands (ci/lab.sh sets it)");
    format!("{dir}/{name}")
}

/// A labgrid coordinator on a loopback port, as published, stopped on drop.
struct Coordinator {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coordinator() -> Coordinator {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(labgrid("labgrid-coordinator"))
        .args(["-l", &addr])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("labgrid-coordinator starts");
    let coordinator = Coordinator { child, addr, _dir: dir };
    let started = Instant::now();
    while !lg(&coordinator, "ci", &["places"]).status.success() {
        assert!(started.elapsed() < Duration::from_secs(30), "the coordinator did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    coordinator
}

/// `labgrid-client -x COORDINATOR ARGS...` as user `user` on host `user-host`.
fn lg(coordinator: &Coordinator, user: &str, args: &[&str]) -> Output {
    Command::new(labgrid("labgrid-client"))
        .args(["-x", &coordinator.addr])
        .args(args)
        .env("LG_USERNAME", user)
        .env("LG_HOSTNAME", format!("{user}-host"))
        .stdin(Stdio::null())
        .output()
        .expect("labgrid-client runs")
}

/// Who holds place `bench`, as `labgrid-client show` says (`None`: free).
fn holder(coordinator: &Coordinator) -> String {
    let shown = lg(coordinator, "ci", &["-p", "bench", "show"]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("acquired:").map(|h| h.trim().to_owned()))
        .unwrap_or_else(|| panic!("no `acquired:` in {text}"))
}

fn wait_for_holder(coordinator: &Coordinator, want: &dyn Fn(&str) -> bool, what: &str) {
    let started = Instant::now();
    loop {
        let now = holder(coordinator);
        if want(&now) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{what}: the place is held by {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "needs labgrid (PyPI) and real time: ci/lab.sh runs it with READERLAB_LABGRID_BIN"]
fn a_labgrid_place_is_refused_when_taken_held_while_used_and_free_after_a_kill() {
    let rig = serve();
    let coordinator = coordinator();
    let created = lg(&coordinator, "ci", &["-p", "bench", "create"]);
    assert!(created.status.success(), "{}", text(&created));
    let dir = tempfile::tempdir().unwrap();
    let bench = format!(
        "place = \"bench\"\ncoordinator = \"{}\"\nlabgrid_client = \"{}\"\n{}",
        coordinator.addr,
        labgrid("labgrid-client"),
        rig.run_bench(false)
    );
    let file = write(dir.path(), "bench.toml", &bench);
    let bagel = format!("{}:23", features("lab/bench.feature"));

    // Held by someone else: refused, naming the holder; nothing ran.
    let taken = lg(&coordinator, "alice", &["-p", "bench", "acquire"]);
    assert!(taken.status.success(), "{}", text(&taken));
    let output = lab_run(&file, &[&bagel], Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the labgrid place `bench` is held by alice-host/alice: nothing was run"),
        "{}",
        text(&output)
    );
    assert!(!stderr.contains("health checks of"), "nothing touched the bench: {stderr}");
    let released = lg(&coordinator, "alice", &["-p", "bench", "release"]);
    assert!(released.status.success(), "{}", text(&released));

    // A run holds it while it runs and frees it when it ends.
    let output = lab_run(&file, &["--json", &bagel], Duration::from_secs(180));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("holding the labgrid place `bench`"));
    assert_eq!(holder(&coordinator), "None", "released after the run");

    // A run killed outright (SIGKILL) still frees it: its guard releases.
    let mut child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--target", "lab", "--rig", file.to_str().unwrap(), &bagel])
        .env(KEY_ENV, KEY)
        .env("READERLAB_TEST_BENCH_POS_KEY", format!("{KEY}_pos"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_holder(&coordinator, &|h| h != "None", "the run took the place");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for_holder(&coordinator, &|h| h == "None", "after the run was killed");
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
#[ignore = "real time, about 30 s: ci/lab.sh runs it"]
fn an_operator_presents_the_card_when_prompted_and_no_operator_skips() {
    use std::io::{BufRead, Write};
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let hook = rig.run_bench(false);
    let start = hook.find("m2 = { run = 'curl -sSf -X POST").unwrap();
    let end = start + hook[start..].find('\n').unwrap();
    let bench =
        format!("{}m2 = {{ run = \"operator\", timeout_s = 60 }}{}", &hook[..start], &hook[end..]);
    let file = write(dir.path(), "operator.toml", &bench);
    let bagel = format!("{}:23", features("lab/bench.feature"));

    let output = lab_run(&file, &["--no-operator", "--json", &bagel], Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["skipped"], 1, "{report:#}");
    let reason = report["results"][0]["message"].as_str().unwrap_or_default();
    assert!(reason.contains("an operator must present the card on `m2`"), "{report:#}");

    // The operator is prompted on the terminal and presses Enter; here a
    // thread plays them, presenting the card through the control API.
    let mut child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--target", "lab", "--rig", file.to_str().unwrap(), "--json", &bagel])
        .env(KEY_ENV, KEY)
        .env("READERLAB_TEST_BENCH_POS_KEY", format!("{KEY}_pos"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (addr, serial) = (rig.addr, rig.m2_serial.clone());
    let operator = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains(">>> OPERATOR: present card 4242424242424242") {
                let presented = Command::new("curl")
                    .args(["-sSf", "-o", "/dev/null", "-X", "POST"])
                    .arg(format!("http://{addr}/_readerlab/readers/{serial}/present_card"))
                    .args(["-d", r#"{"number": "4242424242424242"}"#])
                    .status()
                    .unwrap();
                assert!(presented.success());
                stdin.write_all(b"\n").unwrap();
            }
            seen.push(line);
        }
        seen
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "the operator run did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = operator.join().unwrap().join("\n");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{seen}"));
    assert_eq!(report["passed"], 1, "{report:#}\n{seen}");
    assert!(seen.contains("press Enter when done (60 s)"), "{seen}");
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

/// A child process killed on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
#[ignore = "needs labgrid (PyPI): ci/lab.sh runs it with READERLAB_LABGRID_BIN"]
fn power_hooks_that_are_labgrid_actions_reach_the_bench_through_an_exporter() {
    let rig = serve();
    let coordinator = coordinator();
    let dir = tempfile::tempdir().unwrap();
    // The relay: labgrid's `rest` power model, whose port 0 powers the M2
    // off and on through the served bench's control API.
    let relay_port = free_port();
    let signal = r#"{\"signal_lost\": {\"reader\": 1}}"#;
    let control = |path: &str| {
        format!(
            "curl -sSf -o /dev/null -X POST http://{}/_readerlab/{path} -d '{{\"fault\": {}}}'",
            rig.addr,
            signal.replace("\\\"", "\"")
        )
    };
    let relay = Killed(
        Command::new(labgrid("python3"))
            .arg(format!("{}/tests/support/power_relay.py", env!("CARGO_MANIFEST_DIR")))
            .arg(relay_port.to_string())
            .env("RELAY_OFF_0", control("faults"))
            .env("RELAY_ON_0", control("faults/clear"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("the relay starts"),
    );
    // The exporter publishes the relay as the place's NetworkPowerPort.
    let config = write(
        dir.path(),
        "exporter.yaml",
        &format!(
            "bench-power:\n  NetworkPowerPort:\n    model: rest\n    host: 'http://127.0.0.1:{relay_port}/relay/{{index}}'\n    index: 0\n"
        ),
    );
    let exporter = Killed(
        Command::new(labgrid("labgrid-exporter"))
            .args(["-c", &coordinator.addr, "-n", "benchexp", "--hostname", "127.0.0.1"])
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("labgrid-exporter starts"),
    );
    assert!(lg(&coordinator, "ci", &["-p", "bench", "create"]).status.success());
    let matched = lg(&coordinator, "ci", &["-p", "bench", "add-match", "benchexp/bench-power/*"]);
    assert!(matched.status.success(), "{}", text(&matched));
    let started = Instant::now();
    loop {
        let listed = lg(&coordinator, "ci", &["resources"]);
        if String::from_utf8_lossy(&listed.stdout).contains("benchexp/bench-power/NetworkPowerPort")
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the exporter never published");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The bench's power hooks are labgrid actions on its place.
    let power = |how: &str| {
        format!(
            "{{ run = \"{} -x {} -p bench power {how}\", timeout_s = 30 }}",
            labgrid("labgrid-client"),
            coordinator.addr
        )
    };
    let bench = format!(
        "place = \"bench\"\ncoordinator = \"{}\"\nlabgrid_client = \"{}\"\n{}",
        coordinator.addr,
        labgrid("labgrid-client"),
        rig.bench(Some(&power("on")), None)
    )
    .replace(&rig.fault_hook(false, r#"{\"signal_lost\": {\"reader\": 1}}"#), &power("off"));
    let file = write(dir.path(), "bench.toml", &bench);
    let output = lab_check(&file, KEY, true);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    for check in ["hook.power_off", "effect.power_off", "hook.power_on", "effect.power_on"] {
        let row = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"] == check && r["target"] == "m2")
            .unwrap_or_else(|| panic!("no {check} in {report:#}"));
        assert_eq!(row["status"], "ok", "{check}: {report:#}");
    }
    assert_eq!(holder(&coordinator), "None", "released after lab check");
    drop((exporter, relay));
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
#[ignore = "real time, about 10 s: ci/lab.sh runs it"]
fn an_interrupted_run_undoes_the_faults_its_hooks_hold() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bench.toml", &rig.run_bench(false));
    let bagel = format!("{}:23", features("lab/bench.feature"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--target", "lab", "--rig", file.to_str().unwrap(), "--skip-health", &bagel])
        .env(KEY_ENV, KEY)
        .env("READERLAB_TEST_BENCH_POS_KEY", format!("{KEY}_pos"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let in_effect = || {
        let url = format!("http://{}/_readerlab/faults", rig.addr);
        let out = Command::new("curl").args(["-sSf", &url]).output().unwrap();
        let faults: Value = serde_json::from_slice(&out.stdout).unwrap();
        faults["in_effect"].as_array().map_or(0, Vec::len)
    };
    let started = Instant::now();
    while in_effect() == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the scenario never cut the link");
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("hooks.link_up.pos-backend.pos: undone"), "{stderr}");
    assert_eq!(in_effect(), 0, "the POS's internet is back: {stderr}");
}
