//! readerlab-emulator: every part of a readerlab rig.
//!
//! [`core`] holds the sans-IO state machines (reader, and later the POS/SDK
//! model, the offline store logic, the forwarder and the backend ledger). The
//! modules beside it are shells and media around that core: [`fixtures`] reads
//! the data files, [`history`] writes and reads JSON Lines histories, [`disk`]
//! is the storage medium (real files, or simulated with crash semantics) and
//! [`store`] the durable, encrypted offline store over it. Nothing in `core`
//! may depend on them; they depend on `core`.

pub mod core;
pub mod disk;
pub mod fixtures;
pub mod history;
pub mod store;
