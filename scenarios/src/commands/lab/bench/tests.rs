//! The bench file's parser: a whole bench read key by key, and each kind
//! of mistake refused with the file, key and line (a key written in the
//! file, an unknown model, a hook for a reader the bench lacks, the ways
//! of finding a reader that are not supported yet).

use super::*;

const GOOD: &str = r#"
pos = "readerlab adapter"

[[reader]]
id = "m2"
model = "m2"
ble_tcp = "127.0.0.1:4000"

[[reader]]
id = "counter"
model = "s700"
lan = "http://127.0.0.1:12111/_readerlab/readers/STRS7-0001/lan/"
boot_s = 90

[backend]
url = "http://127.0.0.1:12111"
key_env = "READERLAB_BENCH_KEY"

[hooks.power_off]
m2 = { run = "true", timeout_s = 10 }

[hooks.link_down.pos-backend]
pos = { run = "true", timeout_s = 5 }
"#;

fn error(text: &str) -> DataFileError {
    parse("bench.toml", text).unwrap_err()
}

#[test]
fn a_bench_reads_with_its_defaults() {
    let bench = parse("bench.toml", GOOD).unwrap();
    assert_eq!(bench.readers[0].find, Find::BleTcp("127.0.0.1:4000".to_owned()));
    assert_eq!(bench.readers[0].boot, Duration::from_secs_f64(default_boot_s(ReaderModel::M2)));
    assert_eq!(
        bench.readers[1].find,
        Find::Lan("http://127.0.0.1:12111/_readerlab/readers/STRS7-0001/lan".to_owned())
    );
    assert_eq!(bench.readers[1].boot, Duration::from_secs(90));
    assert_eq!(bench.hooks.power_off["m2"].timeout(), Duration::from_secs(10));
    assert_eq!(bench.pos.as_deref(), Some("readerlab adapter"));
}

#[test]
fn a_key_in_the_file_is_refused_on_its_line() {
    let text =
        GOOD.replace("key_env = \"READERLAB_BENCH_KEY\"", "key_env = \"K\"\nkey = \"sk_test_x\"");
    let e = error(&text);
    assert_eq!((e.key.as_str(), e.line), ("backend.key", Some(18)), "{e}");
    assert!(e.message.contains("never written in the bench file"), "{e}");
}

#[test]
fn finding_a_reader_by_name_address_or_serial_is_not_supported_yet() {
    for key in ["ble_name", "ble_address", "serial"] {
        let text = GOOD.replace("ble_tcp = \"127.0.0.1:4000\"", &format!("{key} = \"x\""));
        let e = error(&text);
        assert_eq!(e.key, format!("reader[0].{key}"));
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("not supported yet"), "{e}");
    }
}

#[test]
fn hooks_name_readers_of_the_bench() {
    let e = error(&GOOD.replace("m2 = { run", "m3 = { run"));
    assert_eq!((e.key.as_str(), e.line), ("hooks.power_off.m3", Some(20)), "{e}");
    let e = error(&GOOD.replace("timeout_s = 10", "timeout_s = 0"));
    assert_eq!(e.key, "hooks.power_off.m2.timeout_s", "{e}");
    let e = error(&GOOD.replace("timeout_s = 10 }", "timeout_s = 10, retries = 2 }"));
    assert!(e.message.contains("unknown field"), "{e}");
}

#[test]
fn a_reader_is_found_one_way_that_fits_its_model() {
    let e = error(&GOOD.replace("model = \"m2\"", "model = \"m3\""));
    assert_eq!((e.key.as_str(), e.line), ("reader[0].model", Some(6)), "{e}");
    let e = error(&GOOD.replace("model = \"m2\"", "model = \"s700\""));
    assert_eq!(e.key, "reader[0].ble_tcp", "{e}");
    let e = error(&GOOD.replace("ble_tcp = \"127.0.0.1:4000\"", ""));
    assert!(e.message.contains("say how to find it"), "{e}");
    let e = error(&GOOD.replace("http://127.0.0.1:12111/_readerlab", "https://reader.local"));
    assert!(e.message.contains("not supported yet"), "{e}");
}

#[test]
fn the_bundled_example_reads() {
    let text = include_str!("../../../../../fixtures/rigs/bench-example.toml");
    let bench = parse("fixtures/rigs/bench-example.toml", text).unwrap();
    let ids: Vec<&str> = bench.readers.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["m2", "counter"]);
    assert_eq!(bench.readers[1].boot, Duration::from_secs_f64(default_boot_s(ReaderModel::S700)));
    assert_eq!(bench.hooks.link_up.pos_backend.len(), 1);
    assert_eq!(bench.backend.unwrap().key_env, "READERLAB_BENCH_KEY");
}
