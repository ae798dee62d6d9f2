//! What the Terminal requests and the list requests do once a call is
//! authenticated and its key is new: locations, configurations, reader
//! registration, reader actions, and the lists of intents and charges.
//!
//! Refusals use Stripe's codes: `resource_missing` (404), `terminal_reader_offline`,
//! `terminal_reader_busy`, `payment_intent_unexpected_state` (400). A refusal
//! that depends on the reader's state (offline, busy) is not saved under the
//! idempotency key, so a retry after the reader came back can run.

use crate::backend::api::{Address, ApiError, ApiErrorKind, ApiReply, ApiRequest, ListParams};
use crate::backend::ledger::{Backend, Caller, Executed};
use crate::backend::lists;
use crate::backend::objects;
use crate::backend::payments::{invalid, missing, owned_by};
use crate::backend::records::{IntentStatus, POS_PAYMENT_KEY};
use crate::backend::terminal::{
    ActionStatus, Configuration, DEFAULT_CONFIGURATION, Location, ReaderAction, ReaderCommand,
    RegisteredReader,
};
use crate::cards::CardNumber;
use crate::event::EventBody;
use crate::profile::{EntryMode, ReaderModel};
use crate::time::Millis;

/// The card `present_payment_method` presents when none is named (Stripe's default).
const DEFAULT_PRESENTED_CARD: &str = "4242424242424242";

impl Backend {
    /// Runs a Terminal or list request for `caller`.
    pub(super) fn execute_terminal(
        &mut self,
        now: Millis,
        caller: &Caller,
        request: &ApiRequest,
    ) -> Executed {
        let reply = match request {
            ApiRequest::ListPaymentIntents { page } => self.list_intents(caller, page),
            ApiRequest::ListCharges { page } => self.list_charges(caller, page),
            ApiRequest::CreateLocation { display_name, address } => {
                self.create_location(now, caller, display_name, address)
            }
            ApiRequest::RetrieveLocation { location } => match self.find_location(caller, location)
            {
                Ok(location) => ApiReply::Ok(objects::location(location)),
                Err(error) => ApiReply::Err(error),
            },
            ApiRequest::ListLocations { page } => self.list_locations(caller, page),
            ApiRequest::CreateConfiguration { name, offline_enabled } => {
                self.create_configuration(now, caller, name, *offline_enabled)
            }
            ApiRequest::UpdateConfiguration { configuration, name, offline_enabled } => {
                self.update_configuration(now, caller, configuration, name, *offline_enabled)
            }
            ApiRequest::RetrieveConfiguration { configuration } => {
                match self.find_configuration(caller, configuration) {
                    Ok(configuration) => ApiReply::Ok(objects::configuration(configuration)),
                    Err(error) => ApiReply::Err(error),
                }
            }
            ApiRequest::ListConfigurations { page } => self.list_configurations(caller, page),
            ApiRequest::RegisterReader { registration_code, location, label } => {
                return self.register(now, caller, registration_code, location, label);
            }
            ApiRequest::RetrieveReader { reader } => match self.find_reader(caller, reader) {
                Ok(reader) => ApiReply::Ok(self.reader_json(reader)),
                Err(error) => ApiReply::Err(error),
            },
            ApiRequest::ListReaders { page } => self.list_readers(caller, page),
            ApiRequest::DeleteReader { reader } => self.delete_reader(now, caller, reader),
            ApiRequest::ProcessPaymentIntent { reader, intent, process_config } => {
                return self.process(now, caller, reader, intent, process_config);
            }
            ApiRequest::CancelReaderAction { reader } => {
                return self.cancel_action(now, caller, reader);
            }
            ApiRequest::PresentPaymentMethod { reader, number } => {
                return self.present(caller, reader, number.as_ref());
            }
            // The payment requests are `payments.rs`'s; it hands over only these.
            other => unreachable!("not a Terminal request: {:?}", other.kind()),
        };
        Executed::Ran(reply)
    }

    fn create_location(
        &mut self,
        now: Millis,
        caller: &Caller,
        display_name: &str,
        address: &Address,
    ) -> ApiReply {
        self.terminal.counters.locations += 1;
        let id = format!("tml_{:016}", self.terminal.counters.locations);
        let location = Location {
            id: id.clone(),
            account: caller.account.clone(),
            livemode: caller.livemode,
            display_name: display_name.to_owned(),
            address: address.clone(),
        };
        let json = objects::location(&location);
        self.terminal.locations.insert(id.clone(), location);
        self.emit(now, EventBody::LocationCreated { location: id });
        ApiReply::Ok(json)
    }

