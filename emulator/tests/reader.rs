//! The reader core, driven through its public sans-IO interface: connect,
//! disconnect for every documented reason, auto-reconnect, battery, updates,
//! discovery per model, smart-reader registration and take-over, and payments
//! from card presentment to the online outcome.
//!
//! Every test runs on virtual time: the bench jumps the clock to the reader's
//! next deadline, so 24 hours cost nothing.

use readerlab_emulator::core::TestCards;
use readerlab_emulator::core::reader::{Input, InputError, Reader, UpdateOffer};
use readerlab_emulator::core::{
    BatteryStatus, ConnectionStatus, DisconnectReason, EventBody, NetworkStatus, PaymentRequest,
    PowerOffCause, Prompt, ReportPhase, UpdateFailure,
};
use readerlab_emulator::core::{Currency, Millis, Money, TerminalErrorCode};
use readerlab_emulator::core::{DiscoveryMethod, EntryMode, LinkKind, ReaderModel};
use readerlab_emulator::core::{DiscoveryRequest, discover};
use readerlab_emulator::fixtures::ReaderCatalog;
use readerlab_emulator::history::HistoryWriter;
use rstest::rstest;
use std::sync::Arc;
use std::time::Duration;

const VISA: &str = "4242424242424242";
const DECLINED: &str = "4000000000000002";
const OFFLINE_PIN: &str = "4001007020000002";
const SCA_RETRY: &str = "4000002760000008";

/// One reader on a virtual clock, with every event it emitted.
struct Bench {
    reader: Reader,
    now: Millis,
    events: Vec<(Millis, EventBody)>,
}

impl Bench {
    fn new(model: ReaderModel) -> Bench {
        let profile = Arc::new(ReaderCatalog::builtin().get(model).clone());
        let cards = Arc::new(TestCards::builtin().clone());
        let serial = format!("{}-0001", profile.serial_prefix);
        Bench {
            reader: Reader::new(profile, cards, serial, Millis::ZERO),
            now: Millis::ZERO,
            events: vec![],
        }
    }

    fn with_battery(mut self, percent: u8, charging: bool) -> Bench {
        self.reader = self.reader.with_battery(percent, charging);
        self
    }

    fn link(&self) -> LinkKind {
        self.reader.profile().links[0]
    }

    fn drain(&mut self) {
        while let Some(event) = self.reader.poll_event() {
            self.events.push(event);
        }
    }

    fn input(&mut self, input: Input) {
        self.try_input(input).expect("a possible input");
    }

    fn try_input(&mut self, input: Input) -> Result<(), InputError> {
        let result = self.reader.handle(self.now, input);
        self.drain();
        result
    }

    /// Moves the clock forward, firing every deadline on the way.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.reader.handle_timeout(self.now);
        self.drain();
    }

    fn connect_as(&mut self, pos: &str, via: LinkKind) {
        let connect =
            Input::Connect { pos: pos.into(), via, auto_reconnect: None, fail_if_in_use: false };
        self.input(connect);
        self.advance(Duration::from_secs(1));
        self.advance(Duration::from_secs(1));
    }

    fn connect(&mut self) {
        let via = self.link();
        self.connect_as("pos-1", via);
        assert_eq!(self.reader.status(), ConnectionStatus::Connected, "{:#?}", self.names());
        self.events.clear();
    }

    fn names(&self) -> Vec<String> {
        self.events.iter().map(|(_, e)| e.name()).collect()
    }

    fn has(&self, name: &str) -> bool {
        self.names().iter().any(|n| n == name)
    }

    fn find(&self, name: &str) -> &EventBody {
        let found = self.events.iter().find(|(_, e)| e.name() == name);
        &found.unwrap_or_else(|| panic!("no {name} in {:#?}", self.names())).1
    }

    fn time_of(&self, name: &str) -> Millis {
        self.events.iter().find(|(_, e)| e.name() == name).map(|(t, _)| *t).expect(name)
    }

    fn pay(&mut self, payment: &str, amount: u64) {
        let amount = Money::new(amount, Currency::USD);
        self.input(Input::Collect { payment: payment.into(), amount });
    }

    fn present(&mut self, number: &str, mode: EntryMode) {
        self.input(Input::PresentCard { number: number.into(), mode });
    }

    fn confirm(&mut self, payment: &str) {
        self.input(Input::Confirm { payment: payment.into() });
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// --- battery ------------------------------------------------------------------

#[rstest]
#[case(100, BatteryStatus::Nominal)]
#[case(21, BatteryStatus::Nominal)]
#[case(20, BatteryStatus::Low)]
#[case(6, BatteryStatus::Low)]
#[case(5, BatteryStatus::Critical)]
#[case(0, BatteryStatus::Critical)]
fn battery_classes_follow_the_documented_thresholds(
    #[values(ReaderModel::M2, ReaderModel::Wisepad3, ReaderModel::Chipper2x)] model: ReaderModel,
    #[case] percent: u8,
    #[case] status: BatteryStatus,
) {
    let bench = Bench::new(model).with_battery(percent, true);
    assert_eq!(bench.reader.battery_status(), status);
}

#[rstest]
#[case(5, false, Some(TerminalErrorCode::ReaderBatteryCriticallyLow))]
#[case(5, true, None)]
#[case(6, false, None)]
fn connecting_on_a_critical_battery_fails_clearly(
    #[case] percent: u8,
    #[case] charging: bool,
    #[case] refusal: Option<TerminalErrorCode>,
) {
    // Incident android-343: a clear error, never a hang. The battery gets
    // there through inputs, as it would on the bench.
    let mut bench = Bench::new(ReaderModel::M2);
    bench.input(Input::Battery { percent, charging });
    bench.connect_as("pos-1", LinkKind::Ble);
    match refusal {
        Some(code) => {
            assert_eq!(
                bench.find("reader.connect.failed"),
                &EventBody::ConnectFailed { pos: "pos-1".into(), code }
            );
            assert_eq!(bench.reader.status(), ConnectionStatus::NotConnected);
        }
        None => assert_eq!(bench.reader.status(), ConnectionStatus::Connected),
    }
}

#[test]
fn a_battery_falling_to_low_warns_once_to_critical_disconnects_and_empty_powers_off() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    bench.input(Input::Battery { percent: 18, charging: false });
    bench.input(Input::Battery { percent: 12, charging: false });
    assert_eq!(bench.names().iter().filter(|n| *n == "reader.battery.low").count(), 1);
    bench.input(Input::Battery { percent: 4, charging: false });
    let reason = DisconnectReason::CriticallyLowBattery;
    assert_eq!(
        bench.find("reader.disconnected"),
        &EventBody::Disconnected { pos: "pos-1".into(), reason }
    );
    assert!(!bench.has("reader.reconnect.started"));
    assert!(bench.reader.is_powered(), "a critical reader stays on, so connecting fails clearly");
    bench.events.clear();
    bench.connect_as("pos-1", LinkKind::Ble);
    let code = TerminalErrorCode::ReaderBatteryCriticallyLow;
    assert_eq!(
        bench.find("reader.connect.failed"),
        &EventBody::ConnectFailed { pos: "pos-1".into(), code }
    );
    bench.input(Input::Battery { percent: 0, charging: false });
    assert_eq!(
        bench.find("reader.powered_off"),
        &EventBody::PoweredOff { cause: PowerOffCause::BatteryEmpty }
    );
    bench.input(Input::PowerOn);
    assert!(!bench.reader.is_powered(), "an empty reader does not start");
}

