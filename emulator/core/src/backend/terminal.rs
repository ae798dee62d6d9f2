//! Stripe Terminal's side of the backend: locations, configurations, the
//! smart readers registered to the account, and their server-driven actions
//! (`process_payment_intent`, `cancel_action`, the `present_payment_method`
//! test helper).
//!
//! The backend does not run the readers. The rig tells it which emulated
//! smart readers exist ([`add_rig_reader`](crate::backend::Backend::add_rig_reader)) and when their internet
//! goes down or up; a reader action becomes a [`ReaderCommand`] the shell
//! drains with [`poll_reader_command`](crate::backend::Backend::poll_reader_command) and performs on the emulated
//! reader, and the shell reports the end with [`finish_reader_action`](crate::backend::Backend::finish_reader_action).
//! So the core stays sans-IO: commands are values, as events are.
//!
//! The requests themselves are in `terminal_requests.rs`, the rig's side in
//! `rig_readers.rs`; the JSON in `objects.rs`.

use crate::backend::api::Address;
use crate::cards::CardNumber;
use crate::money::Money;
use crate::offline::CaptureMethod;
use crate::profile::{EntryMode, ReaderModel};
use std::collections::{BTreeMap, VecDeque};

/// What the backend asks the shell to do to an emulated reader (or the rig).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderCommand {
    /// `process_payment_intent`: the reader shows the amount and waits for a card.
    Process {
        serial: String,
        intent: String,
        amount: Money,
        capture: CaptureMethod,
        /// The outside POS's name for the payment, from the intent's metadata.
        payment: Option<String>,
    },
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
