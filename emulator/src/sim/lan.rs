//! A smart reader's LAN API: how a POS with the Terminal SDK reaches an
//! internet reader (docs/control-api.md, "The reader's LAN API"). The POS
//! asks the reader to take a payment with an OfflineBehavior; the reader's
//! own engine creates the intent (online, or offline when its internet is
//! down), has the card collected and confirms, exactly as readerlab's
//! reference POS asks it in process; the outcome is kept by payment name
//! for the POS to read. It is what lets the reference POS run outside
//! readerlab (`readerlab adapter`) and be judged against itself.
//!
//! The payment runs as an action (`actions.rs`) that ends here instead of
//! at the backend.

use super::actions::Action;
use super::{Device, LinkId, Sim};
use crate::core::backend::ActionResult;
use crate::core::offline::{CaptureMethod, Input as EngineInput, OfflineBehavior};
use crate::core::{ConnectionStatus, Money};
use serde::Serialize;

/// A LAN payment as the POS reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LanPayment {
    /// `in_progress`, `succeeded`, `stored` (taken offline, to be
    /// forwarded), `declined`, `failed` or `canceled`.
    pub status: &'static str,
    /// The failure's code (`card_declined`, an SDK error code).
    pub code: Option<String>,
    /// What the reader said about it.
    pub message: Option<String>,
}

/// Why the reader did not take a payment (nothing started).
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    #[error("no reader #{0} in the rig")]
    NoSuchReader(usize),
    #[error("reader #{0} is not a smart reader: it has no LAN API")]
    NotSmart(usize),
    #[error("the POS cannot reach reader #{0} over the LAN (its link is down)")]
    Unreachable(usize),
    /// A reader that is off or still starting answers nothing on its LAN.
    #[error("reader #{0} does not answer on its LAN: it is off or starting")]
    Silent(usize),
    #[error("reader #{0} is not ready: {1}")]
    NotReady(usize, &'static str),
    #[error("a payment is already called `{0}`")]
    Duplicate(String),
}

impl Sim {
    /// The POS asks smart reader `index` to take `payment`.
    pub fn lan_collect(
        &mut self,
        index: usize,
        payment: String,
        amount: Money,
        behavior: OfflineBehavior,
    ) -> Result<(), LanError> {
        self.lan_reachable(index)?;
        let slot = &self.readers[index];
        let device = slot.device.as_ref().ok_or(LanError::NotSmart(index))?;
        if !slot.reader.is_powered() || !device.is_up() {
            return Err(LanError::NotReady(index, "it is off or starting"));
        }
        if slot.reader.status() != ConnectionStatus::Connected {
            return Err(LanError::NotReady(index, "it is not connected"));
        }
        if slot.reader.is_busy() || self.actions.contains_key(&index) {
            return Err(LanError::NotReady(index, "it is busy with a payment"));
        }
        if self.lan.contains_key(&payment) || self.action_names.contains(&payment) {
            return Err(LanError::Duplicate(payment));
        }
        self.action_names.insert(payment.clone());
        self.lan.insert(payment.clone(), in_progress());
        let action = Action { payment: payment.clone(), amount, card: None, lan: true };
        self.actions.insert(index, action);
        let input = EngineInput::CreatePaymentIntent {
            payment,
            amount,
            behavior,
            capture: CaptureMethod::Automatic,
        };
        self.engine_input(Device::Reader(index), input);
        self.pump();
        Ok(())
    }

    /// A LAN payment's state, if the POS started one of that name on
    /// reader `index`; `Err` when the POS cannot reach the reader.
    pub fn lan_payment(&self, index: usize, payment: &str) -> Result<Option<LanPayment>, LanError> {
        self.lan_reachable(index)?;
        let slot = &self.readers[index];
        if !slot.reader.is_powered() || !slot.device.as_ref().is_some_and(|d| d.is_up()) {
            return Err(LanError::Silent(index));
        }
        Ok(self.lan.get(payment).cloned())
    }

    /// The POS gives up on a LAN payment still in progress: the reader
    /// cancels the collect. A payment already ended stays as it ended.
    pub fn lan_cancel(&mut self, index: usize, payment: &str) -> Result<(), LanError> {
        self.lan_reachable(index)?;
        let ours = self.actions.get(&index).is_some_and(|a| a.lan && a.payment == payment);
        if !ours {
            return Ok(());
        }
        self.actions.remove(&index);
        let now = self.now;
        let cancel = crate::core::reader::Input::Cancel { payment: payment.to_owned() };
        let _ = self.readers[index].reader.handle(now, cancel);
        if let Some(state) = self.lan.get_mut(payment) {
            state.status = "canceled";
        }
        self.pump();
        Ok(())
    }

    fn lan_reachable(&self, index: usize) -> Result<(), LanError> {
        let slot = self.readers.get(index).ok_or(LanError::NoSuchReader(index))?;
        slot.device.as_ref().ok_or(LanError::NotSmart(index))?;
        if self.links.get(&LinkId::PosReader(index)).is_some_and(|l| l.up) {
            Ok(())
        } else {
            Err(LanError::Unreachable(index))
        }
    }

    /// The reader's engine stored it offline (its action then succeeds).
    pub(super) fn lan_stored(&mut self, payment: &str) {
        if let Some(state) = self.lan.get_mut(payment) {
            state.status = "stored";
        }
    }

    /// A LAN payment's action ended.
    pub(super) fn lan_ended(&mut self, payment: &str, result: ActionResult) {
        let Some(state) = self.lan.get_mut(payment) else { return };
        match result {
            ActionResult::Succeeded if state.status == "stored" => {}
            ActionResult::Succeeded => state.status = "succeeded",
            ActionResult::Failed { code, message } => {
                state.status = if code == "card_declined" { "declined" } else { "failed" };
                state.code = Some(code);
                state.message = Some(message);
            }
        }
    }
}

fn in_progress() -> LanPayment {
    LanPayment { status: "in_progress", code: None, message: None }
}
