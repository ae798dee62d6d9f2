//! The durable offline store: keeps every [`StoredPayment`] the POS or the
//! smart reader confirmed offline, encrypted, until it has been forwarded.
//!
//! It is the medium layer over the [`Disk`] trait, outside the sans-IO core:
//! the core decides *that* a payment is stored or forwarded and emits that as
//! an effect; this module makes it durable. A payment is stored when
//! [`Store::sync`] has returned, not before: appends are buffered and one
//! sync commits them all (group commit; [`GroupCommit`] does it for threads).
//! On open it recovers from a crash (torn tail cut off, damaged records
//! reported by id and skipped), migrates older formats atomically, and never
//! resets a store it cannot read. It must not write a card number in clear,
//! reuse a nonce, or report a payment that was never appended.
//! The on-disk format is described in `docs/store.md`.

pub mod codec;
pub mod crypto;
mod error;
mod group;
pub mod legacy;
mod recover;

pub use crypto::{FileKeychain, KeyError, Keychain, SimKeychain, move_keychain};
pub use error::{CorruptReason, CorruptRecord, StoreError};
pub use group::{GroupCommit, GroupStats};

use crate::core::offline::{OfflineId, StoredPayment};
use crate::core::{Currency, Money};
use crate::disk::{Disk, temp_name};
use codec::{ClearHeader, RecordKind};
use std::collections::{BTreeMap, HashMap};

/// The log file's name in the store's directory.
pub const LOG_FILE: &str = "offline-payments.log";
/// The format version this build writes.
pub const CURRENT_VERSION: u16 = 2;

/// Limits and housekeeping. Every default is here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The record cap (`OFFLINE_PAYMENTS_DATABASE_TOO_LARGE`): how many
    /// payments may wait at once. Undocumented, so configurable; default none.
    pub max_records: Option<u32>,
    /// Compact after a sync once this many dead records (forwarded payments
    /// and their tombstones) are in the log; `None` only compacts on request.
    /// Default 1024.
    pub compact_after_dead: Option<u64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { max_records: None, compact_after_dead: Some(1024) }
    }
}

/// What opening the store found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Payments waiting to be forwarded.
    pub pending: usize,
    /// Damaged records, skipped; the POS must report each as failed.
    pub corrupt: Vec<CorruptRecord>,
    /// Bytes of a torn last write that were cut off (never acknowledged).
    pub torn_tail_bytes: u64,
    /// The format version migrated from, if the store was older.
    pub migrated_from: Option<u16>,
}

/// One thing in the log that compaction keeps: a payment still to forward,
/// or a damaged record still to be reported (until the app dismisses it with
/// [`Store::mark_forwarded`]).
#[derive(Debug)]
enum Entry {
    Pending { payment: StoredPayment, frame: Vec<u8> },
    Corrupt { record: CorruptRecord, bytes: Vec<u8> },
}

impl Entry {
    fn corrupt(record: CorruptRecord, bytes: &[u8]) -> Entry {
        Entry::Corrupt { record, bytes: bytes.to_vec() }
    }

