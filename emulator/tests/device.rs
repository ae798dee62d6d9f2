//! An offline device (engine + encrypted store on a simulated disk) against
//! the backend ledger, through the field incidents of offline mode and the
//! store-backed error codes. Each test is one story, told in the order it
//! happened in the field.

mod common;

use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::backend::{ArmedFault, Backend, BackendConfig, ForwardMatch};
use readerlab_emulator::core::offline::{
    CaptureMethod, CollectedCard, Holder, Input, OfflineBehavior, Session,
};
use readerlab_emulator::core::{Currency, Millis, Money, TerminalErrorCode as Code};
use readerlab_emulator::core::{EntryMode, ReaderModel};
use readerlab_emulator::disk::SimDisk;
use readerlab_emulator::store::{LOG_FILE, SimKeychain, legacy};
use std::time::Duration;

const VISA: &str = "4242424242424242";

/// A POS with its store, the backend, and every event so far.
struct Counter {
    now: Millis,
    disk: SimDisk,
    keys: SimKeychain,
    device: Option<common::SimDevice>,
    session: Session,
    backend: Backend,
    runs: u32,
    events: Vec<EventBody>,
    network_up: bool,
    holder: Holder,
}

impl Counter {
    fn new() -> Counter {
        let backend = Backend::new(BackendConfig::default());
        let session = common::online_before(&backend);
        let mut counter = Counter {
            now: Millis(1_000),
            disk: SimDisk::new(),
            keys: SimKeychain::new(3),
            device: None,
            session,
            backend,
            runs: 0,
            events: Vec::new(),
            network_up: false,
            holder: Holder::Pos,
        };
        counter.start();
        counter
    }

    fn start(&mut self) {
        self.runs += 1;
        let (device, _) = common::start(
            self.holder.clone(),
            self.now,
            self.runs,
            &self.session,
            &self.disk,
            &self.keys,
        )
        .expect("the store opens");
        self.device = Some(device);
        self.input(Input::NetworkChanged { up: self.network_up });
    }

    /// The app is killed (or the device loses power) and starts again.
    fn restart(&mut self, power_loss: bool) {
        let (_, _, session) = self.device.take().expect("running").crash();
        self.session = session;
        if power_loss {
            self.disk.power_loss(0);
            self.disk.power_on();
        }
        self.start();
    }

    fn device(&mut self) -> &mut common::SimDevice {
        self.device.as_mut().expect("running")
    }

    fn input(&mut self, input: Input) {
        let now = self.now;
        self.device().handle(now, input);
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some((_, event)) = self.device().poll_event() {
            self.events.push(event);
        }
    }

    fn pay(&mut self, payment: &str, amount: u64, number: &str, behavior: OfflineBehavior) {
        let payment = payment.to_owned();
        let amount = Money::new(amount, Currency::USD);
        let capture = CaptureMethod::Automatic;
        self.input(Input::CreatePaymentIntent {
            payment: payment.clone(),
            amount,
            behavior,
            capture,
        });
        let card = CollectedCard::read(number, EntryMode::Chip);
        self.input(Input::Collected { payment: payment.clone(), card });
        self.input(Input::Confirm { payment });
    }

    fn network(&mut self, up: bool) {
        self.network_up = up;
        self.input(Input::NetworkChanged { up });
    }

    /// Delivers the oldest call to the backend; its answer comes back unless
    /// `lose` (the response is lost after the backend applied the request).
    fn deliver(&mut self, lose: bool) {
        let (call, request) = self.device().poll_call().expect("a call in flight");
        let reply = self.backend.handle(self.now, request);
        if !lose {
            let now = self.now;
            self.device().reply(now, call, reply);
            self.drain_events();
        }
    }

