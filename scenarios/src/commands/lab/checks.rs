//! The health checks of `readerlab lab check`, in the order they run:
//! every reader reachable, the backend with its key, each hook and its
//! effect, then the POS adapter's `session.new` and `session.end`. Each
//! check has a deadline and gives one row.

use super::bench::{Bench, BenchReader, Find, Hook};
use super::probe::{self, PROBE_DEADLINE};
use super::{hooks, http};
use crate::driver::protocol::{self, Family, StoredBy};
use crate::driver::{PosCommand, Session};
use readerlab_emulator::core::Family as CoreFamily;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// How long a powered-off reader may take to stop answering.
pub const OFF_DEADLINE: Duration = Duration::from_secs(15);
/// How long the backend may take to answer.
const BACKEND_DEADLINE: Duration = Duration::from_secs(10);

/// A check's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Fail,
    /// Not run, with the reason in its detail.
    Skip,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub check: String,
    pub target: String,
    pub status: Status,
    pub detail: String,
    pub ms: u128,
}

/// Runs the checks in order and collects their rows.
pub struct Checker<'b> {
    bench: &'b Bench,
    runtime: Runtime,
    pub rows: Vec<Row>,
    /// The serial each reader told (Bluetooth readers), for `session.new`.
    serials: BTreeMap<String, String>,
}

impl<'b> Checker<'b> {
    pub fn new(bench: &'b Bench) -> anyhow::Result<Checker<'b>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Checker { bench, runtime, rows: Vec::new(), serials: BTreeMap::new() })
    }

    /// Every check of the bench.
    pub fn run_all(&mut self) {
        let bench = self.bench;
        for reader in &bench.readers {
            self.reachable(reader);
        }
        self.backend();
        for reader in &bench.readers {
            self.power(reader);
        }
        self.links();
        self.present_card();
        self.pos();
    }

    fn row(&mut self, check: &str, target: &str, started: Instant, result: Result<String, String>) {
        let (status, detail) = match result {
            Ok(detail) => (Status::Ok, detail),
            Err(detail) => (Status::Fail, detail),
        };
        self.push(check, target, status, detail, started);
    }

    fn push(
        &mut self,
        check: &str,
        target: &str,
        status: Status,
        detail: String,
        started: Instant,
    ) {
        let ms = started.elapsed().as_millis();
        self.rows.push(Row {
            check: check.to_owned(),
            target: target.to_owned(),
            status,
            detail,
            ms,
        });
    }

    fn reachable(&mut self, reader: &BenchReader) {
        let started = Instant::now();
        let seen = probe::look(&self.runtime, reader, PROBE_DEADLINE);
        if let Ok(probe::Seen { serial: Some(serial), .. }) = &seen {
            self.serials.insert(reader.id.clone(), serial.clone());
        }
        let result = seen.map(|s| format!("{} ({})", s.detail, reader.model.id()));
        self.row("reader.reachable", &reader.id, started, result);
    }

    fn backend(&mut self) {
        let started = Instant::now();
        let bench = self.bench;
        let Some(backend) = &bench.backend else {
            let detail = "no `backend` in the bench file".to_owned();
            self.push("backend.reachable", "-", Status::Skip, detail, started);
            return;
        };
        let result = match std::env::var(&backend.key_env) {
            Ok(key) if !key.is_empty() => backend_answers(&backend.url, &key),
            _ => {
                Err(format!("the environment variable `{}` (key_env) is not set", backend.key_env))
            }
        };
        let target = backend.url.clone();
        self.row("backend.reachable", &target, started, result);
    }

    /// Runs `action`'s hook for `target`, as its own row; whether it passed.
    fn hook(&mut self, action: &str, target: &str, hook: &Hook) -> bool {
        let started = Instant::now();
        let result = hooks::run(hook, action, target)
            .map(|took| format!("exit 0 in {} ms", took.as_millis()));
        let passed = result.is_ok();
        self.row(&format!("hook.{action}"), target, started, result);
        passed
    }

    /// Waits for `reader` to come (`want`) or go, as a row of its own.
    fn effect(&mut self, check: &str, reader: &BenchReader, want: bool, within: Duration) -> bool {
        let started = Instant::now();
        let result = probe::wait_until(&self.runtime, reader, want, within);
        let passed = result.is_ok();
        self.row(check, &reader.id, started, result);
        passed
    }

    fn power(&mut self, reader: &BenchReader) {
        let bench = self.bench;
        let hooks = &bench.hooks;
        let (off, on) = (hooks.power_off.get(&reader.id), hooks.power_on.get(&reader.id));
        match (off, on) {
            (Some(off), Some(on)) => {
                if self.hook("power_off", &reader.id, off) {
                    self.effect("effect.power_off", reader, false, OFF_DEADLINE);
                }
                if self.hook("power_on", &reader.id, on) {
                    self.effect("effect.power_on", reader, true, reader.boot);
                }
            }
            (Some(_), None) => {
                let why = "not run: no power_on hook would bring the reader back".to_owned();
                self.push("hook.power_off", &reader.id, Status::Skip, why, Instant::now());
            }
            (None, Some(on)) => {
                if self.hook("power_on", &reader.id, on) {
                    self.effect("effect.power_on", reader, true, reader.boot);
                }
            }
            (None, None) => {}
        }
        for (action, hook) in [
            ("power_cycle", hooks.power_cycle.get(&reader.id)),
            ("reboot", hooks.reboot.get(&reader.id)),
        ] {
            if let Some(hook) = hook
                && self.hook(action, &reader.id, hook)
            {
                self.effect(&format!("effect.{action}"), reader, true, reader.boot);
            }
        }
    }

    /// Each link taken down, then up again; what a link does is not
    /// observable from here, so only the hooks are judged (said so).
    fn links(&mut self) {
        let bench = self.bench;
        let hooks = &bench.hooks;
        for ((link, downs), (_, ups)) in
            hooks.link_down.each().into_iter().zip(hooks.link_up.each())
        {
            let targets: std::collections::BTreeSet<&String> =
                downs.keys().chain(ups.keys()).collect();
            for target in targets {
                match (downs.get(target), ups.get(target)) {
                    (Some(down), Some(up)) => {
                        self.hook(&format!("link_down.{link}"), target, down);
                        self.hook(&format!("link_up.{link}"), target, up);
                        if let Some(reader) = bench.readers.iter().find(|r| &r.id == target) {
                            self.effect(
                                &format!("effect.link_up.{link}"),
                                reader,
                                true,
                                reader.boot,
                            );
                        }
                    }
                    (Some(_), None) => {
                        let why = "not run: no link_up hook would bring the link back".to_owned();
                        self.push(
                            &format!("hook.link_down.{link}"),
                            target,
                            Status::Skip,
                            why,
                            Instant::now(),
                        );
                    }
                    (None, Some(up)) => {
                        self.hook(&format!("link_up.{link}"), target, up);
                    }
                    (None, None) => {}
                }
            }
        }
    }

    /// Presenting a card outside a payment proves nothing lab check can
    /// see, and a robot arm or an operator may not be ready for it: not run.
    fn present_card(&mut self) {
        let targets: Vec<String> = self.bench.hooks.present_card.keys().cloned().collect();
        for target in targets {
            let why = "not run: a card presented outside a payment has no effect lab check can see; `run` uses it".to_owned();
            self.push("hook.present_card", &target, Status::Skip, why, Instant::now());
        }
    }

    fn pos(&mut self) {
        let started = Instant::now();
        let Some(command) = self.bench.pos.clone() else {
            self.push(
                "pos.session",
                "-",
                Status::Skip,
                "no `pos` in the bench file".to_owned(),
                started,
            );
            return;
        };
        let result = self.session(&command);
        self.row("pos.session", &command, started, result);
    }

    fn session(&self, command: &str) -> Result<String, String> {
        let backend = self.bench.backend.as_ref().ok_or("the POS needs the bench's `backend`")?;
        let key = std::env::var(&backend.pos_key_env).map_err(|_| {
            format!("the environment variable `{}` is not set", backend.pos_key_env)
        })?;
        let readers = self.bench.readers.iter().map(|r| self.describe(r)).collect();
        let rig = protocol::Rig {
            clock: protocol::Clock { mode: protocol::ClockMode::Real, now_ms: 0 },
            backend: protocol::Backend {
                base_url: backend.url.clone(),
                secret_key: key,
                account: "acct_readerlab".to_owned(),
            },
            readers,
            offline: None,
        };
        let dir = tempfile::tempdir().map_err(|e| format!("a data directory for the POS: {e}"))?;
        let hello = crate::driver::hello("lab-check", &dir.path().display().to_string(), rig);
        let pos = PosCommand::spawn(command.to_owned(), None);
        let started = Instant::now();
        let mut session = Session::start(&pos, hello)
            .map_err(|(e, log)| format!("session.new: {e}{}", probe::tail(&log)))?;
        let answered = started.elapsed().as_millis();
        let adapter = format!("{} {}", session.adapter.name, session.adapter.version);
        let how = session.end().map_err(|e| format!("session.end: {e}"))?;
        Ok(format!("{adapter}: session.new in {answered} ms, session.end: {how}"))
    }

    fn describe(&self, reader: &BenchReader) -> protocol::Reader {
        describe(reader, self.serials.get(&reader.id).map(String::as_str))
    }

    /// The serial each Bluetooth reader told, by bench reader id.
    pub fn serials(&self) -> &BTreeMap<String, String> {
        &self.serials
    }
}

