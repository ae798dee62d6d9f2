//! The simulator judged by the checker: long random runs on every model
//! hold every invariant; each defect profile, in a targeted run, breaks
//! exactly the invariant it names; `readerlab sim` and `readerlab defects`
//! as a user meets them.

use readerlab::check;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::core::{Defect, Defects};
use readerlab_emulator::sim::{RandomRun, RigSpec, Sim};
use rstest::rstest;
use std::collections::BTreeSet;
use std::process::Command;

fn run(spec: RigSpec, shape: &RandomRun) -> check::Report {
    let finished = Sim::random(spec, shape).expect("the rig builds");
    check::check(&finished.events)
}

#[rstest]
#[case::m2(ReaderModel::M2)]
#[case::wisepad3(ReaderModel::Wisepad3)]
#[case::chipper2x(ReaderModel::Chipper2x)]
#[case::s700(ReaderModel::S700)]
#[case::wisepos_e(ReaderModel::WiseposE)]
fn a_busy_day_without_defects_holds_every_invariant(#[case] model: ReaderModel) {
    for seed in [1, 2] {
        let report = run(RigSpec::single(model, seed), &RandomRun::busy(24, 600));
        assert!(report.holds(), "{model:?} seed {seed}:\n{report}");
    }
}

#[test]
fn a_rig_of_a_mobile_reader_and_two_smart_readers_holds_every_invariant() {
    let spec = RigSpec {
        readers: vec![ReaderModel::Chipper2x, ReaderModel::S700, ReaderModel::WiseposE],
        ..RigSpec::single(ReaderModel::M2, 9)
    };
    let report = run(spec, &RandomRun::busy(24, 900));
    assert!(report.holds(), "{report}");
}

/// Every defect profile, so a new one cannot be left out of this test.
#[rstest]
fn a_targeted_run_with_a_defect_breaks_exactly_its_invariant(
    #[values(ReaderModel::M2, ReaderModel::S700)] model: ReaderModel,
) {
    for defect in Defect::ALL {
        targeted(defect, model);
    }
}

fn targeted(defect: Defect, model: ReaderModel) {
    for seed in 1..=4 {
        let spec = RigSpec { defects: Defects::of([defect]), ..RigSpec::single(model, seed) };
        let report = run(spec, &RandomRun::quiet(4, 200));
        let expected = BTreeSet::from([defect.sheet().breaks]);
        assert_eq!(report.violated(), expected, "{defect} on {model:?}, seed {seed}:\n{report}");
        // And the same run without the defect holds.
        let same_drill = RandomRun { drills: vec![defect], ..RandomRun::quiet(4, 200) };
        let report = run(RigSpec::single(model, seed), &same_drill);
        assert!(report.holds(), "without {defect} on {model:?}, seed {seed}:\n{report}");
    }
}

fn readerlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_readerlab")).args(args).output().expect("runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn readerlab_sim_prints_the_verdict_the_faults_and_the_speed() {
    let (code, out, err) =
        readerlab(&["sim", "--hours", "4", "--payments", "150", "--seed", "7", "--reader", "s700"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("all invariants hold"), "{out}");
    assert!(out.contains("faults injected"), "{out}");
    assert!(out.contains("x real time"), "{out}");
}

#[test]
fn readerlab_sim_with_a_defect_exits_1_names_the_invariant_and_the_replay() {
    for defect in Defect::ALL {
        let (code, out, err) = readerlab(&[
            "sim",
            "--hours",
            "6",
            "--payments",
            "200",
            "--seed",
            "7",
            "--defect",
            defect.name(),
        ]);
        assert_eq!(code, 1, "{defect}: {out}{err}");
        let invariant = format!("{:?}", defect.sheet().breaks);
        assert!(out.contains(&invariant), "{defect} should name {invariant}: {out}");
        assert!(out.contains(&format!("--defect {defect}")), "replay line: {out}");
    }
}

#[test]
fn readerlab_sim_json_carries_the_figures() {
    let (code, out, err) =
        readerlab(&["sim", "--hours", "2", "--payments", "50", "--seed", "1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(json["holds"], true);
    assert!(json["speedup"].as_f64().is_some_and(|s| s > 1.0), "{json}");
    assert!(json["faults"].is_object(), "{json}");
}

#[test]
fn readerlab_sim_refuses_unknown_defects_and_impossible_rigs() {
    let (code, _, err) = readerlab(&["sim", "--defect", "double-forward"]);
    assert_eq!(code, 2);
    assert!(err.contains("readerlab defects"), "{err}");
    let (code, _, err) = readerlab(&["sim", "--reader", "m2", "--reader", "wisepad3"]);
    assert_eq!(code, 2);
    assert!(err.contains("at most one mobile reader"), "{err}");
}

#[test]
fn readerlab_defects_lists_each_defect_with_its_incident_and_invariant() {
    let (code, out, _) = readerlab(&["defects"]);
    assert_eq!(code, 0);
    for defect in Defect::ALL {
        let sheet = defect.sheet();
        let line = out.lines().find(|l| l.starts_with(defect.name())).expect("listed");
        assert!(line.contains(sheet.incident.unwrap_or("-")), "{line}");
        assert!(line.contains(&format!("{:?}", sheet.breaks)), "{line}");
    }
    let (code, out, _) = readerlab(&["defects", "--json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    assert_eq!(rows.len(), Defect::ALL.len());
    let i2 = serde_json::json!(Invariant::I2);
    assert!(rows.iter().any(|r| r["breaks"] == i2), "{out}");
}
