//! The reader protocol's messages, carried as JSON bodies of [`Frame`]s: the
//! POS sends a [`Command`] (one of the app-side reader inputs) as a request,
//! the reader answers each with a [`Reply`] under the same seq, and states
//! what happens as unsolicited events carrying [`EventBody`] exactly as the
//! history writes it. docs/ble-gatt.md gives a JSON example of each.

use super::frame::{Frame, Kind};
use crate::event::EventBody;
use crate::money::Money;
use crate::profile::LinkKind;
use crate::reader::Input;
use serde::{Deserialize, Serialize};

/// POS → reader: what the app asks of the reader through the SDK. The
/// app-side variants of [`Input`], without the link (the carrier is the
/// link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// `connectReader`.
    Connect {
        /// The POS asking.
        pos: String,
        /// `None` takes the profile's default.
        auto_reconnect: Option<bool>,
        /// The smart readers' `failIfInUse`.
        fail_if_in_use: bool,
    },
    /// `disconnectReader`.
    Disconnect,
    /// `rebootReader`.
    Reboot,
    /// `installAvailableUpdate`.
    InstallUpdate,
    /// `collectPaymentMethod`.
    Collect {
        /// The POS's name for the payment.
        payment: String,
        /// The amount.
        amount: Money,
    },
    /// `confirmPaymentIntent`.
    Confirm {
        /// The payment.
        payment: String,
    },
    /// Cancel the collect in progress.
    Cancel {
        /// The payment.
        payment: String,
    },
    /// The SDK took the collected payment to its end itself.
    Complete {
        /// The payment.
        payment: String,
    },
    /// Accept or reject the pairing code.
    ConfirmPairing {
        /// Whether the codes matched.
        accept: bool,
    },
    /// Hand over the card data collected for `payment`, encrypted for the
    /// backend: answered with [`Reply::CardData`]. What an SDK sends the
    /// backend to confirm or forward the payment; nothing in it is a card
    /// number in clear.
    CardData {
        /// The payment.
        payment: String,
    },
    /// Answered ([`Reply::Accepted`]) only after every event the reader
    /// notified before it: an SDK that must know it has heard everything
    /// up to now (a harness stepping its clock) sends it. Changes nothing.
    Sync,
}

impl Command {
    /// The reader input this command is, arriving over `via`; `None` for
    /// [`Command::CardData`], which asks for data and changes nothing.
    pub fn into_input(self, via: LinkKind) -> Option<Input> {
        Some(match self {
            Command::Connect { pos, auto_reconnect, fail_if_in_use } => {
                Input::Connect { pos, via, auto_reconnect, fail_if_in_use }
            }
            Command::Disconnect => Input::Disconnect,
            Command::Reboot => Input::Reboot,
            Command::InstallUpdate => Input::InstallUpdate,
            Command::Collect { payment, amount } => Input::Collect { payment, amount },
            Command::Confirm { payment } => Input::Confirm { payment },
            Command::Cancel { payment } => Input::Cancel { payment },
            Command::Complete { payment } => Input::Complete { payment },
            Command::ConfirmPairing { accept } => Input::ConfirmPairing { accept },
            Command::CardData { .. } | Command::Sync => return None,
        })
    }

    /// The command for an app-side input; `None` for inputs that come from
    /// the person at the counter or the world (cards, battery, links...).
    pub fn from_input(input: &Input) -> Option<Command> {
        Some(match input {
            Input::Connect { pos, via: _, auto_reconnect, fail_if_in_use } => Command::Connect {
                pos: pos.clone(),
                auto_reconnect: *auto_reconnect,
                fail_if_in_use: *fail_if_in_use,
            },
            Input::Disconnect => Command::Disconnect,
            Input::Reboot => Command::Reboot,
            Input::InstallUpdate => Command::InstallUpdate,
            Input::Collect { payment, amount } => {
                Command::Collect { payment: payment.clone(), amount: *amount }
            }
            Input::Confirm { payment } => Command::Confirm { payment: payment.clone() },
            Input::Cancel { payment } => Command::Cancel { payment: payment.clone() },
            Input::Complete { payment } => Command::Complete { payment: payment.clone() },
            Input::ConfirmPairing { accept } => Command::ConfirmPairing { accept: *accept },
            Input::PresentCard { .. }
            | Input::RemoveCard
            | Input::EnterPin { .. }
            | Input::Battery { .. }
            | Input::PowerOff
            | Input::PowerOn
            | Input::Signal { .. }
            | Input::BluetoothRadio { .. }
            | Input::Usb { .. }
            | Input::Lan { .. }
            | Input::RemovePairing
            | Input::Internet { .. }
            | Input::OfferUpdate(_)
            | Input::ShowRegistrationCode { .. }
            | Input::Register { .. } => return None,
        })
    }
}

