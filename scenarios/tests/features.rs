//! Every bundled feature on the simulator, through cucumber's runner: the
//! `features` test target (`harness = false`), run by `cargo test`.
//!
//! It also speaks the little of libtest's command line that cargo-nextest
//! uses: `--list` lists one test per feature file (`features/x.feature:
//! test`), and a name (with `--exact` or as a substring) runs only the
//! matching files, so nextest runs each feature file as its own test. Other
//! libtest flags are accepted and ignored.

use readerlab::run::report;
use readerlab::run::{RunOptions, bundled, run};
use std::process::ExitCode;

/// libtest flags that take a value (skipped with it).
const VALUE_FLAGS: [&str; 6] =
    ["--test-threads", "--format", "--logfile", "--skip", "--color", "-Z"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut names = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if VALUE_FLAGS.contains(&arg.as_str()) {
            iter.next();
        } else if !arg.starts_with('-') {
            names.push(arg.clone());
        }
    }
    let features: Vec<String> = bundled().into_iter().map(|s| s.path).collect();
    if args.iter().any(|a| a == "--list") {
        // No ignored tests; benchmarks are not features.
        if !args.iter().any(|a| a == "--ignored" || a == "--bench") {
            for feature in &features {
                println!("{feature}: test");
            }
        }
        return ExitCode::SUCCESS;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let selected: Vec<String> = features
        .into_iter()
        .filter(|f| {
            names.is_empty()
                || names.iter().any(|n| if exact { f == n } else { f.contains(n.as_str()) })
        })
        .collect();
    if selected.is_empty() {
        println!("no feature matches {names:?}\n0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }
    let options = RunOptions { paths: selected, progress: true, ..RunOptions::default() };
    match run(options) {
        Ok(result) => {
            print!("{}", report::summary(&result));
            if result.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(problems) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            ExitCode::FAILURE
        }
    }
}
