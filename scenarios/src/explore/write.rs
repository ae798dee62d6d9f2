//! What a counterexample leaves behind in `--out DIR`:
//!
//! - `<name>.feature`: the scenario, in the standard vocabulary, with the
//!   exploration it came from, the invariant it breaks and the replay
//!   command in its header comments;
//! - `<name>.jsonl`: its history;
//! - `<name>.replay`: the one-line command that replays it;
//! - `cases/<name>.json`: the case itself, which every later exploration
//!   with this `--out` re-runs before drawing new ones.
//!
//! `<name>` is the defect profiles switched on (or `reference`) and a
//! checksum of the case, so the same case found twice is one file.

use super::execute::{CaseRun, RIG_SEED, Verdict};
use super::schedule::{CASE_FORMAT, Case};
use super::{ExploreOptions, shrink};
use crate::run::{Outcome, RunOptions, run};
use readerlab_emulator::core::Defects;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The files a counterexample was written to.
#[derive(Clone, Debug)]
pub struct Written {
    /// The scenario.
    pub feature: PathBuf,
    /// Its history.
    pub history: PathBuf,
    /// The replay command's file.
    pub replay_file: PathBuf,
    /// The saved case.
    pub saved: PathBuf,
    /// The replay command.
    pub replay: String,
}

/// Whether `readerlab run` reproduces the written scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// It fails with the exploration's defects.
    pub fails: bool,
    /// Without any defect it passes (`None` when exploring without one:
    /// then the reference itself fails).
    pub passes_without: Option<bool>,
    /// What went wrong running it, if anything did.
    pub problem: Option<String>,
}

impl Verification {
    /// Whether the written scenario does what it should.
    pub fn holds(&self) -> bool {
        self.fails && self.passes_without != Some(false) && self.problem.is_none()
    }
}

/// A saved case on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    format: u32,
    /// The defect profiles it was found with (for the reader; every
    /// exploration re-runs it with its own).
    found_with: Defects,
    case: Case,
}

/// Every saved case under `out/cases`, sorted by file name. A file that
/// does not parse is an error naming it: silently skipping it would lose a
/// regression.
pub fn load_saved(out: &Path) -> Result<Vec<(PathBuf, Case)>, String> {
    let dir = out.join("cases");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a saved case: {e} (delete the file to drop it)",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if saved.format != CASE_FORMAT {
            return Err(format!(
                "{}: saved case format {} (this readerlab reads {CASE_FORMAT}); delete the \
                 file to drop it",
                path.display(),
                saved.format
            ));
        }
        if !shrink::is_valid(&saved.case) {
            return Err(format!(
                "{}: the schedule names a reader or device its rig lacks, or clears a fault it \
                 never injected; delete the file to drop it",
                path.display()
            ));
        }
        cases.push((path, saved.case));
    }
    Ok(cases)
}

/// The command that replays a written scenario.
pub fn replay_command(feature: &Path, defects: &Defects) -> String {
    let mut command = format!("readerlab run {}", feature.display());
    for defect in defects.iter() {
        command.push_str(&format!(" --defect {}", defect.name()));
    }
    command
}

/// Where a counterexample came from and how far it shrank, for the
/// scenario's header.
#[derive(Clone, Copy, Debug)]
pub struct Provenance<'a> {
    /// `case N of seed S`, or the saved case's file.
    pub origin: &'a str,
    /// Steps of the case as first found.
    pub found_steps: usize,
    /// Runs spent shrinking.
    pub shrink_runs: u64,
}

