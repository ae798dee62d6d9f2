//! The POS-to-reader link carried outside the simulator: with
//! [`RigSpec::carried_reader_link`](super::RigSpec::carried_reader_link),
//! what the POS's SDK tells a Bluetooth reader (connect, collect, cancel,
//! complete) and what the reader reports back leave the simulator as
//! [`ReaderCall`]s and [`ReaderNotice`]s; a shell carries them over a real
//! Bluetooth carrier (BLE-over-TCP, or BlueZ) through the reader protocol
//! of `wire::ble`, and hands them back at the far end:
//! [`Sim::command_arrived`] at the reader, [`Sim::notice_arrived`] at the app.
//!
//! Only the messages cross the carrier. The link's state (signal, radio)
//! stays the rig's, moved by faults as on the sim target, so a scenario
//! means the same thing on both; the app still reads the reader's
//! connection status directly when it decides to start a payment.

use super::Sim;
use crate::core::EventBody;
use crate::core::LinkKind;
use crate::core::backend::{ApiRequest, PresentedCard};
use crate::core::offline::StoredCard;
use crate::core::reader::Input as ReaderInput;
use crate::wire::ble::frame::{Frame, fragment};
use crate::wire::ble::protocol::{Command, Reply};
use std::time::Duration;

/// A command from the POS's SDK to reader `reader`, for the carrier.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderCall {
    /// The reader's index in the rig.
    pub reader: usize,
    /// What the SDK asks.
    pub command: Command,
}

/// What the carrier of a reader's link must do next, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReaderTraffic {
    /// The radio link went down (`false`: signal lost, radio off) or came
    /// back (`true`): the carrier disconnects, or the POS reconnects.
    pub links: Vec<(usize, bool)>,
    /// SDK → reader.
    pub calls: Vec<ReaderCall>,
    /// Reader → SDK.
    pub notices: Vec<ReaderNotice>,
    /// The link's ATT MTU changed (an `mtu_reduced` fault or its end).
    pub mtus: Vec<(usize, u16)>,
}

/// An event of reader `reader`, for the carrier to bring to the POS.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderNotice {
    /// The reader's index in the rig.
    pub reader: usize,
    /// What happened (already in the history).
    pub body: EventBody,
    /// Lost on the air (a `notification_dropped` fault): the reader sends
    /// it (its sequence number is used) but the POS never receives it.
    pub lost: bool,
}

impl Sim {
    /// Whether reader `index`'s link to the POS is carried outside.
    pub(super) fn carries_reader(&self, index: usize) -> bool {
        self.spec.carried_reader_link && self.readers[index].via == LinkKind::Ble
    }

    /// The app's input to reader `index`: carried when the link is, in
    /// process otherwise. An impossible input (a card into an occupied
    /// slot) is the app's mistake, not the reader's behaviour; the app
    /// simply moves on.
    pub(super) fn command_reader(&mut self, index: usize, input: ReaderInput) {
        let air = self.air_time(index, || Frame::request(0, &Command::from_input(&input)?).ok());
        if air.is_zero() {
            self.deliver_command(index, input);
        } else {
            let at = self.now + air;
            self.at(at, super::Timer::Command(index, Box::new(input)));
        }
    }

    /// A command of the POS reaches reader `index` (after its air time).
    pub(super) fn deliver_command(&mut self, index: usize, input: ReaderInput) {
        if self.carries_reader(index)
            && let Some(command) = Command::from_input(&input)
        {
            self.reader_traffic.calls.push(ReaderCall { reader: index, command });
            return;
        }
        let now = self.now;
        let _ = self.readers[index].reader.handle(now, input);
    }

    /// Reader `index` reports `body` to the POS: dropped or delayed as
    /// the notification faults say, then carried or handed to the app.
    pub(super) fn notify_pos(&mut self, index: usize, body: EventBody) {
        let carried = self.carries_reader(index);
        let slot = &mut self.readers[index];
        let mut lost = false;
        if !slot.drop_next.is_empty() {
            let name = body.name();
            if let Some(at) = slot.drop_next.iter().position(|e| *e == name) {
                slot.drop_next.remove(at);
                lost = true;
            }
        }
        if lost && !carried {
            return;
        }
        let delay = slot.notice_delay;
        let delay = delay + self.air_time(index, || Frame::event(0, &body).ok());
        if !lost && !delay.is_zero() {
            let at = self.now + delay;
            self.at(at, super::Timer::Notice(index, Box::new(body)));
            return;
        }
        if carried {
            self.reader_traffic.notices.push(ReaderNotice { reader: index, body, lost });
        } else {
            self.on_reader_event(index, &body);
        }
    }

    /// A delayed notification reaches the POS now.
    pub(super) fn deliver_notice(&mut self, index: usize, body: EventBody) {
        if self.carries_reader(index) {
            self.reader_traffic.notices.push(ReaderNotice { reader: index, body, lost: false });
        } else {
            self.on_reader_event(index, &body);
        }
    }

    /// How long a message takes on reader `index`'s radio: one connection
    /// interval per fragment at the link's MTU (zero while the interval is
    /// not modelled, or for a link that is not Bluetooth).
    fn air_time(&self, index: usize, frame: impl FnOnce() -> Option<Frame>) -> Duration {
        let slot = &self.readers[index];
        if slot.interval.is_zero() || slot.via != LinkKind::Ble {
            return Duration::ZERO;
        }
        let fragments = frame().and_then(|f| fragment(&f, slot.mtu).ok()).map_or(1, |f| f.len());
        slot.interval * u32::try_from(fragments).unwrap_or(u32::MAX)
    }

