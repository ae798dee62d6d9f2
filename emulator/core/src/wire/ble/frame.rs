//! The reader protocol's framing over GATT values, sans-IO: a [`Frame`]
//! (request, response or event, with a sequence number and a body) is cut
//! into fragments no longer than one ATT write or notification can carry,
//! and a [`Reassembler`] puts them back together, one per direction.
//!
//! Every GATT value is one fragment. Byte by byte (all integers little
//! endian; docs/ble-gatt.md shows the same table):
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 1    | control: kind in the high nibble (`1` request, `2` response, `3` event), flags in the low nibble (`0x1` FIRST, `0x2` LAST, `0x4` and `0x8` reserved, must be 0) |
//! | 1      | 2    | seq: the message's sequence number (u16)                |
//! | 3      | 2    | index: the fragment's index within its message (u16, 0 for the FIRST, +1 per fragment) |
//! | 5      | 4    | FIRST fragment only: the total body length (u32)        |
//! | 5 or 9 | rest | body bytes                                              |
//!
//! A message of one fragment carries both FIRST and LAST. The index is a
//! u16 so it never wraps within a message: a body is at most [`MAX_BODY`]
//! (64 KiB) and every fragment at the smallest MTU (23) carries at least 11
//! body bytes, so no message needs more than 4 370 fragments.
//!
//! The reassembler checks every fragment and says precisely what was wrong
//! ([`FrameError`]). An error drops the fragment that raised it together
//! with any half-assembled message; the reassembler then waits for the next
//! FIRST fragment, so one bad or missing value costs at most the messages it
//! touched. It never allocates more than [`MAX_BODY`] for a message, whatever
//! length a fragment declares, and never panics on arbitrary bytes.

use super::gatt;

/// The largest body a message may carry (64 KiB).
pub const MAX_BODY: usize = 64 * 1024;
/// Header bytes in every fragment: control, seq, index.
pub const HEADER_LEN: usize = 5;
/// Header bytes in a FIRST fragment: the header and the body length.
pub const FIRST_HEADER_LEN: usize = HEADER_LEN + 4;

const FLAG_FIRST: u8 = 0x1;
const FLAG_LAST: u8 = 0x2;
const FLAGS_KNOWN: u8 = FLAG_FIRST | FLAG_LAST;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// POS → reader: a command.
    Request,
    /// Reader → POS: the reply to the request with the same seq.
    Response,
    /// Reader → POS: an unsolicited event, numbered by the reader.
    Event,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Request => 1,
            Kind::Response => 2,
            Kind::Event => 3,
        }
    }

    fn of_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::Request),
            2 => Some(Kind::Response),
            3 => Some(Kind::Event),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::Event => "event",
        })
    }
}

/// One message of the reader protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Request, response or event.
    pub kind: Kind,
    /// Requests: chosen by the POS; responses: the request's; events: the
    /// reader's own counter.
    pub seq: u16,
    /// The body (JSON in the reader protocol; opaque here).
    pub body: Vec<u8>,
}

/// What was wrong with a frame or a fragment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The ATT MTU is below the Core spec's minimum.
    #[error("ATT MTU {mtu} is below the minimum of {min}")]
    MtuTooSmall {
        /// The MTU asked for.
        mtu: u16,
        /// [`gatt::DEFAULT_ATT_MTU`].
        min: u16,
    },
    /// A body longer than [`MAX_BODY`], to send or declared by a FIRST
    /// fragment.
    #[error("message {seq}: body of {len} bytes is over the maximum of {max}")]
    TooLong {
        /// The message.
        seq: u16,
        /// Its (declared) length.
        len: u64,
        /// [`MAX_BODY`].
        max: usize,
    },
    /// A value shorter than the header it must start with.
    #[error("value of {len} bytes is shorter than its {need}-byte header")]
    TooShort {
        /// The value's length.
        len: usize,
        /// The header length it needed.
        need: usize,
    },
    /// The control byte names no kind.
    #[error("unknown kind {code} in control byte {control:#04x}")]
    UnknownKind {
        /// The kind nibble.
        code: u8,
        /// The whole control byte.
        control: u8,
    },
    /// The control byte sets a reserved flag.
    #[error("reserved flags set in control byte {control:#04x}")]
    UnknownFlags {
        /// The whole control byte.
        control: u8,
    },
    /// A continuation fragment arrived while no message was being assembled.
    #[error("{kind} {seq} fragment {index} continues a message whose FIRST fragment never came")]
    ContinuationWithoutFirst {
        /// Its kind.
        kind: Kind,
        /// Its seq.
        seq: u16,
        /// Its index.
        index: u16,
    },
    /// A continuation fragment of another message than the one being
    /// assembled.
    #[error("{got_kind} {got_seq} fragment arrived while {kind} {seq} was being assembled")]
    OtherMessage {
        /// The message being assembled.
        kind: Kind,
        /// Its seq.
        seq: u16,
        /// The fragment's kind.
        got_kind: Kind,
        /// The fragment's seq.
        got_seq: u16,
    },
    /// A fragment out of order: lost, duplicated or reordered.
    #[error("{kind} {seq}: expected fragment {expected}, got {got}")]
    OutOfOrder {
        /// The message.
        kind: Kind,
        /// Its seq.
        seq: u16,
        /// The index expected next.
        expected: u16,
        /// The index that came.
        got: u16,
    },
    /// A FIRST fragment arrived while another message was half-assembled:
    /// that message's LAST fragment never came, and it is abandoned.
    #[error(
        "{kind} {abandoned} abandoned half-assembled: a FIRST fragment of {new_kind} {new_seq} arrived"
    )]
    Abandoned {
        /// The abandoned message's kind.
        kind: Kind,
        /// The abandoned message's seq.
        abandoned: u16,
        /// The new fragment's kind.
        new_kind: Kind,
        /// The new fragment's seq.
        new_seq: u16,
    },
    /// The body's length differs from the length its FIRST fragment
    /// declared (checked at LAST, and as soon as it overflows).
    #[error("{kind} {seq}: body of {got} bytes, {declared} declared")]
    LengthMismatch {
        /// The message.
        kind: Kind,
        /// Its seq.
        seq: u16,
        /// The declared length.
        declared: u32,
        /// The bytes received so far.
        got: usize,
    },
    /// The fragment index would wrap past u16::MAX without a LAST.
    #[error("{kind} {seq}: more than 65 536 fragments")]
    TooManyFragments {
        /// The message.
        kind: Kind,
        /// Its seq.
        seq: u16,
    },
}

