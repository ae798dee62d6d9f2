//! A cucumber writer that keeps one result per scenario and prints
//! progress, and the parser that hands cucumber the prepared features.

use crate::rig::BenchError;
use crate::steps::{LabWorld, Skipped};
use cucumber::event::{self, HookType, Retries};
use cucumber::gherkin;
use cucumber::parser;
use cucumber::{Event, Writer, cli};
use futures::stream;
use std::any::Any;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The prepared features, as a cucumber parser.
#[derive(Debug)]
pub(super) struct Features(pub(super) Vec<gherkin::Feature>);

impl<I> cucumber::Parser<I> for Features {
    type Cli = cli::Empty;
    type Output = stream::Iter<std::vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, _input: I, _cli: cli::Empty) -> Self::Output {
        stream::iter(self.0.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step passed and every invariant held.
    Passed,
    /// A step failed or an invariant broke: why.
    Failed(String),
    /// The target cannot do what it needs: why.
    Skipped(String),
}

/// One scenario's result.
#[derive(Clone, Debug)]
pub struct ScenarioResult {
    /// The feature file.
    pub path: String,
    /// The feature's name.
    pub feature: String,
    /// The scenario's name (an outline's rows share it).
    pub name: String,
    /// Its line (an example row's line for an outline).
    pub line: usize,
    /// Its tags, without `@`.
    pub tags: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Steps that passed.
    pub steps_passed: usize,
    /// Wall time of its last try.
    pub duration: Duration,
    /// Tries before the last.
    pub retried: usize,
}

/// A scenario being run.
#[derive(Debug)]
struct Running {
    started: Instant,
    steps_passed: usize,
    failure: Option<String>,
    skipped: Option<String>,
}

/// The writer.
#[derive(Debug)]
pub(super) struct Collector {
    results: BTreeMap<(String, usize), ScenarioResult>,
    running: BTreeMap<(String, usize), Running>,
    total: usize,
    progress: bool,
    seed: u64,
}

impl Collector {
    pub(super) fn new(total: usize, progress: bool, seed: u64) -> Collector {
        Collector { results: BTreeMap::new(), running: BTreeMap::new(), total, progress, seed }
    }

    /// Records a scenario left out before the run.
    pub(super) fn skip(&mut self, path: String, line: usize, name: String, reason: String) {
        let result = ScenarioResult {
            path,
            feature: String::new(),
            name,
            line,
            tags: Vec::new(),
            outcome: Outcome::Skipped(reason),
            steps_passed: 0,
            duration: Duration::ZERO,
            retried: 0,
        };
        self.finished(&result);
    }

    pub(super) fn into_results(self) -> Vec<ScenarioResult> {
        self.results.into_values().collect()
    }

    fn finished(&mut self, result: &ScenarioResult) {
        let key = (result.path.clone(), result.line);
        let replaced = self.results.insert(key, result.clone()).is_some();
        if self.progress && !replaced {
            let done = self.results.len();
            let (mark, note) = match &result.outcome {
                Outcome::Passed => ("ok  ", String::new()),
                Outcome::Failed(_) => ("FAIL", format!("  (seed {})", self.seed)),
                Outcome::Skipped(reason) => ("skip", format!("  ({reason})")),
            };
            eprintln!(
                "[{done:>3}/{}] {mark} {}:{}  {} ({} ms){note}",
                self.total,
                result.path,
                result.line,
                result.name,
                result.duration.as_millis()
            );
        }
    }

    fn on_scenario(
        &mut self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        event: event::Scenario<LabWorld>,
        retries: Option<Retries>,
    ) {
        let path = feature.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let key = (path.clone(), scenario.position.line);
        match event {
            event::Scenario::Started => {
                let running = Running {
                    started: Instant::now(),
                    steps_passed: 0,
                    failure: None,
                    skipped: None,
                };
                self.running.insert(key, running);
            }
            event::Scenario::Step(step, event::Step::Passed(..))
            | event::Scenario::Background(step, event::Step::Passed(..)) => {
                let _ = step;
                if let Some(running) = self.running.get_mut(&key) {
                    running.steps_passed += 1;
                }
            }
            event::Scenario::Step(step, event::Step::Failed(_, _, _, error))
            | event::Scenario::Background(step, event::Step::Failed(_, _, _, error)) => {
                let verdict = step_failure(&path, &step, &error);
                if let Some(running) = self.running.get_mut(&key) {
                    match verdict {
                        Ok(failure) => running.failure = Some(failure),
                        Err(reason) => running.skipped = Some(reason),
                    }
                }
            }
            event::Scenario::Step(step, event::Step::Skipped)
            | event::Scenario::Background(step, event::Step::Skipped) => {
                if let Some(running) = self.running.get_mut(&key)
                    && running.failure.is_none()
                    && running.skipped.is_none()
                {
                    running.failure = Some(format!(
                        "{path}:{}: undefined step: {} {}",
                        step.position.line,
                        step.keyword.trim(),
                        step.value
                    ));
                }
            }
            event::Scenario::Hook(kind, event::Hook::Failed(_, info)) => {
                if let Some(running) = self.running.get_mut(&key) {
                    let message = panic_message(info.as_ref());
                    let message = match kind {
                        HookType::After => message,
                        HookType::Before => format!("setting up the scenario failed: {message}"),
                    };
                    running.failure = Some(match running.failure.take() {
                        Some(earlier) => format!("{earlier}\n\n{message}"),
                        None => message,
                    });
                }
            }
            event::Scenario::Finished => {
                let Some(running) = self.running.remove(&key) else { return };
                let outcome = match (running.failure, running.skipped) {
                    (Some(failure), _) => Outcome::Failed(failure),
                    (None, Some(reason)) => Outcome::Skipped(reason),
                    (None, None) => Outcome::Passed,
                };
                let result = ScenarioResult {
                    path,
                    feature: feature.name.clone(),
                    name: scenario.name.clone(),
                    line: scenario.position.line,
                    tags: scenario.tags.clone(),
                    outcome,
                    steps_passed: running.steps_passed,
                    duration: running.started.elapsed(),
                    retried: retries.map_or(0, |r| r.current),
                };
                self.finished(&result);
            }
            _ => {}
        }
    }
}

/// What a failed step means: `Ok(failure)` naming file, line and step, or
/// `Err(reason)` when the step said the target cannot do it (a skip).
fn step_failure(
    path: &str,
    step: &gherkin::Step,
    error: &event::StepError,
) -> Result<String, String> {
    if let event::StepError::Panic(info) = error
        && let Some(Skipped(reason)) = info.downcast_ref::<Skipped>()
    {
        return Err(reason.clone());
    }
    let why = match error {
        event::StepError::Panic(info) => panic_message(info.as_ref()),
        other => other.to_string(),
    };
    Ok(format!("{path}:{}: {} {}\n{why}", step.position.line, step.keyword.trim(), step.value))
}

/// The message a panic carried. A bench's own failure (a lab hook) says
/// so first: it is not the SDK's.
fn panic_message(info: &(dyn Any + Send)) -> String {
    if let Some(BenchError(why)) = info.downcast_ref::<BenchError>() {
        format!("BENCH ERROR (the bench failed, not the SDK under test): {why}")
    } else if let Some(text) = info.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = info.downcast_ref::<&str>() {
        (*text).to_owned()
    } else {
        "the step panicked without a message".to_owned()
    }
}

impl Writer<LabWorld> for Collector {
    type Cli = cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<event::Cucumber<LabWorld>>>,
        _cli: &Self::Cli,
    ) {
        let Ok(event) = event else { return };
        let event::Cucumber::Feature(feature, event) = event.value else { return };
        let (scenario, retryable) = match event {
            event::Feature::Scenario(scenario, retryable) => (scenario, retryable),
            event::Feature::Rule(_, event::Rule::Scenario(scenario, retryable)) => {
                (scenario, retryable)
            }
            _ => return,
        };
        self.on_scenario(&feature, &scenario, retryable.event, retryable.retries);
    }
}

/// Events may arrive interleaved across scenarios; the collector keys
/// everything by scenario, so it needs no normalisation.
impl cucumber::writer::Normalized for Collector {}
