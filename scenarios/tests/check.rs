//! The invariant checker on small histories written by hand: for each
//! invariant, a history that breaks it and a near-identical one that does
//! not. The pair is the point: a broken history must break exactly its
//! invariant and name the payment, and its twin must hold, so a check that
//! reports too much fails here as surely as one that reports too little.

use readerlab::check::{CheckConfig, Report, check, check_with};
use readerlab_emulator::core::Defects;
use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::FaultKind;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::NetworkStatus;
use readerlab_emulator::core::backend::RequestKind;
use readerlab_emulator::core::offline::{
    ForwardError, Mode, OfflineBehavior, OfflineConfig, OfflineId, OfflineStatus,
};
use readerlab_emulator::core::{Brand, Funding};
use readerlab_emulator::core::{CardSummary, Event, EventBody, OfflineDetails, Part};
use readerlab_emulator::core::{Currency, Millis, Money};
use rstest::rstest;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

// --- building histories ------------------------------------------------------

/// One line before numbering: time, part, event.
type Line = (u64, &'static str, EventBody);

/// Numbers the lines from 1, as a history writer would.
fn history(lines: Vec<Line>) -> Vec<Event> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (t, part, body))| Event {
            seq: i as u64 + 1,
            t_ms: Millis(t),
            part: Part(part.to_owned()),
            body,
        })
        .collect()
}

fn usd(amount: u64) -> Money {
    Money::new(amount, Currency::USD)
}

fn id(offline_id: &str) -> OfflineId {
    OfflineId(offline_id.to_owned())
}

/// The app's name for a payment: its offline id without `off_`.
fn name(offline_id: &str) -> String {
    offline_id.trim_start_matches("off_").to_owned()
}

fn card(brand: Brand) -> CardSummary {
    CardSummary { brand, funding: Funding::Credit, last4: "4242".to_owned() }
}

fn rig_with(offline: OfflineConfig, drain_window_ms: u64) -> EventBody {
    EventBody::RigStarted {
        seed: 7,
        defects: Defects::none(),
        readers: vec![],
        offline,
        drain_window_ms,
    }
}

fn rig() -> EventBody {
    rig_with(OfflineConfig::enabled(), 60_000)
}

fn created(offline_id: &str, behavior: OfflineBehavior) -> EventBody {
    EventBody::SdkIntentCreated {
        payment: name(offline_id),
        intent: None,
        mode: Mode::Offline,
        behavior,
        amount: usd(1000),
    }
}

fn stored_as(
    t: u64,
    offline_id: &str,
    amount: Money,
    entry_mode: EntryMode,
    brand: Brand,
) -> EventBody {
    EventBody::OfflinePaymentStored {
        payment: name(offline_id),
        offline_id: id(offline_id),
        intent: None,
        amount,
        offline_details: OfflineDetails {
            stored_at: Millis(t),
            requires_upload: true,
            amount,
            card: card(brand),
            entry_mode,
        },
    }
}

fn stored(t: u64, offline_id: &str, amount: u64) -> EventBody {
    stored_as(t, offline_id, usd(amount), EntryMode::Contactless, Brand::Visa)
}

fn status(count: u32, held_usd: u64) -> EventBody {
    let amounts =
        if held_usd == 0 { BTreeMap::new() } else { BTreeMap::from([(Currency::USD, held_usd)]) };
    let network = NetworkStatus::Online;
    EventBody::OfflineStatusChanged { status: OfflineStatus { network, count, amounts } }
}

fn attempted(offline_id: &str, attempt: u32) -> EventBody {
    EventBody::ForwardAttempted { offline_id: id(offline_id), attempt }
}

fn charged(charge: &str, offline_id: &str, amount: u64) -> EventBody {
    EventBody::ChargeSucceeded {
        charge: charge.to_owned(),
        intent: format!("pi_{}", name(offline_id)),
        amount: usd(amount),
        card: card(Brand::Visa),
        captured: true,
        offline_id: Some(id(offline_id)),
    }
}

fn forwarded(offline_id: &str, amount: u64) -> EventBody {
    EventBody::PaymentForwarded {
        offline_id: id(offline_id),
        amount: usd(amount),
        intent: Some(format!("pi_{}", name(offline_id))),
        status: Some("succeeded".to_owned()),
        error: None,
    }
}

/// What the merchant's app shows for a payment that failed at sync.
fn shown(offline_id: &str, amount: u64, reason: &str) -> EventBody {
    EventBody::MerchantNotified {
        notice: readerlab_emulator::core::MerchantNotice::SyncFailed,
        offline_id: id(offline_id),
        amount: usd(amount),
        reason: reason.to_owned(),
    }
}

fn declined_on_sync(offline_id: &str, amount: u64) -> EventBody {
    EventBody::PaymentForwarded {
        offline_id: id(offline_id),
        amount: usd(amount),
        intent: Some(format!("pi_{}", name(offline_id))),
        status: Some("requires_payment_method".to_owned()),
        error: Some(ForwardError {
            code: "card_declined".to_owned(),
            decline_code: Some("generic_decline".to_owned()),
        }),
    }
}

fn injected(fault: FaultKind, target: &str) -> EventBody {
    EventBody::FaultInjected {
        fault,
        target: target.to_owned(),
        sustained: fault.is_sustained(),
        detail: None,
    }
}

fn cleared(fault: FaultKind, target: &str) -> EventBody {
    EventBody::FaultCleared { fault, target: target.to_owned() }
}

