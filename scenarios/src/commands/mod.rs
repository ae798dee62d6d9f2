//! Every command of the `readerlab` CLI (docs/design.md §6), one module
//! each, so a command's flags, its work and its output live in one place
//! and [`crate::cli`] only parses and maps outcomes to exit statuses.
//!
//! Each module owns its clap `Args` and one `run` returning an
//! [`Outcome`]: [`Verdict::Holds`] (exit 0), [`Verdict::Broken`] (exit 1:
//! a scenario failed, an invariant broke, a counterexample was found) or an
//! error (exit 2: bad input). Only what is built is here: a command that is
//! not built is not listed, so `--help` never offers something that would
//! pass a CI job on nothing.

pub mod adapter;
pub mod bench;
pub mod check;
pub mod conform;
pub mod defects;
pub mod explore;
pub mod lab;
pub mod proxy;
pub mod readers;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve;
pub mod sim;
pub mod soak;
pub mod steps;

use anyhow::Context;
use readerlab_emulator::core::{Defect, ReaderModel};

/// What a command found, when it could do its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Done, and what was judged holds (exit 0).
    Holds,
    /// A scenario failed, an invariant broke or a counterexample was found
    /// (exit 1).
    Broken,
    /// Nothing broke, but not everything could be judged (exit 2, as
    /// `readerlab conform` says: an outcome the POS could not tell, or a
    /// capability the scenarios need is missing).
    Unknown,
}

impl Verdict {
    /// [`Verdict::Holds`] when `holds`, else [`Verdict::Broken`].
    pub fn of(holds: bool) -> Self {
        if holds { Verdict::Holds } else { Verdict::Broken }
    }
}

/// What every command returns; an error is bad input (exit 2).
pub type Outcome = anyhow::Result<Verdict>;

/// A reader model by its id, or an error listing the known ones.
pub fn parse_model(id: &str) -> anyhow::Result<ReaderModel> {
    ReaderModel::from_id(id).with_context(|| {
        let known: Vec<&str> = ReaderModel::ALL.iter().map(|m| m.id()).collect();
        format!("unknown reader model `{id}`; known models: {}", known.join(", "))
    })
}

/// Defect profiles by name (`--defect`, repeatable).
fn parse_defects(names: &[String]) -> anyhow::Result<Vec<Defect>> {
    Ok(names.iter().map(|name| name.parse::<Defect>()).collect::<Result<Vec<_>, _>>()?)
}