    fn list_locations(&self, caller: &Caller, page: &ListParams) -> ApiReply {
        let ids =
            caller.owns(self.terminal.locations.values().map(|l| (&l.account, l.livemode, &l.id)));
        let locations = &self.terminal.locations;
        reply(lists::page("terminal.location", "/v1/terminal/locations", ids, page, |id| {
            objects::location(&locations[id])
        }))
    }

    fn create_configuration(
        &mut self,
        now: Millis,
        caller: &Caller,
        name: &Option<String>,
        offline_enabled: Option<bool>,
    ) -> ApiReply {
        self.terminal.counters.configurations += 1;
        let id = format!("tmc_{:016}", self.terminal.counters.configurations);
        let configuration = Configuration {
            id: id.clone(),
            account: caller.account.clone(),
            livemode: caller.livemode,
            name: name.clone(),
            is_account_default: false,
            offline_enabled,
        };
        let json = objects::configuration(&configuration);
        self.terminal.configurations.insert(id.clone(), configuration);
        let event = EventBody::ConfigurationUpdated {
            configuration: id,
            is_account_default: false,
            offline_enabled,
        };
        self.emit(now, event);
        ApiReply::Ok(json)
    }

    fn list_configurations(&self, caller: &Caller, page: &ListParams) -> ApiReply {
        let ids = caller
            .owns(self.terminal.configurations.values().map(|c| (&c.account, c.livemode, &c.id)));
        let configurations = &self.terminal.configurations;
        let url = "/v1/terminal/configurations";
        reply(lists::page("terminal.configuration", url, ids, page, |id| {
            objects::configuration(&configurations[id])
        }))
    }

    fn list_readers(&self, caller: &Caller, page: &ListParams) -> ApiReply {
        let ids =
            caller.owns(self.terminal.readers.values().map(|r| (&r.account, r.livemode, &r.id)));
        let readers = &self.terminal.readers;
        reply(lists::page("terminal.reader", "/v1/terminal/readers", ids, page, |id| {
            self.reader_json(&readers[id])
        }))
    }

    pub(super) fn list_intents(&self, caller: &Caller, page: &ListParams) -> ApiReply {
        let ids = self
            .intents
            .values()
            .filter(|i| i.account == caller.account && i.livemode == caller.livemode)
            .map(|i| i.id.clone())
            .collect();
        reply(lists::page("payment_intent", "/v1/payment_intents", ids, page, |id| {
            objects::payment_intent(&self.intents[id], &self.config)
        }))
    }

    pub(super) fn list_charges(&self, caller: &Caller, page: &ListParams) -> ApiReply {
        let ids =
            self.charges.values().filter(|c| owned_by(caller, c)).map(|c| c.id.clone()).collect();
        reply(lists::page("charge", "/v1/charges", ids, page, |id| {
            objects::charge(&self.charges[id], &self.config)
        }))
    }

    fn update_configuration(
        &mut self,
        now: Millis,
        caller: &Caller,
        id: &str,
        name: &Option<String>,
        offline_enabled: Option<bool>,
    ) -> ApiReply {
        if let Err(error) = self.find_configuration(caller, id) {
            return ApiReply::Err(error);
        }
        let configuration = self.terminal.configurations.get_mut(id).expect("found just above");
        let before = configuration.offline_enabled;
        if name.is_some() {
            configuration.name = name.clone();
        }
        if offline_enabled.is_some() {
            configuration.offline_enabled = offline_enabled;
        }
        let json = objects::configuration(configuration);
        let event = EventBody::ConfigurationUpdated {
            configuration: id.to_owned(),
            is_account_default: configuration.is_account_default,
            offline_enabled: configuration.offline_enabled,
        };
        let changed = configuration.offline_enabled != before;
        self.emit(now, event);
        if id == DEFAULT_CONFIGURATION
            && changed
            && let Some(enabled) = offline_enabled
        {
            self.terminal.commands.push_back(ReaderCommand::Configure { offline_enabled: enabled });
        }
        ApiReply::Ok(json)
    }

