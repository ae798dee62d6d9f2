//! Fuzz targets of the emulator's parsers and decoders, one `#[test]` each
//! (docs/fuzzing.md): the store's record codec, opening a store over any
//! file (and keeping every synced payment whatever follows it), records
//! sealed with the right key around arbitrary contents, history lines, the
//! control API's JSON types, and the control API itself, request after
//! request on one rig.

mod stored_payments;

#[path = "../core/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::{Target, join, run, split};
use readerlab_emulator::core::offline::{OfflineId, StoredPayment};
use readerlab_emulator::core::{Currency, EntryMode, Millis, Money};
use readerlab_emulator::core::{LinkKind, ReaderModel};
use readerlab_emulator::disk::{Disk, SimDisk};
use readerlab_emulator::history::{read_events, read_history, to_jsonl};
use readerlab_emulator::serve::control;
use readerlab_emulator::serve::rig::{ClockMode, ServedRig};
use readerlab_emulator::sim::{Fault, FaultPlan, PaymentSpec, PlanShape, RandomRun, RigSpec, Sim};
use readerlab_emulator::store::codec::{self, ClearHeader, RecordKind};
use readerlab_emulator::store::crypto::{self, Keychain};
use readerlab_emulator::store::{
    LOG_FILE, Recovery, SimKeychain, Store, StoreConfig, StoreError, legacy,
};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

/// Payment number `i`, with the `i`-th card of the built-in test table.
fn payment(i: usize) -> StoredPayment {
    stored_payments::numbered("off_fz", i, "STRM2-0001")
}

const KEY_SEED: u64 = 7;

/// A store's log: payments 0..4 synced, payment 1 forwarded (its tombstone
/// follows), all durable.
fn log_of_four() -> &'static [u8] {
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    LOG.get_or_init(|| {
        let disk = SimDisk::new();
        let (mut store, _) =
            Store::open(disk.clone(), SimKeychain::new(KEY_SEED), StoreConfig::default())
                .expect("opens");
        for i in 0..4 {
            store.append(&payment(i)).expect("appends");
        }
        store.sync().expect("syncs");
        store.mark_forwarded(&payment(1).offline_id).expect("marks");
        store.sync().expect("syncs");
        disk.durable(LOG_FILE).expect("written")
    })
}

/// A version-1 store of three payments.
fn legacy_log() -> Vec<u8> {
    let mut disk = SimDisk::new();
    let payments: Vec<StoredPayment> = (0..3).map(payment).collect();
    legacy::write_v1(&mut disk, &mut SimKeychain::new(KEY_SEED), &payments).expect("writes");
    disk.durable(LOG_FILE).expect("written")
}

