//! `readerlab check`: the invariant checker ([`crate::check`]) over a
//! recorded history file, as text or JSON. The report goes to stdout
//! whether the history holds or not, so a CI log shows what held as well.

use super::{Outcome, Verdict};
use anyhow::Context;
use readerlab_emulator::history::read_history_cut_short;
use std::path::PathBuf;

/// The flags of `readerlab check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The history to judge: one event per line, as `docs/history.md` describes.
    history: PathBuf,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Judges a history file; [`Verdict::Broken`] when an invariant broke.
pub fn run(args: &Args) -> Outcome {
    let path = &args.history;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open history {}", path.display()))?;
    let (history, cut) = read_history_cut_short(std::io::BufReader::new(file))
        .with_context(|| format!("cannot read history {}", path.display()))?;
    if let Some(line) = cut {
        eprintln!(
            "readerlab check: {}: line {line} is cut short (no newline after it: its writer was \
             killed mid-line); judged without it",
            path.display()
        );
    }
    let report = crate::check::check(&history);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.holds() {
        println!("{}", report.summary());
    } else {
        print!("{report}");
    }
    Ok(Verdict::of(report.holds()))
}
