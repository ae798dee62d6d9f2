//! The POS played by an adapter (docs/driver-protocol.md): `readerlab run
//! --target served --pos CMD`. The served rig keeps its readers, backend,
//! faults and clock; the adapter gets the rig's description in
//! `session.new`, takes each customer's payment with `payment.collect`, is
//! ticked with `clock.advance` as rig time passes, and what it notifies is
//! recorded as the POS's events (`pos.*`), which the checker judges.
//!
//! readerlab plays the customer: when the reader asks for a card for one of
//! the adapter's payments, the scenario's card is presented a moment later.

use super::pos::{Pos, RigAccess, skip};
use crate::driver::protocol::{
    self, Amount, Behavior, Clock, ClockMode, Family, Notification, PaymentCollect,
    PaymentCollectResult, Request, Software, StoredBy,
};
use crate::driver::{Capabilities, DriverError, PosCommand, Session, capability};
use readerlab_emulator::core::backend::RequestKind;
use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::offline::OfflineConfig;
use readerlab_emulator::core::{
    EntryMode, Event, EventBody, Millis, PosOutcome, RigReader, StoredBy as CoreStoredBy,
};
use readerlab_emulator::serve::client::ControlError;
use readerlab_emulator::sim::{
    Device, Fault, LinkFault, LinkId, PaymentSpec, PowerFault, StorageFault,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

/// How long after the reader asks the customer presents the card.
const CUSTOMER_DELAY: Duration = Duration::from_secs(2);

/// A customer at the counter for one of the adapter's payments.
#[derive(Debug)]
struct Customer {
    payment: String,
    reader: String,
    card: String,
    entry_mode: EntryMode,
    /// When to present the card next (the reader asked for it).
    present_at: Option<Millis>,
}

/// An adapter playing the POS of one scenario's rig.
#[derive(Debug)]
pub struct ExternalPos {
    session: Session,
    readers: Vec<RigReader>,
    customers: Vec<Customer>,
    /// Payments started and not yet reported ended.
    open: BTreeSet<String>,
    /// Payments whose end the adapter reported.
    reported: BTreeSet<String>,
    /// History events already looked at for card requests.
    seen: usize,
    /// The conversation failed: the scenario has failed, and the adapter
    /// is not spoken to again.
    broken: bool,
    /// The POS's connectivity as last told (`device.network`); `None`:
    /// not told since the adapter (re)started.
    network: Option<bool>,
    /// When the adapter said it next has something due (`next_ms`).
    due: Option<Millis>,
    /// Keeps the app's data directory for the session's life.
    _data: tempfile::TempDir,
}

/// Why an adapter could not play a rig's POS.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// The rig needs what the adapter did not declare: skip.
    #[error("{0}")]
    Unsupported(String),
    /// The conversation failed.
    #[error("the POS adapter: {error}\n  its log, last lines:{log}")]
    Driver { error: DriverError, log: String },
    /// The app's data directory could not be made.
    #[error("a data directory for the POS adapter: {0}")]
    DataDir(std::io::Error),
}

/// Refuses a rig whose readers need what `capabilities` lacks (and, on
/// virtual time, an adapter that does not run on the rig's clock): why.
pub(crate) fn check_capabilities(
    adapter: &Software,
    capabilities: &Capabilities,
    readers: &[RigReader],
    virtual_time: bool,
) -> Result<(), String> {
    if virtual_time && !capabilities.has(capability::CLOCK) {
        return Err(format!(
            "the POS adapter {} does not declare `clock`, and the served rig runs on \
             virtual time",
            adapter.name
        ));
    }
    let smart = readers.iter().any(|r| r.stored_by == CoreStoredBy::Reader);
    if smart && !matches!(capabilities.integration(), Some("server_driven" | "lan")) {
        return Err(format!(
            "the rig has a smart reader and the POS adapter {} declares integration {:?}; \
             the protocol knows `server_driven` and `lan`",
            adapter.name,
            capabilities.integration()
        ));
    }
    let mobile = readers.iter().find(|r| r.stored_by != CoreStoredBy::Reader);
    if let Some(mobile) = mobile
        && capabilities.bluetooth() != Some("ble_tcp")
    {
        return Err(format!(
            "the rig has a Bluetooth reader ({}) and the POS adapter {} does not declare \
             `\"bluetooth\": \"ble_tcp\"` (protocol 2)",
            mobile.model.id(),
            adapter.name
        ));
    }
    let models = capabilities.models();
    if let Some(reader) = readers.iter().find(|r| !models.iter().any(|m| m == r.model.id())) {
        return Err(format!(
            "the POS adapter {} does not declare model `{}` (it declares {})",
            adapter.name,
            reader.model.id(),
            if models.is_empty() { "none".to_owned() } else { models.join(", ") }
        ));
    }
    Ok(())
}

