//! The served target's HTTP servers: shells that put the sans-IO cores
//! behind real sockets. `stripe` is the Stripe-compatible backend API.
//!
//! Servers here translate HTTP to the core's values and back through the
//! pure codecs of `wire`; they hold no payment logic of their own.

pub mod stripe;
