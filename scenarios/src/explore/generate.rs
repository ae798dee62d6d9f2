//! Generation: random rigs and schedules as a proptest-state-machine
//! reference model.
//!
//! [`Model`] is what generation knows about a schedule so far: the rig,
//! which sustained faults it holds, the payment names it used, and how
//! likely payments are waiting in a store ("pressure": it rises with each
//! payment taken while the internet is down or `FORCE_OFFLINE`, and falls as
//! connected time passes). Each next operation is drawn from what makes
//! sense now, so a fault is only cleared while held, and only devices and
//! readers the rig has are named. [`valid`] states the same rules, so that
//! shrinking (which deletes and simplifies operations) keeps every schedule
//! meaningful.
//!
//! Weights steer generation to the rare paths: while payments are likely
//! stored, the draws lean towards what breaks a store or its queue (a power
//! cut in the middle of a write, a lost answer to a forward, a full disk, a
//! damaged record, an upgrade, an app kill, a decline on sync) and towards
//! the internet coming back, so a drain starts with the fault in place.
//! Generation knows nothing of defect profiles.

use super::schedule::{Op, Request, RigPlan, Who};
use crate::steps::payments::Phase;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{NewTree, Union, ValueTree};
use proptest::test_runner::TestRunner;
use proptest_state_machine::strategy::Sequential;
use readerlab_emulator::core::offline::OfflineBehavior;
use readerlab_emulator::core::{EntryMode, ReaderModel, TestCards};
use std::collections::BTreeSet;

/// Test cards payments are made with, most often the plain Visa; the rest
/// reach declines, PIN and brand rules, expiry.
const CARDS: [(u32, &str); 11] = [
    (50, "visa"),
    (8, "mastercard"),
    (6, "visa_debit"),
    (5, "amex"),
    (3, "discover"),
    (4, "insufficient_funds"),
    (3, "card_declined"),
    (2, "offline_pin_cvm"),
    (2, "online_pin_cvm"),
    (2, "interac"),
    (2, "expired_card"),
];

/// Notifications exploration loses on the air: the ones a payment turns on.
const DROPPABLE: [&str; 4] = [
    "reader.payment.collected",
    "reader.card.presented",
    "reader.payment.collect.started",
    "reader.card.removed",
];

/// A sustained fault the schedule holds until it clears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Internet,
    DeviceInternet(Who),
    Flapping,
    Slow,
    App(Who),
    Lock(Who),
    Signal(ReaderModel),
    Radio,
    Late(ReaderModel),
    Mtu(ReaderModel),
    Interval(ReaderModel),
    Usb(ReaderModel),
    Full(Who),
}

/// What generation knows about a schedule so far.
#[derive(Clone, Debug)]
pub struct Model {
    /// The rig.
    pub rig: RigPlan,
    held: BTreeSet<Held>,
    used: BTreeSet<u32>,
    next_name: u32,
    pressure: u32,
}

impl Model {
    pub(crate) fn new(rig: RigPlan) -> Model {
        Model { rig, held: BTreeSet::new(), used: BTreeSet::new(), next_name: 1, pressure: 0 }
    }

    fn holds(&self, held: Held) -> bool {
        self.held.contains(&held)
    }

    /// Devices with an internet link of their own: the POS, smart readers.
    fn online_devices(&self) -> Vec<Who> {
        std::iter::once(Who::Pos).chain(self.rig.smart().map(Who::Reader)).collect()
    }

    /// Whether a payment now is likely to be taken offline.
    fn offline_likely(&self, behavior: Option<OfflineBehavior>) -> bool {
        let internet_down = self
            .held
            .iter()
            .any(|h| matches!(h, Held::Internet | Held::Flapping | Held::DeviceInternet(_)));
        internet_down || behavior.or(self.rig.behavior) == Some(OfflineBehavior::ForceOffline)
    }
}

