//! readerlab-emulator: every part of a readerlab rig.
//!
//! [`core`] holds the sans-IO state machines: the reader, the offline engine
//! (POS/SDK model and smart reader, with the forwarder) and the backend
//! ledger. The modules beside it are shells and media around that core:
//! [`fixtures`] reads the data files, [`history`] writes and reads JSON Lines
//! histories, [`disk`] is the storage medium (real files, or simulated with
//! crash semantics), [`store`] the durable, encrypted offline store over it,
//! [`device`] wires an offline engine to its store, and [`sim`] runs a
//! whole rig on virtual time with faults, and [`serve`] holds the tokio
//! shells that put the rig on real sockets (so far a Toxiproxy-compatible
//! fault proxy). Nothing in `core` may depend on them; they depend on `core`.

pub mod core;
pub mod device;
pub mod disk;
pub mod fixtures;
pub mod history;
pub mod serve;
pub mod sim;
pub mod store;