/// Rewrites the length, its complement and the checksum of every frame
/// whose magic is in place, so mutations of a body get past the checksum.
fn fix_frames(bytes: &mut [u8]) {
    let mut at = codec::HEADER_LEN;
    while at + codec::PREFIX_LEN <= bytes.len() {
        if bytes[at..at + 4] != codec::RECORD_MAGIC {
            at += 1;
            continue;
        }
        let declared = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let room = bytes.len() - at - codec::PREFIX_LEN;
        let len = (declared as usize).min(room).min(codec::MAX_BODY_LEN as usize);
        let body = at + codec::PREFIX_LEN..at + codec::PREFIX_LEN + len;
        let crc = crc32fast::hash(&bytes[body.clone()]);
        let len = len as u32;
        bytes[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
        bytes[at + 8..at + 12].copy_from_slice(&(!len).to_le_bytes());
        bytes[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
        at = body.end;
    }
}

/// A store file from a fuzz input: the first byte says whether to fix the
/// frames' checksums, the rest is the file.
fn store_file(input: &[u8]) -> Vec<u8> {
    let Some((&mode, file)) = input.split_first() else { return Vec::new() };
    let mut file = file.to_vec();
    if mode & 1 == 1 {
        fix_frames(&mut file);
    }
    file
}

#[test]
fn fuzz_store_codec() {
    let seeds = [[&[0u8][..], log_of_four()].concat(), [&[1u8][..], &log_of_four()[..40]].concat()];
    let target = Target::new("fuzz_store_codec").seeds(seeds).max_len(64 * 1024);
    run(bolero::check!(), target, |input| {
        let file = store_file(input);
        let _ = codec::decode_header(&file);
        let mut at = file.len().min(codec::HEADER_LEN);
        while at < file.len() {
            let rest = &file[at..];
            let _ = codec::salvage_clear(rest);
            let framed = codec::framed_len(rest);
            assert!(framed.is_none_or(|len| len <= rest.len()));
            match codec::decode_frame(rest) {
                Ok((frame, len)) => {
                    assert!(len <= rest.len() && framed == Some(len));
                    // A frame decoded is exactly the bytes it was read from.
                    let clear = &rest[codec::PREFIX_LEN..len - frame.sealed.len()];
                    assert_eq!(codec::encode_frame(clear, frame.sealed), &rest[..len]);
                    let again =
                        codec::encode_clear(frame.kind, frame.epoch, frame.counter, &frame.clear);
                    assert_eq!(again, clear);
                    at += len;
                }
                Err(codec::DecodeError::Incomplete { needed }) => {
                    assert!(
                        needed > 0 && needed <= codec::PREFIX_LEN + codec::MAX_BODY_LEN as usize
                    );
                    break;
                }
                Err(codec::DecodeError::Invalid(_)) => at += 1,
            }
        }
    });
}

/// A store opened on a simulated disk, or why not.
type Opened = Result<(Store<SimDisk, SimKeychain>, Recovery), StoreError>;

/// Opens a store over `file` on a fresh disk with the fuzz key.
fn open_over(file: &[u8]) -> (SimDisk, Opened) {
    let mut disk = SimDisk::new();
    disk.replace(LOG_FILE, file).expect("the simulated disk takes it");
    let opened = Store::open(disk.clone(), SimKeychain::new(KEY_SEED), StoreConfig::default());
    (disk, opened)
}

/// Offline ids pending in a store.
fn pending_ids(store: &Store<SimDisk, SimKeychain>) -> Vec<String> {
    store.pending().map(|p| p.offline_id.0.clone()).collect()
}

#[test]
fn fuzz_store_open() {
    let seeds = [
        [&[0u8][..], log_of_four()].concat(),
        [&[0u8][..], &legacy_log()].concat(),
        [&[1u8][..], &codec::encode_header(2)].concat(),
    ];
    let target = Target::new("fuzz_store_open").seeds(seeds).max_len(64 * 1024);
    run(bolero::check!(), target, |input| {
        let file = store_file(input);
        let (disk, Ok((mut store, recovery))) = open_over(&file) else { return };
        let ids = pending_ids(&store);
        assert_eq!(recovery.pending, ids.len());
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "an id pending twice");
        // A payment stored now is there at the next open, with the others.
        store.append(&payment(99)).expect("appends");
        store.sync().expect("syncs");
        drop(store);
        let (store, again) =
            Store::open(disk, SimKeychain::new(KEY_SEED), StoreConfig::default()).expect("reopens");
        let mut expected = ids;
        expected.push(payment(99).offline_id.0);
        // The damage may be cut into other spans (a frame the first open
        // saw run past the end of the file may fit now), never a payment.
        assert_eq!(pending_ids(&store), expected);
        assert_eq!(again.migrated_from, None);
    });
}

/// The frame of payment `i` in [`log_of_four`].
fn record_of(i: usize) -> &'static [u8] {
    let log = log_of_four();
    let mut at = codec::HEADER_LEN;
    for _ in 0..i {
        at += codec::decode_frame(&log[at..]).expect("a valid log").1;
    }
    let len = codec::decode_frame(&log[at..]).expect("a valid log").1;
    &log[at..at + len]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn fuzz_store_torn_tail() {
    let whole = log_of_four();
    let seeds =
        [whole[codec::HEADER_LEN..].to_vec(), whole[whole.len() - 30..].to_vec(), Vec::new()];
    let target = Target::new("fuzz_store_torn_tail").seeds(seeds);
    run(bolero::check!(), target, |tail| {
        let file = [whole, tail].concat();
        let (_, opened) = open_over(&file);
        let (store, _) = opened.expect("a store with a damaged tail still opens");
        // Every synced payment is still pending, whatever follows it.
        let ids = pending_ids(&store);
        for i in [0, 2, 3] {
            let id = payment(i).offline_id.0;
            assert!(ids.contains(&id), "{id} lost to the tail; pending {ids:?}");
        }
        // Unless the tail replays its record whole: a record after its
        // tombstone is a payment stored again (the store refuses an id it
        // holds, not one it forwarded).
        if !contains(tail, record_of(1)) {
            assert!(!ids.contains(&payment(1).offline_id.0), "a forwarded payment came back");
        }
    });
}

/// One record sealed with the fuzz key: kind, epoch, counter, offline id,
/// currency and the plaintext come from the input.
/// `None` for a piece too short to say that much (it goes in as it is).
fn sealed_record(piece: &[u8], key: &[u8; crypto::KEY_LEN]) -> Option<Vec<u8>> {
    let [kind, epoch, counter, id_len, rest @ ..] = piece else { return None };
    let (id, plain) = rest.split_at(usize::from(*id_len % 16).min(rest.len()));
    let id = String::from_utf8_lossy(id).into_owned();
    if id.is_empty() {
        return None;
    }
    let kind = if kind & 1 == 0 { RecordKind::Payment } else { RecordKind::Forwarded };
    let amount = Money::new(u64::from(*counter), Currency::USD);
    let clear = ClearHeader { offline_id: OfflineId(id), amount };
    let (epoch, counter) = (u32::from(*epoch), u64::from(*counter));
    let clear = codec::encode_clear(kind, epoch, counter, &clear);
    let sealed = crypto::seal(key, &crypto::nonce(epoch, counter), &clear, plain);
    Some(codec::encode_frame(&clear, &sealed))
}

#[test]
fn fuzz_store_sealed_records() {
    let json = |i: usize| serde_json::to_vec(&payment(i)).expect("serializes");
    let record = |kind: u8, i: usize, plain: Vec<u8>| {
        let id = payment(i).offline_id.0;
        [&[kind, 1, i as u8, id.len() as u8][..], id.as_bytes(), &plain].concat()
    };
    let seeds = [
        join([record(0, 1, json(1)), record(0, 2, json(2)), record(1, 1, Vec::new())]),
        join([record(0, 3, json(3)), record(0, 3, json(3)), record(0, 4, b"{}".to_vec())]),
    ];
    let tokens: &[&[u8]] = &[b"\"offline_id\":", b"\"amount\":", b"null", b"\"off_fz_1\""];
    let target = Target::new("fuzz_store_sealed_records").seeds(seeds).tokens(tokens);
    let key = SimKeychain::new(KEY_SEED).key().expect("unlocked");
    run(bolero::check!(), target, |input| {
        let mut file = codec::encode_header(2).to_vec();
        let mut whole = true;
        for piece in split(input) {
            match sealed_record(piece, &key) {
                Some(frame) => file.extend_from_slice(&frame),
                None => {
                    file.extend_from_slice(piece);
                    whole = false;
                }
            }
        }
        let (_, opened) = open_over(&file);
        let (store, recovery) = opened.expect("a version-2 store opens");
        if whole {
            assert_eq!(recovery.torn_tail_bytes, 0, "whole frames have no torn tail");
        }
        let ids = pending_ids(&store);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "an id pending twice");
        for payment in store.pending() {
            assert!(store.contains(&payment.offline_id));
        }
    });
}

