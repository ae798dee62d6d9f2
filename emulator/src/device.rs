//! An offline device: the [`OfflineEngine`] of a POS (mobile readers) or of a
//! smart reader, wired to its durable [`Store`]. This is the thin shell that
//! performs the engine's store effects and hands its backend calls to
//! whoever routes them (the simulator, a test, later a server).
//!
//! It must not decide anything: rules, retries and outcomes are the engine's;
//! durability, recovery and encryption are the store's. What it adds is the
//! order that makes "stored" mean durable: a payment is acknowledged to the
//! engine only after `append` and `sync` both succeeded, and a forwarded mark
//! likewise. A device crash is modelled by dropping it ([`OfflineDevice::crash`])
//! and starting a new one on the same disk and keychain.

use crate::core::EventBody;
use crate::core::Millis;
use crate::core::TerminalErrorCode;
use crate::core::TestCards;
use crate::core::backend::{ApiCall, ApiReply};
use crate::core::offline::{
    Effect, Holder, Input, OfflineEngine, Session, Timings, UnreadableRecord,
};
use crate::core::{Defect, Defects};
use crate::disk::Disk;
use crate::store::{CorruptRecord, Keychain, Recovery, Store, StoreConfig, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// How long after a failed drop of a damaged record the device tries again.
const DISMISS_RETRY: Duration = Duration::from_secs(10);

/// How to start an engine: everything but the store.
#[derive(Clone, Debug)]
pub struct EngineSetup {
    /// POS or smart reader.
    pub holder: Holder,
    /// Unique per app run (drawn by the caller from its seeded generator).
    pub instance: String,
    /// What the SDK kept from earlier runs.
    pub session: Session,
    /// The issuer's tables.
    pub cards: Arc<TestCards>,
    /// Timeouts and back-off.
    pub timings: Timings,
    /// Defect profiles switched on (none for the reference behaviour).
    pub defects: Defects,
}

/// An engine and its store. See the module documentation.
#[derive(Debug)]
pub struct OfflineDevice<D: Disk, K: Keychain> {
    engine: OfflineEngine,
    store: Store<D, K>,
    calls: VecDeque<(u64, ApiCall)>,
    events: VecDeque<(Millis, EventBody)>,
    /// Damaged records found at start-up whose drop failed, and when to try
    /// again: each is reported once its drop is durable.
    undismissed: Vec<CorruptRecord>,
    retry_at: Option<Millis>,
}

impl<D: Disk, K: Keychain> OfflineDevice<D, K> {
    /// Opens the store and starts the engine with what it recovered. Fails
    /// only if the store cannot be opened (keys locked, unknown format); the
    /// caller reports that and tries again later, nothing is lost.
    pub fn start(
        now: Millis,
        setup: EngineSetup,
        disk: D,
        keys: K,
        config: StoreConfig,
    ) -> Result<(Self, Recovery), StoreError> {
        let mut disk = disk;
        if setup.defects.has(Defect::StoreLostOnUpgrade) && holds_legacy_store(&disk) {
            // Defect (android-731): the new version cannot read the old
            // tables, so it drops them and starts empty.
            let _ = disk.remove(crate::store::LOG_FILE);
        }
        let (store, recovery) = Store::open(disk, keys, config)?;
        let engine = OfflineEngine::new(
            setup.holder,
            setup.instance,
            setup.session,
            setup.cards,
            setup.timings,
        )
        .with_defects(setup.defects);
        let mut device = OfflineDevice {
            engine,
            store,
            calls: VecDeque::new(),
            events: VecDeque::new(),
            undismissed: Vec::new(),
            retry_at: None,
        };
        let pending = device.store.pending().cloned().collect();
        // Each damaged record is dropped (by its position, which needs no
        // possibly garbled id) *before* the app hears of it, and only a
        // record whose drop is durable is reported: a crash in between
        // reports it again at the next start instead of twice (I3), and a
        // drop that fails is tried again while the app runs (and at the
        // next start), and the record reported once it succeeds, never lost.
        device.undismissed.clone_from(&recovery.corrupt);
        let unreadable = device.dismiss(now);
        device.handle(now, Input::Restored { pending, unreadable });
        Ok((device, recovery))
    }

    /// Drops every damaged record still waiting; returns those dropped, to
    /// report. Those that fail wait [`DISMISS_RETRY`] for the next try.
    fn dismiss(&mut self, now: Millis) -> Vec<UnreadableRecord> {
        let mut dropped = Vec::new();
        let mut waiting = Vec::new();
        for record in std::mem::take(&mut self.undismissed) {
            match self.store.dismiss_corrupt(record.offset) {
                Ok(true) => dropped.push(UnreadableRecord {
                    offline_id: record.offline_id.clone(),
                    amount: record.amount,
                    reason: format!("{:?}", record.reason),
                }),
                // Gone already (nothing to report twice).
                Ok(false) => {}
                Err(_) => waiting.push(record),
            }
        }
        self.retry_at = (!waiting.is_empty()).then(|| now + DISMISS_RETRY);
        self.undismissed = waiting;
        dropped
    }

    /// Takes one input and performs the store work it causes.
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.engine.handle(now, input);
        self.perform(now);
    }

    /// Fires the engine's deadlines up to `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.retry_at.is_some_and(|at| at <= now) {
            let records = self.dismiss(now);
            if !records.is_empty() {
                self.engine.handle(now, Input::Unreadable { records });
            }
        }
        self.engine.handle_timeout(now);
        self.perform(now);
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.engine.poll_timeout().into_iter().chain(self.retry_at).min()
    }

    /// The next backend call to route; answer it with [`Self::reply`].
    pub fn poll_call(&mut self) -> Option<(u64, ApiCall)> {
        self.calls.pop_front()
    }

    /// The backend answered `call`.
    pub fn reply(&mut self, now: Millis, call: u64, reply: ApiReply) {
        self.handle(now, Input::ApiReplied { call, reply });
    }

    /// The next history event.
    pub fn poll_event(&mut self) -> Option<(Millis, EventBody)> {
        self.events.pop_front()
    }

    /// The engine, to read its status and queue.
    pub fn engine(&self) -> &OfflineEngine {
        &self.engine
    }

    /// The store, to read what is durable.
    pub fn store(&self) -> &Store<D, K> {
        &self.store
    }

    /// The device stops without warning (power loss, app killed): whatever
    /// the store had not synced is the disk's to lose. Returns the disk, the
    /// keychain and the SDK's session for the next start.
    pub fn crash(self) -> (D, K, Session) {
        let session = self.engine.session().clone();
        let (disk, keys) = self.store.into_parts();
        (disk, keys, session)
    }

    fn perform(&mut self, now: Millis) {
        loop {
            while let Some(event) = self.engine.poll_event() {
                self.events.push_back(event);
            }
            let Some(effect) = self.engine.poll_effect() else { return };
            let answer = match effect {
                Effect::Call { call, request } => {
                    self.calls.push_back((call, request));
                    continue;
                }
                Effect::Persist { payment } => {
                    let offline_id = payment.offline_id.clone();
                    match self.store.append(&payment).and_then(|()| self.store.sync()) {
                        Ok(()) => Input::Persisted { offline_id },
                        Err(error) => {
                            Input::PersistFailed { offline_id, code: persist_code(&error) }
                        }
                    }
                }
                Effect::MarkForwarded { offline_id } => {
                    match self.store.mark_forwarded(&offline_id).and_then(|()| self.store.sync()) {
                        Ok(()) => Input::MarkedForwarded { offline_id },
                        // Already gone from the store (its damaged forwarded
                        // mark brought it back at start-up, and the backend
                        // replayed its answer): the mark holds.
                        Err(StoreError::UnknownPayment(_)) => Input::MarkedForwarded { offline_id },
                        Err(_) => Input::MarkFailed { offline_id },
                    }
                }
            };
            self.engine.handle(now, answer);
        }
    }
}

/// Whether the disk holds a store in the old format (version 1).
fn holds_legacy_store<D: Disk>(disk: &D) -> bool {
    disk.read(crate::store::LOG_FILE)
        .ok()
        .and_then(|bytes| crate::store::codec::decode_header(&bytes).ok())
        .is_some_and(|version| version == crate::store::legacy::VERSION)
}

/// The SDK code a store refusal surfaces as. Full disk and record cap are
/// `OFFLINE_PAYMENTS_DATABASE_TOO_LARGE`, locked keys
/// `OFFLINE_ENCRYPTION_KEYS_UNAVAILABLE`; any other storage failure has no
/// documented code and is reported as a full database, the nearest the app
/// can act on (free space, forward first).
fn persist_code(error: &StoreError) -> TerminalErrorCode {
    error.code().unwrap_or(TerminalErrorCode::OfflinePaymentsDatabaseTooLarge)
}