/// Whether `op` makes sense after the schedule `model` describes.
pub fn valid(model: &Model, op: &Op) -> bool {
    let rig = &model.rig;
    let stores = rig.stores();
    let online = model.online_devices();
    let mobile = rig.mobile();
    let bluetooth = mobile.filter(|_| !rig.usb);
    let usb = mobile.filter(|_| rig.usb);
    match op {
        Op::Pay { name, reader, cents, card, .. } => {
            rig.readers.contains(reader)
                && !model.used.contains(name)
                && *cents > 0
                && TestCards::builtin().by_type(card).is_some()
        }
        Op::Pass { seconds } => *seconds > 0,
        Op::Until { name, .. } => model.used.contains(name),
        Op::Internet { down } => *down != model.holds(Held::Internet),
        Op::DeviceInternet { device, down } => {
            online.contains(device) && *down != model.holds(Held::DeviceInternet(*device))
        }
        Op::Flapping { on } => *on != model.holds(Held::Flapping),
        Op::Slow { extra_ms } => extra_ms.is_some() != model.holds(Held::Slow),
        Op::Request { device, nth, .. } => online.contains(device) && *nth > 0,
        Op::App { device, killed } => {
            stores.contains(device) && *killed != model.holds(Held::App(*device))
        }
        Op::Lock { device, locked } => {
            stores.contains(device) && *locked != model.holds(Held::Lock(*device))
        }
        Op::StorageFull { device, full } => {
            stores.contains(device) && *full != model.holds(Held::Full(*device))
        }
        Op::Upgrade { device }
        | Op::NextWriteFails { device }
        | Op::RecordDamaged { device }
        | Op::DataWiped { device } => stores.contains(device),
        Op::PowerLoss { who, mid_write } => {
            let device_ok = if *mid_write {
                stores.contains(who)
            } else {
                *who != Who::Pos || stores.contains(who)
            };
            rig.has(*who) && device_ok
        }
        Op::Reboot { reader } | Op::RequiredUpdate { reader } => rig.readers.contains(reader),
        Op::Battery { reader, percent, .. } => rig.readers.contains(reader) && *percent <= 100,
        Op::Signal { reader, lost } => {
            bluetooth == Some(*reader) && *lost != model.holds(Held::Signal(*reader))
        }
        Op::Radio { off } => bluetooth.is_some() && *off != model.holds(Held::Radio),
        Op::NotificationLost { reader, event } => {
            bluetooth == Some(*reader) && DROPPABLE.contains(&event.as_str())
        }
        Op::NotificationsLate { reader, seconds } => {
            bluetooth == Some(*reader)
                && seconds.is_some() != model.holds(Held::Late(*reader))
                && *seconds != Some(0)
        }
        Op::Mtu { reader, mtu } => {
            bluetooth == Some(*reader)
                && mtu.is_some() != model.holds(Held::Mtu(*reader))
                && mtu.is_none_or(|mtu| (23..=readerlab_emulator::sim::RADIO_MTU).contains(&mtu))
        }
        Op::Interval { reader, ms } => {
            bluetooth == Some(*reader)
                && ms.is_some() != model.holds(Held::Interval(*reader))
                && *ms != Some(0)
        }
        Op::Usb { reader, pulled } => {
            usb == Some(*reader) && *pulled != model.holds(Held::Usb(*reader))
        }
        // A saved case is read back as steps, whose patterns take a decline
        // code of lowercase letters and underscores.
        Op::Declines { times, code } => {
            *times > 0
                && !code.is_empty()
                && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        }
        Op::TokenFails { times } | Op::OtherAccount { times } => *times > 0,
        Op::Http { times, status, .. } => {
            *times > 0 && [409, 429, 500, 502, 503, 504].contains(status)
        }
    }
}

