//! The sans-IO reader: one emulated reader of any of the five models, together
//! with the SDK's view of its connection to a POS.
//!
//! Driven quinn-style: [`Reader::handle`] takes an [`Input`] at a time,
//! [`Reader::handle_timeout`] fires whatever fell due, [`Reader::poll_timeout`]
//! says when to call it next, and [`Reader::poll_event`] hands out the events
//! (the effects) stamped with the time they happened. The shell owns the
//! clock; nothing here sleeps, spawns or reads a file.
//!
//! Behaviour comes from the [`ReaderProfile`] (thresholds, durations, links)
//! and the [`TestCards`] tables (online outcomes); the files below each hold
//! one idea: connecting, power and battery, software updates, payments, and
//! what only smart readers do.

mod connection;
mod payment;
mod power;
mod smart;
mod update;

use crate::cards::{CardNumber, PinEntry, TestCard, TestCards};
use crate::event::{BatteryStatus, ConnectionStatus, EventBody, NetworkStatus, Part};
use crate::money::Money;
use crate::profile::{EntryMode, LinkKind, ReaderProfile};
use crate::time::Millis;
use std::collections::VecDeque;
use std::sync::Arc;

pub use smart::Registration;
pub use update::UpdateOffer;

/// Something that happens to a reader: a command from the app (through the
/// SDK), an act of the person at the counter, or a change in the world.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    // --- from the app, through the SDK -----------------------------------------
    /// `connectReader`. `auto_reconnect: None` takes the profile's default.
    /// `fail_if_in_use` is the smart readers' `failIfInUse`.
    Connect { pos: String, via: LinkKind, auto_reconnect: Option<bool>, fail_if_in_use: bool },
    /// `disconnectReader`.
    Disconnect,
    /// `rebootReader`.
    Reboot,
    /// `installAvailableUpdate` for an optional update.
    InstallUpdate,
    /// `collectPaymentMethod` for the payment the POS calls `payment`.
    Collect { payment: String, amount: Money },
    /// `confirmPaymentIntent`, online: the issuer answers from the test tables.
    Confirm { payment: String },
    /// Cancel the collect in progress.
    Cancel { payment: String },
    /// The SDK took the collected payment to its end without the reader's
    /// own online confirm: confirmed through the backend, stored offline, or
    /// refused by an offline rule. The reader is free again.
    Complete { payment: String },
    // --- from the person at the counter --------------------------------------
    /// A test card is tapped, inserted or swiped.
    PresentCard { number: CardNumber, mode: EntryMode },
    /// The inserted card is pulled out.
    RemoveCard,
    /// A PIN is typed on the reader's PIN pad.
    EnterPin { pin: String },
    // --- from the world --------------------------------------------------------
    /// The battery now reads `percent`, charging or not.
    Battery { percent: u8, charging: bool },
    /// Power is lost or switched off.
    PowerOff,
    /// Power returns or the reader is switched on.
    PowerOn,
    /// The Bluetooth signal between POS and reader is lost or back.
    Signal { up: bool },
    /// The POS's Bluetooth radio is turned off or on.
    BluetoothRadio { on: bool },
    /// The USB cable is attached or pulled.
    Usb { attached: bool },
    /// The shared LAN between POS and smart reader is up or down.
    Lan { up: bool },
    /// The reader forgets its Bluetooth pairing with the POS.
    RemovePairing,
    /// The person compares the pairing code on reader and POS and accepts
    /// or rejects it (numeric-comparison pairing).
    ConfirmPairing { accept: bool },
    /// The smart reader's own internet connection is up or down.
    Internet { up: bool },
    /// The update server offers a new software version.
    OfferUpdate(UpdateOffer),
    // --- smart-reader registration ---------------------------------------------
    /// The reader shows a registration code on its screen.
    ShowRegistrationCode { code: String },
    /// `POST /v1/terminal/readers` with this code, Location and label.
    Register { code: String, location: String, label: String },
}

