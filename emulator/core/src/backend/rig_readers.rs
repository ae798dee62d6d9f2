//! The rig's side of Stripe Terminal: the shell tells the backend which
//! emulated smart readers exist and when their internet goes down or up,
//! drains the [`ReaderCommand`]s their server-driven actions become, and
//! reports each action's end. Kept apart from the records in `terminal.rs`
//! so those do not depend on the ledger that holds them.

use crate::backend::ledger::Backend;
use crate::backend::terminal::{
    ActionResult, ActionStatus, Configuration, DEFAULT_CONFIGURATION, Location, ReaderCommand,
    RegisteredReader, RigSlot,
};
use crate::event::EventBody;
use crate::profile::ReaderModel;
use crate::time::Millis;
impl Backend {
    /// The rig has an emulated smart reader `serial` of `model` (online); a
    /// `POST /v1/terminal/readers` with the model's simulated registration
    /// code can bind it. Adding a serial twice changes nothing.
    pub fn add_rig_reader(&mut self, serial: &str, model: ReaderModel) {
        if self.terminal.slot(serial).is_none() {
            let slot = RigSlot { serial: serial.to_owned(), model, online: true, reader: None };
            self.terminal.rig.push(slot);
        }
    }

    /// A rig reader's internet went down or came back: its `status`.
    pub fn set_reader_online(&mut self, serial: &str, online: bool) {
        if let Some(slot) = self.terminal.rig.iter_mut().find(|s| s.serial == serial) {
            slot.online = online;
        }
    }

    /// Sets the account default configuration's `offline.enabled` as the rig
    /// starts (no command: the rig configures its readers itself).
    pub fn set_default_offline(&mut self, enabled: bool) {
        if let Some(default) = self.terminal.configurations.get_mut(DEFAULT_CONFIGURATION) {
            default.offline_enabled = Some(enabled);
        }
    }

    /// The account default configuration's `offline.enabled`.
    pub fn default_offline(&self) -> bool {
        self.terminal
            .configurations
            .get(DEFAULT_CONFIGURATION)
            .and_then(|c| c.offline_enabled)
            .unwrap_or(false)
    }

    /// The next command for the shell, oldest first.
    pub fn poll_reader_command(&mut self) -> Option<ReaderCommand> {
        self.terminal.commands.pop_front()
    }

    /// The reader `serial` finished its action (the shell saw the payment
    /// end). An action no longer in progress (canceled meanwhile) keeps its
    /// status; an unknown or unregistered serial is ignored.
    pub fn finish_reader_action(&mut self, now: Millis, serial: &str, result: ActionResult) {
        let Some(id) = self.terminal.slot(serial).and_then(|s| s.reader.clone()) else {
            return;
        };
        let Some(reader) = self.terminal.readers.get_mut(&id) else {
            return;
        };
        let Some(action) = reader.action.as_mut().filter(|a| a.status == ActionStatus::InProgress)
        else {
            return;
        };
        match result {
            ActionResult::Succeeded => action.status = ActionStatus::Succeeded,
            ActionResult::Failed { code, message } => {
                action.status = ActionStatus::Failed;
                action.failure_code = Some(code);
                action.failure_message = Some(message);
            }
        }
        let event = EventBody::ReaderActionFinished {
            reader: id,
            serial: serial.to_owned(),
            intent: action.intent.clone(),
            status: action.status.as_str().to_owned(),
            failure_code: action.failure_code.clone(),
        };
        self.emit(now, event);
    }

    /// Every registered reader, in registration order.
    pub fn registered_readers(&self) -> impl Iterator<Item = &RegisteredReader> {
        self.terminal.readers.values()
    }

    /// The registered reader a rig serial is bound to, if any.
    pub fn registered_reader(&self, serial: &str) -> Option<&RegisteredReader> {
        let id = self.terminal.slot(serial)?.reader.as_ref()?;
        self.terminal.readers.get(id)
    }

    /// Every location, in creation order.
    pub fn locations(&self) -> impl Iterator<Item = &Location> {
        self.terminal.locations.values()
    }

    /// Every configuration, in creation order (the account default first).
    pub fn configurations(&self) -> impl Iterator<Item = &Configuration> {
        self.terminal.configurations.values()
    }
}