/// A payment created and stored on the POS at `t`, then counted in the
/// POS's status (`held` payments, `held_usd` in all).
fn collect(t: u64, offline_id: &str, amount: u64, held: u32, held_usd: u64) -> Vec<Line> {
    vec![
        (t, "pos", created(offline_id, OfflineBehavior::PreferOnline)),
        (t + 10, "pos", stored(t + 10, offline_id, amount)),
        (t + 10, "pos", status(held, held_usd)),
    ]
}

/// One upload that the backend charges, and the outcome it gives.
fn forward(t: u64, offline_id: &str, amount: u64, held: u32, held_usd: u64) -> Vec<Line> {
    vec![
        (t, "pos", attempted(offline_id, 1)),
        (t + 5, "backend", charged(&format!("ch_{}", name(offline_id)), offline_id, amount)),
        (t + 10, "pos", forwarded(offline_id, amount)),
        (t + 10, "pos", status(held, held_usd)),
    ]
}

fn begin() -> Vec<Line> {
    vec![(0, "rig", rig())]
}

fn finish(mut lines: Vec<Line>) -> Vec<Event> {
    let end = lines.last().map_or(0, |l| l.0);
    lines.push((end, "rig", EventBody::RigFinished));
    history(lines)
}

/// One payment stored, forwarded and charged: the history every case starts from.
fn one_payment(amount: u64) -> Vec<Line> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", amount, 1, amount));
    lines.extend(forward(200, "off_p_1", amount, 0, 0));
    lines
}

// --- one history per invariant, broken or not ---------------------------------

/// I1: the app restarts and its store comes back with one payment of two.
fn lost_after_restart(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.extend(collect(200, "off_p_2", 2000, 2, 3000));
    lines.push((300, "fault", injected(FaultKind::AppKill, "pos")));
    lines.push((400, "fault", cleared(FaultKind::AppKill, "pos")));
    let (pending, held, held_usd) = if broken { (1, 1, 2000) } else { (2, 2, 3000) };
    lines.push((400, "pos", EventBody::StoreRecovered { pending, unreadable: 0 }));
    lines.push((400, "pos", status(held, held_usd)));
    if !broken {
        lines.extend(forward(500, "off_p_1", 1000, 1, 2000));
    }
    lines.extend(forward(600, "off_p_2", 2000, 0, 0));
    finish(lines)
}

/// I1: the app was told "stored", but the payment never reached the queue
/// (incident ios-261): the status never counts it.
fn stored_but_never_queued(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((0, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    let (held, held_usd) = if broken { (0, 0) } else { (1, 1000) };
    lines.extend(collect(100, "off_p_1", 1000, held, held_usd));
    finish(lines)
}

/// I2: the response of the first upload is lost; the retry is charged again
/// instead of replayed.
fn double_charge(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "pos", attempted("off_p_1", 1)));
    lines.push((205, "backend", charged("ch_1", "off_p_1", 1000)));
    lines.push((205, "fault", injected(FaultKind::ResponseLost, "pos~backend")));
    lines.push((31_000, "pos", attempted("off_p_1", 2)));
    lines.push(if broken {
        (31_005, "backend", charged("ch_2", "off_p_1", 1000))
    } else {
        let key = id("off_p_1").idempotency_key();
        let request = RequestKind::ForwardOfflinePayment;
        (
            31_005,
            "backend",
            EventBody::BackendRequestReplayed { request, idempotency_key: key, status: 200 },
        )
    });
    lines.push((31_010, "pos", forwarded("off_p_1", 1000)));
    lines.push((31_010, "pos", status(0, 0)));
    finish(lines)
}

/// I2: the backend holds a charge for an offline id nobody stored.
fn charge_without_collect(broken: bool) -> Vec<Event> {
    let mut lines = one_payment(1000);
    let offline_id = if broken { "off_ghost" } else { "off_p_1" };
    // The twin replays the charge of a stored payment: no new charge.
    if broken {
        lines.push((300, "backend", charged("ch_ghost", offline_id, 1000)));
    }
    finish(lines)
}

/// I2: an online payment charged twice.
fn online_double_charge(broken: bool) -> Vec<Event> {
    let online = |charge: &str| EventBody::ChargeSucceeded {
        charge: charge.to_owned(),
        intent: "pi_online".to_owned(),
        amount: usd(500),
        card: card(Brand::Visa),
        captured: true,
        offline_id: None,
    };
    let mut lines = begin();
    lines.push((100, "backend", online("ch_1")));
    if broken {
        lines.push((150, "backend", online("ch_2")));
    }
    finish(lines)
}

/// I3: a payment declined at forwarding is reported twice (rn-1061).
fn two_outcomes(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "pos", attempted("off_p_1", 1)));
    lines.push((210, "pos", declined_on_sync("off_p_1", 1000)));
    lines.push((210, "pos", shown("off_p_1", 1000, "generic_decline")));
    lines.push((210, "pos", status(0, 0)));
    if broken {
        lines.push((220, "pos", declined_on_sync("off_p_1", 1000)));
    }
    finish(lines)
}

/// I11: a payment declined at sync and the merchant never told (or told
/// another reason, or twice); the twin shows it once, with its reason.
fn merchant_not_told(broken: bool) -> Vec<Event> {
    merchant_shown(if broken { &[] } else { &["generic_decline"] })
}

/// I11 again: told another reason than the decline's, and told twice.
fn merchant_told_the_wrong_reason(broken: bool) -> Vec<Event> {
    merchant_shown(if broken { &["expired_card"] } else { &["generic_decline"] })
}

fn merchant_told_twice(broken: bool) -> Vec<Event> {
    merchant_shown(if broken { &["generic_decline"; 2] } else { &["generic_decline"] })
}

