//! The event vocabulary: every fact a part of the rig can state in a history.
//!
//! A state machine emits [`EventBody`] values as its effects; the shell that
//! runs it stamps each with a sequence number, the time and the emitting
//! [`Part`], and writes it as one JSON line (see `docs/history.md`, which lists
//! every name below and must change in the same commit as this file).
//!
//! Events never carry a full card number or a PIN (invariant I7): cards appear
//! as [`CardSummary`] (brand, funding, last four digits).

use crate::cards::{Brand, Funding, TestCard};
use crate::defect::Defects;
use crate::error::TerminalErrorCode;
use crate::fault::FaultKind;
use crate::money::{Currency, Money};
use crate::offline::{ForwardError, Mode, OfflineBehavior, OfflineConfig, OfflineId};
use crate::profile::{DiscoveryMethod, EntryMode, LinkKind, ReaderModel};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The part of the rig that emitted an event: `pos`, `backend`, `fault`,
/// `rig`, or `reader/<serial>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Part(pub String);

impl Part {
    /// The reader with this serial number.
    pub fn reader(serial: &str) -> Part {
        Part(format!("reader/{serial}"))
    }

    /// The POS app and its SDK.
    pub fn pos() -> Part {
        Part("pos".to_owned())
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line of a history: an event with its envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, from 1, without gaps.
    pub seq: u64,
    /// When it happened, in milliseconds since the rig started.
    pub t_ms: Millis,
    /// Who said it.
    pub part: Part,
    /// What was said: the dotted `event` name and its fields.
    #[serde(flatten)]
    pub body: EventBody,
}

/// A card as events may show it: never the full number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    /// Network.
    pub brand: Brand,
    /// Credit, debit or prepaid.
    pub funding: Funding,
    /// Last four digits.
    pub last4: String,
}

impl From<&TestCard> for CardSummary {
    fn from(card: &TestCard) -> Self {
        CardSummary { brand: card.brand, funding: card.funding, last4: card.last4().to_owned() }
    }
}

/// A PaymentIntent's `offlineDetails` (docs/domain.md §3): what the app
/// can read about a payment stored offline before it is forwarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineDetails {
    /// `storedAt`.
    pub stored_at: Millis,
    /// `requiresUpload`: true until the payment is forwarded.
    pub requires_upload: bool,
    /// `amountDetails`.
    pub amount: Money,
    /// `cardPresentDetails`: brand, funding, last four, and how it was read.
    pub card: CardSummary,
    /// How the card was read.
    pub entry_mode: EntryMode,
}

/// Why a reader and the POS parted (docs/domain.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// No better reason known (also: another POS took the smart reader over).
    Unknown,
    /// The app asked to disconnect.
    DisconnectRequested,
    /// The app asked the reader to reboot.
    RebootRequested,
    /// The reader's periodic security reboot (every 24 h).
    SecurityReboot,
    /// The battery reached the critical level while not charging.
    CriticallyLowBattery,
    /// The reader was switched off or lost power.
    PoweredOff,
    /// Bluetooth was turned off on the POS.
    BluetoothDisabled,
    /// The USB cable was pulled.
    UsbDisconnected,
    /// The reader slept after hours idle and not charging.
    IdlePowerDown,
    /// The reader forgot the POS's pairing.
    BluetoothPeerRemovedPairing,
    /// The Bluetooth signal was lost (out of range, interference).
    BluetoothSignalLost,
}

impl DisconnectReason {
    /// Every reason, for tables and docs.
    pub const ALL: [DisconnectReason; 11] = [
        DisconnectReason::Unknown,
        DisconnectReason::DisconnectRequested,
        DisconnectReason::RebootRequested,
        DisconnectReason::SecurityReboot,
        DisconnectReason::CriticallyLowBattery,
        DisconnectReason::PoweredOff,
        DisconnectReason::BluetoothDisabled,
        DisconnectReason::UsbDisconnected,
        DisconnectReason::IdlePowerDown,
        DisconnectReason::BluetoothPeerRemovedPairing,
        DisconnectReason::BluetoothSignalLost,
    ];