#[test]
fn battery_reports_reach_only_a_connected_sdk() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.input(Input::Battery { percent: 15, charging: false });
    assert!(bench.events.is_empty(), "{:#?}", bench.names());
    bench.connect();
    bench.input(Input::Battery { percent: 14, charging: false });
    assert_eq!(bench.names(), ["reader.battery.level"]);
}

#[test]
fn a_connected_reader_reports_its_battery_every_ten_minutes() {
    let mut bench = Bench::new(ReaderModel::Chipper2x);
    bench.connect();
    bench.advance(secs(3600));
    let reports = bench.names().iter().filter(|n| *n == "reader.battery.level").count();
    assert_eq!(reports, 6);
}

// --- software updates ----------------------------------------------------------

#[rstest]
#[case::enough_battery(51, false, None, Ok(()))]
#[case::half_is_not_enough(
    50,
    false,
    None,
    Err(TerminalErrorCode::ReaderSoftwareUpdateFailedBatteryLow)
)]
#[case::charging_does_not_help(
    40,
    true,
    None,
    Err(TerminalErrorCode::ReaderSoftwareUpdateFailedBatteryLow)
)]
#[case::reader_error(
    90,
    false,
    Some(UpdateFailure::ReaderError),
    Err(TerminalErrorCode::ReaderSoftwareUpdateFailedReaderError)
)]
#[case::server_error(
    90,
    false,
    Some(UpdateFailure::ServerError),
    Err(TerminalErrorCode::ReaderSoftwareUpdateFailedServerError)
)]
fn a_required_update_installs_during_connect_or_fails_with_its_reason(
    #[case] percent: u8,
    #[case] charging: bool,
    #[case] fails_with: Option<UpdateFailure>,
    #[case] expected: Result<(), TerminalErrorCode>,
) {
    // Incident android-141: under 50 % (even charging) the update fails and
    // the reader is left disconnected, with the reason.
    let mut bench = Bench::new(ReaderModel::M2).with_battery(percent, charging);
    bench.input(Input::OfferUpdate(UpdateOffer { fails_with, ..UpdateOffer::new("2.1.0", true) }));
    bench.connect_as("pos-1", LinkKind::Ble);
    bench.advance(secs(600));
    match expected {
        Ok(()) => {
            let names = bench.names();
            let installed = names.iter().position(|n| n == "reader.update.installed");
            let connected = names.iter().position(|n| n == "reader.connected");
            assert!(installed < connected, "installed before use: {names:#?}");
            assert_eq!(bench.reader.software_version(), "2.1.0");
            assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
        }
        Err(code) => {
            assert!(
                matches!(bench.find("reader.update.failed"), EventBody::UpdateFailed { code: c, .. } if *c == code)
            );
            assert_eq!(
                bench.find("reader.connect.failed"),
                &EventBody::ConnectFailed { pos: "pos-1".into(), code }
            );
            assert_eq!(bench.reader.status(), ConnectionStatus::NotConnected);
            assert_eq!(bench.reader.software_version(), "1.0.0");
        }
    }
}

#[test]
fn power_lost_during_an_update_fails_it_as_interrupted() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.input(Input::OfferUpdate(UpdateOffer::new("2.1.0", true)));
    bench.connect_as("pos-1", LinkKind::Ble);
    assert!(bench.has("reader.update.started"));
    bench.input(Input::PowerOff);
    let code = TerminalErrorCode::ReaderSoftwareUpdateFailedInterrupted;
    assert_eq!(
        bench.find("reader.connect.failed"),
        &EventBody::ConnectFailed { pos: "pos-1".into(), code }
    );
    assert_eq!(bench.reader.software_version(), "1.0.0");
}

#[test]
fn an_optional_update_waits_for_the_app_until_its_deadline() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.input(Input::OfferUpdate(UpdateOffer::new("2.1.0", false)));
    bench.connect();
    assert!(!bench.has("reader.update.started"), "optional updates do not install on connect");
    bench.input(Input::InstallUpdate);
    bench.advance(secs(600));
    assert!(bench.has("reader.update.installed"));
    assert_eq!(bench.reader.status(), ConnectionStatus::Connected);

    // Past its two-week deadline an optional update installs on connect.
    // Charging, or the 10 h idle power-down would come first.
    let mut late = Bench::new(ReaderModel::M2).with_battery(100, true);
    late.input(Input::OfferUpdate(UpdateOffer::new("2.2.0", false)));
    late.advance(secs(15 * 86_400));
    late.connect_as("pos-1", LinkKind::Ble);
    late.advance(secs(600));
    assert!(late.has("reader.update.installed"));
    assert_eq!(late.reader.software_version(), "2.2.0");
}

