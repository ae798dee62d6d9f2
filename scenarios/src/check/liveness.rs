//! I4, liveness: once every link is up and stays up for the drain window,
//! a holder's queue of stored payments moves.
//!
//! The rig is *quiet* while no sustained fault is active (a `fault.injected`
//! with `sustained: true` until its `fault.cleared`) and no reader is off or
//! rebooting; a *quiet stretch* starts at the last disturbance (any `fault`
//! event, `backend.fault.fired`, a reader's power or reboot event). Within a
//! stretch, a holder whose queue is non-empty for a whole drain window with
//! no outcome at all breaks I4.
//!
//! The reading is "progress", not "empty": forwarding is serial (one upload
//! in flight, oldest first), so a thousand queued payments cannot all be
//! forwarded in 60 s, and demanding that would blame the rig's size rather
//! than the device. A window that would end after the history's last event
//! is not judged: a history that stops early proves nothing. This file must
//! not report a queue its holder says is empty: those payments are lost, and
//! that is I1's finding.

use super::names;
use super::report::Finding;
use readerlab_emulator::core::FaultKind;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::{Event, EventBody, Part};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// One holder's queue as the history shows it.
#[derive(Debug, Default)]
struct Queue<'h> {
    /// Stored payments without an outcome, by the position of their stored
    /// event: the first is the oldest.
    waiting: BTreeMap<usize, &'h str>,
    /// When `waiting` last became non-empty.
    waiting_since: Millis,
    /// The holder's last outcome: the last time its queue moved.
    moved_at: Option<Millis>,
    /// Position and count of its last `offline.status.changed`.
    status: Option<(usize, u32)>,
    /// When the holder's own count last went from zero to more: before
    /// that it said its queue was empty, so a window cannot start earlier
    /// (payments it forgot are I1's, not a stalled queue).
    busy_since: Millis,
    /// Already reported in the current stretch (once is enough).
    reported: bool,
}

impl Queue<'_> {
    /// How many payments the queue is judged on: those the history says are
    /// waiting, but no more than the holder itself says it holds.
    fn judged(&self) -> usize {
        let held = self.status.map_or(usize::MAX, |(_, count)| count as usize);
        self.waiting.len().min(held)
    }
}

/// A quiet stretch: where it started.
#[derive(Clone, Copy, Debug)]
struct Stretch {
    at: usize,
    t: Millis,
}

/// The walk over the history.
#[derive(Debug)]
struct Walk<'h> {
    window: Duration,
    queues: BTreeMap<&'h Part, Queue<'h>>,
    /// Which holder has each waiting payment, and where it was stored.
    waiting: HashMap<&'h str, (&'h Part, usize)>,
    /// Sustained faults in force, counted per kind and target.
    sustained: BTreeMap<(FaultKind, &'h str), usize>,
    /// Readers off or rebooting.
    down: BTreeSet<&'h Part>,
    /// The current quiet stretch; `None` while something is broken.
    stretch: Option<Stretch>,
}

pub(super) fn check(history: &[Event], window: Duration, found: &mut Vec<Finding>) {
    let Some(last) = history.last() else { return };
    let mut walk = Walk {
        window,
        queues: BTreeMap::new(),
        waiting: HashMap::new(),
        sustained: BTreeMap::new(),
        down: BTreeSet::new(),
        // Nothing is broken until the history says so.
        stretch: Some(Stretch { at: 0, t: history[0].t_ms }),
    };
    for (at, event) in history.iter().enumerate() {
        // A window ending at this very instant is not judged yet: an outcome
        // at the same millisecond still counts as progress within it.
        walk.judge(|deadline| deadline < event.t_ms, found);
        walk.apply(at, event);
    }
    walk.judge(|deadline| deadline <= last.t_ms, found);
}

