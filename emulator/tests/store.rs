//! The durable offline store through its public interface: acknowledgement at
//! sync, recovery from torn tails and damaged records, undecryptable records
//! reported by id, migration from format version 1 (and crashes during it),
//! compaction, a full disk, the record cap, a locked keychain, group commit
//! across threads, and no card number in clear in any file.

mod stored_payments;

use readerlab_emulator::core::Currency;
use readerlab_emulator::core::TerminalErrorCode;
use readerlab_emulator::core::TestCards;
use readerlab_emulator::core::offline::{OfflineId, StoredPayment};
use readerlab_emulator::disk::{Disk, FileDisk, SimDisk};
use readerlab_emulator::store::codec::{self, HEADER_LEN, PREFIX_LEN};
use readerlab_emulator::store::{
    CorruptReason, FileKeychain, GroupCommit, LOG_FILE, Recovery, SimKeychain, Store, StoreConfig,
    StoreError, legacy, record_len,
};
use rstest::rstest;
use std::collections::{BTreeMap, BTreeSet};

type SimStore = Store<SimDisk, SimKeychain>;

/// Payment number `i`, with the `i`-th card of the built-in test table.
fn payment(i: usize) -> StoredPayment {
    stored_payments::numbered("off_a1", i, "WPC3-0001")
}

fn open_with(disk: &SimDisk, keys: &SimKeychain, config: StoreConfig) -> (SimStore, Recovery) {
    Store::open(disk.clone(), keys.clone(), config).expect("the store opens")
}

fn open(disk: &SimDisk, keys: &SimKeychain) -> (SimStore, Recovery) {
    open_with(disk, keys, StoreConfig::default())
}

/// Cuts the power (keeping nothing unsynced), powers on and reopens.
fn crash_and_reopen(store: SimStore) -> (SimStore, Recovery) {
    let (disk, keys) = store.into_parts();
    disk.power_loss(0);
    disk.power_on();
    open(&disk, &keys)
}

fn ids<D: Disk, K: readerlab_emulator::store::Keychain>(store: &Store<D, K>) -> Vec<String> {
    store.pending().map(|p| p.offline_id.0.clone()).collect()
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("off_a1_{i}")).collect()
}

/// A store with payments `0..n` synced.
fn store_with(n: usize) -> (SimDisk, SimKeychain, SimStore) {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(42);
    let (mut store, _) = open(&disk, &keys);
    for i in 0..n {
        store.append(&payment(i)).unwrap();
    }
    store.sync().unwrap();
    (disk, keys, store)
}

/// Where record `i` of a store written in order `0..` starts.
fn offset_of(i: usize) -> u64 {
    (HEADER_LEN + (0..i).map(|j| record_len(&payment(j))).sum::<usize>()) as u64
}

#[test]
fn synced_payments_survive_a_power_loss_and_unsynced_ones_vanish() {
    let (_, _, mut store) = store_with(3);
    store.append(&payment(3)).unwrap();
    assert_eq!(store.len(), 4, "buffered payments are visible before sync");
    let (store, recovery) = crash_and_reopen(store);
    assert_eq!(ids(&store), names(0..3));
    assert_eq!(recovery, Recovery { pending: 3, ..Recovery::default() });
    let contents: Vec<StoredPayment> = store.pending().cloned().collect();
    assert_eq!(contents, (0..3).map(payment).collect::<Vec<_>>(), "byte-equal contents");
}

#[test]
fn amounts_are_totalled_per_currency() {
    let (_, _, store) = store_with(5);
    let eur: Currency = "eur".parse().unwrap();
    let expected = BTreeMap::from([(eur, 1003), (Currency::USD, 1000 + 1001 + 1002 + 1004)]);
    assert_eq!(store.amounts(), expected);
}

#[test]
fn a_torn_last_record_is_cut_off_at_every_byte_position() {
    let last = record_len(&payment(3));
    for torn in 0..=last {
        let (disk, keys, mut store) = store_with(3);
        store.append(&payment(3)).unwrap();
        // The append reaches the disk, the power goes at its sync.
        disk.cut_power_after(1, torn);
        assert!(store.sync().is_err(), "torn {torn}");
        drop(store);
        disk.power_on();
        let (mut store, recovery) = open(&disk, &keys);
        if torn == last {
            assert_eq!(ids(&store), names(0..4), "the whole record reached the disk");
            assert_eq!(recovery.torn_tail_bytes, 0);
        } else {
            assert_eq!(ids(&store), names(0..3), "torn {torn}: no phantom payment");
            assert_eq!(recovery.torn_tail_bytes, torn as u64);
        }
        assert!(recovery.corrupt.is_empty(), "torn {torn}: {:?}", recovery.corrupt);
        // The tail is gone for good: a later record lands on a clean end.
        store.append(&payment(9)).unwrap();
        store.sync().unwrap();
        let (store, recovery) = crash_and_reopen(store);
        assert_eq!(ids(&store).last().unwrap(), "off_a1_9");
        assert_eq!(recovery.torn_tail_bytes, 0);
        assert!(recovery.corrupt.is_empty());
    }
}

