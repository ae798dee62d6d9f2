//! The offline engine: the POS/SDK model of the mobile readers and, with the
//! same code, the offline engine inside a smart reader (S700, WisePOS E).
//!
//! It plays what docs/domain.md §3 and §4 describe: a payment is created
//! online or offline by its [`OfflineBehavior`], falls back offline when an
//! online request times out, is checked against every offline rule when
//! confirmed offline, and is acknowledged as stored only once the store says
//! it is durable. Stored payments go to the [`Forwarder`]. The app sees the
//! offline status and the three callbacks as history events.
//!
//! Sans-IO, quinn-style: [`OfflineEngine::handle`] takes one [`Input`],
//! [`OfflineEngine::handle_timeout`] fires deadlines at their own instant,
//! [`OfflineEngine::poll_event`] hands out history events and
//! [`OfflineEngine::poll_effect`] the work for the shell: calls to the backend,
//! records to persist. The shell answers effects with inputs
//! ([`Input::ApiReplied`], [`Input::Persisted`], ...). A call that is never
//! answered simply times out here, which is how lost responses are modelled.

use super::config::{OfflineConfig, Timings};
use super::effects::{Effect, Outbox};
use super::forwarder::Forwarder;
use super::rules::{CollectedCard, Mode, OfflineBehavior, StoredTotals};
use super::session::{Account, Holder, Session, UnreadableRecord};
use super::{CaptureMethod, OfflineId, StoredPayment};
use crate::backend::ApiReply;
use crate::cards::TestCards;
use crate::defect::{Defect, Defects};
use crate::error::TerminalErrorCode as Code;
use crate::event::{EventBody, NetworkStatus, OfflineStatus};
use crate::money::Money;
use crate::profile::ReaderModel;
use crate::time::Millis;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Something that happens to the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    // --- from the app ---------------------------------------------------------
    /// `createPaymentIntent`; `payment` is the app's name for it.
    CreatePaymentIntent {
        payment: String,
        amount: Money,
        behavior: OfflineBehavior,
        capture: CaptureMethod,
    },
    /// A server-driven payment: the backend already created intent
    /// `intent` (the POS's server did, and asked this reader to process
    /// it); the engine takes it as created online, under the name `payment`.
    AdoptPaymentIntent { payment: String, intent: String, amount: Money, capture: CaptureMethod },
    /// The reader collected a card for `payment`.
    Collected { payment: String, card: CollectedCard },
    /// The reader could not collect a card for `payment` (it refused the
    /// collect, or lost its link or power while collecting): the payment
    /// fails with the reader's code, as `collectPaymentMethod` does.
    CollectFailed { payment: String, code: Code },
    /// `confirmPaymentIntent`.
    Confirm { payment: String },
    /// `connectReader` is about to connect this reader (online or offline).
    ConnectReader {
        serial: String,
        model: ReaderModel,
        location: String,
        software_updated_at: Millis,
    },
    // --- from the world --------------------------------------------------------
    /// The device's view of its internet connection changed.
    NetworkChanged { up: bool },
    /// An online connect fetched the account and its Terminal configuration.
    ConfigurationFetched { account: Account, config: OfflineConfig },
    // --- answers to effects ---------------------------------------------------
    /// The backend answered call `call`.
    ApiReplied { call: u64, reply: ApiReply },
    /// The payment is durably stored.
    Persisted { offline_id: OfflineId },
    /// The store refused the payment (full, record cap, keys unavailable).
    PersistFailed { offline_id: OfflineId, code: Code },
    /// The forwarded mark is durable.
    MarkedForwarded { offline_id: OfflineId },
    /// The forwarded mark could not be written.
    MarkFailed { offline_id: OfflineId },
    /// At start-up: what the store recovered, in store order.
    Restored { pending: Vec<StoredPayment>, unreadable: Vec<UnreadableRecord> },
    /// Damaged records the store has now dropped, after dropping them at
    /// start-up failed (a full disk, say): reported to the app now.
    Unreadable { records: Vec<UnreadableRecord> },
}

/// One payment the app created, from create to its one outcome.
#[derive(Clone, Debug)]
pub(super) struct Intent {
    pub(super) amount: Money,
    pub(super) behavior: OfflineBehavior,
    pub(super) capture: CaptureMethod,
    pub(super) mode: Mode,
    /// The Stripe id, for an intent created online.
    pub(super) id: Option<String>,
    pub(super) step: Step,
}

/// Where a payment is between create and its outcome.
#[derive(Clone, Debug)]
pub(super) enum Step {
    /// The online create is in flight.
    Creating { call: u64, deadline: Millis },
    /// Created (online or offline); waiting for a card.
    Created,
    /// A card was read; `online` says the SDK was online when it was.
    Collected { card: CollectedCard, online: bool },
    /// The online confirm is in flight.
    Confirming { call: u64, deadline: Millis, card: CollectedCard },
    /// The confirm timed out and cannot fall back offline: the SDK cancels
    /// the intent to learn whether that confirm charged the card (the
    /// cancel is refused, the intent showing it paid) or never will.
    /// `code` is what the app hears if it never will.
    Canceling { call: u64, deadline: Millis, code: Code },
    /// Checked and handed to the store; waiting for it to be durable.
    Storing { payment: Box<StoredPayment> },
}