#[test]
fn smart_readers_install_pending_updates_while_rebooting() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.connect();
    bench.input(Input::OfferUpdate(UpdateOffer::new("3.0.0", true)));
    assert_eq!(bench.reader.software_version(), "1.0.0");
    bench.input(Input::Reboot);
    bench.advance(secs(300));
    assert_eq!(bench.reader.software_version(), "3.0.0");
    assert!(bench.has("reader.reconnect.succeeded"));
}

// --- disconnects and auto-reconnect ---------------------------------------------

/// How to make each documented disconnect happen.
fn cause(bench: &mut Bench, reason: DisconnectReason) {
    match reason {
        DisconnectReason::Unknown => bench.input(Input::Lan { up: false }),
        DisconnectReason::DisconnectRequested => bench.input(Input::Disconnect),
        DisconnectReason::RebootRequested => bench.input(Input::Reboot),
        DisconnectReason::SecurityReboot => {
            // Charging, or the 10 h idle power-down would come first.
            bench.input(Input::Battery { percent: 100, charging: true });
            bench.advance(secs(24 * 3600));
        }
        DisconnectReason::CriticallyLowBattery => {
            bench.input(Input::Battery { percent: 3, charging: false });
        }
        DisconnectReason::PoweredOff => bench.input(Input::PowerOff),
        DisconnectReason::BluetoothDisabled => bench.input(Input::BluetoothRadio { on: false }),
        DisconnectReason::UsbDisconnected => bench.input(Input::Usb { attached: false }),
        DisconnectReason::IdlePowerDown => bench.advance(secs(10 * 3600)),
        DisconnectReason::BluetoothPeerRemovedPairing => bench.input(Input::RemovePairing),
        DisconnectReason::BluetoothSignalLost => bench.input(Input::Signal { up: false }),
    }
}

#[rstest]
#[case(ReaderModel::S700, LinkKind::Lan, DisconnectReason::Unknown, true)]
#[case(ReaderModel::M2, LinkKind::Ble, DisconnectReason::DisconnectRequested, false)]
#[case(ReaderModel::Wisepad3, LinkKind::Ble, DisconnectReason::RebootRequested, true)]
#[case(ReaderModel::Wisepad3, LinkKind::Ble, DisconnectReason::SecurityReboot, true)]
#[case(ReaderModel::M2, LinkKind::Ble, DisconnectReason::CriticallyLowBattery, false)]
#[case(ReaderModel::Chipper2x, LinkKind::Ble, DisconnectReason::PoweredOff, true)]
#[case(ReaderModel::M2, LinkKind::Ble, DisconnectReason::BluetoothDisabled, false)]
#[case(ReaderModel::M2, LinkKind::Usb, DisconnectReason::UsbDisconnected, true)]
#[case(ReaderModel::Chipper2x, LinkKind::Ble, DisconnectReason::IdlePowerDown, false)]
#[case(ReaderModel::Wisepad3, LinkKind::Ble, DisconnectReason::BluetoothPeerRemovedPairing, false)]
#[case(ReaderModel::M2, LinkKind::Ble, DisconnectReason::BluetoothSignalLost, true)]
fn each_disconnect_reason_is_reported_and_reconnects_only_when_documented(
    #[case] model: ReaderModel,
    #[case] via: LinkKind,
    #[case] reason: DisconnectReason,
    #[case] reconnects: bool,
) {
    let mut bench = Bench::new(model);
    bench.connect_as("pos-1", via);
    bench.events.clear();
    cause(&mut bench, reason);
    assert_eq!(
        bench.find("reader.disconnected"),
        &EventBody::Disconnected { pos: "pos-1".into(), reason }
    );
    assert_eq!(bench.has("reader.reconnect.started"), reconnects, "{:#?}", bench.names());
    assert_eq!(reason.auto_reconnects(), reconnects);
}

#[test]
fn the_reason_table_lists_every_reason_once() {
    // The exhaustive match fails to compile when a reason is added, and the
    // table must then list it too.
    let index = |reason: DisconnectReason| match reason {
        DisconnectReason::Unknown => 0,
        DisconnectReason::DisconnectRequested => 1,
        DisconnectReason::RebootRequested => 2,
        DisconnectReason::SecurityReboot => 3,
        DisconnectReason::CriticallyLowBattery => 4,
        DisconnectReason::PoweredOff => 5,
        DisconnectReason::BluetoothDisabled => 6,
        DisconnectReason::UsbDisconnected => 7,
        DisconnectReason::IdlePowerDown => 8,
        DisconnectReason::BluetoothPeerRemovedPairing => 9,
        DisconnectReason::BluetoothSignalLost => 10,
    };
    let listed: Vec<usize> = DisconnectReason::ALL.iter().map(|r| index(*r)).collect();
    assert_eq!(listed, (0..11).collect::<Vec<_>>());
}

#[rstest]
#[case::back_in_time(30, true)]
#[case::too_late(61, false)]
fn auto_reconnect_wins_the_reader_back_within_its_budget(
    #[case] back_after: u64,
    #[case] wins: bool,
) {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.input(Input::Signal { up: false });
    let lost_at = bench.now;
    assert_eq!(bench.reader.status(), ConnectionStatus::Reconnecting);
    bench.advance(secs(back_after));
    bench.input(Input::Signal { up: true });
    bench.advance(secs(120));
    if wins {
        assert!(bench.has("reader.reconnect.succeeded"));
        assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
    } else {
        assert_eq!(bench.time_of("reader.reconnect.failed"), lost_at + secs(60));
        assert_eq!(bench.reader.status(), ConnectionStatus::NotConnected);
    }
}