#[test]
fn a_damaged_middle_record_is_reported_at_every_byte_and_the_others_survive() {
    let at = offset_of(1);
    let len = record_len(&payment(1)) as u64;
    let clear_len = codec::encode_clear(
        codec::RecordKind::Payment,
        0,
        0,
        &codec::ClearHeader { offline_id: payment(1).offline_id, amount: payment(1).amount },
    )
    .len() as u64;
    for byte in 0..len {
        let (disk, keys, store) = store_with(3);
        drop(store);
        disk.flip(LOG_FILE, at + byte, 0x5A).unwrap();
        let (store, recovery) = open(&disk, &keys);
        assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"], "byte {byte}");
        assert_eq!(recovery.corrupt.len(), 1, "byte {byte}: {:?}", recovery.corrupt);
        let bad = &recovery.corrupt[0];
        assert_eq!(bad.offset, at, "byte {byte}");
        let in_clear_header = (PREFIX_LEN as u64..PREFIX_LEN as u64 + clear_len).contains(&byte);
        if !in_clear_header {
            assert_eq!(bad.offline_id, Some(payment(1).offline_id), "byte {byte}");
            assert_eq!(bad.amount, Some(payment(1).amount), "byte {byte}");
        }
        // Reported again on the next open: never silently dropped.
        let (_, again) = crash_and_reopen(store);
        assert_eq!(again.corrupt.len(), 1);
    }
}

#[test]
fn a_damaged_last_record_is_reported_not_taken_for_a_torn_tail() {
    let (disk, keys, store) = store_with(3);
    drop(store);
    // Damage the length of the last record: it now seems to run past the end.
    disk.flip(LOG_FILE, offset_of(2) + 5, 0x01).unwrap();
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), names(0..2));
    assert_eq!(recovery.corrupt.len(), 1);
    assert_eq!(recovery.corrupt[0].offline_id, Some(payment(2).offline_id));
    assert_eq!(recovery.torn_tail_bytes, 0);
}

/// Rewrites record `i`'s frame with a tampered body and a recomputed
/// checksum, so only the AEAD can tell.
fn tamper(disk: &SimDisk, i: usize, tamper_clear: bool) {
    let mut d = disk.clone();
    let bytes = d.read(LOG_FILE).unwrap();
    let at = offset_of(i) as usize;
    let (frame, len) = codec::decode_frame(&bytes[at..]).unwrap();
    let mut clear = frame.clear.clone();
    let mut sealed = frame.sealed.to_vec();
    if tamper_clear {
        clear.amount.amount += 1;
    } else {
        sealed[3] ^= 0x10;
    }
    let clear_bytes = codec::encode_clear(frame.kind, frame.epoch, frame.counter, &clear);
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&codec::encode_frame(&clear_bytes, &sealed));
    out.extend_from_slice(&bytes[at + len..]);
    d.replace(LOG_FILE, &out).unwrap();
}

#[rstest]
#[case::tampered_ciphertext(false)]
#[case::tampered_clear_header(true)]
fn a_tampered_record_is_detected_and_reported_by_id(#[case] clear_header: bool) {
    let (disk, keys, store) = store_with(3);
    drop(store);
    tamper(&disk, 1, clear_header);
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"]);
    assert_eq!(recovery.corrupt.len(), 1);
    assert_eq!(recovery.corrupt[0].reason, CorruptReason::Undecryptable);
    assert_eq!(recovery.corrupt[0].offline_id, Some(payment(1).offline_id));
}

#[test]
fn with_the_wrong_key_every_record_is_reported_and_nothing_is_destroyed() {
    let (disk, keys, store) = store_with(3);
    drop(store);
    let before = disk.read(LOG_FILE).unwrap();
    let (store, recovery) = open(&disk, &SimKeychain::new(7));
    assert_eq!(store.len(), 0);
    let reported: Vec<_> =
        recovery.corrupt.iter().map(|c| (c.reason, c.offline_id.clone(), c.amount)).collect();
    let expected: Vec<_> = (0..3)
        .map(|i| {
            (CorruptReason::Undecryptable, Some(payment(i).offline_id), Some(payment(i).amount))
        })
        .collect();
    assert_eq!(reported, expected);
    drop(store);
    assert_eq!(disk.read(LOG_FILE).unwrap(), before);
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), names(0..3));
    assert!(recovery.corrupt.is_empty());
}

#[test]
fn a_reported_record_is_dismissed_by_marking_it_and_compaction_drops_it() {
    let (disk, keys, store) = store_with(3);
    drop(store);
    tamper(&disk, 1, false);
    let (mut store, recovery) = open(&disk, &keys);
    let id = recovery.corrupt[0].offline_id.clone().unwrap();
    store.mark_forwarded(&id).unwrap();
    store.sync().unwrap();
    let (mut store, recovery) = crash_and_reopen(store);
    assert!(recovery.corrupt.is_empty(), "the tombstone dismissed it");
    store.compact().unwrap();
    assert_eq!(store.corrupt().count(), 0);
    let (store, recovery) = crash_and_reopen(store);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"]);
    assert!(recovery.corrupt.is_empty());
}

