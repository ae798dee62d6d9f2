//! The soak's figures: a sampler thread reads the serving process's
//! resident memory and open descriptors from `/proc` and the rig's stored
//! queue from the control API once a second; [`Judgement`] compares the
//! first tenth of the run after the warm-up with the last.

use super::child::{self, ServeChild};
use super::load::Totals;
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One sample.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Seconds since the soak started.
    pub t_s: f64,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// Entries of `/proc/PID/fd`.
    pub fds: usize,
    /// Stored payments waiting over the rig (`None` while no rig runs:
    /// between a finish and the next start).
    pub queued: Option<u64>,
}

/// The sampler thread.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts sampling `serve` now, then every second.
    pub fn start(serve: &ServeChild) -> anyhow::Result<Sampler> {
        let (pid, addr) = (serve.pid(), serve.addr());
        child::rss_kib(pid)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            let mut next = start;
            while !stopped.load(Ordering::SeqCst) {
                if let Some(sample) = sample(pid, addr, start) {
                    samples.push(sample);
                }
                next += Duration::from_secs(1);
                while Instant::now() < next && !stopped.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            samples
        });
        Ok(Sampler { stop, thread })
    }

    /// Stops and returns the samples.
    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

/// Memory and descriptors first (before this sampler's own connection),
/// then the queue.
fn sample(pid: u32, addr: SocketAddr, start: Instant) -> Option<Sample> {
    let t_s = start.elapsed().as_secs_f64();
    let rss_kib = child::rss_kib(pid).ok()?;
    let fds = child::open_fds(pid).ok()?;
    let queued = child::http(addr, "GET", "/_readerlab/readers", None)
        .ok()
        .filter(|(status, _)| *status == 200)
        .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .map(|v| {
            v["readers"].as_array().into_iter().flatten().filter_map(|r| r["queued"].as_u64()).sum()
        });
    Some(Sample { t_s, rss_kib, fds, queued })
}

/// First against last, and the verdict.
#[derive(Debug, Serialize)]
pub struct Judgement {
    /// Samples judged (after the warm-up).
    pub judged: usize,
    /// Median `VmRSS` of the first and the last tenth of the judged samples, KiB.
    pub rss_first_kib: u64,
    pub rss_last_kib: u64,
    /// The bound on `rss_last_kib - rss_first_kib`, KiB.
    pub rss_bound_kib: u64,
    /// Least-squares slope of `VmRSS` over the judged samples, KiB per minute.
    pub rss_slope_kib_per_min: f64,
    /// Highest `VmRSS` of any sample, KiB.
    pub rss_peak_kib: u64,
    /// Open descriptors: the most of any sample of the first tenth, and
    /// the fewest of any sample of the last tenth (connections come and go
    /// under load; a leak raises even the fewest).
    pub fds_first: usize,
    pub fds_last: usize,
    /// Median stored queue of the first and the last tenth, and its highest.
    pub queued_first: u64,
    pub queued_last: u64,
    pub queued_peak: u64,
    /// What broke, if anything.
    pub failures: Vec<String>,
    /// Memory and descriptors flat, every finished rig's history holding.
    pub holds: bool,
}

fn median<T: Ord + Copy + Default>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx).powi(2)));
    if den == 0.0 { 0.0 } else { num / den }
}