#[test]
fn reconnect_after_the_security_reboot_succeeds() {
    // Incident rn-1095: after the 24 h security reboot the reader must come
    // back by itself.
    let mut bench = Bench::new(ReaderModel::Wisepad3).with_battery(100, true);
    bench.connect();
    bench.advance(secs(24 * 3600 + 120));
    let names: Vec<String> =
        bench.names().into_iter().filter(|n| n != "reader.battery.level").collect();
    assert_eq!(
        names,
        [
            "reader.reboot.started",
            "reader.disconnected",
            "reader.reconnect.started",
            "reader.reboot.finished",
            "reader.connected",
            "reader.reconnect.succeeded",
        ]
    );
    assert!(bench.time_of("reader.reboot.finished") < bench.time_of("reader.reconnect.succeeded"));
    // A requested reboot restarts the 24 h timer.
    bench.events.clear();
    bench.advance(secs(20 * 3600));
    bench.input(Input::Reboot);
    bench.advance(secs(20 * 3600));
    assert!(!bench.events.iter().any(|(_, e)| matches!(
        e,
        EventBody::RebootStarted { kind: readerlab_emulator::core::RebootKind::Security }
    )));
}

#[test]
fn auto_reconnect_can_be_turned_off_per_connection() {
    let mut bench = Bench::new(ReaderModel::M2);
    let connect = Input::Connect {
        pos: "pos-1".into(),
        via: LinkKind::Ble,
        auto_reconnect: Some(false),
        fail_if_in_use: false,
    };
    bench.input(connect);
    bench.advance(secs(2));
    bench.input(Input::Signal { up: false });
    assert!(bench.has("reader.disconnected"));
    assert!(!bench.has("reader.reconnect.started"));
}

#[test]
fn connecting_works_again_after_the_radio_comes_back() {
    // Incident ios-276: connected; Bluetooth off; on; discover; connect.
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.input(Input::BluetoothRadio { on: false });
    bench.connect_as("pos-1", LinkKind::Ble);
    assert!(matches!(
        bench.find("reader.connect.failed"),
        EventBody::ConnectFailed { code: TerminalErrorCode::BluetoothError, .. }
    ));
    bench.input(Input::BluetoothRadio { on: true });
    let request = DiscoveryRequest { method: DiscoveryMethod::BluetoothScan, bluetooth_on: true };
    let found = discover(bench.now, request, &[&bench.reader]);
    assert!(found.iter().any(|(_, e)| e.name() == "pos.discovery.reported"));
    bench.connect_as("pos-1", LinkKind::Ble);
    assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
}

#[test]
fn a_mobile_reader_serves_one_pos_at_a_time() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    let refused = |pos: &str, code| EventBody::ConnectRefused { pos: pos.into(), code };
    bench.connect_as("pos-2", LinkKind::Ble);
    bench.connect_as("pos-1", LinkKind::Ble);
    bench.connect_as("pos-1", LinkKind::Lan);
    let seen: Vec<&EventBody> = bench.events.iter().map(|(_, e)| e).collect();
    assert_eq!(
        seen,
        [
            &refused("pos-2", TerminalErrorCode::ReaderBusy),
            &refused("pos-1", TerminalErrorCode::AlreadyConnectedToReader),
            &refused("pos-1", TerminalErrorCode::UnsupportedOperation),
        ]
    );
    assert_eq!(bench.reader.connected_pos(), Some("pos-1"));
}

#[test]
fn a_reader_without_a_pairing_ceremony_repairs_silently_on_the_next_connect() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.input(Input::RemovePairing);
    bench.connect_as("pos-1", LinkKind::Ble);
    assert!(bench.has("reader.paired"), "{:#?}", bench.names());
    assert!(!bench.has("reader.pairing.requested"));
    assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
}

#[rstest]
#[case::accepted(Some(true), None)]
#[case::rejected(Some(false), Some(TerminalErrorCode::Canceled))]
#[case::nobody_answers(None, Some(TerminalErrorCode::BluetoothConnectTimedOut))]
fn numeric_comparison_pairing_waits_for_a_person(
    #[case] answer: Option<bool>,
    #[case] refusal: Option<TerminalErrorCode>,
) {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.input(Input::RemovePairing);
    bench.connect_as("pos-1", LinkKind::Ble);
    let EventBody::PairingRequested { code, .. } = bench.find("reader.pairing.requested") else {
        unreachable!()
    };
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(bench.reader.status(), ConnectionStatus::Connecting);
    if let Some(accept) = answer {
        bench.input(Input::ConfirmPairing { accept });
    }
    bench.advance(secs(60));
    match refusal {
        None => assert_eq!(bench.reader.status(), ConnectionStatus::Connected),
        Some(code) => {
            let failed = EventBody::ConnectFailed { pos: "pos-1".into(), code };
            assert_eq!(bench.find("reader.connect.failed"), &failed);
            assert_eq!(bench.reader.status(), ConnectionStatus::NotConnected);
        }
    }
    assert_eq!(
        bench.try_input(Input::ConfirmPairing { accept: true }),
        Err(InputError::NoPairingRequested)
    );
}

// --- smart readers: registration, take-over, listed status ------------------------

#[rstest]
#[case(ReaderModel::S700, "simulated-s700", true)]
#[case(ReaderModel::WiseposE, "simulated-wpe", true)]
#[case(ReaderModel::S700, "simulated-wpe", false)]
#[case(ReaderModel::M2, "simulated-s700", false)]
fn smart_readers_accept_their_simulated_registration_code(
    #[case] model: ReaderModel,
    #[case] code: &str,
    #[case] accepted: bool,
) {
    let mut bench = Bench::new(model);
    bench.input(Input::Register {
        code: code.into(),
        location: "tml_1".into(),
        label: "Front".into(),
    });
    assert_eq!(bench.has("reader.registered"), accepted, "{:#?}", bench.names());
    assert_eq!(bench.reader.registration().is_some(), accepted);
}