/// The model after `op`.
pub fn next(mut model: Model, op: &Op) -> Model {
    let mut toggle = |held: Held, on: bool| {
        if on {
            model.held.insert(held);
        } else {
            model.held.remove(&held);
        }
    };
    match op {
        Op::Internet { down } => toggle(Held::Internet, *down),
        Op::DeviceInternet { device, down } => toggle(Held::DeviceInternet(*device), *down),
        Op::Flapping { on } => toggle(Held::Flapping, *on),
        Op::Slow { extra_ms } => toggle(Held::Slow, extra_ms.is_some()),
        Op::App { device, killed } => toggle(Held::App(*device), *killed),
        Op::Lock { device, locked } => toggle(Held::Lock(*device), *locked),
        Op::Signal { reader, lost } => toggle(Held::Signal(*reader), *lost),
        Op::Radio { off } => toggle(Held::Radio, *off),
        Op::NotificationsLate { reader, seconds } => toggle(Held::Late(*reader), seconds.is_some()),
        Op::Mtu { reader, mtu } => toggle(Held::Mtu(*reader), mtu.is_some()),
        Op::Interval { reader, ms } => toggle(Held::Interval(*reader), ms.is_some()),
        Op::Usb { reader, pulled } => toggle(Held::Usb(*reader), *pulled),
        Op::StorageFull { device, full } => toggle(Held::Full(*device), *full),
        Op::Pay { name, behavior, .. } => {
            if model.offline_likely(*behavior) {
                model.pressure = (model.pressure + 1).min(3);
            }
            model.used.insert(*name);
            model.next_name = model.next_name.max(name + 1);
        }
        Op::Pass { seconds } if *seconds >= 300 && !model.offline_likely(None) => {
            model.pressure = model.pressure.saturating_sub(1);
        }
        Op::DataWiped { .. } => model.pressure = 0,
        _ => {}
    }
    model
}

/// Rigs: one reader most often, mobile more than smart; sometimes a
/// mobile reader beside smart ones. With `only`, rigs of that one model.
pub fn rigs(only: Option<ReaderModel>) -> BoxedStrategy<RigPlan> {
    let readers: BoxedStrategy<Vec<ReaderModel>> = match only {
        Some(model) => Just(vec![model]).boxed(),
        None => {
            use ReaderModel::{Chipper2x, M2, S700, Wisepad3, WiseposE};
            prop_oneof![
                6 => select(vec![M2, Wisepad3, Chipper2x]).prop_map(|m| vec![m]),
                3 => select(vec![S700, WiseposE]).prop_map(|m| vec![m]),
                2 => (select(vec![M2, Wisepad3, Chipper2x]), select(vec![S700, WiseposE]))
                    .prop_map(|(m, s)| vec![m, s]),
                1 => Just(vec![S700, WiseposE]),
                1 => select(vec![M2, Wisepad3, Chipper2x]).prop_map(|m| vec![m, S700, WiseposE]),
            ]
            .boxed()
        }
    };
    let behaviors = select(vec![
        OfflineBehavior::ForceOffline,
        OfflineBehavior::RequireOnline,
        OfflineBehavior::PreferOnline,
    ]);
    (
        readers,
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.03),
        prop::option::weighted(0.12, 2_000u64..=30_000),
        prop::option::weighted(0.12, 5_000u64..=100_000),
        prop::option::weighted(0.12, 1u32..=6),
        prop::option::weighted(0.15, behaviors),
    )
        .prop_map(|(readers, usb, offline_disabled, max, limit, cap, behavior)| {
            let usb_capable =
                readers.iter().any(|m| matches!(m, ReaderModel::M2 | ReaderModel::Wisepad3));
            RigPlan {
                readers,
                usb: usb && usb_capable,
                offline_disabled,
                max_per_payment: max,
                stored_limit: limit,
                record_cap: cap,
                behavior,
            }
        })
        .boxed()
}

