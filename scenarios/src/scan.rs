//! `readerlab readers --scan`: the Bluetooth readers around a lab rig, seen
//! through the POS's own kind of central (btleplug): every device
//! advertising the reader service (or every device, with `--all`), with its
//! signal strength and, read over a short connection, its Device
//! Information strings and battery level. Works on physical readers beside
//! whatever drives them, and on emulated ones (`readerlab serve --ble bluez`).

use anyhow::Context;
use readerlab_emulator::hw::central::{self, Filter};
use serde::Serialize;
use std::time::Duration;

/// One device seen.
#[derive(Debug, Serialize)]
pub struct Seen {
    /// The advertised local name.
    pub name: Option<String>,
    /// Its address.
    pub address: String,
    /// Signal strength, dBm.
    pub rssi: Option<i16>,
    /// Model and serial from readerlab's manufacturer data, if advertised.
    pub model: Option<String>,
    /// The serial it advertises.
    pub advertised_serial: Option<String>,
    /// Device Information strings read over a connection (empty when the
    /// device has none, absent when it could not be read).
    pub manufacturer: Option<String>,
    /// Model Number String.
    pub model_number: Option<String>,
    /// Serial Number String.
    pub serial_number: Option<String>,
    /// Firmware Revision String.
    pub firmware: Option<String>,
    /// Battery Level, percent.
    pub battery: Option<u8>,
    /// Why the device could not be read, if it could not.
    pub error: Option<String>,
}

/// Scans on `adapter` (`hci1`; the first adapter if `None`) for `seconds`
/// and reads every device found.
pub fn scan(adapter: Option<&str>, seconds: f64, all: bool) -> anyhow::Result<Vec<Seen>> {
    let timeout = Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--seconds must be a positive number of seconds")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let filter = if all { Filter::default() } else { Filter::readers() };
        eprintln!("readers --scan: scanning for {seconds} s…");
        let found = central::discover(&filter, adapter, timeout).await?;
        let mut seen = Vec::new();
        for device in found {
            eprintln!("readers --scan: reading {}…", device.address);
            let read = central::inspect(&device.address, adapter, Duration::from_secs(10)).await;
            let (model, advertised_serial) = device.model_serial.clone().unzip();
            let mut entry = Seen {
                name: device.name.clone(),
                address: device.address.clone(),
                rssi: device.rssi,
                model,
                advertised_serial,
                manufacturer: None,
                model_number: None,
                serial_number: None,
                firmware: None,
                battery: None,
                error: None,
            };
            match read {
                Ok(inspection) => {
                    let info = inspection.device_info;
                    entry.manufacturer = Some(info.manufacturer);
                    entry.model_number = Some(info.model);
                    entry.serial_number = Some(info.serial);
                    entry.firmware = Some(info.firmware);
                    entry.battery = inspection.battery;
                }
                Err(error) => entry.error = Some(error.to_string()),
            }
            seen.push(entry);
        }
        anyhow::Ok(seen)
    })
}

/// The devices as a table.
pub fn table(seen: &[Seen]) -> String {
    if seen.is_empty() {
        return "no Bluetooth reader in range\n".to_owned();
    }
    let dash = |v: &Option<String>| v.clone().filter(|s| !s.is_empty()).unwrap_or("-".into());
    let mut out = String::from(
        "name              address            rssi  model      serial        battery  firmware\n",
    );
    for s in seen {
        let battery = s.battery.map_or("-".to_owned(), |b| format!("{b}%"));
        let rssi = s.rssi.map_or("-".to_owned(), |r| r.to_string());
        let serial = dash(&s.serial_number.clone().or(s.advertised_serial.clone()));
        let model = dash(&s.model_number.clone().or(s.model.clone()));
        out.push_str(&format!(
            "{:<17} {:<18} {:>4}  {:<10} {:<13} {:>7}  {}\n",
            dash(&s.name),
            s.address,
            rssi,
            model,
            serial,
            battery,
            dash(&s.firmware)
        ));
        if let Some(error) = &s.error {
            out.push_str(&format!("  not read: {error}\n"));
        }
    }
    out
}