impl ExternalPos {
    /// Starts the adapter for a rig, has it answer `session.new`, and
    /// refuses a rig it cannot drive.
    pub fn start(
        pos: &PosCommand,
        rig: &RigAccess<'_>,
        described: &AdapterRig,
    ) -> Result<ExternalPos, ExternalError> {
        let readers = described.readers.clone();
        let usb = readers.iter().enumerate().find(|(i, r)| {
            r.stored_by != CoreStoredBy::Reader && !described.offered.contains_key(i)
        });
        if let Some((_, reader)) = usb {
            return Err(ExternalError::Unsupported(format!(
                "the rig's {} is attached to the POS over USB; protocol 2 offers an outside POS \
                 its Bluetooth readers over BLE-over-TCP only",
                reader.model.id()
            )));
        }
        if let Some((adapter, capabilities)) = pos.declared.get() {
            // Known from this run's first session: skip without starting
            // the adapter again.
            check_capabilities(adapter, capabilities, &readers, true)
                .map_err(ExternalError::Unsupported)?;
        }
        let data = tempfile::Builder::new()
            .prefix("readerlab-pos-")
            .tempdir()
            .map_err(ExternalError::DataDir)?;
        let now = rig.runtime.block_on(rig.client.now()).map_or(0, |t| t.0);
        let rig_description = describe_rig(now, described);
        let id =
            data.path().file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let hello = crate::driver::hello(&id, &data.path().to_string_lossy(), rig_description);
        let session = Session::start(pos, hello)
            .map_err(|(error, tail)| ExternalError::Driver { error, log: tail })?;
        let external = ExternalPos {
            session,
            readers,
            customers: Vec::new(),
            open: BTreeSet::new(),
            reported: BTreeSet::new(),
            seen: 0,
            broken: false,
            network: None,
            due: None,
            _data: data,
        };
        let session = &external.session;
        pos.declared.get_or_init(|| (session.adapter.clone(), session.capabilities.clone()));
        check_capabilities(&session.adapter, &session.capabilities, &external.readers, true)
            .map_err(ExternalError::Unsupported)?;
        external.record_session(rig, false);
        Ok(external)
    }

    fn record_session(&self, rig: &RigAccess<'_>, resumed: bool) {
        let body = EventBody::PosSessionStarted {
            adapter: self.session.adapter.name.clone(),
            version: self.session.adapter.version.clone(),
            capabilities: self.session.capabilities.names(),
            resumed,
        };
        record(rig, &body);
    }

    /// Fails the scenario: the conversation broke. Nothing more is sent
    /// to the adapter after this.
    fn broken(&mut self, error: &DriverError) -> ! {
        self.broken = true;
        panic!(
            "the POS adapter (`{}`): {error}\n  its log, last lines:{}",
            self.session.adapter.name,
            self.session.log_tail()
        )
    }

