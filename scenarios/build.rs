//! Bundles the repository's `features/` into the `readerlab` binary, so
//! `readerlab run` with no argument runs them from anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, into);
        } else if path.extension().is_some_and(|e| e == "feature") {
            into.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().expect("the crate lives in the workspace").to_path_buf();
    let features = root.join("features");
    println!("cargo:rerun-if-changed={}", features.display());
    let mut files = Vec::new();
    collect(&features, &mut files);
    files.sort();
    let mut out =
        String::from("/// The bundled features: (path from the repository root, text).\n");
    out.push_str("pub const BUNDLED: &[(&str, &str)] = &[\n");
    for file in files {
        let relative = file.strip_prefix(&root).expect("under the root");
        let name = relative.to_string_lossy().replace('\\', "/");
        writeln!(out, "    ({name:?}, include_str!({:?})),", file.display().to_string())
            .expect("writing to a string");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    std::fs::write(dest, out).expect("writing the bundled features");
}