    fn register(
        &mut self,
        now: Millis,
        caller: &Caller,
        code: &str,
        location: &Option<String>,
        label: &Option<String>,
    ) -> Executed {
        let Some(model) =
            ReaderModel::ALL.into_iter().find(|m| m.simulated_registration_code() == Some(code))
        else {
            let mut error = invalid(
                "resource_missing",
                &format!("The registration code `{code}` is invalid or expired."),
            );
            error.param = Some(Box::new("registration_code".to_owned()));
            return Executed::Ran(ApiReply::Err(error));
        };
        if let Some(location) = location
            && let Err(mut error) = self.find_location(caller, location)
        {
            error.param = Some(Box::new("location".to_owned()));
            return Executed::Ran(ApiReply::Err(error));
        }
        // Every rig reader belongs to the rig's account: the registration
        // code names one of them, so another account's caller gets none.
        let free = (caller.account == self.config.account
            && caller.livemode == self.config.livemode)
            .then(|| self.terminal.rig.iter_mut().find(|s| s.model == model && s.reader.is_none()))
            .flatten();
        let Some(slot) = free else {
            // Not saved: once the rig has another reader, the same key may register it.
            let mut error = invalid(
                "terminal_reader_unavailable",
                &format!(
                    "No unregistered {model} reader ({}) is left in the rig for `{code}`: add \
                     one to the rig file (or delete a registered one) and try again.",
                    model.stripe_device_type()
                ),
            );
            error.param = Some(Box::new("registration_code".to_owned()));
            return Executed::Refused(error);
        };
        self.terminal.counters.readers += 1;
        let id = format!("tmr_{:016}", self.terminal.counters.readers);
        slot.reader = Some(id.clone());
        let serial = slot.serial.clone();
        let reader = RegisteredReader {
            id: id.clone(),
            serial: serial.clone(),
            model,
            account: caller.account.clone(),
            livemode: caller.livemode,
            location: location.clone(),
            label: label.clone().unwrap_or_else(|| serial.clone()),
            action: None,
        };
        let json = self.reader_json(&reader);
        self.terminal.readers.insert(id.clone(), reader);
        let event = EventBody::TerminalReaderRegistered {
            reader: id,
            serial,
            model,
            location: location.clone(),
        };
        self.emit(now, event);
        Executed::Ran(ApiReply::Ok(json))
    }

    fn delete_reader(&mut self, now: Millis, caller: &Caller, id: &str) -> ApiReply {
        let serial = match self.find_reader(caller, id) {
            Ok(reader) => reader.serial.clone(),
            Err(error) => return ApiReply::Err(error),
        };
        self.terminal.readers.remove(id);
        if let Some(slot) = self.terminal.rig.iter_mut().find(|s| s.serial == serial) {
            slot.reader = None;
        }
        self.emit(now, EventBody::TerminalReaderDeleted { reader: id.to_owned(), serial });
        ApiReply::Ok(serde_json::json!({"id": id, "object": "terminal.reader", "deleted": true}))
    }

    fn process(
        &mut self,
        now: Millis,
        caller: &Caller,
        reader_id: &str,
        intent_id: &str,
        process_config: &serde_json::Map<String, serde_json::Value>,
    ) -> Executed {
        let reader = match self.ready_reader(caller, reader_id) {
            Ok(reader) => reader,
            Err(refusal) => return refusal,
        };
        if reader.action.as_ref().is_some_and(|a| a.status == ActionStatus::InProgress) {
            return Executed::Refused(busy());
        }
        let serial = reader.serial.clone();
        let intent = match self.find_intent(caller, intent_id) {
            Ok(intent) => intent,
            Err(mut error) => {
                error.param = Some(Box::new("payment_intent".to_owned()));
                return Executed::Ran(ApiReply::Err(error));
            }
        };
        if intent.status != IntentStatus::RequiresPaymentMethod {
            return Executed::Ran(ApiReply::Err(self.unexpected_state(intent, "process")));
        }
        let command = ReaderCommand::Process {
            serial: serial.clone(),
            intent: intent_id.to_owned(),
            amount: intent.amount,
            capture: intent.capture,
            payment: intent.metadata.get(POS_PAYMENT_KEY).cloned(),
        };
        let reader = self.terminal.readers.get_mut(reader_id).expect("found just above");
        reader.action = Some(ReaderAction {
            intent: intent_id.to_owned(),
            process_config: process_config.clone(),
            status: ActionStatus::InProgress,
            failure_code: None,
            failure_message: None,
        });
        self.terminal.commands.push_back(command);
        let event = EventBody::ReaderActionStarted {
            reader: reader_id.to_owned(),
            serial,
            intent: intent_id.to_owned(),
        };
        self.emit(now, event);
        Executed::Ran(ApiReply::Ok(self.reader_json(&self.terminal.readers[reader_id])))
    }

    /// Stripe shows a canceled action as failed; it names no code for it, so
    /// the code is `canceled` (docs/http-api.md).
    fn cancel_action(&mut self, now: Millis, caller: &Caller, reader_id: &str) -> Executed {
        let reader = match self.ready_reader(caller, reader_id) {
            Ok(reader) => reader,
            Err(refusal) => return refusal,
        };
        let serial = reader.serial.clone();
        let reader = self.terminal.readers.get_mut(reader_id).expect("found just above");
        let Some(action) = reader.action.as_mut().filter(|a| a.status == ActionStatus::InProgress)
        else {
            return Executed::Refused(no_action());
        };
        action.status = ActionStatus::Failed;
        action.failure_code = Some("canceled".to_owned());
        action.failure_message = Some("The action was canceled.".to_owned());
        let event = EventBody::ReaderActionFinished {
            reader: reader_id.to_owned(),
            serial: serial.clone(),
            intent: action.intent.clone(),
            status: action.status.as_str().to_owned(),
            failure_code: action.failure_code.clone(),
        };
        self.terminal.commands.push_back(ReaderCommand::Cancel { serial });
        self.emit(now, event);
        Executed::Ran(ApiReply::Ok(self.reader_json(&self.terminal.readers[reader_id])))
    }