/// The next operation, drawn from those that make sense after `model`.
pub fn transitions(model: &Model) -> BoxedStrategy<Op> {
    let rig = &model.rig;
    let p = model.pressure;
    let stores = rig.stores();
    let online = model.online_devices();
    let mut w = Weighted::default();

    let (readers, name) = (rig.readers.clone(), model.next_name);
    w.draw(30, move || payments(&readers, name));
    w.draw(24, passes);
    phase_waits(&mut w, model, p);

    // The internet: down for a while, so payments are stored; back, so a
    // drain starts (more likely the more is stored).
    let down = model.holds(Held::Internet);
    w.fixed(if down { 8 + 6 * p } else { 9 }, Op::Internet { down: !down });
    for device in &online {
        let down = model.holds(Held::DeviceInternet(*device));
        w.fixed(
            if down { 5 + 2 * p } else { 2 },
            Op::DeviceInternet { device: *device, down: !down },
        );
    }
    let on = model.holds(Held::Flapping);
    w.fixed(if on { 6 } else { 1 + p }, Op::Flapping { on: !on });
    if model.holds(Held::Slow) {
        w.fixed(6, Op::Slow { extra_ms: None });
    } else {
        w.draw(1 + p, || {
            let slow = select(vec![2_500u64, 800, 5_000, 12_000]);
            slow.prop_map(|ms| Op::Slow { extra_ms: Some(ms) }).boxed()
        });
    }
    w.draw(4 + 3 * p, move || requests(online.clone()));

    // The devices that store payments.
    if !stores.is_empty() {
        for device in &stores {
            let killed = model.holds(Held::App(*device));
            w.fixed(if killed { 10 } else { 1 + p }, Op::App { device: *device, killed: !killed });
            let locked = model.holds(Held::Lock(*device));
            w.fixed(if locked { 8 } else { 1 }, Op::Lock { device: *device, locked: !locked });
            let full = model.holds(Held::Full(*device));
            w.fixed(if full { 8 } else { 1 + p }, Op::StorageFull { device: *device, full: !full });
        }
        let on_a_store = |make: fn(Who) -> Op| {
            let stores = stores.clone();
            move || select(stores.clone()).prop_map(make).boxed()
        };
        w.draw(1 + p, on_a_store(|device| Op::Upgrade { device }));
        w.draw(2 + 2 * p, on_a_store(|device| Op::NextWriteFails { device }));
        w.draw(1 + 3 * p, on_a_store(|device| Op::RecordDamaged { device }));
        w.draw(1, on_a_store(|device| Op::DataWiped { device }));
        w.draw(2 + 3 * p, on_a_store(|who| Op::PowerLoss { who, mid_write: true }));
    }
    // Power cuts and the readers' own life.
    let mut powered: Vec<Who> = rig.readers.iter().map(|m| Who::Reader(*m)).collect();
    if stores.contains(&Who::Pos) {
        powered.push(Who::Pos);
    }
    w.draw(2, move || {
        select(powered.clone()).prop_map(|who| Op::PowerLoss { who, mid_write: false }).boxed()
    });
    let on_a_reader = |make: fn(ReaderModel) -> Op| {
        let readers = rig.readers.clone();
        move || select(readers.clone()).prop_map(make).boxed()
    };
    w.draw(2, on_a_reader(|reader| Op::Reboot { reader }));
    w.draw(1, on_a_reader(|reader| Op::RequiredUpdate { reader }));
    let readers = rig.readers.clone();
    w.draw(1, move || {
        let battery = (select(readers.clone()), 1u8..=100, prop::bool::weighted(0.3));
        battery
            .prop_map(|(reader, percent, charging)| Op::Battery { reader, percent, charging })
            .boxed()
    });
    if let Some(mobile) = rig.mobile() {
        if rig.usb {
            let pulled = model.holds(Held::Usb(mobile));
            w.fixed(if pulled { 8 } else { 2 }, Op::Usb { reader: mobile, pulled: !pulled });
        } else {
            let lost = model.holds(Held::Signal(mobile));
            w.fixed(if lost { 8 } else { 2 }, Op::Signal { reader: mobile, lost: !lost });
            let off = model.holds(Held::Radio);
            w.fixed(if off { 8 } else { 1 }, Op::Radio { off: !off });
            air_faults(&mut w, model, mobile, p);
        }
    }

    backend_faults(&mut w, p);

    w.boxed()
}

