//! `readerlab sim`: one long random run on the simulator, judged by the
//! checker, with the figures a user wants to see (faults injected by kind,
//! virtual against wall time) and, on failure, the seed and the one-line
//! command that replays it.

use super::{Outcome, Verdict, parse_defects, parse_model};
use crate::check::{self, Report};
use anyhow::Context;
use readerlab_emulator::core::FaultKind;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::core::RunSource;
use readerlab_emulator::core::{Defect, Defects};
use readerlab_emulator::sim::{RandomRun, RigSpec, Sim};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The flags of `readerlab sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Virtual hours of customers and faults.
    #[arg(long, default_value_t = 24)]
    hours: u64,
    /// Customers at the counter over those hours.
    #[arg(long, default_value_t = 1_000)]
    payments: u32,
    /// The seed every random choice comes from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A reader of the rig (m2, wisepad3, chipper2x, s700, wisepos_e);
    /// repeat for more (at most one mobile reader). Default: m2.
    #[arg(long = "reader", value_name = "MODEL")]
    readers: Vec<String>,
    /// Switch on a defect profile (`readerlab defects` lists them); repeatable.
    #[arg(long = "defect", value_name = "NAME")]
    defects: Vec<String>,
    /// Fault intensity: 1 is a busy day, 0 only the defects' drills.
    #[arg(long, default_value_t = 1.0)]
    intensity: f64,
    /// Write the history (JSON Lines) to this file.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `readerlab sim`; [`Verdict::Broken`] when an invariant broke.
pub fn run(args: &Args) -> Outcome {
    let readers = if args.readers.is_empty() {
        vec![ReaderModel::M2]
    } else {
        args.readers.iter().map(|id| parse_model(id)).collect::<anyhow::Result<_>>()?
    };
    let defects = parse_defects(&args.defects)?;
    anyhow::ensure!(
        args.intensity.is_finite() && args.intensity >= 0.0,
        "--intensity must be a number of at least 0, not {}",
        args.intensity
    );
    let request = SimRequest {
        hours: args.hours,
        payments: args.payments,
        seed: args.seed,
        readers,
        defects,
        intensity: args.intensity,
        history: args.history.clone(),
    };
    let outcome = simulate(&request)?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        print!("{}", summary(&outcome));
    }
    Ok(Verdict::of(outcome.holds))
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SimRequest {
    /// Virtual hours of customers and faults.
    pub hours: u64,
    /// Customers.
    pub payments: u32,
    /// The seed.
    pub seed: u64,
    /// Reader models (at most one mobile reader).
    pub readers: Vec<ReaderModel>,
    /// Defect profiles to switch on.
    pub defects: Vec<Defect>,
    /// Fault intensity: 1.0 is a busy day, 0 only the defects' drills.
    pub intensity: f64,
    /// Where to write the history.
    pub history: Option<PathBuf>,
}

/// What a run produced, for people and for `--json`.
#[derive(Debug, Serialize)]
pub struct SimOutcome {
    /// Whether every invariant held.
    pub holds: bool,
    /// The seed.
    pub seed: u64,
    /// The command that replays this run.
    pub replay: String,
    /// Events in the history.
    pub events: usize,
    /// Customers served and not served.
    pub payments_started: u32,
    pub payments_unserved: u32,
    /// Faults injected, by kind.
    pub faults: BTreeMap<FaultKind, u32>,
    /// Virtual time covered, in seconds.
    pub virtual_secs: f64,
    /// Wall time to simulate, and to check, in seconds.
    pub simulate_secs: f64,
    pub check_secs: f64,
    /// Virtual seconds per wall second, simulation and check together.
    pub speedup: f64,
    /// The checker's report.
    pub report: Report,
}

/// Runs the simulation and the checker.
pub fn simulate(request: &SimRequest) -> anyhow::Result<SimOutcome> {
    let spec = RigSpec {
        readers: request.readers.clone(),
        defects: Defects::of(request.defects.iter().copied()),
        source: Some(RunSource::Random {
            hours: request.hours,
            payments: request.payments,
            intensity_milli: (request.intensity * 1000.0).round() as u64,
        }),
        ..RigSpec::single(ReaderModel::M2, request.seed)
    };
    let shape = RandomRun {
        intensity: request.intensity,
        ..RandomRun::busy(request.hours, request.payments)
    };
    let started = Instant::now();
    let finished = Sim::random(spec, &shape).context("building the rig")?;
    let simulated = started.elapsed();
    let started = Instant::now();
    let report = check::check(&finished.events);
    let checked = started.elapsed();
    if let Some(path) = &request.history {
        std::fs::write(path, finished.to_jsonl())
            .with_context(|| format!("writing the history to {}", path.display()))?;
    }
    let wall = (simulated + checked).max(Duration::from_micros(1));
    Ok(SimOutcome {
        holds: report.holds(),
        seed: request.seed,
        replay: replay_command(request),
        events: finished.events.len(),
        payments_started: finished.payments_started,
        payments_unserved: finished.payments_unserved,
        faults: finished.faults,
        virtual_secs: finished.virtual_time.as_secs_f64(),
        simulate_secs: simulated.as_secs_f64(),
        check_secs: checked.as_secs_f64(),
        speedup: finished.virtual_time.as_secs_f64() / wall.as_secs_f64(),
        report,
    })
}

/// The one line that runs the same simulation again.
fn replay_command(request: &SimRequest) -> String {
    let mut line = format!(
        "readerlab sim --hours {} --payments {} --seed {}",
        request.hours, request.payments, request.seed
    );
    for model in &request.readers {
        line.push_str(&format!(" --reader {}", model.id()));
    }
    for defect in &request.defects {
        line.push_str(&format!(" --defect {defect}"));
    }
    if request.intensity != 1.0 {
        line.push_str(&format!(" --intensity {}", request.intensity));
    }
    line.push_str(" --history history.jsonl");
    line
}

/// The human summary.
pub fn summary(outcome: &SimOutcome) -> String {
    let mut out = String::new();
    let verdict = if outcome.holds { "all invariants hold" } else { "INVARIANTS VIOLATED" };
    out.push_str(&format!("readerlab sim: {verdict} (seed {})\n", outcome.seed));
    out.push_str(&format!(
        "  {} events, {} payments started, {} left at the counter\n",
        outcome.events, outcome.payments_started, outcome.payments_unserved
    ));
    let total: u32 = outcome.faults.values().sum();
    out.push_str(&format!("  faults injected: {total}\n"));
    for (kind, n) in &outcome.faults {
        out.push_str(&format!("    {:<24} {n}\n", kind.name()));
    }
    out.push_str(&format!(
        "  {:.0} s virtual in {:.3} s wall (simulate {:.3} s, check {:.3} s): {:.0}x real time\n",
        outcome.virtual_secs,
        outcome.simulate_secs + outcome.check_secs,
        outcome.simulate_secs,
        outcome.check_secs,
        outcome.speedup
    ));
    if !outcome.holds {
        out.push_str(&format!("\n{}\n", outcome.report));
        out.push_str(&format!("replay: {}\n", outcome.replay));
    }
    out
}
