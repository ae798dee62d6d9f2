//! `readerlab explore merge DIR...`: shards' explorations put back together.
//!
//! Every exploration writes `summary.json` into its `--out` directory (the
//! same object `--json` prints). Merging reads one per directory, checks
//! that they explored the same stream (seed, defects, reader, budget) in
//! distinct shards, and sums them: cases, steps, the case digests (which
//! add up to the unsharded run's), fault kinds and risky paths; the
//! counterexamples are listed once per invariant set and shrunk schedule
//! (the checksum in the file name), with where each was found.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file each exploration writes into its `--out`.
pub const SUMMARY: &str = "summary.json";

/// The merged result.
#[derive(Debug)]
pub struct Merged {
    /// The merged summary (the shape `explore --json` prints, with
    /// `shards` and a list of `counterexamples`).
    pub json: Value,
    /// Whether any shard found a counterexample.
    pub found: bool,
}

/// Merges the summaries in `dirs`.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, String> {
    let summaries = read(dirs)?;
    let shards = check_one_exploration(&summaries)?;
    let first = &summaries[0].1;
    let sum = |key: &str| -> u64 {
        summaries.iter().map(|(_, s)| s.get(key).and_then(Value::as_u64).unwrap_or(0)).sum()
    };
    let digest = summaries.iter().fold(0u64, |acc, (_, s)| {
        let d =
            s.get("digest").and_then(Value::as_str).and_then(|d| u64::from_str_radix(d, 16).ok());
        acc.wrapping_add(d.unwrap_or(0))
    });
    let (faults, paths) = coverage(&summaries);
    let counterexamples = counterexamples(&summaries);
    let (cases, steps) = (sum("cases"), sum("steps"));
    let missing: Vec<&String> = faults.iter().filter(|(_, n)| **n == 0).map(|(k, _)| k).collect();
    let any = !counterexamples.is_empty();
    let json = json!({
        "seed": first.get("seed"),
        "defects": first.get("defects"),
        "reader": first.get("reader"),
        "budget": first.get("budget"),
        "shards": shards,
        "cases": cases,
        "steps": steps,
        "steps_per_case": steps as f64 / cases.max(1) as f64,
        "digest": format!("{digest:016x}"),
        "faults": faults,
        "coverage": {
            "fault_kinds": {
                "reached": faults.len() - missing.len(),
                "of": faults.len(),
                "missing": missing,
            },
            "risky_paths": paths,
        },
        "counterexamples": counterexamples,
    });
    Ok(Merged { found: any, json })
}

/// Each directory's summary, read.
fn read(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Value)>, String> {
    if dirs.is_empty() {
        return Err("give the --out directories of the shards to merge".to_owned());
    }
    let mut summaries = Vec::new();
    for dir in dirs {
        let path = dir.join(SUMMARY);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!("{}: {e} (each shard's `explore --out DIR` writes it)", path.display())
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            format!("{}:{}: not an exploration summary: {e}", path.display(), e.line())
        })?;
        summaries.push((path, value));
    }
    Ok(summaries)
}

/// The shards' names, once each shard of one split of one exploration is
/// certain.
fn check_one_exploration(summaries: &[(PathBuf, Value)]) -> Result<Vec<String>, String> {
    let (first_path, first) = &summaries[0];
    let mut shards: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut of = None;
    for (path, summary) in summaries {
        for key in ["seed", "defects", "reader", "budget"] {
            if summary.get(key) != first.get(key) {
                return Err(format!(
                    "{} explored with {key} {}, but {} with {}: only shards of one exploration \
                     merge",
                    path.display(),
                    summary.get(key).unwrap_or(&Value::Null),
                    first_path.display(),
                    first.get(key).unwrap_or(&Value::Null)
                ));
            }
        }
        let shard = summary.get("shard").and_then(Value::as_str).unwrap_or("1/1").to_owned();
        let n = shard.split('/').nth(1).unwrap_or("1").to_owned();
        if of.get_or_insert_with(|| n.clone()) != &n {
            return Err(format!("{} is shard {shard}, of another split", path.display()));
        }
        if let Some(other) = shards.insert(shard.clone(), path.clone()) {
            return Err(format!("shard {shard} twice: {} and {}", other.display(), path.display()));
        }
    }
    Ok(shards.into_keys().collect())
}

/// Fault kinds summed, and risky paths summed in the order the summaries
/// list them (by invariant).
fn coverage(summaries: &[(PathBuf, Value)]) -> (BTreeMap<String, u64>, Vec<Value>) {
    let mut faults: BTreeMap<String, u64> = BTreeMap::new();
    let mut paths: Vec<(String, Value, u64)> = Vec::new();
    for (_, s) in summaries {
        for (kind, count) in s.get("faults").and_then(Value::as_object).into_iter().flatten() {
            *faults.entry(kind.clone()).or_default() += count.as_u64().unwrap_or(0);
        }
        let risky = s.pointer("/coverage/risky_paths").and_then(Value::as_array);
        for p in risky.into_iter().flatten() {
            let name = p.get("path").and_then(Value::as_str).unwrap_or("?").to_owned();
            let at = match paths.iter().position(|(n, _, _)| *n == name) {
                Some(at) => at,
                None => {
                    paths.push((name, p.clone(), 0));
                    paths.len() - 1
                }
            };
            paths[at].2 += p.get("cases").and_then(Value::as_u64).unwrap_or(0);
        }
    }
    let paths = paths
        .into_iter()
        .map(|(_, mut p, cases)| {
            p["cases"] = json!(cases);
            p
        })
        .collect();
    (faults, paths)
}

/// The counterexamples, once per invariant set and shrunk schedule.
fn counterexamples(summaries: &[(PathBuf, Value)]) -> Vec<Value> {
    let mut found: BTreeMap<(String, String), Value> = BTreeMap::new();
    for (path, s) in summaries {
        if let Some(c) = s.get("counterexample").filter(|c| !c.is_null()) {
            let invariants = c.get("invariants").map(Value::to_string).unwrap_or_default();
            let feature = c.get("feature").and_then(Value::as_str).unwrap_or_default();
            let schedule = Path::new(feature)
                .file_stem()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut c = c.clone();
            c["shard_dir"] = json!(path.parent().map(|p| p.display().to_string()));
            found.entry((invariants, schedule)).or_insert(c);
        }
    }
    found.into_values().collect()
}
