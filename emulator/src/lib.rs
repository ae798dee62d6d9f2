//! readerlab-emulator: every part of a readerlab rig.
//!
//! [`core`] holds the sans-IO state machines: the reader, the offline engine
//! (POS/SDK model and smart reader, with the forwarder) and the backend
//! ledger. The modules beside it are shells and media around that core:
//! [`fixtures`] reads the data files, [`history`] writes and reads JSON Lines
//! histories, [`disk`] is the storage medium (real files, or simulated with
//! crash semantics), [`store`] the durable, encrypted offline store over it,
//! [`device`] wires an offline engine to its store, and [`sim`] runs a
//! whole rig on virtual time with faults. [`wire`] holds the pure codecs of
//! the served target (Stripe's form encoding, the backend's calls as Stripe
//! HTTP requests and back) and [`serve`] the tokio shells that put the rig
//! on real sockets (the served rig, the Stripe-compatible backend API, the
//! control API, the Toxiproxy-compatible fault proxy). Nothing in `core` may
//! depend on them; they depend on `core`. [`hw`] carries the Bluetooth ports
//! of `ble` over real BlueZ (behind the `bluez` and `btleplug`
//! features; empty in the default build).

pub mod ble;
pub use readerlab_core as core;
pub mod device;
pub mod disk;
pub mod fixtures;
pub mod history;
pub mod hw;
pub mod serve;
pub mod sim;
pub mod store;
pub use readerlab_core::wire;
