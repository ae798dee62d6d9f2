//! Fuzz targets of the harness's parsers, one `#[test]` each
//! (docs/fuzzing.md): feature files as `readerlab run` reads and checks
//! them, tag expressions, the step arguments (amounts and spans of time),
//! the rig TOML of `readerlab serve`, and the saved cases of
//! `readerlab explore`, and the lines a POS adapter writes. Nothing may
//! panic or hang.

#[path = "../../emulator/core/tests/fuzz_support/mod.rs"]
#[allow(dead_code, reason = "these targets take no sequences of pieces")]
mod fuzz_support;

use fuzz_support::{Target, run};
use readerlab::commands::serve::{DEFAULT_RIG, parse_rig};
use readerlab::explore::schedule::{CASE_FORMAT, Case, Op, RigPlan};
use readerlab::explore::write::load_saved;
use readerlab::rig::Capability;
use readerlab::run::source::{Source, bundled, prepare};
use readerlab::steps::VOCABULARY;
use readerlab_emulator::core::ReaderModel;
use readerlab_emulator::sim::Sim;
use std::collections::BTreeSet;

/// Gherkin syntax, for the mutations.
const GHERKIN_TOKENS: &[&[u8]] = &[
    b"Feature: f\n",
    b"Scenario: s\n",
    b"Scenario Outline: o\n",
    b"Background:\n",
    b"Rule: r\n",
    b"Examples:\n",
    b"| a | b |\n",
    b"<a>",
    b"\"\"\"\n",
    b"```\n",
    b"@tag ",
    b"@needs:virtual-time ",
    b"# language: fr\n",
    b"Given ",
    b"When ",
    b"Then ",
    b"And ",
    b"But ",
    b"* ",
    b"  ",
];

fn all() -> BTreeSet<Capability> {
    Capability::ALL.into_iter().collect()
}

/// One scenario per step example of the vocabulary, as a feature.
fn vocabulary_feature() -> String {
    let mut text = String::from("Feature: every step\n");
    for (n, step) in VOCABULARY.iter().enumerate() {
        text.push_str(&format!(
            "  Scenario: step {n}\n    Given a rig with a Stripe Reader M2\n    * {}\n",
            step.example
        ));
    }
    text
}

#[test]
fn fuzz_feature_file() {
    let mut seeds: Vec<Vec<u8>> = bundled().into_iter().map(|s| s.text.into_bytes()).collect();
    seeds.push(vocabulary_feature().into_bytes());
    let target =
        Target::new("fuzz_feature_file").seeds(seeds).tokens(GHERKIN_TOKENS).max_len(64 * 1024);
    let capabilities = all();
    run(bolero::check!(), target, |input| {
        let text = String::from_utf8_lossy(input).into_owned();
        // Now and then a line to select, as `FILE:LINE` does.
        let lines = (input.len() % 5 == 0).then(|| BTreeSet::from([input.len() % 40]));
        let source = Source { path: "fuzz.feature".to_owned(), text, lines };
        match prepare(std::slice::from_ref(&source), None, &capabilities) {
            Ok(prepared) => assert!(
                prepared.scenario_count() > 0
                    || !prepared.unsupported.is_empty()
                    || source.lines.is_some()
            ),
            Err(errors) => {
                assert!(!errors.is_empty());
                for error in &errors {
                    assert!(
                        error.starts_with("fuzz.feature") || error.starts_with("--tags"),
                        "{error}"
                    );
                }
            }
        }
    });
}

#[test]
fn fuzz_tag_expression() {
    let tokens: &[&[u8]] =
        &[b"@incident", b"@defect:x", b" and ", b" or ", b"not ", b"(", b")", b"@needs:usb"];
    let seeds = ["@incident", "not @incident", "@a and (@b or not @c)", "(@x or @y) and not (@z)"];
    let target = Target::new("fuzz_tag_expression").seeds(seeds).tokens(tokens);
    let text = "Feature: f\n  @incident @needs:usb\n  Scenario: a\n    Given a rig with a Stripe Reader M2\n  Scenario: b\n    Given a rig with a Stripe Reader M2\n";
    let source = Source { path: "t.feature".to_owned(), text: text.to_owned(), lines: None };
    let capabilities = all();
    run(bolero::check!(), target, |input| {
        let tags = String::from_utf8_lossy(input);
        if let Ok(prepared) = prepare(std::slice::from_ref(&source), Some(&tags), &capabilities) {
            assert!(prepared.scenario_count() <= 2);
        }
    });
}

#[test]
fn fuzz_step_arguments() {
    let seeds = [
        "\x0012.50 USD",
        "\x001000 JPY",
        "\x0099999999 USD",
        "\x01a\x00day",
        "\x0130\x00minute",
        "\x01one\x00second",
    ];
    let tokens: &[&[u8]] =
        &[b" USD", b" JPY", b".99", b"second", b"minute", b"hour", b"day", b"\x00"];
    let target = Target::new("fuzz_step_arguments").seeds(seeds).tokens(tokens);
    run(bolero::check!(), target, |input| {
        let Some((&which, text)) = input.split_first() else { return };
        let text = String::from_utf8_lossy(text);
        if which % 2 == 0 {
            let Ok(money) = readerlab::steps::parse_money(&text) else { return };
            // Whole US dollars, checked against arithmetic that cannot overflow.
            if let Some(dollars) =
                text.strip_suffix(" USD").filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            {
                assert_eq!(
                    u128::from(money.amount),
                    dollars.parse::<u128>().expect("digits") * 100
                );
            }
        } else {
            let (count, unit) = text.split_once('\0').unwrap_or((&text, "second"));
            let Ok(span) = readerlab::steps::parse_span(count, unit) else { return };
            assert!(span.as_secs() <= 366 * 86_400, "{count} {unit}s is {span:?}");
            if let Ok(count) = count.parse::<u128>() {
                assert!(u128::from(span.as_secs()) >= count, "{count} {unit}s is {span:?}");
            }
        }
    });
}

