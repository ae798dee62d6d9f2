//! Reading a version-2 log back on open: which payments are pending, which
//! records are damaged, and where a torn tail starts.
//!
//! The rules (docs/store.md, "Recovery"): a valid prefix of a frame at the
//! end of the file is a torn last write, never acknowledged, and is cut off;
//! a damaged record anywhere else (bad framing, checksum, decryption or
//! payload) is reported by id and amount when its clear header is readable
//! and skipped, and scanning resumes at the next frame, so one bad record
//! never costs the others (incident android-459). A tombstone removes the
//! payment before it; one whose payment is gone is simply spent. This file
//! reads bytes already in memory: it must not write, and must not guess a
//! payment into existence from damaged bytes.

use super::Entry;
use super::codec::{self, DecodeError, RecordKind};
use super::crypto;
use super::error::{CorruptReason, CorruptRecord};
use crate::core::offline::{OfflineId, StoredPayment};
use std::collections::HashMap;

/// What a scan found.
pub(super) struct Scan {
    /// Pending payments and damaged records, in file order.
    pub entries: Vec<Entry>,
    /// Where a torn tail starts, if there is one.
    pub torn_at: Option<usize>,
    /// Records in the file that compaction would drop: forwarded payments
    /// and tombstones.
    pub dead_records: u64,
}

/// Scans `bytes` (a whole version-2 file, header included) with `key`.
pub(super) fn scan(bytes: &[u8], key: &[u8; crypto::KEY_LEN]) -> Scan {
    let mut slots: Vec<Option<Entry>> = Vec::new();
    let mut by_id: HashMap<OfflineId, usize> = HashMap::new();
    let mut dead_records = 0;
    let mut torn_at = None;
    let mut at = codec::HEADER_LEN;
    while at < bytes.len() {
        match codec::decode_frame(&bytes[at..]) {
            Ok((frame, len)) => {
                let raw = &bytes[at..at + len];
                let clear_bytes = &raw[codec::PREFIX_LEN..len - frame.sealed.len()];
                let nonce = crypto::nonce(frame.epoch, frame.counter);
                let opened = crypto::open(key, &nonce, clear_bytes, frame.sealed);
                let corrupt = |reason| CorruptRecord {
                    offset: at as u64,
                    len: len as u64,
                    reason,
                    offline_id: Some(frame.clear.offline_id.clone()),
                    amount: Some(frame.clear.amount),
                };
                let id = frame.clear.offline_id.clone();
                let entry = match (frame.kind, opened) {
                    (_, None) => Some(Entry::corrupt(corrupt(CorruptReason::Undecryptable), raw)),
                    (RecordKind::Payment, Some(plain)) => {
                        match serde_json::from_slice::<StoredPayment>(&plain) {
                            Ok(p) if p.offline_id == id && p.amount == frame.clear.amount => {
                                if by_id.contains_key(&id) {
                                    Some(Entry::corrupt(corrupt(CorruptReason::DuplicateId), raw))
                                } else {
                                    Some(Entry::Pending { payment: p, frame: raw.to_vec() })
                                }
                            }
                            _ => Some(Entry::corrupt(corrupt(CorruptReason::BadPayload), raw)),
                        }
                    }
                    (RecordKind::Forwarded, Some(_)) => {
                        dead_records += 1;
                        if let Some(slot) = by_id.remove(&id) {
                            // The forwarded payment (or the damaged record the
                            // app has dismissed) goes with its tombstone.
                            slots[slot] = None;
                            dead_records += 1;
                        }
                        None
                    }
                };
                if let Some(entry) = entry {
                    // A damaged duplicate must not shadow the stored original.
                    let shadows = matches!(&entry, Entry::Corrupt { record, .. } if record.reason == CorruptReason::DuplicateId);
                    if !shadows && let Some(id) = entry.offline_id() {
                        by_id.entry(id.clone()).or_insert(slots.len());
                    }
                    slots.push(Some(entry));
                }
                at += len;
            }
            Err(DecodeError::Incomplete { .. }) => match next_frame(bytes, at + 1) {
                Some(next) => {
                    slots.push(Some(damaged(bytes, at, next, codec::Invalid::LengthMismatch)));
                    at = next;
                }
                None => {
                    torn_at = Some(at);
                    break;
                }
            },
            Err(DecodeError::Invalid(why)) => {
                // Up to the next valid frame, or to the end: damaged bytes
                // are reported, never cut off, even at the tail. A damaged
                // frame whose framing is intact ends where its length says,
                // unless a frame starts inside it: a frame that ran past
                // the end of the file at the last open (so the scan went
                // past it to the next frame) and that records appended
                // since have completed must not swallow the frames after
                // it, those appended records among them.
                let next = match codec::framed_len(&bytes[at..]) {
                    Some(len) => next_frame_before(bytes, at + 1, at + len).unwrap_or(at + len),
                    None => next_frame(bytes, at + 1).unwrap_or(bytes.len()),
                };
                let entry = damaged(bytes, at, next, why);
                if let Some(id) = entry.offline_id() {
                    by_id.entry(id.clone()).or_insert(slots.len());
                }
                slots.push(Some(entry));
                at = next;
            }
        }
    }
    Scan { entries: slots.into_iter().flatten().collect(), torn_at, dead_records }
}

/// A span of bytes that is not a usable frame, with what can be salvaged.
fn damaged(bytes: &[u8], from: usize, to: usize, why: codec::Invalid) -> Entry {
    let span = &bytes[from..to];
    let clear = codec::salvage_clear(span);
    let record = CorruptRecord {
        offset: from as u64,
        len: span.len() as u64,
        reason: CorruptReason::Framing(why),
        offline_id: clear.as_ref().map(|c| c.offline_id.clone()),
        amount: clear.map(|c| c.amount),
    };
    Entry::corrupt(record, span)
}

/// The next offset at or after `from` where a frame with intact framing
/// starts (see [`codec::framed_len`]); its checksum may still fail, and the
/// scan reports it on its own. A mere prefix does not count: a torn tail's
/// last byte can look like the start of a magic number, and must not turn
/// the torn record into a "damaged" one.
fn next_frame(bytes: &[u8], from: usize) -> Option<usize> {
    next_frame_before(bytes, from, bytes.len())
}

/// [`next_frame`], starting before `end`.
fn next_frame_before(bytes: &[u8], from: usize, end: usize) -> Option<usize> {
    (from..end.min(bytes.len())).find(|&at| {
        bytes[at] == codec::RECORD_MAGIC[0] && codec::framed_len(&bytes[at..]).is_some()
    })
}
