//! The ports every Bluetooth carrier presents, so the rig's reader side and
//! the POS's central side are written once and moved by any carrier: in
//! memory, BLE-over-TCP, or BlueZ (`bluer` peripheral, `btleplug` central).
//!
//! A carrier moves attribute *values* (one write or one notification each,
//! at most `gatt::att_payload(mtu)` bytes); framing, fragmentation and the
//! reader protocol are the sans-IO codec's business in `wire::ble`.
//!
//! The ports sit below both the carriers here ([`tcp`]: BLE-over-TCP, one
//! listening socket per emulated reader and the central that connects to it;
//! [`memory`]: the same over in-process channels, for tests) and the BlueZ
//! ones in [`crate::hw`], and below the served rig that uses them all.

pub mod memory;
pub mod tcp;

use tokio::sync::{mpsc, oneshot, watch};

/// The strings of the Device Information service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Manufacturer Name String.
    pub manufacturer: String,
    /// Model Number String (the fixture's model name).
    pub model: String,
    /// Serial Number String.
    pub serial: String,
    /// Firmware Revision String.
    pub firmware: String,
}

impl DeviceInfo {
    /// The value a central reads from `uuid` in the Battery or Device
    /// Information service, with the battery at `battery` percent; `None`
    /// for a characteristic the reader does not serve for reading.
    pub fn read(&self, uuid: u128, battery: u8) -> Option<Vec<u8>> {
        use crate::wire::ble::gatt;
        let text = match uuid {
            gatt::BATTERY_LEVEL_CHAR => return Some(vec![battery]),
            gatt::MANUFACTURER_NAME_CHAR => &self.manufacturer,
            gatt::MODEL_NUMBER_CHAR => &self.model,
            gatt::SERIAL_NUMBER_CHAR => &self.serial,
            gatt::FIRMWARE_REVISION_CHAR => &self.firmware,
            _ => return None,
        };
        Some(text.as_bytes().to_vec())
    }
}

/// What happens at the peripheral (reader) end of a carrier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeripheralEvent {
    /// A central connected and subscribed; values may now be notified.
    Connected {
        /// The negotiated ATT MTU.
        mtu: u16,
    },
    /// The central wrote this value to the command characteristic.
    Write(Vec<u8>),
    /// The ATT MTU was renegotiated.
    Mtu(u16),
    /// The central went away (or the signal was lost).
    Disconnected,
    /// The reader's own radio went off (a carrier with a radio the rig
    /// controls: BLE-over-TCP's `listen_with_radio`): the central is gone
    /// because of the reader, not because it left.
    Lost,
}

/// The reader end of a carrier: one advertised reader.
#[derive(Debug)]
pub struct PeripheralPort {
    /// Connections, writes and disconnections, in order.
    pub events: mpsc::Receiver<PeripheralEvent>,
    /// Values to notify on the response/event characteristic. A value
    /// sent while no central is subscribed is dropped, as a real
    /// notification would be.
    pub notify: mpsc::Sender<Vec<u8>>,
    /// The Battery Level the reader reports (percent).
    pub battery: watch::Sender<u8>,
}

/// An operation the POS end asks its carrier for.
#[derive(Debug)]
pub enum CentralOp {
    /// Write a value to the command characteristic (with response); the
    /// sender learns when the peripheral acknowledged it.
    Write(Vec<u8>, oneshot::Sender<std::io::Result<()>>),
    /// Read a characteristic of the Battery or Device Information service.
    Read(u128, oneshot::Sender<std::io::Result<Vec<u8>>>),
    /// Disconnect.
    Disconnect,
}

/// What happens at the POS (central) end of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CentralEvent {
    /// A value notified on the response/event characteristic.
    Notification(Vec<u8>),
    /// The ATT MTU was renegotiated.
    Mtu(u16),
    /// The connection is gone.
    Disconnected,
}

/// The POS end of one connection to one reader.
#[derive(Debug)]
pub struct CentralPort {
    /// The MTU negotiated at connection.
    pub mtu: u16,
    /// Operations on the connection.
    pub ops: mpsc::Sender<CentralOp>,
    /// Notifications and the end of the connection, in order.
    pub events: mpsc::Receiver<CentralEvent>,
}
