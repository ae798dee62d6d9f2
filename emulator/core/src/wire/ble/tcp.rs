//! BLE-over-TCP, sans-IO: the few ATT-level operations a reader connection
//! needs (MTU exchange, writes and their acknowledgements, notifications,
//! reads, disconnect) as PDUs on a byte stream, so tools without a
//! Bluetooth stack can talk to an emulated reader. The tokio shells are
//! `ble::tcp` (both ends).
//!
//! Every PDU is `opcode (u8) | length (u16 LE) | payload (length bytes)`:
//!
//! | opcode | PDU            | direction | payload                          |
//! |--------|----------------|-----------|----------------------------------|
//! | `0x01` | MtuExchange    | both      | the sender's ATT MTU, u16 LE     |
//! | `0x02` | Write          | C → P     | the command characteristic value |
//! | `0x03` | WriteAck       | P → C     | empty                            |
//! | `0x04` | Notification   | P → C     | the response/event value         |
//! | `0x05` | ReadRequest    | C → P     | characteristic UUID, u128 LE     |
//! | `0x06` | ReadResponse   | P → C     | the characteristic's value       |
//! | `0x07` | ReadNotFound   | P → C     | empty                            |
//! | `0x08` | Disconnect     | both      | empty                            |
//!
//! A payload is at most [`MAX_PAYLOAD`] bytes (a value at the largest MTU);
//! fixed-size payloads must have exactly their size. The stream has no
//! resynchronisation point, so a [`PduDecoder`] error is final: the
//! decoder keeps returning it and the connection should be closed.

use super::gatt;

/// The largest payload: one value at [`gatt::MAX_ATT_MTU`].
pub const MAX_PAYLOAD: usize = gatt::att_payload(gatt::MAX_ATT_MTU);
/// Bytes before the payload: opcode and length.
pub const PDU_HEADER_LEN: usize = 3;

const OP_MTU: u8 = 0x01;
const OP_WRITE: u8 = 0x02;
const OP_WRITE_ACK: u8 = 0x03;
const OP_NOTIFICATION: u8 = 0x04;
const OP_READ_REQUEST: u8 = 0x05;
const OP_READ_RESPONSE: u8 = 0x06;
const OP_READ_NOT_FOUND: u8 = 0x07;
const OP_DISCONNECT: u8 = 0x08;

/// One ATT-level operation on the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pdu {
    /// The sender's ATT MTU; each end uses the smaller of the two.
    MtuExchange(u16),
    /// A value written to the command characteristic.
    Write(Vec<u8>),
    /// The peripheral queued the last write.
    WriteAck,
    /// A value notified on the response/event characteristic.
    Notification(Vec<u8>),
    /// Read this characteristic (Battery Level or Device Information).
    ReadRequest(u128),
    /// The value of the characteristic read.
    ReadResponse(Vec<u8>),
    /// The peripheral has no such characteristic.
    ReadNotFound,
    /// The sender is closing the connection.
    Disconnect,
}

/// What was wrong on the stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// An opcode this codec does not know.
    #[error("unknown opcode {opcode:#04x}")]
    UnknownOpcode {
        /// The opcode.
        opcode: u8,
    },
    /// A length over [`MAX_PAYLOAD`].
    #[error("PDU {opcode:#04x} of {len} bytes is over the maximum of {max}")]
    Oversize {
        /// The opcode.
        opcode: u8,
        /// Its length.
        len: usize,
        /// [`MAX_PAYLOAD`].
        max: usize,
    },
    /// A fixed-size payload of the wrong size.
    #[error("PDU {opcode:#04x} must carry {want} bytes, not {len}")]
    BadLength {
        /// The opcode.
        opcode: u8,
        /// Its length.
        len: usize,
        /// The size it must have.
        want: usize,
    },
}

impl Pdu {
    fn opcode(&self) -> u8 {
        match self {
            Pdu::MtuExchange(_) => OP_MTU,
            Pdu::Write(_) => OP_WRITE,
            Pdu::WriteAck => OP_WRITE_ACK,
            Pdu::Notification(_) => OP_NOTIFICATION,
            Pdu::ReadRequest(_) => OP_READ_REQUEST,
            Pdu::ReadResponse(_) => OP_READ_RESPONSE,
            Pdu::ReadNotFound => OP_READ_NOT_FOUND,
            Pdu::Disconnect => OP_DISCONNECT,
        }
    }