#[test]
fn forwarded_payments_never_come_back_and_a_tombstone_without_its_payment_is_fine() {
    let (disk, keys, mut store) = store_with(3);
    store.mark_forwarded(&payment(1).offline_id).unwrap();
    store.sync().unwrap();
    let (mut store, _) = crash_and_reopen(store);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"]);
    assert!(matches!(
        store.mark_forwarded(&payment(1).offline_id),
        Err(StoreError::UnknownPayment(_))
    ));
    drop(store);
    // Cut payment 1 out of the file, leaving its tombstone.
    let bytes = disk.read(LOG_FILE).unwrap();
    let (from, to) = (offset_of(1) as usize, offset_of(2) as usize);
    let mut cut = bytes[..from].to_vec();
    cut.extend_from_slice(&bytes[to..]);
    disk.clone().replace(LOG_FILE, &cut).unwrap();
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"]);
    assert!(recovery.corrupt.is_empty());
}

#[test]
fn compaction_drops_forwarded_records_and_keeps_order() {
    let (disk, _, mut store) = store_with(10);
    for i in [0, 2, 3, 5, 6, 8, 9] {
        store.mark_forwarded(&payment(i).offline_id).unwrap();
    }
    store.sync().unwrap();
    store.compact().unwrap();
    let expected =
        offset_of(0) as usize + [1, 4, 7].iter().map(|&i| record_len(&payment(i))).sum::<usize>();
    assert_eq!(disk.read(LOG_FILE).unwrap().len(), expected);
    let (store, _) = crash_and_reopen(store);
    assert_eq!(ids(&store), ["off_a1_1", "off_a1_4", "off_a1_7"]);
}

#[test]
fn compaction_runs_by_itself_past_the_threshold() {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(1);
    let config = StoreConfig { compact_after_dead: Some(4), ..StoreConfig::default() };
    let (mut store, _) = open_with(&disk, &keys, config);
    for i in 0..3 {
        store.append(&payment(i)).unwrap();
    }
    store.sync().unwrap();
    store.mark_forwarded(&payment(0).offline_id).unwrap();
    store.mark_forwarded(&payment(1).offline_id).unwrap();
    store.sync().unwrap();
    assert_eq!(store.committed_len(), offset_of(0) + record_len(&payment(2)) as u64);
}

#[test]
fn a_crash_at_any_step_of_compaction_keeps_every_pending_payment() {
    for ops in 0..4 {
        let (disk, keys, mut store) = store_with(4);
        store.mark_forwarded(&payment(1).offline_id).unwrap();
        store.sync().unwrap();
        disk.cut_power_after(ops, usize::MAX);
        let compacted = store.compact();
        drop(store);
        disk.power_loss(usize::MAX);
        disk.power_on();
        let (store, recovery) = open(&disk, &keys);
        assert_eq!(
            ids(&store),
            ["off_a1_0", "off_a1_2", "off_a1_3"],
            "cut after {ops}: {compacted:?}"
        );
        assert!(recovery.corrupt.is_empty());
        assert!(!disk.exists(&readerlab_emulator::disk::temp_name(LOG_FILE)).unwrap());
    }
}

#[test]
fn a_v1_store_migrates_without_loss() {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(3);
    let old: Vec<StoredPayment> = (0..6).map(payment).collect();
    legacy::write_v1(&mut disk.clone(), &mut keys.clone(), &old).unwrap();
    assert_eq!(codec::decode_header(&disk.read(LOG_FILE).unwrap()), Ok(legacy::VERSION));
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(recovery.migrated_from, Some(1));
    assert_eq!(recovery.pending, 6);
    assert_eq!(store.pending().cloned().collect::<Vec<_>>(), old);
    assert_eq!(codec::decode_header(&disk.read(LOG_FILE).unwrap()), Ok(2));
    let (store, recovery) = crash_and_reopen(store);
    assert_eq!(recovery.migrated_from, None);
    assert_eq!(store.pending().cloned().collect::<Vec<_>>(), old);
}

#[test]
fn a_crash_at_any_step_of_migration_leaves_the_old_or_the_new_store_whole() {
    let old: Vec<StoredPayment> = (0..4).map(payment).collect();
    let mut crashes = 0;
    for ops in 0.. {
        let disk = SimDisk::new();
        let keys = SimKeychain::new(3);
        legacy::write_v1(&mut disk.clone(), &mut keys.clone(), &old).unwrap();
        disk.cut_power_after(ops, usize::MAX);
        let first = Store::open(disk.clone(), keys.clone(), StoreConfig::default());
        let crashed = disk.is_powered_off();
        drop(first);
        disk.power_on();
        let version = codec::decode_header(&disk.read(LOG_FILE).unwrap()).unwrap();
        if crashed {
            crashes += 1;
            // The rename is migration's last step; any crash before it
            // leaves the old store, which the next open migrates again.
            assert_eq!(version, 1, "cut after {ops}");
        } else {
            assert_eq!(version, 2);
        }
        let (store, _) = open(&disk, &keys);
        assert_eq!(store.pending().cloned().collect::<Vec<_>>(), old, "cut after {ops}");
        if !crashed {
            break;
        }
    }
    assert_eq!(crashes, 3, "one crash at each step of the replace: write, sync, rename");
}

