//! Collecting a card and confirming online on the reader.
//!
//! Collect waits for a card (a card left inserted from the last payment must
//! come out first); confirm asks the issuer through [`TestCards::authorize`],
//! which may ask for a PIN (and, for an SCA retry after a tap, the card
//! inserted) before it answers. Every payment ends in exactly one of
//! approved, declined, failed or canceled.
//!
//! Known simplification: the issuer answers a confirm at once. The time an
//! online authorization takes belongs to the links between POS, reader and
//! backend, which the simulator models; until then a payment is "mid-confirm"
//! only while it waits for a PIN or an insert.
//!
//! [`TestCards::authorize`]: crate::cards::TestCards::authorize

use super::{Conn, InputError, Payment, Phase, Reader, Slot};
use crate::cards::{Authorization, CardNumber, PinEntry};
use crate::error::TerminalErrorCode;
use crate::event::{CardSummary, EventBody, PaymentRequest, Prompt};
use crate::money::Money;
use crate::profile::EntryMode;
use crate::time::Millis;

impl Reader {
    pub(super) fn collect(&mut self, now: Millis, payment: String, amount: Money) {
        if let Err(code) = self.ready_for_request() {
            let request = PaymentRequest::Collect;
            return self.emit(now, EventBody::PaymentRefused { payment, request, code });
        }
        self.touch(now);
        self.emit(now, EventBody::CollectStarted { payment: payment.clone(), amount });
        let (phase, card) = match self.slot.clone() {
            Some(slot) if slot.left_behind => {
                self.emit(now, EventBody::Prompted { prompt: Prompt::RemoveCard });
                (Phase::AwaitingRemoval, None)
            }
            // A card inserted before the collect is read as soon as it starts.
            Some(slot) => {
                let (card, entry_mode) = (CardSummary::from(&slot.card), EntryMode::Chip);
                let id = payment.clone();
                self.emit(now, EventBody::Collected { payment: id, entry_mode, card });
                (Phase::Collected, Some((slot.card, EntryMode::Chip)))
            }
            None => (Phase::AwaitingCard, None),
        };
        self.payment =
            Some(Payment { id: payment, amount, phase, card, pin: PinEntry::NotEntered });
    }

    pub(super) fn present_card(
        &mut self,
        now: Millis,
        number: &CardNumber,
        mode: EntryMode,
    ) -> Result<(), InputError> {
        let card = self.cards.by_number(number.as_str()).cloned();
        let card = card.ok_or_else(|| InputError::UnknownCard { last4: number.last4() })?;
        if mode == EntryMode::Chip && self.slot.is_some() {
            return Err(InputError::SlotOccupied);
        }
        if self.power != super::Power::On {
            // A switched-off reader sees nothing; a chip card still sits in
            // the slot when it comes back.
            if mode == EntryMode::Chip {
                self.slot = Some(Slot { card, left_behind: false });
            }
            return Ok(());
        }
        self.touch(now);
        let summary = CardSummary::from(&card);
        if mode == EntryMode::Chip {
            self.slot = Some(Slot { card: card.clone(), left_behind: false });
            self.emit(now, EventBody::CardInserted { card: summary.clone() });
        } else {
            self.emit(now, EventBody::CardPresented { entry_mode: mode, card: summary.clone() });
        }
        if !self.profile.entry_modes.contains(&mode) {
            self.emit(now, EventBody::CardNotRead { entry_mode: mode });
            return Ok(());
        }
        let Some(payment) = self.payment.as_mut() else {
            return Ok(());
        };
        match payment.phase {
            Phase::AwaitingCard => {
                payment.phase = Phase::Collected;
                payment.card = Some((card, mode));
                let id = payment.id.clone();
                self.emit(
                    now,
                    EventBody::Collected { payment: id, entry_mode: mode, card: summary },
                );
            }
            Phase::AwaitingInsert if mode == EntryMode::Chip => {
                // The SCA retry: the issuer sees the inserted card and now
                // asks for the PIN.
                payment.card = Some((card, mode));
                payment.phase = Phase::Collected;
                self.authorize(now);
            }
            // Presented when the reader was not waiting for it: nothing to do.
            _ => {}
        }
        Ok(())
    }

