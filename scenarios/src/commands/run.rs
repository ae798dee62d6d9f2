//! `readerlab run`: the command line of the scenario runner ([`crate::run`]):
//! builds the run's options from the flags, reports problems with the
//! features as bad input, and prints the summary or the JSON, and writes
//! JUnit when asked.

use super::{Outcome, Verdict, parse_defects};
use crate::run::report;
use anyhow::Context;
use std::path::PathBuf;

/// The flags of `readerlab run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Feature files or directories; FILE:LINE runs the scenario (or the
    /// example row) on that line. None: the bundled features.
    paths: Vec<String>,
    /// Only scenarios whose tags match this expression (`@incident and not @slow`).
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,
    /// Who plays the rig: `sim` (in process), `served` (a readerlab serve per scenario, through its sockets) or `lab` (a bench of physical readers, real time: --rig).
    #[arg(long, default_value = "sim", value_name = "TARGET")]
    target: String,
    /// With `--target lab`: the bench file (docs/lab.md). Its health checks run first.
    #[arg(long, value_name = "BENCH.toml")]
    rig: Option<PathBuf>,
    /// With `--target lab`: run without the health checks (said loudly).
    #[arg(long)]
    skip_health: bool,
    /// With `--target lab`: skip scenarios that need a person at the bench (an `operator` hook).
    #[arg(long)]
    no_operator: bool,
    /// The seed of every scenario; the same seed gives the same histories.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// With `--target served`: carry the POS's link to each Bluetooth
    /// reader over a real carrier (`tcp`: BLE-over-TCP on loopback).
    #[arg(long, value_name = "CARRIER")]
    ble: Option<readerlab_emulator::serve::ble_bridge::BleCarrier>,
    /// With `--target served`: who plays the POS (default: readerlab's own).
    #[command(flatten)]
    pos: PosArgs,
    /// Write JUnit XML here (one test case per scenario).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Switch a defect profile on (repeatable); see `readerlab defects`.
    #[arg(long = "defect", value_name = "NAME")]
    defects: Vec<String>,
    /// Write each scenario's history (JSON Lines) into this directory.
    #[arg(long, value_name = "DIR")]
    history_dir: Option<PathBuf>,
    /// Write a timeline (HTML) per scenario and DIR/index.html linking them
    /// all; histories go to --history-dir, or to DIR beside the pages.
    #[arg(long, value_name = "DIR")]
    report: Option<std::path::PathBuf>,
    /// Try a failed scenario again up to N times (only its last try is reported).
    #[arg(long, default_value_t = 0, value_name = "N")]
    retries: usize,
    /// Print one JSON object (counts, every scenario) instead of the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `readerlab run`; [`Verdict::Broken`] when a scenario failed.
/// Problems with the features themselves (each naming file and line) are
/// bad input.
pub fn run(args: Args) -> Outcome {
    let defects = parse_defects(&args.defects)?;
    if args.pos.given() && args.target != "served" {
        anyhow::bail!(
            "--pos and --pos-listen need --target served (an adapter plays the POS of a served rig)"
        );
    }
    let target: std::sync::Arc<dyn crate::rig::Target> = match args.target.as_str() {
        "sim" => std::sync::Arc::new(crate::rig::SimTarget),
        "served" => {
            let pos = args.pos.command()?;
            std::sync::Arc::new(crate::rig::ServedTarget { ble: args.ble, pos })
        }
        "lab" => {
            let Some(bench) = &args.rig else {
                anyhow::bail!("--target lab needs --rig BENCH.toml (docs/lab.md)");
            };
            std::sync::Arc::new(super::lab::prepare(bench, args.skip_health, !args.no_operator)?)
        }
        other => anyhow::bail!("unknown target `{other}` (known: sim, served, lab)"),
    };
    if args.target != "lab" && (args.rig.is_some() || args.skip_health || args.no_operator) {
        anyhow::bail!("--rig, --skip-health and --no-operator need --target lab");
    }
    let options = crate::run::RunOptions {
        paths: args.paths,
        tags: args.tags,
        seed: args.seed,
        defects: readerlab_emulator::core::Defects::of(defects),
        target,
        retries: args.retries,
        progress: !args.json,
        history_dir: args.history_dir.clone().or_else(|| args.report.clone()),
    };
    let report = match crate::run::run(options) {
        Ok(report) => report,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            let noun = if problems.len() == 1 { "problem" } else { "problems" };
            anyhow::bail!("{} {noun} with the features; nothing was run", problems.len());
        }
    };
    if let Some(path) = &args.junit {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write JUnit to {}", path.display()))?;
        report::write_junit(&report, std::io::BufWriter::new(file))
            .with_context(|| format!("cannot write JUnit to {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report::json(&report))?);
    } else {
        print!("{}", report::summary(&report));
    }
    if let Some(dir) = &args.report {
        let histories = report.options.history_dir.clone().unwrap_or_else(|| dir.clone());
        let index = super::report::write_run_report(dir, &histories, &report)?;
        eprintln!("report: {}", index.display());
    }
    Ok(Verdict::of(report.passed()))
}

/// Who plays the POS: the flags `run` and `conform` share
/// (docs/driver-protocol.md).
#[derive(Debug, clap::Args)]
pub struct PosArgs {
    /// An adapter plays the POS, spoken to with the driver protocol on its
    /// stdin and stdout; run with `sh -c` once per scenario.
    #[arg(long, value_name = "CMD", conflicts_with = "pos_listen")]
    pos: Option<String>,
    /// The POS is an app that connects in over a WebSocket at this address,
    /// once per session (scenarios run one at a time); off loopback
    /// `--pos-token` is required.
    #[arg(long, value_name = "ADDR")]
    pos_listen: Option<std::net::SocketAddr>,
    /// The token an app connecting to `--pos-listen` must present
    /// (`Authorization: Bearer TOKEN`, or `?token=TOKEN`).
    #[arg(long, value_name = "TOKEN", requires = "pos_listen")]
    pos_token: Option<String>,
    /// Every deadline of the driver protocol, in seconds (default: 30 for
    /// session.new and payment.collect, 10 for the rest; with
    /// `--pos-listen`, also how long readerlab waits for the app to connect).
    #[arg(long, value_name = "SECS")]
    pos_timeout: Option<f64>,
}

impl PosArgs {
    /// Whether an adapter was named.
    pub(crate) fn given(&self) -> bool {
        self.pos.is_some() || self.pos_listen.is_some()
    }

    /// The adapter as the served target takes it (`None`: none named). A
    /// listener is bound now and its address said on stderr.
    pub(crate) fn command(&self) -> anyhow::Result<Option<crate::driver::PosCommand>> {
        let timeout = match self.pos_timeout {
            Some(secs) => Some(
                std::time::Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .with_context(|| {
                        format!("--pos-timeout {secs}: give a positive number of seconds")
                    })?,
            ),
            None => None,
        };
        Ok(match (&self.pos, self.pos_listen) {
            (Some(command), _) => Some(crate::driver::PosCommand::spawn(command.clone(), timeout)),
            (None, Some(addr)) => {
                let listener = crate::driver::PosListener::bind(addr, self.pos_token.clone())
                    .with_context(|| format!("--pos-listen {addr}"))?;
                eprintln!(
                    "readerlab: waiting for the POS app at ws://{} (a connection per session)",
                    listener.addr()
                );
                Some(crate::driver::PosCommand::listen(listener, timeout))
            }
            (None, None) => None,
        })
    }
}
