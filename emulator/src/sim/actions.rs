//! Server-driven payments on smart readers: what the backend's reader
//! commands (`process_payment_intent`, the `present_payment_method` test
//! helper, `cancel_action`, a configuration change) do to the rig, and how
//! each action's end is reported back to the backend.
//!
//! The backend (core) decides what an API call means and queues a
//! [`ReaderCommand`]; this shell hands it to the reader and the reader's own
//! offline engine, exactly as the reference POS app hands over its
//! customers, and reads the engine's outcome events to end the action. The
//! command reaches the reader in process: Stripe pushes it over the
//! reader's connection, which the backend checked was up when it accepted
//! the call. A reader whose internet then drops still holds the action, and
//! its engine stores the payment offline like any intent created online.

use super::{Device, LinkId, Sim};
use crate::core::EntryMode;
use crate::core::EventBody;
use crate::core::Money;
use crate::core::backend::{ActionResult, ReaderCommand};
use crate::core::offline::{Account, CollectedCard, Input as EngineInput};
use crate::core::reader::Input as ReaderInput;

/// A server-driven payment in progress on one reader.
#[derive(Clone, Debug)]
pub(super) struct Action {
    /// The engine's name for the payment (`act_<intent>`).
    pub(super) payment: String,
    pub(super) amount: Money,
    /// The card presented, once presented (read when the reader collects).
    pub(super) card: Option<(String, EntryMode)>,
    /// Started over the reader's LAN API (`lan.rs`), not by the backend:
    /// its end is kept for the POS to read instead of reported to the
    /// backend.
    pub(super) lan: bool,
}

impl Sim {
    /// Performs every command the backend queued.
    pub(super) fn run_reader_commands(&mut self) -> bool {
        let mut moved = false;
        while let Some(command) = self.backend.poll_reader_command() {
            moved = true;
            self.reader_command(command);
        }
        moved
    }

    fn reader_command(&mut self, command: ReaderCommand) {
        let now = self.now;
        match command {
            ReaderCommand::Process { serial, intent, amount, capture, payment } => {
                let Some(index) = self.reader_index(&serial) else { return };
                let payment = self.action_name(payment, &intent);
                let action = Action { payment: payment.clone(), amount, card: None, lan: false };
                self.actions.insert(index, action);
                let input = EngineInput::AdoptPaymentIntent { payment, intent, amount, capture };
                self.engine_input(Device::Reader(index), input);
            }
            ReaderCommand::PresentCard { serial, number, entry_mode } => {
                let Some(index) = self.reader_index(&serial) else { return };
                let Some(action) = self.actions.get_mut(&index) else { return };
                action.card = Some((number.as_str().to_owned(), entry_mode));
                let reader = &mut self.readers[index].reader;
                let input = ReaderInput::PresentCard { number, mode: entry_mode };
                if reader.handle(now, input.clone()).is_err() {
                    // A card from an earlier payment still sits in the slot.
                    let _ = reader.handle(now, ReaderInput::RemoveCard);
                    let _ = reader.handle(now, input);
                }
            }
            ReaderCommand::Cancel { serial } => {
                let Some(index) = self.reader_index(&serial) else { return };
                if let Some(action) = self.actions.remove(&index) {
                    let input = ReaderInput::Cancel { payment: action.payment };
                    let _ = self.readers[index].reader.handle(now, input);
                }
            }
            ReaderCommand::Configure { offline_enabled } => {
                self.spec.offline.enabled = offline_enabled;
                let account =
                    Account { id: self.backend.config().account.clone(), livemode: false };
                let config = self.spec.offline.clone();
                for device in self.devices() {
                    let input = EngineInput::ConfigurationFetched {
                        account: account.clone(),
                        config: config.clone(),
                    };
                    self.engine_input(device, input);
                }
            }
        }
    }

    /// The engine's name for an action's payment: the outside POS's name
    /// (so the history names it as the scenario does), or `act_<intent>`;
    /// a name an earlier action took gets its intent appended (a POS that
    /// starts one payment twice must not make the engine refuse the second).
    fn action_name(&mut self, payment: Option<String>, intent: &str) -> String {
        let name = match payment {
            Some(name) if !self.action_names.contains(&name) => name,
            Some(name) => format!("{name}~{intent}"),
            None => format!("act_{intent}"),
        };
        self.action_names.insert(name.clone());
        name
    }