/// Cuts `frame` into the values to write or notify at `mtu`: each at most
/// `gatt::att_payload(mtu)` bytes.
pub fn fragment(frame: &Frame, mtu: u16) -> Result<Vec<Vec<u8>>, FrameError> {
    if mtu < gatt::DEFAULT_ATT_MTU {
        return Err(FrameError::MtuTooSmall { mtu, min: gatt::DEFAULT_ATT_MTU });
    }
    let len = frame.body.len();
    if len > MAX_BODY {
        return Err(FrameError::TooLong { seq: frame.seq, len: len as u64, max: MAX_BODY });
    }
    let payload = gatt::att_payload(mtu);
    let first_room = payload - FIRST_HEADER_LEN;
    let rest_room = payload - HEADER_LEN;
    let kind = frame.kind.code() << 4;
    let mut out = Vec::new();
    let (head, mut rest) = frame.body.split_at(first_room.min(len));
    let mut value = Vec::with_capacity(FIRST_HEADER_LEN + head.len());
    let last = if rest.is_empty() { FLAG_LAST } else { 0 };
    value.push(kind | FLAG_FIRST | last);
    value.extend_from_slice(&frame.seq.to_le_bytes());
    value.extend_from_slice(&0u16.to_le_bytes());
    value.extend_from_slice(&(len as u32).to_le_bytes());
    value.extend_from_slice(head);
    out.push(value);
    let mut index: u16 = 0;
    while !rest.is_empty() {
        // At most MAX_BODY / 15 + 1 fragments: the index cannot wrap.
        index = index.wrapping_add(1);
        let (chunk, tail) = rest.split_at(rest_room.min(rest.len()));
        rest = tail;
        let last = if rest.is_empty() { FLAG_LAST } else { 0 };
        let mut value = Vec::with_capacity(HEADER_LEN + chunk.len());
        value.push(kind | last);
        value.extend_from_slice(&frame.seq.to_le_bytes());
        value.extend_from_slice(&index.to_le_bytes());
        value.extend_from_slice(chunk);
        out.push(value);
    }
    Ok(out)
}

/// A message being put back together.
#[derive(Clone, Debug)]
struct Partial {
    kind: Kind,
    seq: u16,
    declared: u32,
    /// The index of the last fragment taken.
    last_index: u16,
    body: Vec<u8>,
}

/// Puts fragments back into frames: one per direction of a connection.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    partial: Option<Partial>,
}

impl Reassembler {
    /// A reassembler waiting for a FIRST fragment.
    pub fn new() -> Self {
        Reassembler::default()
    }

    /// Whether a message is half-assembled.
    pub fn is_assembling(&self) -> bool {
        self.partial.is_some()
    }