/// An input that cannot happen: a mistake in the scenario or schedule, not a
/// behaviour of the reader. The harness reports it against the step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The number is not one of the test cards (only the last four digits are
    /// kept, so the error itself never leaks a card number).
    #[error("no test card ends in {last4}")]
    UnknownCard { last4: String },
    /// A second card cannot be inserted into an occupied slot.
    #[error("a card is already inserted")]
    SlotOccupied,
    /// Nothing to remove.
    #[error("no card is inserted")]
    NoCardInserted,
    /// A pairing confirmed when no pairing code is shown.
    #[error("no pairing code is waiting for confirmation")]
    NoPairingRequested,
    /// A PIN typed when the reader did not ask for one.
    #[error("the reader is not asking for a PIN")]
    NoPinRequested,
    /// The model has no PIN pad.
    #[error("the {model} has no PIN pad")]
    NoPinPad { model: String },
    /// A battery level over 100 %.
    #[error("battery level {percent}% is over 100%")]
    BatteryOutOfRange { percent: u8 },
}

/// Whether the reader has power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Power {
    On,
    Off,
    /// Rebooting until the instant given.
    Rebooting {
        until: Millis,
        kind: crate::event::RebootKind,
    },
}

/// The physical links around the reader.
#[derive(Clone, Copy, Debug)]
struct Links {
    signal: bool,
    radio_on: bool,
    usb_attached: bool,
    lan_up: bool,
    paired: bool,
}

/// One connection the app asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    pos: String,
    via: LinkKind,
    auto_reconnect: bool,
}

/// The SDK's connection to this reader.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Conn {
    Idle,
    /// Link being established; completes at `done_at`.
    Connecting {
        session: Session,
        done_at: Millis,
    },
    /// Waiting for a person to confirm the pairing code, until `deadline`.
    Pairing {
        session: Session,
        deadline: Millis,
    },
    /// A required update installing as part of connecting (or of an
    /// auto-reconnect attempt, when `reconnect`).
    Updating {
        session: Session,
        done_at: Millis,
        reconnect: bool,
    },
    Connected {
        session: Session,
    },
    /// Auto-reconnect under way until `deadline`; `attempt` is a connection
    /// attempt in flight that completes at that instant.
    Reconnecting {
        session: Session,
        deadline: Millis,
        attempt: Option<Millis>,
    },
}

/// The card sitting in the chip slot.
#[derive(Clone, Debug)]
struct Slot {
    card: TestCard,
    /// Still there after its payment ended: the next collect asks for removal.
    left_behind: bool,
}

/// Where a payment on the reader stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A card from an earlier payment must come out first.
    AwaitingRemoval,
    AwaitingCard,
    Collected,
    /// The issuer wants the card inserted before the PIN (SCA retry).
    AwaitingInsert,
    AwaitingPin,
}

/// The payment the reader is working on.
#[derive(Clone, Debug)]
struct Payment {
    id: String,
    amount: Money,
    phase: Phase,
    card: Option<(TestCard, EntryMode)>,
    pin: PinEntry,
}

/// One emulated reader and its connection, as the SDK sees it.
#[derive(Debug)]
pub struct Reader {
    profile: Arc<ReaderProfile>,
    cards: Arc<TestCards>,
    serial: String,
    part: Part,
    power: Power,
    security_reboot_due: Millis,
    /// Idle and able to sleep since this instant; `None` while it cannot
    /// (charging, busy, off). See `power.rs`.
    idle_since: Option<Millis>,
    battery_percent: u8,
    charging: bool,
    software_version: String,
    offer: Option<UpdateOffer>,
    /// An optional update installing while connected, done at this instant.
    installing: Option<Millis>,
    links: Links,
    conn: Conn,
    next_battery_report: Option<Millis>,
    slot: Option<Slot>,
    payment: Option<Payment>,
    smart: smart::SmartState,
    out: VecDeque<(Millis, EventBody)>,
    /// The latest `now` a shell passed in; time never goes back.
    clock: Millis,
}