    pub(super) fn remove_card(&mut self, now: Millis) -> Result<(), InputError> {
        let slot = self.slot.take().ok_or(InputError::NoCardInserted)?;
        if self.power != super::Power::On {
            return Ok(());
        }
        self.touch(now);
        self.emit(now, EventBody::CardRemoved { card: CardSummary::from(&slot.card) });
        let Some(payment) = self.payment.as_mut() else {
            return Ok(());
        };
        let uses_slot = matches!(payment.card, Some((_, EntryMode::Chip)));
        match payment.phase {
            Phase::AwaitingRemoval => payment.phase = Phase::AwaitingCard,
            // Pulling the chip card before the issuer answered ends the payment.
            Phase::Collected | Phase::AwaitingPin if uses_slot => {
                self.fail_payment(now, TerminalErrorCode::CardRemoved);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn confirm(&mut self, now: Millis, payment: &str) {
        let collected =
            self.payment.as_ref().is_some_and(|p| p.id == payment && p.phase == Phase::Collected);
        if !collected {
            let code = if matches!(self.conn, Conn::Connected { .. }) {
                TerminalErrorCode::InvalidRequiredParameter
            } else {
                TerminalErrorCode::NotConnectedToReader
            };
            let (payment, request) = (payment.to_owned(), PaymentRequest::Confirm);
            return self.emit(now, EventBody::PaymentRefused { payment, request, code });
        }
        self.touch(now);
        self.authorize(now);
    }

    pub(super) fn enter_pin(&mut self, now: Millis, pin: &str) -> Result<(), InputError> {
        if !self.profile.pin_entry {
            return Err(InputError::NoPinPad { model: self.profile.name.clone() });
        }
        let test_pin = self.cards.test_pin.clone();
        let payment = self.payment.as_mut().filter(|p| p.phase == Phase::AwaitingPin);
        let payment = payment.ok_or(InputError::NoPinRequested)?;
        payment.pin = if pin == test_pin { PinEntry::Correct } else { PinEntry::Wrong };
        let id = payment.id.clone();
        self.touch(now);
        self.emit(now, EventBody::PinEntered { payment: id });
        self.authorize(now);
        Ok(())
    }

    pub(super) fn cancel(&mut self, now: Millis, payment: &str) {
        let payment = payment.to_owned();
        if self.payment.as_ref().is_some_and(|p| p.id == payment) {
            // Ends like any outcome: a chip card stays behind to be removed.
            self.finish_payment(now, EventBody::PaymentCanceled { payment });
        } else {
            let (request, code) = (PaymentRequest::Cancel, TerminalErrorCode::CancelFailed);
            self.emit(now, EventBody::PaymentRefused { payment, request, code });
        }
    }

    pub(super) fn complete(&mut self, now: Millis, payment: &str) {
        let collected =
            self.payment.as_ref().is_some_and(|p| p.id == payment && p.phase == Phase::Collected);
        let payment = payment.to_owned();
        if collected {
            self.touch(now);
            self.finish_payment(now, EventBody::PaymentCompleted { payment });
        } else {
            let (request, code) =
                (PaymentRequest::Confirm, TerminalErrorCode::InvalidRequiredParameter);
            self.emit(now, EventBody::PaymentRefused { payment, request, code });
        }
    }

    /// Asks the issuer about the collected card and acts on the answer.
    fn authorize(&mut self, now: Millis) {
        let payment = self.payment.as_mut().expect("authorize runs on a payment");
        let (card, entry) = payment.card.clone().expect("a collected payment has a card");
        let answer =
            self.cards.authorize(&card, payment.amount, entry, payment.pin, self.profile.pin_entry);
        let id = payment.id.clone();
        match answer {
            Authorization::Approved => {
                let amount = payment.amount;
                self.finish_payment(now, EventBody::PaymentApproved { payment: id, amount });
            }
            Authorization::Declined { error_code, decline_code } => {
                let body = EventBody::PaymentDeclined { payment: id, error_code, decline_code };
                self.finish_payment(now, body);
            }
            // A PIN was entered and the issuer still wants one: that is a
            // decline, never a loop.
            Authorization::PinRequired { decline_code, .. }
                if payment.pin != PinEntry::NotEntered =>
            {
                let error_code = "card_declined".to_owned();
                let body = EventBody::PaymentDeclined { payment: id, error_code, decline_code };
                self.finish_payment(now, body);
            }
            Authorization::PinRequired { decline_code, insert_first } => {
                if insert_first && entry != EntryMode::Chip {
                    payment.phase = Phase::AwaitingInsert;
                    self.emit(now, EventBody::Prompted { prompt: Prompt::InsertCard });
                } else {
                    payment.phase = Phase::AwaitingPin;
                    self.emit(now, EventBody::PinRequested { payment: id, decline_code });
                }
            }
        }
    }

    /// Ends the payment with its one outcome; a chip card stays behind.
    fn finish_payment(&mut self, now: Millis, outcome: EventBody) {
        self.payment = None;
        self.emit(now, outcome);
        if let Some(slot) = self.slot.as_mut() {
            slot.left_behind = true;
            self.emit(now, EventBody::Prompted { prompt: Prompt::RemoveCard });
        }
    }

    /// Ends the payment in progress, if any, with `code`.
    pub(super) fn fail_payment(&mut self, at: Millis, code: TerminalErrorCode) {
        if let Some(payment) = self.payment.take() {
            self.emit(at, EventBody::PaymentFailed { payment: payment.id, code });
        }
        if let Some(slot) = self.slot.as_mut() {
            slot.left_behind = true;
        }
    }
}
