//! `readerlab run` and its parts: the vocabulary is complete and its
//! examples match, a step the target cannot do skips with its reason, the
//! checker fails a scenario whose own steps passed, histories replay byte
//! for byte, JUnit parses and agrees with the summary, and every defect is
//! caught by its scenario.

use cucumber::World as _;
use cucumber::gherkin::{Feature, GherkinEnv};
use quick_xml::Reader;
use quick_xml::events::Event as Xml;
use readerlab::rig::{Capability, Rig, SimTarget, Target};
use readerlab::run::{Outcome, RunOptions, RunReport, run};
use readerlab::steps::{LabWorld, VOCABULARY};
use readerlab_emulator::core::{Defect, Defects};
use readerlab_emulator::sim::RigSpec;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// Writes `text` as a feature file in a fresh directory.
fn feature(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.feature");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

fn run_paths(paths: Vec<String>, options: RunOptions) -> RunReport {
    run(RunOptions { paths, ..options }).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn every_step_is_documented_and_every_example_matches_its_own_step() {
    let steps = LabWorld::collection();
    let mut locations = HashSet::new();
    for doc in VOCABULARY {
        let text = format!("Feature: f\n  Scenario: s\n    {}\n", doc.example);
        let parsed = Feature::parse(&text, GherkinEnv::default()).unwrap();
        let step = &parsed.scenarios[0].steps[0];
        let (_, _, location, _) = steps
            .find(step)
            .unwrap_or_else(|e| panic!("`{}` is ambiguous: {e}", doc.example))
            .unwrap_or_else(|| panic!("`{}` matches no step", doc.example));
        let location = location.expect("macro steps know where they are");
        assert!(
            locations.insert((location.path, location.line)),
            "`{}` matches a step another example already documents",
            doc.example
        );
    }
    // As many documented steps as step definitions in the source.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/steps");
    let mut defined = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        defined += ["#[given(", "#[when(", "#[then("]
            .iter()
            .map(|attribute| source.matches(attribute).count())
            .sum::<usize>();
    }
    assert_eq!(VOCABULARY.len(), defined, "every step definition needs its VOCABULARY entry");
}

#[test]
fn every_model_name_of_the_catalogue_reads_in_the_model_steps() {
    // The step patterns spell the names out; a renamed or new model must
    // not fall out of them unnoticed.
    let steps = LabWorld::collection();
    let catalog = readerlab_emulator::fixtures::ReaderCatalog::builtin();
    for profile in catalog.iter() {
        for text in [
            format!("Given a rig with a {}", profile.name),
            format!("Given the rig also has a {}", profile.name),
            format!("When the {} reboots", profile.name),
            format!("Then the {} is connected", profile.name),
        ] {
            let feature = format!("Feature: f\n  Scenario: s\n    {text}\n");
            let parsed = Feature::parse(&feature, GherkinEnv::default()).unwrap();
            let found = steps.find(&parsed.scenarios[0].steps[0]).unwrap();
            assert!(found.is_some(), "`{text}` matches no step");
        }
    }
}

/// The simulator, minus some capabilities (as the served and lab targets
/// will be).
#[derive(Debug)]
struct Without(BTreeSet<Capability>);

impl Target for Without {
    fn name(&self) -> &'static str {
        "restricted"
    }

    fn capabilities(&self) -> BTreeSet<Capability> {
        SimTarget.capabilities().difference(&self.0).copied().collect()
    }

    fn start(&self, spec: RigSpec) -> Result<Box<dyn Rig>, readerlab::rig::StartError> {
        SimTarget.start(spec)
    }
}

#[test]
fn a_step_the_target_cannot_do_skips_the_scenario_with_the_reason() {
    let (_dir, path) = feature(
        "Feature: f\n\
         \n  Scenario: cuts the network\n    Given a rig with a Stripe Reader M2\n    When the internet goes down\n    Then \"x\" is stored offline\n\
         \n  @needs:power\n  Scenario: needs power up front\n    Given a rig with a Stripe Reader M2\n\
         \n  Scenario: needs nothing\n    Given a rig with a Stripe Reader M2\n    When the customer pays 5.00 USD as \"x\"\n    Then \"x\" succeeds online\n",
    );
    let target = Without(BTreeSet::from([Capability::NetworkFaults, Capability::Power]));
    let report =
        run_paths(vec![path], RunOptions { target: Arc::new(target), ..RunOptions::default() });
    let outcomes: Vec<&Outcome> = report.results.iter().map(|r| &r.outcome).collect();
    assert!(
        matches!(outcomes[0], Outcome::Skipped(why) if why.contains("network-faults")),
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[1], Outcome::Skipped(why) if why.contains("power")), "{outcomes:?}");
    assert_eq!(outcomes[2], &Outcome::Passed);
}