#[test]
fn a_failed_migration_is_an_error_and_keeps_the_old_file() {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(3);
    legacy::write_v1(
        &mut disk.clone(),
        &mut keys.clone(),
        &(0..3).map(payment).collect::<Vec<_>>(),
    )
    .unwrap();
    disk.flip(LOG_FILE, HEADER_LEN as u64 + 40, 0x01).unwrap();
    let before = disk.read(LOG_FILE).unwrap();
    let err = Store::open(disk.clone(), keys.clone(), StoreConfig::default()).unwrap_err();
    assert!(matches!(err, StoreError::Migration { from: 1, offset: 16, .. }), "{err}");
    assert_eq!(disk.read(LOG_FILE).unwrap(), before, "never a silent reset (android-731)");
    keys.lock();
    let err = Store::open(disk.clone(), keys, StoreConfig::default()).unwrap_err();
    assert!(matches!(err, StoreError::KeysUnavailable));
    assert_eq!(disk.read(LOG_FILE).unwrap(), before);
}

#[rstest]
#[case::newer_version(codec::encode_header(3).to_vec(), "newer")]
#[case::not_a_store(b"SQLite format 3\0 and more bytes".to_vec(), "not a readerlab store")]
#[case::torn_header(codec::encode_header(2)[..7].to_vec(), "not a readerlab store")]
fn an_unreadable_store_is_a_clear_error_and_is_left_alone(
    #[case] bytes: Vec<u8>,
    #[case] says: &str,
) {
    let disk = SimDisk::new();
    disk.clone().replace(LOG_FILE, &bytes).unwrap();
    let err = Store::open(disk.clone(), SimKeychain::new(1), StoreConfig::default()).unwrap_err();
    assert!(err.to_string().contains(says), "{err}");
    assert_eq!(disk.read(LOG_FILE).unwrap(), bytes);
}

#[rstest]
#[case::first_write(1)]
#[case::second_write(2)]
#[case::fifth_write(5)]
fn a_full_disk_at_the_nth_write_refuses_that_batch_only(#[case] n: usize) {
    let (disk, keys, mut store) = store_with(2);
    disk.fail_nth_write(n as u64);
    for i in 2..2 + n {
        store.append(&payment(i)).unwrap();
        let synced = store.sync();
        if i == 1 + n {
            let err = synced.unwrap_err();
            assert!(matches!(err, StoreError::Full));
            assert_eq!(err.code(), Some(TerminalErrorCode::OfflinePaymentsDatabaseTooLarge));
            assert!(!store.contains(&payment(i).offline_id), "a refused payment is not pending");
        } else {
            synced.unwrap();
        }
    }
    // Still usable once the write succeeds again.
    store.append(&payment(50)).unwrap();
    store.sync().unwrap();
    let (store, recovery) = crash_and_reopen(store);
    let mut expected = names(0..1 + n);
    expected.push("off_a1_50".into());
    assert_eq!(ids(&store), expected);
    assert!(recovery.corrupt.is_empty() && recovery.torn_tail_bytes == 0);
    drop(keys);
}

#[test]
fn a_capacity_limit_cuts_the_partial_write_back_and_frees_up_later() {
    let (disk, _, mut store) = store_with(2);
    let used = disk.used();
    disk.set_capacity(Some(used + record_len(&payment(2)) as u64 + 30));
    store.append(&payment(2)).unwrap();
    store.sync().unwrap();
    store.append(&payment(3)).unwrap();
    store.append(&payment(4)).unwrap();
    let err = store.sync().unwrap_err();
    assert!(matches!(err, StoreError::Full), "{err}");
    assert_eq!(disk.used(), store.committed_len(), "the short write was cut back");
    assert_eq!(ids(&store), names(0..3));
    disk.set_capacity(None);
    store.append(&payment(3)).unwrap();
    store.sync().unwrap();
    let (store, recovery) = crash_and_reopen(store);
    assert_eq!(ids(&store), names(0..4));
    assert_eq!(recovery, Recovery { pending: 4, ..Recovery::default() });
}

