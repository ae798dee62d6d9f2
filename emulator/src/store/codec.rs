//! The byte layout of the store's log (format version 2): the file header and
//! the record frame, as pure functions over byte slices.
//!
//! It tells "need more bytes" ([`DecodeError::Incomplete`], what a torn last
//! write looks like: a prefix of a valid frame) from "bad bytes"
//! ([`DecodeError::Invalid`], what corruption looks like). It must not do I/O,
//! decrypt, or know what a payment's encrypted payload contains: the sealed
//! part is opaque bytes here. Layout (integers little-endian):
//!
//! ```text
//! header  magic "RDRLABST" (8) | version u16 | reserved u16 = 0 | crc32 of the 12 bytes before (4)
//! frame   magic A5 52 4C 32 (4) | body_len u32 | !body_len u32 | crc32(body) u32 | body
//! body    kind u8 | epoch u32 | counter u64 | id_len u8 | offline id | amount u64 | currency [3] | sealed
//! ```
//!
//! The body before `sealed` is the clear header; it is bound into the AEAD as
//! associated data, so it cannot be altered without the record failing to
//! decrypt, yet it can be read without the key to report a record that fails.

use crate::core::offline::OfflineId;
use crate::core::{Currency, Money};

/// The first bytes of every store file.
pub const FILE_MAGIC: [u8; 8] = *b"RDRLABST";
/// Bytes of the file header.
pub const HEADER_LEN: usize = 16;
/// The first bytes of every version-2 record frame.
pub const RECORD_MAGIC: [u8; 4] = [0xA5, b'R', b'L', b'2'];
/// Bytes of a frame before its body.
pub const PREFIX_LEN: usize = 16;
/// The largest body accepted; anything longer is a corrupt length.
pub const MAX_BODY_LEN: u32 = 64 * 1024;
/// Bytes of the clear header that do not depend on the id's length.
const FIXED_BODY_LEN: usize = 1 + 4 + 8 + 1 + 8 + 3;
/// Bytes of the authentication tag that ends every sealed part.
const TAG_LEN: usize = super::crypto::TAG_LEN;

/// What a record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// A stored payment; the sealed part is the encrypted payment.
    Payment = 1,
    /// A tombstone: the payment with this offline id has been forwarded. The
    /// sealed part is only an authentication tag.
    Forwarded = 2,
}

impl RecordKind {
    fn from_byte(byte: u8) -> Option<RecordKind> {
        match byte {
            1 => Some(RecordKind::Payment),
            2 => Some(RecordKind::Forwarded),
            _ => None,
        }
    }
}

/// The part of a record readable without the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearHeader {
    /// The payment's offline id.
    pub offline_id: OfflineId,
    /// Its amount (zero in a tombstone is allowed; tombstones copy it).
    pub amount: Money,
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Payment or tombstone.
    pub kind: RecordKind,
    /// The nonce's epoch.
    pub epoch: u32,
    /// The nonce's counter.
    pub counter: u64,
    /// Id and amount in clear.
    pub clear: ClearHeader,
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

/// Why bytes are not a frame (or a header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// The magic bytes are wrong.
    #[error("bad magic bytes")]
    BadMagic,
    /// The length and its complement disagree.
    #[error("the length field is damaged")]
    LengthMismatch,
    /// The length is larger than any record.
    #[error("length {0} is larger than any record")]
    TooLong(u32),
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
    /// An unknown record kind.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// The clear header does not parse (bad id, currency or sizes).
    #[error("malformed clear header")]
    BadClearHeader,
    /// The header's reserved field is not zero.
    #[error("malformed file header")]
    BadHeader,
}

/// Why decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are a valid prefix; at least `needed` more are needed.
    #[error("incomplete: {needed} more bytes needed")]
    Incomplete {
        /// Bytes missing, at least.
        needed: usize,
    },
    /// The bytes cannot be the start of a valid frame.
    #[error("invalid: {0}")]
    Invalid(#[from] Invalid),
}

/// The file header for `version`.
pub fn encode_header(version: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&FILE_MAGIC);
    h[8..10].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The format version in a file header.
pub fn decode_header(bytes: &[u8]) -> Result<u16, DecodeError> {
    let n = bytes.len().min(FILE_MAGIC.len());
    if bytes[..n] != FILE_MAGIC[..n] {
        return Err(Invalid::BadMagic.into());
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Incomplete { needed: HEADER_LEN - bytes.len() });
    }
    if crc32fast::hash(&bytes[..12]) != u32::from_le_bytes(bytes[12..16].try_into().unwrap()) {
        return Err(Invalid::Checksum.into());
    }
    if bytes[10..12] != [0, 0] {
        return Err(Invalid::BadHeader.into());
    }
    Ok(u16::from_le_bytes([bytes[8], bytes[9]]))
}

