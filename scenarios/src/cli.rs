//! The command line: the commands of docs/design.md §6 that are built,
//! parsed with clap. Each command lives in [`crate::commands`]; this file
//! only names them and turns their [`Outcome`] into the exit status.
//!
//! What is not built is not listed: no stub answers for a command this
//! build leaves out (`bench ble` without the features `bluez` and
//! `btleplug`, `readers --scan` without `btleplug`). Clap refuses them as it refuses any unknown command or flag
//! (exit 2), so a CI job calling them fails loudly instead of passing on
//! nothing.

use crate::commands::{self, Outcome, Verdict};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status for bad input: a broken fixture, an unknown model, bad flags,
/// a history that cannot be read.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of [`Verdict::Broken`]: a scenario failed (`run`), an
/// invariant broke (`check`, `sim`), a counterexample was found (`explore`).
pub const EXIT_VIOLATED: u8 = 1;
/// Exit status of [`Verdict::Unknown`] (`conform`: nothing broke, but not
/// everything could be judged); the same number as bad input, as the
/// driver protocol's verdicts valid/invalid/unknown map to 0/1/2.
pub const EXIT_UNKNOWN: u8 = 2;

/// Emulator and test harness for card readers that take payments offline
/// and forward them later.
#[derive(Debug, Parser)]
#[command(name = "readerlab", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Gherkin features against a target (default: the bundled features on the simulator).
    Run(commands::run::Args),
    /// Explore random rigs and fault schedules on the simulator; shrink what fails and write it as a .feature.
    Explore(commands::explore::Args),
    /// readerlab's reference POS as a driver-protocol adapter on stdin and stdout: smart
    /// readers over their LAN API, Bluetooth readers as the reference mobile SDK
    /// (docs/driver-protocol.md).
    Adapter(commands::adapter::Args),
    /// The conformance kit for a POS adapter (docs/driver-protocol.md): protocol checks, then every scenario its capabilities allow; exit 0 valid, 1 invalid, 2 unknown.
    Conform(commands::conform::Args),
    /// Run the invariant checker over a recorded history (JSON Lines).
    Check(commands::check::Args),
    /// Run a recorded history again on the simulator and compare: identical, or the first divergence (a real-time target's history: re-judged and its schedule re-run).
    Replay(commands::replay::Args),
    /// Draw a history as a timeline: one self-contained HTML file (lanes, fault windows, payments, violations).
    Report(commands::report::Args),
    /// Serve the emulated rig on real sockets: the backend's Stripe-compatible API and the control API.
    Serve(commands::serve::Args),
    /// List the reader models and their capabilities.
    Readers(commands::readers::Args),
    /// Print the step vocabulary, with an example each.
    Steps(commands::steps::Args),
    /// List the defect profiles, the incident each models and the invariant it breaks.
    Defects(commands::defects::Args),
    /// One long random run on the simulator, judged by the checker.
    Sim(commands::sim::Args),
    /// Measure parts of the rig on this machine.
    Bench(commands::bench::Args),
    /// A bench of physical readers: `lab check --rig BENCH.toml` checks its readers, backend, hooks and POS (docs/lab.md).
    Lab(commands::lab::Args),
    /// Serve a Toxiproxy-compatible fault proxy for real TCP links (docs/proxy.md).
    Proxy(commands::proxy::Args),
    /// Run `readerlab serve` under payments, faults and rig restarts; sample its memory, descriptors and queue (docs/soak.md).
    Soak(commands::soak::Args),
}

/// Parses the command line, runs the command and maps its outcome to the
/// exit status.
pub fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Run(args) => commands::run::run(args),
        Command::Explore(args) => commands::explore::run(&args),
        Command::Conform(args) => commands::conform::run(&args),
        Command::Adapter(args) => commands::adapter::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Replay(args) => commands::replay::run_replay(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Readers(args) => commands::readers::run(&args),
        Command::Steps(args) => commands::steps::run(&args),
        Command::Defects(args) => commands::defects::run(&args),
        Command::Sim(args) => commands::sim::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Lab(args) => commands::lab::run(&args),
        Command::Proxy(args) => commands::proxy::run(&args),
        Command::Soak(args) => commands::soak::run(&args),
    };
    exit_status(outcome)
}

/// The exit status of an outcome: 0 holds, 1 broken, 2 bad input (said on
/// stderr as `readerlab: ` and the error with its causes).
fn exit_status(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(Verdict::Holds) => ExitCode::SUCCESS,
        Ok(Verdict::Broken) => ExitCode::from(EXIT_VIOLATED),
        Ok(Verdict::Unknown) => ExitCode::from(EXIT_UNKNOWN),
        Err(error) => {
            eprintln!("readerlab: {error:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
