//! The store as a state machine (proptest-state-machine): random sequences of
//! store, sync, forward, crash (with a torn tail), crash in the middle of a
//! sync, restart, disk full, capacity, a flipped byte, an app upgrade from
//! format version 1, and keychain lock/unlock, over a `SimDisk`.
//!
//! After every step: every acknowledged payment not durably forwarded is
//! pending (unless it is the record we damaged, and then it is reported by
//! id); nothing durably forwarded comes back; every pending payment is one
//! that was appended, byte-equal, in order; only damaged records are
//! reported. The case count is proptest's (`PROPTEST_CASES`, default 256).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::core::{PinEntry, TestCards};
use readerlab_emulator::disk::SimDisk;
use readerlab_emulator::store::codec::{self, HEADER_LEN, RecordKind};
use readerlab_emulator::store::{
    LOG_FILE, Recovery, SimKeychain, Store, StoreConfig, StoreError, legacy,
};
use std::collections::BTreeSet;

fn payment(i: usize) -> StoredPayment {
    let cards = &TestCards::builtin().cards;
    let card = &cards[i % cards.len()];
    StoredPayment {
        offline_id: OfflineId(format!("off_m_{i}")),
        intent_id: None,
        amount: Money::new(100 + i as u64, Currency::USD),
        stored_at: Millis(i as u64),
        card: StoredCard::read(card, EntryMode::Contactless, PinEntry::NotEntered),
        capture: CaptureMethod::Manual,
        account: "acct_m".into(),
        livemode: false,
        location: "tml_m".into(),
        reader: "M2-0001".into(),
    }
}

fn number_of(id: &OfflineId) -> usize {
    id.as_str().strip_prefix("off_m_").and_then(|n| n.parse().ok()).expect("an id we made")
}

#[derive(Clone, Debug)]
enum Step {
    Store,
    Sync,
    Forward(Index),
    Crash { torn: usize },
    CrashDuringSync { torn: usize },
    Restart,
    FullAtWrite(u64),
    Capacity(Option<u16>),
    Corrupt { record: Index, byte: Index, mask: u8 },
    Upgrade,
    Lock,
    Unlock,
}

/// The reference only shapes the generated steps; the expected store
/// contents live in the harness, which can observe which unacknowledged
/// records a torn sync left behind.
#[derive(Clone, Debug, Default)]
struct Reference {
    locked: bool,
}

impl ReferenceStateMachine for Reference {
    type State = Reference;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(Reference::default()).boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Step> {
        let unlock = if state.locked { 4 } else { 1 };
        prop_oneof![
            8 => Just(Step::Store),
            4 => Just(Step::Sync),
            4 => any::<Index>().prop_map(Step::Forward),
            1 => (0usize..400).prop_map(|torn| Step::Crash { torn }),
            2 => (0usize..400).prop_map(|torn| Step::CrashDuringSync { torn }),
            1 => Just(Step::Restart),
            1 => (1u64..4).prop_map(Step::FullAtWrite),
            1 => prop::option::of(0u16..1500).prop_map(Step::Capacity),
            1 => (any::<Index>(), any::<Index>(), 1u8..).prop_map(|(record, byte, mask)| Step::Corrupt { record, byte, mask }),
            1 => Just(Step::Upgrade),
            1 => Just(Step::Lock),
            unlock => Just(Step::Unlock),
        ]
        .boxed()
    }

    fn apply(mut state: Reference, step: &Step) -> Reference {
        match step {
            Step::Lock => state.locked = true,
            Step::Unlock => state.locked = false,
            _ => {}
        }
        state
    }
}

type SimStore = Store<SimDisk, SimKeychain>;

struct Harness {
    disk: SimDisk,
    keys: SimKeychain,
    store: Option<SimStore>,
    next: usize,
    /// Acknowledged (synced), not forwarded, in store order.
    acked: Vec<usize>,
    /// Appended since the last sync.
    buffered: Vec<usize>,
    /// Appended, then the power went during their sync: a prefix of them may
    /// have reached the disk.
    maybe: Vec<usize>,
    /// Durably forwarded.
    forwarded: BTreeSet<usize>,
    /// Whose durable record we damaged.
    corrupted: BTreeSet<usize>,
    locked: bool,
}

fn config() -> StoreConfig {
    StoreConfig { max_records: None, compact_after_dead: Some(6) }
}

