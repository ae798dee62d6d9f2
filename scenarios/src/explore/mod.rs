//! `readerlab explore`: random rigs and schedules of payments and faults,
//! each run on the simulator and judged by the checker; the first case that
//! breaks an invariant is shrunk to the smallest schedule that still breaks
//! it, written as a `.feature` of the standard vocabulary (with its history
//! and the command that replays it), saved, and re-run first next time.
//!
//! | module | part |
//! |---|---|
//! | [`schedule`] | a case: the rig and the operations, each one step |
//! | [`generate`] | the proptest-state-machine model that draws cases |
//! | [`execute`] | running a case through the step definitions, judging it |
//! | [`shrink`] | from a failing case to a minimal one |
//! | [`coverage`] | fault kinds and the invariants' risky paths reached |
//! | [`write`] | the `.feature`, history, replay command and saved case |
//! | [`summary`] | the text and JSON summaries |
//!
//! Exploration is deterministic: the cases are drawn from a generator
//! seeded with `--seed`, and every case runs its rig with the seed
//! `readerlab run` uses by default ([`execute::RIG_SEED`]). Only how many
//! cases a `--time` budget reaches depends on the machine.

pub mod coverage;
pub mod execute;
pub mod generate;
pub mod schedule;
pub mod shrink;
pub mod summary;
pub mod write;

use coverage::Coverage;
use execute::{CaseRun, Failure, run_case};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use readerlab_emulator::core::Defects;
use readerlab_emulator::core::ReaderModel;
use schedule::Case;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long exploration goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// This many generated cases.
    Cases(u64),
    /// This much wall time.
    Time(Duration),
}

/// What `readerlab explore` was asked to do.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    /// How long to explore.
    pub budget: Budget,
    /// The seed cases are drawn from.
    pub seed: u64,
    /// Explore rigs of this model only.
    pub reader: Option<ReaderModel>,
    /// Defect profiles switched on.
    pub defects: Defects,
    /// Where counterexamples are written and saved cases kept.
    pub out: PathBuf,
    /// Show progress on stderr.
    pub progress: bool,
}

/// A failing case, shrunk, written and checked.
#[derive(Debug)]
pub struct Counterexample {
    /// The minimal case.
    pub case: Case,
    /// Its run (history and verdict).
    pub run: CaseRun,
    /// What it broke.
    pub failure: Failure,
    /// Where it came from: `case N` of this exploration, or a saved file.
    pub origin: String,
    /// Steps of the case as first found.
    pub found_steps: usize,
    /// Runs spent shrinking.
    pub shrink_runs: u64,
    /// The files written.
    pub files: write::Written,
    /// Whether `readerlab run` reproduces it from the written file.
    pub verified: write::Verification,
}

/// Saved cases re-run before exploring.
#[derive(Debug, Default)]
pub struct Rerun {
    /// How many there were.
    pub ran: usize,
    /// Those that still fail.
    pub failing: Vec<PathBuf>,
}

/// What an exploration did and found.
#[derive(Debug)]
pub struct ExploreReport {
    /// The options it ran with.
    pub options: ExploreOptions,
    /// Generated cases run (shrinking runs not included).
    pub cases: u64,
    /// Their steps.
    pub steps: u64,
    /// Wall time generating and running them.
    pub exploring: Duration,
    /// Wall time of the whole command.
    pub wall: Duration,
    /// Fault kinds and risky paths reached.
    pub coverage: Coverage,
    /// Saved cases re-run first.
    pub rerun: Rerun,
    /// The first counterexample, if any.
    pub found: Option<Counterexample>,
}

impl ExploreReport {
    /// Generated cases per second of exploring.
    pub fn cases_per_second(&self) -> f64 {
        self.cases as f64 / self.exploring.as_secs_f64().max(1e-9)
    }

    /// Steps per generated case.
    pub fn steps_per_case(&self) -> f64 {
        self.steps as f64 / (self.cases.max(1)) as f64
    }
}

/// Explores. `Err` is a problem with the input or the output directory.
pub fn explore(options: ExploreOptions) -> Result<ExploreReport, String> {
    let started = Instant::now();
    let saved = write::load_saved(&options.out)?;
    let mut coverage = Coverage::default();
    let mut rerun = Rerun { ran: saved.len(), failing: Vec::new() };
    let mut found = None;
    for (path, case) in saved {
        let run = run_case(&case, &options.defects);
        coverage.add(&run.history);
        if let Some(failure) = run.failure() {
            rerun.failing.push(path.clone());
            if found.is_none() {
                let origin = format!("saved case {}", path.display());
                let steps = case.step_count();
                found = Some(settle(&options, case, run, failure, origin, steps, 0)?);
            }
        }
    }
    let mut report = ExploreReport {
        cases: 0,
        steps: 0,
        exploring: Duration::ZERO,
        wall: Duration::ZERO,
        coverage,
        rerun,
        found,
        options,
    };
    if report.found.is_none() {
        explore_new(&mut report)?;
    }
    report.wall = started.elapsed();
    Ok(report)
}

