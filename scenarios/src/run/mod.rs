//! `readerlab run`: the bundled features (or the given ones) on a target,
//! through cucumber-rs, every scenario judged by the invariant checker.
//!
//! 1. [`source`] resolves paths, parses the features and checks every step
//!    against the vocabulary before anything runs: undefined or ambiguous
//!    steps and malformed files are errors naming file and line.
//! 2. cucumber's runner runs the scenarios; a before-hook hands each world
//!    the run's target, seed and defects, an after-hook finishes the rig and
//!    runs the checker over the scenario's history, failing the scenario if
//!    any invariant broke, whatever its own steps said.
//! 3. [`collect::Collector`], a cucumber writer, keeps one result per
//!    scenario (a retried scenario keeps its last try) and prints progress.
//! 4. [`report`] prints the summary and writes JUnit XML.

mod collect;
pub mod recorded;
pub mod report;
pub mod source;

pub use collect::{Outcome, ScenarioResult};
pub use source::{Source, bundled};

use crate::check::check;
use crate::rig::{SimTarget, Target};
use crate::steps::{LabWorld, ScenarioSetup, Skipped};
use collect::Collector;
use cucumber::World as _;
use cucumber::cli;
use cucumber::event::ScenarioFinished;
use cucumber::event::StepError;
use readerlab_emulator::core::Defects;
use readerlab_emulator::history::HistoryWriter;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Once;
use std::time::{Duration, Instant};

/// What `readerlab run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Feature files or directories (`FILE:LINE` for one scenario); empty
    /// for the bundled features.
    pub paths: Vec<String>,
    /// A tag expression (`@incident and not @slow`).
    pub tags: Option<String>,
    /// The seed of every scenario.
    pub seed: u64,
    /// Defect profiles switched on.
    pub defects: Defects,
    /// Who plays the rig.
    pub target: Arc<dyn Target>,
    /// How many times a failed scenario is tried again.
    pub retries: usize,
    /// Print a line per finished scenario on stderr.
    pub progress: bool,
    /// Write each scenario's history here (`<file>-<line>.jsonl`).
    pub history_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            paths: Vec::new(),
            tags: None,
            seed: 1,
            defects: Defects::none(),
            target: Arc::new(SimTarget),
            retries: 0,
            progress: false,
            history_dir: None,
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct RunReport {
    /// One result per scenario, in file and line order.
    pub results: Vec<ScenarioResult>,
    /// Wall time of the whole run.
    pub wall: Duration,
    /// The options it ran with.
    pub options: RunOptions,
}

impl RunReport {
    /// Scenarios with this outcome.
    pub fn count(&self, outcome: fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| outcome(&r.outcome)).count()
    }

    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.count(|o| matches!(o, Outcome::Failed(_))) == 0
    }

    /// The one-line command that replays a scenario exactly.
    pub fn replay_command(&self, result: &ScenarioResult) -> String {
        let mut command =
            format!("readerlab run {}:{} --seed {}", result.path, result.line, self.options.seed);
        for defect in self.options.defects.iter() {
            command.push_str(&format!(" --defect {}", defect.name()));
        }
        if self.options.target.name() != "sim" {
            command.push_str(&format!(" --target {}", self.options.target.name()));
        }
        command.push_str(&self.options.target.replay_flags());
        command
    }
}

