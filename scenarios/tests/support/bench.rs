//! What the lab tests share (`tests/lab.rs`, `tests/lab_bench.rs`): a
//! served rig playing a bench with no hardware (an M2 offered on
//! BLE-over-TCP, an S700 on its LAN API, the backend), bench files that
//! reach it only the way they would reach hardware, with `curl` calls to its
//! control API as hooks, and readerlab as a child process with a deadline.
#![allow(dead_code)]

use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::RigSpec;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "sk_test_readerlab";
pub const KEY_ENV: &str = "READERLAB_TEST_BENCH_KEY";
/// Each run of `lab check` (a power cycle, an adapter session) ends within this.
pub const LIMIT: Duration = Duration::from_secs(90);

/// The served rig and what the bench file needs from it.
pub struct Rig {
    _server: Server,
    pub runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub m2_ble: String,
    pub m2_serial: String,
    pub s700_serial: String,
}

pub fn serve() -> Rig {
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
    pub fn fault_hook(&self, clear: bool, fault: &str) -> String {
        let path = if clear { "faults/clear" } else { "faults" };
        format!(
            "{{ run = \"curl -sSf -X POST http://{}/_readerlab/{path} -d '{{\\\"fault\\\": {fault}}}'\", timeout_s = 10 }}",
            self.addr
        )
    }

    /// The bench file; `power_on` and `link_up` replace the working hooks.
    pub fn bench(&self, power_on: Option<&str>, link_up: Option<&str>) -> String {
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
    pub fn run_bench(&self, reboot: bool) -> String {
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
pub fn lab_check(file: &Path, key: &str, json: bool) -> Output {
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

pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `readerlab run --target lab --rig FILE ARGS...` started with both keys in
/// the environment, its stdout and stderr as given, stdin piped when
/// `stdin` (an operator typing), closed otherwise.
pub fn spawn_run(file: &Path, args: &[&str], stdin: bool, out: Stdio, err: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--target", "lab", "--rig", file.to_str().unwrap()])
        .args(args)
        .env(KEY_ENV, KEY)
        .env("READERLAB_TEST_BENCH_POS_KEY", format!("{KEY}_pos"))
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("readerlab runs")
}

/// `readerlab run --target lab --rig FILE ARGS...`, within `limit`.
pub fn lab_run(file: &Path, args: &[&str], limit: Duration) -> Output {
    let started = Instant::now();
    let child = spawn_run(file, args, false, Stdio::piped(), Stdio::piped());
    let waited = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waited.is_finished() {
        assert!(started.elapsed() < limit, "run --target lab did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    waited.join().unwrap()
}

/// A bundled feature file or directory, by its path under `features/`.
pub fn features(path: &str) -> String {
    format!("{}/../features/{path}", env!("CARGO_MANIFEST_DIR"))
}
