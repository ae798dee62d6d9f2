//! `readerlab conform --pos CMD`: the conformance kit an SDK team runs
//! first (docs/driver-protocol.md). Protocol checks on a live served rig
//! (the handshake, every declared capability exercised, malformed requests
//! answered with JSON-RPC errors, every line the adapter writes checked
//! against the schema, deadlines), then every scenario the declared
//! capabilities allow, through `run --target served --pos CMD`. A table,
//! then the verdict: valid (exit 0), unknown (exit 2: indefinite outcomes,
//! or a capability the scenarios need is missing), invalid (exit 1: a
//! protocol check or an invariant broke; which, for which payment).

use super::{Outcome, Verdict};
use crate::driver::protocol::{
    self, ClockAdvance, PaymentCollect, Request, ResponseMessage, codes, validate,
};
use crate::driver::{Capabilities, DriverError, Peer, PosCommand, capability};
use crate::rig::{ProbeRig, ServedTarget};
use crate::run::Outcome as ScenarioOutcome;
use crate::run::{RunOptions, RunReport, report};
use anyhow::Context;
use readerlab_emulator::core::{Defects, ReaderModel};
use readerlab_emulator::sim::RigSpec;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// The flags of `readerlab conform`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The adapter (`--pos CMD` or `--pos-listen ADDR`): started, or
    /// connected to, once for the protocol checks and once per scenario.
    #[command(flatten)]
    pos: super::run::PosArgs,
    /// Feature files or directories to run after the protocol checks (none:
    /// the bundled features).
    paths: Vec<String>,
    /// Only scenarios whose tags match this expression.
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,
    /// Write JUnit XML here: one test case per protocol check and per scenario.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// How a protocol check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Failed,
    /// What the scenarios need is missing: the verdict is at best unknown.
    Missing,
    /// Not run (an earlier check failed, or the capability is not declared).
    Skipped,
}

/// One protocol check.
#[derive(Clone, Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check { name, status, detail: detail.into() }
    }
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Conformance {
    Valid,
    Unknown,
    Invalid,
}

/// Runs `readerlab conform`.
pub fn run(args: &Args) -> Outcome {
    if !args.pos.given() {
        anyhow::bail!(
            "give the adapter: --pos CMD, or --pos-listen ADDR for an app that connects in"
        );
    }
    let pos = args.pos.command()?.context("an adapter to judge")?;
    let started = Instant::now();
    let (checks, adapter) = protocol_checks(&pos)?;
    let handshake_ok = checks.first().is_some_and(|c| c.status == Status::Ok);
    let report = if handshake_ok { Some(run_scenarios(args, &pos)?) } else { None };
    let unknown = report.as_ref().map(|(_, unknown)| unknown.clone()).unwrap_or_default();
    let scenarios = report.as_ref().map(|(report, _)| report);
    let verdict = verdict(&checks, scenarios, &unknown);
    if let Some(path) = &args.junit {
        write_junit(path, &checks, scenarios)?;
    }
    if args.json {
        let json = json!({
            "verdict": verdict,
            "adapter": adapter,
            "command": pos.command,
            "protocol": checks,
            "scenarios": scenarios.map(report::json),
            "unknown": unknown,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&json).context("the report as JSON")?);
    } else {
        print_table(&pos, adapter.as_ref(), &checks, scenarios, &unknown, verdict);
    }
    Ok(match verdict {
        Conformance::Valid => Verdict::Holds,
        Conformance::Invalid => Verdict::Broken,
        Conformance::Unknown => Verdict::Unknown,
    })
}

fn verdict(checks: &[Check], scenarios: Option<&RunReport>, unknown: &[String]) -> Conformance {
    let failed_scenario = scenarios
        .is_some_and(|r| r.results.iter().any(|s| matches!(s.outcome, ScenarioOutcome::Failed(_))));
    if failed_scenario || checks.iter().any(|c| c.status == Status::Failed) {
        return Conformance::Invalid;
    }
    let ran = scenarios
        .is_some_and(|r| r.results.iter().any(|s| matches!(s.outcome, ScenarioOutcome::Passed)));
    if !ran || !unknown.is_empty() || checks.iter().any(|c| c.status == Status::Missing) {
        return Conformance::Unknown;
    }
    Conformance::Valid
}

