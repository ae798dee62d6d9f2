//! readerlab: the harness around the emulator (docs/design.md §3): the Rig
//! abstraction and its targets ([`rig`]), the invariant checker ([`check`]),
//! the cucumber step vocabulary ([`steps`]) and runner with its reports
//! ([`run`]), exploration ([`explore`]), and the command line ([`cli`]),
//! whose every command lives in [`commands`].
//!
//! It depends on `readerlab-emulator`, never the other way round.

pub mod check;
pub mod cli;
pub mod commands;
pub mod driver;
pub mod explore;
pub mod rig;
pub mod run;
pub mod steps;
pub mod timeline;