/// Time to a phase of one of the last two payments, so the next fault lands
/// in it: the card read (the confirm or the store comes next), stored, a
/// forward on its way.
fn phase_waits(w: &mut Weighted, model: &Model, p: u32) {
    let recent: Vec<u32> = model.used.iter().rev().take(2).copied().collect();
    if recent.is_empty() {
        return;
    }
    w.draw(4 + p, move || {
        let phases =
            select(vec![Phase::Collecting, Phase::CardRead, Phase::Stored, Phase::Forwarding]);
        (select(recent.clone()), phases).prop_map(|(name, phase)| Op::Until { name, phase }).boxed()
    });
}

/// What the air does to a Bluetooth reader's link: a notification lost
/// (more often while a payment is likely on its way), all of them late, a
/// smaller MTU, a slow connection interval.
fn air_faults(w: &mut Weighted, model: &Model, reader: ReaderModel, p: u32) {
    w.draw(2 + p, move || {
        select(DROPPABLE.to_vec())
            .prop_map(move |event| Op::NotificationLost { reader, event: event.to_owned() })
            .boxed()
    });
    let late = move |seconds| Op::NotificationsLate { reader, seconds };
    held_or_set(w, model.holds(Held::Late(reader)), vec![1u32, 5, 30, 45], late);
    let mtu = move |mtu| Op::Mtu { reader, mtu };
    held_or_set(w, model.holds(Held::Mtu(reader)), vec![23u16, 27, 64, 100], mtu);
    let interval = move |ms| Op::Interval { reader, ms };
    held_or_set(w, model.holds(Held::Interval(reader)), vec![100u32, 400, 1_000], interval);
}

/// A sustained fault whose operation takes `Some(value)` to set it and
/// `None` to clear it: cleared more often than set while it holds (6 to 1),
/// else set to one of `values`.
fn held_or_set<T: Clone + std::fmt::Debug + 'static>(
    w: &mut Weighted,
    held: bool,
    values: Vec<T>,
    op: impl Fn(Option<T>) -> Op + Clone + 'static,
) {
    if held {
        w.fixed(6, op(None));
    } else {
        w.draw(1, move || {
            let op = op.clone();
            select(values.clone()).prop_map(move |value| op(Some(value))).boxed()
        });
    }
}

/// The backend's faults: declines on sync, token failures, tokens for another
/// account, HTTP errors (drawn last, in this order).
fn backend_faults(w: &mut Weighted, p: u32) {
    w.draw(2 + 2 * p, || {
        let codes = select(vec!["insufficient_funds", "generic_decline", "card_declined"]);
        (1u32..=3, codes)
            .prop_map(|(times, code)| Op::Declines { times, code: code.to_owned() })
            .boxed()
    });
    w.draw(1 + p, || (1u32..=3).prop_map(|times| Op::TokenFails { times }).boxed());
    w.draw(1, || (1u32..=2).prop_map(|times| Op::OtherAccount { times }).boxed());
    w.draw(2, || {
        let kinds = select(vec![Request::Forward, Request::Create, Request::Confirm]);
        let http = (
            1u32..=3,
            prop::option::weighted(0.5, kinds),
            select(vec![503u16, 500, 502, 504, 429, 409]),
        );
        http.prop_map(|(times, request, status)| Op::Http { times, request, status }).boxed()
    });
}

/// One alternative of [`Weighted`]: an operation as it is, or a strategy
/// made only if chosen.
enum Choice {
    Fixed(Op),
    Draw(Box<dyn Fn() -> BoxedStrategy<Op>>),
}

/// A weighted choice among operations that builds and draws only the
/// chosen one. `prop_oneof!`/[`Union`] make every alternative's strategy
/// and value tree (to shrink towards earlier ones), which with some thirty
/// alternatives per operation cost more than running the case; shrinking
/// here deletes and simplifies operations instead.
#[derive(Default)]
struct Weighted {
    options: Vec<(u32, Choice)>,
    total: u32,
}

impl Weighted {
    fn fixed(&mut self, weight: u32, op: Op) {
        self.push(weight, Choice::Fixed(op));
    }

