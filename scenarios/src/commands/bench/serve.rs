//! `readerlab bench serve`: one `readerlab serve` process with many smart
//! readers, each holding stored payments, forwarding them all through the
//! Stripe-compatible HTTP backend on loopback; it prints forwards per second
//! and memory (per idle reader, and the peak).
//!
//! The server is the real one (`Server::start` on 127.0.0.1:0, real clock):
//! every forward is an HTTP request from a reader's carrier to the backend's
//! router, answered by the same ledger the simulator uses. The stores are
//! filled through [`Sim::preload_stored`] (appended and synced by each
//! reader's own store, then recovered at a restart) rather than collected
//! card by card, so the figure is the forwarding path, not collection.
//! At the end the ledger is checked: exactly one charge per stored payment.
//!
//! It measures; it does not judge: no thresholds here, and no timed
//! assertions in tests.

use crate::commands::{Outcome, Verdict};
use anyhow::{Context, bail};
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::backend::BackendConfig;
use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{EntryMode, ReaderModel};
use readerlab_emulator::core::{PinEntry, TestCards};
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::{Device, LOCATION, RigSpec, Sim};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The flags of `readerlab bench serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
    disk: BenchDisk,
    /// With `--disk files`: this directory instead of a fresh temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Give up when forwarding takes longer than this many seconds.
    #[arg(long, default_value_t = 600, value_name = "S")]
    timeout: u64,
}

/// Runs `bench serve` and prints what it measured.
pub fn run(args: &Args) -> Outcome {
    let spec = ServeBenchSpec {
        readers: args.readers,
        payments: args.payments,
        disk: args.disk,
        dir: args.dir.clone(),
        timeout: Duration::from_secs(args.timeout),
    };
    let bench = serve(&spec)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", table(&bench));
    }
    Ok(Verdict::Holds)
}

/// Where the readers' stores live during the bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BenchDisk {
    /// The simulator's in-memory disks (crash semantics, no fsync cost).
    Simulated,
    /// Real files under a temporary directory (or `--dir`), as `readerlab
    /// serve` keeps them: every forwarded mark is an fdatasync.
    Files,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ServeBenchSpec {
    /// Smart readers in the rig (S700 and WisePOS E, alternating).
    pub readers: usize,
    /// Stored payments in all, spread evenly over the readers.
    pub payments: usize,
    /// Where the stores live.
    pub disk: BenchDisk,
    /// The directory for `--disk files` (a temporary one if `None`).
    pub dir: Option<PathBuf>,
    /// Give up if forwarding takes longer than this.
    pub timeout: Duration,
}

/// What `bench serve` measured.
#[derive(Debug, Serialize)]
pub struct ServeBench {
    /// Smart readers served.
    pub readers: usize,
    /// Stored payments forwarded.
    pub payments: usize,
    /// Where the stores lived.
    pub disk: BenchDisk,
    /// Wall seconds to fill the stores (not part of the rate).
    pub preload_s: f64,
    /// Wall seconds from the filled stores to the last forward answered.
    pub forward_s: f64,
    /// `payments / forward_s`.
    pub forwards_per_s: f64,
    /// HTTP requests the backend answered while forwarding (forwards,
    /// connection tokens, retries).
    pub backend_requests: u64,
    /// Resident memory before the server started, KiB.
    pub rss_before_kib: u64,
    /// Resident memory with every reader up and idle (nothing stored), KiB.
    pub rss_idle_kib: u64,
    /// `(rss_idle - rss_before) / readers`: an upper bound, since it also
    /// holds the server's fixed cost (listener, runtime buffers, pools).
    pub idle_kib_per_reader: f64,
    /// Peak resident memory of the process (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// History events the rig recorded.
    pub events: usize,
    /// Charges on the ledger tied to a stored payment (must equal `payments`).
    pub offline_charges: usize,
}

/// One reader's share of the stored payments.
fn payments_for(serial: &str, count: usize, account: &str) -> Vec<StoredPayment> {
    let cards = TestCards::builtin();
    let card = cards.cards.iter().find(|c| c.number.ends_with("4242")).unwrap_or(&cards.cards[0]);
    (0..count)
        .map(|n| StoredPayment {
            offline_id: OfflineId(format!("off_bench_{serial}_{n}")),
            intent_id: None,
            amount: Money::new(500 + (n as u64 % 50) * 10, Currency::USD),
            stored_at: Millis(0),
            card: StoredCard::read(card, EntryMode::Contactless, PinEntry::NotEntered),
            capture: CaptureMethod::Automatic,
            account: account.to_owned(),
            livemode: false,
            location: LOCATION.to_owned(),
            reader: serial.to_owned(),
        })
        .collect()
}

/// `VmRSS` and `VmHWM` of this process, KiB (zeros where /proc is missing).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Stored payments the rig still holds, over every reader.
fn queued(sim: &Sim, readers: usize) -> usize {
    (0..readers).map(|i| sim.queued(Device::Reader(i))).sum()
}

