//! What can go wrong in the store, typed so the POS model can act on it and
//! report the documented SDK code, and what recovery found damaged.
//!
//! It must not decide policy: it names outcomes ([`StoreError`]) and damaged
//! records ([`CorruptRecord`]); the store and its callers decide what to do.

use super::codec::Invalid;
use super::crypto::KeyError;
use crate::core::Money;
use crate::core::TerminalErrorCode;
use crate::core::offline::OfflineId;
use std::io;
use std::sync::Arc;

/// A store operation that failed. Earlier acknowledged payments are intact
/// after every one of these; the store stays usable once the cause is gone.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk is full (ENOSPC). Nothing of the failed batch is stored.
    #[error("the disk is full; nothing of this batch was stored")]
    Full,
    /// The configured record cap is reached.
    #[error("the store already holds its maximum of {cap} payments")]
    TooManyRecords {
        /// The cap.
        cap: u32,
    },
    /// The keychain is locked (incident ios-355); retry after unlock.
    #[error("the encryption keys are unavailable")]
    KeysUnavailable,
    /// The file was written by a newer format version.
    #[error("store format version {found} is newer than this build (up to {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// The file is not a store (bad header). It is left untouched: resetting
    /// it would silently lose payments (incident android-731).
    #[error("`{file}` is not a readerlab store ({reason}); it was left untouched")]
    NotAStore {
        /// The file.
        file: String,
        /// What is wrong with its header.
        reason: Invalid,
    },
    /// Migrating an older format failed; the old file is kept as it was.
    #[error(
        "migration from format version {from} failed at offset {offset}: {reason}; the old store was kept"
    )]
    Migration {
        /// The old version.
        from: u16,
        /// Where in the old file.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// This offline id is already stored (ids are unique forever).
    #[error("a payment with offline id {0} is already stored")]
    Duplicate(OfflineId),
    /// No stored payment (or reported corrupt record) has this id.
    #[error("no stored payment has offline id {0}")]
    UnknownPayment(OfflineId),
    /// The offline id is empty or longer than 255 bytes.
    #[error("offline id `{0}` must be 1 to 255 bytes")]
    InvalidId(OfflineId),
    /// The keychain's epoch counter is exhausted; writing could repeat nonces.
    #[error("the key epoch counter is exhausted")]
    EpochExhausted,
    /// Any other storage failure.
    #[error("storage I/O: {0}")]
    Io(#[source] Arc<io::Error>),
}

impl StoreError {
    /// The SDK error code the app sees for this failure, if one is documented.
    pub fn code(&self) -> Option<TerminalErrorCode> {
        match self {
            StoreError::Full | StoreError::TooManyRecords { .. } => {
                Some(TerminalErrorCode::OfflinePaymentsDatabaseTooLarge)
            }
            StoreError::KeysUnavailable => {
                Some(TerminalErrorCode::OfflineEncryptionKeysUnavailable)
            }
            _ => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        if crate::disk::is_storage_full(&e) {
            StoreError::Full
        } else {
            StoreError::Io(Arc::new(e))
        }
    }
}

impl From<KeyError> for StoreError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Locked => StoreError::KeysUnavailable,
            KeyError::Io(io) => StoreError::Io(Arc::new(io)),
            KeyError::EpochExhausted => StoreError::EpochExhausted,
        }
    }
}

/// Why a record found on open could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The bytes are not a valid frame (magic, length or checksum).
    Framing(Invalid),
    /// The frame is intact but does not decrypt: wrong key, or tampered.
    Undecryptable,
    /// It decrypts but is not a payment matching its clear header.
    BadPayload,
    /// A second payment with an offline id already stored.
    DuplicateId,
}

/// A damaged record, reported on open and skipped; every other record
/// survives it (incident android-459). The POS reports the payment failed
/// with this reason, by id and amount when the clear header is readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// Where it starts in the log.
    pub offset: u64,
    /// How many bytes it spans.
    pub len: u64,
    /// What is wrong.
    pub reason: CorruptReason,
    /// The offline id from its clear header, if readable. For a framing
    /// error it is read without a checksum, so it is a best guess.
    pub offline_id: Option<OfflineId>,
    /// The amount from its clear header, if readable.
    pub amount: Option<Money>,
}