impl Harness {
    fn store_ids(&self) -> Vec<usize> {
        self.store
            .as_ref()
            .map_or_else(Vec::new, |s| s.pending().map(|p| number_of(&p.offline_id)).collect())
    }

    /// Checks the live store against the expectation: acknowledged payments
    /// (a damaged one may be missing, if reported), then `tail`.
    fn check(&self, tail: &[usize]) -> usize {
        let Some(store) = &self.store else { return 0 };
        let got: Vec<usize> = self.store_ids();
        for p in store.pending() {
            assert_eq!(p, &payment(number_of(&p.offline_id)), "byte-equal contents");
        }
        let present: BTreeSet<usize> = got.iter().copied().collect();
        let expected: Vec<usize> = self
            .acked
            .iter()
            .copied()
            .filter(|i| present.contains(i) || !self.corrupted.contains(i))
            .collect();
        assert!(
            got.starts_with(&expected),
            "acknowledged payments lost or reordered: got {got:?}, expected {expected:?} first"
        );
        let rest = &got[expected.len()..];
        assert!(
            tail.starts_with(rest),
            "phantom or reordered payments {rest:?}; possible: {tail:?}"
        );
        for i in &got {
            assert!(!self.forwarded.contains(i), "payment {i} was forwarded and came back");
        }
        let reported: BTreeSet<usize> =
            store.corrupt().filter_map(|c| c.offline_id.as_ref()).map(number_of).collect();
        for c in store.corrupt() {
            let id =
                c.offline_id.as_ref().expect("we only damage sealed bytes, so the id is readable");
            assert!(
                self.corrupted.contains(&number_of(id)),
                "reported {c:?}, which we never damaged"
            );
        }
        for i in &self.acked {
            if !present.contains(i) {
                assert!(reported.contains(i), "payment {i} missing and not reported");
            }
        }
        rest.len()
    }

    fn reopen(&mut self) {
        self.store = None;
        self.disk.power_on();
        match Store::open(self.disk.clone(), self.keys.clone(), config()) {
            Ok((store, recovery)) => {
                self.store = Some(store);
                self.after_open(&recovery);
            }
            Err(StoreError::KeysUnavailable) => {
                assert!(self.locked, "keys unavailable while unlocked");
            }
            Err(StoreError::Full) => {}
            Err(e) => panic!("open failed: {e}"),
        }
    }

    fn after_open(&mut self, recovery: &Recovery) {
        let maybe = std::mem::take(&mut self.maybe);
        let kept = self.check(&maybe);
        // What reached the disk of a torn sync is durable now.
        self.acked.extend_from_slice(&maybe[..kept]);
        assert_eq!(recovery.pending, self.store_ids().len());
    }

    fn sync_outcome(&mut self, outcome: Result<(), StoreError>) -> bool {
        match outcome {
            Ok(()) => {
                self.acked.append(&mut self.buffered);
                true
            }
            Err(StoreError::Full) => {
                self.buffered.clear();
                false
            }
            Err(e) => panic!("sync failed: {e}"),
        }
    }

    fn damage(&mut self, record: Index, byte: Index, mask: u8) {
        let candidates: Vec<usize> =
            self.acked.iter().copied().filter(|i| !self.corrupted.contains(i)).collect();
        if candidates.is_empty() {
            return;
        }
        let target = candidates[record.index(candidates.len())];
        let Some(bytes) = self.disk.durable(LOG_FILE) else { return };
        let mut at = HEADER_LEN;
        while at < bytes.len() {
            match codec::decode_frame(&bytes[at..]) {
                Ok((frame, len)) => {
                    if frame.kind == RecordKind::Payment
                        && frame.clear.offline_id == payment(target).offline_id
                    {
                        // Only the sealed part: the clear header stays
                        // readable, so the damage is reported by id.
                        let sealed_from = len - frame.sealed.len();
                        let offset = at + sealed_from + byte.index(frame.sealed.len());
                        self.disk.flip(LOG_FILE, offset as u64, mask).unwrap();
                        self.corrupted.insert(target);
                        return;
                    }
                    at += len;
                }
                Err(_) => at += 1,
            }
        }
    }
}

impl StateMachineTest for Harness {
    type SystemUnderTest = Harness;
    type Reference = Reference;

