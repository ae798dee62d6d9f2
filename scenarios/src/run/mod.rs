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
//! 4. [`report`](crate::report) prints the summary and writes JUnit XML.

mod collect;
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
use readerlab_emulator::core::defect::Defects;
use std::sync::Arc;
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
    };
    let mut collector = Collector::new(total, options.progress, options.seed);
    for (path, line, name, reason) in prepared.unsupported {
        collector.skip(path, line, name, reason);
    }
    let runner = LabWorld::cucumber::<&str>()
        .with_parser(collect::Features(prepared.features))
        .with_writer(collector)
        .with_cli(cli::Opts::<_, _, _, cli::Empty>::default())
        .retries(options.retries)
        .before(move |_, _, _, world| {
            let setup = setup.clone();
            Box::pin(async move { world.set_up(setup) })
        })
        .after(|_, _, _, finished, world| {
            Box::pin(async move {
                let skipped = matches!(
                    finished,
                    ScenarioFinished::StepFailed(_, _, StepError::Panic(info))
                        if info.downcast_ref::<Skipped>().is_some()
                );
                if let Some(world) = world
                    && !skipped
                {
                    judge(world);
                }
            })
        });
    // Steps and the checker report failures by panicking; cucumber catches
    // them and the collector reports them, so the default hook's printing
    // would only be noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let collector = futures::executor::block_on(runner.run("bundled"));
    std::panic::set_hook(hook);
    let mut results = collector.into_results();
    results.sort_by_key(|r| (order.iter().position(|p| *p == r.path), r.line));
    Ok(RunReport { results, wall: started.elapsed(), options })
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