    fn offline_id(&self) -> Option<&OfflineId> {
        match self {
            Entry::Pending { payment, .. } => Some(&payment.offline_id),
            Entry::Corrupt { record, .. } => record.offline_id.as_ref(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Entry::Pending { frame, .. } => frame,
            Entry::Corrupt { bytes, .. } => bytes,
        }
    }
}

/// How to undo a buffered change if its batch fails to commit.
#[derive(Debug)]
enum Undo {
    Appended(u64),
    Removed(u64, Box<Entry>),
}

/// The durable store of offline payments over a [`Disk`], with keys from a
/// [`Keychain`].
#[derive(Debug)]
pub struct Store<D: Disk, K: Keychain> {
    disk: D,
    keys: K,
    config: StoreConfig,
    epoch: u32,
    counter: u64,
    /// Length of the log up to the last committed record.
    committed_len: u64,
    /// A failed write may have left bytes past `committed_len`.
    tail_dirty: bool,
    entries: BTreeMap<u64, Entry>,
    by_id: HashMap<OfflineId, u64>,
    next_seq: u64,
    pending: usize,
    dead_records: u64,
    batch: Vec<u8>,
    undo: Vec<Undo>,
    /// `(pending, dead_records)` when the batch started.
    batch_start: Option<(usize, u64)>,
}

impl<D: Disk, K: Keychain> Store<D, K> {
    /// Opens the store on `disk`, creating it if there is none, recovering
    /// from a crash and migrating an older format.
    ///
    /// Fails with [`StoreError::KeysUnavailable`] while the keychain is
    /// locked, before touching the disk; with
    /// [`StoreError::UnsupportedVersion`] for a newer format and
    /// [`StoreError::NotAStore`] for a file it cannot read, leaving it as it
    /// is; with [`StoreError::Migration`] if an old store is damaged.
    pub fn open(
        mut disk: D,
        mut keys: K,
        config: StoreConfig,
    ) -> Result<(Self, Recovery), StoreError> {
        // The epoch goes first: every write of this session, migration and
        // compaction included, uses nonces no earlier session used.
        let epoch = keys.next_epoch()?;
        let key = keys.key()?;
        let temp = temp_name(LOG_FILE);
        if disk.exists(&temp)? {
            // A replace that crashed before its rename: the log is intact.
            disk.remove(&temp)?;
        }
        let mut store = Store {
            disk,
            keys,
            config,
            epoch,
            counter: 0,
            committed_len: 0,
            tail_dirty: false,
            entries: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 0,
            pending: 0,
            dead_records: 0,
            batch: Vec::new(),
            undo: Vec::new(),
            batch_start: None,
        };
        let mut recovery = Recovery::default();
        if !store.disk.exists(LOG_FILE)? {
            store.disk.replace(LOG_FILE, &codec::encode_header(CURRENT_VERSION))?;
        }
        let mut bytes = store.disk.read(LOG_FILE)?;
        let version = codec::decode_header(&bytes).map_err(|e| StoreError::NotAStore {
            file: LOG_FILE.to_owned(),
            reason: match e {
                codec::DecodeError::Invalid(why) => why,
                codec::DecodeError::Incomplete { .. } => codec::Invalid::BadHeader,
            },
        })?;
        match version {
            CURRENT_VERSION => {}
            legacy::VERSION => {
                let old = legacy::read_v1(&bytes, &key)?;
                bytes = codec::encode_header(CURRENT_VERSION).to_vec();
                for payment in &old.payments {
                    bytes.extend_from_slice(&store.seal_payment(&key, payment)?);
                }
                // One atomic replace: a crash leaves the whole old store or
                // the whole new one.
                store.disk.replace(LOG_FILE, &bytes)?;
                recovery.migrated_from = Some(legacy::VERSION);
                recovery.torn_tail_bytes = old.torn_tail_bytes;
            }
            found => {
                return Err(StoreError::UnsupportedVersion { found, supported: CURRENT_VERSION });
            }
        }
        let scan = recover::scan(&bytes, &key);
        let mut len = bytes.len() as u64;
        if let Some(torn_at) = scan.torn_at {
            store.disk.truncate(LOG_FILE, torn_at as u64)?;
            store.disk.sync(LOG_FILE)?;
            recovery.torn_tail_bytes += len - torn_at as u64;
            len = torn_at as u64;
        }
        store.committed_len = len;
        store.dead_records = scan.dead_records;
        for entry in scan.entries {
            if let Entry::Corrupt { record, .. } = &entry {
                recovery.corrupt.push(record.clone());
            }
            store.insert(entry);
        }
        recovery.pending = store.pending;
        Ok((store, recovery))
    }

    fn insert(&mut self, entry: Entry) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(id) = entry.offline_id() {
            self.by_id.entry(id.clone()).or_insert(seq);
        }
        if matches!(entry, Entry::Pending { .. }) {
            self.pending += 1;
        }
        self.entries.insert(seq, entry);
        seq
    }

    fn remove(&mut self, seq: u64) -> Entry {
        let entry = self.entries.remove(&seq).expect("indexed entries exist");
        if let Some(id) = entry.offline_id()
            && self.by_id.get(id) == Some(&seq)
        {
            self.by_id.remove(id);
        }
        if matches!(entry, Entry::Pending { .. }) {
            self.pending -= 1;
        }
        entry
    }

    /// The next nonce counter; never reused within this session, even when a
    /// batch fails, since its bytes may have reached the disk.
    fn next_counter(&mut self) -> u64 {
        let counter = self.counter;
        self.counter += 1;
        counter
    }

    fn seal_payment(&mut self, key: &[u8; 32], p: &StoredPayment) -> Result<Vec<u8>, StoreError> {
        check_id(&p.offline_id)?;
        let clear = ClearHeader { offline_id: p.offline_id.clone(), amount: p.amount };
        let counter = self.next_counter();
        let clear_bytes = codec::encode_clear(RecordKind::Payment, self.epoch, counter, &clear);
        let plain = serde_json::to_vec(p).expect("payments serialize");
        let sealed = crypto::seal(key, &crypto::nonce(self.epoch, counter), &clear_bytes, &plain);
        Ok(codec::encode_frame(&clear_bytes, &sealed))
    }

