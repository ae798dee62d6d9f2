//! Format version 1, the store of the previous app release: kept so an
//! upgrade can migrate it, and so tests and the simulator's "app upgrade
//! from an older store format" fault can create one ([`write_v1`]).
//!
//! Version 1 framed each record as `magic "RLv1" | len u32 | crc32 u32 |
//! nonce [12] | ciphertext`, encrypted the whole payment (with older field
//! names, [`PaymentV1`]) and had no clear header and no tombstones:
//! forwarding rewrote the file. A record that failed to decrypt could
//! therefore not even be named, which is why version 2 added the clear
//! header. This module must not be used to write new stores, and reading
//! must fail loudly, never skip: a damaged old store stops the migration
//! and stays as it is (incident android-731 lost payments by resetting).

use super::codec::{self, HEADER_LEN};
use super::crypto::{self, KEY_LEN, Keychain};
use super::error::StoreError;
use crate::core::EntryMode;
use crate::core::Millis;
use crate::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use crate::core::{Brand, CardNumber, Funding, PinEntry};
use crate::core::{Currency, Money};
use crate::disk::Disk;
use serde::{Deserialize, Serialize};

/// The version number of this format.
pub const VERSION: u16 = 1;
/// The first bytes of a version-1 record.
const MAGIC: [u8; 4] = *b"RLv1";
/// Bytes before a version-1 record's nonce.
const PREFIX_LEN: usize = 12;
/// Bytes of the nonce.
const NONCE_LEN: usize = 12;
/// What version 1 bound as associated data: only the format.
const AAD: &[u8] = b"readerlab offline store v1";

/// A payment as version 1 spelled it: flat, with short field names.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentV1 {
    id: String,
    pi: Option<String>,
    minor: u64,
    ccy: Currency,
    at_ms: u64,
    pan: String,
    brand: Brand,
    funding: Funding,
    entry: EntryMode,
    pin: PinEntry,
    capture: CaptureMethod,
    acct: String,
    live: bool,
    loc: String,
    serial: String,
}

impl From<&StoredPayment> for PaymentV1 {
    fn from(p: &StoredPayment) -> Self {
        PaymentV1 {
            id: p.offline_id.0.clone(),
            pi: p.intent_id.clone(),
            minor: p.amount.amount,
            ccy: p.amount.currency,
            at_ms: p.stored_at.0,
            pan: p.card.number.as_str().to_owned(),
            brand: p.card.brand,
            funding: p.card.funding,
            entry: p.card.entry_mode,
            pin: p.card.pin,
            capture: p.capture,
            acct: p.account.clone(),
            live: p.livemode,
            loc: p.location.clone(),
            serial: p.reader.clone(),
        }
    }
}

impl From<PaymentV1> for StoredPayment {
    fn from(p: PaymentV1) -> Self {
        StoredPayment {
            offline_id: OfflineId(p.id),
            intent_id: p.pi,
            amount: Money::new(p.minor, p.ccy),
            stored_at: Millis(p.at_ms),
            card: StoredCard {
                number: CardNumber::from(p.pan),
                brand: p.brand,
                funding: p.funding,
                entry_mode: p.entry,
                pin: p.pin,
            },
            capture: p.capture,
            account: p.acct,
            livemode: p.live,
            location: p.loc,
            reader: p.serial,
        }
    }
}

/// Writes `payments` as a complete version-1 store in `super::LOG_FILE`
/// (atomically, replacing any store there), encrypted with `keys`. It bumps
/// the keychain's epoch first, as the version-1 writer did.
pub fn write_v1<D: Disk, K: Keychain>(
    disk: &mut D,
    keys: &mut K,
    payments: &[StoredPayment],
) -> Result<(), StoreError> {
    let epoch = keys.next_epoch()?;
    let key = keys.key()?;
    let mut out = codec::encode_header(VERSION).to_vec();
    for (counter, payment) in payments.iter().enumerate() {
        let nonce = crypto::nonce(epoch, counter as u64);
        let plain = serde_json::to_vec(&PaymentV1::from(payment)).expect("payments serialize");
        let sealed = crypto::seal(&key, &nonce, AAD, &plain);
        let len = u32::try_from(NONCE_LEN + sealed.len()).expect("records are small");
        let mut crc = crc32fast::Hasher::new();
        crc.update(&nonce);
        crc.update(&sealed);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
    }
    disk.replace(super::LOG_FILE, &out)?;
    Ok(())
}

/// What a version-1 file held.
#[derive(Debug)]
pub(super) struct V1Contents {
    pub payments: Vec<StoredPayment>,
    /// Bytes of an incomplete last record (a torn write, never acknowledged).
    pub torn_tail_bytes: u64,
}

/// Reads a whole version-1 file. Any damaged record is an error naming its
/// offset: version 1 cannot say which payment it was, so skipping it would
/// lose a payment without a trace.
pub(super) fn read_v1(bytes: &[u8], key: &[u8; KEY_LEN]) -> Result<V1Contents, StoreError> {
    let fail = |offset: usize, reason: &str| StoreError::Migration {
        from: VERSION,
        offset: offset as u64,
        reason: reason.to_owned(),
    };
    let mut payments = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let n = rest.len().min(MAGIC.len());
        if rest[..n] != MAGIC[..n] {
            return Err(fail(at, "bad record magic"));
        }
        if rest.len() < PREFIX_LEN {
            return Ok(V1Contents { payments, torn_tail_bytes: rest.len() as u64 });
        }
        let len = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
        if len > codec::MAX_BODY_LEN as usize || len < NONCE_LEN + crypto::TAG_LEN {
            return Err(fail(at, "impossible record length"));
        }
        if rest.len() < PREFIX_LEN + len {
            return Ok(V1Contents { payments, torn_tail_bytes: rest.len() as u64 });
        }
        let body = &rest[PREFIX_LEN..PREFIX_LEN + len];
        if crc32fast::hash(body) != u32::from_le_bytes(rest[8..12].try_into().unwrap()) {
            return Err(fail(at, "checksum mismatch"));
        }
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().unwrap();
        let plain = crypto::open(key, &nonce, AAD, &body[NONCE_LEN..])
            .ok_or_else(|| fail(at, "record does not decrypt (wrong key or tampered)"))?;
        let old: PaymentV1 = serde_json::from_slice(&plain)
            .map_err(|e| fail(at, &format!("payload is not a version-1 payment: {e}")))?;
        payments.push(old.into());
        at += PREFIX_LEN + len;
    }
    Ok(V1Contents { payments, torn_tail_bytes: 0 })
}
