//! `readerlab explore`: the command line of exploration ([`crate::explore`]):
//! the budget (cases or seconds), seed, model and defects from the flags,
//! then the report as text or JSON.

use super::{Outcome, Verdict, parse_defects, parse_model};
use std::path::PathBuf;

/// The flags of `readerlab explore`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<Merge>,
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
    /// Threads running cases (default: every core). Any number gives the
    /// same cases, coverage and counterexample for a seed and --cases.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Run only slice K of N of the case stream (case indices i with
    /// i % N == K-1; --cases counts the whole stream), for machines that
    /// share an exploration; `explore merge` puts the slices together.
    #[arg(long, value_name = "K/N", value_parser = crate::explore::Shard::parse)]
    shard: Option<crate::explore::Shard>,
    /// Write the counterexample's timeline (HTML) and DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// `readerlab explore merge`.
#[derive(Debug, clap::Subcommand)]
enum Merge {
    /// Merge shards' explorations (their --out directories): cases and
    /// coverage summed, counterexamples listed once; exit 1 if any shard
    /// found one.
    Merge {
        /// The shards' --out directories (each holds summary.json).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Print the merged summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `readerlab explore`; [`Verdict::Broken`] when a counterexample was
/// found.
pub fn run(args: &Args) -> Outcome {
    if let Some(Merge::Merge { dirs, json }) = &args.merge {
        return merge(dirs, *json);
    }
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
        jobs: match args.jobs {
            Some(0) => anyhow::bail!("--jobs must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        },
        shard: args.shard.unwrap_or(crate::explore::Shard::ALL),
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

fn merge(dirs: &[PathBuf], json: bool) -> Outcome {
    let merged = crate::explore::merge::merge(dirs).map_err(|e| anyhow::anyhow!(e))?;
    let j = &merged.json;
    if json {
        println!("{}", serde_json::to_string(j)?);
    } else {
        println!(
            "readerlab explore merge: seed {}, shards {}: {} cases ({} steps), digest {}",
            j["seed"],
            j["shards"].as_array().map_or(0, Vec::len),
            j["cases"],
            j["steps"],
            j["digest"].as_str().unwrap_or("?")
        );
        let kinds = &j["coverage"]["fault_kinds"];
        println!("coverage: fault kinds {}/{}", kinds["reached"], kinds["of"]);
        let paths = j["coverage"]["risky_paths"].as_array().cloned().unwrap_or_default();
        let reached = paths.iter().filter(|p| p["cases"].as_u64().unwrap_or(0) > 0).count();
        println!("coverage: risky paths {reached}/{}", paths.len());
        match j["counterexamples"].as_array().map(Vec::as_slice).unwrap_or_default() {
            [] => println!("found nothing: every case of every shard held every invariant"),
            found => {
                for c in found {
                    println!(
                        "COUNTEREXAMPLE: breaks {} ({}): {}",
                        c["invariants"],
                        c["origin"].as_str().unwrap_or("?"),
                        c["feature"].as_str().unwrap_or("?")
                    );
                }
            }
        }
    }
    Ok(Verdict::of(!merged.found))
}