#[test]
fn a_shown_registration_code_works_once() {
    let mut bench = Bench::new(ReaderModel::WiseposE);
    bench.input(Input::ShowRegistrationCode { code: "quick-brown-fox".into() });
    let register = Input::Register {
        code: "quick-brown-fox".into(),
        location: "tml_1".into(),
        label: "Till 2".into(),
    };
    bench.input(register.clone());
    assert!(bench.has("reader.registered"));
    bench.input(register);
    assert!(bench.has("reader.registration.failed"));
}

#[test]
fn a_new_pos_takes_over_an_idle_smart_reader() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.connect_as("pos-a", LinkKind::Lan);
    bench.connect_as("pos-b", LinkKind::Lan);
    assert_eq!(
        bench.find("reader.taken_over"),
        &EventBody::TakenOver { from_pos: "pos-a".into(), by_pos: "pos-b".into() }
    );
    assert_eq!(
        bench.find("reader.disconnected"),
        &EventBody::Disconnected { pos: "pos-a".into(), reason: DisconnectReason::Unknown }
    );
    assert!(!bench.has("reader.reconnect.started"), "the old POS must not fight for the reader");
    assert_eq!(bench.reader.connected_pos(), Some("pos-b"));
}

#[rstest]
#[case::fail_if_in_use(true)]
#[case::interrupt(false)]
fn taking_over_a_smart_reader_mid_collect_obeys_fail_if_in_use(#[case] fail_if_in_use: bool) {
    let mut bench = Bench::new(ReaderModel::WiseposE);
    bench.connect_as("pos-a", LinkKind::Lan);
    bench.pay("pay_1", 1000);
    let connect = Input::Connect {
        pos: "pos-b".into(),
        via: LinkKind::Lan,
        auto_reconnect: None,
        fail_if_in_use,
    };
    bench.input(connect);
    bench.advance(secs(2));
    if fail_if_in_use {
        let code = TerminalErrorCode::ReaderBusy;
        assert_eq!(
            bench.find("reader.connect.refused"),
            &EventBody::ConnectRefused { pos: "pos-b".into(), code }
        );
        assert_eq!(bench.reader.connected_pos(), Some("pos-a"));
    } else {
        let code = TerminalErrorCode::Canceled;
        assert_eq!(
            bench.find("reader.payment.failed"),
            &EventBody::PaymentFailed { payment: "pay_1".into(), code }
        );
        assert_eq!(bench.reader.connected_pos(), Some("pos-b"));
    }
}

#[test]
fn the_listed_status_of_a_smart_reader_lags_a_minute_behind() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.advance(secs(10));
    bench.input(Input::Internet { up: false });
    let cut = bench.now;
    assert_eq!(bench.reader.listed_status(cut + secs(59)), NetworkStatus::Online);
    assert_eq!(bench.reader.listed_status(cut + secs(60)), NetworkStatus::Offline);
}

// --- discovery per model -----------------------------------------------------------

fn registered(model: ReaderModel) -> Bench {
    let mut bench = Bench::new(model);
    let code = if model == ReaderModel::S700 { "simulated-s700" } else { "simulated-wpe" };
    bench.input(Input::Register {
        code: code.into(),
        location: "tml_1".into(),
        label: "Till".into(),
    });
    bench
}

#[rstest]
#[case::m2_scan(ReaderModel::M2, DiscoveryMethod::BluetoothScan, vec![(800, ReportPhase::Full)])]
#[case::wisepad3_usb(ReaderModel::Wisepad3, DiscoveryMethod::Usb, vec![(800, ReportPhase::Full)])]
#[case::chipper_scan(ReaderModel::Chipper2x, DiscoveryMethod::BluetoothScan, vec![(300, ReportPhase::Full)])]
#[case::chipper_proximity_reports_twice(ReaderModel::Chipper2x, DiscoveryMethod::BluetoothProximity, vec![(300, ReportPhase::Partial), (1500, ReportPhase::Full)])]
#[case::m2_has_no_proximity(ReaderModel::M2, DiscoveryMethod::BluetoothProximity, vec![])]
#[case::s700_internet(ReaderModel::S700, DiscoveryMethod::Internet, vec![(500, ReportPhase::Full)])]
#[case::wisepos_e_internet(ReaderModel::WiseposE, DiscoveryMethod::Internet, vec![(500, ReportPhase::Full)])]
#[case::smart_readers_are_not_on_bluetooth(ReaderModel::S700, DiscoveryMethod::BluetoothScan, vec![])]
fn discovery_reports_each_model_as_documented(
    #[case] model: ReaderModel,
    #[case] method: DiscoveryMethod,
    #[case] reports: Vec<(u64, ReportPhase)>,
) {
    let bench = registered(model);
    let request = DiscoveryRequest { method, bluetooth_on: true };
    let events = discover(Millis::ZERO, request, &[&bench.reader]);
    let seen: Vec<(u64, ReportPhase)> = events
        .iter()
        .filter_map(|(t, e)| match e {
            EventBody::ReaderDiscovered(r) => Some((t.0, r.phase)),
            _ => None,
        })
        .collect();
    assert_eq!(seen, reports);
    let last = events.last().unwrap();
    assert_eq!(last.1.name(), "pos.discovery.finished", "discovery always finishes");
    if let EventBody::ReaderDiscovered(partial) = &events[1].1
        && partial.phase == ReportPhase::Partial
    {
        assert_eq!(partial.model, None, "the first proximity report carries the serial only");
        assert_eq!(partial.serial, bench.reader.serial());
    }
}