/// The clear header as bytes: kind, epoch, counter, id, amount, currency.
/// It is both the start of the body and the AEAD's associated data.
///
/// # Panics
///
/// If the offline id is empty or longer than 255 bytes; the store checks
/// that before it gets here.
pub fn encode_clear(kind: RecordKind, epoch: u32, counter: u64, clear: &ClearHeader) -> Vec<u8> {
    let id = clear.offline_id.as_str().as_bytes();
    let id_len = u8::try_from(id.len()).expect("offline ids are checked to fit in 255 bytes");
    assert!(id_len > 0, "offline ids are checked to be non-empty");
    let mut out = Vec::with_capacity(FIXED_BODY_LEN + id.len());
    out.push(kind as u8);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&counter.to_le_bytes());
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&clear.amount.amount.to_le_bytes());
    out.extend_from_slice(clear.amount.currency.as_str().as_bytes());
    out
}

/// A whole frame around `clear_bytes` (from [`encode_clear`]) and `sealed`.
pub fn encode_frame(clear_bytes: &[u8], sealed: &[u8]) -> Vec<u8> {
    let body_len = u32::try_from(clear_bytes.len() + sealed.len()).expect("records are small");
    let mut out = Vec::with_capacity(PREFIX_LEN + body_len as usize);
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&(!body_len).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(clear_bytes);
    crc.update(sealed);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(clear_bytes);
    out.extend_from_slice(sealed);
    out
}

/// Decodes the frame at the start of `bytes`; returns it and its length.
pub fn decode_frame(bytes: &[u8]) -> Result<(Frame<'_>, usize), DecodeError> {
    let n = bytes.len().min(RECORD_MAGIC.len());
    if bytes[..n] != RECORD_MAGIC[..n] {
        return Err(Invalid::BadMagic.into());
    }
    if bytes.len() < 12 {
        return Err(DecodeError::Incomplete { needed: PREFIX_LEN - bytes.len() });
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    let check = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if len != !check {
        return Err(Invalid::LengthMismatch.into());
    }
    if len > MAX_BODY_LEN {
        return Err(Invalid::TooLong(len).into());
    }
    let total = PREFIX_LEN + len as usize;
    if bytes.len() < total {
        return Err(DecodeError::Incomplete { needed: total - bytes.len() });
    }
    let body = &bytes[PREFIX_LEN..total];
    if crc32fast::hash(body) != u32::from_le_bytes(bytes[12..16].try_into().unwrap()) {
        return Err(Invalid::Checksum.into());
    }
    let (kind, epoch, counter, clear, clear_len) = parse_clear(body)?;
    let sealed = &body[clear_len..];
    if sealed.len() < TAG_LEN {
        return Err(Invalid::BadClearHeader.into());
    }
    Ok((Frame { kind, epoch, counter, clear, sealed }, total))
}

/// The length of the frame at the start of `bytes` if its framing is
/// intact (magic, length and its complement, all bytes present), whether or
/// not its checksum and content are: a damaged record whose extent is still
/// known, so the next one can be found without guessing.
pub fn framed_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < PREFIX_LEN || bytes[..4] != RECORD_MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    let check = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    let total = PREFIX_LEN + len as usize;
    (len == !check && len <= MAX_BODY_LEN && bytes.len() >= total).then_some(total)
}

type Parsed = (RecordKind, u32, u64, ClearHeader, usize);

fn parse_clear(body: &[u8]) -> Result<Parsed, Invalid> {
    let kind_byte = *body.first().ok_or(Invalid::BadClearHeader)?;
    let kind = RecordKind::from_byte(kind_byte).ok_or(Invalid::UnknownKind(kind_byte))?;
    if body.len() < FIXED_BODY_LEN {
        return Err(Invalid::BadClearHeader);
    }
    let epoch = u32::from_le_bytes(body[1..5].try_into().unwrap());
    let counter = u64::from_le_bytes(body[5..13].try_into().unwrap());
    let id_len = body[13] as usize;
    let clear_len = FIXED_BODY_LEN + id_len;
    if id_len == 0 || body.len() < clear_len {
        return Err(Invalid::BadClearHeader);
    }
    let id = std::str::from_utf8(&body[14..14 + id_len]).map_err(|_| Invalid::BadClearHeader)?;
    let at = 14 + id_len;
    let amount = u64::from_le_bytes(body[at..at + 8].try_into().unwrap());
    let code = &body[at + 8..at + 11];
    if !code.iter().all(u8::is_ascii_lowercase) {
        return Err(Invalid::BadClearHeader);
    }
    let currency: Currency =
        std::str::from_utf8(code).expect("ASCII").parse().map_err(|_| Invalid::BadClearHeader)?;
    let clear =
        ClearHeader { offline_id: OfflineId(id.to_owned()), amount: Money::new(amount, currency) };
    Ok((kind, epoch, counter, clear, clear_len))
}