    /// Tells an adapter that hears `device.network` whether the POS's
    /// internet is up, when that changed since it was last told.
    fn sync_network(&mut self, rig: &RigAccess<'_>) {
        if !self.session.capabilities.has(capability::DEVICE_NETWORK) || self.broken {
            return;
        }
        let up = rig
            .runtime
            .block_on(rig.client.pos_internet_up())
            .unwrap_or_else(|e| panic!("served rig: reading the POS's link: {e}"));
        if self.network == Some(up) {
            return;
        }
        self.network = Some(up);
        let told = Request::DeviceNetwork(protocol::DeviceNetwork { up });
        if let Err(error) = self.session.call::<Value>(&told) {
            self.broken(&error);
        }
        self.drain(rig);
    }

    /// Records what the adapter notified.
    fn drain(&mut self, rig: &RigAccess<'_>) {
        let notifications = match self.session.notifications() {
            Ok(notifications) => notifications,
            Err(error) => self.broken(&error),
        };
        for (line, notification) in notifications {
            let body = match told(notification) {
                Ok(Told::Event(body)) => body,
                Ok(Told::Log(text)) => {
                    self.session.note(&text);
                    continue;
                }
                Err(why) => {
                    let method = "sdk.event".to_owned();
                    self.broken(&DriverError::BadNotification { method, line, why })
                }
            };
            if let EventBody::PosPaymentEnded { payment, .. } = &body {
                self.open.remove(payment);
                self.reported.insert(payment.clone());
                if let Some(customer) = self.customers.iter_mut().find(|c| c.payment == *payment) {
                    customer.present_at = None;
                }
            }
            if let Err(refused) = try_record(rig, &body) {
                let why = format!("readerlab refused to record it: {refused}");
                let method = "sdk.event".to_owned();
                self.broken(&DriverError::BadNotification { method, line, why });
            }
        }
    }

    /// The customer presents the card when a reader asks for one for an
    /// open payment (each time it asks: a POS that starts a payment again
    /// gets the card again).
    fn customers_act(&mut self, rig: &RigAccess<'_>, now: Millis, history: &[Event]) {
        for event in history.get(self.seen..).unwrap_or_default() {
            if let EventBody::CollectStarted { payment, .. } = &event.body
                && let Some(customer) = self.customers.iter_mut().find(|c| {
                    *payment == c.payment || payment.starts_with(&format!("{}~", c.payment))
                })
            {
                customer.present_at = Some(event.t_ms + CUSTOMER_DELAY);
            }
        }
        self.seen = history.len();
        for customer in &mut self.customers {
            if customer.present_at.is_some_and(|at| at <= now) {
                customer.present_at = None;
                // A reader that stopped collecting (canceled, timed out)
                // refuses the card: the customer walks away.
                let _ = rig.runtime.block_on(rig.client.present_card(
                    &customer.reader,
                    &customer.card,
                    customer.entry_mode,
                ));
            }
        }
    }

    /// Whether the adapter drives readers through the Stripe API (rather
    /// than over their LAN).
    fn server_driven(&self) -> bool {
        self.session.capabilities.integration() == Some("server_driven")
    }

    /// The next instant a customer does something (presents a card).
    fn customer_due(&self) -> Option<Millis> {
        self.customers.iter().filter_map(|c| c.present_at).min()
    }
}