    fn init_test(_: &Reference) -> Harness {
        let disk = SimDisk::new();
        let keys = SimKeychain::new(2024);
        let (store, _) = Store::open(disk.clone(), keys.clone(), config()).unwrap();
        Harness {
            disk,
            keys,
            store: Some(store),
            next: 0,
            acked: Vec::new(),
            buffered: Vec::new(),
            maybe: Vec::new(),
            forwarded: BTreeSet::new(),
            corrupted: BTreeSet::new(),
            locked: false,
        }
    }

    fn apply(mut h: Harness, _: &Reference, step: Step) -> Harness {
        match step {
            Step::Store => {
                let i = h.next;
                h.next += 1;
                if let Some(store) = &mut h.store {
                    match store.append(&payment(i)) {
                        Ok(()) => h.buffered.push(i),
                        Err(StoreError::KeysUnavailable) => assert!(h.locked),
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            }
            Step::Sync => {
                if let Some(store) = &mut h.store {
                    let outcome = store.sync();
                    h.sync_outcome(outcome);
                }
            }
            Step::Forward(pick) => h.forward(pick),
            Step::Crash { torn } => {
                h.store = None;
                h.buffered.clear();
                h.disk.power_loss(torn);
                h.reopen();
            }
            Step::CrashDuringSync { torn } => {
                if let Some(mut store) = h.store.take()
                    && !h.buffered.is_empty()
                {
                    // The batch's write happens; the power goes at its sync.
                    h.disk.cut_power_after(1, torn);
                    assert!(store.sync().is_err(), "the power cut interrupts the sync");
                    h.maybe = std::mem::take(&mut h.buffered);
                }
                h.buffered.clear();
                if !h.disk.is_powered_off() {
                    h.disk.power_loss(torn);
                }
                h.reopen();
            }
            Step::Restart => {
                h.store = None;
                h.buffered.clear();
                h.reopen();
            }
            Step::FullAtWrite(n) => h.disk.fail_nth_write(n),
            Step::Capacity(extra) => {
                h.disk.set_capacity(extra.map(|e| h.disk.used() + u64::from(e)));
            }
            Step::Corrupt { record, byte, mask } => {
                if h.store.is_some() {
                    h.damage(record, byte, mask);
                }
            }
            Step::Upgrade => h.upgrade(),
            Step::Lock => {
                h.keys.lock();
                h.locked = true;
            }
            Step::Unlock => {
                h.keys.unlock();
                h.locked = false;
            }
        }
        h
    }

    fn check_invariants(h: &Harness, _: &Reference) {
        h.check(&h.buffered);
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        // No persistence file: a failure prints the shrunk steps, which
        // name payments by number only, never a card number.
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn the_store_keeps_every_acknowledged_payment(sequential 1..60 => Harness);
}

impl Harness {
    /// Marks an acknowledged payment forwarded and syncs the mark.
    fn forward(&mut self, pick: prop::sample::Index) {
        if self.acked.is_empty() || self.store.is_none() {
            return;
        }
        let i = self.acked[pick.index(self.acked.len())];
        let store = self.store.as_mut().unwrap();
        match store.mark_forwarded(&payment(i).offline_id) {
            Ok(()) => {
                let outcome = store.sync();
                if self.sync_outcome(outcome) {
                    self.acked.retain(|&a| a != i);
                    self.forwarded.insert(i);
                }
            }
            Err(StoreError::KeysUnavailable) => assert!(self.locked),
            Err(e) => panic!("mark_forwarded failed: {e}"),
        }
    }

    /// The app is replaced by the release that writes the old format.
    fn upgrade(&mut self) {
        if self.store.is_none() {
            return;
        }
        self.store = None;
        self.buffered.clear();
        // The old release's store holds the acknowledged payments;
        // damaged ones were reported and are not carried over.
        let old: Vec<usize> =
            self.acked.iter().copied().filter(|i| !self.corrupted.contains(i)).collect();
        let payments: Vec<StoredPayment> = old.iter().map(|&i| payment(i)).collect();
        match legacy::write_v1(&mut self.disk.clone(), &mut self.keys.clone(), &payments) {
            Ok(()) => {
                self.acked = old;
                self.corrupted.clear();
            }
            Err(StoreError::KeysUnavailable) => assert!(self.locked),
            Err(StoreError::Full) => {}
            Err(e) => panic!("writing the v1 store failed: {e}"),
        }
        self.reopen();
    }
}