/// A payment declined at sync (generic_decline), then a notice with each
/// of `reasons`, and the run going on past the notice's bound.
fn merchant_shown(reasons: &[&str]) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "pos", attempted("off_p_1", 1)));
    lines.push((210, "pos", declined_on_sync("off_p_1", 1000)));
    for reason in reasons {
        lines.push((210, "pos", shown("off_p_1", 1000, reason)));
    }
    lines.push((210, "pos", status(0, 0)));
    lines.push((90_000, "pos", status(0, 0)));
    finish(lines)
}

/// I3: the app hears that one payment both was stored and failed.
fn app_payment_ends_twice(broken: bool) -> Vec<Event> {
    let mut lines = one_payment(1000);
    let other = if broken { "p_1" } else { "p_2" };
    let code = readerlab_emulator::core::TerminalErrorCode::OfflineTransactionDeclined;
    lines.push((300, "pos", EventBody::SdkPaymentFailed { payment: other.to_owned(), code }));
    finish(lines)
}

/// An online payment the SDK began (`payment.intent.created`).
fn began(payment: &str) -> EventBody {
    EventBody::SdkIntentCreated {
        payment: payment.to_owned(),
        intent: Some(format!("pi_{payment}")),
        mode: readerlab_emulator::core::offline::Mode::Online,
        behavior: OfflineBehavior::PreferOnline,
        amount: usd(500),
    }
}

/// I3: the reader loses an online payment mid-collect and the app is never
/// told; the twin's SDK reports it failed.
fn online_payment_never_ends(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((100, "pos", began("latte")));
    let code = readerlab_emulator::core::TerminalErrorCode::BluetoothDisconnected;
    lines.push((
        200,
        "reader/STRM2-0001",
        EventBody::PaymentFailed { payment: "latte".into(), code },
    ));
    if !broken {
        lines.push((200, "pos", EventBody::SdkPaymentFailed { payment: "latte".into(), code }));
    }
    finish(lines)
}

/// I3: the app begins a second payment while the first never heard how it
/// ended; the twin's first one succeeded.
fn app_moves_on_without_an_outcome(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((100, "pos", began("tea")));
    if !broken {
        lines.push((140, "backend", online_charge("ch_tea", "pi_tea")));
        lines.push((
            150,
            "pos",
            EventBody::SdkPaymentSucceeded {
                payment: "tea".into(),
                intent: Some("pi_tea".into()),
                status: Some("succeeded".into()),
                amount: usd(500),
            },
        ));
    }
    lines.push((300, "pos", began("cake")));
    lines.push((390, "backend", online_charge("ch_cake", "pi_cake")));
    lines.push((
        400,
        "pos",
        EventBody::SdkPaymentSucceeded {
            payment: "cake".into(),
            intent: Some("pi_cake".into()),
            status: Some("succeeded".into()),
            amount: usd(500),
        },
    ));
    finish(lines)
}