/// The scenarios on the served target with the adapter as POS, each
/// history kept so the outcomes the adapter could not tell are found.
fn run_scenarios(args: &Args, pos: &PosCommand) -> anyhow::Result<(RunReport, Vec<String>)> {
    let histories = tempfile::Builder::new()
        .prefix("readerlab-conform-")
        .tempdir()
        .context("a directory for the scenarios' histories")?;
    let options = RunOptions {
        paths: args.paths.clone(),
        tags: args.tags.clone(),
        seed: 1,
        defects: Defects::default(),
        target: std::sync::Arc::new(ServedTarget { ble: None, pos: Some(pos.clone()) }),
        retries: 0,
        progress: !args.json,
        history_dir: Some(histories.path().to_owned()),
    };
    let report = crate::run::run(options).map_err(|problems| {
        for problem in &problems {
            eprintln!("{problem}");
        }
        anyhow::anyhow!("{} problem(s) with the features; nothing was run", problems.len())
    })?;
    let mut unknown = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(histories.path())
        .context("reading the scenarios' histories")?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for file in files {
        let Ok(text) = std::fs::File::open(&file) else { continue };
        let reader = std::io::BufReader::new(text);
        let Ok(history) = readerlab_emulator::history::read_history(reader) else { continue };
        let name = file.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        for payment in crate::check::check(&history).unknown {
            unknown.push(format!("{name}: {payment}"));
        }
    }
    Ok((report, unknown))
}

/// The protocol checks, against a served rig of an S700 and a WisePOS E.
fn protocol_checks(pos: &PosCommand) -> anyhow::Result<(Vec<Check>, Option<protocol::Software>)> {
    let mut spec = RigSpec::single(ReaderModel::S700, 1);
    spec.readers.push(ReaderModel::WiseposE);
    let rig = ProbeRig::start(spec).context("a served rig for the protocol checks")?;
    let hello = crate::driver::hello("conform", &probe_dir()?, rig.description());
    let mut peer = pos.open()?;
    peer.keep_transcript();
    let mut checks = Vec::new();
    let started = Instant::now();
    let answer = peer.call(&Request::SessionNew(Box::new(hello)), pos.deadline("session.new"));
    let result = match answer.map(|v| (validate("SessionNewResult", &v), v)) {
        Ok((Ok(()), value)) => {
            serde_json::from_value::<protocol::SessionNewResult>(value).map_err(|e| e.to_string())
        }
        Ok((Err(why), _)) => Err(why),
        Err(error) => Err(format!("{error}{}", peer.log().tail())),
    };
    let result = match result {
        Ok(result) if protocol::ACCEPTED.contains(&result.protocol) => result,
        Ok(result) => {
            let why =
                format!("it speaks protocol {}, readerlab {}", result.protocol, protocol::PROTOCOL);
            checks.push(Check::new("handshake", Status::Failed, why));
            return Ok((checks, Some(result.adapter)));
        }
        Err(why) => {
            checks.push(Check::new("handshake", Status::Failed, why));
            return Ok((checks, None));
        }
    };
    let waited = started.elapsed().as_millis();
    let detail = format!(
        "session.new answered in {waited} ms: {} {}",
        result.adapter.name, result.adapter.version
    );
    checks.push(Check::new("handshake", Status::Ok, detail));
    let capabilities = Capabilities(result.capabilities.clone());
    checks.push(capability_check(&capabilities));
    malformed_checks(&mut peer, pos, &capabilities, &mut checks);
    checks.push(end_check(&mut peer, pos));
    checks.push(transcript_check(&peer));
    drop(rig);
    Ok((checks, Some(result.adapter)))
}

/// A directory for the probe session's data, removed with the process's
/// temporary files.
fn probe_dir() -> anyhow::Result<String> {
    let dir = tempfile::Builder::new()
        .prefix("readerlab-conform-pos-")
        .tempdir()
        .context("a data directory for the adapter")?;
    Ok(dir.keep().to_string_lossy().into_owned())
}

