//! Where features come from and what of them runs: the bundled features or
//! paths (`FILE`, `DIR`, `FILE:LINE`), parsed with the Gherkin parser,
//! checked against the step vocabulary before anything runs, and filtered
//! by line, tag expression and the target's capabilities.

use crate::rig::Capability;
use crate::steps::LabWorld;
use cucumber::World as _;
use cucumber::feature::Ext as _;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::gherkin::{Feature, GherkinEnv, Scenario, Step};
use cucumber::tag::Ext as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// One feature file's text, with the path it is reported under.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path messages and replay commands name.
    pub path: String,
    /// Its text.
    pub text: String,
    /// Run only scenarios declared at (or example rows on) these lines;
    /// `None` for all.
    pub lines: Option<BTreeSet<usize>>,
}

/// The features bundled into the binary (`features/` of the repository).
pub fn bundled() -> Vec<Source> {
    BUNDLED
        .iter()
        .map(|(path, text)| Source {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
            lines: None,
        })
        .collect()
}

/// Resolves command-line paths: files, directories (every `.feature` under
/// them), `FILE:LINE`; a path that is not on disk but names bundled
/// features (from another directory) takes those.
pub fn resolve(paths: &[String]) -> Result<Vec<Source>, Vec<String>> {
    if paths.is_empty() {
        return Ok(bundled());
    }
    let mut sources: Vec<Source> = Vec::new();
    let mut errors = Vec::new();
    for arg in paths {
        let (path, line) = split_line(arg);
        let found = match read_path(path) {
            Ok(found) => found,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        for mut source in found {
            if let Some(line) = line {
                source.lines = Some(BTreeSet::from([line]));
            }
            match sources.iter_mut().find(|s| s.path == source.path) {
                // The same file twice (`a.feature:3 a.feature:9`): both lines.
                Some(known) => match (&mut known.lines, source.lines) {
                    (Some(lines), Some(more)) => lines.extend(more),
                    (lines, _) => *lines = None,
                },
                None => sources.push(source),
            }
        }
    }
    if errors.is_empty() { Ok(sources) } else { Err(errors) }
}

/// `a.feature:12` → (`a.feature`, 12).
fn split_line(arg: &str) -> (&str, Option<usize>) {
    match arg.rsplit_once(':') {
        Some((path, line)) if !path.is_empty() && line.parse::<usize>().is_ok() => {
            (path, line.parse().ok())
        }
        _ => (arg, None),
    }
}

fn read_path(path: &str) -> Result<Vec<Source>, String> {
    let on_disk = Path::new(path);
    if on_disk.is_file() {
        let text = read_text(on_disk, path)?;
        return Ok(vec![Source { path: path.to_owned(), text, lines: None }]);
    }
    if on_disk.is_dir() {
        let mut files = Vec::new();
        walk(on_disk, &mut files).map_err(|e| format!("{path}: {e}"))?;
        files.sort();
        if files.is_empty() {
            return Err(format!("{path}: no .feature file in this directory"));
        }
        return files
            .into_iter()
            .map(|file| {
                let shown = file.display().to_string();
                let text = read_text(&file, &shown)?;
                Ok(Source { path: shown, text, lines: None })
            })
            .collect();
    }
    let trimmed = path.trim_end_matches('/');
    let bundled: Vec<Source> = bundled()
        .into_iter()
        .filter(|s| s.path == trimmed || s.path.starts_with(&format!("{trimmed}/")))
        .collect();
    if bundled.is_empty() {
        Err(format!("{path}: no such feature file or directory"))
    } else {
        Ok(bundled)
    }
}

/// A feature file's text; one that is not UTF-8 is named at its first
/// invalid byte: `PATH:LINE:COLUMN` (the column counts bytes from 1) and
/// the byte's offset in the file.
fn read_text(file: &Path, shown: &str) -> Result<String, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{shown}: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line_start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |n| n + 1);
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        format!(
            "{shown}:{line}:{}: not UTF-8: byte {at} (0x{:02x}) does not begin a valid UTF-8 \
             character; a feature file must be UTF-8 text",
            at - line_start + 1,
            bytes[at]
        )
    })
}