/// I4: the link returns at 2 s and the queue sits still until 70 s; the twin
/// keeps the link down all along, so there is nothing to judge.
fn stuck_queue(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((500, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    lines.extend(collect(1000, "off_p_1", 1000, 1, 1000));
    if broken {
        lines.push((2000, "fault", cleared(FaultKind::LinkDown, "pos~backend")));
    }
    lines.push((70_000, "pos", status(1, 1000)));
    finish(lines)
}

/// I5: one cent over the offline maximum.
fn over_max_amount(broken: bool) -> Vec<Event> {
    finish(one_payment(if broken { 1_000_001 } else { 1_000_000 }))
}

/// I5: a second payment stored past a record cap of one.
fn over_record_cap(broken: bool) -> Vec<Event> {
    let max_records = if broken { 1 } else { 2 };
    let config = OfflineConfig { max_records, ..OfflineConfig::enabled() };
    let mut lines = vec![(0, "rig", rig_with(config, 60_000))];
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.extend(collect(200, "off_p_2", 1000, 2, 2000));
    lines.extend(forward(300, "off_p_1", 1000, 1, 1000));
    lines.extend(forward(400, "off_p_2", 1000, 0, 0));
    finish(lines)
}

/// I6: a swiped card stored offline.
fn swipe_stored(broken: bool) -> Vec<Event> {
    let mode = if broken { EntryMode::Swipe } else { EntryMode::Chip };
    let mut lines = one_payment(1000);
    lines[2].2 = stored_as(110, "off_p_1", usd(1000), mode, Brand::Visa);
    finish(lines)
}

/// I6: a REQUIRE_ONLINE payment stored offline.
fn require_online_stored(broken: bool) -> Vec<Event> {
    let behavior =
        if broken { OfflineBehavior::RequireOnline } else { OfflineBehavior::ForceOffline };
    let mut lines = one_payment(1000);
    lines[1].2 = created("off_p_1", behavior);
    finish(lines)
}

/// I7: a forwarding failure's message quotes the full card number.
fn pan_in_history(broken: bool) -> Vec<Event> {
    let mut lines = one_payment(1000);
    let number = if broken { "4242424242424242" } else { "ending 4242" };
    let code =
        readerlab_emulator::core::TerminalErrorCode::ConnectionTokenProviderErrorWhileForwarding;
    let message = format!("card {number} could not be forwarded");
    lines.push((300, "pos", EventBody::ForwardingFailed { code, message }));
    finish(lines)
}

/// I7: the rig found card numbers in clear in the POS's files.
fn number_on_disk(broken: bool) -> Vec<Event> {
    let mut lines = one_payment(1000);
    let scan = EventBody::StorageScanned {
        device: "pos".to_owned(),
        files: 3,
        bytes: 4096,
        card_numbers_in_clear: u32::from(broken),
    };
    lines.push((300, "rig", scan));
    finish(lines)
}

/// I7: a record reported unreadable, then charged anyway.
fn unreadable_then_charged(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    let unreadable = EventBody::PaymentUnreadable {
        offline_id: Some(id("off_p_1")),
        amount: Some(usd(1000)),
        reason: "authentication tag mismatch".to_owned(),
    };
    lines.push((200, "pos", unreadable));
    lines.push((200, "pos", status(0, 0)));
    if broken {
        lines.push((300, "backend", charged("ch_p_1", "off_p_1", 1000)));
    }
    finish(lines)
}

/// I7 holds when the charge comes from an upload sent before the record
/// was damaged (found by `readerlab explore`: a forward in flight, the
/// record damaged, the app restarted and reported it, then the upload
/// landed); an upload sent after the report is a finding.
#[rstest]
#[case::upload_before_the_report(false, true)]
#[case::upload_after_the_report(true, false)]
fn an_upload_before_the_damage_may_land_after_the_report(#[case] after: bool, #[case] holds: bool) {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    let attempt = EventBody::ForwardAttempted { offline_id: id("off_p_1"), attempt: 1 };
    if !after {
        lines.push((150, "pos", attempt.clone()));
    }
    let unreadable = EventBody::PaymentUnreadable {
        offline_id: Some(id("off_p_1")),
        amount: Some(usd(1000)),
        reason: "authentication tag mismatch".to_owned(),
    };
    lines.push((200, "pos", unreadable));
    lines.push((200, "pos", status(0, 0)));
    if after {
        lines.push((250, "pos", attempt));
    }
    lines.push((300, "backend", charged("ch_p_1", "off_p_1", 1000)));
    let report = check(&finish(lines));
    assert_eq!(report.holds(), holds, "{report}");
    if !holds {
        assert_eq!(report.violated(), BTreeSet::from([Invariant::I7]), "{report}");
    }
}

/// I8: the POS still counts one payment but the wrong amount for it.
fn conservation_mismatch(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.extend(collect(200, "off_p_2", 2000, 2, 3000));
    let held_usd = if broken { 1500 } else { 2000 };
    lines.extend(forward(300, "off_p_1", 1000, 1, held_usd));
    finish(lines)
}

/// I8: the forwarded outcome names another amount than was stored.
fn forwarded_for_another_amount(broken: bool) -> Vec<Event> {
    let mut lines = one_payment(1000);
    if broken {
        lines[6].2 = forwarded("off_p_1", 900);
    }
    finish(lines)
}

/// A charge of an online payment (no offline id).
fn online_charge(charge: &str, intent: &str) -> EventBody {
    EventBody::ChargeSucceeded {
        charge: charge.to_owned(),
        intent: intent.to_owned(),
        amount: usd(500),
        card: card(Brand::Visa),
        captured: true,
        offline_id: None,
    }
}

fn paid_online(payment: &str) -> EventBody {
    EventBody::SdkPaymentSucceeded {
        payment: payment.to_owned(),
        intent: Some(format!("pi_{payment}")),
        status: Some("succeeded".to_owned()),
        amount: usd(500),
    }
}

/// `backend.payment_intent.created` for `intent`, carrying `payment` as
/// its `metadata[readerlab_payment]` when given.
fn intent_created(intent: &str, payment: Option<&str>) -> EventBody {
    EventBody::IntentCreated {
        intent: intent.to_owned(),
        amount: usd(500),
        capture: readerlab_emulator::core::offline::CaptureMethod::Automatic,
        offline_id: None,
        payment: payment.map(str::to_owned),
    }
}

/// I9: the confirm charged the card, its answer was lost, and the SDK told
/// the app the payment failed; the twin's SDK found it paid and said so.
fn told_failed_but_charged(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((100, "backend", intent_created("pi_dinner", Some("dinner"))));
    lines.push((100, "pos", began("dinner")));
    lines.push((5_000, "backend", online_charge("ch_1", "pi_dinner")));
    lines.push(if broken {
        let code = readerlab_emulator::core::TerminalErrorCode::NotConnectedToInternet;
        (20_000, "pos", EventBody::SdkPaymentFailed { payment: "dinner".into(), code })
    } else {
        (20_000, "pos", paid_online("dinner"))
    });
    finish(lines)
}

/// I9: the app is told "succeeded" but nothing was charged; the twin's
/// confirm charged the card first.
fn told_succeeded_without_a_charge(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((100, "backend", intent_created("pi_soup", Some("soup"))));
    lines.push((100, "pos", began("soup")));
    if !broken {
        lines.push((5_000, "backend", online_charge("ch_1", "pi_soup")));
    }
    lines.push((5_010, "pos", paid_online("soup")));
    finish(lines)
}

/// I9: a confirm charged intent pi_p_1 and lost its answer; the payment
/// fell back offline with that intent, and its forward met the charge. The
/// broken SDK reports the forward failed; the twin reports it paid.
fn forwarded_failed_but_charged(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((50, "backend", online_charge("ch_1", "pi_p_1")));
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "pos", attempted("off_p_1", 1)));
    let error = broken.then(|| ForwardError {
        code: "payment_intent_unexpected_state".to_owned(),
        decline_code: None,
    });
    let outcome = EventBody::PaymentForwarded {
        offline_id: id("off_p_1"),
        amount: usd(1000),
        intent: Some("pi_p_1".to_owned()),
        status: Some("succeeded".to_owned()),
        error,
    };
    lines.push((210, "pos", outcome));
    if broken {
        // The merchant is shown the failure too (as I11 asks).
        lines.push((210, "pos", shown("off_p_1", 1000, "payment_intent_unexpected_state")));
    }
    lines.push((210, "pos", status(0, 0)));
    finish(lines)
}