#[test]
fn the_record_cap_refuses_with_its_code_and_frees_up_after_forwarding() {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(1);
    let config = StoreConfig { max_records: Some(3), ..StoreConfig::default() };
    let (mut store, _) = open_with(&disk, &keys, config.clone());
    for i in 0..3 {
        store.append(&payment(i)).unwrap();
    }
    let err = store.append(&payment(3)).unwrap_err();
    assert!(matches!(err, StoreError::TooManyRecords { cap: 3 }));
    assert_eq!(err.code(), Some(TerminalErrorCode::OfflinePaymentsDatabaseTooLarge));
    store.sync().unwrap();
    store.mark_forwarded(&payment(0).offline_id).unwrap();
    store.sync().unwrap();
    store.append(&payment(3)).unwrap();
    store.sync().unwrap();
    drop(store);
    let (store, _) = open_with(&disk, &keys, config);
    assert_eq!(ids(&store), names(1..4));
}

#[test]
fn a_locked_keychain_refuses_without_damage_and_recovers_after_unlock() {
    let (disk, keys, mut store) = store_with(2);
    keys.lock();
    let err = store.append(&payment(2)).unwrap_err();
    assert!(matches!(err, StoreError::KeysUnavailable));
    assert_eq!(err.code(), Some(TerminalErrorCode::OfflineEncryptionKeysUnavailable));
    assert!(matches!(
        store.mark_forwarded(&payment(0).offline_id),
        Err(StoreError::KeysUnavailable)
    ));
    store.sync().unwrap();
    let before = disk.read(LOG_FILE).unwrap();
    drop(store);
    let err = Store::open(disk.clone(), keys.clone(), StoreConfig::default()).unwrap_err();
    assert!(matches!(err, StoreError::KeysUnavailable));
    assert_eq!(disk.read(LOG_FILE).unwrap(), before, "nothing written while locked");
    keys.unlock();
    let (mut store, recovery) = open(&disk, &keys);
    assert!(recovery.corrupt.is_empty());
    store.append(&payment(2)).unwrap();
    store.sync().unwrap();
    let (store, _) = crash_and_reopen(store);
    assert_eq!(ids(&store), names(0..3), "no permanent poisoning (ios-355)");
}

#[test]
fn duplicate_and_invalid_ids_are_refused() {
    let (_, _, mut store) = store_with(1);
    assert!(matches!(store.append(&payment(0)), Err(StoreError::Duplicate(_))));
    let mut long = payment(1);
    long.offline_id = OfflineId("x".repeat(256));
    assert!(matches!(store.append(&long), Err(StoreError::InvalidId(_))));
}

#[test]
fn every_session_uses_a_new_nonce_epoch() {
    let (disk, keys, store) = store_with(1);
    let first = keys.epoch();
    let (mut store, _) = crash_and_reopen(store);
    assert_eq!(keys.epoch(), first + 1);
    store.append(&payment(1)).unwrap();
    store.sync().unwrap();
    let bytes = disk.read(LOG_FILE).unwrap();
    let (a, len) = codec::decode_frame(&bytes[HEADER_LEN..]).unwrap();
    let (b, _) = codec::decode_frame(&bytes[HEADER_LEN + len..]).unwrap();
    assert_eq!((a.epoch, a.counter), (first, 0));
    assert_eq!((b.epoch, b.counter), (first + 1, 0));
}

#[test]
fn group_commit_acknowledges_every_collector_after_a_shared_sync() {
    let data = tempfile::tempdir().unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let open_files = || {
        Store::open(
            FileDisk::open(data.path()).unwrap(),
            FileKeychain::open(keydir.path()).unwrap(),
            StoreConfig::default(),
        )
        .unwrap()
    };
    let (store, _) = open_files();
    let group = GroupCommit::start(store);
    std::thread::scope(|s| {
        for t in 0..4 {
            let group = &group;
            s.spawn(move || {
                for i in 0..25 {
                    group.store(payment(t * 100 + i)).unwrap();
                }
            });
        }
    });
    assert!(matches!(group.store(payment(0)), Err(StoreError::Duplicate(_))));
    let stats = group.stats();
    assert_eq!(stats.records, 100);
    assert!(stats.syncs >= 1 && stats.syncs <= 100);
    drop(group.close());
    let (store, recovery) = open_files();
    assert_eq!(recovery.pending, 100);
    let per_collector: Vec<Vec<String>> = (0..4)
        .map(|t| {
            let theirs: Vec<String> = (0..25).map(|i| format!("off_a1_{}", t * 100 + i)).collect();
            ids(&store).into_iter().filter(|id| theirs.contains(id)).collect()
        })
        .collect();
    for (t, got) in per_collector.iter().enumerate() {
        let expected: Vec<String> = (0..25).map(|i| format!("off_a1_{}", t * 100 + i)).collect();
        assert_eq!(got, &expected, "collector {t}'s order is kept");
    }
}

#[test]
fn file_disk_keeps_its_promises() {
    let dir = tempfile::tempdir().unwrap();
    let mut disk = FileDisk::open(dir.path()).unwrap();
    disk.append("log", b"abcdef").unwrap();
    disk.sync("log").unwrap();
    disk.truncate("log", 3).unwrap();
    disk.append("log", b"XY").unwrap();
    assert_eq!(disk.read("log").unwrap(), b"abcXY");
    disk.replace("log", b"new").unwrap();
    disk.append("log", b"+").unwrap();
    assert_eq!(disk.read("log").unwrap(), b"new+");
    assert_eq!(disk.list().unwrap(), ["log"]);
    assert!(disk.append("../escape", b"x").is_err());
    disk.remove("log").unwrap();
    disk.remove("log").unwrap();
    assert!(!disk.exists("log").unwrap());
}

