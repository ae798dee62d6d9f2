//! The tokio shells that put the rig on real sockets (the served target).
//! They translate HTTP to the cores' values and back through the pure
//! codecs of `wire`, and hold no payment logic of their own.
//!
//! - [`rig`]: [`rig::ServedRig`], the simulator's rig on a real or virtual
//!   clock, its devices' backend calls carried over HTTP.
//! - [`stripe`]: the backend's Stripe-compatible HTTP API.
//! - [`control`]: the control API under `/_readerlab/`.
//! - [`server`]: [`server::Server`], both APIs on one listener, its
//!   connections served by `conn` (timeouts, connections per client).
//! - [`client`]: [`client::ControlClient`], the control API from outside.
//! - [`device_http`]: a device's call to the backend over HTTP.
//! - [`journal`]: [`journal::Journal`], the history written to a file as it
//!   is recorded (`serve --history`), so a killed server leaves it.
//! - [`ble_bridge`]: carries a served rig's POS-to-reader Bluetooth link over
//!   a carrier of [`crate::ble`] (BLE-over-TCP) or [`crate::hw`] (BlueZ).
//! - [`proxy`]: the Toxiproxy-compatible fault proxy for real TCP links.

pub mod ble_bridge;
pub mod client;
mod conn;
pub mod control;
pub mod device_http;
pub mod journal;
pub mod proxy;
pub mod rig;
pub mod server;
pub mod stripe;