fn walk(dir: &Path, into: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, into)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            into.push(path);
        }
    }
    Ok(())
}

/// What to run, after parsing and checking.
#[derive(Debug)]
pub struct Prepared {
    /// Features with their scenarios expanded and filtered.
    pub features: Vec<Feature>,
    /// Scenarios left out because the target cannot do what their
    /// `@needs:` tags say: (feature path, line, name, reason).
    pub unsupported: Vec<(String, usize, String, String)>,
}

impl Prepared {
    /// Scenarios that will run.
    pub fn scenario_count(&self) -> usize {
        self.features
            .iter()
            .map(|f| f.scenarios.len() + f.rules.iter().map(|r| r.scenarios.len()).sum::<usize>())
            .sum()
    }
}

/// Parses every source, checks every step against the vocabulary, and
/// keeps the scenarios the lines, the tag expression and the capabilities
/// select. Every problem is reported at once, each naming file and line.
pub fn prepare(
    sources: &[Source],
    tags: Option<&str>,
    capabilities: &BTreeSet<Capability>,
) -> Result<Prepared, Vec<String>> {
    let mut errors = Vec::new();
    let filter = match tags.map(TagOperation::from_str) {
        None => None,
        Some(Ok(op)) => Some(op),
        Some(Err(e)) => return Err(vec![format!("--tags: not a tag expression: {e}")]),
    };
    let steps = LabWorld::collection();
    let mut features = Vec::new();
    let mut unsupported = Vec::new();
    for source in sources {
        let (mut feature, rows) = match parse_feature(source) {
            Ok(parsed) => parsed,
            Err(problem) => {
                errors.push(problem);
                continue;
            }
        };
        check_steps(&feature, source, &steps, &mut errors);
        if feature.scenarios.is_empty() && feature.rules.iter().all(|r| r.scenarios.is_empty()) {
            errors.push(format!(
                "{}:{}: the feature has no scenario",
                source.path, feature.position.line
            ));
        }
        let feature_tags = feature.tags.clone();
        let keep = |scenario: &Scenario, rule_tags: &[String]| -> Keep {
            if let Some(lines) = &source.lines {
                let line = scenario.position.line;
                let declared = rows.get(&line).copied();
                if !lines.contains(&line) && !declared.is_some_and(|d| lines.contains(&d)) {
                    return Keep::No;
                }
            }
            let tags: Vec<&String> =
                feature_tags.iter().chain(rule_tags).chain(scenario.tags.iter()).collect();
            if let Some(op) = &filter
                && !op.eval(tags.iter().copied())
            {
                return Keep::No;
            }
            let mut missing = Vec::new();
            for tag in &tags {
                if let Some(name) = tag.strip_prefix("needs:") {
                    match name.parse::<Capability>() {
                        Ok(capability) if !capabilities.contains(&capability) => {
                            missing.push(capability.name());
                        }
                        Ok(_) => {}
                        Err(e) => return Keep::Bad(e),
                    }
                }
            }
            if missing.is_empty() { Keep::Yes } else { Keep::Unsupported(missing.join(", ")) }
        };
        let mut decide = |scenario: &Scenario, rule_tags: &[String]| match keep(scenario, rule_tags)
        {
            Keep::Yes => true,
            Keep::No => false,
            Keep::Unsupported(missing) => {
                unsupported.push((
                    source.path.clone(),
                    scenario.position.line,
                    scenario.name.clone(),
                    format!("the target cannot do what it needs ({missing})"),
                ));
                false
            }
            Keep::Bad(e) => {
                errors.push(format!("{}:{}: {e}", source.path, scenario.position.line));
                false
            }
        };
        feature.scenarios.retain(|s| decide(s, &[]));
        for rule in &mut feature.rules {
            let rule_tags = rule.tags.clone();
            rule.scenarios.retain(|s| decide(s, &rule_tags));
        }
        feature.rules.retain(|r| !r.scenarios.is_empty());
        if source.lines.is_some() && feature.scenarios.is_empty() && feature.rules.is_empty() {
            let lines: Vec<String> =
                source.lines.iter().flatten().map(ToString::to_string).collect();
            let unsupported_here = unsupported.iter().any(|u| u.0 == source.path);
            if !unsupported_here && filter.is_none() {
                errors.push(format!(
                    "{}:{}: no scenario is declared on this line",
                    source.path,
                    lines.join(",")
                ));
            }
        }
        if !feature.scenarios.is_empty() || !feature.rules.is_empty() {
            features.push(feature);
        }
    }
    if errors.is_empty() { Ok(Prepared { features, unsupported }) } else { Err(errors) }
}

