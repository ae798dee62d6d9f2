//! `readerlab explore`: the command line of exploration ([`crate::explore`]):
//! the budget (cases or seconds), seed, model and defects from the flags,
//! then the report as text or JSON.

use super::{Outcome, Verdict, parse_defects, parse_model};
use std::path::PathBuf;

/// The flags of `readerlab explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run this many generated cases.
    #[arg(long, value_name = "N", conflicts_with = "time")]
    cases: Option<u64>,
    /// Explore for this many seconds (the default: 30).
    #[arg(long, value_name = "SECS")]
    time: Option<f64>,
    /// The seed cases are drawn from; the same seed draws the same cases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Explore rigs of this one model (m2, wisepad3, chipper2x, s700, wisepos_e).
    #[arg(long, value_name = "MODEL")]
    reader: Option<String>,
    /// Switch a defect profile on (repeatable); see `readerlab defects`.
    #[arg(long = "defect", value_name = "NAME")]
    defects: Vec<String>,
    /// Write counterexamples here, and keep found cases in DIR/cases to re-run first.
    #[arg(long, value_name = "DIR", default_value = "readerlab-explore")]
    out: PathBuf,
    /// Write the counterexample's timeline (HTML) and DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `readerlab explore`; [`Verdict::Broken`] when a counterexample was
/// found.
pub fn run(args: &Args) -> Outcome {
    let defects = parse_defects(&args.defects)?;
    let budget = match (args.cases, args.time) {
        (Some(cases), _) => crate::explore::Budget::Cases(cases),
        (None, Some(seconds)) => {
            anyhow::ensure!(
                seconds.is_finite() && seconds > 0.0,
                "--time must be a number of seconds above 0, not {seconds}"
            );
            crate::explore::Budget::Time(std::time::Duration::from_secs_f64(seconds))
        }
        (None, None) => crate::explore::Budget::Time(std::time::Duration::from_secs(30)),
    };
    let options = crate::explore::ExploreOptions {
        budget,
        seed: args.seed,
        reader: args.reader.as_deref().map(parse_model).transpose()?,
        defects: readerlab_emulator::core::Defects::of(defects),
        out: args.out.clone(),
        progress: !args.json,
    };
    let report = crate::explore::explore(options).map_err(|e| anyhow::anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string(&report.json())?);
    } else {
        print!("{}", report.text());
    }
    if let Some(dir) = &args.report {
        let index = super::report::write_explore_report(dir, &report)?;
        eprintln!("report: {}", index.display());
    }
    Ok(Verdict::of(report.found.is_none()))
}
