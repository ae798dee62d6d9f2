//! The two ends of the reader protocol over GATT values, sans-IO: a
//! [`PeripheralLink`] at the reader turns written values into commands and
//! replies and events into values to notify; a [`CentralLink`] at the POS
//! turns commands into values to write and notified values into responses
//! matched to their commands, or events with a count of the ones missed.
//!
//! They own the sequence numbers and the reassembly, and nothing else: no
//! I/O, no clock. The MTU may change between messages: a message is cut
//! into fragments when it is sent, so fragments already produced keep
//! their size and the next message uses the new MTU; reassembly does not
//! depend on the MTU at all. An MTU below 23 is raised to 23, the Core
//! spec's minimum.
//!
//! Event seqs count from 0 on every connection (a new [`PeripheralLink`],
//! or [`PeripheralLink::reset`]); the central expects 0 first, so an event
//! lost before the first one that arrives is counted too.

use super::frame::{Frame, FrameError, Kind, Reassembler, fragment};
use super::gatt;
use super::protocol::{Command, ProtocolError, Reply};
use crate::event::EventBody;
use std::collections::BTreeMap;

/// What went wrong at one end of the link.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A value that does not fit the framing (the message it belonged to,
    /// if any, is lost).
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// A whole message whose body is wrong: the peripheral may answer a
    /// bad request with [`Reply::Refused`] under its seq.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// A frame of a kind this end never receives (a request at the
    /// central, a response or event at the peripheral).
    #[error("unexpected {kind} {seq} at this end of the link")]
    UnexpectedKind {
        /// Its kind.
        kind: Kind,
        /// Its seq.
        seq: u16,
    },
    /// A response to no command in flight.
    #[error("response {seq} answers no command in flight")]
    UnknownResponse {
        /// Its seq.
        seq: u16,
    },
    /// The response to `seq` arrived but did not decode; the command is no
    /// longer pending and should be failed.
    #[error("response {seq} to {command:?}: {error}")]
    BadReply {
        /// The command's seq.
        seq: u16,
        /// The command it answered.
        command: Command,
        /// What was wrong.
        error: ProtocolError,
    },
    /// An event older than the last one seen (duplicated or reordered).
    #[error("event {seq} is stale: event {expected} was expected next")]
    StaleEvent {
        /// Its seq.
        seq: u16,
        /// The seq expected next.
        expected: u16,
    },
    /// Every one of the 65 536 request seqs is in flight.
    #[error("65 536 commands are in flight: no free seq")]
    NoFreeSeq,
}

fn at_least_min(mtu: u16) -> u16 {
    mtu.max(gatt::DEFAULT_ATT_MTU)
}

/// The reader's end: commands in, replies and events out.
#[derive(Clone, Debug)]
pub struct PeripheralLink {
    mtu: u16,
    reassembler: Reassembler,
    next_event_seq: u16,
}

impl PeripheralLink {
    /// A fresh connection at `mtu`.
    pub fn new(mtu: u16) -> Self {
        PeripheralLink {
            mtu: at_least_min(mtu),
            reassembler: Reassembler::new(),
            next_event_seq: 0,
        }
    }

    /// The MTU new messages are cut for.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The MTU was renegotiated.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = at_least_min(mtu);
    }

    /// A new connection: forgets any half-written request and numbers
    /// events from 0 again.
    pub fn reset(&mut self) {
        self.reassembler.reset();
        self.next_event_seq = 0;
    }

    /// A value the central wrote to the command characteristic: a whole
    /// command with its seq once its last fragment arrives.
    pub fn on_write(&mut self, value: &[u8]) -> Result<Option<(u16, Command)>, LinkError> {
        let Some(frame) = self.reassembler.push(value)? else {
            return Ok(None);
        };
        if frame.kind != Kind::Request {
            return Err(LinkError::UnexpectedKind { kind: frame.kind, seq: frame.seq });
        }
        Ok(Some((frame.seq, frame.decode_command()?)))
    }

    /// The values to notify answering request `seq`.
    pub fn respond(&self, seq: u16, reply: &Reply) -> Result<Vec<Vec<u8>>, LinkError> {
        Ok(fragment(&Frame::response(seq, reply)?, self.mtu)?)
    }

    /// The values to notify for an event; numbers it with the next event
    /// seq (only when it could be encoded, so a failure leaves no gap).
    pub fn notify(&mut self, body: &EventBody) -> Result<Vec<Vec<u8>>, LinkError> {
        let values = fragment(&Frame::event(self.next_event_seq, body)?, self.mtu)?;
        self.next_event_seq = self.next_event_seq.wrapping_add(1);
        Ok(values)
    }
}

/// A notified message, whole.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// The reply to a command sent with [`CentralLink::send`].
    Response {
        /// The seq the command went under.
        seq: u16,
        /// The command answered.
        command: Command,
        /// The reader's answer.
        reply: Reply,
    },
    /// An event.
    Event {
        /// Its seq.
        seq: u16,
        /// What happened.
        body: EventBody,
        /// Events skipped since the last one: lost notifications.
        missed: u16,
    },
}