/// I10: the SDK sends a payment's create after the app was told the
/// payment failed, and nothing cancels the intent; the twin cancels it.
fn intent_created_after_its_payment_ended(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    lines.push((100, "backend", intent_created("pi_tea", Some("tea"))));
    lines.push((100, "pos", began("tea")));
    let code = readerlab_emulator::core::TerminalErrorCode::NotConnectedToInternet;
    lines.push((200, "pos", EventBody::SdkPaymentFailed { payment: "tea".into(), code }));
    late_intent(lines, "tea", broken)
}

/// `lines`, then intent pi_9 created under `payment`'s name at 300 ms,
/// canceled at 310 ms unless `broken`.
fn late_intent(mut lines: Vec<Line>, payment: &str, broken: bool) -> Vec<Event> {
    lines.push((300, "backend", intent_created("pi_9", Some(payment))));
    if !broken {
        let canceled = EventBody::IntentCanceled { intent: "pi_9".into(), released_charge: None };
        lines.push((310, "backend", canceled));
    }
    finish(lines)
}

/// I10: an intent created under a payment's name after the SDK took the
/// payment offline (only its forward creates one now); the twin's SDK
/// cancels it.
fn intent_created_after_going_offline(broken: bool) -> Vec<Event> {
    late_intent(one_payment(1000), "p_1", broken)
}

/// I10: an intent no payment claims; the twin's carries its payment's name
/// (a create whose answer was lost, before the payment fell back offline).
fn intent_of_no_payment(broken: bool) -> Vec<Event> {
    let mut lines = begin();
    let named = if broken { None } else { Some("p_1") };
    lines.push((50, "backend", intent_created("pi_lost", named)));
    lines.push((16_000, "pos", EventBody::FellBackOffline { payment: "p_1".into() }));
    lines.extend(collect(16_000, "off_p_1", 1000, 1, 1000));
    lines.extend(forward(17_000, "off_p_1", 1000, 0, 0));
    finish(lines)
}

type Build = fn(bool) -> Vec<Event>;

#[rstest]
#[case::lost_after_restart(Invariant::I1, "off_p_1", lost_after_restart as Build)]
#[case::stored_but_never_queued(Invariant::I1, "off_p_1", stored_but_never_queued as Build)]
#[case::double_charge(Invariant::I2, "off_p_1", double_charge as Build)]
#[case::charge_without_collect(Invariant::I2, "off_ghost", charge_without_collect as Build)]
#[case::online_double_charge(Invariant::I2, "pi_online", online_double_charge as Build)]
#[case::two_outcomes(Invariant::I3, "off_p_1", two_outcomes as Build)]
#[case::app_payment_ends_twice(Invariant::I3, "p_1", app_payment_ends_twice as Build)]
#[case::online_payment_never_ends(Invariant::I3, "latte", online_payment_never_ends as Build)]
#[case::app_moves_on_without_an_outcome(Invariant::I3, "tea", app_moves_on_without_an_outcome as Build)]
#[case::stuck_queue(Invariant::I4, "off_p_1", stuck_queue as Build)]
#[case::over_max_amount(Invariant::I5, "off_p_1", over_max_amount as Build)]
#[case::over_record_cap(Invariant::I5, "off_p_2", over_record_cap as Build)]
#[case::swipe_stored(Invariant::I6, "off_p_1", swipe_stored as Build)]
#[case::require_online_stored(Invariant::I6, "off_p_1", require_online_stored as Build)]
#[case::pan_in_history(Invariant::I7, "ending 4242", pan_in_history as Build)]
#[case::number_on_disk(Invariant::I7, "pos keeps 1", number_on_disk as Build)]
#[case::unreadable_then_charged(Invariant::I7, "off_p_1", unreadable_then_charged as Build)]
#[case::conservation_mismatch(Invariant::I8, "off_p_2", conservation_mismatch as Build)]
#[case::forwarded_for_another_amount(Invariant::I8, "off_p_1", forwarded_for_another_amount as Build)]
#[case::told_failed_but_charged(Invariant::I9, "dinner", told_failed_but_charged as Build)]
#[case::told_succeeded_without_a_charge(Invariant::I9, "soup", told_succeeded_without_a_charge as Build)]
#[case::forwarded_failed_but_charged(Invariant::I9, "off_p_1", forwarded_failed_but_charged as Build)]
#[case::intent_created_after_its_payment_ended(Invariant::I10, "tea", intent_created_after_its_payment_ended as Build)]
#[case::intent_created_after_going_offline(Invariant::I10, "p_1", intent_created_after_going_offline as Build)]
#[case::intent_of_no_payment(Invariant::I10, "pi_lost", intent_of_no_payment as Build)]
#[case::merchant_not_told(Invariant::I11, "off_p_1", merchant_not_told as Build)]
#[case::merchant_told_the_wrong_reason(Invariant::I11, "off_p_1", merchant_told_the_wrong_reason as Build)]
#[case::merchant_told_twice(Invariant::I11, "off_p_1", merchant_told_twice as Build)]
fn a_broken_history_breaks_exactly_its_invariant_and_its_twin_holds(
    #[case] invariant: Invariant,
    #[case] named: &str,
    #[case] build: Build,
) {
    let report = check(&build(true));
    assert_eq!(report.violated(), BTreeSet::from([invariant]), "{report}");
    let names_it = |v: &readerlab::check::Violation| {
        v.payment.as_deref() == Some(named) || v.message.contains(named)
    };
    assert!(report.violations.iter().any(names_it), "{named} not named in\n{report}");
    let twin = check(&build(false));
    assert!(twin.holds(), "{twin}");
}