/// The offline engine. See the module documentation.
#[derive(Debug)]
pub struct OfflineEngine {
    pub(super) holder: Holder,
    /// Drawn by the shell at start-up, unique per app run; offline ids are
    /// `off_<instance>_<n>` so no restart can reuse one.
    pub(super) instance: String,
    pub(super) next_offline: u64,
    pub(super) cards: Arc<TestCards>,
    pub(super) timings: Timings,
    pub(super) session: Session,
    pub(super) reader: Option<(String, String)>,
    pub(super) network_up: bool,
    pub(super) intents: BTreeMap<String, Intent>,
    /// Names of this run's payments that were stored offline.
    pub(super) stored_names: BTreeSet<String>,
    /// Payments being stored or stored and not yet forwarded.
    pub(super) totals: StoredTotals,
    pub(super) forwarder: Forwarder,
    /// Online creates the SDK gave up waiting for (timed out): if an answer
    /// still comes, the intent it names is canceled, since the payment went
    /// on without it (I10).
    pub(super) abandoned_creates: BTreeSet<u64>,
    /// Defect `create-queued-while-offline` only: creates made while offline,
    /// sent when the network returns.
    pub(super) queued_creates: Vec<crate::backend::ApiRequest>,
    reported: OfflineStatus,
    /// Smart readers: when the POS next hears the reader's status.
    status_report_due: Option<Millis>,
    clock: Millis,
    pub(super) out: Outbox,
    /// Defect profiles switched on for this run (none in the reference).
    pub(super) defects: Defects,
}

impl OfflineEngine {
    /// An engine starting with `session` (default for a fresh install), on a
    /// device whose network is down until told otherwise. Feed it
    /// [`Input::Restored`] with the store's contents before anything else.
    pub fn new(
        holder: Holder,
        instance: impl Into<String>,
        session: Session,
        cards: Arc<TestCards>,
        timings: Timings,
    ) -> Self {
        let reported =
            OfflineStatus { network: NetworkStatus::Unknown, count: 0, amounts: BTreeMap::new() };
        OfflineEngine {
            holder,
            instance: instance.into(),
            next_offline: 0,
            cards,
            forwarder: Forwarder::new(timings.clone()),
            abandoned_creates: BTreeSet::new(),
            queued_creates: Vec::new(),
            timings,
            session,
            reader: None,
            network_up: false,
            intents: BTreeMap::new(),
            stored_names: BTreeSet::new(),
            totals: StoredTotals::default(),
            reported,
            status_report_due: None,
            clock: Millis::ZERO,
            out: Outbox::default(),
            defects: Defects::none(),
        }
    }

    /// The same engine with these defect profiles switched on.
    pub fn with_defects(mut self, defects: Defects) -> Self {
        self.forwarder.defects = defects.clone();
        self.defects = defects;
        self
    }

    /// What the SDK keeps across app runs.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The current offline status.
    pub fn status(&self) -> OfflineStatus {
        let mut acknowledged = StoredTotals::default();
        for payment in self.forwarder.queue() {
            acknowledged.add(payment.amount);
        }
        OfflineStatus {
            network: if self.network_up { NetworkStatus::Online } else { NetworkStatus::Offline },
            count: acknowledged.count,
            amounts: acknowledged.amounts,
        }
    }