impl Reader {
    /// A reader switched on at `now`: full battery, not charging, software
    /// `1.0.0`, every link up, paired, not registered, not connected.
    pub fn new(
        profile: Arc<ReaderProfile>,
        cards: Arc<TestCards>,
        serial: impl Into<String>,
        now: Millis,
    ) -> Reader {
        let serial = serial.into();
        let security_period = crate::time::hours(profile.reboot.security_period_h);
        Reader {
            part: Part::reader(&serial),
            serial,
            power: Power::On,
            security_reboot_due: now + security_period,
            idle_since: profile.reboot.idle_power_down.then_some(now),
            battery_percent: 100,
            charging: false,
            software_version: "1.0.0".to_owned(),
            offer: None,
            installing: None,
            links: Links {
                signal: true,
                radio_on: true,
                usb_attached: true,
                lan_up: true,
                paired: true,
            },
            conn: Conn::Idle,
            next_battery_report: None,
            slot: None,
            payment: None,
            smart: smart::SmartState::new(now),
            out: VecDeque::new(),
            clock: now,
            profile,
            cards,
        }
    }

    /// Sets the battery before the run starts (no event).
    pub fn with_battery(mut self, percent: u8, charging: bool) -> Reader {
        self.battery_percent = percent.min(100);
        self.charging = charging;
        if charging {
            // A charging reader never sleeps; its idle clock starts when unplugged.
            self.idle_since = None;
        }
        self
    }

    /// Sets the installed software version before the run starts (no event).
    pub fn with_software(mut self, version: impl Into<String>) -> Reader {
        self.software_version = version.into();
        self
    }

    /// Applies one input at `now`. Behaviour (failures included) comes out as
    /// events; an `Err` means the input itself is impossible.
    ///
    /// # Panics
    ///
    /// If `now` is earlier than a time passed before (see `handle_timeout`).
    pub fn handle(&mut self, now: Millis, input: Input) -> Result<(), InputError> {
        // Anything due before this input happens first, in time order.
        self.handle_timeout(now);
        match input {
            Input::Connect { pos, via, auto_reconnect, fail_if_in_use } => {
                let auto = auto_reconnect.unwrap_or(self.profile.connection.auto_reconnect);
                self.connect(now, Session { pos, via, auto_reconnect: auto }, fail_if_in_use);
            }
            Input::Disconnect => self.disconnect_requested(now),
            Input::Reboot => self.reboot_requested(now),
            Input::InstallUpdate => self.install_optional_update(now),
            Input::Collect { payment, amount } => self.collect(now, payment, amount),
            Input::Confirm { payment } => self.confirm(now, &payment),
            Input::Cancel { payment } => self.cancel(now, &payment),
            Input::Complete { payment } => self.complete(now, &payment),
            Input::PresentCard { number, mode } => self.present_card(now, &number, mode)?,
            Input::RemoveCard => self.remove_card(now)?,
            Input::EnterPin { pin } => self.enter_pin(now, &pin)?,
            Input::Battery { percent, charging } => self.set_battery(now, percent, charging)?,
            Input::PowerOff => self.power_off(now, crate::event::PowerOffCause::PowerLost),
            Input::PowerOn => self.power_on(now),
            Input::Signal { up } => self.set_signal(now, up),
            Input::BluetoothRadio { on } => self.set_radio(now, on),
            Input::Usb { attached } => self.set_usb(now, attached),
            Input::Lan { up } => self.set_lan(now, up),
            Input::RemovePairing => self.remove_pairing(now),
            Input::ConfirmPairing { accept } => self.confirm_pairing(now, accept)?,
            Input::Internet { up } => self.set_internet(now, up),
            Input::OfferUpdate(offer) => self.offer_update(now, offer),
            Input::ShowRegistrationCode { code } => self.show_registration_code(now, code),
            Input::Register { code, location, label } => {
                self.register(now, &code, location, label);
            }
        }
        self.try_reconnect(now);
        self.refresh_idle(now);
        Ok(())
    }