    fn begin(&mut self) {
        if self.batch_start.is_none() {
            self.batch_start = Some((self.pending, self.dead_records));
        }
    }

    /// Buffers `payment`. It is not stored until [`sync`](Self::sync) returns.
    pub fn append(&mut self, payment: &StoredPayment) -> Result<(), StoreError> {
        check_id(&payment.offline_id)?;
        if self.by_id.contains_key(&payment.offline_id) {
            return Err(StoreError::Duplicate(payment.offline_id.clone()));
        }
        if let Some(cap) = self.config.max_records
            && self.pending >= cap as usize
        {
            return Err(StoreError::TooManyRecords { cap });
        }
        let key = self.keys.key()?;
        let frame = self.seal_payment(&key, payment)?;
        self.begin();
        self.batch.extend_from_slice(&frame);
        let seq = self.insert(Entry::Pending { payment: payment.clone(), frame });
        self.undo.push(Undo::Appended(seq));
        Ok(())
    }

    /// Buffers a tombstone: the payment `id` has been forwarded (or the app
    /// has reported the damaged record `id` as failed). Durable at the next
    /// [`sync`](Self::sync).
    pub fn mark_forwarded(&mut self, id: &OfflineId) -> Result<(), StoreError> {
        let seq = *self.by_id.get(id).ok_or_else(|| StoreError::UnknownPayment(id.clone()))?;
        let amount = match &self.entries[&seq] {
            Entry::Pending { payment, .. } => payment.amount,
            Entry::Corrupt { record, .. } => record.amount.unwrap_or(Money::new(0, Currency::USD)),
        };
        let key = self.keys.key()?;
        let counter = self.next_counter();
        let clear = ClearHeader { offline_id: id.clone(), amount };
        let clear_bytes = codec::encode_clear(RecordKind::Forwarded, self.epoch, counter, &clear);
        let tag = crypto::seal(&key, &crypto::nonce(self.epoch, counter), &clear_bytes, &[]);
        self.begin();
        self.batch.extend_from_slice(&codec::encode_frame(&clear_bytes, &tag));
        let entry = self.remove(seq);
        self.undo.push(Undo::Removed(seq, Box::new(entry)));
        self.dead_records += 2;
        Ok(())
    }

    /// Drops the damaged record that recovery found at `offset`, once the
    /// app has reported it. A record whose clear header is unreadable has no
    /// id to write a tombstone for, so it cannot be dismissed with
    /// [`mark_forwarded`](Self::mark_forwarded); the log is rewritten
    /// without it instead (one atomic replace, as [`compact`](Self::compact)).
    /// Returns whether there was such a record. On error nothing changes and
    /// the record is reported again at the next open.
    pub fn dismiss_corrupt(&mut self, offset: u64) -> Result<bool, StoreError> {
        let found = self.entries.iter().find_map(|(seq, e)| match e {
            Entry::Corrupt { record, .. } if record.offset == offset => Some(*seq),
            _ => None,
        });
        let Some(seq) = found else { return Ok(false) };
        let entry = self.remove(seq);
        if let Err(e) = self.compact() {
            if let Some(id) = entry.offline_id() {
                self.by_id.entry(id.clone()).or_insert(seq);
            }
            self.entries.insert(seq, entry);
            return Err(e);
        }
        Ok(true)
    }

