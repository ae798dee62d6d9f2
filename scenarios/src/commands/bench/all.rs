//! `readerlab bench all`: the figures worth tracking from one build to the
//! next, each the median of `--runs` runs, as a table or one JSON file
//! (`--out`); with `--baseline` (the same file from the last main), every
//! figure's change, and a loud line for each that got more than 20 % worse.
//!
//! It measures and never judges a machine: the figures are only comparable
//! with ones taken on the same kind of machine, and a noisy one moves them
//! by more than the threshold now and then, which is why the comparison
//! prints by default and fails only with `--fail-on-slowdown`.

use super::serve::{BenchDisk, ServeBenchSpec, serve};
use crate::commands::{Outcome, Verdict};
use anyhow::Context;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::sim::{RandomRun, RigSpec, Sim};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How much worse a figure may get before it is reported as a slowdown.
pub const THRESHOLD: f64 = 0.20;

/// The flags of `readerlab bench all`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs of each measurement; the figure is their median.
    #[arg(long, default_value_t = 3, value_name = "N")]
    runs: usize,
    /// Write the figures (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Compare with this earlier `bench all` file (the last main's).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Exit 1 when a figure got more than 20 % worse than the baseline's.
    #[arg(long, requires = "baseline")]
    fail_on_slowdown: bool,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One tracked figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The median.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// `higher` or `lower` is better.
    pub better: String,
    /// Every run's value.
    pub runs: Vec<f64>,
}

/// A `bench all` file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// This file's format.
    pub format: u32,
    /// The build that measured (`readerlab --version`).
    pub version: String,
    /// Cores the machine has.
    pub cores: usize,
    /// The figures, by name.
    pub figures: BTreeMap<String, Figure>,
}

/// A figure compared with its baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub name: String,
    pub before: f64,
    pub after: f64,
    pub unit: String,
    /// How much better (positive) or worse (negative), as a fraction.
    pub better_by: f64,
}

impl Change {
    /// Worse by more than [`THRESHOLD`].
    pub fn slowdown(&self) -> bool {
        self.better_by < -THRESHOLD
    }
}

/// Runs `bench all`.
pub fn run(args: &Args) -> Outcome {
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    let figures = measure(args.runs)?;
    let json = serde_json::to_string_pretty(&figures)?;
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table(&figures));
    }
    let Some(path) = &args.baseline else { return Ok(Verdict::Holds) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the baseline {}", path.display()))?;
    let baseline: Figures = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a `bench all` file", path.display()))?;
    let changes = compare(&baseline, &figures);
    let mut slower = 0;
    for c in &changes {
        let line = format!(
            "{:<32} {:>12.1} -> {:>12.1} {:<10} {:+.1}%",
            c.name,
            c.before,
            c.after,
            c.unit,
            c.better_by * 100.0
        );
        if c.slowdown() {
            slower += 1;
            eprintln!("readerlab bench all: SLOWER beyond 20%: {line}");
        } else {
            eprintln!("readerlab bench all: {line}");
        }
    }
    if slower > 0 {
        eprintln!(
            "readerlab bench all: {slower} figure(s) more than 20% worse than {} (re-run to \
             rule out a noisy machine)",
            path.display()
        );
    }
    Ok(if args.fail_on_slowdown && slower > 0 { Verdict::Broken } else { Verdict::Holds })
}

