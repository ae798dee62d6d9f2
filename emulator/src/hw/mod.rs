//! Bluetooth on real stacks: the carriers that move [`crate::ble`]'s
//! ports over BlueZ rather than in memory or over TCP. Each submodule is
//! behind a cargo feature, because both need libdbus and the default build
//! must need nothing beyond cargo.
//!
//! - [`bluez`] (feature `bluez`): emulated readers as BLE peripherals,
//!   served through bluetoothd's GATT application and advertising APIs
//!   with `bluer`. Yields one [`crate::ble::PeripheralPort`] per reader.
//! - [`central`] (feature `btleplug`): the POS end with `btleplug`: discover
//!   readers, connect, and get a [`crate::ble::CentralPort`]; plus
//!   battery and Device Information reads that work on any BLE device, for
//!   lab rigs that watch physical readers.
//!
//! Both are tested end to end against `bluezoo`, a user-space BlueZ D-Bus
//! service with virtual adapters (`ci/ble.sh`, `emulator/tests/ble_bluez.rs`).

#[cfg(feature = "bluez")]
pub mod bluez;
#[cfg(feature = "btleplug")]
pub mod central;

#[cfg(any(feature = "bluez", feature = "btleplug"))]
/// What went wrong talking to the Bluetooth stack, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {detail}")]
pub struct HwError {
    /// What was being attempted.
    pub context: String,
    /// The stack's own account of the failure.
    pub detail: String,
}

#[cfg(any(feature = "bluez", feature = "btleplug"))]
impl HwError {
    /// An error `detail` met while doing `context`.
    pub fn new(context: impl Into<String>, detail: impl std::fmt::Display) -> HwError {
        HwError { context: context.into(), detail: detail.to_string() }
    }
}

#[cfg(any(feature = "bluez", feature = "btleplug"))]
/// Results of the hardware carriers.
pub type Result<T> = std::result::Result<T, HwError>;

#[cfg(any(feature = "bluez", feature = "btleplug"))]
/// Adds context to a stack's error.
pub(crate) trait Context<T> {
    /// Wraps the error with what was being done.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

#[cfg(any(feature = "bluez", feature = "btleplug"))]
impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| HwError::new(what(), error))
    }
}
