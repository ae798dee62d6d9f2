//! `readerlab run --target lab` on a bench with no hardware
//! (tests/support/bench.rs), in real time (minutes), and the bench's
//! labgrid place, with labgrid as published (PyPI; `READERLAB_LABGRID_BIN`
//! names the directory of its commands). A test target that a plain
//! `cargo test` leaves out (`test = false` in Cargo.toml): ci/lab.sh runs
//! it, and `cargo test --test lab_bench` runs it by hand.

#[path = "support/bench.rs"]
mod bench;

use bench::*;
use readerlab_emulator::serve::client::ControlClient;
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[test]
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
    let mut child = spawn_run(&file, &[&bagel], false, Stdio::null(), Stdio::null());
    wait_for_holder(&coordinator, &|h| h != "None", "the run took the place");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for_holder(&coordinator, &|h| h == "None", "after the run was killed");
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
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
    let mut child = spawn_run(&file, &["--json", &bagel], true, Stdio::piped(), Stdio::piped());
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
fn an_interrupted_run_undoes_the_faults_its_hooks_hold() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bench.toml", &rig.run_bench(false));
    let bagel = format!("{}:23", features("lab/bench.feature"));
    let mut child =
        spawn_run(&file, &["--skip-health", &bagel], false, Stdio::null(), Stdio::piped());
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