/// The POS's end: commands out, responses and events in.
#[derive(Clone, Debug)]
pub struct CentralLink {
    mtu: u16,
    next_seq: u16,
    pending: BTreeMap<u16, Command>,
    reassembler: Reassembler,
    last_event_seq: Option<u16>,
}

impl CentralLink {
    /// A fresh connection at `mtu`.
    pub fn new(mtu: u16) -> Self {
        CentralLink {
            mtu: at_least_min(mtu),
            next_seq: 0,
            pending: BTreeMap::new(),
            reassembler: Reassembler::new(),
            last_event_seq: None,
        }
    }

    /// The MTU new messages are cut for.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The MTU was renegotiated.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = at_least_min(mtu);
    }

    /// Numbers `command` and cuts it into the values to write. It stays
    /// pending until its response arrives.
    pub fn send(&mut self, command: Command) -> Result<(u16, Vec<Vec<u8>>), LinkError> {
        let mut seq = self.next_seq;
        let mut tried = 0u32;
        while self.pending.contains_key(&seq) {
            seq = seq.wrapping_add(1);
            tried += 1;
            if tried > u32::from(u16::MAX) {
                return Err(LinkError::NoFreeSeq);
            }
        }
        let values = fragment(&Frame::request(seq, &command)?, self.mtu)?;
        self.next_seq = seq.wrapping_add(1);
        self.pending.insert(seq, command);
        Ok((seq, values))
    }

    /// The commands in flight, by seq.
    pub fn pending(&self) -> impl Iterator<Item = (u16, &Command)> {
        self.pending.iter().map(|(seq, c)| (*seq, c))
    }

    /// Takes the commands in flight (to fail them when the connection goes).
    pub fn take_pending(&mut self) -> Vec<(u16, Command)> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }

    /// A new connection: forgets half-notified messages, commands in
    /// flight, and the event numbering.
    pub fn reset(&mut self) {
        self.reassembler.reset();
        self.pending.clear();
        self.last_event_seq = None;
    }

    /// A value notified on the response/event characteristic: a whole
    /// response or event once its last fragment arrives.
    pub fn on_notification(&mut self, value: &[u8]) -> Result<Option<Inbound>, LinkError> {
        let Some(frame) = self.reassembler.push(value)? else {
            return Ok(None);
        };
        match frame.kind {
            Kind::Request => Err(LinkError::UnexpectedKind { kind: frame.kind, seq: frame.seq }),
            Kind::Response => {
                let seq = frame.seq;
                let Some(command) = self.pending.remove(&seq) else {
                    return Err(LinkError::UnknownResponse { seq });
                };
                match frame.decode_reply() {
                    Ok(reply) => Ok(Some(Inbound::Response { seq, command, reply })),
                    Err(error) => Err(LinkError::BadReply { seq, command, error }),
                }
            }
            Kind::Event => {
                let seq = frame.seq;
                let expected = self.last_event_seq.map_or(0, |l| l.wrapping_add(1));
                let missed = seq.wrapping_sub(expected);
                // More than half the seq space ahead is read as behind.
                if missed >= 0x8000 {
                    return Err(LinkError::StaleEvent { seq, expected });
                }
                let body = frame.decode_event()?;
                self.last_event_seq = Some(seq);
                Ok(Some(Inbound::Event { seq, body, missed }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_crosses_and_its_reply_comes_back_matched() {
        let mut central = CentralLink::new(23);
        let mut peripheral = PeripheralLink::new(23);
        let (seq, values) = central.send(Command::Reboot).expect("sends");
        let mut got = None;
        for v in &values {
            got = peripheral.on_write(v).expect("writes");
        }
        assert_eq!(got, Some((seq, Command::Reboot)));
        let mut inbound = None;
        for v in peripheral.respond(seq, &Reply::Accepted).expect("responds") {
            inbound = central.on_notification(&v).expect("notifies");
        }
        assert_eq!(
            inbound,
            Some(Inbound::Response { seq, command: Command::Reboot, reply: Reply::Accepted })
        );
        assert_eq!(central.pending().count(), 0);
    }

    #[test]
    fn a_response_to_nothing_is_an_error() {
        let mut central = CentralLink::new(100);
        let peripheral = PeripheralLink::new(100);
        let values = peripheral.respond(9, &Reply::Accepted).expect("responds");
        assert_eq!(central.on_notification(&values[0]), Err(LinkError::UnknownResponse { seq: 9 }));
    }

    #[test]
    fn a_duplicated_event_is_stale_and_a_lost_one_is_missed() {
        let mut central = CentralLink::new(100);
        let mut peripheral = PeripheralLink::new(100);
        let first = peripheral.notify(&EventBody::PoweredOn).expect("notifies");
        let _lost = peripheral.notify(&EventBody::PoweredOn).expect("notifies");
        let third = peripheral.notify(&EventBody::PoweredOn).expect("notifies");
        assert!(matches!(
            central.on_notification(&first[0]),
            Ok(Some(Inbound::Event { seq: 0, missed: 0, .. }))
        ));
        assert_eq!(
            central.on_notification(&first[0]),
            Err(LinkError::StaleEvent { seq: 0, expected: 1 })
        );
        assert!(matches!(
            central.on_notification(&third[0]),
            Ok(Some(Inbound::Event { seq: 2, missed: 1, .. }))
        ));
    }
}
