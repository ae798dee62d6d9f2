//! `readerlab replay`: runs a recorded history again on the simulator from
//! what it records (`rig.started`'s seed, readers and defects, and
//! `rig.source`'s schedule) and compares the two event by event.
//!
//! - A history the simulator wrote must come back identical: it prints
//!   `identical (N events)` (exit 0) or the first divergence with the
//!   events just before it (exit 1).
//! - A history another target wrote (served, an outside POS) may match
//!   one for one (the served rig runs the same core on a virtual clock):
//!   then it is identical too. When it does not (real sockets, an outside
//!   POS's own timing), it is judged again by the checker, its schedule is
//!   run on the simulator and judged too, and what differs (verdicts, event
//!   counts by name, each payment's end, the first differing event) is
//!   listed; exit 1 when the recording breaks an invariant or the two
//!   verdicts differ.
//! - A `.feature` is run and compared with the history beside it (the
//!   `<name>.jsonl` that `explore` writes next to `<name>.feature`).

use super::sim::{SimRequest, simulate};
use super::{Outcome, Verdict};
use crate::check::{Report, check};
use crate::run::recorded::feature_text;
use crate::run::{Outcome as ScenarioOutcome, RunOptions, history_file, run};
use anyhow::{Context, bail};
use readerlab_emulator::core::{Defect, Defects, Event, EventBody, RunSource};
use readerlab_emulator::history::read_history;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The flags of `readerlab replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A history (`.jsonl`, written by `run --history-dir`, `sim --history`,
    /// `explore` or `serve --history`), or a `.feature` with its recorded
    /// history beside it (`NAME.feature` and `NAME.jsonl`).
    file: PathBuf,
    /// How many events before a divergence to show.
    #[arg(long, default_value_t = 5, value_name = "N")]
    context: usize,
}

/// Runs `readerlab replay`.
pub fn run_replay(args: &Args) -> Outcome {
    let (recording, feature) = if args.file.extension().is_some_and(|e| e == "feature") {
        let beside = args.file.with_extension("jsonl");
        if !beside.exists() {
            bail!(
                "{}: no recorded history beside it ({} does not exist): replay compares a run \
                 with its recording; give the history itself, or write one with \
                 `readerlab run {} --history-dir DIR`",
                args.file.display(),
                beside.display(),
                args.file.display()
            );
        }
        (beside, Some(args.file.clone()))
    } else {
        (args.file.clone(), None)
    };
    let recorded = Recording::read(&recording)?;
    let (text, verdict) = match (&recorded.source, feature) {
        (_, Some(feature)) => {
            let text = std::fs::read_to_string(&feature)
                .with_context(|| format!("cannot read {}", feature.display()))?;
            let replayed = run_scenario(&text, &recorded)?;
            compare(&recorded, &replayed, args.context)
        }
        (RunSource::Random { hours, payments, intensity_milli }, None) => {
            let request = SimRequest {
                hours: *hours,
                payments: *payments,
                seed: recorded.seed,
                readers: recorded.readers.clone(),
                defects: recorded.defects.iter().collect::<Vec<Defect>>(),
                intensity: *intensity_milli as f64 / 1000.0,
                history: None,
            };
            let dir = tempfile::tempdir().context("a temporary directory")?;
            let path = dir.path().join("replay.jsonl");
            simulate(&SimRequest { history: Some(path.clone()), ..request })?;
            let replayed = Recording::read(&path)?;
            compare(&recorded, &replayed, args.context)
        }
        (RunSource::Scenario { target, .. }, None) => {
            let text = feature_text(&recorded.source)
                .map_err(|e| anyhow::anyhow!("{}: {e}", recording.display()))?;
            let replayed = run_scenario(&text, &recorded)?;
            let (text, verdict) = compare(&recorded, &replayed, args.context);
            match (target.as_str(), verdict) {
                ("sim", _) => (text, verdict),
                (_, Verdict::Holds) => (
                    format!(
                        "{}  (written by the {target} target; the simulator agrees)\n",
                        text.trim_end()
                    ),
                    verdict,
                ),
                _ => {
                    let (mut list, verdict) = rejudge(&recorded, &replayed, target);
                    list.push_str(&text.replace("readerlab replay: ", "  first difference: "));
                    (list, verdict)
                }
            }
        }
    };
    print!("{text}");
    Ok(verdict)
}

/// A history as `replay` reads it: its events, and each line as JSON.
struct Recording {
    path: PathBuf,
    events: Vec<Event>,
    /// Each line as JSON, to compare, and as written, to show.
    lines: Vec<Value>,
    raw: Vec<String>,
    seed: u64,
    defects: Defects,
    readers: Vec<readerlab_emulator::core::ReaderModel>,
    source: RunSource,
}

impl Recording {
    fn read(path: &Path) -> anyhow::Result<Recording> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read history {}", path.display()))?;
        let events = read_history(text.as_bytes())
            .with_context(|| format!("cannot read history {}", path.display()))?;
        let raw: Vec<String> = text.lines().map(str::to_owned).collect();
        let lines =
            raw.iter().map(|line| serde_json::from_str(line).unwrap_or(Value::Null)).collect();
        let EventBody::RigStarted { seed, defects, readers, .. } = &events[0].body else {
            unreachable!("read_history checks that the first event is rig.started");
        };
        let source = events.iter().take(2).find_map(|e| match &e.body {
            EventBody::RigSource { source } => Some(source.clone()),
            _ => None,
        });
        let Some(source) = source else {
            bail!(
                "{}: the history has no rig.source event after rig.started, so nothing records \
                 what ran (a rig started by hand through the control API, or a history written \
                 before replay existed); `readerlab check {}` still judges it",
                path.display(),
                path.display()
            );
        };
        Ok(Recording {
            path: path.to_owned(),
            seed: *seed,
            defects: defects.clone(),
            readers: readers.iter().map(|r| r.model).collect(),
            events,
            lines,
            raw,
            source,
        })
    }
}

/// Runs a one-scenario feature on the simulator with the recording's seed
/// and defects; its history.
fn run_scenario(feature: &str, recorded: &Recording) -> anyhow::Result<Recording> {
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let path = dir.path().join("replay.feature");
    std::fs::write(&path, feature).with_context(|| format!("writing {}", path.display()))?;
    let options = RunOptions {
        paths: vec![path.display().to_string()],
        seed: recorded.seed,
        defects: recorded.defects.clone(),
        history_dir: Some(dir.path().to_owned()),
        ..RunOptions::default()
    };
    let report = run(options).map_err(|errors| anyhow::anyhow!("{}", errors.join("\n")))?;
    let [result] = report.results.as_slice() else {
        bail!("a replay runs one scenario; this feature has {}", report.results.len());
    };
    if let ScenarioOutcome::Skipped(reason) = &result.outcome {
        bail!("the simulator skips this scenario: {reason}");
    }
    Recording::read(&history_file(dir.path(), Path::new(&result.path), result.line))
}

/// Compares event by event. `rig.source` is compared on its schedule
/// only: the feature's path and line are where it was read from.
fn compare(recorded: &Recording, replayed: &Recording, context: usize) -> (String, Verdict) {
    let mut out = String::new();
    let same = |a: &Value, b: &Value| match (a.get("event"), b.get("event")) {
        (Some(x), Some(y)) if x == "rig.source" && y == "rig.source" => {
            schedule(a) == schedule(b) && a.get("seq") == b.get("seq")
        }
        _ => a == b,
    };
    let (a, b) = (&recorded.lines, &replayed.lines);
    let first = (0..a.len().max(b.len())).find(|&i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) => !same(x, y),
        _ => true,
    });
    let Some(at) = first else {
        let _ = writeln!(out, "readerlab replay: identical ({} events)", a.len());
        return (out, Verdict::Holds);
    };
    let _ = writeln!(
        out,
        "readerlab replay: {} diverges from its replay at event {} of {} (replayed: {})",
        recorded.path.display(),
        at + 1,
        a.len(),
        b.len()
    );
    let t = |v: Option<&Value>| {
        v.and_then(|v| v.get("t_ms")).map_or("-".to_owned(), |t| format!("{t} ms"))
    };
    let _ = writeln!(out, "  time: recorded {}, replayed {}", t(a.get(at)), t(b.get(at)));
    if at > 0 {
        let _ = writeln!(out, "  the events just before it (the same in both):");
        for line in &recorded.raw[at.saturating_sub(context)..at] {
            let _ = writeln!(out, "    {line}");
        }
    }
    let show =
        |r: &Recording| r.raw.get(at).cloned().unwrap_or_else(|| "(the history ends)".into());
    let _ = writeln!(out, "  recorded: {}", show(recorded));
    let _ = writeln!(out, "  replayed: {}", show(replayed));
    let _ = writeln!(
        out,
        "  seed {}; replay command: readerlab replay {}",
        recorded.seed,
        recorded.path.display()
    );
    (out, Verdict::Broken)
}

fn schedule(line: &Value) -> Option<&Value> {
    line.get("source").and_then(|s| s.get("steps"))
}

/// A history from a real-time target: judged again, its schedule judged
/// on the simulator, and the differences listed.
fn rejudge(recorded: &Recording, replayed: &Recording, target: &str) -> (String, Verdict) {
    let mut out = String::new();
    let mine = check(&recorded.events);
    let sim = check(&replayed.events);
    let _ = writeln!(
        out,
        "readerlab replay: {} was written by the {target} target and differs from the \
         simulator's run of its schedule: re-judged, and the differences listed",
        recorded.path.display()
    );
    let verdict = |r: &Report| if r.holds() { "all invariants hold" } else { "INVARIANTS BROKEN" };
    let _ = writeln!(out, "  recorded ({} events): {}", recorded.events.len(), verdict(&mine));
    for v in &mine.violations {
        let _ = writeln!(out, "    {}: {}", v.invariant, v.message);
    }
    let _ = writeln!(out, "  simulator ({} events): {}", replayed.events.len(), verdict(&sim));
    for v in &sim.violations {
        let _ = writeln!(out, "    {}: {}", v.invariant, v.message);
    }
    let counts = |events: &[Event]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in events {
            *counts.entry(e.body.name()).or_default() += 1;
        }
        counts
    };
    let (a, b) = (counts(&recorded.events), counts(&replayed.events));
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differ: Vec<_> = names
        .into_iter()
        .filter(|n| a.get(*n) != b.get(*n))
        .map(|n| (n, a.get(n).copied().unwrap_or(0), b.get(n).copied().unwrap_or(0)))
        .collect();
    if differ.is_empty() {
        let _ = writeln!(out, "  the same events by name on both");
    } else {
        let _ = writeln!(out, "  events that differ in number (recorded / simulator):");
        for (name, x, y) in differ {
            let _ = writeln!(out, "    {name:<36} {x:>5} / {y}");
        }
    }
    let (ends_a, ends_b) = (payment_ends(&recorded.events), payment_ends(&replayed.events));
    let payments: std::collections::BTreeSet<&String> =
        ends_a.keys().chain(ends_b.keys()).collect();
    for payment in payments {
        let (x, y) = (ends_a.get(payment), ends_b.get(payment));
        if x != y {
            let show = |e: Option<&String>| e.cloned().unwrap_or_else(|| "no end".to_owned());
            let _ =
                writeln!(out, "  payment {payment}: recorded {}, simulator {}", show(x), show(y));
        }
    }
    let holds = mine.holds() && mine.holds() == sim.holds();
    (out, Verdict::of(holds))
}

/// How each payment of the app ended (`pos.payment.ended`, or the SDK's
/// `payment.succeeded` / `payment.declined` / `payment.failed`).
fn payment_ends(events: &[Event]) -> BTreeMap<String, String> {
    let mut ends = BTreeMap::new();
    for event in events {
        let Ok(Value::Object(body)) = serde_json::to_value(&event.body) else { continue };
        let name = event.body.name();
        let ended = matches!(
            name.as_str(),
            "pos.payment.ended" | "payment.succeeded" | "payment.declined" | "payment.failed"
        );
        if let (true, Some(Value::String(payment))) = (ended, body.get("payment")) {
            let outcome = body.get("outcome").and_then(Value::as_str).map(str::to_owned);
            ends.insert(payment.clone(), outcome.unwrap_or(name));
        }
    }
    ends
}