fn capability_check(capabilities: &Capabilities) -> Check {
    let known = capability::ASKED;
    let strange: Vec<&String> = capabilities
        .0
        .keys()
        .filter(|k| !known.contains(&k.as_str()) && !k.starts_with("x-"))
        .collect();
    if !strange.is_empty() {
        let names: Vec<String> = strange.iter().map(|s| format!("`{s}`")).collect();
        return Check::new(
            "capabilities",
            Status::Failed,
            format!(
                "unknown capability {}: the adapter's own take an `x-VENDOR:` prefix",
                names.join(", ")
            ),
        );
    }
    let models = ReaderModel::ALL.iter().map(|m| m.id()).collect::<Vec<_>>();
    if let Some(model) = capabilities.models().iter().find(|m| !models.contains(&m.as_str())) {
        return Check::new(
            "capabilities",
            Status::Failed,
            format!("unknown model `{model}` (known: {})", models.join(", ")),
        );
    }
    if let Some(other) = capabilities.bluetooth().filter(|b| *b != "ble_tcp") {
        return Check::new(
            "capabilities",
            Status::Failed,
            format!("unknown bluetooth carrier `{other}` (protocol 2 knows `ble_tcp`)"),
        );
    }
    let mut missing = Vec::new();
    let smart = matches!(capabilities.integration(), Some("server_driven" | "lan"));
    if !smart && capabilities.bluetooth().is_none() {
        missing.push("integration: server_driven or lan, or bluetooth: ble_tcp");
    }
    if capabilities.models().is_empty() {
        missing.push("models");
    }
    if !capabilities.has(capability::CLOCK) {
        missing.push("clock");
    }
    let declared = capabilities.names().join(", ");
    if missing.is_empty() {
        Check::new("capabilities", Status::Ok, declared)
    } else {
        let detail = format!(
            "the scenarios need {} (declared: {})",
            missing.join(", "),
            if declared.is_empty() { "nothing".to_owned() } else { declared }
        );
        Check::new("capabilities", Status::Missing, detail)
    }
}