/// I11 counts every notice after the failure: a second one long after the
/// first is still the merchant told twice; one only after the bound is
/// never told in time.
#[test]
fn a_notice_late_or_repeated_long_after_is_still_judged() {
    let with_notices = |times: &[u64]| {
        let mut lines = begin();
        lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
        lines.push((200, "pos", attempted("off_p_1", 1)));
        lines.push((210, "pos", declined_on_sync("off_p_1", 1000)));
        lines.push((210, "pos", status(0, 0)));
        for &t in times {
            lines.push((t, "pos", shown("off_p_1", 1000, "generic_decline")));
        }
        lines.push((900_000, "pos", status(0, 0)));
        check(&finish(lines))
    };
    let twice = with_notices(&[210, 600_000]);
    assert!(twice.violations.iter().any(|v| v.message.contains("told 2 times")), "{twice}");
    let late = with_notices(&[120_000]);
    assert!(late.violations.iter().any(|v| v.message.contains("was not told")), "{late}");
    assert!(with_notices(&[30_000]).holds());
}

// --- what the checker tolerates --------------------------------------------------

/// A payment still waiting for its card when the run ends, and one whose
/// app was killed mid-collect (its process restarted), need no outcome.
#[test]
fn a_payment_still_in_progress_or_lost_with_its_process_needs_no_outcome() {
    let mut lines = begin();
    lines.push((100, "pos", began("last")));
    assert!(check(&finish(lines)).holds());
    let mut lines = begin();
    lines.push((100, "pos", began("killed")));
    lines.push((200, "fault", injected(FaultKind::AppKill, "pos")));
    lines.push((300, "pos", EventBody::StoreRecovered { pending: 0, unreadable: 0 }));
    lines.push((400, "pos", began("next")));
    lines.push((490, "backend", online_charge("ch_next", "pi_next")));
    lines.push((
        500,
        "pos",
        EventBody::SdkPaymentSucceeded {
            payment: "next".into(),
            intent: Some("pi_next".into()),
            status: Some("succeeded".into()),
            amount: usd(500),
        },
    ));
    let report = check(&finish(lines));
    assert!(report.holds(), "{report}");
}

#[rstest]
#[case::history_ends_before_the_window(finish({
    let mut lines = begin();
    lines.push((500, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    lines.extend(collect(1000, "off_p_1", 1000, 1, 1000));
    lines.push((2000, "fault", cleared(FaultKind::LinkDown, "pos~backend")));
    lines.push((61_000, "pos", status(1, 1000)));
    lines
}))]
#[case::a_slow_queue_that_moves(finish({
    // Serial forwarding: the first payment leaves 50 s after the link
    // returns, the second 50 s after that; each window saw progress.
    let mut lines = begin();
    lines.push((500, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    lines.extend(collect(1000, "off_p_1", 1000, 1, 1000));
    lines.extend(collect(1100, "off_p_2", 1000, 2, 2000));
    lines.push((2000, "fault", cleared(FaultKind::LinkDown, "pos~backend")));
    lines.extend(forward(52_000, "off_p_1", 1000, 1, 1000));
    lines.extend(forward(102_000, "off_p_2", 1000, 0, 0));
    lines
}))]
#[case::a_reader_rebooting_is_not_quiet(finish({
    // A smart reader holds the payment and reboots for 45 s; its queue moves
    // within the window that starts when it is back.
    let mut lines = begin();
    lines.push((100, "reader/S700-1", stored(100, "off_r_1", 1000)));
    lines.push((100, "reader/S700-1", status(1, 1000)));
    lines.push((40_000, "reader/S700-1", EventBody::RebootStarted { kind: readerlab_emulator::core::RebootKind::Requested }));
    lines.push((85_000, "reader/S700-1", EventBody::RebootFinished { kind: readerlab_emulator::core::RebootKind::Requested }));
    lines.push((139_990, "backend", charged("ch_r_1", "off_r_1", 1000)));
    lines.push((140_000, "reader/S700-1", forwarded("off_r_1", 1000)));
    lines.push((140_000, "reader/S700-1", status(0, 0)));
    lines
}))]
#[case::an_anonymous_unreadable_record_accounts_for_one(finish({
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "pos", EventBody::StoreRecovered { pending: 0, unreadable: 1 }));
    lines.push((200, "pos", EventBody::PaymentUnreadable { offline_id: None, amount: Some(usd(1000)), reason: "header damaged".to_owned() }));
    lines.push((200, "pos", status(0, 0)));
    lines
}))]
#[case::a_long_seed_is_not_a_card_number(history(vec![
    // 4242424242424242 as a seed: a number field that long is no card.
    (0, "rig", EventBody::RigStarted { seed: 4_242_424_242_424_242, defects: Defects::none(), readers: vec![], offline: OfflineConfig::enabled(), drain_window_ms: 60_000 }),
]))]
#[case::an_empty_history(Vec::new())]
fn histories_that_hold(#[case] history: Vec<Event>) {
    let report = check(&history);
    assert!(report.holds(), "{report}");
}