    /// Answers every call, including those the answers cause.
    fn exchange(&mut self) {
        while let Some((call, request)) = self.device().poll_call() {
            let reply = self.backend.handle(self.now, request);
            let now = self.now;
            self.device().reply(now, call, reply);
            self.drain_events();
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        self.device().handle_timeout(now);
        self.drain_events();
    }

    /// Network up, every call answered, until the queue is empty.
    fn forward_all(&mut self) {
        self.network(true);
        for _ in 0..100 {
            self.exchange();
            if self.device().engine().queued().next().is_none() {
                return;
            }
            self.advance(Duration::from_secs(5));
        }
        panic!("the queue did not drain");
    }

    fn count(&self, name: &str) -> usize {
        self.events.iter().filter(|e| e.name() == name).count()
    }

    fn failures(&self) -> Vec<Code> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EventBody::SdkPaymentFailed { code, .. } => Some(*code),
                _ => None,
            })
            .collect()
    }

    /// Succeeded charges per forwarded payment, for the exactly-once checks.
    fn charges_held(&self) -> usize {
        self.backend.charges().filter(|c| c.offline.is_some() && c.holds_funds()).count()
    }
}

#[test]
fn android_747_queued_payments_are_charged_once_while_the_app_keeps_forcing_offline() {
    // Reconnect after an offline period; while the queue drains the app
    // keeps creating FORCE_OFFLINE payments, and answers get lost.
    let mut pos = Counter::new();
    for i in 0..8 {
        pos.pay(&format!("p{i}"), 1_000 + 100 * i, VISA, OfflineBehavior::PreferOnline);
    }
    pos.network(true);
    for i in 8..16 {
        pos.deliver(false); // a token, or an upload answered
        pos.deliver(true); // an upload applied, its answer lost
        pos.advance(Duration::from_secs(31));
        pos.pay(&format!("p{i}"), 1_000 + 100 * i, VISA, OfflineBehavior::ForceOffline);
    }
    pos.forward_all();
    assert_eq!(pos.count("offline.payment.stored"), 16);
    assert_eq!(pos.count("offline.payment.forwarded"), 16);
    assert_eq!(pos.charges_held(), 16, "16 orders, 16 charges");
}

#[test]
fn ios_261_payments_stored_before_an_app_restart_still_reach_the_backend() {
    let mut pos = Counter::new();
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.pay("p2", 2_000, VISA, OfflineBehavior::PreferOnline);
    pos.restart(true);
    pos.forward_all();
    assert_eq!(pos.count("offline.payment.forwarded"), 2);
    assert_eq!(pos.charges_held(), 2);
}

#[test]
fn a_crash_after_the_backend_applied_an_upload_replays_instead_of_charging_again() {
    let mut pos = Counter::new();
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.network(true);
    pos.deliver(false); // the token
    pos.deliver(true); // the upload is applied, its answer lost
    pos.restart(true);
    pos.forward_all();
    assert_eq!(pos.charges_held(), 1);
    assert_eq!(pos.count("offline.payment.forwarded"), 1);
    assert_eq!(pos.count("backend.request.replayed"), 0, "backend events are the backend's");
    let replays = {
        let mut n = 0;
        while let Some((_, e)) = pos.backend.poll_event() {
            n += usize::from(e.name() == "backend.request.replayed");
        }
        n
    };
    assert_eq!(replays, 1);
}