    /// Reader `index`'s radio link now has ATT MTU `mtu`: a carried link's
    /// ends fragment to it from the next message on.
    pub(super) fn set_radio_mtu(&mut self, index: usize, mtu: u16) {
        self.readers[index].mtu = mtu;
        if self.carries_reader(index) {
            self.reader_traffic.mtus.push((index, mtu));
        }
    }

    /// The radio between the POS and reader `index` goes down or comes
    /// back: a carried link's carrier must follow.
    /// For a reader offered to an outside POS, the carrier is told the
    /// radio is up only while the reader is powered too.
    pub(super) fn radio_link(&mut self, index: usize, up: bool) {
        if !self.carries_reader(index) {
            return;
        }
        if self.spec.outside_pos {
            let slot = &mut self.readers[index];
            slot.radio_up = up;
            slot.offered_up = up && slot.reader.is_powered();
            self.reader_traffic.links.push((index, slot.offered_up));
        } else {
            self.reader_traffic.links.push((index, up));
        }
    }

    /// The link changes, commands and events to carry since the last time.
    /// A reader offered to an outside POS that powered off or on since
    /// (battery empty, idle power-down, a power fault) is a link change:
    /// a reader that is off answers no central.
    pub fn take_reader_traffic(&mut self) -> ReaderTraffic {
        if self.spec.outside_pos {
            for index in 0..self.readers.len() {
                if !self.carries_reader(index) {
                    continue;
                }
                let slot = &mut self.readers[index];
                let up = slot.radio_up && slot.reader.is_powered();
                if up != slot.offered_up {
                    slot.offered_up = up;
                    self.reader_traffic.links.push((index, up));
                }
            }
        }
        std::mem::take(&mut self.reader_traffic)
    }

    /// The mobile readers whose link is carried: index, model and serial.
    pub fn carried_readers(&self) -> Vec<(usize, crate::core::ReaderModel, String)> {
        (0..self.readers.len())
            .filter(|i| self.carries_reader(*i))
            .map(|i| (i, self.readers[i].model, self.readers[i].reader.serial().to_owned()))
            .collect()
    }

    /// A command arrived at reader `index` over its carrier.
    pub fn command_arrived(&mut self, index: usize, command: Command) -> Reply {
        let Some(slot) = self.readers.get_mut(index) else {
            return Reply::Refused { message: format!("no reader #{index} in the rig") };
        };
        let (now, via) = (self.now, slot.via);
        match &command {
            Command::CardData { payment } => return self.seal_card(index, payment),
            // Its reply follows every event already on its way (the carrier
            // sends queued notifications first).
            Command::Sync => return Reply::Accepted,
            _ => {}
        }
        let Some(input) = command.into_input(via) else {
            return Reply::Refused { message: "not a reader input".to_owned() };
        };
        let reply = match slot.reader.handle(now, input) {
            Ok(_) => Reply::Accepted,
            Err(error) => Reply::Refused { message: error.to_string() },
        };
        self.pump();
        reply
    }

    /// Reader `index` seals the card it collected for `payment` for the
    /// backend (`card_data`, docs/ble-gatt.md): the value names an entry of
    /// the rig's table, which only the backend's edge opens
    /// ([`Sim::open_sealed`]).
    fn seal_card(&mut self, index: usize, payment: &str) -> Reply {
        let reader = &self.readers[index].reader;
        let Some((card, mode, pin)) = reader.collected_card(payment) else {
            let message = format!("{} has collected no card for `{payment}`", reader.serial());
            return Reply::Refused { message };
        };
        // Opaque, but ending in the last four digits, which an SDK shows
        // (its stored payment's card summary) and may hold in clear.
        let emv_data =
            format!("emv_{}_{}_{}", reader.serial(), self.sealed.len() + 1, card.last4());
        let simulated_type = card.simulated_type.clone();
        self.sealed.push(StoredCard::read(card, mode, pin));
        Reply::CardData { emv_data, simulated_type }
    }

    /// The card a sealed value names, if it is one of this rig's.
    fn sealed_card(&self, value: &str) -> Option<&StoredCard> {
        let (rest, last4) = value.strip_prefix("emv_")?.rsplit_once('_')?;
        let (serial, n) = rest.rsplit_once('_')?;
        let card = self.sealed.get(n.parse::<usize>().ok()?.checked_sub(1)?)?;
        let sealed_by = self.readers.iter().any(|r| r.reader.serial() == serial);
        (sealed_by && card.number.last4() == last4).then_some(card)
    }

    /// Opens the sealed card data in an outside SDK's request, as Stripe
    /// decrypts a reader's EMV data: a confirm's or a forwarded payment's
    /// card given as `emv_data` becomes the card the reader read. A value
    /// that is not one of this rig's is left as it is (the backend then
    /// finds no such card: `incorrect_number`).
    pub(super) fn open_sealed(&self, request: &mut ApiRequest) {
        match request {
            ApiRequest::ConfirmPaymentIntent { card, .. } => {
                if let Some(sealed) = self.sealed_card(card.number.as_str()) {
                    *card = PresentedCard {
                        number: sealed.number.clone(),
                        entry_mode: sealed.entry_mode,
                        pin: sealed.pin,
                    };
                }
            }
            ApiRequest::ForwardOfflinePayment { payment } => {
                if let Some(sealed) = self.sealed_card(payment.card.number.as_str()) {
                    payment.card = sealed.clone();
                }
            }
            _ => {}
        }
    }

    /// An event of reader `index` arrived at the POS over its carrier.
    pub fn notice_arrived(&mut self, index: usize, body: &EventBody) {
        if index < self.readers.len() {
            self.on_reader_event(index, body);
            self.pump();
        }
    }
}
