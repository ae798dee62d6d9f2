//! The exploration summary, as text for people and JSON for tools.

use super::coverage::RISKY_PATHS;
use super::execute::Verdict;
use super::{Budget, ExploreReport};
use readerlab_emulator::core::FaultKind;
use serde_json::{Value, json};
use std::fmt::Write as _;

impl ExploreReport {
    /// The summary people read.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        let defects: Vec<&str> = o.defects.iter().map(|d| d.name()).collect();
        let _ = writeln!(
            out,
            "readerlab explore: seed {}, {}, {}{}",
            o.seed,
            match o.budget {
                Budget::Cases(n) => format!("{n} cases"),
                Budget::Time(t) => format!("{} s", t.as_secs()),
            },
            if defects.is_empty() { "no defect".to_owned() } else { defects.join(", ") },
            o.reader.map_or(String::new(), |m| format!(", {} rigs only", m.id())),
        );
        if self.rerun.ran > 0 {
            let _ = writeln!(
                out,
                "saved cases re-run first: {} ({} still failing) from {}",
                self.rerun.ran,
                self.rerun.failing.len(),
                o.out.join("cases").display()
            );
        }
        let _ = writeln!(
            out,
            "cases: {} ({} steps, {:.1} per case) in {:.2} s: {:.0} cases/s, {:.0} steps/s on {} job(s){}",
            self.cases,
            self.steps,
            self.steps_per_case(),
            self.exploring.as_secs_f64(),
            self.cases_per_second(),
            self.steps as f64 / self.exploring.as_secs_f64().max(1e-9),
            o.jobs,
            if o.shard.of > 1 { format!(", shard {}", o.shard) } else { String::new() },
        );
        let total: u64 = self.coverage.faults.values().sum();
        let _ = writeln!(out, "faults injected: {total}");
        for kind in FaultKind::ALL {
            let count = self.coverage.faults.get(&kind).copied().unwrap_or(0);
            let _ = writeln!(out, "  {:<24} {count}", kind.name());
        }
        let missing = self.coverage.missing_faults();
        let _ = writeln!(
            out,
            "coverage: fault kinds {}/{}{}",
            FaultKind::ALL.len() - missing.len(),
            FaultKind::ALL.len(),
            if missing.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = missing.iter().map(|k| k.name()).collect();
                format!(" (never: {})", names.join(", "))
            }
        );
        let reached = RISKY_PATHS.len() - self.coverage.missing_paths().len();
        let _ = writeln!(
            out,
            "coverage: risky paths {reached}/{} (cases that went through each)",
            RISKY_PATHS.len()
        );
        for path in RISKY_PATHS {
            let count = self.coverage.paths.get(path.name).copied().unwrap_or(0);
            let mark = if count > 0 { ' ' } else { '!' };
            let _ = writeln!(
                out,
                " {mark}{} {:<30} {count:>7}  {}",
                path.invariant, path.name, path.what
            );
        }
        match &self.found {
            None => {
                let _ = writeln!(out, "found nothing: every case held every invariant");
            }
            Some(found) => counterexample_text(found, &mut out),
        }
        let _ = writeln!(out, "wall time {:.2} s", self.wall.as_secs_f64());
        out
    }

    /// The summary tools read.
    pub fn json(&self) -> Value {
        let o = &self.options;
        let faults: serde_json::Map<String, Value> = FaultKind::ALL
            .iter()
            .map(|k| {
                (k.name().to_owned(), json!(self.coverage.faults.get(k).copied().unwrap_or(0)))
            })
            .collect();
        let paths: Vec<Value> = RISKY_PATHS
            .iter()
            .map(|p| {
                json!({
                    "invariant": p.invariant.to_string(),
                    "path": p.name,
                    "what": p.what,
                    "cases": self.coverage.paths.get(p.name).copied().unwrap_or(0),
                })
            })
            .collect();
        let found = self.found.as_ref().map(|f| {
            let (invariants, violations, crash) = match &f.run.verdict {
                Verdict::Broken(report) => (
                    report.violated().iter().map(ToString::to_string).collect::<Vec<_>>(),
                    report
                        .violations
                        .iter()
                        .map(
                            |v| json!({"invariant": v.invariant.to_string(), "message": v.message}),
                        )
                        .collect::<Vec<_>>(),
                    None,
                ),
                Verdict::Crashed(message) => (Vec::new(), Vec::new(), Some(message.clone())),
                Verdict::Holds => (Vec::new(), Vec::new(), None),
            };
            json!({
                "origin": f.origin,
                "invariants": invariants,
                "violations": violations,
                "crash": crash,
                "found_steps": f.found_steps,
                "steps": f.case.step_count() - f.run.inert.len(),
                "shrink_runs": f.shrink_runs,
                "feature": f.files.feature.display().to_string(),
                "history": f.files.history.display().to_string(),
                "saved": f.files.saved.display().to_string(),
                "replay": f.files.replay,
                "verified": {
                    "fails": f.verified.fails,
                    "passes_without_defect": f.verified.passes_without,
                    "problem": f.verified.problem,
                },
            })
        });
        json!({
            "seed": o.seed,
            "shard": o.shard.to_string(),
            "jobs": o.jobs,
            "digest": format!("{:016x}", self.digest),
            "defects": o.defects.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "reader": o.reader.map(|m| m.id()),
            "budget": match o.budget {
                Budget::Cases(n) => json!({"cases": n}),
                Budget::Time(t) => json!({"seconds": t.as_secs()}),
            },
            "saved_cases": {
                "ran": self.rerun.ran,
                "failing": self.rerun.failing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            },
            "cases": self.cases,
            "steps": self.steps,
            "steps_per_case": self.steps_per_case(),
            "exploring_seconds": self.exploring.as_secs_f64(),
            "cases_per_second": self.cases_per_second(),
            "steps_per_second": self.steps as f64 / self.exploring.as_secs_f64().max(1e-9),
            "faults": faults,
            "coverage": {
                "fault_kinds": {
                    "reached": FaultKind::ALL.len() - self.coverage.missing_faults().len(),
                    "of": FaultKind::ALL.len(),
                    "missing": self.coverage.missing_faults().iter().map(|k| k.name()).collect::<Vec<_>>(),
                },
                "risky_paths": paths,
            },
            "counterexample": found,
            "wall_seconds": self.wall.as_secs_f64(),
        })
    }
}

