//! The GATT profile of an emulated mobile reader (docs/ble-gatt.md): what it
//! advertises and which services and characteristics it serves. Constants and
//! pure builders only; the BlueZ peripheral (`hw::bluez`), the btleplug
//! central (`hw::central`) and the BLE-over-TCP carrier all read them here so
//! the two ends cannot disagree.

/// The readerlab reader service: the reader protocol's frames travel over
/// its two characteristics.
pub const READER_SERVICE: u128 = 0x6c5f_0001_7264_4c61_6252_6561_6465_7231;
/// Command characteristic: the central writes request fragments here
/// (write with response).
pub const COMMAND_CHAR: u128 = 0x6c5f_0002_7264_4c61_6252_6561_6465_7231;
/// Response/event characteristic: the reader notifies response and event
/// fragments here.
pub const NOTIFY_CHAR: u128 = 0x6c5f_0003_7264_4c61_6252_6561_6465_7231;

/// The Bluetooth SIG base UUID with a 16-bit assigned number in place.
pub const fn sig_uuid(short: u16) -> u128 {
    ((short as u128) << 96) | 0x0000_0000_0000_1000_8000_0080_5f9b_34fb
}

/// Battery Service (0x180F).
pub const BATTERY_SERVICE: u128 = sig_uuid(0x180f);
/// Battery Level (0x2A19): one byte, percent; read and notify.
pub const BATTERY_LEVEL_CHAR: u128 = sig_uuid(0x2a19);
/// Device Information Service (0x180A).
pub const DEVICE_INFO_SERVICE: u128 = sig_uuid(0x180a);
/// Manufacturer Name String (0x2A29).
pub const MANUFACTURER_NAME_CHAR: u128 = sig_uuid(0x2a29);
/// Model Number String (0x2A24): the fixture's model name (`m2`).
pub const MODEL_NUMBER_CHAR: u128 = sig_uuid(0x2a24);
/// Serial Number String (0x2A25).
pub const SERIAL_NUMBER_CHAR: u128 = sig_uuid(0x2a25);
/// Firmware Revision String (0x2A26): the reader's software version.
pub const FIRMWARE_REVISION_CHAR: u128 = sig_uuid(0x2a26);

/// Company identifier in the advertisement's manufacturer data. 0xFFFF is
/// the SIG's value for tests and unassigned use: an emulated reader never
/// claims a real vendor's identifier.
pub const COMPANY_ID: u16 = 0xffff;

/// The ATT MTU before any exchange (Core spec: 23), and the payload a
/// write or notification carries at an MTU (3 bytes of ATT header).
pub const DEFAULT_ATT_MTU: u16 = 23;

/// The largest ATT MTU the carriers negotiate: a 512-byte attribute value
/// plus the write's or notification's header and an ATT prepare offset.
pub const MAX_ATT_MTU: u16 = 517;

/// The MTU both ends use after an exchange: the smaller of the two,
/// within [`DEFAULT_ATT_MTU`]..=[`MAX_ATT_MTU`].
pub const fn negotiate_mtu(ours: u16, theirs: u16) -> u16 {
    let smaller = if ours < theirs { ours } else { theirs };
    if smaller < DEFAULT_ATT_MTU {
        DEFAULT_ATT_MTU
    } else if smaller > MAX_ATT_MTU {
        MAX_ATT_MTU
    } else {
        smaller
    }
}

/// The most a single write or notification carries at `mtu`.
pub const fn att_payload(mtu: u16) -> usize {
    mtu.saturating_sub(3) as usize
}

/// What a reader advertises: its serial as the local name (as the real
/// readers do, `STRM2-0001`), the reader service, and manufacturer data
/// `[model code, serial bytes...]` under [`COMPANY_ID`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertisement {
    /// Local name.
    pub local_name: String,
    /// Advertised service UUIDs.
    pub services: Vec<u128>,
    /// Manufacturer data under [`COMPANY_ID`].
    pub manufacturer_data: Vec<u8>,
}

/// One byte per mobile model in the manufacturer data.
pub fn model_code(model: &str) -> Option<u8> {
    match model {
        "m2" => Some(1),
        "wisepad3" => Some(2),
        "chipper2x" => Some(3),
        _ => None,
    }
}

/// The model a manufacturer-data model code stands for.
pub fn model_of_code(code: u8) -> Option<&'static str> {
    match code {
        1 => Some("m2"),
        2 => Some("wisepad3"),
        3 => Some("chipper2x"),
        _ => None,
    }
}

impl Advertisement {
    /// The advertisement of the reader `serial` of `model`; `None` for a
    /// model that does not speak Bluetooth.
    pub fn of(model: &str, serial: &str) -> Option<Advertisement> {
        let code = model_code(model)?;
        let mut manufacturer_data = vec![code];
        manufacturer_data.extend_from_slice(serial.as_bytes());
        Some(Advertisement {
            local_name: serial.to_owned(),
            services: vec![READER_SERVICE],
            manufacturer_data,
        })
    }

    /// Reads model and serial back out of manufacturer data.
    pub fn parse_manufacturer_data(data: &[u8]) -> Option<(&'static str, String)> {
        let (&code, serial) = data.split_first()?;
        let model = model_of_code(code)?;
        let serial = std::str::from_utf8(serial).ok()?;
        Some((model, serial.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_uuids_expand_on_the_base_uuid() {
        assert_eq!(BATTERY_SERVICE, 0x0000_180f_0000_1000_8000_0080_5f9b_34fb);
        assert_eq!(DEVICE_INFO_SERVICE, 0x0000_180a_0000_1000_8000_0080_5f9b_34fb);
    }

    #[test]
    fn the_smaller_mtu_wins_within_the_spec_limits() {
        assert_eq!(negotiate_mtu(185, 247), 185);
        assert_eq!(negotiate_mtu(10, 247), DEFAULT_ATT_MTU);
        assert_eq!(negotiate_mtu(9000, 60000), MAX_ATT_MTU);
    }

    #[test]
    fn advertisement_round_trips_model_and_serial() {
        let ad = Advertisement::of("wisepad3", "WPC3-0002").expect("mobile model");
        assert_eq!(ad.local_name, "WPC3-0002");
        let parsed = Advertisement::parse_manufacturer_data(&ad.manufacturer_data);
        assert_eq!(parsed, Some(("wisepad3", "WPC3-0002".to_owned())));
        assert!(Advertisement::of("s700", "S700-1").is_none());
    }
}
