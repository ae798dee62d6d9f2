//! The Bluetooth side of the wire: the GATT profile of an emulated mobile
//! reader (`gatt.rs`). Pure data and functions; the carriers that move
//! these bytes live in the shells.

pub mod gatt;
