//! The `readerlab` binary as a user meets it: real process, real exit codes,
//! real files.

use std::path::Path;
use std::process::{Command, Output};

fn readerlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_readerlab")).args(args).output().expect("readerlab runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A copy of the bundled profiles in a fresh directory, to break one of.
fn profiles_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/readers");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn readers_lists_the_five_models_with_family_and_offline_store() {
    let out = readerlab(&["readers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (model, family, store) in [
        ("m2", "mobile", "pos (SDK)"),
        ("wisepad3", "mobile", "pos (SDK)"),
        ("chipper2x", "mobile", "pos (SDK)"),
        ("s700", "smart", "reader"),
        ("wisepos_e", "smart", "reader"),
    ] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{model} ")))
            .unwrap_or_else(|| panic!("no {model} in\n{text}"));
        assert!(row.contains(family) && row.contains(store), "{row}");
    }
}

#[test]
fn readers_json_is_the_full_catalogue() {
    let out = readerlab(&["readers", "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models: Vec<&str> =
        json.as_array().unwrap().iter().map(|p| p["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["m2", "wisepad3", "chipper2x", "s700", "wisepos_e"]);
    assert_eq!(json[3]["offline_store"], "reader");
    assert_eq!(json[2]["discovery"]["two_phase_proximity"], true);
}

#[test]
fn readers_shows_one_model_in_full_and_names_unknown_ones() {
    let out = readerlab(&["readers", "wisepad3"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("numeric_comparison"));
    let out = readerlab(&["readers", "tablet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown reader model `tablet`"), "{}", stderr(&out));
}

#[test]
fn a_profile_with_an_unknown_key_fails_naming_the_file_and_the_key() {
    let dir = profiles_copy();
    let file = dir.path().join("s700.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("[battery]", "[battery]\ncolour = \"black\"");
    std::fs::write(&file, text).unwrap();
    let out = readerlab(&["readers", "--profiles", dir.path().to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("battery.colour"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_profile_with_a_bad_value_fails_naming_the_file_and_the_key() {
    let dir = profiles_copy();
    let file = dir.path().join("m2.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("offline_store = \"pos\"", "offline_store = \"cloud\"", 1);
    assert_ne!(text, broken, "the fixture spells offline_store as expected");
    std::fs::write(&file, broken).unwrap();
    let out = readerlab(&["readers", "--profiles", dir.path().to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("m2.toml") && err.contains("offline_store"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_lists_every_command_that_is_built_and_nothing_else() {
    let out = readerlab(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let listed = |command: &str| text.lines().any(|l| l.trim_start().starts_with(command));
    for command in [
        "run", "explore", "check", "replay", "report", "serve", "readers", "steps", "defects",
        "sim", "bench", "proxy",
    ] {
        assert!(listed(command), "{command} missing from\n{text}");
    }
}

/// What is not built is not listed: an unknown command is refused by clap
/// (exit 2), never answered by a stub.
#[test]
fn a_command_that_is_not_built_is_an_unknown_command() {
    let out = readerlab(&["timeline", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unrecognized subcommand 'timeline'"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "an unknown command must not print results");
}

#[test]
fn serve_refuses_to_expose_its_control_api_without_a_token() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("utf-8");
    let out = readerlab(&["serve", "--listen", "0.0.0.0:0", "--data", dir]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--token"), "{}", stderr(&out));
}

#[test]
fn serve_names_the_rig_file_and_the_unknown_model() {
    let data = tempfile::tempdir().expect("tempdir");
    let rig = data.path().join("rig.toml");
    std::fs::write(&rig, "readers = [\"s700\", \"s900\"]\n").expect("write");
    let dir = data.path().join("data");
    let args = ["serve", "--rig", rig.to_str().unwrap(), "--data", dir.to_str().unwrap()];
    let out = readerlab(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("rig.toml") && err.contains("unknown reader model `s900`"), "{err}");
}

#[test]
fn steps_prints_every_domain_with_examples() {
    let out = readerlab(&["steps"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for heading in [
        "Rig and configuration",
        "Readers and cards",
        "POS and payments",
        "Network and device faults",
        "Time",
        "Storage",
        "Backend",
        "Expectations",
    ] {
        assert!(text.contains(heading), "{heading} missing from\n{text}");
    }
    assert!(text.contains("e.g. Given a rig with a Stripe Reader M2"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&readerlab(&["steps", "--json"]).stdout).unwrap();
    assert!(json.as_array().unwrap().len() > 40);
}

#[test]
fn run_names_an_unknown_target_or_defect() {
    let out = readerlab(&["run", "--target", "teleport"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown target `teleport`"), "{}", stderr(&out));
    let out = readerlab(&["run", "--target", "lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--target lab needs --rig BENCH.toml"), "{}", stderr(&out));
    let out = readerlab(&["run", "--rig", "bench.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("need --target lab"), "{}", stderr(&out));
    let out = readerlab(&["run", "--defect", "gremlins"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("gremlins"), "{}", stderr(&out));
}

#[test]
fn bench_store_json_has_every_measurement_with_positive_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = readerlab(&[
        "bench",
        "store",
        "--json",
        "--seconds",
        "0.2",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("collector"), "progress goes to stderr");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["seconds"], 0.2);
    assert!(json["record_bytes"].as_u64().unwrap() > 0);
    assert!(json["raw_append_fdatasync_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(json["raw_runs_per_s"].as_array().unwrap().len(), 2);
    let runs = json["collectors"].as_array().unwrap();
    let counts: Vec<u64> = runs.iter().map(|r| r["collectors"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 8, 64]);
    for run in runs {
        assert!(run["payments"].as_u64().unwrap() > 0, "{run}");
        assert!(run["syncs"].as_u64().unwrap() > 0, "{run}");
        assert!(run["payments_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["ratio_to_raw"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["mean_batch"].as_f64().unwrap() >= 1.0, "{run}");
    }
    // Nothing left behind in the directory it was given.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Without the features there is no Bluetooth in the binary, so no `bench
/// ble`: clap refuses it as an unknown subcommand, never a pass on nothing.
#[cfg(not(all(feature = "bluez", feature = "btleplug")))]
#[test]
fn bench_ble_without_the_features_is_an_unknown_subcommand() {
    let out = readerlab(&["bench", "ble", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unrecognized subcommand 'ble'"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "bench ble must not print results");
    let help = readerlab(&["bench", "--help"]);
    let listed = stdout(&help).lines().any(|l| l.trim_start().starts_with("ble "));
    assert!(!listed, "{}", stdout(&help));
}

/// Without `btleplug`, `readers` has no `--scan` (nor its `--adapter`,
/// `--seconds`, `--all`): clap refuses them as unknown arguments.
#[cfg(not(feature = "btleplug"))]
#[test]
fn readers_scan_without_bluetooth_is_an_unknown_argument() {
    for flag in ["--scan", "--adapter", "--seconds", "--all"] {
        let out = readerlab(&["readers", flag, "--json"]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        let expected = format!("unexpected argument '{flag}'");
        assert!(stderr(&out).contains(&expected), "{flag}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{flag}: a scan that did not run prints nothing");
    }
    let help = readerlab(&["readers", "--help"]);
    assert!(!stdout(&help).contains("--scan"), "{}", stdout(&help));
}

#[test]
fn bench_store_refuses_a_non_positive_duration() {
    let out = readerlab(&["bench", "store", "--seconds", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--seconds"), "{}", stderr(&out));
}

#[test]
fn bench_store_refuses_a_duration_too_long_to_hold_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    for seconds in ["1e20", "inf", "NaN"] {
        let out = readerlab(&[
            "bench",
            "store",
            "--seconds",
            seconds,
            "--dir",
            dir.path().to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{seconds}: {}", stderr(&out));
        assert!(stderr(&out).contains("--seconds"), "{seconds}: {}", stderr(&out));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{seconds}: nothing left");
    }
}

#[rstest::rstest]
#[case::simulated("simulated")]
#[case::files("files")]
fn bench_serve_forwards_every_stored_payment_once_through_http(#[case] disk: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stores");
    let args = ["bench", "serve", "--json", "--readers", "6", "--payments", "50", "--disk", disk];
    let out = readerlab(&[&args[..], &["--dir", data.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("smart readers"), "progress goes to stderr");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["readers"], 6);
    assert_eq!(json["payments"], 50);
    assert_eq!(json["disk"], disk);
    assert_eq!(json["offline_charges"], 50, "one charge per stored payment: {json}");
    // One connection token per reader, then one forward per payment.
    assert!(json["backend_requests"].as_u64().unwrap() >= 56, "{json}");
    assert!(json["forwards_per_s"].as_f64().unwrap() > 0.0, "{json}");
    assert!(json["idle_kib_per_reader"].as_f64().unwrap() > 0.0, "{json}");
    assert!(json["peak_rss_kib"].as_u64().unwrap() >= json["rss_idle_kib"].as_u64().unwrap());
    // Real files were written only when asked for.
    assert_eq!(data.exists(), disk == "files");
}

#[test]
fn bench_serve_refuses_an_empty_rig() {
    let out = readerlab(&["bench", "serve", "--readers", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--readers"), "{}", stderr(&out));
}

#[test]
fn the_served_target_carries_the_mobile_readers_link_over_ble_over_tcp() {
    let root = env!("CARGO_MANIFEST_DIR");
    let features = format!("{root}/../features/offline");
    let out = readerlab(&["run", &features, "--target", "served", "--ble", "tcp"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("19 passed, 0 failed, 0 skipped"), "{}", stdout(&out));
}

#[test]
fn run_names_an_unknown_ble_carrier() {
    let out = readerlab(&["run", "--target", "served", "--ble", "pigeon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pigeon"), "{}", stderr(&out));
}

/// The events of one stored payment forwarded once, without `seq` (the
/// history numbers them), as a lab rig would write them.
const ONE_PAYMENT: [&str; 7] = [
    r#""t_ms":0,"part":"rig","event":"rig.started","seed":7,"defects":[],"readers":[],"offline":{"enabled":true,"max_amount":{"usd":1000000},"stored_amount_limit":{},"max_records":1000,"eea":false},"drain_window_ms":60000}"#,
    r#""t_ms":110,"part":"pos","event":"offline.payment.stored","payment":"p_1","offline_id":"off_p_1","intent":null,"amount":{"amount":1000,"currency":"usd"},"offline_details":{"stored_at":110,"requires_upload":true,"amount":{"amount":1000,"currency":"usd"},"card":{"brand":"visa","funding":"credit","last4":"4242"},"entry_mode":"contactless"}}"#,
    r#""t_ms":110,"part":"pos","event":"offline.status.changed","network":"offline","count":1,"amounts":{"usd":1000}}"#,
    r#""t_ms":200,"part":"pos","event":"offline.forward.attempted","offline_id":"off_p_1","attempt":1}"#,
    r#""t_ms":205,"part":"backend","event":"backend.charge.succeeded","charge":"ch_1","intent":"pi_1","amount":{"amount":1000,"currency":"usd"},"card":{"brand":"visa","funding":"credit","last4":"4242"},"captured":true,"offline_id":"off_p_1"}"#,
    r#""t_ms":210,"part":"pos","event":"offline.payment.forwarded","offline_id":"off_p_1","amount":{"amount":1000,"currency":"usd"},"intent":"pi_1","status":"succeeded","error":null}"#,
    r#""t_ms":210,"part":"pos","event":"offline.status.changed","network":"online","count":0,"amounts":{}}"#,
];

/// Writes `lines` as a history file, numbering them from 1.
fn history_file(dir: &tempfile::TempDir, lines: &[&str]) -> String {
    let text: String =
        lines.iter().enumerate().map(|(i, rest)| format!("{{\"seq\":{},{rest}\n", i + 1)).collect();
    let path = dir.path().join("history.jsonl");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_passes_a_good_history_with_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(&dir, &ONE_PAYMENT);
    let out = readerlab(&["check", &path]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "7 events, 1 stored, 1 forwarded: all invariants hold\n");
}

#[test]
fn check_fails_a_double_charge_naming_the_invariant_and_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = ONE_PAYMENT.to_vec();
    let again = ONE_PAYMENT[4].replace("ch_1", "ch_2");
    lines.insert(5, &again);
    let path = history_file(&dir, &lines);
    let out = readerlab(&["check", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("I2 (exactly once) violated for off_p_1: charged 2 times"), "{text}");
    let out = readerlab(&["check", &path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["holds"], false);
    assert_eq!(json["violated"], serde_json::json!(["I2"]));
    assert_eq!(json["violations"][0]["payment"], "off_p_1");
}

#[test]
fn check_refuses_an_unreadable_history_naming_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = ONE_PAYMENT.to_vec();
    lines[2] = r#""t_ms":110,"part":"pos","event":"offline.status.changed","count":"#;
    let path = history_file(&dir, &lines);
    let out = readerlab(&["check", &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&path) && err.contains("line 3"), "{err}");
    assert!(stdout(&out).is_empty());
    let missing = dir.path().join("absent.jsonl");
    let out = readerlab(&["check", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.jsonl"), "{}", stderr(&out));
}

#[test]
fn check_refuses_an_empty_history_or_one_without_rig_started_as_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(&dir, &[]);
    let out = readerlab(&["check", &path]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&path) && err.contains("no events"), "{err}");
    assert!(stdout(&out).is_empty());
    let path = history_file(&dir, &ONE_PAYMENT[1..]);
    let out = readerlab(&["check", &path]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("rig.started"), "{}", stderr(&out));
}

/// `readerlab soak` end to end, briefly: a served child under load with
/// rig restarts, sampled, every finished rig judged. Only the shape and
/// the judged histories are asserted here; memory and descriptors are
/// judged by the CI run (ci/served.sh), a few seconds being too short to
/// call flat on a shared machine.
#[test]
fn soak_runs_a_served_child_under_load_and_judges_every_rig() {
    let out = readerlab(&["soak", "--seconds", "5", "--restart-every", "2", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let soak: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(soak["samples"].as_array().unwrap().len() >= 4, "{soak}");
    assert!(soak["samples"][0]["rss_kib"].as_u64().unwrap() > 0, "{soak}");
    assert!(soak["samples"][0]["fds"].as_u64().unwrap() > 0, "{soak}");
    assert!(soak["load"]["payments"].as_u64().unwrap() > 0, "{soak}");
    assert!(soak["load"]["rigs_judged"].as_u64().unwrap() >= 2, "{soak}");
    assert_eq!(soak["load"]["violations"], 0, "{soak}");
    let out = readerlab(&["soak", "--seconds", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
