//! `readerlab steps`: the step vocabulary ([`crate::steps::vocabulary`]),
//! with an example each, as text or JSON, so a QA engineer writes features
//! without reading the step code.

use super::{Outcome, Verdict};

/// The flags of `readerlab steps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints the vocabulary.
pub fn run(args: &Args) -> Outcome {
    print!(
        "{}",
        if args.json { crate::steps::vocabulary::json() } else { crate::steps::vocabulary::text() }
    );
    Ok(Verdict::Holds)
}
