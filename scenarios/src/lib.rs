//! readerlab: the harness around the emulator: the Rig abstraction and its
//! targets, the invariant checker, the cucumber step vocabulary and runner,
//! reports, the command line (docs/design.md §3) and `readerlab proxy`, the
//! Toxiproxy-compatible fault proxy as a server. Exploration and the
//! served and lab targets come with later issues.
//!
//! It depends on `readerlab-emulator`, never the other way round.

pub mod bench;
#[cfg(all(feature = "bluez", feature = "btleplug"))]
pub mod bench_ble;
pub mod check;
pub mod cli;
pub mod commands;
pub mod explore;
pub mod rig;
pub mod run;
pub mod serve_bench;
pub mod steps;
