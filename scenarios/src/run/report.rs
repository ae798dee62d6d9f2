//! Reports of a `readerlab run`: the summary people read, the JSON tools
//! read, and JUnit XML for CI (one test case per scenario).

use super::{Outcome, RunReport};
use junit_report::{Duration as JDuration, ReportBuilder, TestCase, TestSuiteBuilder};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The summary: failures with their seed and replay command, then the
/// counts and the wall time.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    for result in &report.results {
        if let Outcome::Failed(why) = &result.outcome {
            out.push_str(&format!(
                "\nFAILED {}:{}  {}\n{}\n  seed {}; replay: {}\n",
                result.path,
                result.line,
                result.name,
                indent(why),
                report.options.seed,
                report.replay_command(result)
            ));
            if let Some(dir) = &report.options.history_dir {
                let file = super::history_file(dir, Path::new(&result.path), result.line);
                out.push_str(&format!("  history: {}\n", file.display()));
            }
        }
    }
    let (passed, failed, skipped) = counts(report);
    let steps: usize = report.results.iter().map(|r| r.steps_passed).sum();
    let defects: Vec<&str> = report.options.defects.iter().map(|d| d.name()).collect();
    out.push_str(&format!(
        "\n{} scenarios ({steps} steps) on {} with seed {}{}: {passed} passed, {failed} failed, {skipped} skipped in {:.2} s\n",
        report.results.len(),
        report.options.target.name(),
        report.options.seed,
        if defects.is_empty() { String::new() } else { format!(", defects {}", defects.join(", ")) },
        report.wall.as_secs_f64(),
    ));
    out.push_str(&format!("{passed} passed, {failed} failed, {skipped} skipped\n"));
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

/// (passed, failed, skipped).
pub fn counts(report: &RunReport) -> (usize, usize, usize) {
    (
        report.count(|o| matches!(o, Outcome::Passed)),
        report.count(|o| matches!(o, Outcome::Failed(_))),
        report.count(|o| matches!(o, Outcome::Skipped(_))),
    )
}

/// The run as JSON: counts, wall time, and every scenario with its outcome
/// (and for a failure, its replay command).
pub fn json(report: &RunReport) -> serde_json::Value {
    let (passed, failed, skipped) = counts(report);
    let scenarios: Vec<_> = report
        .results
        .iter()
        .map(|r| {
            let (outcome, message) = match &r.outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Failed(why) => ("failed", Some(why.clone())),
                Outcome::Skipped(why) => ("skipped", Some(why.clone())),
            };
            json!({
                "path": r.path,
                "line": r.line,
                "feature": r.feature,
                "name": r.name,
                "tags": r.tags,
                "outcome": outcome,
                "message": message,
                "steps": r.steps_passed,
                "ms": r.duration.as_secs_f64() * 1_000.0,
                "retried": r.retried,
                "replay": matches!(r.outcome, Outcome::Failed(_)).then(|| report.replay_command(r)),
            })
        })
        .collect();
    json!({
        "target": report.options.target.name(),
        "seed": report.options.seed,
        "defects": report.options.defects.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "scenarios": report.results.len(),
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "wall_s": report.wall.as_secs_f64(),
        "results": scenarios,
    })
}

/// Writes JUnit XML: one test suite per feature file, one test case per
/// scenario (a retried scenario once, with its last try).
pub fn write_junit(report: &RunReport, out: impl Write) -> std::io::Result<()> {
    write_junit_with(Vec::new(), Some(report), out)
}

/// `readerlab conform`'s JUnit: a `protocol` suite (each check by name,
/// with its failure, or skipped), then the scenarios as [`write_junit`]
/// writes them.
pub fn write_conform_junit(
    checks: &[(String, Option<String>, bool)],
    report: Option<&RunReport>,
    out: impl Write,
) -> std::io::Result<()> {
    let cases = checks
        .iter()
        .map(|(name, failure, skipped)| {
            let mut case = match (failure, skipped) {
                (Some(why), _) => TestCase::failure(name, JDuration::ZERO, "protocol", why),
                (None, true) => TestCase::skipped(name),
                (None, false) => TestCase::success(name, JDuration::ZERO),
            };
            case.set_classname("protocol");
            case
        })
        .collect();
    write_junit_with(cases, report, out)
}

fn write_junit_with(
    protocol: Vec<TestCase>,
    report: Option<&RunReport>,
    out: impl Write,
) -> std::io::Result<()> {
    let mut builder = ReportBuilder::new();
    if !protocol.is_empty() {
        builder.add_testsuite(TestSuiteBuilder::new("protocol").add_testcases(protocol).build());
    }
    let Some(report) = report else {
        return builder.build().write_xml(out).map_err(std::io::Error::other);
    };
    let mut suites: BTreeMap<&str, Vec<TestCase>> = BTreeMap::new();
    for result in &report.results {
        let time = JDuration::try_from(result.duration).unwrap_or(JDuration::ZERO);
        let name = format!("{} (line {})", result.name, result.line);
        let mut case = match &result.outcome {
            Outcome::Passed => TestCase::success(&name, time),
            Outcome::Failed(why) => {
                let first = why.lines().next().unwrap_or("failed");
                let mut case = TestCase::failure(&name, time, "scenario", first);
                case.set_system_out(&format!(
                    "{why}\n\nseed {}; replay: {}",
                    report.options.seed,
                    report.replay_command(result)
                ));
                case
            }
            Outcome::Skipped(why) => TestCase::skipped_with_cause(&name, "skipped", why),
        };
        case.set_classname(&result.path);
        case.set_filepath(&result.path);
        suites.entry(&result.path).or_default().push(case);
    }
    for (path, cases) in suites {
        builder.add_testsuite(TestSuiteBuilder::new(path).add_testcases(cases).build());
    }
    builder.build().write_xml(out).map_err(std::io::Error::other)
}