#[test]
fn rn_1061_a_decline_on_sync_is_reported_exactly_once() {
    let mut pos = Counter::new();
    pos.pay("p1", 1_005, VISA, OfflineBehavior::PreferOnline);
    pos.network(true);
    pos.deliver(false);
    pos.deliver(true); // declined, the answer lost
    pos.advance(Duration::from_secs(30));
    pos.forward_all();
    let errors: Vec<_> = pos
        .events
        .iter()
        .filter_map(|e| match e {
            EventBody::PaymentForwarded { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1);
    let error = errors[0].as_ref().expect("declined");
    assert_eq!(error.decline_code.as_deref(), Some("generic_decline"));
    assert_eq!(pos.charges_held(), 0);
}

#[test]
fn an_armed_decline_on_sync_surfaces_through_the_forwarded_callback() {
    let mut pos = Counter::new();
    let fault = ArmedFault::DeclineOnSync {
        when: ForwardMatch::Any,
        decline_code: "insufficient_funds".into(),
        times: Some(1),
    };
    pos.backend.arm(pos.now, fault).expect("a valid fault");
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.pay("p2", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.forward_all();
    let declined = pos
        .events
        .iter()
        .filter(|e| matches!(e, EventBody::PaymentForwarded { error: Some(_), .. }))
        .count();
    assert_eq!((declined, pos.charges_held()), (1, 1));
}

#[test]
fn ios_355_locked_keys_fail_clearly_and_collection_recovers_after_unlock() {
    let mut pos = Counter::new();
    pos.keys.lock();
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.pay("p2", 1_000, VISA, OfflineBehavior::PreferOnline);
    assert_eq!(
        pos.failures(),
        vec![Code::OfflineEncryptionKeysUnavailable, Code::OfflineEncryptionKeysUnavailable]
    );
    pos.keys.unlock();
    pos.pay("p3", 1_000, VISA, OfflineBehavior::PreferOnline);
    assert_eq!(pos.count("offline.payment.stored"), 1);
    pos.forward_all();
    assert_eq!(pos.charges_held(), 1);
}

#[test]
fn a_full_disk_refuses_with_the_database_code_and_keeps_earlier_payments() {
    let mut pos = Counter::new();
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.disk.set_capacity(Some(pos.disk.used()));
    pos.pay("p2", 2_000, VISA, OfflineBehavior::PreferOnline);
    assert_eq!(pos.failures(), vec![Code::OfflinePaymentsDatabaseTooLarge]);
    pos.restart(true);
    pos.disk.set_capacity(None);
    pos.forward_all();
    assert_eq!(pos.charges_held(), 1);
}

#[test]
fn android_459_an_undecryptable_record_is_reported_and_the_rest_still_forward() {
    let mut pos = Counter::new();
    for i in 0..3 {
        pos.pay(&format!("p{i}"), 1_000 + 100 * i, VISA, OfflineBehavior::PreferOnline);
    }
    // Damage the middle record's encrypted body (its last bytes).
    let log = pos.disk.durable(LOG_FILE).expect("a log");
    let record = (log.len() - 16) / 3;
    let offset = 16 + 2 * record - 20;
    pos.disk.flip(LOG_FILE, offset as u64, 0xff).expect("flip");
    pos.restart(false);
    assert_eq!(pos.count("offline.payment.unreadable"), 1);
    pos.forward_all();
    assert_eq!(pos.charges_held(), 2);
    assert_eq!(pos.count("offline.payment.forwarded"), 2);
    // Reported once: the next start does not report it again.
    pos.restart(false);
    assert_eq!(pos.count("offline.payment.unreadable"), 1);
}

#[test]
fn android_731_an_upgrade_from_the_old_store_format_loses_nothing() {
    let mut pos = Counter::new();
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.pay("p2", 2_000, VISA, OfflineBehavior::PreferOnline);
    let pending: Vec<_> = pos.device().store().pending().cloned().collect();
    let (_, _, session) = pos.device.take().expect("running").crash();
    pos.session = session;
    let (mut disk, mut keys) = (pos.disk.clone(), pos.keys.clone());
    legacy::write_v1(&mut disk, &mut keys, &pending).expect("an old store");
    pos.start();
    assert_eq!(pos.device().engine().queued().count(), 2);
    pos.forward_all();
    assert_eq!(pos.charges_held(), 2);
}

#[test]
fn rn_668_a_cold_start_without_internet_collects_from_the_last_online_session() {
    let mut pos = Counter::new();
    pos.restart(true);
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    assert_eq!(pos.count("offline.payment.stored"), 1);
}

#[test]
fn token_provider_failure_is_reported_and_forwarding_recovers() {
    let mut pos = Counter::new();
    pos.backend.arm(pos.now, ArmedFault::TokenProviderFailure { times: 2 }).expect("valid");
    pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    pos.forward_all();
    assert_eq!(pos.count("offline.forwarding.failed"), 2);
    assert_eq!(pos.charges_held(), 1);
}

#[test]
fn tokens_for_another_account_or_mode_report_the_mismatch_codes() {
    for (account, livemode, code) in [
        ("acct_other", false, Code::AccountIdMismatchWhileForwarding),
        (BackendConfig::default().account.as_str(), true, Code::OfflineTestmodePaymentInLivemode),
    ] {
        let mut pos = Counter::new();
        let fault = ArmedFault::TokensFor { account: account.into(), livemode, times: None };
        pos.backend.arm(pos.now, fault).expect("valid");
        pos.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
        pos.forward_all();
        let reported: Vec<_> = pos
            .events
            .iter()
            .filter_map(|e| match e {
                EventBody::PaymentForwarded { error: Some(error), .. } => Some(error.code.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(reported, vec![code.name()]);
        assert_eq!(pos.charges_held(), 0);
    }
}

#[test]
fn a_smart_reader_keeps_its_payments_through_a_reboot_and_resumes_forwarding() {
    // docs/domain.md §1: the smart reader stores; rebooting it is safe.
    let mut reader = Counter::new();
    reader.holder = Holder::SmartReader { serial: "WPE-0001".into() };
    reader.restart(false);
    reader.pay("p1", 1_000, VISA, OfflineBehavior::PreferOnline);
    reader.pay("p2", 2_000, VISA, OfflineBehavior::PreferOnline);
    reader.restart(true);
    assert_eq!(reader.device().engine().queued().count(), 2);
    reader.forward_all();
    assert_eq!(reader.charges_held(), 2);
    assert_eq!(reader.count("offline.payment.forwarded"), 2);
}

#[test]
fn android_602_a_smart_reader_connects_offline_after_an_online_session_at_its_location() {
    let mut reader = Counter::new();
    reader.holder = Holder::SmartReader { serial: "WPE-0001".into() };
    reader.network(true);
    let connect = |location: &str| Input::ConnectReader {
        serial: "WPE-0001".into(),
        model: ReaderModel::WiseposE,
        location: location.into(),
        software_updated_at: Millis(1_000),
    };
    reader.input(connect("tml_1"));
    reader.network(false);
    reader.restart(true);
    reader.input(connect("tml_1"));
    reader.input(connect("tml_other"));
    let refused: Vec<Code> = reader
        .events
        .iter()
        .filter_map(|e| match e {
            EventBody::OfflineConnectRefused { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![Code::LocationConnectionNotAvailableOffline]);
}

#[test]
fn ios_294_a_confirm_applied_online_then_stored_offline_is_reported_paid_once() {
    // The online confirm reaches the backend and charges the card, its
    // answer is lost, the SDK falls back offline and stores the payment.
    // Forwarding it must not charge again, and must report it paid.
    let mut pos = Counter::new();
    pos.network(true);
    pos.input(Input::CreatePaymentIntent {
        payment: "p1".into(),
        amount: Money::new(1_000, Currency::USD),
        behavior: OfflineBehavior::PreferOnline,
        capture: CaptureMethod::Automatic,
    });
    pos.deliver(false); // the intent is created online
    let card = CollectedCard::read(VISA, EntryMode::Chip);
    pos.input(Input::Collected { payment: "p1".into(), card });
    pos.input(Input::Confirm { payment: "p1".into() });
    pos.deliver(true); // the confirm charges the card; its answer is lost
    pos.advance(Duration::from_secs(15));
    assert_eq!(pos.count("payment.fell_back_offline"), 1);
    assert_eq!(pos.count("offline.payment.stored"), 1);
    pos.forward_all();
    let outcomes: Vec<_> = pos
        .events
        .iter()
        .filter_map(|e| match e {
            EventBody::PaymentForwarded { error, status, .. } => {
                Some((error.clone(), status.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, vec![(None, Some("succeeded".to_owned()))]);
    assert_eq!(pos.backend.charges().filter(|c| c.holds_funds()).count(), 1, "charged once");
}

#[test]
fn android_459_a_record_whose_clear_header_is_damaged_is_reported_once() {
    let mut pos = Counter::new();
    for i in 0..3 {
        pos.pay(&format!("p{i}"), 1_000 + 100 * i, VISA, OfflineBehavior::PreferOnline);
    }
    // Damage the middle record's clear header (its id length byte): the
    // record can no longer be named.
    let log = pos.disk.durable(LOG_FILE).expect("a log");
    let record = (log.len() - 16) / 3;
    let offset = 16 + record + 16 + 13;
    pos.disk.flip(LOG_FILE, offset as u64, 0x40).expect("flip");
    pos.restart(false);
    assert_eq!(pos.count("offline.payment.unreadable"), 1);
    assert!(
        pos.events
            .iter()
            .any(|e| matches!(e, EventBody::PaymentUnreadable { offline_id: None, .. })),
        "the damaged header names no payment"
    );
    pos.forward_all();
    assert_eq!(pos.charges_held(), 2);
    pos.restart(false);
    pos.restart(false);
    assert_eq!(pos.count("offline.payment.unreadable"), 1, "reported once, not at every start");
}