/// Draws, runs and judges new cases until the budget is spent or one fails.
fn explore_new(report: &mut ExploreReport) -> Result<(), String> {
    let options = report.options.clone();
    let strategy = generate::schedules(options.reader);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng(options.seed));
    let mut progress = Progress::new(&options);
    let started = Instant::now();
    loop {
        let elapsed = started.elapsed();
        let spent = match options.budget {
            Budget::Cases(n) => report.cases >= n,
            Budget::Time(limit) => elapsed >= limit,
        };
        if spent {
            break;
        }
        let mut tree = strategy
            .new_tree(&mut runner)
            .map_err(|reason| format!("cannot draw a case: {reason}"))?;
        let (model, ops, seen) = tree.current();
        let case = Case { rig: model.rig, ops };
        let run = run_case(&case, &options.defects);
        if let Some(seen) = seen {
            // Every operation ran: the checker judges the whole history.
            seen.store(case.ops.len(), Ordering::SeqCst);
        }
        report.cases += 1;
        report.steps += case.step_count() as u64;
        report.coverage.add(&run.history);
        progress.tick(report, elapsed);
        if let Some(failure) = run.failure() {
            report.exploring = started.elapsed();
            progress.finish();
            let origin = format!("case {} of seed {}", report.cases, options.seed);
            let steps = case.step_count();
            let shrunk = shrink::shrink(&mut tree, case, run, &failure, &options.defects);
            let found =
                settle(&options, shrunk.case, shrunk.run, failure, origin, steps, shrunk.runs)?;
            report.found = Some(found);
            return Ok(());
        }
    }
    report.exploring = started.elapsed();
    progress.finish();
    Ok(())
}

/// Writes a failing case out and checks the written scenario reproduces it.
fn settle(
    options: &ExploreOptions,
    case: Case,
    run: CaseRun,
    failure: Failure,
    origin: String,
    found_steps: usize,
    shrink_runs: u64,
) -> Result<Counterexample, String> {
    let provenance = write::Provenance { origin: &origin, found_steps, shrink_runs };
    let files = write::write(options, &case, &run, provenance)?;
    let verified = write::verify(&files.feature, &files.history, &options.defects);
    Ok(Counterexample { case, run, failure, origin, found_steps, shrink_runs, files, verified })
}

/// The generator's randomness for `seed`.
fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(b"readerlb");
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Progress on stderr: a bar on a terminal, a line every few seconds
/// otherwise (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    last: Duration,
}

impl Progress {
    fn new(options: &ExploreOptions) -> Progress {
        if !options.progress {
            return Progress { bar: None, plain: false, last: Duration::ZERO };
        }
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None, plain: true, last: Duration::ZERO };
        }
        let (length, template) = match options.budget {
            Budget::Cases(n) => (n, "{bar:30} {pos}/{len} cases {msg}"),
            Budget::Time(limit) => (limit.as_secs().max(1), "{bar:30} {pos}/{len} s {msg}"),
        };
        let bar = indicatif::ProgressBar::new(length);
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress { bar: Some(bar), plain: false, last: Duration::ZERO }
    }

    fn status(report: &ExploreReport, elapsed: Duration) -> String {
        let rate = report.cases as f64 / elapsed.as_secs_f64().max(1e-9);
        format!(
            "{} cases, {:.0}/s, fault kinds {}/{}, risky paths {}/{}",
            report.cases,
            rate,
            report.coverage.faults.len(),
            readerlab_emulator::core::FaultKind::ALL.len(),
            report.coverage.paths.len(),
            coverage::RISKY_PATHS.len(),
        )
    }

    fn tick(&mut self, report: &ExploreReport, elapsed: Duration) {
        // Redraw at most ten times a second.
        if elapsed < self.last + Duration::from_millis(100) {
            return;
        }
        if let Some(bar) = &self.bar {
            self.last = elapsed;
            let position = match report.options.budget {
                Budget::Cases(_) => report.cases,
                Budget::Time(_) => elapsed.as_secs(),
            };
            bar.set_position(position);
            bar.set_message(Progress::status(report, elapsed));
        } else if self.plain && elapsed >= self.last + Duration::from_secs(5) {
            self.last = elapsed;
            eprintln!(
                "explore: {:.0} s, {}",
                elapsed.as_secs_f64(),
                Progress::status(report, elapsed)
            );
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
