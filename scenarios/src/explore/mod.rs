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
//! Exploration is deterministic: case `i` is drawn from a generator seeded
//! with `--seed` and `i` alone ([`draw`]), so the case stream is a pure
//! function of the seed and the index, and every case runs its rig with the
//! seed `readerlab run` uses by default ([`execute::RIG_SEED`]). Cases run
//! in batches on `--jobs` threads and are judged in index order, stopping
//! at the first that fails, so any number of jobs gives the same cases,
//! coverage and counterexample. `--shard K/N` runs the indices `i` with
//! `i % N == K - 1` ([`Shard`]); [`merge`] puts shards' summaries back
//! together. Only how many cases a `--time` budget reaches depends on the
//! machine.

pub mod coverage;
pub mod execute;
pub mod generate;
pub mod merge;
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
    /// Threads running cases (at least 1).
    pub jobs: usize,
    /// The slice of the case stream this exploration runs.
    pub shard: Shard,
}

/// A slice of the case stream: shard `index` of `of` (both from 1) runs
/// the case indices `i` with `i % of == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1.
    pub index: u64,
    /// How many slices.
    pub of: u64,
}

impl Shard {
    /// The whole stream.
    pub const ALL: Shard = Shard { index: 1, of: 1 };

    /// Parses `K/N` (1 <= K <= N).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard wants K/N with 1 <= K <= N (such as 2/8), not `{text}`");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, of) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || of == 0 || index > of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }

    /// The `n`-th case index of this slice (from 0).
    pub fn case_index(self, n: u64) -> u64 {
        n * self.of + (self.index - 1)
    }

    /// How many of the stream's first `cases` indices are this slice's.
    pub fn cases_of(self, cases: u64) -> u64 {
        (cases + self.of - self.index) / self.of
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
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
    /// The set of (index, case) this exploration ran, as an
    /// order-independent digest: shards' digests add up (wrapping) to the
    /// unsharded run's.
    pub digest: u64,
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
        digest: 0,
    };
    if report.found.is_none() {
        explore_new(&mut report)?;
    }
    report.wall = started.elapsed();
    let summary = report.options.out.join(merge::SUMMARY);
    std::fs::create_dir_all(&report.options.out)
        .and_then(|()| std::fs::write(&summary, format!("{:#}\n", report.json())))
        .map_err(|e| format!("{}: {e}", summary.display()))?;
    Ok(report)
}

/// How many cases each batch gives each job: enough to keep the threads
/// busy, few enough that a `--time` budget ends on time.
const BATCH_PER_JOB: u64 = 16;

/// Draws, runs and judges new cases until the budget is spent or one fails:
/// a batch of the shard's next indices on the jobs' threads, then judged in
/// index order, so the first failing case is the same for any `--jobs`.
fn explore_new(report: &mut ExploreReport) -> Result<(), String> {
    let options = report.options.clone();
    let jobs = options.jobs.max(1);
    let mut progress = Progress::new(&options);
    let started = Instant::now();
    let mut next = 0u64;
    loop {
        let batch: Vec<u64> = match options.budget {
            Budget::Cases(n) => {
                let end = options.shard.cases_of(n).min(next + BATCH_PER_JOB * jobs as u64);
                (next..end).collect()
            }
            Budget::Time(limit) if started.elapsed() < limit => {
                (next..next + BATCH_PER_JOB * jobs as u64).collect()
            }
            Budget::Time(_) => Vec::new(),
        };
        if batch.is_empty() {
            break;
        }
        next += batch.len() as u64;
        let indices: Vec<u64> = batch.iter().map(|n| options.shard.case_index(*n)).collect();
        for (index, case, run) in run_batch(&options, &indices, jobs)? {
            report.cases += 1;
            report.steps += case.step_count() as u64;
            report.digest = report.digest.wrapping_add(case_digest(index, &case));
            report.coverage.add(&run.history);
            progress.tick(report, started.elapsed());
            if let Some(failure) = run.failure() {
                report.exploring = started.elapsed();
                progress.finish();
                let origin = format!("case {} of seed {}", index + 1, options.seed);
                let steps = case.step_count();
                let mut tree = draw(options.reader, options.seed, index)?;
                if let (_, _, Some(seen)) = tree.current() {
                    seen.store(case.ops.len(), Ordering::SeqCst);
                }
                let shrunk = shrink::shrink(&mut tree, case, run, &failure, &options.defects);
                let found =
                    settle(&options, shrunk.case, shrunk.run, failure, origin, steps, shrunk.runs)?;
                report.found = Some(found);
                return Ok(());
            }
        }
    }
    report.exploring = started.elapsed();
    progress.finish();
    Ok(())
}

/// The generator of cases.
type Schedules = proptest_state_machine::strategy::Sequential<
    generate::Model,
    schedule::Op,
    proptest::strategy::BoxedStrategy<generate::Model>,
    proptest::strategy::BoxedStrategy<schedule::Op>,
>;

/// The value tree of case `index` of `seed`: its generator is seeded with
/// both, so a case does not depend on the cases before it.
pub fn draw(
    reader: Option<ReaderModel>,
    seed: u64,
    index: u64,
) -> Result<<Schedules as Strategy>::Tree, String> {
    let mut runner = TestRunner::new_with_rng(Config::default(), rng(seed, index));
    generate::schedules(reader)
        .new_tree(&mut runner)
        .map_err(|reason| format!("cannot draw a case: {reason}"))
}

/// Case `index` of `seed` as exploration draws it.
pub fn case_at(reader: Option<ReaderModel>, seed: u64, index: u64) -> Result<Case, String> {
    let tree = draw(reader, seed, index)?;
    let (model, ops, _) = tree.current();
    Ok(Case { rig: model.rig, ops })
}

/// A case run: its index, the case, its run.
type Ran = (u64, Case, CaseRun);

/// Runs the cases at `indices` on `jobs` threads; their runs in the
/// order of `indices`.
fn run_batch(options: &ExploreOptions, indices: &[u64], jobs: usize) -> Result<Vec<Ran>, String> {
    let one = |index: u64| -> Result<Ran, String> {
        let case = case_at(options.reader, options.seed, index)?;
        let run = run_case(&case, &options.defects);
        Ok((index, case, run))
    };
    if jobs == 1 {
        return indices.iter().map(|i| one(*i)).collect();
    }
    let slots: Vec<std::sync::Mutex<Option<Result<Ran, String>>>> =
        indices.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let taken = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(indices.len()) {
            scope.spawn(|| {
                loop {
                    let at = taken.fetch_add(1, Ordering::SeqCst);
                    let Some(index) = indices.get(at) else { break };
                    let result = one(*index);
                    *slots[at].lock().expect("no job panics holding a slot") = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("no job panics holding a slot")
                .unwrap_or_else(|| Err("a job ended without running its case".to_owned()))
        })
        .collect()
}

/// One case's share of [`ExploreReport::digest`].
pub fn case_digest(index: u64, case: &Case) -> u64 {
    let json = serde_json::to_string(case).expect("a case serializes");
    let mut x =
        index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(crc32fast::hash(json.as_bytes()));
    // splitmix64's finaliser: nearby inputs land far apart.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
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

/// The generator's randomness for case `index` of `seed`.
fn rng(seed: u64, index: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(b"readerlb");
    bytes[16..24].copy_from_slice(&index.to_le_bytes());
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
            Budget::Cases(n) => (options.shard.cases_of(n), "{bar:30} {pos}/{len} cases {msg}"),
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
