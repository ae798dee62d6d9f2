//! The core's promise, kept by a test rather than a comment: it depends on no
//! runtime, network or Bluetooth stack (checked over the whole dependency tree
//! as Cargo.lock resolves it), and no source file names the filesystem, the
//! network, threads, processes, the environment or the system clock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates that would bring I/O, a runtime or a clock into the core.
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "axum",
    "mio",
    "socket2",
    "futures",
    "async-std",
    "bluer",
    "btleplug",
    "dbus",
    "reqwest",
    "tempfile",
    "getrandom",
    "rand",
    "chrono",
];

/// What a source file of the core may not name.
const FORBIDDEN_PATHS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::thread",
    "std::process",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "std::time::Instant",
    "std::time::SystemTime",
    "SystemTime::",
    "Instant::now",
    "tokio",
    "include_bytes!(\"/",
    "File::open",
    "File::create",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `[dependencies]` table of the core's manifest (not dev-dependencies).
fn direct_dependencies() -> Vec<String> {
    let text = std::fs::read_to_string(crate_dir().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["dependencies"].as_table().unwrap().keys().cloned().collect()
}

/// Every package the core's normal dependencies pull in, resolved through the
/// workspace's Cargo.lock (which lists a registry package's normal and build
/// dependencies, never its dev-dependencies).
fn dependency_closure() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(crate_dir().join("../../Cargo.lock")).unwrap();
    let lock: toml::Table = lock.parse().unwrap();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in lock["package"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap().to_owned();
        let deps =
            package.get("dependencies").and_then(|d| d.as_array()).map_or_else(Vec::new, |d| {
                // "name" or "name version" when several versions are locked.
                d.iter()
                    .map(|v| v.as_str().unwrap().split(' ').next().unwrap().to_owned())
                    .collect()
            });
        graph.entry(name).or_default().extend(deps);
    }
    let mut seen = BTreeSet::new();
    let mut todo = direct_dependencies();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).cloned().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn no_runtime_network_or_bluetooth_crate_in_the_dependency_tree() {
    let closure = dependency_closure();
    assert!(closure.contains("serde"), "the closure was resolved: {closure:?}");
    let found: Vec<&&str> = FORBIDDEN_CRATES.iter().filter(|c| closure.contains(**c)).collect();
    assert!(found.is_empty(), "readerlab-core depends on {found:?} (whole tree: {closure:?})");
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_names_the_filesystem_network_threads_or_clock() {
    let mut files = Vec::new();
    sources(&crate_dir().join("src"), &mut files);
    assert!(files.len() > 30, "found the sources: {files:?}");
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for path in FORBIDDEN_PATHS {
                if code.contains(path) {
                    hits.push(format!("{}:{}: {path}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(hits.is_empty(), "the core must do no I/O:\n{}", hits.join("\n"));
}
