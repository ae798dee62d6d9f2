//! A smart reader's LAN API (`sim/lan.rs`, docs/control-api.md): what an
//! outside POS driving the reader over its LAN sees: a payment taken online,
//! one stored offline while the reader's internet is down and forwarded
//! later, a decline, the refusals (LAN down, busy, duplicate name, a mobile
//! reader), and a cancel.

use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::{Currency, EntryMode, EventBody, Money, ReaderModel};
use readerlab_emulator::sim::{LanError, LinkFault, LinkId, RigSpec, Sim};
use std::time::Duration;

fn usd(amount: u64) -> Money {
    Money::new(amount, Currency::USD)
}

/// A rig of one S700, connected.
fn rig() -> Sim {
    let mut sim = Sim::new(RigSpec::single(ReaderModel::S700, 1)).unwrap();
    sim.run_for(Duration::from_secs(5));
    sim
}

/// Starts `payment`, presents `card`, lets a minute pass; its status.
fn pay(sim: &mut Sim, payment: &str, card: &str, behavior: OfflineBehavior) -> &'static str {
    sim.lan_collect(0, payment.to_owned(), usd(1_250), behavior).unwrap();
    assert_eq!(sim.lan_payment(0, payment).unwrap().unwrap().status, "in_progress");
    sim.run_for(Duration::from_secs(2));
    sim.present_card_now(0, card, EntryMode::Contactless).unwrap();
    sim.run_for(Duration::from_secs(60));
    sim.lan_payment(0, payment).unwrap().unwrap().status
}

#[test]
fn a_payment_over_the_lan_succeeds_online_and_is_named_by_the_pos() {
    let mut sim = rig();
    assert_eq!(
        pay(&mut sim, "coffee", "4242424242424242", OfflineBehavior::PreferOnline),
        "succeeded"
    );
    let named = sim.events().iter().any(|e| {
        matches!(&e.body, EventBody::SdkPaymentSucceeded { payment, .. } if payment == "coffee")
    });
    assert!(named, "the reader's engine names the payment as the POS did");
}

#[test]
fn a_payment_over_the_lan_is_stored_offline_and_forwarded_when_the_internet_returns() {
    let mut sim = rig();
    let down = LinkFault::LinkDown { link: LinkId::ReaderBackend(0) }.into();
    sim.inject(down).unwrap();
    sim.run_for(Duration::from_secs(30));
    assert_eq!(pay(&mut sim, "tea", "4242424242424242", OfflineBehavior::PreferOnline), "stored");
    sim.clear(&LinkFault::LinkDown { link: LinkId::ReaderBackend(0) }.into());
    sim.run_for(Duration::from_secs(300));
    let forwarded =
        sim.events().iter().any(|e| matches!(e.body, EventBody::PaymentForwarded { .. }));
    assert!(forwarded);
}

#[test]
fn a_declined_card_is_declined() {
    let mut sim = rig();
    let status = pay(&mut sim, "cake", "4000000000000002", OfflineBehavior::PreferOnline);
    assert_eq!(status, "declined");
    assert_eq!(sim.lan_payment(0, "cake").unwrap().unwrap().code.as_deref(), Some("card_declined"));
}

#[test]
fn the_reader_refuses_what_it_cannot_take_and_nothing_starts() {
    let mut sim = rig();
    sim.lan_collect(0, "one".to_owned(), usd(100), OfflineBehavior::PreferOnline).unwrap();
    let busy = sim.lan_collect(0, "two".to_owned(), usd(100), OfflineBehavior::PreferOnline);
    assert!(matches!(busy, Err(LanError::NotReady(0, _))), "{busy:?}");
    sim.lan_cancel(0, "one").unwrap();
    assert_eq!(sim.lan_payment(0, "one").unwrap().unwrap().status, "canceled");
    sim.run_for(Duration::from_secs(5));
    let again = sim.lan_collect(0, "one".to_owned(), usd(100), OfflineBehavior::PreferOnline);
    assert!(matches!(again, Err(LanError::Duplicate(_))), "{again:?}");
    sim.inject(LinkFault::LinkDown { link: LinkId::PosReader(0) }.into()).unwrap();
    let unreachable =
        sim.lan_collect(0, "three".to_owned(), usd(100), OfflineBehavior::PreferOnline);
    assert!(matches!(unreachable, Err(LanError::Unreachable(0))), "{unreachable:?}");
    assert!(matches!(sim.lan_payment(0, "one"), Err(LanError::Unreachable(0))));
    assert!(sim.lan_payment(9, "one").is_err());
    let mut mobile = Sim::new(RigSpec::single(ReaderModel::M2, 1)).unwrap();
    let refused = mobile.lan_collect(0, "m".to_owned(), usd(100), OfflineBehavior::PreferOnline);
    assert!(matches!(refused, Err(LanError::NotSmart(0))), "{refused:?}");
}
