//! The Bluetooth side of the wire, pure data and functions; the carriers
//! that move these bytes live in the shells (`ble::tcp`,
//! `ble::memory`).
//!
//! - [`gatt`]: the GATT profile of an emulated mobile reader (UUIDs, the
//!   advertisement, ATT MTU arithmetic).
//! - [`frame`]: the reader protocol's framing: messages cut into fragments
//!   that fit one ATT write or notification, and reassembled.
//! - [`protocol`]: the messages themselves: commands, replies and events
//!   as JSON bodies.
//! - [`link`]: the two sans-IO ends of a connection, owning seq numbers
//!   and reassembly.
//! - [`tcp`]: BLE-over-TCP, the ATT-level operations as PDUs on a byte
//!   stream, for tools without a Bluetooth stack.
//!
//! docs/ble-gatt.md describes all of it byte by byte.

pub mod frame;
pub mod gatt;
pub mod link;
pub mod protocol;
pub mod tcp;
