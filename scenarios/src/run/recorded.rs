//! The scenario a history records: `rig.source` (docs/history.md) is made
//! here from the Gherkin a run executes, and turned back into a feature
//! file by `readerlab replay`.
//!
//! A card number given in a step (a table's `number` column) is written as
//! `[card ending NNNN]`, so that the history itself never holds one (I7);
//! such a schedule cannot be run again from the history alone, and
//! [`feature_text`] says so, naming the step.

use crate::check::{REDACTED, redact_card_numbers};
use cucumber::gherkin;
use readerlab_emulator::core::{RunSource, ScheduledStep};

/// The source of `scenario` of `feature` (in `rule`, if any), run on
/// `target`: background steps first, then the scenario's own.
pub fn scenario_source(
    target: &str,
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
) -> RunSource {
    let backgrounds = [feature.background.as_ref(), rule.and_then(|r| r.background.as_ref())];
    let steps = backgrounds
        .into_iter()
        .flatten()
        .flat_map(|b| b.steps.iter())
        .chain(scenario.steps.iter())
        .map(scheduled)
        .collect();
    let path = feature.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    RunSource::Scenario {
        target: target.to_owned(),
        path,
        feature: feature.name.clone(),
        scenario: scenario.name.clone(),
        line: u32::try_from(scenario.position.line).unwrap_or(u32::MAX),
        steps,
    }
}

fn scheduled(step: &gherkin::Step) -> ScheduledStep {
    ScheduledStep {
        keyword: step.keyword.trim().to_owned(),
        text: redact_card_numbers(&step.value),
        table: step
            .table
            .as_ref()
            .map(|t| {
                t.rows
                    .iter()
                    .map(|row| row.iter().map(|cell| redact_card_numbers(cell)).collect())
                    .collect()
            })
            .unwrap_or_default(),
        docstring: step.docstring.as_deref().map(redact_card_numbers),
    }
}

/// The scenario `source` records, as a feature file that `readerlab run`
/// takes; `Err` for a random run's source, or a step whose card number the
/// history hid.
pub fn feature_text(source: &RunSource) -> Result<String, String> {
    let RunSource::Scenario { feature, scenario, steps, .. } = source else {
        return Err("the history records a random run (readerlab sim), not a scenario".into());
    };
    let mut text =
        format!("Feature: {}\n\n  Scenario: {}\n", one_line(feature), one_line(scenario));
    for (index, step) in steps.iter().enumerate() {
        let hidden = step.text.contains(REDACTED)
            || step.table.iter().flatten().any(|cell| cell.contains(REDACTED))
            || step.docstring.as_deref().is_some_and(|d| d.contains(REDACTED));
        if hidden {
            return Err(format!(
                "step {} (`{} {}`) gave a card number, which a history never records \
                 (invariant I7): replay the .feature file instead",
                index + 1,
                step.keyword,
                step.text
            ));
        }
        text.push_str(&format!("    {} {}\n", step.keyword, step.text));
        for row in &step.table {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            text.push_str(&format!("      | {} |\n", cells.join(" | ")));
        }
        if let Some(doc) = &step.docstring {
            text.push_str("      \"\"\"\n");
            for line in doc.lines() {
                text.push_str(&format!("      {line}\n"));
            }
            text.push_str("      \"\"\"\n");
        }
    }
    Ok(text)
}

fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> gherkin::Feature {
        gherkin::Feature::parse(text, gherkin::GherkinEnv::default()).expect("parses")
    }

    #[test]
    fn a_scenario_round_trips_through_its_source() {
        let feature = parse(
            "Feature: F\n\n  Background:\n    Given a rig with a Stripe Reader M2\n\n  \
             Scenario: S\n    When these customers pay:\n      | name | amount |\n      \
             | a    | 500    |\n    Then payment \"a\" succeeds\n",
        );
        let source = scenario_source("sim", &feature, None, &feature.scenarios[0]);
        let text = feature_text(&source).expect("no card number");
        let again = parse(&text);
        let round = scenario_source("sim", &again, None, &again.scenarios[0]);
        let (RunSource::Scenario { steps: a, .. }, RunSource::Scenario { steps: b, .. }) =
            (&source, &round)
        else {
            panic!("scenarios");
        };
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].table, vec![vec!["name", "amount"], vec!["a", "500"]]);
    }

    #[test]
    fn a_card_number_is_hidden_and_refused_on_replay() {
        let feature = parse(
            "Feature: F\n  Scenario: S\n    When these customers pay:\n      \
             | name | number           |\n      | a    | 4000000000000002 |\n",
        );
        let source = scenario_source("sim", &feature, None, &feature.scenarios[0]);
        let json = serde_json::to_string(&source).unwrap();
        assert!(!json.contains("4000000000000002"), "{json}");
        assert!(json.contains("[card ending 0002]"));
        let refused = feature_text(&source).unwrap_err();
        assert!(refused.contains("step 1") && refused.contains("I7"), "{refused}");
    }
}
