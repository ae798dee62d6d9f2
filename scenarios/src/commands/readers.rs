//! `readerlab readers`: the reader catalogue as a table, as one model's full
//! sheet, or as JSON. The formatting ([`table`], [`details`], [`json`]) is
//! pure over profiles; [`run`] loads the catalogue and prints. With
//! `--scan` (feature `btleplug` only) it lists the Bluetooth readers in
//! range instead (its `scan` module).

use super::{Outcome, Verdict, parse_model};
use anyhow::Context;
use readerlab_emulator::core::{Family, ReaderProfile, StoreLocation};
use readerlab_emulator::fixtures::ReaderCatalog;
use serde::Serialize;
use std::fmt::Write;
use std::path::PathBuf;

/// The flags of `readerlab readers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show one model in full (m2, wisepad3, chipper2x, s700, wisepos_e).
    model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Read the profiles from this directory (one <model>.toml per model)
    /// instead of the bundled ones.
    #[arg(long, value_name = "DIR")]
    profiles: Option<PathBuf>,
    /// Instead: scan for Bluetooth readers in range (physical or emulated)
    /// and read each one's Device Information and battery (needs a build
    /// with `--features btleplug` and a BlueZ stack).
    #[cfg(feature = "btleplug")]
    #[arg(long, conflicts_with_all = ["model", "profiles"])]
    scan: bool,
    /// With --scan: the adapter to scan from (`hci1`; default: the first).
    #[cfg(feature = "btleplug")]
    #[arg(long, value_name = "NAME", requires = "scan")]
    adapter: Option<String>,
    /// With --scan: how long to scan.
    #[cfg(feature = "btleplug")]
    #[arg(long, default_value_t = 5.0, value_name = "S", requires = "scan")]
    seconds: f64,
    /// With --scan: every BLE device, not only those advertising the reader service.
    #[cfg(feature = "btleplug")]
    #[arg(long, requires = "scan")]
    all: bool,
}

/// Prints the catalogue (the bundled one, or `--profiles`), one model, or
/// with `--scan` the readers in range.
pub fn run(args: &Args) -> Outcome {
    #[cfg(feature = "btleplug")]
    if args.scan {
        return run_scan(args);
    }
    let catalog = match &args.profiles {
        Some(dir) => ReaderCatalog::load_dir(dir)
            .with_context(|| format!("loading reader profiles from {}", dir.display()))?,
        None => ReaderCatalog::builtin().clone(),
    };
    let out = match &args.model {
        Some(id) => {
            let model = parse_model(id)?;
            let profile = catalog.get(model);
            if args.json { json(std::slice::from_ref(profile)) } else { details(profile) }
        }
        None => {
            let profiles: Vec<_> = catalog.iter().cloned().collect();
            if args.json { json(&profiles) } else { table(&profiles) }
        }
    };
    print!("{out}");
    Ok(Verdict::Holds)
}

/// `readers --scan`: the devices in range as a table or JSON.
#[cfg(feature = "btleplug")]
fn run_scan(args: &Args) -> Outcome {
    let seen = scan::scan(args.adapter.as_deref(), args.seconds, args.all)?;
    if args.json {
        println!("{}", serde_json::to_string(&seen)?);
    } else {
        print!("{}", scan::table(&seen));
    }
    Ok(Verdict::Holds)
}