impl Pos for ExternalPos {
    fn pay(&mut self, rig: &RigAccess<'_>, payment: PaymentSpec) {
        let Some(reader) = self.readers.get(payment.reader).cloned() else {
            panic!("the rig has no reader #{}", payment.reader);
        };
        // Server-driven applies to smart readers; a Bluetooth reader is
        // always the SDK's.
        let server_driven = self.server_driven() && reader.stored_by == CoreStoredBy::Reader;
        if server_driven && payment.behavior != OfflineBehavior::PreferOnline {
            skip(format!(
                "a server-driven POS has no OfflineBehavior ({:?} asked)",
                payment.behavior
            ));
        }
        if server_driven && !reader_online(rig, &reader.serial) {
            skip(format!(
                "a server-driven POS cannot start a payment on a reader whose internet is \
                 down ({}): Stripe offers offline collection to SDK integrations only",
                reader.serial
            ));
        }
        if !self.session.alive() {
            skip("the POS app is killed; nobody takes the payment".to_owned());
        }
        if self.broken {
            return;
        }
        self.sync_network(rig);
        let name = payment.name.clone();
        record(
            rig,
            &EventBody::PosPaymentRequested {
                payment: name.clone(),
                reader: reader.serial.clone(),
                amount: payment.amount,
            },
        );
        let request = collect_request(&payment, &reader.serial);
        let result = self.session.call::<PaymentCollectResult>(&request);
        let body = match collect_answer(&name, result) {
            Ok(body) => body,
            Err(error) => self.broken(&error),
        };
        if matches!(body, EventBody::PosPaymentStarted { .. }) {
            self.open.insert(name.clone());
        }
        record(rig, &body);
        // What it notified while starting (even its end) comes after.
        self.drain(rig);
        self.customers.push(Customer {
            payment: name,
            reader: reader.serial,
            card: payment.card,
            entry_mode: payment.entry_mode,
            present_at: None,
        });
    }

    fn tick(&mut self, rig: &RigAccess<'_>, now: Millis, history: &[Event]) {
        self.customers_act(rig, now, history);
        if !self.session.alive() || self.broken {
            return;
        }
        self.sync_network(rig);
        let advance = Request::ClockAdvance(protocol::ClockAdvance { now_ms: now.0 });
        match self.session.call::<protocol::ClockAdvanceResult>(&advance) {
            Ok(result) => self.due = result.next_ms.map(Millis),
            Err(error) => self.broken(&error),
        }
        self.drain(rig);
    }

    fn busy(&self) -> bool {
        !self.broken && (!self.open.is_empty() || self.customer_due().is_some())
    }

    fn next_due(&self) -> Option<Millis> {
        self.due.filter(|_| !self.broken && self.session.alive())
    }

    fn is_outside(&self) -> bool {
        true
    }

    fn inject(&mut self, _: &RigAccess<'_>, fault: &Fault) {
        let unsupported = |what: &str| -> ! {
            skip(format!("{what} is not offered to an outside POS (docs/driver-protocol.md)"))
        };
        match fault {
            Fault::Power(PowerFault::AppKill { device: Device::Pos }) => {
                if !self.session.killable() {
                    skip(
                        "app.kill needs an adapter readerlab starts (--pos), not an app that \
                         connects in (--pos-listen)"
                            .to_owned(),
                    );
                }
                if !self.session.capabilities.has(capability::APP_KILL) {
                    skip(format!(
                        "the POS adapter {} does not declare `app.kill`",
                        self.session.adapter.name
                    ));
                }
                self.session.kill();
            }
            Fault::Power(
                PowerFault::AppUpgrade { device: Device::Pos }
                | PowerFault::AppDataWiped { device: Device::Pos }
                | PowerFault::DeviceLocked { device: Device::Pos }
                | PowerFault::PowerLoss { device: Device::Pos, .. },
            ) => unsupported("upgrading, wiping, locking or powering off the POS"),
            Fault::Storage(
                StorageFault::StorageFull { device: Device::Pos, .. }
                | StorageFault::RecordCorrupted { device: Device::Pos },
            ) => unsupported("a storage fault on the POS"),
            // The SDK's own calls take no rig time on the virtual clock, so
            // a slower link is not felt (a server-driven or LAN POS only
            // polls, and feels nothing either way).
            Fault::Link(LinkFault::Latency { link: LinkId::PosBackend, .. })
                if self.readers.iter().any(|r| r.stored_by != CoreStoredBy::Reader) =>
            {
                unsupported(
                    "latency on the POS's link, which the SDK's calls cross in no rig time,",
                )
            }
            // Server-driven, the POS creates the PaymentIntent and the
            // reader adopts it: the reader's own create never happens.
            Fault::Link(
                LinkFault::RequestTimeout { link: LinkId::ReaderBackend(_), request, .. }
                | LinkFault::ResponseLost { link: LinkId::ReaderBackend(_), request, .. },
            ) if *request == Some(RequestKind::CreatePaymentIntent) && self.server_driven() => {
                skip(
                    "with a server-driven POS the POS creates the PaymentIntent and the reader \
                 adopts it: the reader's own create request never happens"
                        .to_owned(),
                )
            }
            _ => {}
        }
    }