    /// The PDU's bytes on the stream; a value over [`MAX_PAYLOAD`] is an
    /// error.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mtu;
        let uuid;
        let payload: &[u8] = match self {
            Pdu::MtuExchange(m) => {
                mtu = m.to_le_bytes();
                &mtu
            }
            Pdu::ReadRequest(u) => {
                uuid = u.to_le_bytes();
                &uuid
            }
            Pdu::Write(v) | Pdu::Notification(v) | Pdu::ReadResponse(v) => v,
            Pdu::WriteAck | Pdu::ReadNotFound | Pdu::Disconnect => &[],
        };
        let opcode = self.opcode();
        if payload.len() > MAX_PAYLOAD {
            return Err(PduError::Oversize { opcode, len: payload.len(), max: MAX_PAYLOAD });
        }
        let mut out = Vec::with_capacity(PDU_HEADER_LEN + payload.len());
        out.push(opcode);
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        out.extend_from_slice(payload);
        Ok(out)
    }

    fn decode(opcode: u8, payload: &[u8]) -> Result<Pdu, PduError> {
        let exact = |want: usize| {
            if payload.len() == want {
                Ok(())
            } else {
                Err(PduError::BadLength { opcode, len: payload.len(), want })
            }
        };
        Ok(match opcode {
            OP_MTU => {
                exact(2)?;
                Pdu::MtuExchange(u16::from_le_bytes([payload[0], payload[1]]))
            }
            OP_WRITE => Pdu::Write(payload.to_vec()),
            OP_WRITE_ACK => {
                exact(0)?;
                Pdu::WriteAck
            }
            OP_NOTIFICATION => Pdu::Notification(payload.to_vec()),
            OP_READ_REQUEST => {
                let bytes: [u8; 16] = payload.try_into().map_err(|_| PduError::BadLength {
                    opcode,
                    len: payload.len(),
                    want: 16,
                })?;
                Pdu::ReadRequest(u128::from_le_bytes(bytes))
            }
            OP_READ_RESPONSE => Pdu::ReadResponse(payload.to_vec()),
            OP_READ_NOT_FOUND => {
                exact(0)?;
                Pdu::ReadNotFound
            }
            OP_DISCONNECT => {
                exact(0)?;
                Pdu::Disconnect
            }
            _ => return Err(PduError::UnknownOpcode { opcode }),
        })
    }
}

/// Cuts a byte stream, arriving in chunks of any size, into PDUs.
#[derive(Clone, Debug, Default)]
pub struct PduDecoder {
    buffer: Vec<u8>,
    failed: Option<PduError>,
}

impl PduDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        PduDecoder::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(chunk);
        }
    }

    /// The next whole PDU, `Ok(None)` when more bytes are needed. An error
    /// is final: every later call returns it again.
    pub fn next_pdu(&mut self) -> Result<Option<Pdu>, PduError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.parse();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.buffer = Vec::new();
        }
        result
    }

    fn parse(&mut self) -> Result<Option<Pdu>, PduError> {
        let [opcode, l0, l1, ..] = self.buffer[..] else {
            return Ok(None);
        };
        if !(OP_MTU..=OP_DISCONNECT).contains(&opcode) {
            return Err(PduError::UnknownOpcode { opcode });
        }
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        if len > MAX_PAYLOAD {
            return Err(PduError::Oversize { opcode, len, max: MAX_PAYLOAD });
        }
        let end = PDU_HEADER_LEN + len;
        let Some(payload) = self.buffer.get(PDU_HEADER_LEN..end) else {
            return Ok(None);
        };
        let pdu = Pdu::decode(opcode, payload)?;
        self.buffer.drain(..end);
        Ok(Some(pdu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdus_survive_being_split_byte_by_byte() {
        let pdus = vec![
            Pdu::MtuExchange(185),
            Pdu::Write(vec![1, 2, 3]),
            Pdu::WriteAck,
            Pdu::ReadRequest(gatt::BATTERY_LEVEL_CHAR),
            Pdu::ReadResponse(vec![87]),
            Pdu::ReadNotFound,
            Pdu::Notification(vec![0; MAX_PAYLOAD]),
            Pdu::Disconnect,
        ];
        let stream: Vec<u8> = pdus.iter().flat_map(|p| p.encode().expect("fits")).collect();
        let mut decoder = PduDecoder::new();
        let mut out = Vec::new();
        for byte in stream {
            decoder.push(&[byte]);
            while let Some(pdu) = decoder.next_pdu().expect("valid") {
                out.push(pdu);
            }
        }
        assert_eq!(out, pdus);
    }

    #[test]
    fn bad_streams_are_final_errors() {
        let mut decoder = PduDecoder::new();
        decoder.push(&[0x09, 0, 0]);
        assert_eq!(decoder.next_pdu(), Err(PduError::UnknownOpcode { opcode: 9 }));
        assert_eq!(decoder.next_pdu(), Err(PduError::UnknownOpcode { opcode: 9 }));
        let mut decoder = PduDecoder::new();
        decoder.push(&[OP_WRITE, 0xff, 0xff]);
        assert!(matches!(decoder.next_pdu(), Err(PduError::Oversize { len: 65535, .. })));
        let mut decoder = PduDecoder::new();
        decoder.push(&[OP_MTU, 1, 0, 23]);
        assert_eq!(
            decoder.next_pdu(),
            Err(PduError::BadLength { opcode: OP_MTU, len: 1, want: 2 })
        );
        assert!(Pdu::Write(vec![0; MAX_PAYLOAD + 1]).encode().is_err());
    }
}