/// Reads the clear header of a frame at the start of `bytes` whose checksum
/// or framing failed, without trusting them: what a damaged record probably
/// was, to report it. `None` if even that does not parse.
pub fn salvage_clear(bytes: &[u8]) -> Option<ClearHeader> {
    let body = bytes.get(PREFIX_LEN..)?;
    parse_clear(body).ok().map(|(_, _, _, clear, _)| clear)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clear_strategy() -> impl Strategy<Value = ClearHeader> {
        ("[a-z0-9_]{1,40}", any::<u64>(), "[a-z]{3}").prop_map(|(id, amount, cur)| ClearHeader {
            offline_id: OfflineId(id),
            amount: Money::new(amount, cur.parse().unwrap()),
        })
    }

    fn kind_strategy() -> impl Strategy<Value = RecordKind> {
        prop_oneof![Just(RecordKind::Payment), Just(RecordKind::Forwarded)]
    }

    fn frame_strategy() -> impl Strategy<Value = (RecordKind, u32, u64, ClearHeader, Vec<u8>)> {
        (
            kind_strategy(),
            any::<u32>(),
            any::<u64>(),
            clear_strategy(),
            proptest::collection::vec(any::<u8>(), TAG_LEN..200),
        )
    }

    proptest! {
        #[test]
        fn frames_round_trip((kind, epoch, counter, clear, sealed) in frame_strategy(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut bytes = encode_frame(&encode_clear(kind, epoch, counter, &clear), &sealed);
            let len = bytes.len();
            bytes.extend_from_slice(&tail);
            let (frame, used) = decode_frame(&bytes).unwrap();
            prop_assert_eq!(used, len);
            prop_assert_eq!(frame, Frame { kind, epoch, counter, clear, sealed: &sealed });
        }

        #[test]
        fn every_strict_prefix_is_incomplete((kind, epoch, counter, clear, sealed) in frame_strategy(), cut in any::<prop::sample::Index>()) {
            let bytes = encode_frame(&encode_clear(kind, epoch, counter, &clear), &sealed);
            let cut = cut.index(bytes.len());
            let is_incomplete = matches!(decode_frame(&bytes[..cut]), Err(DecodeError::Incomplete { .. }));
            prop_assert!(is_incomplete);
        }

        #[test]
        fn any_single_byte_change_is_invalid((kind, epoch, counter, clear, sealed) in frame_strategy(), at in any::<prop::sample::Index>(), mask in 1u8..) {
            let mut bytes = encode_frame(&encode_clear(kind, epoch, counter, &clear), &sealed);
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
            let is_invalid = matches!(decode_frame(&bytes), Err(DecodeError::Invalid(_)));
            prop_assert!(is_invalid);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_answer_clearly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            match decode_frame(&bytes) {
                Ok((_, used)) => prop_assert!(used <= bytes.len()),
                Err(DecodeError::Incomplete { needed }) => prop_assert!(needed > 0),
                Err(DecodeError::Invalid(_)) => {}
            }
            let _ = decode_header(&bytes);
            let _ = salvage_clear(&bytes);
        }

        #[test]
        fn arbitrary_bodies_behind_a_valid_prefix_never_panic(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            // Random bytes rarely pass the magic and checksum; this puts them
            // straight into the clear-header parser.
            let len = body.len() as u32;
            let mut bytes = RECORD_MAGIC.to_vec();
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&(!len).to_le_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            bytes.extend_from_slice(&body);
            if let Ok((frame, used)) = decode_frame(&bytes) {
                prop_assert_eq!(used, bytes.len());
                prop_assert!(frame.sealed.len() >= TAG_LEN);
            }
        }
    }

    #[test]
    fn the_header_round_trips_and_tells_incomplete_from_invalid() {
        let h = encode_header(2);
        assert_eq!(decode_header(&h), Ok(2));
        assert_eq!(decode_header(&h[..5]), Err(DecodeError::Incomplete { needed: 11 }));
        assert_eq!(decode_header(b"SQLite format 3\0"), Err(Invalid::BadMagic.into()));
        let mut bad = h;
        bad[9] ^= 1;
        assert_eq!(decode_header(&bad), Err(Invalid::Checksum.into()));
    }

    #[test]
    fn a_damaged_frame_still_shows_its_id_when_only_the_body_is_hit() {
        let clear = ClearHeader {
            offline_id: OfflineId("off_1".into()),
            amount: Money::new(5, Currency::USD),
        };
        let mut bytes = encode_frame(&encode_clear(RecordKind::Payment, 1, 2, &clear), &[9; 40]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        assert_eq!(decode_frame(&bytes), Err(Invalid::Checksum.into()));
        assert_eq!(salvage_clear(&bytes), Some(clear));
    }
}