    fn clear(&mut self, rig: &RigAccess<'_>, fault: &Fault) {
        if let Fault::Power(PowerFault::AppKill { device: Device::Pos }) = fault
            && !self.session.alive()
        {
            let reported = self.reported.iter().cloned().collect();
            if let Err(error) = self.session.restart(reported) {
                self.broken(&error);
            }
            self.network = None;
            self.due = None;
            self.record_session(rig, true);
        }
    }

    fn end(&mut self, _: &RigAccess<'_>) -> Vec<String> {
        if self.broken {
            self.session.kill();
            return self.session.log_lines();
        }
        if let Err(error) = self.session.end() {
            self.broken(&error);
        }
        self.session.log_lines()
    }
}

/// What an adapter is told of a served rig, before the clock is read.
#[derive(Clone, Debug)]
pub struct AdapterRig {
    /// The backend and the POS's key.
    pub backend: protocol::Backend,
    /// The readers, in rig order.
    pub readers: Vec<RigReader>,
    /// Where each Bluetooth reader listens for the SDK, by index.
    pub offered: BTreeMap<usize, SocketAddr>,
    /// The account's offline settings.
    pub offline: OfflineConfig,
}

/// The rig as `session.new` describes it.
pub fn describe_rig(now_ms: u64, rig: &AdapterRig) -> protocol::Rig {
    let readers = rig.readers.iter().enumerate();
    protocol::Rig {
        clock: Clock { mode: ClockMode::Virtual, now_ms },
        readers: readers
            .map(|(i, r)| describe(r, &rig.backend.base_url, rig.offered.get(&i)))
            .collect(),
        backend: rig.backend.clone(),
        offline: Some(
            serde_json::to_value(&rig.offline)
                .and_then(serde_json::from_value)
                .expect("the offline settings are the OfflineConfig's JSON"),
        ),
    }
}

fn describe(reader: &RigReader, base_url: &str, ble: Option<&SocketAddr>) -> protocol::Reader {
    let smart = reader.stored_by == CoreStoredBy::Reader;
    protocol::Reader {
        serial: reader.serial.clone(),
        model: reader.model.id().to_owned(),
        family: if smart { Family::Smart } else { Family::Bluetooth },
        stored_by: if smart { StoredBy::Reader } else { StoredBy::Pos },
        registration_code: reader.model.simulated_registration_code().map(str::to_owned),
        lan: smart.then(|| format!("{base_url}/_readerlab/readers/{}/lan", reader.serial)),
        ble_tcp: ble.map(SocketAddr::to_string),
    }
}

/// `payment.collect` for a customer's payment on the reader with `serial`.
pub(crate) fn collect_request(payment: &PaymentSpec, serial: &str) -> Request {
    Request::PaymentCollect(PaymentCollect {
        payment: payment.name.clone(),
        reader: serial.to_owned(),
        amount: Amount {
            amount: payment.amount.amount,
            currency: payment.amount.currency.to_string(),
        },
        behavior: match payment.behavior {
            OfflineBehavior::PreferOnline => Behavior::PreferOnline,
            OfflineBehavior::RequireOnline => Behavior::RequireOnline,
            OfflineBehavior::ForceOffline => Behavior::ForceOffline,
        },
    })
}