/// Writes the counterexample's files.
pub fn write(
    options: &ExploreOptions,
    case: &Case,
    run: &CaseRun,
    provenance: Provenance<'_>,
) -> Result<Written, String> {
    let out = &options.out;
    let cases_dir = out.join("cases");
    std::fs::create_dir_all(&cases_dir).map_err(|e| format!("{}: {e}", cases_dir.display()))?;
    let json = serde_json::to_string(case).expect("a case serializes");
    let checksum = crc32fast::hash(json.as_bytes());
    let profile = if options.defects.is_empty() {
        "reference".to_owned()
    } else {
        options.defects.iter().map(|d| d.name()).collect::<Vec<_>>().join("+")
    };
    let name = format!("{profile}-{checksum:08x}");
    let written = Written {
        feature: out.join(format!("{name}.feature")),
        history: out.join(format!("{name}.jsonl")),
        replay_file: out.join(format!("{name}.replay")),
        saved: cases_dir.join(format!("{name}.json")),
        replay: replay_command(&out.join(format!("{name}.feature")), &options.defects),
    };
    let feature = feature_text(options, case, run, provenance, &written);
    let saved =
        Saved { format: CASE_FORMAT, found_with: options.defects.clone(), case: case.clone() };
    let saved = serde_json::to_string_pretty(&saved).expect("a case serializes") + "\n";
    let history = readerlab_emulator::history::to_jsonl(&run.history);
    for (path, bytes) in [
        (&written.feature, feature.into_bytes()),
        (&written.history, history),
        (&written.replay_file, format!("{}\n", written.replay).into_bytes()),
        (&written.saved, saved.into_bytes()),
    ] {
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(written)
}

/// The scenario file.
fn feature_text(
    options: &ExploreOptions,
    case: &Case,
    run: &CaseRun,
    provenance: Provenance<'_>,
    written: &Written,
) -> String {
    let Provenance { origin, found_steps, shrink_runs } = provenance;
    let mut text = String::new();
    let mut command = format!("readerlab explore --seed {}", options.seed);
    for defect in options.defects.iter() {
        command.push_str(&format!(" --defect {}", defect.name()));
    }
    if let Some(model) = options.reader {
        command.push_str(&format!(" --reader {}", model.id()));
    }
    let _ = writeln!(text, "# Found by `{command}` ({origin}).");
    let _ = writeln!(
        text,
        "# Shrunk from {found_steps} steps to {} in {shrink_runs} runs.",
        case.step_count() - run.inert.len()
    );
    let (title, lines) = match &run.verdict {
        Verdict::Broken(report) => {
            let broke: Vec<String> = report.violated().into_iter().map(|i| i.to_string()).collect();
            let first = report.violations.first().map(|v| v.message.clone()).unwrap_or_default();
            (
                format!("breaks {}", broke.join(", ")),
                vec![format!("It breaks {}:", broke.join(", ")), format!("  {first}")],
            )
        }
        Verdict::Crashed(message) => {
            ("crashes the rig".to_owned(), vec![format!("It crashes the rig: {message}")])
        }
        Verdict::Holds => ("holds".to_owned(), vec!["It holds.".to_owned()]),
    };
    for line in lines {
        let _ = writeln!(text, "# {}", line.replace('\n', " "));
    }
    let _ = writeln!(text, "# Replay: {}", written.replay);
    let _ = writeln!(text, "# History: {}", written.history.display());
    let mut tags = vec!["@explored".to_owned()];
    tags.extend(options.defects.iter().map(|d| format!("@defect:{}", d.name())));
    let _ = writeln!(text, "{}", tags.join(" "));
    let _ = writeln!(text, "Feature: A schedule readerlab explore found");
    let _ = writeln!(text);
    let checksum = written
        .feature
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit('-').next())
        .unwrap_or("case");
    let _ = writeln!(text, "  Scenario: explored case {checksum} {title}");
    let inert: Vec<usize> = run.inert.iter().map(|(i, _)| *i).collect();
    for line in case.scenario_lines(&inert) {
        let _ = writeln!(text, "    {line}");
    }
    text
}

/// Runs the written scenario with `readerlab run`'s own machinery: with the
/// defects it must fail; without them it must pass.
/// Runs the written scenario with `defects` (it must fail) and, when there
/// are any, without (it must pass). The history of the first run replaces
/// the case's at `history`: the same events, and the `rig.source` that
/// lets `readerlab replay` run it again.
pub fn verify(feature: &Path, history: &Path, defects: &Defects) -> Verification {
    let run_with = |defects: &Defects, keep: Option<&Path>| -> Result<bool, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let options = RunOptions {
            paths: vec![feature.display().to_string()],
            seed: RIG_SEED,
            defects: defects.clone(),
            history_dir: keep.map(|_| dir.path().to_owned()),
            ..RunOptions::default()
        };
        let report = run(options).map_err(|errors| errors.join("\n"))?;
        if report.results.len() != 1 {
            return Err(format!("expected one scenario, ran {}", report.results.len()));
        }
        if let Some(keep) = keep {
            let result = &report.results[0];
            let written =
                crate::run::history_file(dir.path(), Path::new(&result.path), result.line);
            std::fs::copy(&written, keep)
                .map_err(|e| format!("{} to {}: {e}", written.display(), keep.display()))?;
        }
        match &report.results[0].outcome {
            Outcome::Passed => Ok(true),
            Outcome::Failed(_) => Ok(false),
            Outcome::Skipped(reason) => Err(format!("skipped: {reason}")),
        }
    };
    let mut verification = Verification { fails: false, passes_without: None, problem: None };
    match run_with(defects, Some(history)) {
        Ok(passed) => verification.fails = !passed,
        Err(problem) => verification.problem = Some(problem),
    }
    if !defects.is_empty() {
        match run_with(&Defects::none(), None) {
            Ok(passed) => verification.passes_without = Some(passed),
            Err(problem) => verification.problem = Some(problem),
        }
    }
    verification
}