#[test]
fn internet_discovery_lists_offline_smart_readers_with_lagging_status_and_skips_unregistered_ones()
{
    let mut listed = registered(ReaderModel::S700);
    listed.advance(secs(100));
    listed.input(Input::PowerOff);
    let unregistered = Bench::new(ReaderModel::WiseposE);
    let request = DiscoveryRequest { method: DiscoveryMethod::Internet, bluetooth_on: false };
    let statuses = |at: Millis| -> Vec<Option<NetworkStatus>> {
        discover(at, request, &[&listed.reader, &unregistered.reader])
            .into_iter()
            .filter_map(|(_, e)| match e {
                EventBody::ReaderDiscovered(r) => Some(r.status),
                _ => None,
            })
            .collect()
    };
    assert_eq!(statuses(Millis(101_000)), vec![Some(NetworkStatus::Online)], "status lags reality");
    assert_eq!(statuses(Millis(160_000)), vec![Some(NetworkStatus::Offline)]);
}

#[test]
fn bluetooth_discovery_fails_at_once_with_the_radio_off_and_skips_connected_readers() {
    let mut bench = Bench::new(ReaderModel::M2);
    let off = DiscoveryRequest { method: DiscoveryMethod::BluetoothScan, bluetooth_on: false };
    let events = discover(Millis::ZERO, off, &[&bench.reader]);
    assert_eq!(events[1].1.name(), "pos.discovery.failed");
    bench.connect();
    let on = DiscoveryRequest { method: DiscoveryMethod::BluetoothScan, bluetooth_on: true };
    let events = discover(bench.now, on, &[&bench.reader]);
    assert!(
        !events.iter().any(|(_, e)| e.name() == "pos.discovery.reported"),
        "a connected reader stops advertising"
    );
}

#[test]
fn a_critical_battery_reader_is_still_discovered_with_its_level() {
    // Incident android-343: discovery at ~5 % must finish and show why a
    // connect would fail.
    let mut bench = Bench::new(ReaderModel::M2);
    bench.input(Input::Battery { percent: 5, charging: false });
    let request = DiscoveryRequest { method: DiscoveryMethod::BluetoothScan, bluetooth_on: true };
    let events = discover(Millis::ZERO, request, &[&bench.reader]);
    let EventBody::ReaderDiscovered(report) = &events[1].1 else { panic!("{events:#?}") };
    assert_eq!(report.battery_percent, Some(5));
}

// --- payments -------------------------------------------------------------------

#[rstest]
#[case::tap(EntryMode::Contactless)]
#[case::insert(EntryMode::Chip)]
#[case::swipe(EntryMode::Swipe)]
fn collect_then_confirm_approves_a_good_card(
    #[values(
        ReaderModel::M2,
        ReaderModel::Wisepad3,
        ReaderModel::Chipper2x,
        ReaderModel::S700,
        ReaderModel::WiseposE
    )]
    model: ReaderModel,
    #[case] mode: EntryMode,
) {
    let mut bench = Bench::new(model);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.present(VISA, mode);
    assert!(
        matches!(bench.find("reader.payment.collected"), EventBody::Collected { entry_mode, .. } if *entry_mode == mode)
    );
    bench.confirm("pay_1");
    let amount = Money::new(1000, Currency::USD);
    assert_eq!(
        bench.find("reader.payment.approved"),
        &EventBody::PaymentApproved { payment: "pay_1".into(), amount }
    );
}

#[rstest]
#[case::declining_card(ReaderModel::Wisepad3, DECLINED, 1000, None, "generic_decline")]
#[case::declining_amount(ReaderModel::M2, VISA, 1005, None, "generic_decline")]
#[case::pin_amount_without_pin_pad(ReaderModel::M2, VISA, 1002, None, "offline_pin_required")]
#[case::pin_card_without_pin_pad(
    ReaderModel::Chipper2x,
    OFFLINE_PIN,
    1000,
    None,
    "offline_pin_required"
)]
#[case::wrong_pin(ReaderModel::Wisepad3, OFFLINE_PIN, 1000, Some("9999"), "incorrect_pin")]
fn declines_reach_the_app_with_their_code(
    #[case] model: ReaderModel,
    #[case] card: &str,
    #[case] amount: u64,
    #[case] pin: Option<&str>,
    #[case] decline_code: &str,
) {
    let mut bench = Bench::new(model);
    bench.connect();
    bench.pay("pay_1", amount);
    bench.present(card, EntryMode::Chip);
    bench.confirm("pay_1");
    if let Some(pin) = pin {
        bench.input(Input::EnterPin { pin: pin.into() });
    }
    let EventBody::PaymentDeclined { decline_code: got, .. } =
        bench.find("reader.payment.declined")
    else {
        unreachable!()
    };
    assert_eq!(got, decline_code);
    assert_eq!(
        bench
            .names()
            .iter()
            .filter(|n| n.starts_with("reader.payment.") && !n.contains("collect"))
            .count(),
        1,
        "exactly one outcome"
    );
}

#[test]
fn a_pin_amount_asks_for_the_pin_then_approves() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.connect();
    bench.pay("pay_1", 2502);
    bench.present(VISA, EntryMode::Chip);
    bench.confirm("pay_1");
    assert_eq!(
        bench.find("reader.pin.requested"),
        &EventBody::PinRequested {
            payment: "pay_1".into(),
            decline_code: "offline_pin_required".into()
        }
    );
    bench.input(Input::EnterPin { pin: "1234".into() });
    assert!(bench.has("reader.payment.approved"));
    let history = format!("{:?}", bench.events);
    assert!(!history.contains("1234"), "the PIN never reaches an event");
}

#[test]
fn the_sca_retry_card_asks_for_insert_and_pin_after_a_tap() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.present(SCA_RETRY, EntryMode::Contactless);
    bench.confirm("pay_1");
    assert_eq!(bench.find("reader.prompt"), &EventBody::Prompted { prompt: Prompt::InsertCard });
    assert!(!bench.has("reader.pin.requested"));
    bench.present(SCA_RETRY, EntryMode::Chip);
    assert!(bench.has("reader.pin.requested"));
    bench.input(Input::EnterPin { pin: "1234".into() });
    assert!(bench.has("reader.payment.approved"));
}