    /// Makes everything buffered durable: the acknowledgement point. On
    /// error nothing of the batch counts as stored: its changes are undone,
    /// the partial write is cut back, and the store stays usable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.commit_batch()?;
        if let Some(limit) = self.config.compact_after_dead
            && self.dead_records >= limit
        {
            // Best effort: the batch is already durable and acknowledged, and
            // a failed compaction leaves the old log whole; it runs again
            // after a later sync.
            let _ = self.compact();
        }
        Ok(())
    }

    /// Commits the batch, or undoes it.
    fn commit_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() && !self.tail_dirty {
            return Ok(());
        }
        if let Err(e) = self.commit() {
            self.rollback();
            return Err(e);
        }
        self.batch.clear();
        self.undo.clear();
        self.batch_start = None;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.tail_dirty {
            self.disk.truncate(LOG_FILE, self.committed_len)?;
            self.disk.sync(LOG_FILE)?;
            self.tail_dirty = false;
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        self.tail_dirty = true;
        self.disk.append(LOG_FILE, &self.batch)?;
        self.disk.sync(LOG_FILE)?;
        self.tail_dirty = false;
        self.committed_len += self.batch.len() as u64;
        Ok(())
    }

    fn rollback(&mut self) {
        if self.tail_dirty {
            // Cut the partial write back now if the disk lets us; if not, the
            // next sync does it first.
            let cut = self.disk.truncate(LOG_FILE, self.committed_len);
            if cut.is_ok() && self.disk.sync(LOG_FILE).is_ok() {
                self.tail_dirty = false;
            }
        }
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Appended(seq) => {
                    self.remove(seq);
                }
                Undo::Removed(seq, entry) => {
                    if let Some(id) = entry.offline_id() {
                        self.by_id.insert(id.clone(), seq);
                    }
                    if matches!(*entry, Entry::Pending { .. }) {
                        self.pending += 1;
                    }
                    self.entries.insert(seq, *entry);
                }
            }
        }
        if let Some((pending, dead)) = self.batch_start.take() {
            debug_assert_eq!(pending, self.pending);
            self.dead_records = dead;
        }
        self.batch.clear();
    }

    /// Rewrites the log without forwarded payments and tombstones, by one
    /// atomic replace (syncing any buffered batch first). Damaged records
    /// stay until dismissed, so they are reported again on every open.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.commit_batch()?;
        let mut bytes = codec::encode_header(CURRENT_VERSION).to_vec();
        for entry in self.entries.values() {
            bytes.extend_from_slice(entry.bytes());
        }
        self.disk.replace(LOG_FILE, &bytes)?;
        self.committed_len = bytes.len() as u64;
        self.tail_dirty = false;
        self.dead_records = 0;
        Ok(())
    }

    /// Payments waiting to be forwarded, in the order they were stored
    /// (including buffered ones not yet synced).
    pub fn pending(&self) -> impl Iterator<Item = &StoredPayment> {
        self.entries.values().filter_map(|e| match e {
            Entry::Pending { payment, .. } => Some(payment),
            Entry::Corrupt { .. } => None,
        })
    }

    /// How many payments are waiting.
    pub fn len(&self) -> usize {
        self.pending
    }

    /// Whether no payment is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// The waiting payments' total per currency (the offline status
    /// counters apps enforce their own limits with).
    pub fn amounts(&self) -> BTreeMap<Currency, u64> {
        let mut totals = BTreeMap::new();
        for p in self.pending() {
            *totals.entry(p.amount.currency).or_insert(0) += p.amount.amount;
        }
        totals
    }

    /// Damaged records still in the log (reported on open; dismissed with
    /// [`mark_forwarded`](Self::mark_forwarded) by id).
    pub fn corrupt(&self) -> impl Iterator<Item = &CorruptRecord> {
        self.entries.values().filter_map(|e| match e {
            Entry::Corrupt { record, .. } => Some(record),
            Entry::Pending { .. } => None,
        })
    }

    /// Whether `id` is waiting to be forwarded.
    pub fn contains(&self, id: &OfflineId) -> bool {
        self.by_id.get(id).is_some_and(|seq| matches!(self.entries[seq], Entry::Pending { .. }))
    }

    /// Bytes of the log up to the last committed record.
    pub fn committed_len(&self) -> u64 {
        self.committed_len
    }

    /// The disk (for fault injection on a shared handle, or inspection).
    pub fn disk(&self) -> &D {
        &self.disk
    }

    /// Closes the store, handing back the disk and keychain. Anything not
    /// synced is dropped, as it would be by a crash.
    pub fn into_parts(self) -> (D, K) {
        (self.disk, self.keys)
    }
}

/// The size in bytes of `payment`'s record in the log.
pub fn record_len(payment: &StoredPayment) -> usize {
    let clear = ClearHeader { offline_id: payment.offline_id.clone(), amount: payment.amount };
    let clear_len = codec::encode_clear(RecordKind::Payment, 0, 0, &clear).len();
    let plain_len = serde_json::to_vec(payment).expect("payments serialize").len();
    codec::PREFIX_LEN + clear_len + plain_len + crypto::TAG_LEN
}

fn check_id(id: &OfflineId) -> Result<(), StoreError> {
    if id.as_str().is_empty() || id.as_str().len() > 255 {
        Err(StoreError::InvalidId(id.clone()))
    } else {
        Ok(())
    }
}