    /// Stored payments not yet forwarded, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &StoredPayment> {
        self.forwarder.queue()
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.advance(now);
        match input {
            Input::CreatePaymentIntent { payment, amount, behavior, capture } => {
                self.create(now, payment, amount, behavior, capture);
            }
            Input::AdoptPaymentIntent { payment, intent, amount, capture } => {
                self.adopt(now, payment, intent, amount, capture);
            }
            Input::Collected { payment, card } => self.collected(now, &payment, card),
            Input::CollectFailed { payment, code } => {
                if self.intents.contains_key(&payment) {
                    self.refuse(now, &payment, code);
                }
            }
            Input::Confirm { payment } => self.confirm(now, &payment),
            Input::ConnectReader { serial, model, location, software_updated_at } => {
                self.connect_reader(now, serial, model, location, software_updated_at);
            }
            Input::NetworkChanged { up } => {
                self.network_up = up;
                if !up && self.defects.has(Defect::ForwardStallsUntilRestart) {
                    // Defect (android-485): a dropped network stops the
                    // forwarder until the app restarts.
                    self.forwarder.stalled = true;
                }
                if up {
                    self.send_queued_creates();
                    self.forwarder.network_up(now, &mut self.out);
                }
            }
            Input::ConfigurationFetched { account, config } => {
                self.session.account = Some(account);
                self.session.config = Some(config);
            }
            Input::ApiReplied { call, reply } => self.replied(now, call, reply),
            Input::Persisted { offline_id } => self.persisted(now, offline_id),
            Input::PersistFailed { offline_id, code } => {
                self.persist_failed(now, &offline_id, code);
            }
            Input::MarkedForwarded { offline_id } => {
                let network_up = self.network_up;
                let forwarded =
                    self.forwarder.on_marked(now, &offline_id, network_up, &mut self.out);
                self.totals.remove(forwarded.amount);
            }
            Input::MarkFailed { .. } => self.forwarder.on_mark_failed(now),
            Input::Restored { pending, unreadable } => self.restored(now, pending, unreadable),
            Input::Unreadable { records } => {
                self.unreadable(now, records);
                let network_up = self.network_up;
                self.forwarder.pump(now, network_up, &mut self.out);
            }
        }
        self.status_changed(now);
    }

    /// Fires every deadline at or before `now`, each at its own instant.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.advance(now);
        while let Some(due) = self.poll_timeout().filter(|due| *due <= now) {
            self.fire(due);
            self.status_changed(due);
        }
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let intents = self.intents.values().filter_map(|i| match i.step {
            Step::Creating { deadline, .. }
            | Step::Confirming { deadline, .. }
            | Step::Canceling { deadline, .. } => Some(deadline),
            _ => None,
        });
        intents.chain(self.forwarder.deadline()).chain(self.status_report_due).min()
    }

    /// The next history event, with the instant it happened.
    pub fn poll_event(&mut self) -> Option<(Millis, EventBody)> {
        self.out.events.pop_front()
    }

    /// The next piece of work for the shell.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.effects.pop_front()
    }

    fn advance(&mut self, now: Millis) {
        assert!(
            now >= self.clock,
            "offline engine driven back in time: {now} after {}",
            self.clock
        );
        self.clock = now;
    }

    fn fire(&mut self, due: Millis) {
        if self.status_report_due == Some(due) {
            self.status_report_due = None;
            let status = self.status();
            self.out.event(due, EventBody::OfflineStatusReported { status });
        }
        let timed_out: Vec<String> = self
            .intents
            .iter()
            .filter(|(_, i)| matches!(i.step, Step::Creating { deadline, .. } | Step::Confirming { deadline, .. } | Step::Canceling { deadline, .. } if deadline == due))
            .map(|(name, _)| name.clone())
            .collect();
        for payment in timed_out {
            self.online_request_timed_out(due, &payment);
        }
        if self.forwarder.deadline() == Some(due) {
            self.forwarder.on_timeout(due, self.network_up, &mut self.out);
        }
    }

    pub(super) fn refuse(&mut self, now: Millis, payment: &str, code: Code) {
        self.intents.remove(payment);
        let payment = payment.to_owned();
        self.out.event(now, EventBody::SdkPaymentFailed { payment, code });
    }

    fn connect_reader(
        &mut self,
        now: Millis,
        serial: String,
        model: ReaderModel,
        location: String,
        software_updated_at: Millis,
    ) {
        if self.network_up {
            self.session.online_by_model.insert(model, now);
            self.session.online_by_location.insert(location.clone(), now);
            self.reader = Some((location, serial));
            return;
        }
        match self.offline_connect_check(now, model, &location, software_updated_at) {
            Ok(()) => self.reader = Some((location, serial)),
            Err(code) => self.out.event(now, EventBody::OfflineConnectRefused { serial, code }),
        }
    }

    /// The offline connect rules of docs/domain.md §2 (incident android-602).
    fn offline_connect_check(
        &self,
        now: Millis,
        model: ReaderModel,
        location: &str,
        software_updated_at: Millis,
    ) -> Result<(), Code> {
        let window = self.timings.offline_connect_window;
        let recent = |at: Option<&Millis>| at.is_some_and(|at| now.since(*at) <= window);
        if self.session.account.is_none() {
            return Err(Code::NoLastSeenAccount);
        }
        if !self.session.config.as_ref().is_some_and(|c| c.enabled) {
            return Err(Code::NotConnectedToInternet);
        }
        if !recent(self.session.online_by_model.get(&model)) {
            return Err(Code::ReaderConnectionNotAvailableOffline);
        }
        if !recent(self.session.online_by_location.get(location)) {
            return Err(Code::LocationConnectionNotAvailableOffline);
        }
        if !recent(Some(&software_updated_at)) {
            return Err(Code::ReaderConnectionNotAvailableOffline);
        }
        Ok(())
    }

    /// Reports the offline status when it changed (`onOfflineStatusChange`);
    /// a smart reader's status reaches the POS one lag later.
    fn status_changed(&mut self, now: Millis) {
        let status = self.status();
        if status == self.reported {
            return;
        }
        self.reported = status.clone();
        self.out.event(now, EventBody::OfflineStatusChanged { status });
        if matches!(self.holder, Holder::SmartReader { .. }) && self.status_report_due.is_none() {
            self.status_report_due = Some(now + self.timings.reader_status_lag);
        }
    }
}
