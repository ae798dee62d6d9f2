//! `cargo bench -p readerlab-emulator`: the emulator's hot paths, timed by
//! divan (docs/benchmarks.md): the store's append and recovery on a
//! simulated disk, the Stripe form codec, the BLE frame codec, and a step
//! of a whole simulated rig.

#[path = "../tests/stored_payments/mod.rs"]
mod stored_payments;

use divan::{Bencher, black_box};
use readerlab_emulator::core::{Currency, EntryMode, Millis, Money, ReaderModel};
use readerlab_emulator::disk::SimDisk;
use readerlab_emulator::sim::{PaymentSpec, RigSpec, Sim};
use readerlab_emulator::store::{SimKeychain, Store, StoreConfig};
use readerlab_emulator::wire::ble::frame::{Frame, Kind, Reassembler, fragment};
use readerlab_emulator::wire::form::{encode_form, parse_form};
use std::time::Duration;

fn main() {
    divan::main();
}

const KEY_SEED: u64 = 7;

/// Appending a payment to the store (encrypted, framed, written; synced
/// every 8 appends, as a group commit would).
#[divan::bench(sample_count = 50)]
fn store_append(bencher: Bencher<'_, '_>) {
    let payments: Vec<_> =
        (0..64).map(|i| stored_payments::numbered("off_b", i, "STRM2-0001")).collect();
    bencher
        .counter(divan::counter::ItemsCount::new(payments.len()))
        .with_inputs(|| {
            Store::open(SimDisk::new(), SimKeychain::new(KEY_SEED), StoreConfig::default())
                .expect("opens")
                .0
        })
        .bench_local_values(|mut store| {
            for (i, payment) in payments.iter().enumerate() {
                store.append(payment).expect("appends");
                if i % 8 == 7 {
                    store.sync().expect("syncs");
                }
            }
            store
        });
}

/// Opening a store of 1,000 payments (100 forwarded): reading, decrypting
/// and checking every record.
#[divan::bench(sample_count = 30)]
fn store_recover_1000(bencher: Bencher<'_, '_>) {
    let disk = SimDisk::new();
    {
        let (mut store, _) =
            Store::open(disk.clone(), SimKeychain::new(KEY_SEED), StoreConfig::default())
                .expect("opens");
        for i in 0..1000 {
            store.append(&stored_payments::numbered("off_r", i, "STRM2-0001")).expect("appends");
        }
        store.sync().expect("syncs");
        for i in 0..100 {
            let id = stored_payments::numbered("off_r", i, "STRM2-0001").offline_id;
            store.mark_forwarded(&id).expect("marks");
        }
        store.sync().expect("syncs");
    }
    bencher.counter(divan::counter::ItemsCount::new(1000usize)).bench_local(|| {
        let (store, recovery) =
            Store::open(disk.clone(), SimKeychain::new(KEY_SEED), StoreConfig::default())
                .expect("recovers");
        black_box((store.len(), recovery))
    });
}

/// A forward's request body as the SDK sends it, parsed and encoded again.
#[divan::bench]
fn form_codec(bencher: Bencher<'_, '_>) {
    let body = b"amount=1234&currency=usd&payment_method_types[0]=card_present&capture_method=automatic&metadata[readerlab_payment]=lunch&metadata[note]=a%20b%26c&offline[created_at]=1700000000&offline[reader]=STRM2-0001";
    bencher.bench(|| {
        let form = parse_form(black_box(body)).expect("parses");
        black_box(encode_form(&form))
    });
}

/// A 600-byte reader-protocol frame cut to a 23-byte MTU and put together
/// again, as the BLE link does for every message.
#[divan::bench]
fn ble_frame_codec(bencher: Bencher<'_, '_>) {
    let frame = Frame { kind: Kind::Event, seq: 7, body: vec![b'x'; 600] };
    bencher.bench(|| {
        let mut reassembler = Reassembler::new();
        let mut whole = None;
        for value in fragment(black_box(&frame), 23).expect("fragments") {
            whole = reassembler.push(&value).expect("reassembles").or(whole);
        }
        black_box(whole)
    });
}

/// One simulated second of a rig with an M2 taking a payment: the reader,
/// the SDK's offline engine, the backend and the links, on virtual time.
#[divan::bench(sample_count = 50)]
fn sim_second_with_a_payment(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(|| {
            let mut sim = Sim::new(RigSpec::single(ReaderModel::M2, 1)).expect("a rig");
            sim.run_for(Duration::from_secs(2));
            sim.pay(PaymentSpec {
                name: "p1".into(),
                at: Millis(2_000),
                amount: Money::new(1234, Currency::USD),
                card: "4242424242424242".into(),
                entry_mode: EntryMode::Contactless,
                behavior: readerlab_emulator::core::offline::OfflineBehavior::PreferOnline,
                reader: 0,
            });
            sim
        })
        .bench_local_values(|mut sim| {
            sim.run_for(Duration::from_secs(1));
            sim
        });
}
