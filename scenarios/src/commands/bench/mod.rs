//! `readerlab bench`: measurements of parts of the rig on this machine, one
//! subcommand each. They measure and never judge: no thresholds, and no
//! timed assertions in tests (the machines are shared and noisy).
//!
//! `bench ble` exists only in a build with both `bluez` and `btleplug`
//! (it needs libdbus and a BlueZ stack); without them it is not listed.

pub mod all;
#[cfg(all(feature = "bluez", feature = "btleplug"))]
pub mod ble;
pub mod serve;
pub mod store;

use super::Outcome;
use clap::Subcommand;

/// The flags of `readerlab bench`: which bench to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: Command,
}

/// The benches.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The figures worth tracking between builds (simulation, checker,
    /// timeline, exploration on one and every core, forwarding), medians of
    /// --runs; --baseline compares with an earlier file and prints each
    /// figure more than 20% worse loudly.
    All(all::Args),
    /// Stored payments per second on real files (raw append+fdatasync, then
    /// the store with group commit at 1, 8 and 64 collectors).
    Store(store::Args),
    /// Stored payments forwarded per second through `readerlab serve`'s HTTP
    /// backend by many smart readers, and memory per idle reader.
    Serve(serve::Args),
    /// BLE over BlueZ: write→notify round trips, notifications and writes
    /// per second between two adapters (needs `--features bluez,btleplug`
    /// and a BlueZ stack; ci/ble.sh runs it on bluezoo).
    #[cfg(all(feature = "bluez", feature = "btleplug"))]
    Ble(ble::Args),
}

/// Runs the bench asked for.
pub fn run(args: &Args) -> Outcome {
    match &args.what {
        Command::All(args) => all::run(args),
        Command::Store(args) => store::run(args),
        Command::Serve(args) => serve::run(args),
        #[cfg(all(feature = "bluez", feature = "btleplug"))]
        Command::Ble(args) => ble::run(args),
    }
}