/// I9's and I10's bounds: an answer about another account says nothing of
/// the charge, a declined charge's release is no charge, and a history cut
/// short is not judged for orphans.
#[test]
fn i9_and_i10_judge_only_what_the_history_can_show() {
    // A forward refused for another account's token, after a lost confirm
    // charged the intent under the payment's own account.
    let mut lines = begin();
    lines.push((50, "backend", online_charge("ch_1", "pi_p_1")));
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    let code = "ACCOUNT_ID_MISMATCH_WHILE_FORWARDING".to_owned();
    let refused = EventBody::PaymentForwarded {
        offline_id: id("off_p_1"),
        amount: usd(1000),
        intent: None,
        status: None,
        error: Some(ForwardError { code, decline_code: None }),
    };
    lines.push((210, "pos", refused));
    let code = "ACCOUNT_ID_MISMATCH_WHILE_FORWARDING";
    lines.push((210, "pos", shown("off_p_1", 1000, code)));
    lines.push((210, "pos", status(0, 0)));
    let report = check(&finish(lines));
    assert!(report.holds(), "{report}");
    // An authorization released by a cancel charged nobody.
    let mut lines = begin();
    lines.push((100, "pos", began("tip")));
    lines.push((200, "backend", online_charge("ch_1", "pi_tip")));
    lines.push((
        300,
        "backend",
        EventBody::IntentCanceled { intent: "pi_tip".into(), released_charge: Some("ch_1".into()) },
    ));
    let code = readerlab_emulator::core::TerminalErrorCode::NotConnectedToInternet;
    lines.push((300, "pos", EventBody::SdkPaymentFailed { payment: "tip".into(), code }));
    let report = check(&finish(lines));
    assert!(report.holds(), "{report}");
    // The same orphan as I10's broken case, in a history without
    // rig.finished: not judged.
    let mut cut = intent_created_after_its_payment_ended(true);
    cut.pop();
    assert!(check(&cut).holds(), "{}", check(&cut));
}

#[test]
fn i9_and_i10_read_as_sentences_naming_the_payment_and_the_events() {
    let says = |history: Vec<Event>, sentence: &str| {
        let report = check(&history);
        assert!(report.to_string().contains(sentence), "{report}");
        report
    };
    says(
        told_failed_but_charged(true),
        "payment dinner on pos was told failed (NOT_CONNECTED_TO_INTERNET) (payment.failed) but \
         the backend charged the customer: ch_1 on pi_dinner",
    );
    let report = says(
        intent_created_after_its_payment_ended(true),
        "payment intent pi_9 for payment tea was created (backend.payment_intent.created) after \
         the app was told tea ended (payment.failed), and by the end of the run nothing \
         confirmed or canceled it",
    );
    let shown: Vec<String> = report.violations[0].excerpt.iter().map(|e| e.body.name()).collect();
    assert_eq!(shown, ["payment.failed", "backend.payment_intent.created"]);
    says(
        intent_created_after_going_offline(true),
        "payment intent pi_9 for payment p_1 was created (backend.payment_intent.created) after \
         the SDK went on with p_1 offline (payment.intent.created, mode offline)",
    );
}

// --- the report -------------------------------------------------------------------

