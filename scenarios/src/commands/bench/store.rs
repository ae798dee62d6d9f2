//! `readerlab bench store`: how many payments per second the durable store
//! acknowledges on real files, against the disk's own append + fdatasync
//! rate, at 1, 8 and 64 concurrent collectors (group commit).
//!
//! It measures; it must not judge. There are no thresholds here and no timed
//! assertions in tests: the machine is shared and noisy, so the raw baseline
//! runs before and after the store runs and the ratio uses their mean.

use crate::commands::{Outcome, Verdict};
use anyhow::Context;
use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{PinEntry, TestCards};
use readerlab_emulator::disk::FileDisk;
use readerlab_emulator::store::{FileKeychain, GroupCommit, Store, StoreConfig, record_len};
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The flags of `readerlab bench store`.
#[derive(Debug, clap::Args)]
pub struct Args {
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

/// Runs `bench store` and prints what it measured.
pub fn run(args: &Args) -> Outcome {
    let bench = store(args.seconds, args.dir.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", table(&bench));
    }
    Ok(Verdict::Holds)
}

/// The collector counts measured.
pub const COLLECTORS: [usize; 3] = [1, 8, 64];

/// What `bench store` measured.
#[derive(Debug, Serialize)]
pub struct StoreBench {
    /// Seconds per measurement.
    pub seconds: f64,
    /// Bytes of one stored payment's record (and of the raw baseline's write).
    pub record_bytes: usize,
    /// The ratio basis: the mean of the two raw runs.
    pub raw_append_fdatasync_per_s: f64,
    /// The raw baseline before and after the store runs.
    pub raw_runs_per_s: [f64; 2],
    /// How `raw_append_fdatasync_per_s` is derived.
    pub ratio_basis: &'static str,
    /// One row per collector count.
    pub collectors: Vec<CollectorRun>,
}

/// One store run.
#[derive(Debug, Serialize)]
pub struct CollectorRun {
    /// Concurrent collector threads.
    pub collectors: usize,
    /// Payments acknowledged (durable) in the run.
    pub payments: u64,
    /// Acknowledged payments per second.
    pub payments_per_s: f64,
    /// `payments_per_s` over the raw basis.
    pub ratio_to_raw: f64,
    /// Syncs the writer made.
    pub syncs: u64,
    /// Payments per sync.
    pub mean_batch: f64,
}

fn sample_payment(id: String) -> StoredPayment {
    let card = &TestCards::builtin().cards[0];
    StoredPayment {
        offline_id: OfflineId(id),
        intent_id: None,
        amount: Money::new(1250, Currency::USD),
        stored_at: Millis(0),
        card: StoredCard::read(card, EntryMode::Contactless, PinEntry::NotEntered),
        capture: CaptureMethod::Automatic,
        account: "acct_bench".into(),
        livemode: false,
        location: "tml_bench".into(),
        reader: "WPC3-BENCH".into(),
    }
}

/// Appends `record_bytes` and calls `sync_data` for `seconds`; returns the
/// rate per second.
fn raw_baseline(dir: &Path, record_bytes: usize, seconds: f64) -> anyhow::Result<f64> {
    let path = dir.join("raw-baseline.bin");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let buffer = vec![0x5Au8; record_bytes];
    let limit = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < limit {
        file.write_all(&buffer)?;
        file.sync_data()?;
        count += 1;
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    std::fs::remove_file(&path)?;
    Ok(rate)
}

/// `collectors` threads store payments back to back through one group
/// commit for `seconds`.
fn store_run(dir: &Path, collectors: usize, seconds: f64) -> anyhow::Result<(u64, f64, u64, f64)> {
    let data = dir.join(format!("store-{collectors}"));
    // The key lives apart from the data, as in the field.
    let keys = dir.join(format!("keys-{collectors}"));
    let disk = FileDisk::open(&data).with_context(|| format!("opening {}", data.display()))?;
    let keychain =
        FileKeychain::open(&keys).with_context(|| format!("opening {}", keys.display()))?;
    let (store, _) = Store::open(disk, keychain, StoreConfig::default())?;
    let group = GroupCommit::start(store);
    let stored = AtomicU64::new(0);
    let limit = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let outcome: anyhow::Result<()> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..collectors)
            .map(|t| {
                let (group, stored) = (&group, &stored);
                s.spawn(move || -> anyhow::Result<()> {
                    let mut n = 0u64;
                    while start.elapsed() < limit {
                        group.store(sample_payment(format!("off_bench_{t}_{n}")))?;
                        stored.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("collectors do not panic"))
    });
    let elapsed = start.elapsed().as_secs_f64();
    outcome?;
    let stats = group.stats();
    drop(group.close());
    std::fs::remove_dir_all(&data)?;
    std::fs::remove_dir_all(&keys)?;
    let payments = stored.load(Ordering::Relaxed);
    Ok((payments, payments as f64 / elapsed, stats.syncs, stats.mean_batch()))
}

/// Runs the whole benchmark in `dir` (a fresh temporary directory if none),
/// reporting progress on stderr.
pub fn store(seconds: f64, dir: Option<&Path>) -> anyhow::Result<StoreBench> {
    anyhow::ensure!(
        seconds > 0.0 && Duration::try_from_secs_f64(seconds).is_ok(),
        "--seconds must be a positive number of seconds a duration can hold"
    );
    let temp;
    let dir = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path()
        }
    };
    let record_bytes = record_len(&sample_payment("off_bench_0_0".into()));
    let total = seconds * (2 + COLLECTORS.len()) as f64;
    eprintln!(
        "bench store: {seconds} s per measurement, about {total:.0} s in all, in {}",
        dir.display()
    );
    eprintln!("bench store: raw append + fdatasync of {record_bytes} bytes (before)…");
    let before = raw_baseline(dir, record_bytes, seconds)?;
    let mut runs = Vec::new();
    for collectors in COLLECTORS {
        eprintln!("bench store: {collectors} collector(s) through the store and group commit…");
        runs.push((collectors, store_run(dir, collectors, seconds)?));
    }
    eprintln!("bench store: raw append + fdatasync (after)…");
    let after = raw_baseline(dir, record_bytes, seconds)?;
    let basis = (before + after) / 2.0;
    let collectors = runs
        .into_iter()
        .map(|(collectors, (payments, payments_per_s, syncs, mean_batch))| CollectorRun {
            collectors,
            payments,
            payments_per_s,
            ratio_to_raw: if basis > 0.0 { payments_per_s / basis } else { 0.0 },
            syncs,
            mean_batch,
        })
        .collect();
    Ok(StoreBench {
        seconds,
        record_bytes,
        raw_append_fdatasync_per_s: basis,
        raw_runs_per_s: [before, after],
        ratio_basis: "mean of the raw runs before and after",
        collectors,
    })
}

/// The report as a table.
pub fn table(bench: &StoreBench) -> String {
    let mut out = format!(
        "record {} bytes, {} s per measurement\nraw append+fdatasync: {:.0}/s before, {:.0}/s after, basis (mean) {:.0}/s\n\n",
        bench.record_bytes,
        bench.seconds,
        bench.raw_runs_per_s[0],
        bench.raw_runs_per_s[1],
        bench.raw_append_fdatasync_per_s
    );
    out.push_str("collectors  payments/s  ratio to raw  syncs  mean batch\n");
    for run in &bench.collectors {
        out.push_str(&format!(
            "{:>10}  {:>10.0}  {:>12.2}  {:>5}  {:>10.1}\n",
            run.collectors, run.payments_per_s, run.ratio_to_raw, run.syncs, run.mean_batch
        ));
    }
    out
}