/// Reads one source as Gherkin, with its Scenario Outlines expanded; a
/// problem names the file and line. Also returns the examples' rows (row
/// line to the line of its outline).
fn parse_feature(source: &Source) -> Result<(Feature, BTreeMap<usize, usize>), String> {
    if source.text.trim().is_empty() {
        // The parser would name the line after the end.
        return Err(format!(
            "{}:1: the feature file is empty: a feature starts with `Feature:`",
            source.path
        ));
    }
    let feature = Feature::parse(&source.text, GherkinEnv::default()).map_err(|e| {
        // "Error at 12:5: {expected tokens}"
        let text = e.to_string();
        match text.strip_prefix("Error at ").and_then(|t| t.split_once(": ")) {
            Some((position, expected)) => format!(
                "{}:{position}: malformed feature (the Gherkin parser stopped here, expecting {expected})",
                source.path
            ),
            None => format!("{}: malformed feature: {text}", source.path),
        }
    })?;
    check_example_rows(&feature, source)?;
    let rows = outline_rows(&feature);
    let mut feature = feature.expand_examples().map_err(|e| format!("{}: {e}", source.path))?;
    feature.path = Some(PathBuf::from(&source.path));
    Ok((feature, rows))
}

/// The most example rows one Scenario Outline may have, all its Examples
/// tables together. Expanding an outline copies it whole, tables included,
/// for every row (cucumber's `expand_examples`), so the work grows with the
/// square of its rows: 1 600 rows took 1.8 s in a debug build. The largest
/// outline bundled has 11.
pub const MAX_EXAMPLE_ROWS: usize = 500;

/// Refuses an outline of more than [`MAX_EXAMPLE_ROWS`] rows, naming it.
fn check_example_rows(feature: &Feature, source: &Source) -> Result<(), String> {
    let scenarios =
        feature.scenarios.iter().chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
    for scenario in scenarios {
        let tables = scenario.examples.iter().filter_map(|e| e.table.as_ref());
        let rows: usize = tables.map(|t| t.rows.len().saturating_sub(1)).sum();
        if rows > MAX_EXAMPLE_ROWS {
            return Err(format!(
                "{}:{}: the outline has {rows} example rows, more than the {MAX_EXAMPLE_ROWS} \
                 one outline may have: split it",
                source.path, scenario.position.line
            ));
        }
    }
    Ok(())
}

/// Every step of the feature (backgrounds, rules, scenarios) against the
/// vocabulary: an undefined or ambiguous one is a problem naming its line.
fn check_steps(
    feature: &Feature,
    source: &Source,
    steps: &cucumber::step::Collection<LabWorld>,
    errors: &mut Vec<String>,
) {
    let background: Vec<Step> = feature.background.iter().flat_map(|b| b.steps.clone()).collect();
    let rule_backgrounds: Vec<Vec<Step>> = feature
        .rules
        .iter()
        .map(|r| r.background.iter().flat_map(|b| b.steps.clone()).collect())
        .collect();
    let mut check = |list: &[Step]| {
        for step in list {
            match steps.find(step) {
                Ok(Some(_)) => {}
                Ok(None) => errors.push(format!(
                    "{}:{}: undefined step: {} {} (see `readerlab steps`)",
                    source.path,
                    step.position.line,
                    step.keyword.trim(),
                    step.value
                )),
                Err(ambiguous) => errors.push(format!(
                    "{}:{}: ambiguous step: {} {} matches {} step definitions",
                    source.path,
                    step.position.line,
                    step.keyword.trim(),
                    step.value,
                    ambiguous.possible_matches.len()
                )),
            }
        }
    };
    check(&background);
    for rule_background in &rule_backgrounds {
        check(rule_background);
    }
    let all_scenarios =
        feature.scenarios.iter().chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
    for scenario in all_scenarios {
        check(&scenario.steps);
    }
}