/// Runs the bench on its own tokio runtime, reporting progress on stderr.
pub fn serve(spec: &ServeBenchSpec) -> anyhow::Result<ServeBench> {
    anyhow::ensure!(spec.readers > 0, "--readers must be at least 1");
    anyhow::ensure!(spec.payments > 0, "--payments must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(bench(spec))
}

/// Where the stores live: `None` for simulated disks, else the directory,
/// with the temporary directory to keep alive when none was given.
fn data_dir(spec: &ServeBenchSpec) -> anyhow::Result<(Option<PathBuf>, Option<TempDir>)> {
    Ok(match (spec.disk, &spec.dir) {
        (BenchDisk::Simulated, _) => (None, None),
        (BenchDisk::Files, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            (Some(dir.clone()), None)
        }
        (BenchDisk::Files, None) => {
            let temp = tempfile::tempdir().context("creating a temporary directory")?;
            (Some(temp.path().to_owned()), Some(temp))
        }
    })
}

/// A rig of `readers` smart readers, S700 and WisePOS E alternating.
fn smart_rig(readers: usize, data_dir: Option<PathBuf>) -> RigSpec {
    let mut rig = RigSpec::single(ReaderModel::S700, 1);
    rig.readers = (0..readers)
        .map(|i| if i % 2 == 0 { ReaderModel::S700 } else { ReaderModel::WiseposE })
        .collect();
    rig.data_dir = data_dir;
    rig
}

/// Fills the stores: `total` payments spread evenly over the readers.
fn fill_stores(sim: &mut Sim, readers: usize, total: usize, account: &str) -> anyhow::Result<()> {
    for index in 0..readers {
        let share = total / readers + usize::from(index < total % readers);
        let serial = sim.serial(index).unwrap_or_default().to_owned();
        let payments = payments_for(&serial, share, account);
        sim.preload_stored(Device::Reader(index), &payments)
            .with_context(|| format!("storing payments on {serial}"))?;
    }
    Ok(())
}

/// What the rig holds after forwarding.
struct Ledger {
    /// History events recorded.
    events: usize,
    /// Distinct stored payments charged.
    offline_ids: usize,
    /// Charges tied to a stored payment.
    charges: usize,
    /// HTTP requests the backend answered so far.
    requests: u64,
}

/// Reads the ledger: the offline charges, distinct and in all.
fn ledger(sim: &Sim) -> Ledger {
    let backend = sim.backend();
    let offline: Vec<_> = backend
        .charges()
        .filter_map(|c| c.offline.as_ref())
        .map(|o| o.offline_id.clone())
        .collect();
    let distinct: BTreeSet<_> = offline.iter().cloned().collect();
    Ledger {
        events: sim.events().len(),
        offline_ids: distinct.len(),
        charges: offline.len(),
        requests: backend.requests_handled(),
    }
}

/// Serves the rig, fills its stores, waits until every payment is forwarded
/// and checks the ledger.
async fn bench(spec: &ServeBenchSpec) -> anyhow::Result<ServeBench> {
    let (data_dir, _temp) = data_dir(spec)?;
    let rig = smart_rig(spec.readers, data_dir);
    let (rss_before, _) = memory_kib();
    eprintln!(
        "bench serve: starting {} smart readers ({:?} disks) on 127.0.0.1…",
        spec.readers, spec.disk
    );
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        clock: ClockMode::Real,
        token: None,
        rig,
        secret_key: BackendConfig::default().secret_key,
        ble: None,
        ui: None,
    };
    let server = Server::start(config).await.context("starting the server")?;
    let served = server.rig().clone();
    let (rss_idle, _) = memory_kib();

    eprintln!("bench serve: storing {} payments on the readers…", spec.payments);
    let account = BackendConfig::default().account;
    let (readers, total) = (spec.readers, spec.payments);
    let preload = Instant::now();
    let requests_before = served.read(|sim| sim.backend().requests_handled())?;
    served.with_sim(|sim| fill_stores(sim, readers, total, &account))??;
    let preload_s = preload.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let left = served.read(|sim| queued(sim, readers))?;
        if left == 0 {
            break;
        }
        if start.elapsed() > spec.timeout {
            server.shutdown().await.ok();
            bail!("{left} of {total} payments still stored after {:?}", spec.timeout);
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            let done = total - left;
            let rate = done as f64 / start.elapsed().as_secs_f64();
            eprintln!("bench serve: {done}/{total} forwarded ({rate:.0}/s)");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let forward_s = start.elapsed().as_secs_f64();
    served.quiesce().await;
    let Ledger { events, offline_ids, charges, requests: requests_after } = served.read(ledger)?;
    let (_, peak) = memory_kib();
    server.shutdown().await.context("shutting the server down")?;
    if charges != total || offline_ids != total {
        bail!(
            "the ledger holds {charges} offline charges for {offline_ids} distinct stored payments; \
             {total} were stored"
        );
    }
    Ok(ServeBench {
        readers,
        payments: total,
        disk: spec.disk,
        preload_s,
        forward_s,
        forwards_per_s: total as f64 / forward_s,
        backend_requests: requests_after - requests_before,
        rss_before_kib: rss_before,
        rss_idle_kib: rss_idle,
        idle_kib_per_reader: rss_idle.saturating_sub(rss_before) as f64 / readers as f64,
        peak_rss_kib: peak,
        events,
        offline_charges: charges,
    })
}

/// The report as a few lines.
pub fn table(bench: &ServeBench) -> String {
    format!(
        "{} smart readers, {} stored payments ({:?} disks)\n\
         forwarded through HTTP in {:.2} s: {:.0} forwards/s ({} backend requests)\n\
         memory: {:.1} KiB per idle reader (upper bound), peak RSS {:.1} MiB\n\
         ledger: {} offline charges, one per stored payment\n",
        bench.readers,
        bench.payments,
        bench.disk,
        bench.forward_s,
        bench.forwards_per_s,
        bench.backend_requests,
        bench.idle_kib_per_reader,
        bench.peak_rss_kib as f64 / 1024.0,
        bench.offline_charges,
    )
}
