//! Properties of the reader core under any sequence of inputs and time jumps:
//! it never panics or spins, time in its history never goes back, every
//! payment gets at most one outcome (exactly one unless it is still on the
//! reader at the end), and no card number ever appears in an event.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use readerlab_emulator::core::TestCards;
use readerlab_emulator::core::reader::{Input, Reader, UpdateOffer};
use readerlab_emulator::core::{ConnectionStatus, EventBody};
use readerlab_emulator::core::{Currency, Millis, Money};
use readerlab_emulator::core::{EntryMode, LinkKind, ReaderModel};
use readerlab_emulator::fixtures::ReaderCatalog;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One step of a schedule: wait, then apply an input.
#[derive(Clone, Debug)]
struct Step {
    wait_ms: u64,
    input: Input,
}

fn model() -> impl Strategy<Value = ReaderModel> {
    prop::sample::select(ReaderModel::ALL.to_vec())
}

fn card_number() -> impl Strategy<Value = String> {
    let numbers: Vec<String> =
        TestCards::builtin().cards.iter().map(|c| c.number.clone()).collect();
    prop::sample::select(numbers)
}

fn input(payments: u32) -> impl Strategy<Value = Input> {
    let payment = (0..payments).prop_map(|i| format!("pay_{i}"));
    let link = prop::sample::select(vec![LinkKind::Ble, LinkKind::Usb, LinkKind::Lan]);
    let mode =
        prop::sample::select(vec![EntryMode::Contactless, EntryMode::Chip, EntryMode::Swipe]);
    prop_oneof![
        (link, any::<bool>(), any::<bool>(), prop::sample::select(vec![0u8, 0, 0, 1])).prop_map(
            |(via, auto, fail_if_in_use, pos)| Input::Connect {
                pos: format!("pos-{pos}"),
                via,
                auto_reconnect: Some(auto),
                fail_if_in_use,
            }
        ),
        Just(Input::Disconnect),
        Just(Input::Reboot),
        Just(Input::InstallUpdate),
        (payment.clone(), 1..20_000u64).prop_map(|(payment, amount)| Input::Collect {
            payment,
            amount: Money::new(amount, Currency::USD),
        }),
        payment.clone().prop_map(|payment| Input::Confirm { payment }),
        payment.clone().prop_map(|payment| Input::Cancel { payment }),
        payment.prop_map(|payment| Input::Complete { payment }),
        (card_number(), mode)
            .prop_map(|(number, mode)| Input::PresentCard { number: number.into(), mode }),
        Just(Input::RemoveCard),
        prop::sample::select(vec!["1234", "0000"])
            .prop_map(|pin| Input::EnterPin { pin: pin.into() }),
        (0..=100u8, any::<bool>())
            .prop_map(|(percent, charging)| Input::Battery { percent, charging }),
        Just(Input::PowerOff),
        Just(Input::PowerOn),
        any::<bool>().prop_map(|up| Input::Signal { up }),
        any::<bool>().prop_map(|on| Input::BluetoothRadio { on }),
        any::<bool>().prop_map(|attached| Input::Usb { attached }),
        any::<bool>().prop_map(|up| Input::Lan { up }),
        Just(Input::RemovePairing),
        any::<bool>().prop_map(|accept| Input::ConfirmPairing { accept }),
        any::<bool>().prop_map(|up| Input::Internet { up }),
        any::<bool>().prop_map(|required| Input::OfferUpdate(UpdateOffer::new("9.9.9", required))),
        Just(Input::Register {
            code: "simulated-s700".into(),
            location: "tml_1".into(),
            label: "Till".into()
        }),
    ]
}

/// Waits are mostly short, sometimes hours, so every timer gets reached.
fn wait() -> impl Strategy<Value = u64> {
    prop_oneof![6 => 0..5_000u64, 3 => 5_000..120_000u64, 1 => 3_600_000..30 * 3_600_000u64]
}

fn schedule() -> impl Strategy<Value = (ReaderModel, Vec<Step>)> {
    (
        model(),
        prop::collection::vec(
            (wait(), input(3)).prop_map(|(wait_ms, input)| Step { wait_ms, input }),
            1..60,
        ),
    )
}

