//! `readerlab soak`: one `readerlab serve` child process under a steady mix
//! of payments, faults and rig restarts for a bounded time, with its
//! resident memory, open descriptors and stored queue sampled every second,
//! judged flat (docs/soak.md).
//!
//! The server is this binary run as a child (`serve --clock virtual` on a
//! temporary data directory), so what is measured is the serving process
//! alone: `VmRSS` from `/proc/PID/status`, the entries of `/proc/PID/fd`.
//! The load ([`load`]) drives it through the control API as fast as it
//! answers: customers at the POS on every reader (online, offline, and
//! falling back offline), links dropping and coming back, lost answers,
//! reader reboots, and every `--restart-every` seconds the rig finished
//! (each finished rig's history judged by the checker) and a new one
//! started with `POST /_readerlab/rig`. [`samples`] keeps the figures and
//! judges them.
//!
//! Exit 1 when, after the warm-up (the first rig and its finish, at most a
//! third of the run), resident memory grew by more than the bound between
//! the first and the last tenth of the samples (medians), when the open
//! descriptors grew, or when a finished rig's history broke an invariant.

pub mod child;
mod load;
pub use load::CARDS;
mod samples;

use super::{Outcome, Verdict};
use anyhow::Context;
use child::ServeChild;
use samples::{Judgement, Sampler};
use serde::Serialize;
use std::ffi::OsString;
use std::time::{Duration, Instant};

/// The flags of `readerlab soak`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long the load runs, in seconds of wall time.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub seconds: u64,
    /// Finish the rig and start a new one this often (seconds).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub restart_every: u64,
    /// Load steps per second of wall time; each queues one to three
    /// customers, sometimes a fault or a reboot, and moves the rig's clock
    /// five seconds.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub rate: u32,
    /// Memory growth allowed after the warm-up, first tenth to last (MiB).
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub rss_bound_mib: u64,
    /// The seed of the load's random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object (samples and verdict) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// What a soak found.
#[derive(Debug, Serialize)]
struct Soak {
    seconds: u64,
    seed: u64,
    pid: u32,
    load: load::Totals,
    samples: Vec<samples::Sample>,
    judgement: Judgement,
}

/// Runs the soak and prints the samples and the verdict.
pub fn run(args: &Args) -> Outcome {
    anyhow::ensure!(args.seconds >= 5, "--seconds must be at least 5");
    anyhow::ensure!(args.restart_every >= 1, "--restart-every must be at least 1");
    anyhow::ensure!((1..=1_000).contains(&args.rate), "--rate must be 1..=1000");
    let binary = std::env::current_exe().context("finding this readerlab binary")?;
    let data = tempfile::tempdir().context("a temporary data directory")?;
    let serve_args: Vec<OsString> = vec![
        "--clock".into(),
        "virtual".into(),
        "--data".into(),
        data.path().join("data").into_os_string(),
    ];
    let serve = ServeChild::spawn(&binary, &serve_args, Duration::from_secs(30))?;
    if !args.json {
        println!(
            "readerlab soak: {} s against readerlab serve (pid {}, {}), {} load steps/s, a new rig every {} s, seed {}",
            args.seconds,
            serve.pid(),
            serve.addr(),
            args.rate,
            args.restart_every,
            args.seed
        );
    }
    let sampler = Sampler::start(&serve)?;
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let totals = load::run(&serve, args, until);
    let samples = sampler.stop();
    serve.kill(Duration::from_secs(10))?;
    let totals = totals?;
    // The first rig and its finish are the warm-up.
    let warm_up = Duration::from_secs(args.restart_every + 2);
    let judgement = Judgement::of(&samples, warm_up, args.rss_bound_mib * 1024, &totals);
    let soak = Soak {
        seconds: args.seconds,
        seed: args.seed,
        pid: serve.pid(),
        load: totals,
        samples,
        judgement,
    };
    if args.json {
        println!("{}", serde_json::to_string(&soak)?);
    } else {
        print_soak(&soak);
    }
    Ok(Verdict::of(soak.judgement.holds))
}

fn print_soak(soak: &Soak) {
    println!("{}", samples::table(&soak.samples));
    let t = &soak.load;
    println!(
        "load: {} payments queued, {} faults, {} reboots, {} rigs finished and judged ({} events), {} violations",
        t.payments, t.faults, t.reboots, t.rigs_judged, t.events_judged, t.violations
    );
    if let Some(first) = &t.first_violation {
        println!("  first violation: {first}");
    }
    print!("{}", soak.judgement);
}