/// The counterexample part of the summary: what it breaks, its shrunk steps,
/// the files written and whether the written scenario reproduces it.
fn counterexample_text(found: &super::Counterexample, out: &mut String) {
    let _ = writeln!(out);
    let what = match &found.run.verdict {
        Verdict::Broken(report) => {
            let broke: Vec<String> = report.violated().iter().map(ToString::to_string).collect();
            format!("breaks {}", broke.join(", "))
        }
        Verdict::Crashed(message) => format!("crashes the rig: {message}"),
        Verdict::Holds => "holds".to_owned(),
    };
    let steps = found.case.step_count() - found.run.inert.len();
    let _ = writeln!(out, "COUNTEREXAMPLE ({}): {what}", found.origin);
    if let Verdict::Broken(report) = &found.run.verdict {
        for violation in &report.violations {
            let _ = writeln!(out, "  {}: {}", violation.invariant, violation.message);
        }
    }
    let _ = writeln!(
        out,
        "shrunk from {} to {steps} steps in {} runs:",
        found.found_steps, found.shrink_runs
    );
    let inert: Vec<usize> = found.run.inert.iter().map(|(i, _)| *i).collect();
    for line in found.case.scenario_lines(&inert) {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "written: {}", found.files.feature.display());
    let _ = writeln!(out, "history: {}", found.files.history.display());
    let _ = writeln!(out, "replay:  {}", found.files.replay);
    let v = &found.verified;
    let check = if v.holds() {
        match v.passes_without {
            Some(_) => "readerlab run reproduces it, and it passes without the defect".to_owned(),
            None => "readerlab run reproduces it".to_owned(),
        }
    } else {
        format!(
            "WARNING: the written scenario does not behave as explored (fails with \
                 the defect: {}, passes without: {:?}{}); please report this",
            v.fails,
            v.passes_without,
            v.problem.as_ref().map_or(String::new(), |p| format!(", {p}"))
        )
    };
    let _ = writeln!(out, "checked: {check}");
}