/// The terminal outcome a payment event states, if it is one.
fn outcome_of(event: &EventBody) -> Option<&str> {
    match event {
        EventBody::PaymentApproved { payment, .. }
        | EventBody::PaymentDeclined { payment, .. }
        | EventBody::PaymentFailed { payment, .. }
        | EventBody::PaymentCanceled { payment }
        | EventBody::PaymentCompleted { payment } => Some(payment),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_schedule_keeps_the_reader_sound((model, steps) in schedule()) {
        let profile = Arc::new(ReaderCatalog::builtin().get(model).clone());
        let cards = Arc::new(TestCards::builtin().clone());
        let mut reader = Reader::new(profile, cards, "SER-1", Millis::ZERO);
        let mut now = Millis::ZERO;
        let mut events = Vec::new();
        for step in steps {
            now += Duration::from_millis(step.wait_ms);
            // Impossible inputs (a second card into the slot, say) are refused
            // with an error; they must not change what the reader does.
            let _ = reader.handle(now, step.input);
            while let Some(e) = reader.poll_event() {
                events.push(e);
            }
        }
        // Let every pending deadline run out: a week is longer than any timer.
        reader.handle_timeout(now + Duration::from_secs(7 * 86_400));
        // Security reboots recur, so the horizon may cut a reconnect short:
        // let a connect in progress reach its own deadline before judging.
        for _ in 0..100 {
            if !matches!(reader.status(), ConnectionStatus::Connecting | ConnectionStatus::Reconnecting) {
                break;
            }
            let due = reader.poll_timeout().expect("a connect in progress has a deadline");
            reader.handle_timeout(due);
        }
        while let Some(e) = reader.poll_event() {
            events.push(e);
        }

        for pair in events.windows(2) {
            prop_assert!(pair[0].0 <= pair[1].0, "time went back: {:?} then {:?}", pair[0], pair[1]);
        }

        // Every outcome closes exactly one collect that is open; a collect
        // opens only when none of that id is open; at the end at most the
        // reader's current payment is still open.
        let mut open: BTreeMap<&str, bool> = BTreeMap::new();
        for (t, event) in &events {
            if let EventBody::CollectStarted { payment, .. } = event {
                let was_open = open.insert(payment, true).unwrap_or(false);
                prop_assert!(!was_open, "{payment} collected again while open at {t}");
            } else if let Some(payment) = outcome_of(event) {
                let was_open = open.insert(payment, false).unwrap_or(false);
                prop_assert!(was_open, "outcome for {payment} at {t} without an open collect: {event:?}");
            }
        }
        let still_open = open.values().filter(|o| **o).count();
        prop_assert!(still_open <= 1, "at most the reader's current payment is pending: {open:?}");
        prop_assert_eq!(still_open == 1, reader.is_busy() && reader.status() == ConnectionStatus::Connected);

        check_connection_lifecycles(&events)?;

        let text = format!("{events:?}");
        for card in &TestCards::builtin().cards {
            prop_assert!(!text.contains(&card.number[..12]), "card number of {} in events", card.simulated_type);
        }
    }
}

/// Mostly inputs that keep a connection alive (so periodic deadlines such
/// as battery reports and reboots come round), sometimes anything at all.
fn quiet_or_any() -> impl Strategy<Value = Input> {
    let payment = (0..3u32).prop_map(|i| format!("pay_{i}"));
    let quiet = prop_oneof![
        Just(Input::Connect {
            pos: "pos-0".into(),
            via: LinkKind::Ble,
            auto_reconnect: None,
            fail_if_in_use: false
        }),
        Just(Input::Connect {
            pos: "pos-0".into(),
            via: LinkKind::Lan,
            auto_reconnect: None,
            fail_if_in_use: false
        }),
        (payment.clone(), 1..20_000u64).prop_map(|(payment, amount)| Input::Collect {
            payment,
            amount: Money::new(amount, Currency::USD)
        }),
        (card_number(), Just(EntryMode::Contactless))
            .prop_map(|(number, mode)| Input::PresentCard { number: number.into(), mode }),
        payment.prop_map(|payment| Input::Confirm { payment }),
        (21..=100u8, any::<bool>())
            .prop_map(|(percent, charging)| Input::Battery { percent, charging }),
    ];
    prop_oneof![6 => quiet, 1 => input(3)]
}

/// Runs a schedule, calling `handle_timeout` every `tick` of virtual time in
/// between inputs (or only at the inputs when `tick` is `None`).
fn run(model: ReaderModel, steps: &[Step], tick: Option<Duration>) -> Vec<(Millis, EventBody)> {
    let profile = Arc::new(ReaderCatalog::builtin().get(model).clone());
    let cards = Arc::new(TestCards::builtin().clone());
    let mut reader = Reader::new(profile, cards, "SER-1", Millis::ZERO);
    let mut now = Millis::ZERO;
    for step in steps {
        let next = now + Duration::from_millis(step.wait_ms);
        if let Some(tick) = tick {
            while now + tick < next {
                now += tick;
                reader.handle_timeout(now);
            }
        }
        now = next;
        let _ = reader.handle(now, step.input.clone());
    }
    std::iter::from_fn(|| reader.poll_event()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// ARCHITECTURE.md: a deadline fires at its own instant, so a shell that
    /// jumps its clock writes the same history as one that ticks.
    #[test]
    fn jumping_the_clock_writes_the_same_history_as_ticking(
        model in model(),
        steps in prop::collection::vec(
            (0..120_000u64, quiet_or_any()).prop_map(|(wait_ms, input)| Step { wait_ms, input }),
            1..40,
        ),
    ) {
        let jumped = run(model, &steps, None);
        let ticked = run(model, &steps, Some(Duration::from_secs(1)));
        prop_assert_eq!(jumped, ticked);
    }
}

/// Every connect that starts ends once (connected or failed); every
/// auto-reconnect that starts ends once; a disconnect only ends a live
/// connection; and payments and battery reports happen only over one.
fn check_connection_lifecycles(events: &[(Millis, EventBody)]) -> Result<(), TestCaseError> {
    let mut connected: Option<&str> = None;
    let mut connecting: Option<&str> = None;
    let mut reconnecting: Option<&str> = None;
    for (t, event) in events {
        match event {
            EventBody::ConnectStarted { pos, .. } => {
                prop_assert!(connecting.is_none(), "second connect while one runs at {t}");
                connecting = Some(pos);
            }
            EventBody::Connected { pos, .. } => {
                prop_assert!(connected.is_none(), "connected twice at {t}");
                let ends_connect = connecting == Some(pos.as_str());
                prop_assert!(
                    ends_connect || reconnecting == Some(pos.as_str()),
                    "connected from nowhere at {t}"
                );
                if ends_connect {
                    connecting = None;
                }
                connected = Some(pos);
            }
            EventBody::ConnectFailed { pos, .. } => {
                prop_assert_eq!(
                    connecting,
                    Some(pos.as_str()),
                    "connect failed but never started at {}",
                    t
                );
                connecting = None;
            }
            EventBody::Disconnected { pos, .. } => {
                prop_assert_eq!(
                    connected,
                    Some(pos.as_str()),
                    "disconnect without a connection at {}",
                    t
                );
                connected = None;
            }
            EventBody::ReconnectStarted { pos, .. } => {
                prop_assert!(reconnecting.is_none(), "second reconnect while one runs at {t}");
                reconnecting = Some(pos);
            }
            EventBody::ReconnectSucceeded { pos } => {
                prop_assert_eq!(
                    reconnecting,
                    Some(pos.as_str()),
                    "unasked reconnect success at {}",
                    t
                );
                prop_assert_eq!(connected, Some(pos.as_str()));
                reconnecting = None;
            }
            EventBody::ReconnectFailed { pos } => {
                prop_assert_eq!(
                    reconnecting,
                    Some(pos.as_str()),
                    "unasked reconnect failure at {}",
                    t
                );
                reconnecting = None;
            }
            EventBody::Collected { .. }
            | EventBody::PaymentApproved { .. }
            | EventBody::PaymentDeclined { .. }
            | EventBody::PaymentFailed { .. }
            | EventBody::PaymentCanceled { .. }
            | EventBody::PaymentCompleted { .. }
            | EventBody::BatteryLevel { .. }
            | EventBody::BatteryLow { .. } => {
                prop_assert!(connected.is_some(), "{} at {} without a connection", event.name(), t);
            }
            _ => {}
        }
    }
    prop_assert!(
        connecting.is_none() && reconnecting.is_none(),
        "a connect or reconnect never ended"
    );
    Ok(())
}