    /// Fires every deadline at or before `now`, each at its own instant.
    ///
    /// # Panics
    ///
    /// If `now` is earlier than a time passed before: a shell whose clock runs
    /// backwards has a bug, and the history it would write is unordered.
    pub fn handle_timeout(&mut self, now: Millis) {
        assert!(
            now >= self.clock,
            "reader {} driven back in time: {now} after {}",
            self.serial,
            self.clock
        );
        self.clock = now;
        while let Some(due) = self.poll_timeout() {
            if due > now {
                break;
            }
            self.fire(due);
            self.try_reconnect(due);
            self.refresh_idle(due);
        }
    }

    /// The earliest instant at which [`Reader::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.deadlines().into_iter().flatten().min()
    }

    /// The next event, with the instant it happened.
    pub fn poll_event(&mut self) -> Option<(Millis, EventBody)> {
        self.out.pop_front()
    }

    /// Every deadline this reader may have, in no particular order.
    fn deadlines(&self) -> [Option<Millis>; 6] {
        let rebooted = match self.power {
            Power::Rebooting { until, .. } => Some(until),
            _ => None,
        };
        let connection = match &self.conn {
            Conn::Connecting { done_at, .. } | Conn::Updating { done_at, .. } => Some(*done_at),
            Conn::Pairing { deadline, .. } => Some(*deadline),
            Conn::Reconnecting { deadline, attempt, .. } => {
                Some(attempt.map_or(*deadline, |a| a.min(*deadline)))
            }
            Conn::Idle | Conn::Connected { .. } => None,
        };
        let powered = self.power == Power::On;
        [
            rebooted,
            connection,
            self.installing,
            powered.then_some(self.security_reboot_due),
            self.idle_power_down_due(),
            self.next_battery_report,
        ]
    }

    /// Runs the one deadline that is due at `at` (the earliest one).
    fn fire(&mut self, at: Millis) {
        if let Power::Rebooting { until, kind } = self.power
            && until == at
        {
            return self.finish_reboot(at, kind);
        }
        match self.conn.clone() {
            Conn::Connecting { session, done_at } if done_at == at => {
                return self.finish_connect(at, session);
            }
            Conn::Updating { session, done_at, reconnect } if done_at == at => {
                return self.finish_connect_update(at, session, reconnect);
            }
            Conn::Pairing { session, deadline } if deadline == at => {
                return self.pairing_timed_out(at, session);
            }
            Conn::Reconnecting { session, deadline, attempt } => {
                if attempt == Some(at) {
                    return self.finish_reconnect_attempt(at, session, deadline);
                }
                if deadline == at {
                    return self.give_up_reconnect(at, session);
                }
            }
            _ => {}
        }
        if self.installing == Some(at) {
            return self.finish_optional_install(at);
        }
        if self.power == Power::On && self.security_reboot_due == at {
            return self.start_reboot(at, crate::event::RebootKind::Security);
        }
        if self.idle_power_down_due() == Some(at) {
            return self.power_off(at, crate::event::PowerOffCause::Idle);
        }
        if self.next_battery_report == Some(at) {
            return self.report_battery(at);
        }
        unreachable!("fire({at}) called with nothing due");
    }

    fn emit(&mut self, at: Millis, body: EventBody) {
        self.out.push_back((at, body));
    }

    /// Whether a connection over `via` could be made right now.
    fn reachable(&self, via: LinkKind) -> bool {
        self.power == Power::On
            && match via {
                LinkKind::Ble => self.links.signal && self.links.radio_on,
                LinkKind::Usb => self.links.usb_attached,
                LinkKind::Lan => self.links.lan_up,
            }
    }

    // --- what the outside may observe ------------------------------------------

    /// The serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The part name its events carry (`reader/<serial>`).
    pub fn part(&self) -> &Part {
        &self.part
    }

    /// The model's profile.
    pub fn profile(&self) -> &ReaderProfile {
        &self.profile
    }

    /// Connection status as the SDK reports it.
    pub fn status(&self) -> ConnectionStatus {
        match self.conn {
            Conn::Idle => ConnectionStatus::NotConnected,
            Conn::Connecting { .. } | Conn::Pairing { .. } | Conn::Updating { .. } => {
                ConnectionStatus::Connecting
            }
            Conn::Reconnecting { .. } => ConnectionStatus::Reconnecting,
            Conn::Connected { .. } => ConnectionStatus::Connected,
        }
    }

    /// The POS the reader is connected to, if any.
    pub fn connected_pos(&self) -> Option<&str> {
        match &self.conn {
            Conn::Connected { session } => Some(&session.pos),
            _ => None,
        }
    }

    /// Battery level in percent.
    pub fn battery_percent(&self) -> u8 {
        self.battery_percent
    }

    /// Battery class by the profile's thresholds.
    pub fn battery_status(&self) -> BatteryStatus {
        let battery = &self.profile.battery;
        if self.battery_percent <= battery.critical_percent {
            BatteryStatus::Critical
        } else if self.battery_percent <= battery.low_percent {
            BatteryStatus::Low
        } else {
            BatteryStatus::Nominal
        }
    }

    /// The installed software version.
    pub fn software_version(&self) -> &str {
        &self.software_version
    }

    /// Whether the reader is powered and not rebooting.
    pub fn is_powered(&self) -> bool {
        self.power == Power::On
    }

    /// Whether the reader can take a new request from the app (collect,
    /// install): it must be connected and not already working on one.
    fn ready_for_request(&self) -> Result<(), crate::error::TerminalErrorCode> {
        use crate::error::TerminalErrorCode;
        if !matches!(self.conn, Conn::Connected { .. }) {
            Err(TerminalErrorCode::NotConnectedToReader)
        } else if self.is_busy() {
            Err(TerminalErrorCode::ReaderBusy)
        } else {
            Ok(())
        }
    }

    /// Whether a Bluetooth scan can see it: powered, in range, and not held by
    /// a connection (a connected BLE reader stops advertising).
    pub fn is_advertising(&self) -> bool {
        self.power == Power::On
            && self.links.signal
            && self.profile.links.contains(&LinkKind::Ble)
            && matches!(self.conn, Conn::Idle | Conn::Reconnecting { attempt: None, .. })
    }

    /// Whether it is plugged in by USB and powered.
    pub fn is_usb_attached(&self) -> bool {
        self.power == Power::On
            && self.links.usb_attached
            && self.profile.links.contains(&LinkKind::Usb)
    }

    /// Smart readers: the registration, if registered.
    pub fn registration(&self) -> Option<&Registration> {
        self.smart.registration.as_ref()
    }

    /// Smart readers: the network status the backend's reader list shows at
    /// `now`, which lags reality by the profile's `status_lag_s`.
    pub fn listed_status(&self, now: Millis) -> NetworkStatus {
        self.smart.listed_status(now, crate::time::secs(self.profile.discovery.status_lag_s))
    }

    /// Whether the reader is working on a payment or installing an update.
    pub fn is_busy(&self) -> bool {
        self.payment.is_some() || self.installing.is_some()
    }

    /// The card collected for `payment`, how it was read and the PIN
    /// entered: what the reader seals for the backend when the SDK asks
    /// (`card_data`, docs/ble-gatt.md). `None` before a card is read, or
    /// for another payment.
    pub fn collected_card(&self, payment: &str) -> Option<(&TestCard, EntryMode, PinEntry)> {
        let current = self.payment.as_ref().filter(|p| p.id == payment)?;
        let (card, mode) = current.card.as_ref()?;
        Some((card, *mode, current.pin))
    }
}