/// A short simulated run's history (JSON Lines).
fn history() -> &'static [u8] {
    static HISTORY: OnceLock<Vec<u8>> = OnceLock::new();
    HISTORY.get_or_init(|| {
        let run = RandomRun { drain_cap: Duration::from_secs(600), ..RandomRun::busy(1, 8) };
        Sim::random(RigSpec::single(ReaderModel::M2, 3), &run).expect("builds").to_jsonl()
    })
}

#[test]
fn fuzz_history() {
    let whole = history();
    let lines: Vec<&[u8]> = whole.split(|b| *b == b'\n').collect();
    let seeds =
        [whole.to_vec(), lines[..lines.len().min(12)].join(&b'\n'), lines[1..4].join(&b'\n')];
    let tokens: &[&[u8]] =
        &[b"\"seq\":", b"\"t_ms\":", b"\"part\":", b"\"event\":", b"null", b"{}"];
    let target = Target::new("fuzz_history").seeds(seeds).tokens(tokens).max_len(256 * 1024);
    run(bolero::check!(), target, |input| {
        let lines = input.split(|b| *b == b'\n').count();
        if let Ok(events) = read_events(input) {
            assert!(events.len() <= lines);
            // What reads back writes the same events.
            let again = read_events(to_jsonl(&events).as_slice()).expect("written history reads");
            assert_eq!(again, events);
        }
        if let Ok(events) = read_history(input) {
            assert!(!events.is_empty() && events.len() <= lines);
        }
    });
}

