//! `readerlab explore`: what it writes is what it ran, it finds every defect
//! and shrinks it, it finds nothing in the reference, and found cases come
//! back first.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use readerlab::explore::execute::{RIG_SEED, run_case};
use readerlab::explore::generate::schedules;
use readerlab::explore::schedule::Case;
use readerlab::explore::{Budget, ExploreOptions, explore};
use readerlab::run::{RunOptions, run};
use readerlab_emulator::core::FaultKind;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::core::{Defect, Defects};
use std::path::Path;
use std::process::Command;

fn options(out: &Path, defects: Defects, cases: u64) -> ExploreOptions {
    ExploreOptions {
        budget: Budget::Cases(cases),
        seed: 1,
        reader: None,
        defects,
        out: out.to_owned(),
        progress: false,
        jobs: 1,
        shard: readerlab::explore::Shard::ALL,
    }
}

/// Cases drawn from the generator as exploration draws them.
fn drawn(count: usize, seed: u8) -> Vec<Case> {
    let strategy = schedules(None);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    (0..count)
        .map(|_| {
            let (model, ops, _) = strategy.new_tree(&mut runner).expect("draws").current();
            Case::new(model.rig, ops)
        })
        .collect()
}

/// The contract that makes a written scenario trustworthy: running a case
/// through exploration's executor and running its `.feature` through
/// `readerlab run` record byte-identical histories, for random cases.
/// A history's events without `rig.source` and without their `seq`.
fn without_source(jsonl: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(jsonl)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] != "rig.source")
        .map(|mut event| {
            event.as_object_mut().unwrap().remove("seq");
            event
        })
        .collect()
}

#[test]
fn a_written_case_runs_exactly_as_it_was_explored() {
    let dir = tempfile::tempdir().unwrap();
    let histories = dir.path().join("histories");
    let cases = drawn(24, 7);
    // The cases hold every kind of the Bluetooth reader's air faults and
    // waits for a payment's phase, so their steps are written and replayed
    // here too.
    let kinds: std::collections::BTreeSet<String> = cases
        .iter()
        .flat_map(|case| &case.ops)
        .map(|op| serde_json::to_value(op).unwrap()["op"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["notification_lost", "notifications_late", "mtu", "interval", "until"] {
        assert!(kinds.contains(kind), "no {kind} among the drawn cases: {kinds:?}");
    }
    for (index, case) in cases.into_iter().enumerate() {
        let explored = run_case(&case, &Defects::none());
        let skip: Vec<usize> = explored.inert.iter().map(|(i, _)| *i).collect();
        let mut text = String::from("Feature: equivalence\n\n  Scenario: drawn\n");
        for line in case.scenario_lines(&skip) {
            text.push_str(&format!("    {line}\n"));
        }
        let feature = dir.path().join(format!("case{index}.feature"));
        std::fs::write(&feature, &text).unwrap();
        let report = run(RunOptions {
            paths: vec![feature.display().to_string()],
            seed: RIG_SEED,
            history_dir: Some(histories.clone()),
            ..RunOptions::default()
        })
        .unwrap_or_else(|e| panic!("case {index} does not parse: {e:?}\n{text}"));
        assert_eq!(report.results.len(), 1);
        let written = std::fs::read_dir(&histories)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(&format!("case{index}.feature")))
            .expect("a history was written");
        // The run's history also records its source (`rig.source`, which
        // exploration's executor, running no file, has not): the same
        // events otherwise, at the same times, in the same order.
        let expected = readerlab_emulator::history::to_jsonl(&explored.history);
        assert_eq!(
            without_source(&std::fs::read(&written).unwrap()),
            without_source(&expected),
            "case {index}: the run's history differs from exploration's\n{text}"
        );
    }
}

#[test]
fn every_defect_is_found_shrunk_and_written_as_a_scenario_that_reproduces_it() {
    for defect in Defect::ALL {
        let dir = tempfile::tempdir().unwrap();
        let report =
            explore(ExploreOptions { seed: 3, ..options(dir.path(), Defects::of([defect]), 300) })
                .unwrap();
        let found = report
            .found
            .as_ref()
            .unwrap_or_else(|| panic!("{defect}: nothing found in {} cases", report.cases));
        let steps = found.case.step_count() - found.run.inert.len();
        assert!(steps <= 10, "{defect}: shrunk only to {steps} steps");
        // A local minimum: no operation can go and the case still fail.
        for index in 0..found.case.ops.len() {
            let mut smaller = found.case.clone();
            smaller.ops.remove(index);
            let still = run_case(&smaller, &Defects::of([defect]))
                .failure()
                .is_some_and(|f| found.failure.matches(&f));
            assert!(
                !still || !readerlab::explore::shrink::is_valid(&smaller),
                "{defect}: step {} of the shrunk case is not needed",
                index + 2
            );
        }
        assert!(found.verified.fails, "{defect}: the written scenario passes with the defect");
        assert_eq!(
            found.verified.passes_without,
            Some(true),
            "{defect}: the written scenario fails without the defect"
        );
        let broke = format!("{:?}", found.failure);
        assert!(broke.contains(&format!("{:?}", defect.sheet().breaks)), "{defect}: {broke}");
        for file in [&found.files.feature, &found.files.history, &found.files.replay_file] {
            assert!(file.exists(), "{defect}: {} not written", file.display());
        }
        let replay = std::fs::read_to_string(&found.files.replay_file).unwrap();
        assert_eq!(replay.trim(), found.files.replay);
        assert!(replay.contains(&format!("--defect {}", defect.name())));
    }
}

#[test]
fn the_reference_holds_under_exploration() {
    let dir = tempfile::tempdir().unwrap();
    let report = explore(options(dir.path(), Defects::none(), 400)).unwrap();
    if let Some(found) = &report.found {
        panic!("the reference broke: {}", report.text().replace(&found.origin, "?"));
    }
    assert_eq!(report.cases, 400);
    assert!(report.steps_per_case() > 40.0 && report.steps_per_case() < 60.0);
}

#[test]
fn found_cases_are_saved_and_run_first_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let defects = Defects::of([Defect::DuplicateOutcome]);
    let first = explore(options(dir.path(), defects.clone(), 300)).unwrap();
    let saved = first.found.expect("found").files.saved;
    assert!(saved.exists());
    // With the defect it is found again at once, before any new case.
    let again = explore(options(dir.path(), defects, 300)).unwrap();
    assert_eq!((again.rerun.ran, again.rerun.failing.len(), again.cases), (1, 1, 0));
    assert!(again.found.expect("found").origin.starts_with("saved case"));
    // Fixed (no defect), it passes and exploration goes on.
    let fixed = explore(options(dir.path(), Defects::none(), 5)).unwrap();
    assert_eq!((fixed.rerun.ran, fixed.rerun.failing.len(), fixed.cases), (1, 0, 5));
    // A damaged saved case is an error naming the file.
    std::fs::write(&saved, "{ not json").unwrap();
    let error = explore(options(dir.path(), Defects::none(), 1)).unwrap_err();
    assert!(error.contains(&saved.display().to_string()), "{error}");
}

