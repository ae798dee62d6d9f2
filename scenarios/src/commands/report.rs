//! `readerlab report`, and the `--report DIR` of `run` and `explore`: the
//! timeline of a history as one self-contained HTML file
//! ([`crate::timeline`], docs/report.md), and an `index.html` per run.

use super::Outcome;
use super::Verdict;
use crate::check::check;
use crate::run::{Outcome as ScenarioOutcome, RunReport, history_file};
use crate::timeline::{IndexEntry, index_page, page};
use anyhow::Context;
use readerlab_emulator::history::read_history_cut_short;
use std::path::{Path, PathBuf};

/// The flags of `readerlab report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The history (JSON Lines) to draw.
    history: PathBuf,
    /// Where to write the page (default: the history's name with `.html`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `readerlab report`: writes the page; exit 0 whatever the history's
/// verdict (the page shows it; `readerlab check` judges).
pub fn run(args: &Args) -> Outcome {
    let output = args.output.clone().unwrap_or_else(|| args.history.with_extension("html"));
    let verdict = write_timeline(&args.history, &output, &title_of(&args.history))?;
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    println!("{} ({} KiB): {verdict}", output.display(), size.div_ceil(1024));
    Ok(Verdict::Holds)
}

fn title_of(history: &Path) -> String {
    let name = history.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("readerlab timeline: {name}")
}

/// Reads `history`, judges it and writes its timeline to `output`; the
/// checker's one-line summary.
pub fn write_timeline(history: &Path, output: &Path, title: &str) -> anyhow::Result<String> {
    let file = std::fs::File::open(history)
        .with_context(|| format!("cannot open history {}", history.display()))?;
    let (events, cut) = read_history_cut_short(std::io::BufReader::new(file))
        .with_context(|| format!("cannot read history {}", history.display()))?;
    if let Some(line) = cut {
        eprintln!(
            "readerlab report: {}: line {line} is cut short (its writer was killed mid-line); \
             drawn without it",
            history.display()
        );
    }
    let report = check(&events);
    let html = page(title, &events, &report);
    std::fs::write(output, html).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(report.summary())
}

/// `run --report DIR`: a timeline per scenario that ran (its history is in
/// `histories`) and `DIR/index.html` linking every scenario.
pub fn write_run_report(dir: &Path, histories: &Path, run: &RunReport) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut entries = Vec::new();
    for result in &run.results {
        let history = history_file(histories, Path::new(&result.path), result.line);
        // A skipped scenario wrote no history: a file there is an older run's.
        let ran = !matches!(result.outcome, ScenarioOutcome::Skipped(_));
        let timeline = if ran && history.exists() {
            let name = history.with_extension("html");
            let name = name.file_name().expect("a file name").to_owned();
            let title = format!("{} — {}:{}", result.name, result.path, result.line);
            write_timeline(&history, &dir.join(&name), &title)?;
            Some(name.to_string_lossy().into_owned())
        } else {
            None
        };
        let (verdict, detail) = match &result.outcome {
            ScenarioOutcome::Passed => ("passed", String::new()),
            ScenarioOutcome::Failed(why) => ("failed", why.clone()),
            ScenarioOutcome::Skipped(why) => ("skipped", why.clone()),
        };
        entries.push(IndexEntry {
            location: format!("{}:{}", result.path, result.line),
            name: result.name.clone(),
            verdict: verdict.to_owned(),
            wall_ms: result.duration.as_millis(),
            timeline,
            detail,
        });
    }
    let failed = run.count(|o| matches!(o, ScenarioOutcome::Failed(_)));
    let passed = run.count(|o| matches!(o, ScenarioOutcome::Passed));
    let skipped = run.count(|o| matches!(o, ScenarioOutcome::Skipped(_)));
    let summary = format!(
        "{} scenarios on {} with seed {}: {passed} passed, {failed} failed, {skipped} skipped",
        run.results.len(),
        run.options.target.name(),
        run.options.seed
    );
    let index = dir.join("index.html");
    std::fs::write(&index, index_page("readerlab run", &summary, &entries))
        .with_context(|| format!("cannot write {}", index.display()))?;
    Ok(index)
}

/// `explore --report DIR`: the counterexample's timeline, if one was
/// found, and an index.
pub fn write_explore_report(
    dir: &Path,
    report: &crate::explore::ExploreReport,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut entries = Vec::new();
    if let Some(found) = &report.found {
        let history = &found.files.history;
        let name = history.with_extension("html");
        let name = name.file_name().expect("a file name").to_owned();
        let title = format!("counterexample {} ({})", found.files.feature.display(), found.origin);
        write_timeline(history, &dir.join(&name), &title)?;
        entries.push(IndexEntry {
            location: found.files.feature.display().to_string(),
            name: format!("counterexample ({})", found.origin),
            verdict: "failed".to_owned(),
            wall_ms: report.wall.as_millis(),
            timeline: Some(name.to_string_lossy().into_owned()),
            detail: found.files.replay.clone(),
        });
    }
    let summary = format!(
        "{} cases with seed {}: {}",
        report.cases,
        report.options.seed,
        if report.found.is_some() { "a counterexample" } else { "nothing found" }
    );
    let index = dir.join("index.html");
    std::fs::write(&index, index_page("readerlab explore", &summary, &entries))
        .with_context(|| format!("cannot write {}", index.display()))?;
    Ok(index)
}