/// The history event `payment.collect`'s answer stands for: started, refused
/// (a definite error: nothing started), or ended with an unknown outcome (an
/// error that may have left something started). `Err`: the conversation
/// broke.
pub(crate) fn collect_answer(
    payment: &str,
    result: Result<PaymentCollectResult, DriverError>,
) -> Result<EventBody, DriverError> {
    let payment = payment.to_owned();
    Ok(match result {
        Ok(started) => EventBody::PosPaymentStarted { payment, intent: started.intent },
        Err(DriverError::Rpc { error, .. }) if error.definite() => EventBody::PosPaymentRefused {
            payment,
            code: error.data.and_then(|d| d.sdk_code),
            message: error.message,
        },
        Err(DriverError::Rpc { error, .. }) => EventBody::PosPaymentEnded {
            payment,
            outcome: PosOutcome::Unknown,
            intent: None,
            code: error.data.and_then(|d| d.sdk_code),
            decline_code: None,
        },
        Err(error) => return Err(error),
    })
}

/// What an adapter's notification is: a history event, or a line for its log.
pub(crate) enum Told {
    Event(EventBody),
    Log(String),
}

/// The history event an adapter's notification stands for (a `log` line
/// goes to its log instead); `Err`: an `sdk.event` readerlab cannot read.
pub(crate) fn told(notification: Notification) -> Result<Told, String> {
    Ok(Told::Event(match notification {
        Notification::PaymentEnded(ended) => EventBody::PosPaymentEnded {
            payment: ended.payment,
            outcome: outcome(ended.outcome),
            intent: ended.intent,
            code: ended.code,
            decline_code: ended.decline_code,
        },
        Notification::SdkError(error) => {
            EventBody::PosSdkError { code: error.code, message: error.message }
        }
        Notification::ReaderBattery(battery) => {
            EventBody::PosReaderBattery { reader: battery.reader, percent: battery.percent }
        }
        Notification::Log(log) => {
            return Ok(Told::Log(format!("[log {:?}] {}", log.level, log.message)));
        }
        Notification::SdkEvent(event) => sdk_event(&event)?,
    }))
}

fn outcome(outcome: protocol::Outcome) -> PosOutcome {
    match outcome {
        protocol::Outcome::Succeeded => PosOutcome::Succeeded,
        protocol::Outcome::Declined => PosOutcome::Declined,
        protocol::Outcome::Failed => PosOutcome::Failed,
        protocol::Outcome::Canceled => PosOutcome::Canceled,
        protocol::Outcome::Unknown => PosOutcome::Unknown,
    }
}

fn record(rig: &RigAccess<'_>, body: &EventBody) {
    rig.runtime
        .block_on(rig.client.record_pos(body))
        .unwrap_or_else(|e| panic!("served rig: recording {}: {e}", body.name()));
}

/// Records what the adapter said; a refusal (an event an outside POS may
/// not record) is the adapter's mistake, said back to the caller.
fn try_record(rig: &RigAccess<'_>, body: &EventBody) -> Result<(), String> {
    match rig.runtime.block_on(rig.client.record_pos(body)) {
        Ok(()) => Ok(()),
        Err(ControlError::Refused { message, .. }) => Err(message),
        Err(e) => panic!("served rig: recording {}: {e}", body.name()),
    }
}

/// The history event an `sdk.event` notification names, with its fields
/// as docs/history.md writes them.
fn sdk_event(event: &protocol::SdkEvent) -> Result<EventBody, String> {
    let value = serde_json::to_value(event).expect("a notification serializes");
    serde_json::from_value(value).map_err(|e| format!("`{}`: {e}", event.event))
}

/// Whether a smart reader's own internet is up now.
fn reader_online(rig: &RigAccess<'_>, serial: &str) -> bool {
    let readers = rig
        .runtime
        .block_on(rig.client.readers())
        .unwrap_or_else(|e| panic!("served rig: reading the readers: {e}"));
    readers
        .get("readers")
        .and_then(Value::as_array)
        .or_else(|| readers.as_array())
        .and_then(|all| {
            all.iter().find(|r| r.get("serial").and_then(Value::as_str) == Some(serial))
        })
        .and_then(|r| r.get("internet_up"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}