impl<'h> Walk<'h> {
    /// Reports every queue whose window, measured inside the current
    /// stretch, ended (`ended(deadline)`) without an outcome.
    fn judge(&mut self, ended: impl Fn(Millis) -> bool, found: &mut Vec<Finding>) {
        let Some(stretch) = self.stretch else { return };
        for (holder, queue) in &mut self.queues {
            let judged = queue.judged();
            if queue.reported || judged == 0 {
                continue;
            }
            let from = stretch
                .t
                .max(queue.waiting_since)
                .max(queue.moved_at.unwrap_or_default())
                .max(queue.busy_since);
            let deadline = from + self.window;
            if !ended(deadline) {
                continue;
            }
            queue.reported = true;
            let Some((&oldest_at, &oldest)) = queue.waiting.first_key_value() else { continue };
            let message = format!(
                "{holder}'s queue of {} did not move for {} while every link was up \
                 (from {}ms to {}ms); the oldest waiting is {oldest}",
                names::count(judged, "payment"),
                names::duration(self.window),
                from.0,
                deadline.0
            );
            let status = queue.status.map(|(at, _)| at);
            let excerpt = [stretch.at, oldest_at].into_iter().chain(status);
            found.push(Finding::new(Invariant::I4, Some(oldest), message).with(excerpt));
        }
    }

    fn apply(&mut self, at: usize, event: &'h Event) {
        let part = &event.part;
        let t = event.t_ms;
        match &event.body {
            EventBody::FaultInjected { fault, target, sustained: true, .. } => {
                *self.sustained.entry((*fault, target)).or_default() += 1;
            }
            EventBody::FaultCleared { fault, target } => {
                let key = (*fault, target.as_str());
                if let Some(active) = self.sustained.get_mut(&key) {
                    *active -= 1;
                    if *active == 0 {
                        self.sustained.remove(&key);
                    }
                }
            }
            EventBody::RebootStarted { .. } | EventBody::PoweredOff { .. } => {
                self.down.insert(part);
            }
            EventBody::RebootFinished { .. } | EventBody::PoweredOn => {
                self.down.remove(part);
            }
            EventBody::OfflinePaymentStored { offline_id, .. } => {
                let id = offline_id.as_str();
                if !self.waiting.contains_key(id) {
                    self.waiting.insert(id, (part, at));
                    let queue = self.queues.entry(part).or_default();
                    if queue.waiting.is_empty() {
                        queue.waiting_since = t;
                    }
                    queue.waiting.insert(at, id);
                }
            }
            EventBody::PaymentForwarded { offline_id, .. } => {
                self.moved(part, offline_id.as_str(), t);
            }
            EventBody::PaymentUnreadable { offline_id: Some(offline_id), .. } => {
                self.moved(part, offline_id.as_str(), t);
            }
            EventBody::PaymentUnreadable { offline_id: None, .. } => {
                self.queues.entry(part).or_default().moved_at = Some(t);
            }
            EventBody::OfflineStatusChanged { status } => {
                let queue = self.queues.entry(part).or_default();
                let was_empty = queue.status.is_none_or(|(_, count)| count == 0);
                if was_empty && status.count > 0 {
                    queue.busy_since = t;
                }
                queue.status = Some((at, status.count));
            }
            _ => {}
        }
        if disturbs(part, &event.body) {
            let quiet = self.sustained.is_empty() && self.down.is_empty();
            self.stretch = quiet.then_some(Stretch { at, t });
            for queue in self.queues.values_mut() {
                queue.reported = false;
            }
        }
    }

    /// An outcome: the payment leaves its holder's queue, and the part that
    /// reported it made progress.
    fn moved(&mut self, part: &'h Part, offline_id: &str, t: Millis) {
        if let Some((holder, stored_at)) = self.waiting.remove(offline_id)
            && let Some(queue) = self.queues.get_mut(holder)
        {
            queue.waiting.remove(&stored_at);
        }
        self.queues.entry(part).or_default().moved_at = Some(t);
    }
}

/// Whether an event breaks the quiet: any fault event, a backend fault
/// taking effect, a reader losing or regaining power or rebooting.
fn disturbs(part: &Part, body: &EventBody) -> bool {
    part.0 == "fault"
        || matches!(
            body,
            EventBody::BackendFaultFired { .. }
                | EventBody::RebootStarted { .. }
                | EventBody::RebootFinished { .. }
                | EventBody::PoweredOff { .. }
                | EventBody::PoweredOn
        )
}