/// What to do with one scenario.
enum Keep {
    Yes,
    No,
    Unsupported(String),
    Bad(String),
}

/// For each example row of each Scenario Outline, the line of the outline
/// itself, so `FILE:LINE` of an outline selects all its rows.
fn outline_rows(feature: &Feature) -> BTreeMap<usize, usize> {
    let mut rows = BTreeMap::new();
    // The feature without its scenarios, cloned once: cloning the whole of
    // it for every outline made this quadratic in the outlines.
    let shell = Feature { scenarios: Vec::new(), rules: Vec::new(), ..feature.clone() };
    let scenarios =
        feature.scenarios.iter().chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
    for scenario in scenarios.filter(|s| !s.examples.is_empty()) {
        let single = Feature { scenarios: vec![scenario.clone()], ..shell.clone() };
        if let Ok(expanded) = single.expand_examples() {
            for row in expanded.scenarios {
                rows.insert(row.position.line, scenario.position.line);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source { path: "t.feature".to_owned(), text: text.to_owned(), lines: None }
    }

    fn all() -> BTreeSet<Capability> {
        Capability::ALL.into_iter().collect()
    }

    #[test]
    fn a_path_may_name_a_line() {
        assert_eq!(split_line("a/b.feature:12"), ("a/b.feature", Some(12)));
        assert_eq!(split_line("a/b.feature"), ("a/b.feature", None));
        assert_eq!(split_line("c:/x.feature"), ("c:/x.feature", None));
    }

    #[test]
    fn undefined_steps_are_named_with_file_and_line() {
        let text = "Feature: f\n  Scenario: s\n    Given a rig with a Stripe Reader M2\n    When the moon rises\n";
        let errors = prepare(&[source(text)], None, &all()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("t.feature:4: undefined step: When the moon rises"),
            "{errors:?}"
        );
    }

    #[test]
    fn malformed_features_are_named_with_file_and_line() {
        let text =
            "Feature: f\n  Scenario: s\n    Given a rig with a Stripe Reader M2\n  Examples oops\n";
        let errors = prepare(&[source(text)], None, &all()).unwrap_err();
        // The parser names where it stopped: here the end of the file.
        assert!(errors[0].starts_with("t.feature:5:1: malformed feature"), "{errors:?}");
    }

    #[test]
    fn an_empty_feature_file_is_reported_at_line_1() {
        for text in ["", "\n\n", "  \n\t\n"] {
            let errors = prepare(&[source(text)], None, &all()).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].starts_with("t.feature:1:"), "{errors:?}");
            assert!(errors[0].contains("empty"), "{errors:?}");
        }
    }

    #[test]
    fn a_feature_file_that_is_not_utf8_is_named_at_its_first_invalid_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.feature");
        std::fs::write(&path, b"Feature: f\n  Scenario: caf\xe9 \xff\n").unwrap();
        let shown = path.display().to_string();
        let errors = resolve(std::slice::from_ref(&shown)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        // Line 2, the 16th byte of the line (byte 26 of the file).
        assert!(errors[0].starts_with(&format!("{shown}:2:16: ")), "{errors:?}");
        assert!(errors[0].contains("UTF-8") && errors[0].contains("0xe9"), "{errors:?}");
        assert!(errors[0].contains("byte 26"), "{errors:?}");
        // In a directory too.
        let errors = resolve(&[dir.path().display().to_string()]).unwrap_err();
        assert!(errors[0].starts_with(&format!("{shown}:2:16: ")), "{errors:?}");
    }

    #[test]
    fn needs_tags_leave_out_what_the_target_cannot_do() {
        let text = "Feature: f\n  @needs:virtual-time\n  Scenario: s\n    Given a rig with a Stripe Reader M2\n  Scenario: t\n    Given a rig with a Stripe Reader M2\n";
        let some: BTreeSet<Capability> = BTreeSet::from([Capability::NetworkFaults]);
        let prepared = prepare(&[source(text)], None, &some).unwrap();
        assert_eq!(prepared.scenario_count(), 1);
        assert_eq!(prepared.unsupported.len(), 1);
        assert!(prepared.unsupported[0].3.contains("virtual-time"));
        let bad = text.replace("virtual-time", "teleport");
        let errors = prepare(&[source(&bad)], None, &all()).unwrap_err();
        assert!(errors[0].starts_with("t.feature:3: unknown capability `teleport`"), "{errors:?}");
    }

    #[test]
    fn a_line_selects_a_scenario_or_an_outline_or_one_of_its_rows() {
        let text = "Feature: f\n  Scenario: a\n    Given a rig with a Stripe Reader M2\n  Scenario Outline: b\n    Given a rig with a <model>\n    Examples:\n      | model |\n      | Stripe Reader M2 |\n      | BBPOS WisePad 3 |\n";
        let with = |lines: &[usize]| Source {
            lines: Some(lines.iter().copied().collect()),
            ..source(text)
        };
        assert_eq!(prepare(&[with(&[2])], None, &all()).unwrap().scenario_count(), 1);
        assert_eq!(prepare(&[with(&[4])], None, &all()).unwrap().scenario_count(), 2);
        assert_eq!(prepare(&[with(&[9])], None, &all()).unwrap().scenario_count(), 1);
        let errors = prepare(&[with(&[5])], None, &all()).unwrap_err();
        assert!(errors[0].starts_with("t.feature:5: no scenario"), "{errors:?}");
    }

    /// Found by `fuzz_feature_file` (a 0.6 s input): preparing a feature
    /// was quadratic in its outlines (each cloned the whole feature) and is
    /// still quadratic in one outline's rows (cucumber's expansion), so
    /// those are capped.
    #[test]
    fn an_outline_of_too_many_example_rows_is_refused_and_many_outlines_are_linear() {
        let outline = |rows: usize| {
            let mut text = "Feature: f\n  Scenario Outline: o\n    Given a rig with a <m>\n    Examples:\n      | m |\n".to_owned();
            text.push_str(&"      | Stripe Reader M2 |\n".repeat(rows));
            text
        };
        assert_eq!(
            prepare(&[source(&outline(MAX_EXAMPLE_ROWS))], None, &all()).unwrap().scenario_count(),
            MAX_EXAMPLE_ROWS
        );
        let errors = prepare(&[source(&outline(MAX_EXAMPLE_ROWS + 1))], None, &all()).unwrap_err();
        assert!(
            errors[0].starts_with("t.feature:2: the outline has 501 example rows"),
            "{errors:?}"
        );
        let mut many = "Feature: f\n".to_owned();
        for i in 0..2_000 {
            many.push_str(&format!("  Scenario Outline: o{i}\n    Given a rig with a <m>\n    Examples:\n      | m |\n      | Stripe Reader M2 |\n"));
        }
        let started = std::time::Instant::now();
        assert_eq!(prepare(&[source(&many)], None, &all()).unwrap().scenario_count(), 2_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn tag_expressions_select_scenarios() {
        let text = "Feature: f\n  @incident\n  Scenario: a\n    Given a rig with a Stripe Reader M2\n  Scenario: b\n    Given a rig with a Stripe Reader M2\n";
        let prepared = prepare(&[source(text)], Some("@incident"), &all()).unwrap();
        assert_eq!(prepared.scenario_count(), 1);
        let prepared = prepare(&[source(text)], Some("not @incident"), &all()).unwrap();
        assert_eq!(prepared.scenario_count(), 1);
        assert!(prepare(&[source(text)], Some("@a and and"), &all()).is_err());
    }
}
