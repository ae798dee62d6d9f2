//! `readerlab replay` as a user meets it: a history the simulator wrote
//! comes back identical; one edited by hand names its first divergence; a
//! history with nothing to re-run is bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn readerlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_readerlab")).args(args).output().expect("readerlab runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The history of one bundled scenario, written by `run --history-dir`.
fn recorded(dir: &Path) -> PathBuf {
    let feature =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../features/faults/response_lost.feature");
    let out =
        readerlab(&["run", feature.to_str().unwrap(), "--history-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.remove(0)
}

#[test]
fn a_simulator_history_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let history = recorded(dir.path());
    let out = readerlab(&["replay", history.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let lines = std::fs::read_to_string(&history).unwrap().lines().count();
    assert!(said.contains(&format!("identical ({lines} events)")), "{said}");
}

#[test]
fn an_edited_history_names_its_first_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let history = recorded(dir.path());
    let original = std::fs::read_to_string(&history).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"event\":\"backend.payment_intent.created\""))
        .unwrap();
    lines[at] = lines[at].replacen("\"capture\":\"automatic\"", "\"capture\":\"manual\"", 1);
    assert_ne!(lines.join("\n") + "\n", original, "the edit changed nothing");
    std::fs::write(&history, lines.join("\n") + "\n").unwrap();
    let out = readerlab(&["replay", history.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("at event {}", at + 1)), "{said}");
    assert!(
        said.contains("\"capture\":\"manual\"") && said.contains("\"capture\":\"automatic\""),
        "{said}"
    );
    assert!(said.contains("the events just before it"), "{said}");
}

#[test]
fn a_history_without_its_source_is_bad_input_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let history = recorded(dir.path());
    let kept: Vec<String> = std::fs::read_to_string(&history)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"event\":\"rig.source\""))
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["seq"] = serde_json::json!(i + 1);
            v.to_string()
        })
        .collect();
    std::fs::write(&history, kept.join("\n") + "\n").unwrap();
    let out = readerlab(&["replay", history.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("no rig.source") && said.contains("readerlab check"), "{said}");
}

#[test]
fn a_random_run_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("sim.jsonl");
    let out = readerlab(&[
        "sim",
        "--hours",
        "1",
        "--payments",
        "30",
        "--seed",
        "9",
        "--intensity",
        "0.5",
        "--history",
        history.to_str().unwrap(),
    ]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", text(&out));
    let out = readerlab(&["replay", history.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("identical ("), "{}", text(&out));
}