#[test]
fn one_seed_draws_the_same_cases() {
    assert_eq!(drawn(5, 3), drawn(5, 3));
    assert_ne!(drawn(5, 3), drawn(5, 4));
}

#[test]
fn a_reader_restricts_the_rigs() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), Defects::none(), 20);
    opts.reader = Some(ReaderModel::S700);
    let report = explore(opts).unwrap();
    assert!(report.found.is_none());
    let strategy = schedules(Some(ReaderModel::S700));
    let mut runner = TestRunner::deterministic();
    for _ in 0..20 {
        let (model, _, _) = strategy.new_tree(&mut runner).unwrap().current();
        assert_eq!(model.rig.readers, vec![ReaderModel::S700]);
    }
}

fn readerlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_readerlab")).args(args).output().unwrap()
}

#[test]
fn the_command_exits_1_on_a_counterexample_and_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let args =
        ["explore", "--cases", "200", "--defect", "duplicate-outcome", "--out", &out, "--json"];
    let output = readerlab(&args);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["cases_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(json["coverage"]["fault_kinds"]["of"], FaultKind::ALL.len());
    let feature = json["counterexample"]["feature"].as_str().unwrap();
    // The written scenario fails with the defect and passes without.
    let with = readerlab(&["run", feature, "--defect", "duplicate-outcome"]);
    assert_eq!(with.status.code(), Some(1));
    let without = readerlab(&["run", feature]);
    assert_eq!(without.status.code(), Some(0), "{}", String::from_utf8_lossy(&without.stdout));
}

#[test]
fn bad_input_is_exit_2_naming_it() {
    let output = readerlab(&["explore", "--cases", "1", "--reader", "m3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown reader model `m3`"));
    let output = readerlab(&["explore", "--time", "-1"]);
    assert_eq!(output.status.code(), Some(2));
    let output = readerlab(&["explore", "--cases", "1", "--defect", "nope"]);
    assert_eq!(output.status.code(), Some(2));
}

