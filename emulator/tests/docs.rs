//! The documentation stays true: every event name the code can emit is listed
//! in `docs/history.md`, and every name listed there exists in the code.

use std::collections::BTreeSet;
use std::path::Path;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Names given to `EventBody` variants with `#[serde(rename = "a.b")]`.
fn names_in_code() -> BTreeSet<String> {
    repo_file("emulator/core/src/event.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#[serde(rename = \""))
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| name.contains('.'))
        .map(str::to_owned)
        .collect()
}

/// Names in the first column of the event tables: `| \`a.b\` |`.
fn names_in_docs() -> BTreeSet<String> {
    repo_file("docs/history.md")
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.contains('.'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_event_name_is_documented_and_every_documented_name_exists() {
    let code = names_in_code();
    let docs = names_in_docs();
    assert!(code.len() > 30, "the scan of event.rs found too few names: {code:?}");
    let undocumented: Vec<_> = code.difference(&docs).collect();
    let stale: Vec<_> = docs.difference(&code).collect();
    assert!(undocumented.is_empty(), "add to docs/history.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/history.md names events the code lacks: {stale:?}");
}