#[test]
fn the_checker_fails_a_scenario_whose_own_steps_passed() {
    // The defect loses the stored payments on upgrade; the scenario's own
    // steps say nothing about it, the checker does (I1).
    let (_dir, path) = feature(
        "Feature: f\n  Scenario: upgrade while payments wait\n    Given a rig with a Stripe Reader M2\n    When the internet goes down\n    And the customer pays 5.00 USD as \"x\"\n    And the app on the POS is upgraded from the version with the old store format\n    And the internet comes back\n    And 10 minutes pass\n",
    );
    let defects = Defects::of([Defect::StoreLostOnUpgrade]);
    let report = run_paths(vec![path.clone()], RunOptions { defects, ..RunOptions::default() });
    let result = &report.results[0];
    assert_eq!(result.steps_passed, 6);
    let Outcome::Failed(why) = &result.outcome else { panic!("{:?}", result.outcome) };
    assert!(why.contains("I1"), "{why}");
    assert!(report.replay_command(result).contains("--defect store-lost-on-upgrade"));
    let clean = run_paths(vec![path], RunOptions::default());
    assert_eq!(clean.results[0].outcome, Outcome::Passed);
}

#[test]
fn the_same_seed_writes_byte_identical_histories() {
    let histories = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let options = RunOptions {
            paths: vec!["features/offline".to_owned()],
            seed,
            history_dir: Some(dir.path().to_path_buf()),
            ..RunOptions::default()
        };
        let report = run(options).unwrap();
        assert!(report.passed());
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                (path.file_name().unwrap().to_owned(), std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        assert!(!files.is_empty());
        files
    };
    assert_eq!(histories(7), histories(7));
    assert_ne!(histories(7), histories(8));
}

#[test]
fn undefined_steps_stop_the_run_naming_file_and_line() {
    let (_dir, path) = feature(
        "Feature: f\n  Scenario: s\n    Given a rig with a Stripe Reader M2\n    When the reader sings\n",
    );
    let errors =
        run(RunOptions { paths: vec![path.clone()], ..RunOptions::default() }).unwrap_err();
    assert_eq!(
        errors,
        vec![format!("{path}:4: undefined step: When the reader sings (see `readerlab steps`)")]
    );
    let out = Command::new(env!("CARGO_BIN_EXE_readerlab")).args(["run", &path]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{path}:4: undefined step")));
    let missing = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "no/such.feature"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no/such.feature: no such feature file")
    );
}

/// Counts JUnit test cases and their failures and skips.
fn junit_counts(xml: &str) -> (usize, usize, usize) {
    let mut reader = Reader::from_str(xml);
    let (mut cases, mut failures, mut skipped) = (0, 0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Xml::Start(e) | Xml::Empty(e) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                b"skipped" => skipped += 1,
                _ => {}
            },
            Xml::Eof => break,
            _ => {}
        }
    }
    (cases, failures, skipped)
}

#[test]
fn junit_parses_and_its_counts_match_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    // A defect run, so there are failures to count too.
    let out = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["run", "--json", "--defect", "store-lost-on-upgrade", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let xml = std::fs::read_to_string(&junit).unwrap();
    let (cases, failures, skipped) = junit_counts(&xml);
    assert_eq!(cases as u64, summary["scenarios"].as_u64().unwrap());
    assert_eq!(failures as u64, summary["failed"].as_u64().unwrap());
    assert_eq!(skipped as u64, summary["skipped"].as_u64().unwrap());
    assert!(failures > 0, "the defect fails at least its incident scenario");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn every_defect_fails_its_scenarios_naming_its_invariant() {
    for defect in Defect::ALL {
        let sheet = defect.sheet();
        let tag = format!("@defect:{}", defect.name());
        let options =
            |defects| RunOptions { tags: Some(tag.clone()), defects, ..RunOptions::default() };
        let with = run(options(Defects::of([defect]))).unwrap();
        assert!(!with.results.is_empty(), "no scenario is tagged {tag}");
        for result in &with.results {
            let Outcome::Failed(why) = &result.outcome else {
                panic!("{}:{} passes with {}", result.path, result.line, defect.name())
            };
            let invariant = sheet.breaks.to_string();
            let id = invariant.split_whitespace().next().unwrap();
            assert!(
                why.contains(id),
                "{}:{} fails without naming {id}: {why}",
                result.path,
                result.line
            );
        }
        let without = run(options(Defects::none())).unwrap();
        assert!(without.passed(), "{tag} fails without the defect");
    }
}