    /// Whether the SDK's auto-reconnect tries to win the reader back after
    /// this kind of disconnect. It does for anything the reader recovers from
    /// by itself (reboots, signal, cable, power returning); it does not when
    /// the app asked, after a critically-low battery (documented), when the
    /// POS radio is off (nothing to reconnect with until it is on again,
    /// incident ios-276), when the reader chose to sleep, or when pairing is
    /// gone.
    pub fn auto_reconnects(self) -> bool {
        use DisconnectReason::*;
        match self {
            Unknown | RebootRequested | SecurityReboot | PoweredOff | UsbDisconnected
            | BluetoothSignalLost => true,
            DisconnectRequested
            | CriticallyLowBattery
            | BluetoothDisabled
            | IdlePowerDown
            | BluetoothPeerRemovedPairing => false,
        }
    }
}

/// Connection status as the SDK reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    NotConnected,
    Discovering,
    Connecting,
    Connected,
    Reconnecting,
}

/// Battery class by the profile's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatteryStatus {
    Critical,
    Low,
    Nominal,
}

/// Network status as the SDK (or the backend's reader list) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkStatus {
    Unknown,
    Offline,
    Online,
}

/// `OfflineStatus` for one device (docs/domain.md §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineStatus {
    /// `networkStatus`.
    pub network: NetworkStatus,
    /// `offlinePaymentsCount`: stored and not yet forwarded.
    pub count: u32,
    /// `offlinePaymentAmountsByCurrency`, minor units.
    pub amounts: BTreeMap<Currency, u64>,
}

/// Why a reader rebooted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RebootKind {
    /// The app asked.
    Requested,
    /// The periodic security reboot.
    Security,
}

/// Why a reader lost power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerOffCause {
    /// Switched off, unplugged, or power lost.
    PowerLost,
    /// The battery ran empty while not charging.
    BatteryEmpty,
    /// Idle power-down.
    Idle,
}

/// What the reader asks the person at the counter to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// A card is still inserted from the last payment.
    RemoveCard,
    /// Insert the card (a tap was refused for SCA).
    InsertCard,
}

/// The app's request about a payment that the reader refused outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentRequest {
    Create,
    Collect,
    Confirm,
    Cancel,
}

/// Whether a discovery report is the early, serial-only one or the full one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPhase {
    /// Serial number only (first report of Bluetooth proximity on Chipper 2X BT).
    Partial,
    /// Every field known.
    Full,
}

/// One reader as a discovery lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredReader {
    /// Serial number.
    pub serial: String,
    /// Model; absent from a partial report.
    pub model: Option<ReaderModel>,
    /// Partial or full.
    pub phase: ReportPhase,
    /// Battery level, for mobile readers in a full report.
    pub battery_percent: Option<u8>,
    /// Installed software version, in a full report.
    pub software_version: Option<String>,
    /// Smart readers: status as the backend lists it (it lags reality).
    pub status: Option<NetworkStatus>,
    /// Smart readers: registration label.
    pub label: Option<String>,
    /// Smart readers: Location the reader is registered to.
    pub location: Option<String>,
}

/// Why an update failed (docs/domain.md §7), as injected into an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateFailure {
    ReaderError,
    ServerError,
}