    fn present(
        &mut self,
        caller: &Caller,
        reader_id: &str,
        number: Option<&CardNumber>,
    ) -> Executed {
        // A card held to the reader is the customer's doing, not a call to
        // the reader: it works whether or not the reader's internet is up
        // (an action accepted online, then the internet drops, then the
        // tap: the reader stores the payment offline).
        let reader = match self.find_reader(caller, reader_id) {
            Ok(reader) => reader,
            Err(error) => return Executed::Ran(ApiReply::Err(error)),
        };
        if !reader.action.as_ref().is_some_and(|a| a.status == ActionStatus::InProgress) {
            return Executed::Refused(no_action());
        }
        let command = ReaderCommand::PresentCard {
            serial: reader.serial.clone(),
            number: number.cloned().unwrap_or_else(|| CardNumber::from(DEFAULT_PRESENTED_CARD)),
            entry_mode: EntryMode::Contactless,
        };
        let json = self.reader_json(reader);
        self.terminal.commands.push_back(command);
        Executed::Ran(ApiReply::Ok(json))
    }

    /// The caller's reader `id`, online: a missing one is a saved 404, an
    /// offline one a refusal that is not saved.
    fn ready_reader(&self, caller: &Caller, id: &str) -> Result<&RegisteredReader, Executed> {
        let reader = self.find_reader(caller, id).map_err(|e| Executed::Ran(ApiReply::Err(e)))?;
        if !self.terminal.slot(&reader.serial).is_some_and(|s| s.online) {
            return Err(Executed::Refused(invalid(
                "terminal_reader_offline",
                "Reader is currently offline, please ensure the reader is powered on and \
                 connected to the internet before retrying your request.",
            )));
        }
        Ok(reader)
    }

    fn reader_json(&self, reader: &RegisteredReader) -> serde_json::Value {
        let online = self.terminal.slot(&reader.serial).is_some_and(|s| s.online);
        objects::reader(reader, online)
    }

    fn find_location(&self, caller: &Caller, id: &str) -> Result<&Location, ApiError> {
        self.terminal
            .locations
            .get(id)
            .filter(|l| l.account == caller.account && l.livemode == caller.livemode)
            .ok_or_else(|| missing("terminal.location", id))
    }

    fn find_configuration(&self, caller: &Caller, id: &str) -> Result<&Configuration, ApiError> {
        self.terminal
            .configurations
            .get(id)
            .filter(|c| c.account == caller.account && c.livemode == caller.livemode)
            .ok_or_else(|| missing("terminal.configuration", id))
    }

    fn find_reader(&self, caller: &Caller, id: &str) -> Result<&RegisteredReader, ApiError> {
        self.terminal
            .readers
            .get(id)
            .filter(|r| r.account == caller.account && r.livemode == caller.livemode)
            .ok_or_else(|| missing("terminal.reader", id))
    }
}

fn reply(page: Result<serde_json::Value, ApiError>) -> ApiReply {
    match page {
        Ok(list) => ApiReply::Ok(list),
        Err(error) => ApiReply::Err(error),
    }
}

fn busy() -> ApiError {
    objects::error(
        400,
        ApiErrorKind::InvalidRequestError,
        Some("terminal_reader_busy"),
        "Reader is currently busy processing another request. Cancel the current action with \
         cancel_action or wait for it to finish before retrying.",
    )
}

/// A helper or a cancel with nothing in progress.
fn no_action() -> ApiError {
    objects::error(
        400,
        ApiErrorKind::InvalidRequestError,
        Some("terminal_reader_action_not_in_progress"),
        "The reader has no action in progress.",
    )
}

impl Caller {
    /// The ids, oldest first, of the records (account, mode, id) that belong
    /// to this caller's account and mode: what its lists show.
    fn owns<'a>(
        &self,
        records: impl Iterator<Item = (&'a String, bool, &'a String)>,
    ) -> Vec<String> {
        records
            .filter(|(account, livemode, _)| {
                **account == self.account && *livemode == self.livemode
            })
            .map(|(_, _, id)| id.clone())
            .collect()
    }
}