    /// The reader `index` said something an action waits for.
    pub(super) fn action_reader_event(&mut self, index: usize, body: &EventBody) {
        let Some(action) = self.actions.get(&index) else { return };
        match body {
            EventBody::Collected { payment, .. } if *payment == action.payment => {
                let Some((number, mode)) = action.card.clone() else { return };
                let card = CollectedCard::read(&number, mode);
                let payment = payment.clone();
                let device = Device::Reader(index);
                self.engine_input(
                    device,
                    EngineInput::Collected { payment: payment.clone(), card },
                );
                self.engine_input(device, EngineInput::Confirm { payment });
            }
            // The reader cannot take it at all (not yet connected, busy):
            // the action fails at once rather than waiting forever.
            EventBody::PaymentRefused { payment, code, .. } if *payment == action.payment => {
                let message = format!("The reader refused the payment ({code}).");
                let failed = ActionResult::Failed { code: code.name().to_lowercase(), message };
                self.end_action(index, failed);
            }
            EventBody::PaymentFailed { payment, .. } if *payment == action.payment => {
                let message = "the reader lost the payment".to_owned();
                let failed = ActionResult::Failed { code: "reader_error".to_owned(), message };
                self.end_action(index, failed);
            }
            _ => {}
        }
    }

    /// A smart reader's engine said something an action waits for.
    pub(super) fn action_device_event(&mut self, device: Device, body: &EventBody) {
        let Device::Reader(index) = device else { return };
        let Some(action) = self.actions.get(&index) else { return };
        let now = self.now;
        match body {
            EventBody::SdkIntentCreated { payment, .. } if *payment == action.payment => {
                let input =
                    ReaderInput::Collect { payment: payment.clone(), amount: action.amount };
                let _ = self.readers[index].reader.handle(now, input);
            }
            EventBody::SdkPaymentSucceeded { payment, .. }
            | EventBody::OfflinePaymentStored { payment, .. }
                if *payment == action.payment =>
            {
                if matches!(body, EventBody::OfflinePaymentStored { .. }) {
                    self.lan_stored(payment);
                }
                let input = ReaderInput::Complete { payment: payment.clone() };
                let _ = self.readers[index].reader.handle(now, input);
                self.end_action(index, ActionResult::Succeeded);
            }
            EventBody::SdkPaymentDeclined { payment, error_code, decline_code, .. }
                if *payment == action.payment =>
            {
                let input = ReaderInput::Complete { payment: payment.clone() };
                let _ = self.readers[index].reader.handle(now, input);
                let message = match decline_code {
                    Some(decline) => format!("The card was declined ({decline})."),
                    None => "The card was declined.".to_owned(),
                };
                self.end_action(index, ActionResult::Failed { code: error_code.clone(), message });
            }
            EventBody::SdkPaymentFailed { payment, code, .. } if *payment == action.payment => {
                let input = ReaderInput::Cancel { payment: payment.clone() };
                let _ = self.readers[index].reader.handle(now, input);
                let message = format!("The reader could not take the payment ({code}).");
                let failed = ActionResult::Failed { code: code.name().to_lowercase(), message };
                self.end_action(index, failed);
            }
            _ => {}
        }
    }

    fn end_action(&mut self, index: usize, result: ActionResult) {
        let Some(action) = self.actions.remove(&index) else { return };
        if action.lan {
            return self.lan_ended(&action.payment, result);
        }
        let now = self.now;
        let serial = self.readers[index].reader.serial().to_owned();
        self.backend.finish_reader_action(now, &serial, result);
    }

    /// Tells the backend whether a smart reader is reachable (its listed
    /// status, and whether it accepts actions).
    pub(super) fn backend_sees_link(&mut self, link: LinkId, up: bool) {
        if let LinkId::ReaderBackend(index) = link {
            let serial = self.readers[index].reader.serial().to_owned();
            self.backend.set_reader_online(&serial, up);
        }
    }
}