    /// Forgets any half-assembled message (on disconnect).
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Takes one GATT value. `Ok(Some(frame))` when it completes a message,
    /// `Ok(None)` when more fragments are needed. After an error the
    /// reassembler is reset and waits for the next FIRST fragment.
    pub fn push(&mut self, value: &[u8]) -> Result<Option<Frame>, FrameError> {
        let result = self.accept(value);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn accept(&mut self, value: &[u8]) -> Result<Option<Frame>, FrameError> {
        let [control, s0, s1, i0, i1, rest @ ..] = value else {
            return Err(FrameError::TooShort { len: value.len(), need: HEADER_LEN });
        };
        let control = *control;
        let kind = Kind::of_code(control >> 4)
            .ok_or(FrameError::UnknownKind { code: control >> 4, control })?;
        let flags = control & 0x0f;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(FrameError::UnknownFlags { control });
        }
        let seq = u16::from_le_bytes([*s0, *s1]);
        let index = u16::from_le_bytes([*i0, *i1]);
        let last = flags & FLAG_LAST != 0;
        if flags & FLAG_FIRST != 0 {
            let [l0, l1, l2, l3, body @ ..] = rest else {
                return Err(FrameError::TooShort { len: value.len(), need: FIRST_HEADER_LEN });
            };
            if let Some(p) = &self.partial {
                return Err(FrameError::Abandoned {
                    kind: p.kind,
                    abandoned: p.seq,
                    new_kind: kind,
                    new_seq: seq,
                });
            }
            if index != 0 {
                return Err(FrameError::OutOfOrder { kind, seq, expected: 0, got: index });
            }
            let declared = u32::from_le_bytes([*l0, *l1, *l2, *l3]);
            if declared as usize > MAX_BODY {
                return Err(FrameError::TooLong { seq, len: u64::from(declared), max: MAX_BODY });
            }
            let mut partial = Partial {
                kind,
                seq,
                declared,
                last_index: 0,
                body: Vec::with_capacity(declared as usize),
            };
            partial.take(body)?;
            return partial.finish_if(last, &mut self.partial);
        }
        let Some(partial) = self.partial.as_mut() else {
            return Err(FrameError::ContinuationWithoutFirst { kind, seq, index });
        };
        if partial.kind != kind || partial.seq != seq {
            return Err(FrameError::OtherMessage {
                kind: partial.kind,
                seq: partial.seq,
                got_kind: kind,
                got_seq: seq,
            });
        }
        let Some(expected) = partial.last_index.checked_add(1) else {
            return Err(FrameError::TooManyFragments { kind, seq });
        };
        if index != expected {
            return Err(FrameError::OutOfOrder { kind, seq, expected, got: index });
        }
        partial.take(rest)?;
        partial.last_index = index;
        let Some(partial) = self.partial.take() else {
            return Ok(None);
        };
        partial.finish_if(last, &mut self.partial)
    }
}

impl Partial {
    /// Appends body bytes, refusing to grow past the declared length.
    fn take(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let got = self.body.len() + bytes.len();
        if got > self.declared as usize {
            return Err(FrameError::LengthMismatch {
                kind: self.kind,
                seq: self.seq,
                declared: self.declared,
                got,
            });
        }
        self.body.extend_from_slice(bytes);
        Ok(())
    }

    /// Completes the frame at LAST, or puts itself back to wait for more.
    fn finish_if(
        self,
        last: bool,
        slot: &mut Option<Partial>,
    ) -> Result<Option<Frame>, FrameError> {
        if last {
            if self.body.len() != self.declared as usize {
                return Err(FrameError::LengthMismatch {
                    kind: self.kind,
                    seq: self.seq,
                    declared: self.declared,
                    got: self.body.len(),
                });
            }
            return Ok(Some(Frame { kind: self.kind, seq: self.seq, body: self.body }));
        }
        *slot = Some(self);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Frame {
        Frame { kind: Kind::Request, seq: 7, body: (0..len).map(|i| i as u8).collect() }
    }

    #[test]
    fn a_short_body_is_one_fragment_with_both_flags() {
        let values = fragment(&frame(3), 23).expect("fragments");
        assert_eq!(values, vec![vec![0x13, 7, 0, 0, 0, 3, 0, 0, 0, 0, 1, 2]]);
        let mut r = Reassembler::new();
        assert_eq!(r.push(&values[0]), Ok(Some(frame(3))));
    }

    #[test]
    fn a_long_body_spans_fragments_at_the_minimum_mtu() {
        let f = frame(40);
        let values = fragment(&f, 23).expect("fragments");
        // 11 bytes in the FIRST, 15 in each continuation.
        assert_eq!(values.len(), 3);
        assert!(values.iter().all(|v| v.len() <= 20));
        let mut r = Reassembler::new();
        assert_eq!(r.push(&values[0]), Ok(None));
        assert_eq!(r.push(&values[1]), Ok(None));
        assert_eq!(r.push(&values[2]), Ok(Some(f)));
    }

    #[test]
    fn limits_are_errors() {
        assert_eq!(fragment(&frame(1), 22), Err(FrameError::MtuTooSmall { mtu: 22, min: 23 }));
        assert!(matches!(fragment(&frame(MAX_BODY + 1), 23), Err(FrameError::TooLong { .. })));
        let mut r = Reassembler::new();
        let huge = [0x11, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(r.push(&huge), Err(FrameError::TooLong { .. })));
        assert!(!r.is_assembling());
    }

    #[test]
    fn the_largest_body_fits_at_the_smallest_mtu() {
        let f = frame(MAX_BODY);
        let values = fragment(&f, 23).expect("fragments");
        let mut r = Reassembler::new();
        let mut out = None;
        for v in &values {
            out = r.push(v).expect("in order");
        }
        assert_eq!(out, Some(f));
    }
}
