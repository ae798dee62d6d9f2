//! Stripe Terminal's side of the backend: locations, configurations, the
//! smart readers registered to the account, and their server-driven actions
//! (`process_payment_intent`, `cancel_action`, the `present_payment_method`
//! test helper).
//!
//! The backend does not run the readers. The rig tells it which emulated
//! smart readers exist ([`Backend::add_rig_reader`]) and when their internet
//! goes down or up; a reader action becomes a [`ReaderCommand`] the shell
//! drains with [`Backend::poll_reader_command`] and performs on the emulated
//! reader, and the shell reports the end with [`Backend::finish_reader_action`].
//! So the core stays sans-IO: commands are values, as events are.
//!
//! The requests themselves are in `terminal_requests.rs`; the JSON in `objects.rs`.

use crate::backend::api::Address;
use crate::backend::ledger::Backend;
use crate::cards::CardNumber;
use crate::event::EventBody;
use crate::money::Money;
use crate::offline::CaptureMethod;
use crate::profile::{EntryMode, ReaderModel};
use crate::time::Millis;
use std::collections::{BTreeMap, VecDeque};

/// What the backend asks the shell to do to an emulated reader (or the rig).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderCommand {
    /// `process_payment_intent`: the reader shows the amount and waits for a card.
    Process { serial: String, intent: String, amount: Money, capture: CaptureMethod },
    /// The `present_payment_method` test helper: a card is held to the reader.
    /// Stripe's helper has no entry-mode parameter, so it is a tap.
    PresentCard { serial: String, number: CardNumber, entry_mode: EntryMode },
    /// `cancel_action`: the reader abandons its action.
    Cancel { serial: String },
    /// The account-default configuration's `offline[enabled]` changed: every
    /// reader of the rig follows it.
    Configure { offline_enabled: bool },
}

/// How a reader's action ended, as the shell saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionResult {
    /// The payment went through.
    Succeeded,
    /// It did not: Stripe's `failure_code` (`card_declined`, ...) and message.
    Failed { code: String, message: String },
}

/// A `terminal.location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// `tml_…`, from a counter, fixed width.
    pub id: String,
    pub account: String,
    pub livemode: bool,
    pub display_name: String,
    pub address: Address,
}

/// A `terminal.configuration`, limited to its `offline` part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// `tmc_…`, from a counter, fixed width.
    pub id: String,
    pub account: String,
    pub livemode: bool,
    pub name: Option<String>,
    /// The one configuration every reader without another one uses.
    pub is_account_default: bool,
    /// `offline.enabled`; `None` renders `offline: null` (never set).
    pub offline_enabled: Option<bool>,
}

/// Where a reader action stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl ActionStatus {
    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::InProgress => "in_progress",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
        }
    }
}

/// A reader's last `process_payment_intent` action.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderAction {
    /// The payment intent being processed.
    pub intent: String,
    /// The `process_config` it was started with, echoed.
    pub process_config: serde_json::Map<String, serde_json::Value>,
    pub status: ActionStatus,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
}

/// A `terminal.reader`: a rig reader registered to the account.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisteredReader {
    /// `tmr_…`, from a counter, fixed width.
    pub id: String,
    /// The rig's serial number.
    pub serial: String,
    pub model: ReaderModel,
    pub account: String,
    pub livemode: bool,
    pub location: Option<String>,
    pub label: String,
    /// The last action, if any.
    pub action: Option<ReaderAction>,
}

/// A smart reader of the rig, registered or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RigSlot {
    pub(super) serial: String,
    pub(super) model: ReaderModel,
    pub(super) online: bool,
    /// The `tmr_…` it is registered as.
    pub(super) reader: Option<String>,
}

/// The Terminal objects of the ledger.
#[derive(Debug)]
pub(super) struct Terminal {
    /// In the order the rig added them: registration binds the first free one.
    pub(super) rig: Vec<RigSlot>,
    pub(super) readers: BTreeMap<String, RegisteredReader>,
    pub(super) locations: BTreeMap<String, Location>,
    pub(super) configurations: BTreeMap<String, Configuration>,
    pub(super) commands: VecDeque<ReaderCommand>,
    pub(super) counters: TerminalCounters,
}

/// The counters Terminal ids are made from.
#[derive(Debug, Default)]
pub(super) struct TerminalCounters {
    pub(super) locations: u64,
    pub(super) readers: u64,
    pub(super) configurations: u64,
}

/// The account default configuration's id.
pub(super) const DEFAULT_CONFIGURATION: &str = "tmc_0000000000000001";

impl Terminal {
    /// No readers, no locations, and the account default configuration with
    /// offline mode off.
    pub(super) fn new(account: &str, livemode: bool) -> Terminal {
        let default = Configuration {
            id: DEFAULT_CONFIGURATION.to_owned(),
            account: account.to_owned(),
            livemode,
            name: None,
            is_account_default: true,
            offline_enabled: Some(false),
        };
        Terminal {
            rig: Vec::new(),
            readers: BTreeMap::new(),
            locations: BTreeMap::new(),
            configurations: BTreeMap::from([(default.id.clone(), default)]),
            commands: VecDeque::new(),
            counters: TerminalCounters { configurations: 1, ..TerminalCounters::default() },
        }
    }

    pub(super) fn slot(&self, serial: &str) -> Option<&RigSlot> {
        self.rig.iter().find(|s| s.serial == serial)
    }
}

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