#[test]
fn a_violation_reads_as_a_sentence_with_its_events() {
    let report = check(&double_charge(true));
    let text = report.to_string();
    assert!(
        text.contains("I2 (exactly once) violated for off_p_1: charged 2 times (ch_1, ch_2)"),
        "{text}"
    );
    // The two charges and the upload before each, in history order.
    let excerpt = &report.violations[0].excerpt;
    let seqs: Vec<u64> = excerpt.iter().map(|e| e.seq).collect();
    let names: Vec<String> = excerpt.iter().map(|e| e.body.name()).collect();
    assert_eq!(seqs, [5, 6, 8, 9], "{text}");
    assert_eq!(
        names,
        [
            "offline.forward.attempted",
            "backend.charge.succeeded",
            "offline.forward.attempted",
            "backend.charge.succeeded"
        ]
    );
    let line = text.lines().find(|l| l.contains(r#""charge":"ch_2""#)).unwrap();
    assert!(line.contains("backend") && line.contains("31005ms"), "{line}");
    assert!(text.lines().next().unwrap().ends_with("1 violation of I2 (exactly once)"), "{text}");
}

#[test]
fn json_says_the_verdict_and_carries_every_violation() {
    let report = check(&two_outcomes(true));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["holds"], false);
    assert_eq!(json["violated"], serde_json::json!(["I3"]));
    assert_eq!(json["violations"][0]["payment"], "off_p_1");
    assert_eq!(json["violations"][0]["excerpt"][0]["event"], "offline.payment.stored");
    assert_eq!(json["stats"]["forwarded"], 2);
    let holds = serde_json::to_value(check(&two_outcomes(false))).unwrap();
    assert_eq!(holds["holds"], true);
}

#[test]
fn a_card_number_is_never_repeated_by_the_report() {
    let report = check(&pan_in_history(true));
    let violation = &report.violations[0];
    assert!(violation.excerpt.is_empty());
    assert!(violation.message.contains("seq 9"), "{report}");
    let text = format!("{report}{}", serde_json::to_string(&report).unwrap());
    assert!(!text.contains("424242424242"), "{text}");
}

#[test]
fn each_invariant_is_reported_a_few_times_and_the_rest_counted() {
    let mut lines = begin();
    for i in 1..=7 {
        let offline_id = format!("off_p_{i}");
        let offline_id: &'static str = Box::leak(offline_id.into_boxed_str());
        let t = 100 * i;
        lines.push((t, "pos", stored_as(t, offline_id, usd(1000), EntryMode::Swipe, Brand::Visa)));
        lines.push((t, "pos", status(1, 1000)));
        lines.extend(forward(t + 50, offline_id, 1000, 0, 0));
    }
    let report = check(&finish(lines));
    assert_eq!(report.violations.len(), 5, "{report}");
    assert_eq!(report.omitted, BTreeMap::from([(Invariant::I6, 2)]));
    assert!(report.to_string().contains("and 2 more I6 violations"), "{report}");
    // The first five in history order.
    let named: Vec<_> = report.violations.iter().filter_map(|v| v.payment.clone()).collect();
    assert_eq!(named, ["off_p_1", "off_p_2", "off_p_3", "off_p_4", "off_p_5"]);
}

#[test]
fn the_drain_window_comes_from_the_rig() {
    // Stuck for 20 s after the link returned: fine for 60 s, not for 10 s.
    let mut lines = vec![(0, "rig", rig_with(OfflineConfig::enabled(), 10_000))];
    lines.push((500, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    lines.extend(collect(1000, "off_p_1", 1000, 1, 1000));
    lines.push((2000, "fault", cleared(FaultKind::LinkDown, "pos~backend")));
    lines.push((22_000, "pos", status(1, 1000)));
    let events = finish(lines);
    assert_eq!(CheckConfig::for_history(&events).drain_window, Duration::from_secs(10));
    let report = check(&events);
    assert_eq!(report.violated(), BTreeSet::from([Invariant::I4]), "{report}");
    assert!(report.violations[0].message.contains("did not move for 10 s"), "{report}");
    assert!(check_with(&events, &CheckConfig::default()).holds());
}

#[test]
fn a_lost_payment_is_named_once_under_i1_not_again_under_i4_or_i8() {
    // The store is lost on upgrade (android-731) with the link up: no
    // outcome ever, the queue never moves, and the sums do not close; only
    // I1 speaks.
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "fault", injected(FaultKind::AppUpgrade, "pos")));
    lines.push((300, "pos", EventBody::StoreRecovered { pending: 0, unreadable: 0 }));
    lines.push((300, "pos", status(0, 0)));
    lines.push((200_000, "pos", status(0, 0)));
    let report = check(&finish(lines));
    assert_eq!(report.violated(), BTreeSet::from([Invariant::I1]), "{report}");
    let text = report.to_string();
    assert!(text.contains("pos lost 1 stored payment"), "{text}");
    assert!(text.contains("offline.store.recovered") && text.contains("fault.injected"), "{text}");
}

#[test]
fn a_queue_that_was_lost_and_then_used_again_is_i1_only() {
    // The upgrade loses one payment; the POS says it holds nothing through a
    // quiet stretch far longer than the window; a new payment later is
    // stored and forwarded at once. Nothing stalled: only I1 speaks (the
    // window cannot start before the holder's count left zero again).
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.push((200, "fault", injected(FaultKind::AppUpgrade, "pos")));
    lines.push((300, "pos", EventBody::StoreRecovered { pending: 0, unreadable: 0 }));
    lines.push((300, "pos", status(0, 0)));
    lines.extend(collect(500_000, "off_p_2", 2000, 1, 2000));
    lines.extend(forward(500_100, "off_p_2", 2000, 0, 0));
    lines.push((900_000, "pos", status(0, 0)));
    let report = check(&finish(lines));
    assert_eq!(report.violated(), BTreeSet::from([Invariant::I1]), "{report}");
}

#[test]
fn a_partial_loss_names_the_payments_the_holder_stopped_touching() {
    // Three stored; after the restart the store gives back one, which the
    // POS tries to upload before the link drops again: the other two are
    // the likely losses.
    let mut lines = begin();
    lines.extend(collect(100, "off_p_1", 1000, 1, 1000));
    lines.extend(collect(200, "off_p_2", 1000, 2, 2000));
    lines.extend(collect(300, "off_p_3", 1000, 3, 3000));
    lines.push((400, "fault", injected(FaultKind::PowerLoss, "pos")));
    lines.push((500, "pos", EventBody::StoreRecovered { pending: 1, unreadable: 0 }));
    lines.push((500, "pos", status(1, 1000)));
    lines.push((600, "pos", attempted("off_p_3", 1)));
    lines.push((700, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    let report = check(&finish(lines));
    assert_eq!(report.violated(), BTreeSet::from([Invariant::I1]), "{report}");
    let violation = &report.violations[0];
    assert_eq!(violation.payment.as_deref(), Some("off_p_1"));
    assert!(
        violation.message.contains(
            "pos lost 2 of the 3 stored payments without an outcome: its last offline status \
             holds 1; most likely lost: off_p_1, off_p_2"
        ),
        "{report}"
    );
}

// --- speed ------------------------------------------------------------------------

/// A clean run of `payments` payments: stored while the link is down, then
/// forwarded one by one. About seven events per payment.
fn big_history(payments: u32) -> Vec<Event> {
    let config = OfflineConfig { max_records: payments, ..OfflineConfig::enabled() };
    let mut lines: Vec<Line> = vec![(0, "rig", rig_with(config, 60_000))];
    lines.push((1, "fault", injected(FaultKind::LinkDown, "pos~backend")));
    let ids: Vec<&'static str> =
        (1..=payments).map(|i| &*Box::leak(format!("off_p_{i}").into_boxed_str())).collect();
    let mut t = 10;
    for (i, offline_id) in ids.iter().enumerate() {
        let held = i as u32 + 1;
        lines.extend(collect(t, offline_id, 1000, held, u64::from(held) * 1000));
        t += 20;
    }
    lines.push((t, "fault", cleared(FaultKind::LinkDown, "pos~backend")));
    for (i, offline_id) in ids.iter().enumerate() {
        let held = payments - i as u32 - 1;
        lines.extend(forward(t, offline_id, 1000, held, u64::from(held) * 1000));
        t += 100;
    }
    finish(lines)
}

#[test]
fn a_long_clean_run_holds_and_is_judged_quickly() {
    let events = big_history(4_300);
    assert!(events.len() > 30_000);
    let started = Instant::now();
    let report: Report = check(&events);
    let took = started.elapsed();
    assert!(report.holds(), "{report}");
    assert_eq!(report.stats.forwarded, 4_300);
    // A guard against a search per event, generous enough for a debug build
    // on a busy machine; release takes a few milliseconds.
    println!("checked {} events in {took:?}", events.len());
    assert!(took < Duration::from_secs(5), "{took:?}");
}