/// Found by `fuzz_saved_case`: a saved case is read back as the steps of
/// its scenario, so one naming a card type there is no test card for, or a
/// decline code the step cannot say, is refused when it loads rather than
/// run as a case its written scenario cannot reproduce.
#[test]
fn a_saved_case_its_steps_cannot_say_is_refused_when_it_loads() {
    use readerlab::explore::schedule::{CASE_FORMAT, Op, RigPlan};
    use readerlab::explore::write::load_saved;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cases")).unwrap();
    let rig = RigPlan {
        readers: vec![ReaderModel::M2],
        usb: false,
        offline_disabled: false,
        max_per_payment: None,
        stored_limit: None,
        record_cap: None,
        behavior: None,
    };
    let pay = |card: &str| Op::Pay {
        name: 1,
        cents: 1_250,
        reader: ReaderModel::M2,
        card: card.to_owned(),
        entry: None,
        behavior: None,
        wait: true,
    };
    let declines = |code: &str| Op::Declines { times: 1, code: code.to_owned() };
    let save = |ops: Vec<Op>| {
        let case = serde_json::to_value(Case::new(rig.clone(), ops)).unwrap();
        let saved = serde_json::json!({"format": CASE_FORMAT, "found_with": [], "case": case});
        std::fs::write(dir.path().join("cases/a.json"), saved.to_string()).unwrap();
        load_saved(dir.path())
    };
    assert_eq!(save(vec![pay("visa"), declines("card_declined")]).unwrap().len(), 1);
    for ops in [vec![pay("visa]")], vec![pay("no_such_card")], vec![declines("Card declined")]] {
        let error = save(ops.clone()).unwrap_err();
        assert!(error.contains("delete the file"), "{ops:?}: {error}");
    }
}

#[test]
fn any_number_of_jobs_gives_the_same_cases_and_counterexample() {
    for defects in [Defects::none(), Defects::of([Defect::DoubleForwardOnReconnect])] {
        let runs: Vec<_> = [1, 2, 3]
            .into_iter()
            .map(|jobs| {
                let dir = tempfile::tempdir().unwrap();
                let report = explore(ExploreOptions {
                    jobs,
                    seed: 3,
                    ..options(dir.path(), defects.clone(), 80)
                })
                .unwrap();
                let found = report.found.as_ref().map(|f| (f.origin.clone(), f.case.clone()));
                (report.cases, report.steps, report.digest, report.coverage.faults, found)
            })
            .collect();
        assert_eq!(runs[0], runs[1], "--jobs 1 and 2 differ");
        assert_eq!(runs[0], runs[2], "--jobs 1 and 3 differ");
    }
}

/// N shards as separate processes, merged, are exactly one unsharded run:
/// the same number of cases, the same set of (index, case) (the digest),
/// the same coverage.
#[test]
fn shards_merged_are_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let explore = |out: &str, shard: Option<&str>| {
        let mut args = vec!["explore", "--cases", "90", "--seed", "4", "--out", out, "--json"];
        if let Some(shard) = shard {
            args.extend(["--shard", shard]);
        }
        let output = readerlab(&args);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    };
    let whole = path("whole");
    explore(&whole, None);
    let shards: Vec<String> = (1..=3).map(|k| path(&format!("shard{k}"))).collect();
    let children: Vec<_> = (1..=3)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_readerlab"))
                .args(["explore", "--cases", "90", "--seed", "4", "--jobs", "1"])
                .args(["--shard", &format!("{k}/3"), "--out", &shards[k - 1], "--json"])
                .output()
        })
        .collect();
    for child in children {
        let child = child.unwrap();
        assert_eq!(child.status.code(), Some(0), "{}", String::from_utf8_lossy(&child.stderr));
    }
    let mut args = vec!["explore", "merge", "--json"];
    args.extend(shards.iter().map(String::as_str));
    let merged = readerlab(&args);
    assert_eq!(merged.status.code(), Some(0), "{}", String::from_utf8_lossy(&merged.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    let whole: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("whole/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(merged["cases"], 90);
    for key in ["cases", "steps", "digest", "faults"] {
        assert_eq!(merged[key], whole[key], "{key}");
    }
    let cases = |v: &serde_json::Value| -> Vec<(String, u64)> {
        v["coverage"]["risky_paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["path"].as_str().unwrap().to_owned(), p["cases"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(cases(&merged), cases(&whole));
    // Shards of one exploration only: a shard given twice is refused.
    let twice = readerlab(&["explore", "merge", &shards[0], &shards[0]]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("twice"));
}