    fn draw(&mut self, weight: u32, make: impl Fn() -> BoxedStrategy<Op> + 'static) {
        self.push(weight, Choice::Draw(Box::new(make)));
    }

    fn push(&mut self, weight: u32, choice: Choice) {
        if weight > 0 {
            self.total += weight;
            self.options.push((weight, choice));
        }
    }
}

impl std::fmt::Debug for Weighted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weighted").field("options", &self.options.len()).finish()
    }
}

impl Strategy for Weighted {
    type Tree = Box<dyn ValueTree<Value = Op>>;
    type Value = Op;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut pick = (0..self.total).new_tree(runner)?.current();
        for (weight, choice) in &self.options {
            if pick < *weight {
                return match choice {
                    Choice::Fixed(op) => Ok(Box::new(Just(op.clone()))),
                    Choice::Draw(make) => make().new_tree(runner),
                };
            }
            pick -= weight;
        }
        Err("no operation to choose from".into())
    }
}

/// A customer: at one of the rig's readers, mostly a Visa tapped under the
/// app's behaviour, sometimes a big amount (limits), another card (declines
/// and rules), another entry mode, another behaviour; a third of the time
/// the step waits for the outcome.
fn payments(readers: &[ReaderModel], name: u32) -> BoxedStrategy<Op> {
    let cards: Vec<(u32, BoxedStrategy<&'static str>)> =
        CARDS.iter().map(|(w, card)| (*w, Just(*card).boxed())).collect();
    let cents = prop_oneof![
        6 => 100u64..=15_000,
        1 => 15_000u64..=120_000,
    ];
    let entry = prop::option::weighted(
        0.3,
        select(vec![EntryMode::Chip, EntryMode::Contactless, EntryMode::Swipe]),
    );
    let behavior = prop::option::weighted(
        0.25,
        select(vec![
            OfflineBehavior::ForceOffline,
            OfflineBehavior::PreferOnline,
            OfflineBehavior::RequireOnline,
        ]),
    );
    (
        select(readers.to_vec()),
        cents,
        Union::new_weighted(cards),
        entry,
        behavior,
        prop::bool::weighted(0.35),
    )
        .prop_map(move |(reader, cents, card, entry, behavior, wait)| Op::Pay {
            name,
            cents,
            reader,
            card: card.to_owned(),
            entry,
            behavior,
            wait,
        })
        .boxed()
}

/// Time passing: seconds (a fault lands mid-payment), minutes (retries and
/// back-off), now and then hours.
fn passes() -> BoxedStrategy<Op> {
    prop_oneof![
        4 => 1u64..=15,
        3 => 16u64..=120,
        2 => (3u64..=20).prop_map(|m| m * 60),
        1 => (1u64..=3).prop_map(|h| h * 3_600),
    ]
    .prop_map(|seconds| Op::Pass { seconds })
    .boxed()
}

/// A request that times out or loses its answer: mostly a forward's
/// answer lost after the backend applied it.
fn requests(devices: Vec<Who>) -> BoxedStrategy<Op> {
    let kinds = Union::new_weighted(vec![
        (5, Just(Request::Forward).boxed()),
        (2, Just(Request::Confirm).boxed()),
        (1, Just(Request::Create).boxed()),
        (1, Just(Request::ConnectionToken).boxed()),
        (1, Just(Request::Any).boxed()),
    ]);
    let nth = prop_oneof![3 => Just(1u32), 1 => 2u32..=3];
    (select(devices), kinds, nth, prop::bool::weighted(0.7))
        .prop_map(|(device, kind, nth, lost)| Op::Request { nth, kind, device, lost })
        .boxed()
}

/// The whole generator: a rig, then 35–65 operations (about 50).
pub fn schedules(
    only: Option<ReaderModel>,
) -> Sequential<Model, Op, BoxedStrategy<Model>, BoxedStrategy<Op>> {
    Sequential::new(
        (35..=65usize).into(),
        move || rigs(only).prop_map(Model::new).boxed(),
        valid,
        transitions,
        next,
    )
}
