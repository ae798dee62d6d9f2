//! `cargo bench -p readerlab`: a checker pass over a busy simulated day
//! (the history `readerlab sim --hours 24 --payments 1000 --seed 7`
//! writes, about 10,800 events), and the timeline model of it
//! (docs/benchmarks.md).

use divan::{Bencher, black_box};
use readerlab::check::check;
use readerlab::timeline::Model;
use readerlab_emulator::core::{Event, ReaderModel};
use readerlab_emulator::sim::{RandomRun, RigSpec, Sim};
use std::sync::OnceLock;

fn main() {
    divan::main();
}

fn busy_day() -> &'static [Event] {
    static DAY: OnceLock<Vec<Event>> = OnceLock::new();
    DAY.get_or_init(|| {
        Sim::random(RigSpec::single(ReaderModel::M2, 7), &RandomRun::busy(24, 1000))
            .expect("a rig")
            .events
    })
}

/// Every invariant over the busy day.
#[divan::bench(sample_count = 30)]
fn checker_pass_busy_day(bencher: Bencher<'_, '_>) {
    let day = busy_day();
    bencher.counter(divan::counter::ItemsCount::new(day.len())).bench(|| black_box(check(day)));
}

/// The timeline's model of the busy day (what `readerlab report` draws).
#[divan::bench(sample_count = 30)]
fn timeline_model_busy_day(bencher: Bencher<'_, '_>) {
    let day = busy_day();
    let report = check(day);
    bencher
        .counter(divan::counter::ItemsCount::new(day.len()))
        .bench(|| black_box(Model::build("bench", day, &report)));
}
