//! The checker's answer: which invariants broke, for which payment, with the
//! few events that show it, and counts that say what the history held.
//!
//! Every judging module hands in [`Finding`]s (event positions, not events);
//! this file turns them into a [`Report`]: history order, a cap per invariant,
//! excerpts cloned from the history. It must not judge anything itself, and
//! whatever it prints or serializes must come out in the same order for the
//! same history.

use readerlab_emulator::core::Event;
use readerlab_emulator::core::Invariant;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// At most this many violations of one invariant are reported; the rest are
/// counted. A broken forwarder breaks the same rule for every payment, and
/// the first few say everything the next thousand would.
pub const MAX_PER_INVARIANT: usize = 5;

/// One broken invariant, as a judging module found it: positions in the
/// history, so nothing is cloned until the report is built.
#[derive(Debug)]
pub(super) struct Finding {
    pub invariant: Invariant,
    pub payment: Option<String>,
    pub message: String,
    /// Positions in the history slice, in any order, duplicates allowed.
    pub excerpt: Vec<usize>,
    /// Where in the history the finding sorts, when its excerpt is empty.
    pub anchor: Option<usize>,
}

impl Finding {
    pub fn new(invariant: Invariant, payment: Option<&str>, message: String) -> Finding {
        Finding {
            invariant,
            payment: payment.map(str::to_owned),
            message,
            excerpt: Vec::new(),
            anchor: None,
        }
    }

    /// Sorts the finding at this position although it shows no event.
    pub fn at(mut self, position: usize) -> Finding {
        self.anchor = Some(position);
        self
    }

    /// Adds the events at these positions to the excerpt.
    pub fn with(mut self, positions: impl IntoIterator<Item = usize>) -> Finding {
        self.excerpt.extend(positions);
        self
    }
}

/// What the history held, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events in the history.
    pub events: usize,
    /// `offline.payment.stored` events.
    pub stored: usize,
    /// `offline.payment.forwarded` events.
    pub forwarded: usize,
    /// `offline.payment.unreadable` events.
    pub unreadable: usize,
    /// `backend.charge.succeeded` events.
    pub charged: usize,
    /// `payment.succeeded` events: payments confirmed online.
    pub paid_online: usize,
    /// Payments every holder said it still held at the end (the sum of each
    /// holder's last `offline.status.changed` count).
    pub still_held: u64,
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The payment it is about: an offline id, an app payment name, or an
    /// intent id; `None` when it is about a device or the whole history.
    pub payment: Option<String>,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The few events that show it, in history order.
    pub excerpt: Vec<Event>,
}

/// The checker's verdict on one history.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Violations in invariant order, then history order; at most
    /// [`MAX_PER_INVARIANT`] per invariant.
    pub violations: Vec<Violation>,
    /// Violations found beyond the cap, per invariant.
    pub omitted: BTreeMap<Invariant, usize>,
    /// What the history held.
    pub stats: Stats,
    /// Payments whose outcome an outside POS reported as `unknown`: no
    /// invariant is broken by them, but the verdict cannot be `valid`.
    pub unknown: Vec<String>,
}

impl Report {
    /// Builds the report: sorts findings by invariant and first event, keeps
    /// the first few of each invariant, and clones their excerpts.
    pub(super) fn assemble(history: &[Event], mut findings: Vec<Finding>, stats: Stats) -> Report {
        for finding in &mut findings {
            finding.excerpt.sort_unstable();
            finding.excerpt.dedup();
        }
        // Invariant, then where in the history it shows. The sort is stable,
        // so two findings on one event keep the order the modules emitted
        // them in, which depends on nothing but the history.
        findings.sort_by_key(|f| (f.invariant, f.anchor.or(f.excerpt.first().copied())));
        let mut shown: BTreeMap<Invariant, usize> = BTreeMap::new();
        let mut omitted: BTreeMap<Invariant, usize> = BTreeMap::new();
        let mut violations = Vec::new();
        for finding in findings {
            let count = shown.entry(finding.invariant).or_default();
            if *count == MAX_PER_INVARIANT {
                *omitted.entry(finding.invariant).or_default() += 1;
                continue;
            }
            *count += 1;
            let excerpt = finding.excerpt.iter().filter_map(|&i| history.get(i).cloned()).collect();
            violations.push(Violation {
                invariant: finding.invariant,
                payment: finding.payment,
                message: finding.message,
                excerpt,
            });
        }
        Report { violations, omitted, stats, unknown: Vec::new() }
    }

    /// Whether every invariant holds.
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }

    /// The invariants that broke.
    pub fn violated(&self) -> BTreeSet<Invariant> {
        self.violations.iter().map(|v| v.invariant).collect()
    }

    /// The one-line summary: counts, then the verdict.
    pub fn summary(&self) -> String {
        let Stats { events, stored, forwarded, .. } = self.stats;
        let counts = format!("{events} events, {stored} stored, {forwarded} forwarded");
        if self.holds() && !self.unknown.is_empty() {
            return format!(
                "{counts}: all invariants hold; {} outcome(s) unknown ({})",
                self.unknown.len(),
                self.unknown.join(", ")
            );
        }
        if self.holds() {
            return format!("{counts}: all invariants hold");
        }
        let total = self.violations.len() + self.omitted.values().sum::<usize>();
        let names: Vec<String> = self.violated().iter().map(ToString::to_string).collect();
        let noun = if total == 1 { "violation" } else { "violations" };
        format!("{counts}: {total} {noun} of {}", names.join(", "))
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.payment {
            Some(payment) => {
                writeln!(f, "{} violated for {payment}: {}", self.invariant, self.message)?;
            }
            None => writeln!(f, "{} violated: {}", self.invariant, self.message)?,
        }
        for event in &self.excerpt {
            writeln!(f, "    {}", excerpt_line(event))?;
        }
        Ok(())
    }
}

/// One event as an excerpt line: `seq t_ms part event {fields}`, the fields
/// as compact JSON in the history's own order, so a reader can grep the
/// history for them.
fn excerpt_line(event: &Event) -> String {
    let name = event.body.name();
    let head = format!("{:>5} {:>8}ms  {}  {name}", event.seq, event.t_ms.0, event.part);
    // The body serializes with its `event` tag first; what follows it is
    // the fields.
    let json = serde_json::to_string(&event.body).unwrap_or_default();
    let tag = format!("{{\"event\":{}", serde_json::Value::String(name));
    match json.strip_prefix(&tag).and_then(|rest| rest.strip_prefix(',')) {
        Some(fields) => format!("{head}  {{{fields}"),
        None => head,
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        for violation in &self.violations {
            writeln!(f)?;
            write!(f, "{violation}")?;
        }
        for (invariant, more) in &self.omitted {
            let noun = if *more == 1 { "violation" } else { "violations" };
            writeln!(f, "\nand {more} more {invariant:?} {noun}")?;
        }
        Ok(())
    }
}

/// `--json` output: the verdict first, so a script can read one field.
#[derive(Serialize)]
struct ReportJson<'a> {
    holds: bool,
    violated: BTreeSet<Invariant>,
    stats: &'a Stats,
    violations: &'a [Violation],
    omitted: &'a BTreeMap<Invariant, usize>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unknown: &'a [String],
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReportJson {
            holds: self.holds(),
            violated: self.violated(),
            stats: &self.stats,
            violations: &self.violations,
            omitted: &self.omitted,
            unknown: &self.unknown,
        }
        .serialize(serializer)
    }
}