impl Judgement {
    /// Judges the samples: memory may grow by at most `rss_bound_kib`
    /// (medians of the first and last tenth after the warm-up), descriptors
    /// not at all (the fewest of the last tenth against the most of the
    /// first), and every finished rig's history must hold. The warm-up
    /// (allocator arenas and connection pools filling) is the first rig and
    /// its finish, `warm_up`, but at most a third of the run; its samples
    /// are shown, not judged.
    pub fn of(
        samples: &[Sample],
        warm_up: Duration,
        rss_bound_kib: u64,
        totals: &Totals,
    ) -> Judgement {
        let end = samples.last().map_or(0.0, |s| s.t_s);
        let warm_up = warm_up.as_secs_f64().min(end / 3.0);
        let judged: Vec<&Sample> = samples.iter().filter(|s| s.t_s >= warm_up).collect();
        let tenth = (judged.len() / 10).max(3).min(judged.len());
        let (first, last) = (&judged[..tenth], &judged[judged.len() - tenth..]);
        let rss = |w: &[&Sample]| median(w.iter().map(|s| s.rss_kib).collect());
        let most_fds = |w: &[&Sample]| w.iter().map(|s| s.fds).max().unwrap_or(0);
        let fewest_fds = |w: &[&Sample]| w.iter().map(|s| s.fds).min().unwrap_or(0);
        let queued = |w: &[&Sample]| median(w.iter().filter_map(|s| s.queued).collect());
        let points: Vec<(f64, f64)> = judged.iter().map(|s| (s.t_s, s.rss_kib as f64)).collect();
        let mut j = Judgement {
            judged: judged.len(),
            rss_first_kib: rss(first),
            rss_last_kib: rss(last),
            rss_bound_kib,
            rss_slope_kib_per_min: slope(&points) * 60.0,
            rss_peak_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
            fds_first: most_fds(first),
            fds_last: fewest_fds(last),
            queued_first: queued(first),
            queued_last: queued(last),
            queued_peak: samples.iter().filter_map(|s| s.queued).max().unwrap_or(0),
            failures: Vec::new(),
            holds: false,
        };
        if judged.len() < 3 {
            j.failures.push(format!("only {} samples after the warm-up", judged.len()));
        }
        let grew = j.rss_last_kib.saturating_sub(j.rss_first_kib);
        if grew > rss_bound_kib {
            j.failures.push(format!("resident memory grew {grew} KiB (bound {rss_bound_kib} KiB)"));
        }
        if j.fds_last > j.fds_first {
            j.failures
                .push(format!("open descriptors grew from {} to {}", j.fds_first, j.fds_last));
        }
        if totals.violations > 0 {
            j.failures
                .push(format!("{} invariant violation(s) in finished rigs", totals.violations));
        }
        j.holds = j.failures.is_empty();
        j
    }
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        writeln!(
            f,
            "VmRSS  first {:.1} MiB, last {:.1} MiB ({:+.1} MiB, bound +{:.0} MiB), slope {:+.1} KiB/min, peak {:.1} MiB",
            mib(self.rss_first_kib),
            mib(self.rss_last_kib),
            (self.rss_last_kib as f64 - self.rss_first_kib as f64) / 1024.0,
            mib(self.rss_bound_kib),
            self.rss_slope_kib_per_min,
            mib(self.rss_peak_kib)
        )?;
        writeln!(f, "fds    first {}, last {} (may not grow)", self.fds_first, self.fds_last)?;
        writeln!(
            f,
            "queued first {}, last {}, peak {} (stored payments waiting)",
            self.queued_first, self.queued_last, self.queued_peak
        )?;
        writeln!(
            f,
            "({} samples judged: the first tenth after the warm-up against the last)",
            self.judged
        )?;
        if self.holds {
            writeln!(
                f,
                "soak holds: memory and descriptors flat, every finished rig's history holds"
            )
        } else {
            writeln!(f, "soak FAILED: {}", self.failures.join("; "))
        }
    }
}

/// The samples as a table, thinned to about 60 rows for long runs (the
/// JSON has every one).
pub fn table(samples: &[Sample]) -> String {
    let every = samples.len().div_ceil(60).max(1);
    let mut out = format!("{:>7}  {:>9}  {:>4}  {:>6}\n", "t (s)", "VmRSS MiB", "fds", "queued");
    for (i, s) in samples.iter().enumerate() {
        if i % every != 0 && i + 1 != samples.len() {
            continue;
        }
        let queued = s.queued.map_or("-".to_owned(), |q| q.to_string());
        out.push_str(&format!(
            "{:>7.1}  {:>9.1}  {:>4}  {:>6}\n",
            s.t_s,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            queued
        ));
    }
    out.pop();
    out
}
