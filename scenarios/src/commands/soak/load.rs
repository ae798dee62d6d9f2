//! The soak's load: customers, faults and rig restarts through the control
//! API of a served rig on a virtual clock, `--rate` steps a second (or as
//! fast as the server answers, when that is slower), until the deadline.
//! Every call has the child's deadline ([`super::child::CALL_TIMEOUT`]).

use super::Args;
use super::child::ServeChild;
use crate::commands::serve::{DEFAULT_RIG, parse_rig};
use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};

/// Cards of offline brands the issuer approves (contactless on every model),
/// which the soak and the crash-and-restart test pay with.
pub const CARDS: [&str; 5] = [
    "4242424242424242",
    "5555555555554444",
    "4000056655665556",
    "378282246310005",
    "6011111111111117",
];

/// What the load did.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    /// Customers queued at the POS.
    pub payments: u64,
    /// Faults injected (link drops, lost answers).
    pub faults: u64,
    /// Reader reboots.
    pub reboots: u64,
    /// Rigs finished and their histories judged by the checker.
    pub rigs_judged: u64,
    /// Events in those histories.
    pub events_judged: u64,
    /// Invariant violations found in them.
    pub violations: u64,
    /// The first one, for the report.
    pub first_violation: Option<String>,
    /// Virtual time the rigs ran, in all (ms).
    pub virtual_ms: u64,
}

/// splitmix64, so the load's choices follow `--seed`.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// The rig running: its readers' serials.
struct Rig {
    readers: Vec<String>,
}

fn rig(serve: &ServeChild) -> anyhow::Result<Rig> {
    let readers = serve.get("/readers")?;
    let readers: Vec<String> = readers["readers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["serial"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(!readers.is_empty(), "the served rig has no reader");
    Ok(Rig { readers })
}

/// Drives the load until `until`, `args.rate` steps a second (fewer if
/// the server is slower), restarting the rig every `args.restart_every`
/// seconds; the rig running at the end is finished and judged too.
pub fn run(serve: &ServeChild, args: &Args, until: Instant) -> anyhow::Result<Totals> {
    // Rigs the soak starts are the default rig (two S700s, a WisePOS E, an
    // M2) with a seed of their own.
    let spec = serde_json::to_value(parse_rig(DEFAULT_RIG, "fixtures/rigs/counter.toml")?)?;
    let mut rng = Rng(args.seed);
    let mut totals = Totals::default();
    let mut generation = 0u64;
    let every = Duration::from_secs(args.restart_every);
    while Instant::now() < until {
        let restart_at = (Instant::now() + every).min(until);
        let rig = rig(serve)?;
        let mut n = 0u64;
        let pace = Duration::from_secs(1) / args.rate;
        let mut next = Instant::now();
        while Instant::now() < restart_at {
            step(serve, &rig, &mut rng, generation, &mut n, &mut totals)?;
            next += pace;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait.min(restart_at.saturating_duration_since(Instant::now())));
            }
        }
        finish_and_judge(serve, &mut totals)?;
        generation += 1;
        if Instant::now() < until {
            let mut spec = spec.clone();
            spec["seed"] = json!(args.seed.wrapping_add(generation));
            serve.post("/rig", &spec).context("starting a new rig")?;
        }
    }
    Ok(totals)
}

/// One step of load: a few customers, sometimes a fault or a reboot, then
/// five seconds of rig time.
fn step(
    serve: &ServeChild,
    rig: &Rig,
    rng: &mut Rng,
    generation: u64,
    n: &mut u64,
    totals: &mut Totals,
) -> anyhow::Result<()> {
    for _ in 0..1 + rng.below(3) {
        let behavior = ["PREFER_ONLINE", "PREFER_ONLINE", "FORCE_OFFLINE"][rng.below(3) as usize];
        // Endings 10..49: no test amount that declines.
        let amount = 1_000 + 100 * rng.below(50) + 10 + rng.below(40);
        let body = json!({
            "name": format!("g{generation}_p{n}"), "at": 0,
            "amount": {"amount": amount, "currency": "usd"},
            "card": CARDS[rng.below(CARDS.len() as u64) as usize], "entry_mode": "contactless",
            "behavior": behavior, "reader": rng.below(rig.readers.len() as u64),
        });
        *n += 1;
        serve.post("/pos/payments", &body)?;
        totals.payments += 1;
    }
    match rng.below(10) {
        0..=2 => {
            let link = match rng.below(4) {
                3 => json!("PosBackend"),
                i => json!({"ReaderBackend": i}),
            };
            let fault = json!({"fault": {"link_down": {"link": link}}, "holds_for_ms": 1_000 + rng.below(40_000)});
            serve.post("/faults", &fault)?;
            totals.faults += 1;
        }
        3 => {
            let link = json!({"ReaderBackend": rng.below(3)});
            let lost =
                json!({"response_lost": {"link": link, "request": null, "nth": 1 + rng.below(3)}});
            serve.post("/faults", &json!({"fault": lost}))?;
            totals.faults += 1;
        }
        4 => {
            let serial = &rig.readers[rng.below(rig.readers.len() as u64) as usize];
            serve.post(&format!("/readers/{serial}/reboot"), &json!({}))?;
            totals.reboots += 1;
        }
        _ => {}
    }
    serve.post("/clock/advance", &json!({"by_ms": 5_000}))?;
    Ok(())
}

/// Finishes the running rig (its queues drain) and judges its history.
fn finish_and_judge(serve: &ServeChild, totals: &mut Totals) -> anyhow::Result<()> {
    let finished = serve.post("/rig/finish", &json!({"cap_ms": 21_600_000}))?;
    totals.virtual_ms += finished["virtual_time_ms"].as_u64().unwrap_or(0);
    let bytes = serve.call("GET", "/history", None)?;
    let events = readerlab_emulator::history::read_history(&bytes[..])
        .context("the finished rig's history")?;
    let report = crate::check::check(&events);
    totals.rigs_judged += 1;
    totals.events_judged += events.len() as u64;
    totals.violations += report.violations.len() as u64;
    if totals.first_violation.is_none()
        && let Some(v) = report.violations.first()
    {
        totals.first_violation = Some(format!("{:?}: {}", v.invariant, v.message));
    }
    Ok(())
}
