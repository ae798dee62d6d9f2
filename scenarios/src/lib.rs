//! readerlab: the harness around the emulator. It will hold the Rig
//! abstraction and its targets, the invariant checker, the cucumber steps,
//! exploration and reports (architecture.md §3); today it holds the command
//! line, the invariant checker, `readerlab sim` and `defects`, the reader
//! catalogue view and the store benchmark.
//!
//! It depends on `readerlab-emulator`, never the other way round.

pub mod bench;
pub mod check;
pub mod cli;
pub mod defects;
pub mod readers;
pub mod simulate;