/// Every file under `dir`, recursively, as bytes.
fn every_file(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(every_file(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// Which files under the directories contain any card number of the test
/// table, in full or its first twelve digits, as ASCII.
fn files_with_card_numbers(dirs: &[&std::path::Path]) -> Vec<String> {
    let needles: Vec<&[u8]> = TestCards::builtin()
        .cards
        .iter()
        .flat_map(|c| [c.number.as_bytes(), &c.number.as_bytes()[..12]])
        .collect();
    let mut found = Vec::new();
    for dir in dirs {
        for (path, bytes) in every_file(dir) {
            if needles.iter().any(|n| bytes.windows(n.len()).any(|w| w == *n)) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn no_card_number_in_clear_in_any_file() {
    let data = tempfile::tempdir().unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let dirs = [data.path(), keydir.path()];
    let cards = TestCards::builtin().cards.len();
    let open_files = || {
        Store::open(
            FileDisk::open(data.path()).unwrap(),
            FileKeychain::open(keydir.path().join("keys")).unwrap(),
            StoreConfig::default(),
        )
        .unwrap()
        .0
    };
    // A store from the previous app release, then the upgrade.
    let mut keys = FileKeychain::open(keydir.path().join("keys")).unwrap();
    let old: Vec<StoredPayment> = (0..cards).map(payment).collect();
    legacy::write_v1(&mut FileDisk::open(data.path()).unwrap(), &mut keys, &old).unwrap();
    assert!(files_with_card_numbers(&dirs).is_empty(), "v1 store");
    let mut store = open_files();
    assert_eq!(store.len(), cards);
    assert!(files_with_card_numbers(&dirs).is_empty(), "after migration");
    for i in cards..2 * cards {
        store.append(&payment(i)).unwrap();
    }
    store.sync().unwrap();
    assert!(files_with_card_numbers(&dirs).is_empty(), "after sync");
    for i in 0..cards {
        store.mark_forwarded(&payment(i).offline_id).unwrap();
    }
    store.compact().unwrap();
    assert_eq!(store.len(), cards);
    assert!(files_with_card_numbers(&dirs).is_empty(), "after compaction");
    // The search can find a number: plant one in a control file.
    let number = &TestCards::builtin().cards[cards - 1].number;
    std::fs::write(data.path().join("control"), format!("x{number}y")).unwrap();
    assert_eq!(files_with_card_numbers(&dirs).len(), 1, "the search is not vacuous");
    std::fs::write(data.path().join("control"), &number[..12]).unwrap();
    assert_eq!(files_with_card_numbers(&dirs).len(), 1, "twelve digits are found too");
}

#[test]
fn two_adjacent_damaged_records_are_each_reported_by_id() {
    let (disk, keys, store) = store_with(4);
    drop(store);
    disk.flip(LOG_FILE, offset_of(1) + record_len(&payment(1)) as u64 - 1, 0x01).unwrap();
    disk.flip(LOG_FILE, offset_of(2) + record_len(&payment(2)) as u64 - 1, 0x01).unwrap();
    let (store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_3"]);
    let reported: Vec<_> = recovery.corrupt.iter().map(|c| c.offline_id.clone().unwrap()).collect();
    assert_eq!(reported, [payment(1).offline_id, payment(2).offline_id]);
}

#[test]
fn a_damaged_record_without_a_readable_id_is_dismissed_by_its_offset() {
    let (disk, keys, store) = store_with(3);
    drop(store);
    // The id length byte of record 1's clear header: no id can be salvaged.
    disk.flip(LOG_FILE, offset_of(1) + PREFIX_LEN as u64 + 13, 0x40).unwrap();
    let (mut store, recovery) = open(&disk, &keys);
    assert_eq!(recovery.corrupt.len(), 1);
    let bad = recovery.corrupt[0].clone();
    assert_eq!(bad.offline_id, None);
    // A failed rewrite changes nothing: still there, still reported.
    disk.fail_nth_write(1);
    assert!(matches!(store.dismiss_corrupt(bad.offset), Err(StoreError::Full)));
    assert_eq!(store.corrupt().count(), 1);
    assert!(store.dismiss_corrupt(bad.offset).unwrap());
    assert!(!store.dismiss_corrupt(bad.offset).unwrap(), "gone");
    let (store, recovery) = crash_and_reopen(store);
    assert!(recovery.corrupt.is_empty(), "{:?}", recovery.corrupt);
    assert_eq!(ids(&store), ["off_a1_0", "off_a1_2"]);
}

/// One step of [`WRITE_POINTS_SCRIPT`].
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Buffer payment `i`.
    Store(usize),
    /// Buffer the tombstone of payment `i`.
    Forward(usize),
    /// The acknowledgement point: one append and one fdatasync.
    Sync,
    /// An atomic replace: write the temporary file, sync it, rename it.
    Compact,
}

/// Appends and syncs of one and several records, batches mixing payments
/// and tombstones, a compaction the store runs by itself after a sync (the
/// dead records reach `compact_after_dead`: 8) and one asked for.
const WRITE_POINTS_SCRIPT: &[Op] = &[
    Op::Store(0),
    Op::Sync,
    Op::Store(1),
    Op::Store(2),
    Op::Sync,
    Op::Forward(0),
    Op::Sync,
    Op::Store(3),
    Op::Forward(1),
    Op::Sync,
    Op::Forward(2),
    Op::Forward(3),
    Op::Sync,
    Op::Store(4),
    Op::Store(5),
    Op::Store(6),
    Op::Sync,
    Op::Compact,
    Op::Forward(5),
    Op::Store(7),
    Op::Sync,
];

fn write_points_config() -> StoreConfig {
    StoreConfig { compact_after_dead: Some(8), ..StoreConfig::default() }
}

/// What the script got acknowledged before the power went, and the batch
/// whose sync the cut interrupted (its records may or may not be on disk).
#[derive(Debug, Default)]
struct Acknowledged {
    /// Payments whose sync returned, in order.
    stored: Vec<usize>,
    /// Payments whose tombstone's sync returned.
    forwarded: BTreeSet<usize>,
    /// The buffered ops of the sync in progress when the power went.
    in_flight: Vec<Op>,
    /// Whether the armed cut fired at all.
    cut: bool,
}

impl Acknowledged {
    /// The pending payments, in order, if the first `applied` ops of the
    /// interrupted batch reached the disk whole.
    fn pending_with(&self, applied: usize) -> Vec<usize> {
        let mut stored = self.stored.clone();
        let mut forwarded = self.forwarded.clone();
        for op in &self.in_flight[..applied] {
            match *op {
                Op::Store(i) => stored.push(i),
                Op::Forward(i) => {
                    forwarded.insert(i);
                }
                Op::Sync | Op::Compact => unreachable!("never buffered"),
            }
        }
        stored.into_iter().filter(|i| !forwarded.contains(i)).collect()
    }
}

/// The bytes `op` adds to the log when its batch is written.
fn frame_len(op: Op) -> usize {
    match op {
        Op::Store(i) => record_len(&payment(i)),
        Op::Forward(i) => {
            let clear =
                codec::ClearHeader { offline_id: payment(i).offline_id, amount: payment(i).amount };
            PREFIX_LEN
                + codec::encode_clear(codec::RecordKind::Forwarded, 0, 0, &clear).len()
                + readerlab_emulator::store::crypto::TAG_LEN
        }
        Op::Sync | Op::Compact => 0,
    }
}

/// Opens a fresh store with the power armed to go after `ops` mutating
/// steps (keeping `torn` bytes of each unsynced tail) and runs the script
/// until the power goes; returns the disk, its keys and what was
/// acknowledged.
fn run_until_the_power_goes(ops: u64, torn: usize) -> (SimDisk, SimKeychain, Acknowledged) {
    let disk = SimDisk::new();
    let keys = SimKeychain::new(11);
    disk.cut_power_after(ops, torn);
    let mut acked = Acknowledged::default();
    let Ok((mut store, _)) = Store::open(disk.clone(), keys.clone(), write_points_config()) else {
        acked.cut = disk.is_powered_off();
        return (disk, keys, acked);
    };
    let mut batch = Vec::new();
    for &op in WRITE_POINTS_SCRIPT {
        let done = match op {
            Op::Store(i) => store.append(&payment(i)),
            Op::Forward(i) => store.mark_forwarded(&payment(i).offline_id),
            Op::Sync => store.sync(),
            Op::Compact => store.compact(),
        };
        match (op, done) {
            (Op::Store(_) | Op::Forward(_), Ok(())) => batch.push(op),
            (Op::Sync, Ok(())) => {
                for op in batch.drain(..) {
                    match op {
                        Op::Store(i) => acked.stored.push(i),
                        Op::Forward(i) => {
                            acked.forwarded.insert(i);
                        }
                        Op::Sync | Op::Compact => unreachable!(),
                    }
                }
            }
            (Op::Compact, Ok(())) => {}
            (_, Err(error)) => {
                assert!(disk.is_powered_off(), "{op:?} failed with the power on: {error}");
                break;
            }
        }
        // A compaction after a sync is best effort: its failure is silent.
        if disk.is_powered_off() {
            break;
        }
    }
    acked.in_flight = batch;
    acked.cut = disk.is_powered_off();
    (disk, keys, acked)
}

/// Length of the log as the power cut left it, with this many torn bytes.
fn log_after_cut(ops: u64, torn: usize) -> usize {
    let (disk, _, _) = run_until_the_power_goes(ops, torn);
    disk.power_on();
    disk.read(LOG_FILE).map_or(0, |bytes| bytes.len())
}

/// Cuts the power at write point `ops` with `torn` bytes of the unsynced
/// tail kept, reopens, and checks: every acknowledged payment not durably
/// forwarded is pending, byte-equal, in order; of the interrupted batch
/// exactly the records wholly inside the torn bytes count (nothing
/// unsynced beyond them, no half record); the rest of the tail is cut, not
/// reported as damage; and the store takes and keeps a new payment.
fn check_power_cut(ops: u64, torn: usize, tail: usize) {
    let (disk, keys, acked) = run_until_the_power_goes(ops, torn);
    let at = format!("cut after {ops} steps, {torn} of {tail} tail bytes kept");
    disk.power_on();
    let (mut store, recovery) = Store::open(disk, keys, write_points_config())
        .unwrap_or_else(|e| panic!("{at}: reopen: {e}"));
    let lens: Vec<usize> = acked.in_flight.iter().map(|&op| frame_len(op)).collect();
    let kept = torn.min(tail);
    let whole = (0..=lens.len()).rev().find(|&j| lens[..j].iter().sum::<usize>() <= kept).unwrap();
    let expected = acked.pending_with(whole);
    let got: Vec<usize> = store
        .pending()
        .map(|p| p.offline_id.0.strip_prefix("off_a1_").unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, expected, "{at}: acknowledged {acked:?}");
    for p in store.pending() {
        let i: usize = p.offline_id.0.strip_prefix("off_a1_").unwrap().parse().unwrap();
        assert_eq!(p, &payment(i), "{at}: byte-equal");
    }
    assert!(recovery.corrupt.is_empty(), "{at}: {:?}", recovery.corrupt);
    if !acked.in_flight.is_empty() {
        let cut = (kept - lens[..whole].iter().sum::<usize>()) as u64;
        assert_eq!(recovery.torn_tail_bytes, cut, "{at}: the torn part of the batch is cut");
    }
    store.append(&payment(99)).unwrap();
    store.sync().unwrap();
    let (store, recovery) = crash_and_reopen_with(store, write_points_config());
    let mut after = expected;
    after.push(99);
    let got: Vec<usize> = store
        .pending()
        .map(|p| p.offline_id.0.strip_prefix("off_a1_").unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, after, "{at}: a new payment lands on a clean end");
    assert!(recovery.corrupt.is_empty() && recovery.torn_tail_bytes == 0, "{at}: {recovery:?}");
}

fn crash_and_reopen_with(store: SimStore, config: StoreConfig) -> (SimStore, Recovery) {
    let (disk, keys) = store.into_parts();
    disk.power_loss(0);
    disk.power_on();
    open_with(&disk, &keys, config)
}

/// A power cut at every write point of the store (each append, fdatasync,
/// truncate, and each step of an atomic replace: the header at creation,
/// the automatic and the requested compaction), with every torn length of
/// the unsynced tail at that point, loses no synced record and shows no
/// unsynced one beyond the records wholly written.
#[test]
fn a_power_cut_at_every_write_point_with_every_torn_length_loses_no_synced_record() {
    let mut boundaries = 0;
    let mut cases = 0;
    for ops in 0.. {
        let (_, _, acked) = run_until_the_power_goes(ops, 0);
        if !acked.cut {
            break;
        }
        boundaries += 1;
        let tail = log_after_cut(ops, usize::MAX) - log_after_cut(ops, 0);
        for torn in 0..=tail {
            check_power_cut(ops, torn, tail);
            cases += 1;
        }
    }
    eprintln!("power cut at {boundaries} write points, {cases} cases with torn lengths");
    // The header's replace (3 steps), 7 syncs (append, fdatasync), two
    // compactions (3 steps each).
    assert_eq!(boundaries, 3 + 7 * 2 + 2 * 3, "every write point was cut");
}

/// Damaged bytes, then the start of a record torn by a crash: its length
/// runs past the end of the file, so the scan does not take it for a frame
/// and reports the whole span as damaged. A payment stored after it
/// completes the torn record's declared length; at the next open that
/// record is a damaged frame whose length runs into the new payment, which
/// must still be read, not swallowed (found by `fuzz_store_open`).
#[test]
fn a_payment_stored_after_damage_and_a_torn_record_survives_the_next_open() {
    let (disk, keys, store) = store_with(2);
    drop(store);
    let mut file = disk.read(LOG_FILE).unwrap();
    let torn = file[offset_of(1) as usize..][..40].to_vec();
    file.extend_from_slice(b"damaged bytes");
    file.extend_from_slice(&torn);
    disk.clone().replace(LOG_FILE, &file).unwrap();
    let (mut store, recovery) = open(&disk, &keys);
    assert_eq!(ids(&store), names(0..2));
    assert_eq!((recovery.corrupt.len(), recovery.torn_tail_bytes), (1, 0));
    store.append(&payment(2)).unwrap();
    store.sync().unwrap();
    let (store, _) = crash_and_reopen(store);
    assert_eq!(ids(&store), names(0..3), "the payment stored last is read back");
}