/// The event vocabulary. The serde name of each variant is its history name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum EventBody {
    // --- power and reboots -------------------------------------------------
    #[serde(rename = "reader.powered_on")]
    PoweredOn,
    #[serde(rename = "reader.powered_off")]
    PoweredOff { cause: PowerOffCause },
    #[serde(rename = "reader.reboot.started")]
    RebootStarted { kind: RebootKind },
    #[serde(rename = "reader.reboot.finished")]
    RebootFinished { kind: RebootKind },
    #[serde(rename = "reader.battery.level")]
    BatteryLevel { percent: u8, charging: bool, status: BatteryStatus },
    #[serde(rename = "reader.battery.low")]
    BatteryLow { percent: u8 },

    // --- discovery (emitted by the POS) -------------------------------------
    #[serde(rename = "pos.discovery.started")]
    DiscoveryStarted { method: DiscoveryMethod },
    #[serde(rename = "pos.discovery.reported")]
    ReaderDiscovered(DiscoveredReader),
    #[serde(rename = "pos.discovery.finished")]
    DiscoveryFinished { method: DiscoveryMethod, found: u32 },
    #[serde(rename = "pos.discovery.failed")]
    DiscoveryFailed { method: DiscoveryMethod, code: TerminalErrorCode },

    // --- connection ---------------------------------------------------------
    #[serde(rename = "reader.connect.started")]
    ConnectStarted { pos: String, via: LinkKind },
    #[serde(rename = "reader.connected")]
    Connected { pos: String, via: LinkKind },
    #[serde(rename = "reader.connect.failed")]
    ConnectFailed { pos: String, code: TerminalErrorCode },
    /// A connect refused before it started: not the outcome of one in flight.
    #[serde(rename = "reader.connect.refused")]
    ConnectRefused { pos: String, code: TerminalErrorCode },
    #[serde(rename = "reader.disconnected")]
    Disconnected { pos: String, reason: DisconnectReason },
    #[serde(rename = "reader.pairing.requested")]
    PairingRequested { pos: String, code: String },
    #[serde(rename = "reader.paired")]
    Paired { pos: String },
    #[serde(rename = "reader.taken_over")]
    TakenOver { from_pos: String, by_pos: String },
    #[serde(rename = "reader.reconnect.started")]
    ReconnectStarted { pos: String, reason: DisconnectReason },
    #[serde(rename = "reader.reconnect.succeeded")]
    ReconnectSucceeded { pos: String },
    #[serde(rename = "reader.reconnect.failed")]
    ReconnectFailed { pos: String },

    // --- software updates ---------------------------------------------------
    #[serde(rename = "reader.update.available")]
    UpdateAvailable { version: String, required: bool, deadline_ms: Option<Millis> },
    #[serde(rename = "reader.update.started")]
    UpdateStarted { version: String },
    #[serde(rename = "reader.update.installed")]
    UpdateInstalled { version: String },
    #[serde(rename = "reader.update.failed")]
    UpdateFailed { version: String, code: TerminalErrorCode },
    #[serde(rename = "reader.update.refused")]
    UpdateRefused { version: String, code: TerminalErrorCode },

    // --- cards --------------------------------------------------------------
    #[serde(rename = "reader.card.inserted")]
    CardInserted { card: CardSummary },
    #[serde(rename = "reader.card.removed")]
    CardRemoved { card: CardSummary },
    #[serde(rename = "reader.card.presented")]
    CardPresented { entry_mode: EntryMode, card: CardSummary },
    #[serde(rename = "reader.card.not_read")]
    CardNotRead { entry_mode: EntryMode },
    #[serde(rename = "reader.prompt")]
    Prompted { prompt: Prompt },

    // --- payments on the reader ----------------------------------------------
    #[serde(rename = "reader.payment.collect.started")]
    CollectStarted { payment: String, amount: Money },
    #[serde(rename = "reader.payment.collected")]
    Collected { payment: String, entry_mode: EntryMode, card: CardSummary },
    #[serde(rename = "reader.pin.requested")]
    PinRequested { payment: String, decline_code: String },
    #[serde(rename = "reader.pin.entered")]
    PinEntered { payment: String },
    #[serde(rename = "reader.payment.approved")]
    PaymentApproved { payment: String, amount: Money },
    #[serde(rename = "reader.payment.declined")]
    PaymentDeclined { payment: String, error_code: String, decline_code: String },
    #[serde(rename = "reader.payment.failed")]
    PaymentFailed { payment: String, code: TerminalErrorCode },
    #[serde(rename = "reader.payment.canceled")]
    PaymentCanceled { payment: String },
    /// The SDK took the collected payment to its end itself (confirmed
    /// through the backend, stored offline, or refused): the reader is free.
    #[serde(rename = "reader.payment.completed")]
    PaymentCompleted { payment: String },
    /// A request refused before it touched a payment in progress: not an
    /// outcome, so a history never shows two outcomes for one payment.
    #[serde(rename = "reader.payment.refused")]
    PaymentRefused { payment: String, request: PaymentRequest, code: TerminalErrorCode },

    // --- smart readers ------------------------------------------------------
    #[serde(rename = "reader.registration.code")]
    RegistrationCodeShown { code: String },
    #[serde(rename = "reader.registered")]
    Registered { reader_id: String, location: String, label: String },
    #[serde(rename = "reader.registration.failed")]
    RegistrationFailed { code: TerminalErrorCode, message: String },
    #[serde(rename = "reader.internet.changed")]
    InternetChanged { up: bool },
    // --- offline mode: POS/SDK model and smart-reader engine ----------------
    // Part `pos` for mobile readers, `reader/<serial>` for smart readers.
    #[serde(rename = "payment.intent.created")]
    SdkIntentCreated {
        payment: String,
        intent: Option<String>,
        mode: Mode,
        behavior: OfflineBehavior,
        amount: Money,
    },
    /// The payment ended without being charged or stored: refused by a rule,
    /// by the store, or by the backend. One outcome.
    #[serde(rename = "payment.failed")]
    SdkPaymentFailed { payment: String, code: TerminalErrorCode },
    /// A request that matched no payment in the right state: not an outcome.
    #[serde(rename = "payment.request.refused")]
    SdkRequestRefused { payment: String, request: PaymentRequest, code: TerminalErrorCode },
    #[serde(rename = "payment.fell_back_offline")]
    FellBackOffline { payment: String },
    #[serde(rename = "payment.succeeded")]
    SdkPaymentSucceeded {
        payment: String,
        intent: Option<String>,
        status: Option<String>,
        amount: Money,
    },
    #[serde(rename = "payment.declined")]
    SdkPaymentDeclined { payment: String, error_code: String, decline_code: Option<String> },
    #[serde(rename = "offline.payment.stored")]
    OfflinePaymentStored {
        payment: String,
        offline_id: OfflineId,
        intent: Option<String>,
        amount: Money,
        /// The intent's `offlineDetails` as the app reads them.
        offline_details: OfflineDetails,
    },
    #[serde(rename = "offline.forward.attempted")]
    ForwardAttempted { offline_id: OfflineId, attempt: u32 },
    /// `onPaymentIntentForwarded`: exactly once per stored payment.
    #[serde(rename = "offline.payment.forwarded")]
    PaymentForwarded {
        offline_id: OfflineId,
        amount: Money,
        intent: Option<String>,
        status: Option<String>,
        error: Option<ForwardError>,
    },
    /// The merchant's app showed a notice (`offline::merchant`): a stored
    /// payment that failed at sync, with the reason.
    #[serde(rename = "merchant.notified")]
    MerchantNotified {
        notice: MerchantNotice,
        offline_id: OfflineId,
        amount: Money,
        reason: String,
    },
    #[serde(rename = "offline.payment.unreadable")]
    PaymentUnreadable { offline_id: Option<OfflineId>, amount: Option<Money>, reason: String },
    /// `onForwardingFailure`: a failure not tied to one payment.
    #[serde(rename = "offline.forwarding.failed")]
    ForwardingFailed { code: TerminalErrorCode, message: String },
    /// `onOfflineStatusChange`.
    #[serde(rename = "offline.status.changed")]
    OfflineStatusChanged {
        #[serde(flatten)]
        status: OfflineStatus,
    },
    /// A smart reader's status as it reaches the POS, one lag later.
    #[serde(rename = "offline.status.reported")]
    OfflineStatusReported {
        #[serde(flatten)]
        status: OfflineStatus,
    },
    #[serde(rename = "offline.connect.refused")]
    OfflineConnectRefused { serial: String, code: TerminalErrorCode },
    #[serde(rename = "offline.store.recovered")]
    StoreRecovered { pending: u32, unreadable: u32 },
    // --- backend ------------------------------------------------------------
    #[serde(rename = "backend.connection_token.created")]
    ConnectionTokenCreated { account: String, livemode: bool, location: Option<String> },
    #[serde(rename = "backend.payment_intent.created")]
    IntentCreated {
        intent: String,
        amount: Money,
        capture: crate::offline::CaptureMethod,
        offline_id: Option<crate::offline::OfflineId>,
        /// The app's name for the payment (`metadata[readerlab_payment]`): an
        /// outside POS's (docs/driver-protocol.md), or the reference SDK's,
        /// which sets it on every online create; absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<String>,
    },
    #[serde(rename = "backend.charge.succeeded")]
    ChargeSucceeded {
        charge: String,
        intent: String,
        amount: Money,
        card: CardSummary,
        captured: bool,
        offline_id: Option<crate::offline::OfflineId>,
    },
    #[serde(rename = "backend.charge.failed")]
    ChargeFailed {
        charge: String,
        intent: String,
        amount: Money,
        card: CardSummary,
        error_code: String,
        decline_code: String,
        offline_id: Option<crate::offline::OfflineId>,
    },
    #[serde(rename = "backend.payment_intent.captured")]
    IntentCaptured { intent: String, charge: String, amount: Money },
    #[serde(rename = "backend.payment_intent.canceled")]
    IntentCanceled { intent: String, released_charge: Option<String> },
    /// An `Idempotency-Key` seen with the same parameters: the saved reply
    /// again, nothing executed.
    #[serde(rename = "backend.request.replayed")]
    BackendRequestReplayed {
        request: crate::backend::RequestKind,
        idempotency_key: String,
        status: u16,
    },
    /// Any call answered with an error (card errors included).
    #[serde(rename = "backend.request.rejected")]
    BackendRequestRejected {
        request: crate::backend::RequestKind,
        status: u16,
        error_type: crate::backend::ApiErrorKind,
        code: Option<String>,
        decline_code: Option<String>,
    },
    #[serde(rename = "backend.fault.armed")]
    BackendFaultArmed { fault: crate::backend::ArmedFault },
    #[serde(rename = "backend.fault.fired")]
    BackendFaultFired { fault: crate::backend::ArmedFault, request: crate::backend::RequestKind },
    #[serde(rename = "backend.faults.cleared")]
    BackendFaultsCleared,
    #[serde(rename = "backend.location.created")]
    LocationCreated { location: String },
    #[serde(rename = "backend.configuration.updated")]
    ConfigurationUpdated {
        configuration: String,
        is_account_default: bool,
        offline_enabled: Option<bool>,
    },
    /// A rig smart reader was bound to the account by its registration code.
    #[serde(rename = "backend.reader.registered")]
    TerminalReaderRegistered {
        reader: String,
        serial: String,
        model: ReaderModel,
        location: Option<String>,
    },
    #[serde(rename = "backend.reader.deleted")]
    TerminalReaderDeleted { reader: String, serial: String },
    /// `process_payment_intent` started an action on the reader.
    #[serde(rename = "backend.reader.action.started")]
    ReaderActionStarted { reader: String, serial: String, intent: String },
    /// The action ended: `succeeded`, or `failed` with its code (`canceled`
    /// for a `cancel_action`).
    #[serde(rename = "backend.reader.action.finished")]
    ReaderActionFinished {
        reader: String,
        serial: String,
        intent: String,
        status: String,
        failure_code: Option<String>,
    },
    // --- an outside POS (docs/driver-protocol.md) ----------------------------
    // Part `pos`: what an adapter said, recorded by the harness.
    /// The adapter answered `session.new`.
    #[serde(rename = "pos.session.started")]
    PosSessionStarted { adapter: String, version: String, capabilities: Vec<String>, resumed: bool },
    /// The harness asked the POS to take a payment (`payment.collect`).
    #[serde(rename = "pos.payment.requested")]
    PosPaymentRequested { payment: String, reader: String, amount: Money },
    /// The POS started it: the reader waits for the card.
    #[serde(rename = "pos.payment.started")]
    PosPaymentStarted { payment: String, intent: Option<String> },
    /// The POS refused it before it started (a definite error): no outcome follows.
    #[serde(rename = "pos.payment.refused")]
    PosPaymentRefused { payment: String, code: Option<String>, message: String },
    /// What the POS told the cashier: exactly one per started payment.
    #[serde(rename = "pos.payment.ended")]
    PosPaymentEnded {
        payment: String,
        outcome: PosOutcome,
        intent: Option<String>,
        code: Option<String>,
        decline_code: Option<String>,
    },
    #[serde(rename = "pos.sdk.error")]
    PosSdkError { code: String, message: String },
    #[serde(rename = "pos.reader.battery")]
    PosReaderBattery { reader: String, percent: u8 },
    // --- the rig and its faults ---------------------------------------------
    /// A run began: what the checker needs to know about the rig.
    #[serde(rename = "rig.started")]
    RigStarted {
        seed: u64,
        defects: Defects,
        readers: Vec<RigReader>,
        offline: OfflineConfig,
        drain_window_ms: u64,
    },
    /// What the run was made from, so `readerlab replay` can run it again
    /// (right after `rig.started`; absent from rigs started by hand).
    #[serde(rename = "rig.source")]
    RigSource { source: RunSource },
    /// The run ended; nothing follows.
    #[serde(rename = "rig.finished")]
    RigFinished,
    /// A device's storage was read for card numbers in clear (invariant I7).
    #[serde(rename = "rig.storage.scanned")]
    StorageScanned { device: String, files: u32, bytes: u64, card_numbers_in_clear: u32 },
    /// A fault took effect on `target`; a sustained one holds until cleared.
    #[serde(rename = "fault.injected")]
    FaultInjected { fault: FaultKind, target: String, sustained: bool, detail: Option<String> },
    /// A sustained fault ended.
    #[serde(rename = "fault.cleared")]
    FaultCleared { fault: FaultKind, target: String },
    /// A lab bench's hook ran (`run --target lab`, docs/lab.md): the action
    /// (`power_off`, `link_down.reader-backend`, `present_card`, ...), its
    /// target (a bench reader id, or `pos`), whether it passed (exit 0 in
    /// time), how long it took, and its exit status with the last lines of
    /// its output.
    #[serde(rename = "lab.hook.ran")]
    LabHookRan { action: String, target: String, ok: bool, ms: u64, detail: String },
}