/// Every figure of `after` that `before` has too, in name order.
pub fn compare(before: &Figures, after: &Figures) -> Vec<Change> {
    after
        .figures
        .iter()
        .filter_map(|(name, now)| {
            let was = before.figures.get(name)?;
            let better_by = if now.better == "lower" {
                (was.value - now.value) / was.value.abs().max(f64::MIN_POSITIVE)
            } else {
                (now.value - was.value) / was.value.abs().max(f64::MIN_POSITIVE)
            };
            Some(Change {
                name: name.clone(),
                before: was.value,
                after: now.value,
                unit: now.unit.clone(),
                better_by,
            })
        })
        .collect()
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Runs every measurement `runs` times.
fn measure(runs: usize) -> anyhow::Result<Figures> {
    let mut figures = BTreeMap::new();
    let mut add = |name: &str, unit: &str, better: &str, values: Vec<f64>| {
        let figure = Figure {
            value: median(values.clone()),
            unit: unit.to_owned(),
            better: better.to_owned(),
            runs: values,
        };
        figures.insert(name.to_owned(), figure);
    };
    // A busy simulated day: simulating it, checking it, drawing its model.
    let mut sim = Vec::new();
    let mut checks = Vec::new();
    let mut models = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let day = Sim::random(RigSpec::single(ReaderModel::M2, 7), &RandomRun::busy(24, 1000))
            .context("building the rig")?;
        let events = day.events.len() as f64;
        sim.push(events / started.elapsed().as_secs_f64());
        let started = Instant::now();
        let report = crate::check::check(&day.events);
        checks.push(events / started.elapsed().as_secs_f64());
        let started = Instant::now();
        std::hint::black_box(crate::timeline::Model::build("bench", &day.events, &report));
        models.push(events / started.elapsed().as_secs_f64());
    }
    add("sim.busy_day", "events/s", "higher", sim);
    add("check.busy_day", "events/s", "higher", checks);
    add("timeline.busy_day", "events/s", "higher", models);
    // Exploration on one job and on every core.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for (name, jobs) in [("explore.one_job", 1), ("explore.all_jobs", cores)] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let dir = tempfile::tempdir().context("a temporary directory")?;
            let report = crate::explore::explore(crate::explore::ExploreOptions {
                budget: crate::explore::Budget::Cases(400),
                seed: 1,
                reader: None,
                defects: readerlab_emulator::core::Defects::none(),
                out: dir.path().to_owned(),
                progress: false,
                jobs,
                shard: crate::explore::Shard::ALL,
            })
            .map_err(|e| anyhow::anyhow!(e))?;
            rates.push(report.cases_per_second());
        }
        add(name, "cases/s", "higher", rates);
    }
    // Forwarding through the served backend.
    let mut forwards = Vec::new();
    for _ in 0..runs {
        let spec = ServeBenchSpec {
            readers: 100,
            payments: 10_000,
            disk: BenchDisk::Simulated,
            dir: None,
            timeout: Duration::from_secs(120),
        };
        forwards.push(serve(&spec)?.forwards_per_s);
    }
    add("serve.forward_100x10000", "forwards/s", "higher", forwards);
    Ok(Figures { format: 1, version: env!("CARGO_PKG_VERSION").to_owned(), cores, figures })
}

fn table(figures: &Figures) -> String {
    let mut out = format!(
        "readerlab bench all: medians of {} run(s) on {} core(s)\n",
        figures.figures.values().next().map_or(0, |f| f.runs.len()),
        figures.cores
    );
    for (name, f) in &figures.figures {
        let _ = writeln!(out, "  {name:<32} {:>12.1} {} ({} is better)", f.value, f.unit, f.better);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: &[(&str, f64, &str)]) -> Figures {
        Figures {
            format: 1,
            version: "0".into(),
            cores: 2,
            figures: pairs
                .iter()
                .map(|(name, value, better)| {
                    let f = Figure {
                        value: *value,
                        unit: "x".into(),
                        better: (*better).into(),
                        runs: vec![*value],
                    };
                    ((*name).to_owned(), f)
                })
                .collect(),
        }
    }

    #[test]
    fn a_figure_more_than_20_percent_worse_is_a_slowdown_either_way_round() {
        let before =
            figures(&[("rate", 1000.0, "higher"), ("rss", 100.0, "lower"), ("ok", 10.0, "higher")]);
        let after =
            figures(&[("rate", 790.0, "higher"), ("rss", 125.0, "lower"), ("ok", 8.5, "higher")]);
        let changes = compare(&before, &after);
        let slow: Vec<&str> =
            changes.iter().filter(|c| c.slowdown()).map(|c| c.name.as_str()).collect();
        assert_eq!(slow, ["rate", "rss"]);
        let ok = changes.iter().find(|c| c.name == "ok").unwrap();
        assert!((ok.better_by + 0.15).abs() < 1e-9, "{ok:?}");
    }

    #[test]
    fn a_figure_missing_from_the_baseline_is_not_compared() {
        let changes = compare(&figures(&[]), &figures(&[("new", 1.0, "higher")]));
        assert!(changes.is_empty());
    }
}