#[test]
fn fuzz_rig_toml() {
    let seeds = [
        DEFAULT_RIG.to_owned(),
        "readers = [\"m2\"]\nmobile_link = \"usb\"\ndefects = [\"double-forward\"]\n".to_owned(),
        "readers = [\"wisepad3\", \"s700\"]\nseed = 18446744073709551615\noffline_enabled = false\n".to_owned(),
    ];
    let tokens: &[&[u8]] = &[
        b"readers = ",
        b"\"m2\"",
        b"\"s700\"",
        b"seed = ",
        b"defects = ",
        b"mobile_link = ",
        b"\"ble\"",
        b"[",
        b"]",
        b", ",
    ];
    let target = Target::new("fuzz_rig_toml").seeds(seeds).tokens(tokens);
    run(bolero::check!(), target, |input| {
        let text = String::from_utf8_lossy(input);
        let Ok(spec) = parse_rig(&text, "fuzz.toml") else { return };
        assert!(!spec.readers.is_empty() && spec.readers.len() <= input.len());
        // A rig file that parses builds, or says why not.
        if spec.readers.len() <= 32 {
            let _ = Sim::new(spec);
        }
    });
}

/// A saved case of `readerlab explore` (`<out>/cases/*.json`).
fn saved(case: &Case) -> Vec<u8> {
    let case = serde_json::to_value(case).expect("serializes");
    serde_json::to_vec_pretty(
        &serde_json::json!({"format": CASE_FORMAT, "found_with": [], "case": case}),
    )
    .expect("serializes")
}

fn case_seeds() -> Vec<Vec<u8>> {
    let rig = RigPlan {
        readers: vec![ReaderModel::M2, ReaderModel::S700],
        usb: false,
        offline_disabled: false,
        max_per_payment: Some(20_000),
        stored_limit: None,
        record_cap: Some(10),
        behavior: None,
    };
    let pay = Op::Pay {
        name: 1,
        cents: 1_250,
        reader: ReaderModel::M2,
        card: "visa".into(),
        entry: None,
        behavior: None,
        wait: true,
    };
    vec![
        saved(&Case::new(
            rig.clone(),
            vec![
                Op::Internet { down: true },
                pay.clone(),
                Op::Pass { seconds: 90 },
                Op::Internet { down: false },
            ],
        )),
        saved(&Case::new(
            rig,
            vec![pay, Op::Flapping { on: true }, Op::Slow { extra_ms: Some(4_000) }],
        )),
    ]
}

#[test]
fn fuzz_saved_case() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("cases")).expect("creates");
    let file = dir.path().join("cases").join("case.json");
    let tokens: &[&[u8]] = &[
        b"\"ops\":",
        b"\"rig\":",
        b"\"readers\":",
        b"\"m2\"",
        b"\"s700\"",
        b"{\"op\":\"pass\",\"seconds\":1}",
        b"null",
    ];
    let target = Target::new("fuzz_saved_case").seeds(case_seeds()).tokens(tokens);
    let capabilities = all();
    run(bolero::check!(), target, |input| {
        std::fs::write(&file, input).expect("writes");
        let Ok(cases) = load_saved(dir.path()) else { return };
        for (_, case) in cases {
            // A case that loads is one `readerlab run` reads back as a scenario.
            let lines = case.scenario_lines(&[]);
            let text = format!("Feature: f\n  Scenario: s\n    {}\n", lines.join("\n    "));
            let source = Source { path: "case.feature".to_owned(), text, lines: None };
            if let Err(errors) = prepare(&[source], None, &capabilities) {
                panic!("a saved case that loads does not read back: {errors:?}");
            }
        }
    });
}

/// What an adapter writes on its stdout (docs/driver-protocol.md): every
/// line is a message of the schema or a reason it is not; never a panic.
/// A line `parse_line` accepts also fits the JSON Schema, so the two sides
/// of the protocol agree on what is a message.
#[test]
fn fuzz_adapter_line() {
    let tokens: &[&[u8]] = &[
        b"{\"jsonrpc\":\"2.0\",",
        b"\"id\":1,",
        b"\"id\":null,",
        b"\"result\":{}",
        b"\"error\":{\"code\":-32000,\"message\":\"m\",\"data\":{\"definite\":true}}",
        b"\"method\":\"payment.ended\",",
        b"\"params\":{\"payment\":\"p\",\"outcome\":\"succeeded\"}",
        b"\"outcome\":\"unknown\"",
        b"}",
        b"\\u0000",
    ];
    let seeds = [
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}"#,
        r#"{"jsonrpc":"2.0","method":"payment.ended","params":{"payment":"p","outcome":"declined","decline_code":"x"}}"#,
        r#"{"jsonrpc":"2.0","method":"log","params":{"level":"info","message":"hello"}}"#,
        r#"{"jsonrpc":"2.0","method":"reader.battery","params":{"reader":"R","percent":9}}"#,
    ];
    let target = Target::new("fuzz_adapter_line").seeds(seeds).tokens(tokens);
    run(bolero::check!(), target, |input| {
        let line = String::from_utf8_lossy(input);
        if readerlab::driver::peer::parse_line(&line).is_ok() {
            let value: serde_json::Value = serde_json::from_str(&line).expect("it parsed");
            let fits = readerlab::driver::protocol::validate("AdapterMessage", &value);
            assert!(fits.is_ok(), "accepted but not a message of the schema: {fits:?}");
        }
    });
}
