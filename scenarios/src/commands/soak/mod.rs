//! `readerlab soak`'s parts. For now [`child`]: `readerlab serve` as a
//! child process, which the soak will measure and
//! `scenarios/tests/crash_restart.rs` kills and restarts.

pub mod child;
