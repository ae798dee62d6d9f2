//! The command line: the commands of docs/design.md §6 that are built,
//! parsed with clap.
//!
//! What is not built is not listed: no stub answers for a command that does
//! not exist yet (`replay`) or for one this build leaves out (`bench ble`
//! without the features `bluez` and `btleplug`, `readers --scan` without
//! `btleplug`). Clap refuses them as it refuses any unknown command or flag
//! (exit 2), so a CI job calling them fails loudly instead of passing on
//! nothing.

use crate::commands::{self, Outcome, Verdict};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status for bad input: a broken fixture, an unknown model, bad flags,
/// a history that cannot be read.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of `check` when the history breaks an invariant.
pub const EXIT_VIOLATED: u8 = 1;

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
    /// Run the invariant checker over a recorded history (JSON Lines).
    Check(commands::check::Args),
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
    Bench(BenchArgs),
    /// Serve a Toxiproxy-compatible fault proxy for real TCP links (docs/proxy.md).
    Proxy(commands::proxy::Args),
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Stored payments per second on real files (raw append+fdatasync, then
    /// the store with group commit at 1, 8 and 64 collectors).
    Store(StoreBenchArgs),
    /// Stored payments forwarded per second through `readerlab serve`'s HTTP
    /// backend by many smart readers, and memory per idle reader.
    Serve(ServeBenchArgs),
    /// BLE over BlueZ: write→notify round trips, notifications and writes
    /// per second between two adapters (needs `--features bluez,btleplug`
    /// and a BlueZ stack; ci/ble.sh runs it on bluezoo).
    #[cfg(all(feature = "bluez", feature = "btleplug"))]
    Ble(BleBenchArgs),
}

#[cfg(all(feature = "bluez", feature = "btleplug"))]
#[derive(Debug, clap::Args)]
struct BleBenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Round trips timed (after 10 untimed ones).
    #[arg(long, default_value_t = 200, value_name = "N")]
    round_trips: usize,
    /// Values in the notification burst and in the write run.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    burst: usize,
    /// Address of the adapter that serves the emulated reader.
    #[arg(long, default_value = "00:00:00:00:00:01", value_name = "ADDR")]
    peripheral: String,
    /// Address of the adapter the central connects from.
    #[arg(long, default_value = "00:00:00:00:00:02", value_name = "ADDR")]
    central: String,
}

#[derive(Debug, clap::Args)]
struct StoreBenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Seconds per measurement (five measurements in all).
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    seconds: f64,
    /// Work in this directory instead of a fresh temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeBenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Smart readers in the rig (S700 and WisePOS E, alternating).
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    readers: usize,
    /// Stored payments in all, spread evenly over the readers.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    payments: usize,
    /// Where the readers' stores live: the simulator's in-memory disks, or
    /// real files (every forwarded mark is then an fdatasync).
    #[arg(long, value_enum, default_value = "simulated")]
    disk: crate::serve_bench::BenchDisk,
    /// With `--disk files`: this directory instead of a fresh temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Give up when forwarding takes longer than this many seconds.
    #[arg(long, default_value_t = 600, value_name = "S")]
    timeout: u64,
}

/// Parses the command line, runs the command and maps failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Readers(args) => return exit_status(commands::readers::run(&args)),
        Command::Bench(BenchArgs { what: BenchCommand::Store(args) }) => bench_store(&args),
        Command::Bench(BenchArgs { what: BenchCommand::Serve(args) }) => bench_serve(&args),
        #[cfg(all(feature = "bluez", feature = "btleplug"))]
        Command::Bench(BenchArgs { what: BenchCommand::Ble(args) }) => bench_ble(&args),
        Command::Run(args) => return exit_status(commands::run::run(args)),
        Command::Explore(args) => return exit_status(commands::explore::run(&args)),
        Command::Check(args) => return exit_status(commands::check::run(&args)),
        Command::Serve(args) => return exit_status(commands::serve::run(&args)),
        Command::Steps(args) => return exit_status(commands::steps::run(&args)),
        Command::Defects(args) => return exit_status(commands::defects::run(&args)),
        Command::Proxy(args) => return exit_status(commands::proxy::run(&args)),
        Command::Sim(args) => return exit_status(commands::sim::run(&args)),
    };
    exit_status(outcome.map(|()| Verdict::Holds))
}

/// The exit status of an outcome: 0 holds, 1 broken, 2 bad input (said on
/// stderr).
fn exit_status(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(Verdict::Holds) => ExitCode::SUCCESS,
        Ok(Verdict::Broken) => ExitCode::from(EXIT_VIOLATED),
        Err(error) => {
            eprintln!("readerlab: {error:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn bench_serve(args: &ServeBenchArgs) -> anyhow::Result<()> {
    let spec = crate::serve_bench::ServeBenchSpec {
        readers: args.readers,
        payments: args.payments,
        disk: args.disk,
        dir: args.dir.clone(),
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    let bench = crate::serve_bench::serve(&spec)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", crate::serve_bench::table(&bench));
    }
    Ok(())
}

fn bench_store(args: &StoreBenchArgs) -> anyhow::Result<()> {
    let bench = crate::bench::store(args.seconds, args.dir.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", crate::bench::table(&bench));
    }
    Ok(())
}

/// Runs `bench ble`.
#[cfg(all(feature = "bluez", feature = "btleplug"))]
fn bench_ble(args: &BleBenchArgs) -> anyhow::Result<()> {
    let options = crate::bench_ble::BleBenchOptions {
        peripheral_address: args.peripheral.clone(),
        central_address: args.central.clone(),
        round_trips: args.round_trips,
        burst: args.burst,
    };
    let bench = crate::bench_ble::ble(&options)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", crate::bench_ble::table(&bench));
    }
    Ok(())
}