/// A value as the fixtures spell it (`ble`, `bluetooth_scan`).
fn spelled<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value).expect("profile values serialize") {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

fn list<T: Serialize>(values: &[T]) -> String {
    values.iter().map(spelled).collect::<Vec<_>>().join(",")
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Where offline payments live, in words a QA engineer reads at a glance.
fn store(profile: &ReaderProfile) -> &'static str {
    match profile.offline_store {
        StoreLocation::Pos => "pos (SDK)",
        StoreLocation::Reader => "reader",
    }
}

/// One line per model with the capabilities that set models apart.
pub fn table(profiles: &[ReaderProfile]) -> String {
    let header = [
        "MODEL",
        "NAME",
        "FAMILY",
        "LINKS",
        "OFFLINE STORE",
        "PIN",
        "SCREEN",
        "ENTRY MODES",
        "TIP OFFLINE",
        "DISCOVERY",
    ];
    let rows: Vec<[String; 10]> = profiles
        .iter()
        .map(|p| {
            [
                p.model.id().to_owned(),
                p.name.clone(),
                spelled(&p.family),
                list(&p.links),
                store(p).to_owned(),
                yes_no(p.pin_entry).to_owned(),
                yes_no(p.screen).to_owned(),
                list(&p.entry_modes),
                yes_no(p.offline_tipping).to_owned(),
                list(&p.discovery.methods),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// Every capability of one model, one per line.
pub fn details(p: &ReaderProfile) -> String {
    let mut out = String::new();
    let mut put = |key: &str, value: String| {
        let _ = writeln!(out, "{key:<22} {value}");
    };
    put("model", p.model.id().to_owned());
    put("name", p.name.clone());
    put("family", spelled(&p.family));
    put("links", list(&p.links));
    put("offline payments on", store(p).to_owned());
    put("serial prefix", p.serial_prefix.clone());
    put("pin entry", yes_no(p.pin_entry).to_owned());
    put("screen", yes_no(p.screen).to_owned());
    put("entry modes", list(&p.entry_modes));
    put("offline tipping", yes_no(p.offline_tipping).to_owned());
    put("pairing", spelled(&p.pairing));
    let b = &p.battery;
    let reported = if b.reported {
        format!("reported every {} s", b.report_interval_s)
    } else {
        "not reported".to_owned()
    };
    put(
        "battery",
        format!("critical <= {}%, low <= {}%, {reported}", b.critical_percent, b.low_percent),
    );
    let u = &p.update;
    let when = if u.installs_on_connect {
        "required updates install on connect"
    } else {
        "installs itself at reboot"
    };
    put(
        "software updates",
        format!(
            "{when}; needs > {}% battery; optional for {} days; {} s install",
            u.min_battery_percent, u.optional_deadline_days, u.install_s
        ),
    );
    let r = &p.reboot;
    let idle = if r.idle_power_down {
        format!("idle power-down after {} h", r.idle_after_h)
    } else {
        "no idle power-down".to_owned()
    };
    put(
        "reboots",
        format!(
            "security reboot every {} h, reboot takes {} s, {idle}",
            r.security_period_h, r.reboot_s
        ),
    );
    let d = &p.discovery;
    let mut how = list(&d.methods);
    if d.two_phase_proximity {
        how.push_str("; proximity reports twice (serial, then full)");
    }
    if d.lists_offline {
        let _ = write!(how, "; listed while offline, status lags {} s", d.status_lag_s);
    }
    put("discovery", how);
    let c = &p.connection;
    let auto = if c.auto_reconnect {
        format!("auto-reconnect for {} s", c.reconnect_budget_s)
    } else {
        "no auto-reconnect".to_owned()
    };
    put("connection", format!("connects in {} ms; {auto}", c.connect_ms));
    let family = match p.family {
        Family::Mobile => "the SDK on the POS stores and forwards offline payments",
        Family::Smart => "the reader stores and forwards offline payments itself",
    };
    put("offline role", family.to_owned());
    out
}

/// The profiles as pretty JSON, in catalogue order.
pub fn json(profiles: &[ReaderProfile]) -> String {
    let mut out = serde_json::to_string_pretty(profiles).expect("profiles serialize");
    out.push('\n');
    out
}

#[cfg(feature = "btleplug")]
pub mod scan {
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
                let read =
                    central::inspect(&device.address, adapter, Duration::from_secs(10)).await;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use readerlab_emulator::fixtures::ReaderCatalog;

    #[test]
    fn the_table_has_a_row_per_model_with_family_and_store() {
        let profiles: Vec<_> = ReaderCatalog::builtin().iter().cloned().collect();
        insta::assert_snapshot!(table(&profiles));
    }

    #[test]
    fn the_sheet_of_one_model_names_every_capability() {
        insta::assert_snapshot!(details(
            ReaderCatalog::builtin().get(readerlab_emulator::core::ReaderModel::Chipper2x)
        ));
    }
}
