//! The wire codecs of the served target, as pure functions over bytes and
//! strings: Stripe's form encoding (`form.rs`), reading and typing request
//! parameters the way Stripe validates them (`params.rs`), and the backend's
//! calls and replies as Stripe HTTP requests and responses (`stripe.rs`), and
//! the mobile readers' Bluetooth profile and reader protocol (`ble/`).
//!
//! No sockets and no clock here: the HTTP router in `serve` and the devices'
//! HTTP clients are the shells around these functions, so the codecs can be
//! property-tested without a network.

pub mod ble;
pub mod form;
mod params;
pub mod stripe;