/// A payment's end as an outside POS reports it (`payment.ended`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PosOutcome {
    /// Paid: charged, or taken and stored by the reader to forward.
    Succeeded,
    /// The card was declined.
    Declined,
    /// Not paid, for another reason.
    Failed,
    /// Canceled by the POS.
    Canceled,
    /// The POS cannot tell (an indefinite outcome).
    Unknown,
}

impl PosOutcome {
    /// Whether the POS said the customer was not charged.
    pub fn says_unpaid(self) -> bool {
        matches!(self, PosOutcome::Declined | PosOutcome::Failed | PosOutcome::Canceled)
    }
}

/// Who stores a reader's offline payments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredBy {
    /// The POS's SDK (mobile readers).
    Pos,
    /// The reader itself (smart readers).
    Reader,
}

/// What a run was made from (`rig.source`): the schedule `readerlab
/// replay` runs again on the simulator, with `rig.started`'s seed, readers
/// and defects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunSource {
    /// A Gherkin scenario (`readerlab run`, `conform`, and the scenarios
    /// `explore` writes), its steps in the order they ran.
    Scenario {
        /// The target that ran it (`sim`, `served`).
        target: String,
        /// The feature's path as the run named it, and its name.
        path: String,
        feature: String,
        /// The scenario's name and line.
        scenario: String,
        line: u32,
        /// Background steps first, then the scenario's own.
        steps: Vec<ScheduledStep>,
    },
    /// A random run (`readerlab sim`): its shape; the seed and readers are
    /// `rig.started`'s.
    Random {
        /// Virtual hours of customers and faults.
        hours: u64,
        /// Customers at the counter.
        payments: u32,
        /// Fault intensity in thousandths (1000: a busy day).
        intensity_milli: u64,
    },
}

/// One step of a scenario as it ran. A card number in its text, table or
/// doc string is written as `card ending NNNN` (invariant I7 holds for
/// the history itself), and such a step cannot be replayed from the
/// history alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledStep {
    /// `Given`, `When`, `Then`, `And`, `But` or `*`.
    pub keyword: String,
    /// The step's text.
    pub text: String,
    /// Its data table, row by row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table: Vec<Vec<String>>,
    /// Its doc string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docstring: Option<String>,
}

/// One reader of a rig, as `rig.started` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RigReader {
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: ReaderModel,
    /// Where its offline payments are stored.
    pub stored_by: StoredBy,
}

impl EventBody {
    /// The dotted history name (`reader.connected`).
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("event").and_then(|n| n.as_str()).map(str::to_owned))
            .expect("every event serializes with its name")
    }
}

/// What a notice tells the merchant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantNotice {
    /// A stored payment failed when it was forwarded (declined on sync).
    SyncFailed,
}