#[test]
fn a_card_left_inserted_must_come_out_before_the_next_payment() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.present(VISA, EntryMode::Chip);
    bench.confirm("pay_1");
    assert!(bench.has("reader.payment.approved"));
    assert_eq!(bench.events.last().unwrap().1, EventBody::Prompted { prompt: Prompt::RemoveCard });
    bench.events.clear();
    bench.pay("pay_2", 1000);
    assert_eq!(bench.find("reader.prompt"), &EventBody::Prompted { prompt: Prompt::RemoveCard });
    assert_eq!(
        bench.try_input(Input::PresentCard { number: VISA.into(), mode: EntryMode::Chip }),
        Err(InputError::SlotOccupied)
    );
    bench.input(Input::RemoveCard);
    bench.present(VISA, EntryMode::Chip);
    assert!(bench.has("reader.payment.collected"));
}

#[test]
fn pulling_the_card_while_the_pin_is_asked_fails_the_payment() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.present(OFFLINE_PIN, EntryMode::Chip);
    bench.confirm("pay_1");
    bench.input(Input::RemoveCard);
    let code = TerminalErrorCode::CardRemoved;
    assert_eq!(
        bench.find("reader.payment.failed"),
        &EventBody::PaymentFailed { payment: "pay_1".into(), code }
    );
}

#[test]
fn losing_the_link_fails_the_payment_in_progress_once() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.input(Input::Signal { up: false });
    let code = TerminalErrorCode::BluetoothDisconnected;
    assert_eq!(
        bench.find("reader.payment.failed"),
        &EventBody::PaymentFailed { payment: "pay_1".into(), code }
    );
}

#[rstest]
#[case::collect_unconnected(false, Input::Collect { payment: "pay_1".into(), amount: Money::new(1000, Currency::USD) }, PaymentRequest::Collect, TerminalErrorCode::NotConnectedToReader)]
#[case::collect_while_busy(true, Input::Collect { payment: "pay_1".into(), amount: Money::new(1000, Currency::USD) }, PaymentRequest::Collect, TerminalErrorCode::ReaderBusy)]
#[case::confirm_after_the_outcome(true, Input::Confirm { payment: "pay_0".into() }, PaymentRequest::Confirm, TerminalErrorCode::InvalidRequiredParameter)]
#[case::cancel_after_the_outcome(true, Input::Cancel { payment: "pay_0".into() }, PaymentRequest::Cancel, TerminalErrorCode::CancelFailed)]
fn requests_the_reader_cannot_take_are_refused_not_outcomes(
    #[case] connected: bool,
    #[case] request: Input,
    #[case] kind: PaymentRequest,
    #[case] code: TerminalErrorCode,
) {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    if connected {
        bench.connect();
        bench.pay("pay_0", 1000);
        bench.present(VISA, EntryMode::Contactless);
        bench.confirm("pay_0");
        if kind == PaymentRequest::Collect {
            bench.pay("pay_9", 1000);
        }
        bench.events.clear();
    }
    bench.input(request);
    let payment = if kind == PaymentRequest::Collect { "pay_1" } else { "pay_0" };
    assert_eq!(bench.names(), ["reader.payment.refused"]);
    assert_eq!(
        bench.events[0].1,
        EventBody::PaymentRefused { payment: payment.into(), request: kind, code }
    );
}

#[test]
fn impossible_inputs_are_refused_without_leaking_the_card_number() {
    let mut bench = Bench::new(ReaderModel::M2);
    let err = bench
        .try_input(Input::PresentCard { number: "4111111111111111".into(), mode: EntryMode::Chip })
        .unwrap_err();
    assert_eq!(err.to_string(), "no test card ends in 1111");
    assert_eq!(bench.try_input(Input::RemoveCard), Err(InputError::NoCardInserted));
    assert!(matches!(
        bench.try_input(Input::EnterPin { pin: "1234".into() }),
        Err(InputError::NoPinPad { .. })
    ));
    assert_eq!(
        bench.try_input(Input::Battery { percent: 101, charging: false }),
        Err(InputError::BatteryOutOfRange { percent: 101 })
    );
}

// --- the history of a whole flow --------------------------------------------------------

#[test]
fn no_card_number_reaches_the_history() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    for (i, card) in TestCards::builtin().cards.iter().enumerate() {
        let payment = format!("pay_{i}");
        bench.pay(&payment, 1000);
        bench.present(&card.number, EntryMode::Contactless);
        bench.confirm(&payment);
        bench.input(Input::Cancel { payment });
    }
    let mut writer = HistoryWriter::new(Vec::new());
    for (t, body) in &bench.events {
        writer.record(*t, bench.reader.part(), body).unwrap();
    }
    let history = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    for card in &TestCards::builtin().cards {
        assert!(
            !history.contains(&card.number),
            "full number of {} in the history",
            card.simulated_type
        );
        assert!(
            !history.contains(&card.number[..12]),
            "first twelve digits of {} in the history",
            card.simulated_type
        );
    }
}

#[test]
fn golden_history_of_an_m2_payment() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect_as("pos-1", LinkKind::Ble);
    bench.pay("pay_1", 1000);
    bench.present(VISA, EntryMode::Contactless);
    bench.confirm("pay_1");
    bench.input(Input::Signal { up: false });
    bench.advance(secs(5));
    bench.input(Input::Signal { up: true });
    bench.advance(secs(5));
    let mut writer = HistoryWriter::new(Vec::new());
    for (t, body) in &bench.events {
        writer.record(*t, bench.reader.part(), body).unwrap();
    }
    insta::assert_snapshot!(String::from_utf8(writer.into_inner().unwrap()).unwrap());
}