/// Malformed lines and undeclared methods get JSON-RPC errors; declared
/// capabilities answer.
fn malformed_checks(
    peer: &mut Peer,
    pos: &PosCommand,
    capabilities: &Capabilities,
    checks: &mut Vec<Check>,
) {
    let deadline = pos.deadline("");
    let raw: [(&'static str, &str, i64); 3] = [
        ("parse error", "{\"jsonrpc\": \"2.0\", \"id\": 90, this is not JSON", codes::PARSE_ERROR),
        ("invalid request", r#"{"jsonrpc":"2.0","id":91,"params":{}}"#, codes::INVALID_REQUEST),
        (
            "unknown method",
            r#"{"jsonrpc":"2.0","id":92,"method":"readerlab.no_such_method","params":{}}"#,
            codes::METHOD_NOT_FOUND,
        ),
    ];
    for (name, line, code) in raw {
        let answer = peer.send_line(line).and_then(|()| peer.await_any_response(name, deadline));
        checks.push(expect_error(name, answer, &[code]));
    }
    let bad_params =
        r#"{"jsonrpc":"2.0","id":93,"method":"payment.collect","params":{"payment":5}}"#;
    let answer = peer
        .send_line(bad_params)
        .and_then(|()| peer.await_any_response("invalid params", deadline));
    // An adapter that takes no payment may not know the method at all.
    let accepted: &[i64] = if capabilities.models().is_empty() {
        &[codes::INVALID_PARAMS, codes::METHOD_NOT_FOUND]
    } else {
        &[codes::INVALID_PARAMS]
    };
    checks.push(expect_error("invalid params", answer, accepted));
    if capabilities.has(capability::CLOCK) {
        let call = peer.call(&Request::ClockAdvance(ClockAdvance { now_ms: 0 }), deadline);
        checks.push(match call {
            Ok(_) => Check::new("clock.advance", Status::Ok, "answered"),
            Err(error) => Check::new("clock.advance", Status::Failed, error.to_string()),
        });
    }
    if capabilities.has(capability::DEVICE_NETWORK) {
        let told = Request::DeviceNetwork(protocol::DeviceNetwork { up: true });
        checks.push(match peer.call(&told, deadline) {
            Ok(_) => Check::new("device.network", Status::Ok, "answered"),
            Err(error) => Check::new("device.network", Status::Failed, error.to_string()),
        });
    }
    // A payment on a reader the rig does not have is refused, definitely.
    let stranger = Request::PaymentCollect(PaymentCollect {
        payment: "conform-no-such-reader".to_owned(),
        reader: "NO-SUCH-READER".to_owned(),
        amount: protocol::Amount { amount: 1000, currency: "usd".to_owned() },
        behavior: protocol::Behavior::PreferOnline,
    });
    let answer = peer.call(&stranger, pos.deadline("payment.collect"));
    checks.push(match answer {
        Err(DriverError::Rpc { error, .. }) if error.definite() => {
            Check::new("unknown reader", Status::Ok, format!("refused, definite ({})", error.code))
        }
        Err(DriverError::Rpc { error, .. }) => Check::new(
            "unknown reader",
            Status::Failed,
            format!("refused as indefinite ({}: {}): nothing can have happened on a reader that does not exist; say `data.definite: true`", error.code, error.message),
        ),
        Ok(value) => Check::new("unknown reader", Status::Failed, format!("accepted a payment on a reader the rig does not have: {value}")),
        Err(error) => Check::new("unknown reader", Status::Failed, error.to_string()),
    });
    for (name, request) in [
        (
            capability::CANCEL,
            Request::PaymentCancel(protocol::PaymentCancel { payment: "conform-none".to_owned() }),
        ),
        (capability::SYNC_FORCE, Request::SyncForce(protocol::Empty {})),
        (capability::QUEUE_INSPECT, Request::QueueInspect(protocol::Empty {})),
    ] {
        checks.push(declared_or_not(peer, pos, capabilities, name, &request));
    }
}

/// A declared capability answers; an undeclared one is method not found.
fn declared_or_not(
    peer: &mut Peer,
    pos: &PosCommand,
    capabilities: &Capabilities,
    name: &'static str,
    request: &Request,
) -> Check {
    let answer = peer.call(request, pos.deadline(request.method()));
    match (capabilities.has(name), answer) {
        (true, Ok(value)) => {
            let def =
                if name == capability::QUEUE_INSPECT { "QueueInspectResult" } else { "Empty" };
            match validate(def, &value) {
                Ok(()) => Check::new(name, Status::Ok, "declared, and answered"),
                Err(why) => Check::new(
                    name,
                    Status::Failed,
                    format!("its result does not fit the schema: {why}"),
                ),
            }
        }
        // Cancelling a payment that does not exist may be refused.
        (true, Err(DriverError::Rpc { error, .. })) if name == capability::CANCEL => Check::new(
            name,
            Status::Ok,
            format!("declared; an unknown payment refused ({})", error.code),
        ),
        (true, Err(error)) => Check::new(name, Status::Failed, error.to_string()),
        (false, Err(DriverError::Rpc { error, .. })) if error.code == codes::METHOD_NOT_FOUND => {
            Check::new(name, Status::Skipped, "not declared, and answered method not found")
        }
        (false, Ok(_)) => Check::new(
            name,
            Status::Failed,
            "not declared, but it answered: declare it, or answer -32601",
        ),
        (false, Err(error)) => {
            Check::new(name, Status::Failed, format!("not declared: expected -32601, got {error}"))
        }
    }
}

fn expect_error(
    name: &'static str,
    answer: Result<ResponseMessage, DriverError>,
    codes: &[i64],
) -> Check {
    match answer {
        Ok(ResponseMessage { error: Some(error), .. }) if codes.contains(&error.code) => {
            Check::new(name, Status::Ok, format!("{} {}", error.code, error.message))
        }
        Ok(ResponseMessage { error: Some(error), .. }) => Check::new(
            name,
            Status::Failed,
            format!(
                "answered error {} ({}); JSON-RPC says {}",
                error.code, error.message, codes[0]
            ),
        ),
        Ok(response) => Check::new(
            name,
            Status::Failed,
            format!(
                "answered with a result ({:?}); JSON-RPC says error {}",
                response.result, codes[0]
            ),
        ),
        Err(error) => Check::new(name, Status::Failed, error.to_string()),
    }
}

fn end_check(peer: &mut Peer, pos: &PosCommand) -> Check {
    let ended = peer.call(&Request::SessionEnd(protocol::Empty {}), pos.deadline("session.end"));
    let process = peer.is_process();
    let how = peer.close();
    match ended {
        // A connected app's process is not readerlab's to watch.
        Ok(_) if how == "exited with status 0" || !process => {
            Check::new("session.end", Status::Ok, format!("answered, then {how}"))
        }
        Ok(_) => Check::new(
            "session.end",
            Status::Failed,
            format!("answered, then {how} (expected to exit with status 0)"),
        ),
        Err(error) => Check::new("session.end", Status::Failed, error.to_string()),
    }
}

/// Every line the adapter wrote fits the schema.
fn transcript_check(peer: &Peer) -> Check {
    let lines = peer.transcript();
    for (number, text) in lines {
        let Ok(value) = serde_json::from_str::<Value>(text) else { continue };
        if let Err(why) = validate("AdapterMessage", &value) {
            return Check::new("schema", Status::Failed, format!("line {number}: {why}: {text}"));
        }
    }
    Check::new("schema", Status::Ok, format!("{} lines, each a message of the schema", lines.len()))
}

fn print_table(
    pos: &PosCommand,
    adapter: Option<&protocol::Software>,
    checks: &[Check],
    scenarios: Option<&RunReport>,
    unknown: &[String],
    verdict: Conformance,
) {
    let name = adapter
        .map_or_else(|| "(no handshake)".to_owned(), |a| format!("{} {}", a.name, a.version));
    println!("\nreaderlab conform: {name} (`{}`)\n", pos.command);
    println!("protocol checks");
    for check in checks {
        let status = match check.status {
            Status::Ok => "ok",
            Status::Failed => "FAIL",
            Status::Missing => "missing",
            Status::Skipped => "-",
        };
        println!("  {status:<8} {:<16} {}", check.name, check.detail);
    }
    if let Some(report) = scenarios {
        let count = |f: fn(&ScenarioOutcome) -> bool| {
            report.results.iter().filter(|r| f(&r.outcome)).count()
        };
        println!(
            "\nscenarios (served, the adapter as POS): {} passed, {} failed, {} skipped",
            count(|o| matches!(o, ScenarioOutcome::Passed)),
            count(|o| matches!(o, ScenarioOutcome::Failed(_))),
            count(|o| matches!(o, ScenarioOutcome::Skipped(_))),
        );
        for result in &report.results {
            if let ScenarioOutcome::Failed(why) = &result.outcome {
                println!("  FAIL {}:{}  {}", result.path, result.line, result.name);
                for line in why.lines().filter(|l| broken_invariant(l)) {
                    println!("       {}", line.trim());
                }
            }
        }
    }
    for payment in unknown {
        println!("  unknown outcome: {payment}");
    }
    let verdict = match verdict {
        Conformance::Valid => "valid (exit 0)",
        Conformance::Unknown => {
            "unknown (exit 2): a needed capability is missing, no scenario ran, or an outcome is unknown"
        }
        Conformance::Invalid => "invalid (exit 1)",
    };
    println!("\nverdict: {verdict}");
}

/// A report line naming a broken invariant (`I3 violated for lunch: ...`).
fn broken_invariant(line: &str) -> bool {
    let line = line.trim_start();
    line.len() > 3
        && line.starts_with('I')
        && line[1..].starts_with(|c: char| c.is_ascii_digit())
        && line.contains(" violated")
}

fn write_junit(
    path: &PathBuf,
    checks: &[Check],
    scenarios: Option<&RunReport>,
) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot write JUnit to {}", path.display()))?;
    let protocol: Vec<(String, Option<String>, bool)> = checks
        .iter()
        .map(|c| {
            (
                c.name.to_owned(),
                (c.status == Status::Failed).then(|| c.detail.clone()),
                matches!(c.status, Status::Skipped | Status::Missing),
            )
        })
        .collect();
    report::write_conform_junit(&protocol, scenarios, std::io::BufWriter::new(file))
        .with_context(|| format!("writing JUnit to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariant_lines_are_picked_out_of_a_failure() {
        assert!(broken_invariant("  I3 violated for lunch: the POS reported it failed"));
        assert!(!broken_invariant("In the after-hook"));
        assert!(!broken_invariant("I"));
    }

    #[test]
    fn missing_capabilities_make_the_verdict_unknown_and_failures_invalid() {
        let ok = Check::new("handshake", Status::Ok, "");
        let missing = Check::new("capabilities", Status::Missing, "");
        let failed = Check::new("parse error", Status::Failed, "");
        assert_eq!(verdict(&[ok.clone(), missing.clone()], None, &[]), Conformance::Unknown);
        assert_eq!(verdict(&[ok.clone(), missing, failed], None, &[]), Conformance::Invalid);
        assert_eq!(verdict(&[ok], None, &[]), Conformance::Unknown);
    }
}