/// One of each fault kind a busy plan draws, as JSON.
fn fault_seeds() -> Vec<Vec<u8>> {
    use rand::SeedableRng;
    let shape = PlanShape {
        duration: Duration::from_secs(24 * 3600),
        smart: vec![false, true],
        mobile_link: Some(LinkKind::Ble),
        intensity: 3.0,
    };
    let plan = FaultPlan::random(&shape, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    let mut kinds = BTreeSet::new();
    plan.faults
        .into_iter()
        .filter(|p| kinds.insert(p.fault.kind()))
        .map(|p| serde_json::to_vec(&p.fault).expect("serializes"))
        .collect()
}

fn payment_spec() -> PaymentSpec {
    PaymentSpec {
        name: "pay_0001".into(),
        at: Millis(0),
        amount: Money::new(1234, Currency::USD),
        card: "4242424242424242".into(),
        entry_mode: EntryMode::Contactless,
        behavior: readerlab_emulator::core::offline::OfflineBehavior::PreferOnline,
        reader: 0,
    }
}

const JSON_TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"{}",
    b"[]",
    b"\":",
    b"\"link\":",
    b"\"reader\":",
    b"{\"Reader\":0}",
    b"\"ReaderBackend\"",
];

#[test]
fn fuzz_control_json() {
    let mut seeds: Vec<Vec<u8>> =
        fault_seeds().into_iter().map(|f| [&[0u8][..], &f].concat()).collect();
    let rig = serde_json::to_vec(&RigSpec::single(ReaderModel::WiseposE, 1)).expect("serializes");
    seeds.push([&[1u8][..], &rig].concat());
    seeds.push([&[2u8][..], &serde_json::to_vec(&payment_spec()).expect("serializes")].concat());
    let target = Target::new("fuzz_control_json").seeds(seeds).tokens(JSON_TOKENS);
    run(bolero::check!(), target, |input| {
        let Some((&which, body)) = input.split_first() else { return };
        match which % 3 {
            0 => {
                if let Ok(fault) = serde_json::from_slice::<Fault>(body) {
                    let json = serde_json::to_value(&fault).expect("serializes");
                    assert_eq!(serde_json::from_value::<Fault>(json).ok(), Some(fault));
                }
            }
            1 => {
                if let Ok(spec) = serde_json::from_slice::<RigSpec>(body) {
                    let json = serde_json::to_value(&spec).expect("serializes");
                    assert!(serde_json::from_value::<RigSpec>(json).is_ok());
                }
            }
            _ => {
                if let Ok(spec) = serde_json::from_slice::<PaymentSpec>(body) {
                    let json = serde_json::to_value(&spec).expect("serializes");
                    assert_eq!(serde_json::from_value::<PaymentSpec>(json).ok(), Some(spec));
                }
            }
        }
    });
}

/// What the control API target calls: method and path (`{}` takes the
/// piece's text).
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/rig"),
    ("GET", "/rig"),
    ("POST", "/rig/finish"),
    ("GET", "/clock"),
    ("POST", "/clock/advance"),
    ("GET", "/faults"),
    ("POST", "/faults"),
    ("POST", "/faults/clear"),
    ("DELETE", "/faults"),
    ("GET", "/readers"),
    ("GET", "/readers/STRM2-0001"),
    ("POST", "/readers/STRM2-0001/present_card"),
    ("POST", "/readers/STRS7-0001/present_card"),
    ("POST", "/readers/STRM2-0001/reboot"),
    ("POST", "/readers/STRM2-0001/battery"),
    ("GET", "/pos"),
    ("POST", "/pos/payments"),
    ("GET", "/history?{}"),
    ("GET", "/ledger"),
    ("GET", "/readers/{}"),
];