// --- regressions from review ----------------------------------------------------

#[test]
fn confirming_a_pairing_nobody_asked_for_changes_nothing() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.pay("pay_1", 1000);
    let refused = bench.try_input(Input::ConfirmPairing { accept: true });
    assert_eq!(refused, Err(InputError::NoPairingRequested));
    assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
    assert!(bench.reader.is_busy(), "the payment in progress is untouched");
}

#[test]
fn auto_reconnect_installs_a_required_update_before_use() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.input(Input::Signal { up: false });
    bench.input(Input::OfferUpdate(UpdateOffer::new("2.1.0", true)));
    bench.input(Input::Signal { up: true });
    bench.advance(secs(300));
    let names = bench.names();
    let installed = names.iter().position(|n| n == "reader.update.installed");
    let succeeded = names.iter().position(|n| n == "reader.reconnect.succeeded");
    assert!(installed.is_some() && installed < succeeded, "{names:#?}");
    assert_eq!(bench.reader.software_version(), "2.1.0");
}

#[test]
fn an_optional_install_stops_with_the_connection_and_a_refused_one_is_not_a_failure() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.input(Input::OfferUpdate(UpdateOffer::new("2.1.0", false)));
    bench.input(Input::InstallUpdate);
    let code = TerminalErrorCode::NotConnectedToReader;
    assert_eq!(
        bench.find("reader.update.refused"),
        &EventBody::UpdateRefused { version: "2.1.0".into(), code }
    );
    bench.connect();
    bench.input(Input::InstallUpdate);
    bench.input(Input::Disconnect);
    bench.advance(secs(600));
    let code = TerminalErrorCode::ReaderSoftwareUpdateFailedInterrupted;
    assert_eq!(
        bench.find("reader.update.failed"),
        &EventBody::UpdateFailed { version: "2.1.0".into(), code }
    );
    assert!(!bench.has("reader.update.installed"));
    assert_eq!(bench.reader.software_version(), "1.0.0");
}

#[test]
fn a_canceled_payment_leaves_the_inserted_card_to_be_removed() {
    let mut bench = Bench::new(ReaderModel::Wisepad3);
    bench.connect();
    bench.pay("pay_1", 1000);
    bench.present(VISA, EntryMode::Chip);
    bench.input(Input::Cancel { payment: "pay_1".into() });
    bench.events.clear();
    bench.pay("pay_2", 1000);
    assert_eq!(bench.find("reader.prompt"), &EventBody::Prompted { prompt: Prompt::RemoveCard });
}

#[test]
fn a_card_inserted_before_the_collect_is_read_when_it_starts() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.connect();
    bench.present(VISA, EntryMode::Chip);
    bench.pay("pay_1", 1000);
    assert!(matches!(
        bench.find("reader.payment.collected"),
        EventBody::Collected { entry_mode: EntryMode::Chip, .. }
    ));
    bench.confirm("pay_1");
    assert!(bench.has("reader.payment.approved"));
}

#[test]
fn connecting_by_hand_ends_the_running_auto_reconnect_with_its_outcome() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.connect();
    bench.input(Input::Signal { up: false });
    bench.input(Input::Signal { up: true });
    bench.connect_as("pos-1", LinkKind::Ble);
    let names = bench.names();
    let failed = names.iter().position(|n| n == "reader.reconnect.failed");
    let started = names.iter().position(|n| n == "reader.connect.started");
    assert!(failed.is_some() && failed < started, "{names:#?}");
    assert_eq!(bench.reader.status(), ConnectionStatus::Connected);
}

#[test]
fn a_new_pos_takes_over_a_smart_reader_whose_pos_is_still_reconnecting() {
    let mut bench = Bench::new(ReaderModel::S700);
    bench.connect_as("pos-a", LinkKind::Lan);
    bench.input(Input::Lan { up: false });
    bench.input(Input::Lan { up: true });
    bench.events.clear();
    bench.connect_as("pos-b", LinkKind::Lan);
    let taken = EventBody::TakenOver { from_pos: "pos-a".into(), by_pos: "pos-b".into() };
    assert_eq!(bench.find("reader.taken_over"), &taken);
    assert_eq!(
        bench.find("reader.reconnect.failed"),
        &EventBody::ReconnectFailed { pos: "pos-a".into() }
    );
    assert_eq!(bench.reader.connected_pos(), Some("pos-b"));
}

#[test]
fn any_text_as_a_card_number_is_refused_cleanly_and_never_logged_in_full() {
    let mut bench = Bench::new(ReaderModel::M2);
    let err =
        bench.try_input(Input::PresentCard { number: "42€€".into(), mode: EntryMode::Chip });
    assert_eq!(err, Err(InputError::UnknownCard { last4: "42€€".into() }));
    let input = Input::PresentCard { number: VISA.into(), mode: EntryMode::Chip };
    let logged = format!("{input:?}");
    assert!(!logged.contains(&VISA[..12]) && logged.contains("4242"), "{logged}");
}

#[test]
#[should_panic(expected = "driven back in time")]
fn a_shell_whose_clock_runs_backwards_is_stopped() {
    let mut bench = Bench::new(ReaderModel::M2);
    bench.advance(secs(10));
    bench.reader.handle(Millis(0), Input::Disconnect).ok();
}

#[test]
fn a_switched_off_reader_reports_nothing_it_cannot_see() {
    let mut bench = Bench::new(ReaderModel::WiseposE);
    bench.input(Input::PowerOff);
    bench.events.clear();
    bench.present(VISA, EntryMode::Chip);
    bench.input(Input::Internet { up: false });
    assert!(bench.events.is_empty(), "{:#?}", bench.names());
    bench.input(Input::PowerOn);
    bench.connect();
    bench.pay("pay_1", 1000);
    assert!(bench.has("reader.payment.collected"), "the card stayed in the slot while off");
}
