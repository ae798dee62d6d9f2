//! `readerlab readers`: the reader catalogue as a table, as one model's full
//! sheet, or as JSON. Pure formatting over profiles; the CLI does the I/O.

use readerlab_emulator::core::{Family, ReaderProfile, StoreLocation};
use serde::Serialize;
use std::fmt::Write;

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