fn endpoint(method: &str, path: &str) -> u8 {
    ENDPOINTS.iter().position(|e| *e == (method, path)).expect("listed") as u8
}

fn control_seeds() -> Vec<Vec<u8>> {
    let spec = RigSpec {
        readers: vec![ReaderModel::M2, ReaderModel::S700],
        ..RigSpec::single(ReaderModel::M2, 1)
    };
    let rig = serde_json::to_vec(&spec).expect("serializes");
    let call =
        |method: &str, path: &str, body: &[u8]| [&[endpoint(method, path)][..], body].concat();
    let pay = serde_json::to_vec(&payment_spec()).expect("serializes");
    let faults: Vec<Vec<u8>> = fault_seeds()
        .into_iter()
        .take(12)
        .map(|f| [&b"{\"fault\":"[..], &f, b",\"holds_for_ms\":5000}"].concat())
        .collect();
    let mut seeds = Vec::new();
    for fault in &faults {
        seeds.push(join([
            call("POST", "/rig", &rig),
            call("POST", "/faults", fault),
            call("POST", "/pos/payments", &pay),
            call("POST", "/clock/advance", br#"{"by_ms": 20000}"#),
            call("POST", "/faults/clear", fault),
            call("GET", "/history?{}", b"from=2"),
            call("POST", "/rig/finish", br#"{"cap_ms": 60000}"#),
        ]));
    }
    // Long spans of rig time, a customer due a day from now.
    let later = serde_json::to_vec(&PaymentSpec { at: Millis(86_400_000), ..payment_spec() })
        .expect("serializes");
    seeds.push(join([
        call("POST", "/rig", &rig),
        call("POST", "/pos/payments", &later),
        call("POST", "/clock/advance", br#"{"by_ms": 86400000}"#),
        call("POST", "/clock/advance", br#"{"to_ms": 172800000}"#),
        call("POST", "/rig/finish", br#"{"cap_ms": 86400000}"#),
    ]));
    // Longer than any rig runs: a thousand years.
    seeds.push(join([
        call("POST", "/rig", &rig),
        call("POST", "/clock/advance", br#"{"by_ms": 31536000000000}"#),
    ]));
    seeds.push(join([
        call("POST", "/rig", &rig),
        call(
            "POST",
            "/readers/STRS7-0001/present_card",
            br#"{"number": "4242424242424242", "entry_mode": "chip"}"#,
        ),
        call("POST", "/readers/STRM2-0001/battery", br#"{"percent": 4, "charging": true}"#),
        call("POST", "/readers/STRM2-0001/reboot", b""),
        call("POST", "/clock/advance", br#"{"to_ms": 60000, "step": true}"#),
        call("GET", "/ledger", b""),
    ]));
    seeds
}

/// Sends one request to `router`; its status.
async fn send(router: &axum::Router, method: &str, path: &str, body: Vec<u8>) -> u16 {
    use hyper::service::Service as _;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(format!("/_readerlab{path}"))
        .body(axum::body::Body::from(body));
    let Ok(request) = request else { return 400 };
    let service = hyper_util::service::TowerToHyperService::new(router.clone());
    let response = service.call(request).await.expect("the router answers");
    let status = response.status().as_u16();
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    status
}

#[test]
fn fuzz_control_api() {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let target = Target::new("fuzz_control_api").seeds(control_seeds()).tokens(JSON_TOKENS);
    run(bolero::check!(), target, |input| {
        runtime.block_on(async {
            let rig = ServedRig::new(ClockMode::Virtual, "sk_test_fuzz".to_owned());
            let router = control::mount(axum::Router::new(), rig, None, None);
            for piece in split(input).into_iter().take(16) {
                let Some((&which, body)) = piece.split_first() else { continue };
                let (method, path) = ENDPOINTS[usize::from(which) % ENDPOINTS.len()];
                let (path, body) = match path.find("{}") {
                    Some(_) => (path.replace("{}", &String::from_utf8_lossy(body)), Vec::new()),
                    None => (path.to_owned(), body.to_vec()),
                };
                let status = send(&router, method, &path, body).await;
                assert!(status < 500, "{method} {path}: {status}");
            }
        });
    });
}