/// Runs the features. `Err` lists every problem with the input (each naming
/// file and line) when nothing could run.
pub fn run(options: RunOptions) -> Result<RunReport, Vec<String>> {
    let started = Instant::now();
    let sources = source::resolve(&options.paths)?;
    let capabilities = options.target.capabilities();
    let prepared = source::prepare(&sources, options.tags.as_deref(), &capabilities)?;
    let total = prepared.scenario_count() + prepared.unsupported.len();
    let order: Vec<String> = sources.iter().map(|s| s.path.clone()).collect();
    let setup = ScenarioSetup {
        target: Arc::clone(&options.target),
        seed: options.seed,
        defects: options.defects.clone(),
        source: None,
    };
    if let Some(dir) = &options.history_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| vec![format!("--history-dir {}: {e}", dir.display())])?;
    }
    let history_dir = options.history_dir.clone();
    let mut collector = Collector::new(total, options.progress, options.seed);
    for (path, line, name, reason) in prepared.unsupported {
        collector.skip(path, line, name, reason);
    }
    let mut runner = LabWorld::cucumber::<&str>()
        .with_parser(collect::Features(prepared.features))
        .with_writer(collector)
        .with_cli(cli::Opts::<_, _, _, cli::Empty>::default())
        .retries(options.retries)
        .before(move |feature, rule, scenario, world| {
            let mut setup = setup.clone();
            let target = setup.target.name();
            setup.source = Some(recorded::scenario_source(target, feature, rule, scenario));
            Box::pin(async move { world.set_up(setup) })
        })
        .after(move |feature, _, scenario, finished, world| {
            let history_dir = history_dir.clone();
            Box::pin(async move {
                let skipped = matches!(
                    finished,
                    ScenarioFinished::StepFailed(_, _, StepError::Panic(info))
                        if info.downcast_ref::<Skipped>().is_some()
                );
                if let Some(world) = world
                    && !skipped
                {
                    if let Some(dir) = &history_dir {
                        let path = feature.path.as_deref().unwrap_or(Path::new("feature"));
                        save_history(world, &history_file(dir, path, scenario.position.line));
                    }
                    judge(world);
                }
            })
        });
    if let Some(max) = options.target.max_concurrent() {
        runner = runner.max_concurrent_scenarios(max);
    }
    let collector = quietly(|| futures::executor::block_on(runner.run("bundled")));
    let mut results = collector.into_results();
    results.sort_by_key(|r| (order.iter().position(|p| *p == r.path), r.line));
    Ok(RunReport { results, wall: started.elapsed(), options })
}

thread_local! {
    /// Whether this thread is running scenarios (panics are their verdicts).
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with panics on this thread kept quiet: steps and the checker
/// report failures by panicking, cucumber catches them and the collector
/// reports them, so the default hook's printing would only be noise. Other
/// threads (other tests) keep the hook they had.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(Cell::get) {
                previous(info);
            }
        }));
    });
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_RUN.with(|flag| flag.set(false));
        }
    }
    IN_RUN.with(|flag| flag.set(true));
    let _reset = Reset;
    f()
}

/// Where `--history-dir` keeps a scenario's history:
/// `features/offline/m2.feature` line 3 → `DIR/features-offline-m2.feature-3.jsonl`.
pub fn history_file(dir: &Path, feature: &Path, line: usize) -> PathBuf {
    let flat: String = feature
        .to_string_lossy()
        .trim_start_matches("./")
        .chars()
        .map(|c| if c == '/' || c == '\\' { '-' } else { c })
        .collect();
    dir.join(format!("{flat}-{line}.jsonl"))
}

/// Ends the scenario's run and writes its history as JSON Lines; panics
/// (failing the scenario) if the file cannot be written.
fn save_history(world: &mut LabWorld, path: &Path) {
    let Some(history) = world.finish() else { return };
    let written = std::fs::File::create(path).and_then(|file| {
        let mut writer = HistoryWriter::new(std::io::BufWriter::new(file));
        for event in history {
            writer.record(event.t_ms, &event.part, &event.body)?;
        }
        writer.into_inner().map(drop)
    });
    if let Err(e) = written {
        panic!("cannot write the history to {}: {e}", path.display());
    }
    // An adapter's stderr beside it (docs/driver-protocol.md).
    if !world.pos_log.is_empty() {
        let log = path.with_extension("adapter.log");
        let text: String = world.pos_log.iter().map(|line| format!("{line}\n")).collect();
        if let Err(e) = std::fs::write(&log, text) {
            panic!("cannot write the adapter's log to {}: {e}", log.display());
        }
    }
}

/// Ends the scenario's run and judges its history; panics (failing the
/// scenario) with the checker's report when an invariant broke.
fn judge(world: &mut LabWorld) {
    let Some(history) = world.finish() else { return };
    let report = check(history);
    if !report.holds() {
        panic!("the invariant checker rejects this run: {report}");
    }
}
