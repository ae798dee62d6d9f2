//! The repository's layout keeps its promises: it is self-contained (no file
//! points outside it) and ARCHITECTURE.md's code map lists exactly the source
//! files there are (`python3 ci/code_map.py` regenerates it). The module
//! graph's rules (no circle, no upward import) are `ci/module_graph.py`, run
//! by ci/lint.sh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && !name.starts_with("readerlab-") {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_points_outside_the_repository() {
    let mut files = Vec::new();
    walk(&repo(), &mut files);
    walk(&repo().join(".ci"), &mut files);
    assert!(files.len() > 100, "walked the repository: {} files", files.len());
    let needle = ["..", "/shared"].concat();
    let mut hits = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (n, line) in text.lines().enumerate() {
            if line.contains(&needle) {
                hits.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(hits.is_empty(), "files that point outside the repository:\n{}", hits.join("\n"));
}

/// Source files of one crate, relative to its directory.
fn sources(krate: &str) -> BTreeSet<String> {
    let base = repo().join(krate);
    let mut files = Vec::new();
    walk(&base.join("src"), &mut files);
    walk(&base.join("tests"), &mut files);
    let mut out: BTreeSet<String> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.strip_prefix(&base).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    if base.join("build.rs").exists() {
        out.insert("build.rs".to_owned());
    }
    out
}

/// The paths the code map lists under one crate's heading.
fn mapped(krate: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let heading = format!("### `{krate}/`");
    let section = doc.split(&heading).nth(1).unwrap_or_else(|| panic!("no {heading} section"));
    let section = section.split("\n### ").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_code_map_lists_exactly_the_source_files() {
    for krate in ["emulator/core", "emulator", "scenarios"] {
        let files = sources(krate);
        let map = mapped(krate);
        assert!(files.len() > 5, "{krate}: found the sources");
        let missing: Vec<_> = files.difference(&map).collect();
        let gone: Vec<_> = map.difference(&files).collect();
        assert!(
            missing.is_empty() && gone.is_empty(),
            "ARCHITECTURE.md's code map for {krate} is out of date (run python3 ci/code_map.py):\n  \
             not listed: {missing:?}\n  listed but gone: {gone:?}"
        );
    }
}
