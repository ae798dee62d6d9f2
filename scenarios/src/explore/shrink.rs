//! Shrinking a failing case to a small one that fails the same way.
//!
//! First proptest-state-machine's own shrinking walks the case's value
//! tree: it deletes operations from the back, simplifies each operation
//! (shorter waits, smaller amounts, simpler choices), then the rig, and
//! keeps only schedules its model calls valid. Its deletion pass runs once,
//! so a second phase here repeats, until nothing changes, the edits that
//! pass can miss: deleting the steps that did nothing, delta debugging's
//! contiguous chunks (halves down to pairs), any single operation, any two
//! operations (a fault and its clearing go together), merging adjacent
//! waits, and dropping each configuration line and extra reader of the
//! rig. The result is a local minimum: no single or double deletion of it
//! still fails. Every candidate is run and kept only if
//! it still breaks one of the invariants the original broke (or crashes
//! again, for a crash). Finally payments are renamed `p1`, `p2`, … in order.

use super::execute::{CaseRun, Failure, run_case};
use super::generate::{Model, next, valid};
use super::schedule::{Case, Op, RigPlan};
use proptest::strategy::ValueTree;
use readerlab_emulator::core::Defects;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

/// The most runs shrinking may take (a few seconds at worst).
pub const MAX_SHRINK_RUNS: u64 = 5_000;

/// A shrunk case.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Case,
    /// Its run.
    pub run: CaseRun,
    /// How many runs shrinking took.
    pub runs: u64,
}

/// The value a generated case's tree holds.
type Value = (Model, Vec<Op>, Option<Arc<AtomicUsize>>);

/// Shrinks `case` (the current value of `tree`), which failed with
/// `failure`.
pub fn shrink(
    tree: &mut impl ValueTree<Value = Value>,
    case: Case,
    run: CaseRun,
    failure: &Failure,
    defects: &Defects,
) -> Shrunk {
    let mut best = Shrunk { case, run, runs: 0 };
    let attempt = |candidate: &Case, best: &mut Shrunk| -> bool {
        best.runs += 1;
        let run = run_case(candidate, defects);
        if run.failure().is_some_and(|f| failure.matches(&f)) {
            best.case = candidate.clone();
            best.run = run;
            true
        } else {
            false
        }
    };

    // Phase 1: the value tree.
    if tree.simplify() {
        while best.runs < MAX_SHRINK_RUNS {
            let (model, ops, _) = tree.current();
            let candidate = Case { rig: model.rig, ops };
            let keep = attempt(&candidate, &mut best);
            let more = if keep { tree.simplify() } else { tree.complicate() };
            if !more {
                break;
            }
        }
    }

    // Phase 2: single edits until none helps.
    loop {
        let mut improved = false;
        for candidate in edits(&best) {
            if best.runs >= MAX_SHRINK_RUNS {
                break;
            }
            if is_valid(&candidate) && attempt(&candidate, &mut best) {
                improved = true;
                break;
            }
        }
        if !improved || best.runs >= MAX_SHRINK_RUNS {
            break;
        }
    }

    // Payments named in order; kept only if the renamed case still fails.
    let mut renamed = best.case.clone();
    renamed.renumber();
    if renamed != best.case {
        attempt(&renamed, &mut best);
    }
    best
}

/// Whether every operation makes sense where it stands.
pub fn is_valid(case: &Case) -> bool {
    let mut model = Model::new(case.rig.clone());
    for op in &case.ops {
        if !valid(&model, op) {
            return false;
        }
        model = next(model, op);
    }
    true
}

/// Each one-edit-smaller version of the case, the likeliest first: steps
/// that did nothing, then contiguous chunks (largest first), every single
/// deletion from the back, every pair, adjacent waits merged, then the
/// rig's extra lines.
fn edits(best: &Shrunk) -> Vec<Case> {
    let case = &best.case;
    let without = |index: usize| {
        let mut smaller = case.clone();
        smaller.ops.remove(index);
        smaller
    };
    let mut edits: Vec<Case> = best.run.inert.iter().rev().map(|(i, _)| without(*i)).collect();
    // Delta debugging's chunks: halves, then quarters, ... down to pairs,
    // each contiguous run of operations deleted at once.
    let n = case.ops.len();
    let mut chunk = n / 2;
    while chunk >= 2 {
        for start in (0..=n - chunk).rev().step_by(chunk) {
            let mut smaller = case.clone();
            smaller.ops.drain(start..start + chunk);
            edits.push(smaller);
        }
        chunk /= 2;
    }
    edits.extend((0..n).rev().map(without));
    // Every pair: a fault and the step that clears it are needed together
    // or not at all, and neither can go alone (a clear of a fault never
    // injected is not a valid schedule).
    for j in (1..n).rev() {
        for i in (0..j).rev() {
            let mut smaller = case.clone();
            smaller.ops.remove(j);
            smaller.ops.remove(i);
            edits.push(smaller);
        }
    }
    for index in 1..case.ops.len() {
        if let (Op::Pass { seconds: a }, Op::Pass { seconds: b }) =
            (&case.ops[index - 1], &case.ops[index])
        {
            let mut merged = without(index);
            merged.ops[index - 1] = Op::Pass { seconds: a + b };
            edits.push(merged);
        }
    }
    let rig = |change: fn(&mut RigPlan)| {
        let mut simpler = case.clone();
        change(&mut simpler.rig);
        simpler
    };
    let simpler_rigs = [
        rig(|r| r.usb = false),
        rig(|r| r.offline_disabled = false),
        rig(|r| r.max_per_payment = None),
        rig(|r| r.stored_limit = None),
        rig(|r| r.record_cap = None),
        rig(|r| r.behavior = None),
    ];
    edits.extend(simpler_rigs.into_iter().filter(|c| c.rig != case.rig));
    for index in (1..case.rig.readers.len()).rev() {
        let mut fewer = case.clone();
        fewer.rig.readers.remove(index);
        edits.push(fewer);
    }
    edits
}
