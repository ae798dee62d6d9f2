//! The tokio shells that put the rig on real sockets (the served target).
//!
//! - [`rig`]: [`rig::ServedRig`], the simulator's rig on a real or virtual
//!   clock, its devices' backend calls carried over HTTP.
//! - [`stripe`]: the backend's Stripe-compatible HTTP API.
//! - [`control`]: the control API under `/_readerlab/`.
//! - [`server`]: [`server::Server`], both APIs on one listener.
//! - [`proxy`]: the Toxiproxy-compatible fault proxy for real TCP links.

pub mod control;
pub mod rig;
pub mod server;
pub mod stripe;
pub mod client;