/// A bench reader as `session.new` describes it: its serial as it told
/// it (else the bench's id for it), and how the POS reaches it.
pub fn describe(reader: &BenchReader, serial: Option<&str>) -> protocol::Reader {
    let smart = reader.model.family() == CoreFamily::Smart;
    protocol::Reader {
        serial: serial.map_or_else(|| reader.id.clone(), str::to_owned),
        model: reader.model.id().to_owned(),
        family: if smart { Family::Smart } else { Family::Bluetooth },
        stored_by: if smart { StoredBy::Reader } else { StoredBy::Pos },
        registration_code: None,
        lan: match &reader.find {
            Find::Lan(url) => Some(url.clone()),
            Find::BleTcp(_) => None,
        },
        ble_tcp: match &reader.find {
            Find::BleTcp(addr) => Some(addr.clone()),
            Find::Lan(_) => None,
        },
    }
}

/// An authenticated request: the readers registered on the account.
fn backend_answers(url: &str, key: &str) -> Result<String, String> {
    let answer =
        http::get(&format!("{url}/v1/terminal/readers?limit=100"), Some(key), BACKEND_DEADLINE)?;
    match answer.status {
        200 => {
            let count = serde_json::from_str::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["data"].as_array().map(Vec::len));
            match count {
                Some(n) => Ok(format!(
                    "GET /v1/terminal/readers with the key: 200, {n} reader(s) registered"
                )),
                None => Err(format!(
                    "GET /v1/terminal/readers: 200 but not a list: {}",
                    probe::tail(&answer.body)
                )),
            }
        }
        401 => Err("GET /v1/terminal/readers: 401: the key is wrong".to_owned()),
        status => Err(format!("GET /v1/terminal/readers: {status}: {}", probe::tail(&answer.body))),
    }
}
