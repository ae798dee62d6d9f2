//! Running one case: the rig described and every operation performed
//! through the step definitions on a [`LabWorld`], exactly as
//! `readerlab run` would run the written scenario, then the rig finished
//! and the history judged by the checker.
//!
//! One guard is exploration's own: it does not wipe the app data of a
//! device that holds payments (or is taking one). That loss is certain and
//! documented (`features/faults/app_data_wiped.feature`: the checker
//! reports it as I1), so every such case would "fail" without telling
//! anything new; the operation is left out, as a step that did nothing is.
//!
//! A step that fails did nothing (a fault that would have no effect now,
//! such as damaging a record when nothing is stored, is refused before
//! anything changes); the case goes on without it and the written scenario
//! leaves it out. A panic anywhere is a finding of its own: the simulator
//! or a step crashed.

use super::schedule::{Case, Op, Who};
use crate::check::{Report, check};
use crate::rig::SimTarget;
use crate::run::quietly;
use crate::steps::{LabWorld, ScenarioSetup};
use readerlab_emulator::core::Defects;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::{Event, EventBody};
use readerlab_emulator::sim::Device;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The rig seed of every explored case: `readerlab run`'s default, so a
/// written scenario replays with no `--seed`.
pub const RIG_SEED: u64 = 1;

/// How a case ended.
#[derive(Debug)]
pub enum Verdict {
    /// Every invariant held.
    Holds,
    /// The checker rejected the history.
    Broken(Report),
    /// A step or the simulator panicked.
    Crashed(String),
}

/// What a failing case broke: shrinking keeps a smaller case only if it
/// breaks at least one of the same invariants (or crashes again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// These invariants.
    Broke(BTreeSet<Invariant>),
    /// A panic.
    Crash,
}

impl Failure {
    /// Whether `other` is the same kind of failure as this one.
    pub fn matches(&self, other: &Failure) -> bool {
        match (self, other) {
            (Failure::Broke(a), Failure::Broke(b)) => !a.is_disjoint(b),
            (Failure::Crash, Failure::Crash) => true,
            _ => false,
        }
    }
}

/// One case, run.
#[derive(Debug)]
pub struct CaseRun {
    /// The whole history.
    pub history: Vec<Event>,
    /// Operations whose step failed, and so did nothing, with why.
    pub inert: Vec<(usize, String)>,
    /// The judgement.
    pub verdict: Verdict,
}

impl CaseRun {
    /// What it broke, if anything.
    pub fn failure(&self) -> Option<Failure> {
        match &self.verdict {
            Verdict::Holds => None,
            Verdict::Broken(report) => Some(Failure::Broke(report.violated())),
            Verdict::Crashed(_) => Some(Failure::Crash),
        }
    }
}

/// Why a wipe was left out.
const WIPE_GUARD: &str = "exploration does not wipe a device that holds payments: that loss is \
                          certain (features/faults/app_data_wiped.feature)";

/// Whether `who` holds a stored payment without an outcome (forwarded,
/// declined or reported unreadable), or one it would store is still under
/// way, as the history shows it.
fn holds_payments(world: &LabWorld, who: Who) -> bool {
    let Ok(device) = world.device(who) else { return false };
    let part = world.part_of(device);
    let stored_here = |reader: usize| match device {
        Device::Pos => !world.stores_own(reader),
        Device::Reader(index) => index == reader,
    };
    let mut open: BTreeSet<&str> =
        world.payments.iter().filter(|(_, r)| stored_here(*r)).map(|(n, _)| n.as_str()).collect();
    let mut held: BTreeSet<&str> = BTreeSet::new();
    for event in world.events() {
        match &event.body {
            EventBody::OfflinePaymentStored { payment, offline_id, .. } => {
                open.remove(payment.as_str());
                if event.part.0 == part {
                    held.insert(offline_id.as_str());
                }
            }
            EventBody::SdkPaymentSucceeded { payment, .. }
            | EventBody::SdkPaymentDeclined { payment, .. }
            | EventBody::SdkPaymentFailed { payment, .. } => {
                open.remove(payment.as_str());
            }
            EventBody::PaymentForwarded { offline_id, .. }
            | EventBody::PaymentUnreadable { offline_id: Some(offline_id), .. } => {
                held.remove(offline_id.as_str());
            }
            _ => {}
        }
    }
    !open.is_empty() || !held.is_empty()
}

/// Runs `case` on the simulator with `defects` switched on.
pub fn run_case(case: &Case, defects: &Defects) -> CaseRun {
    let setup = ScenarioSetup {
        target: Arc::new(SimTarget),
        seed: RIG_SEED,
        defects: defects.clone(),
        source: None,
    };
    let mut world = LabWorld::with_setup(setup);
    let mut inert = Vec::new();
    let outcome = quietly(|| {
        catch_unwind(AssertUnwindSafe(|| {
            if let Err(message) = case.rig.apply(&mut world) {
                panic!("the rig cannot be described: {message}");
            }
            for (index, op) in case.ops.iter().enumerate() {
                if let Op::DataWiped { device } = op
                    && holds_payments(&world, *device)
                {
                    inert.push((index, WIPE_GUARD.to_owned()));
                    continue;
                }
                if let Err(why) = op.apply(&mut world) {
                    inert.push((index, why));
                }
            }
        }))
    });
    match outcome {
        Ok(()) => {
            let history = world.into_history();
            let report = check(&history);
            let verdict = if report.holds() { Verdict::Holds } else { Verdict::Broken(report) };
            CaseRun { history, inert, verdict }
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            CaseRun { history: world.events().to_vec(), inert, verdict: Verdict::Crashed(message) }
        }
    }
}
