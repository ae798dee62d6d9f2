//! `readerlab lab`: a bench of physical readers (docs/lab.md). `run
//! --target lab --rig BENCH.toml` runs scenarios on it (`target.rs`); `lab
//! check --rig BENCH.toml` tells a broken bench from a payment bug before a
//! run does: every reader reachable, the backend with its key, each hook and
//! its effect, the POS adapter's `session.new`. A table (or `--json`);
//! exit 0 all green, 1 on any failure (named), 2 for a bench file that
//! cannot be read.

pub mod bench;
mod checks;
mod hooks;
mod http;
mod interrupt;
mod ledger;
mod operator;
mod place;
mod plan;
mod probe;
mod target;

pub use target::LabTarget;

use super::{Outcome, Verdict};
use checks::{Row, Status};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `readerlab lab`.
#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Health checks of a bench (docs/lab.md): each reader reachable (Device Information and battery over BLE-over-TCP, or its LAN API), the backend with its key, each hook exits 0 in time and its effect is seen (power off: the reader stops answering; power on: it answers again within its boot time), the POS adapter completes session.new and session.end. Exit 0 all green, 1 on any failure, 2 for a bench file that cannot be read.
    Check(CheckArgs),
}

/// `readerlab lab check`.
#[derive(Debug, Parser)]
pub struct CheckArgs {
    /// The bench file (TOML; fixtures/rigs/bench-example.toml documents every key).
    #[arg(long, value_name = "BENCH.toml")]
    rig: PathBuf,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Runs `readerlab lab ...`.
pub fn run(args: &Args) -> Outcome {
    match &args.command {
        LabCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> Outcome {
    let bench = bench::load(&args.rig)?;
    let _held = hold(&bench)?;
    let mut checker = checks::Checker::new(&bench)?;
    if !args.json {
        println!("readerlab lab check: {} ({} reader(s))", bench.file, bench.readers.len());
    }
    checker.run_all();
    let rows = checker.rows;
    let failed: Vec<&Row> = rows.iter().filter(|r| r.status == Status::Fail).collect();
    if args.json {
        let value = serde_json::json!({
            "bench": bench.file,
            "ok": failed.is_empty(),
            "failed": failed.iter().map(|r| format!("{} {}", r.check, r.target)).collect::<Vec<_>>(),
            "checks": rows,
        });
        println!("{value}");
    } else {
        print!("{}", table(&rows));
        if failed.is_empty() {
            println!(
                "bench healthy: {} check(s) green",
                rows.iter().filter(|r| r.status == Status::Ok).count()
            );
        } else {
            for row in &failed {
                println!("FAILED {} {}: {}", row.check, row.target, row.detail);
            }
        }
    }
    Ok(Verdict::of(failed.is_empty()))
}

/// What `run --target lab` does before its first scenario: reads the
/// bench, runs its health checks (the table on stderr) and refuses a bench
/// that fails them, unless `skip_health` (said loudly).
pub fn prepare(
    path: &std::path::Path,
    skip_health: bool,
    operator: bool,
) -> anyhow::Result<LabTarget> {
    let bench = bench::load(path)?;
    interrupt::watch();
    let held = hold(&bench)?;
    let serials = if skip_health {
        eprintln!(
            "readerlab: WARNING: --skip-health: the health checks of {} were NOT run; a \
             scenario that fails may have failed because of the bench",
            bench.file
        );
        Default::default()
    } else {
        eprintln!("readerlab: health checks of {} before the run", bench.file);
        let mut checker = checks::Checker::new(&bench)?;
        checker.run_all();
        eprint!("{}", table(&checker.rows));
        let failed: Vec<String> = checker
            .rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| format!("FAILED {} {}: {}", r.check, r.target, r.detail))
            .collect();
        if !failed.is_empty() {
            anyhow::bail!(
                "the bench {} failed its health checks; nothing was run (fix the bench, or \
                 --skip-health to run anyway):\n{}",
                bench.file,
                failed.join("\n")
            );
        }
        checker.serials().clone()
    };
    LabTarget::new(bench, serials, operator, held)
}

/// Holds the bench's labgrid place, if it names one (said on stderr).
fn hold(bench: &bench::Bench) -> anyhow::Result<Option<place::Held>> {
    let Some(place) = &bench.place else { return Ok(None) };
    let held = place::acquire(place).map_err(|why| anyhow::anyhow!("{}: {why}", bench.file))?;
    eprintln!("readerlab: holding the labgrid place `{}` until this ends", held.name());
    Ok(Some(held))
}

/// The rows as a table: check, target, status, detail, time.
fn table(rows: &[Row]) -> String {
    let status = |s: Status| match s {
        Status::Ok => "ok",
        Status::Fail => "FAIL",
        Status::Skip => "skip",
    };
    let check_w = rows.iter().map(|r| r.check.len()).max().unwrap_or(0).max(5);
    let target_w = rows.iter().map(|r| r.target.len()).max().unwrap_or(0).clamp(6, 40);
    let mut out = format!(
        "{:check_w$}  {:target_w$}  {:6}  {:>8}  detail\n",
        "check", "target", "status", "time"
    );
    for row in rows {
        let target: String = row.target.chars().take(target_w).collect();
        out.push_str(&format!(
            "{:check_w$}  {target:target_w$}  {:6}  {:>6}ms  {}\n",
            row.check,
            status(row.status),
            row.ms,
            row.detail
        ));
    }
    out
}