/// Reader → POS: the answer to one [`Command`]. Outcomes (approved,
/// declined, connected...) follow as events; the reply only says whether
/// the reader took the command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The reader took the command.
    Accepted,
    /// The reader refused it as impossible (the reader's `InputError`).
    Refused {
        /// The error's text.
        message: String,
    },
    /// The answer to [`Command::CardData`]: an opaque value, sealed by the
    /// reader for the backend (docs/ble-gatt.md). The SDK sends it as
    /// `payment_method_data[card_present][emv_data]` or keeps it with a
    /// stored payment; only the rig's backend can open it.
    CardData {
        /// The sealed card data.
        emv_data: String,
        /// What the reader's kernel read of the card besides its number
        /// (brand, funding, CVM, expiry), as its row of the test-card
        /// table (docs/domain.md): what an SDK's offline rules need.
        simulated_type: String,
    },
}

/// What was wrong with a message's body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is not of the kind asked for.
    #[error("expected a {expected} frame, got a {got} (seq {seq})")]
    WrongKind {
        /// The kind the decoder wanted.
        expected: Kind,
        /// The frame's kind.
        got: Kind,
        /// The frame's seq.
        seq: u16,
    },
    /// The body is not the JSON of the message.
    #[error("{kind} {seq}: invalid body: {message}")]
    Json {
        /// The frame's kind.
        kind: Kind,
        /// The frame's seq.
        seq: u16,
        /// serde_json's message.
        message: String,
    },
    /// A message that does not serialize (not expected of these types).
    #[error("{kind} {seq}: cannot encode: {message}")]
    Encode {
        /// The frame's kind.
        kind: Kind,
        /// The frame's seq.
        seq: u16,
        /// serde_json's message.
        message: String,
    },
}

fn encode<T: Serialize>(kind: Kind, seq: u16, message: &T) -> Result<Frame, ProtocolError> {
    let body = serde_json::to_vec(message).map_err(|e| ProtocolError::Encode {
        kind,
        seq,
        message: e.to_string(),
    })?;
    Ok(Frame { kind, seq, body })
}

impl Frame {
    /// A request carrying `command`.
    pub fn request(seq: u16, command: &Command) -> Result<Frame, ProtocolError> {
        encode(Kind::Request, seq, command)
    }

    /// The response to request `seq`.
    pub fn response(seq: u16, reply: &Reply) -> Result<Frame, ProtocolError> {
        encode(Kind::Response, seq, reply)
    }

    /// Event number `seq`.
    pub fn event(seq: u16, body: &EventBody) -> Result<Frame, ProtocolError> {
        encode(Kind::Event, seq, body)
    }

    fn decode<'a, T: Deserialize<'a>>(&'a self, expected: Kind) -> Result<T, ProtocolError> {
        if self.kind != expected {
            return Err(ProtocolError::WrongKind { expected, got: self.kind, seq: self.seq });
        }
        serde_json::from_slice(&self.body).map_err(|e| ProtocolError::Json {
            kind: self.kind,
            seq: self.seq,
            message: e.to_string(),
        })
    }

    /// The command of a request.
    pub fn decode_command(&self) -> Result<Command, ProtocolError> {
        self.decode(Kind::Request)
    }

    /// The reply of a response.
    pub fn decode_reply(&self) -> Result<Reply, ProtocolError> {
        self.decode(Kind::Response)
    }

    /// The body of an event.
    pub fn decode_event(&self) -> Result<EventBody, ProtocolError> {
        self.decode(Kind::Event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn commands_are_tagged_snake_case_json() {
        let c = Command::Collect { payment: "p1".into(), amount: Money::new(1000, Currency::USD) };
        let frame = Frame::request(4, &c).expect("encodes");
        assert_eq!(
            String::from_utf8_lossy(&frame.body),
            r#"{"command":"collect","payment":"p1","amount":{"amount":1000,"currency":"usd"}}"#
        );
        assert_eq!(frame.decode_command(), Ok(c));
    }

    #[test]
    fn decoding_the_wrong_kind_or_bad_json_says_so() {
        let frame = Frame::response(1, &Reply::Accepted).expect("encodes");
        assert!(matches!(frame.decode_command(), Err(ProtocolError::WrongKind { .. })));
        let bad = Frame { kind: Kind::Request, seq: 2, body: b"{\"command\":\"fly\"}".to_vec() };
        let Err(ProtocolError::Json { message, .. }) = bad.decode_command() else {
            panic!("expected a JSON error");
        };
        assert!(message.contains("fly"), "{message}");
    }

    #[test]
    fn app_inputs_round_trip_and_world_inputs_are_not_commands() {
        let input = Input::Connect {
            pos: "pos-1".into(),
            via: LinkKind::Ble,
            auto_reconnect: None,
            fail_if_in_use: false,
        };
        let command = Command::from_input(&input).expect("app input");
        assert_eq!(command.into_input(LinkKind::Ble), Some(input));
        assert_eq!(Command::from_input(&Input::PowerOff), None);
    }
}
