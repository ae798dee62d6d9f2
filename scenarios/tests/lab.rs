//! `readerlab lab check` on a bench with no hardware
//! (tests/support/bench.rs): green first, then one hook broken at a time,
//! exit 1 naming the check; a bench file that cannot be read. The
//! real-time runs of `run --target lab` and labgrid are in
//! `tests/lab_bench.rs` (ci/lab.sh).

#[path = "support/bench.rs"]
mod bench;

use bench::*;
use readerlab_emulator::serve::client::ControlClient;
use serde_json::Value;

#[test]
fn a_served_bench_is_green_and_a_broken_hook_is_named() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "bench.toml", &rig.bench(None, None));

    let output = lab_check(&good, KEY, true);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true, "{report:#}");
    let rows = report["checks"].as_array().unwrap();
    let status = |check: &str, target: &str| {
        rows.iter()
            .find(|r| r["check"] == check && r["target"] == target)
            .unwrap_or_else(|| panic!("no {check} {target} in {report:#}"))["status"]
            .clone()
    };
    for (check, target) in [
        ("reader.reachable", "m2"),
        ("reader.reachable", "counter"),
        ("hook.power_off", "m2"),
        ("effect.power_off", "m2"),
        ("hook.power_on", "m2"),
        ("effect.power_on", "m2"),
        ("hook.link_down.reader-backend", "counter"),
        ("hook.link_up.reader-backend", "counter"),
        ("effect.link_up.reader-backend", "counter"),
    ] {
        assert_eq!(status(check, target), "ok", "{check} {target}: {report:#}");
    }
    assert_eq!(status("hook.present_card", "counter"), "skip", "{report:#}");
    let reachable =
        rows.iter().find(|r| r["check"] == "reader.reachable" && r["target"] == "m2").unwrap();
    assert!(reachable["detail"].as_str().unwrap().contains("serial STRM2-"), "{report:#}");
    let backend = rows.iter().find(|r| r["check"] == "backend.reachable").unwrap();
    assert_eq!(backend["status"], "ok", "{report:#}");
    let pos = rows.iter().find(|r| r["check"] == "pos.session").unwrap();
    assert_eq!(pos["status"], "ok", "{report:#}");

    // The table says the same.
    let output = lab_check(&good, KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout.contains("bench healthy"), "{stdout}");

    // A wrong key is said to be one.
    let output = lab_check(&good, "sk_test_wrong", false);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("FAILED backend.reachable"),
        "{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("the key is wrong"),
        "{}",
        text(&output)
    );
    let _ = rig.runtime.block_on(ControlClient::new(rig.addr, None).clear_all());
}

#[test]
fn a_power_on_that_does_nothing_another_model_or_a_failing_hook_fails_the_check_it_names() {
    let rig = serve();
    let dir = tempfile::tempdir().unwrap();
    let client = ControlClient::new(rig.addr, None);

    let stays_off = rig.bench(Some(r#"{ run = "true", timeout_s = 5 }"#), None);
    let output = lab_check(&write(dir.path(), "off.toml", &stays_off), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stdout.contains("FAILED effect.power_on m2: still unreachable"), "{}", text(&output));
    rig.runtime.block_on(client.clear_all()).unwrap();

    let other_model = rig.bench(None, None).replace("model = \"m2\"", "model = \"wisepad3\"");
    let output = lab_check(&write(dir.path(), "model.toml", &other_model), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stdout.contains("FAILED reader.reachable m2: it says it is a `m2` (Device Information), the bench says wisepad3"),
        "{}",
        text(&output)
    );
    rig.runtime.block_on(client.clear_all()).unwrap();

    let failing =
        rig.bench(None, Some(r#"{ run = "echo relay stuck >&2; exit 1", timeout_s = 5 }"#));
    let output = lab_check(&write(dir.path(), "fails.toml", &failing), KEY, false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stdout.contains("FAILED hook.link_up.reader-backend counter")
            && stdout.contains("relay stuck"),
        "{}",
        text(&output)
    );
    rig.runtime.block_on(client.clear_all()).unwrap();
}

#[test]
fn a_bench_file_that_cannot_be_read_is_exit_2_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bench =
        "[backend]\nurl = \"http://127.0.0.1:1\"\nkey_env = \"K\"\nkey = \"sk_test_oops\"\n";
    let file = write(dir.path(), "bench.toml", bench);
    let output = lab_check(&file, KEY, false);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bench.toml:4: key `backend.key`"), "{stderr}");
}
