//! Reader profiles: what each of the five models can do, as plain data read
//! from `fixtures/readers/<model>.toml`.
//!
//! Every capability docs/domain.md §1 and §7 lists has a field here, and every
//! undocumented number (durations, lags) is a field with its default written in
//! the fixture, never a constant buried in the state machines. Parsing is pure
//! (text in, profile or [`DataFileError`] out); reading the files is the job of
//! [`crate::fixtures`].

use crate::data_file::{self, DataFileError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The five emulated reader models, by their fixture name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderModel {
    /// Stripe Reader M2.
    M2,
    /// BBPOS WisePad 3.
    Wisepad3,
    /// BBPOS Chipper 2X BT.
    Chipper2x,
    /// Stripe Reader S700 (and S710).
    S700,
    /// BBPOS WisePOS E.
    WiseposE,
}

impl ReaderModel {
    /// Every model, in the order the catalogue lists them.
    pub const ALL: [ReaderModel; 5] = [
        ReaderModel::M2,
        ReaderModel::Wisepad3,
        ReaderModel::Chipper2x,
        ReaderModel::S700,
        ReaderModel::WiseposE,
    ];

    /// The fixture name: `m2`, `wisepad3`, `chipper2x`, `s700`, `wisepos_e`.
    pub fn id(self) -> &'static str {
        match self {
            ReaderModel::M2 => "m2",
            ReaderModel::Wisepad3 => "wisepad3",
            ReaderModel::Chipper2x => "chipper2x",
            ReaderModel::S700 => "s700",
            ReaderModel::WiseposE => "wisepos_e",
        }
    }

    /// The simulated registration code Stripe accepts for a smart model
    /// (`simulated-s700`, `simulated-wpe`): Stripe's names, not behaviour, so
    /// the one per-model table the configuration-is-data rule allows.
    pub fn simulated_registration_code(self) -> Option<&'static str> {
        match self {
            ReaderModel::S700 => Some("simulated-s700"),
            ReaderModel::WiseposE => Some("simulated-wpe"),
            _ => None,
        }
    }

    /// Stripe's `device_type` of a `terminal.reader` (`stripe_s700`,
    /// `bbpos_wisepos_e`, ...): also Stripe's names.
    pub fn stripe_device_type(self) -> &'static str {
        match self {
            ReaderModel::M2 => "stripe_m2",
            ReaderModel::Wisepad3 => "bbpos_wisepad3",
            ReaderModel::Chipper2x => "bbpos_chipper2x",
            ReaderModel::S700 => "stripe_s700",
            ReaderModel::WiseposE => "bbpos_wisepos_e",
        }
    }

    /// The model for a fixture name, if there is one.
    pub fn from_id(id: &str) -> Option<ReaderModel> {
        ReaderModel::ALL.into_iter().find(|m| m.id() == id)
    }

    /// The family the model belongs to, which fixes where offline payments live.
    pub fn family(self) -> Family {
        match self {
            ReaderModel::M2 | ReaderModel::Wisepad3 | ReaderModel::Chipper2x => Family::Mobile,
            ReaderModel::S700 | ReaderModel::WiseposE => Family::Smart,
        }
    }
}

impl fmt::Display for ReaderModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Reader family (docs/domain.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Bluetooth (and USB) readers driven by the SDK on the POS.
    Mobile,
    /// Internet readers on the LAN that run the payment themselves.
    Smart,
}

/// A link between the POS and the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Bluetooth Low Energy.
    Ble,
    /// USB cable (Android POS only).
    Usb,
    /// Local network (HTTPS to a smart reader).
    Lan,
}

/// Where offline payments are kept until forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreLocation {
    /// On the POS device, by the SDK (mobile readers).
    Pos,
    /// On the reader itself (smart readers).
    Reader,
}

/// How the card reaches the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryMode {
    /// Tap: contactless card or NFC wallet.
    Contactless,
    /// Insert: EMV chip.
    Chip,
    /// Magnetic stripe.
    Swipe,
}

/// Bluetooth pairing ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// No pairing step (or not over Bluetooth at all).
    None,
    /// Numeric comparison with a 6-digit code (WisePad 3 since late 2025).
    NumericComparison,
}

/// Ways the SDK can discover a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryMethod {
    /// Bluetooth scan: every reader in range that advertises.
    BluetoothScan,
    /// iOS "Bluetooth proximity": the one reader held next to the device.
    BluetoothProximity,
    /// Readers attached by USB.
    Usb,
    /// Smart readers registered to the account, from the backend's list.
    Internet,
}

/// Everything the emulator knows about one reader model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderProfile {
    /// Which model this is; must match the file name.
    pub model: ReaderModel,
    /// Marketing name, e.g. "Stripe Reader M2".
    pub name: String,
    /// Mobile or smart.
    pub family: Family,
    /// Prefix of emulated serial numbers (`STRM2` → `STRM2-0001`).
    pub serial_prefix: String,
    /// Links the reader can use to reach the POS.
    pub links: Vec<LinkKind>,
    /// Where offline payments are stored.
    pub offline_store: StoreLocation,
    /// Whether the reader has a PIN pad.
    pub pin_entry: bool,
    /// Whether the reader has a screen.
    pub screen: bool,
    /// Entry modes the hardware accepts (offline rules narrow these later).
    pub entry_modes: Vec<EntryMode>,
    /// Whether tips can be collected on the reader while offline.
    pub offline_tipping: bool,
    /// Bluetooth pairing ceremony.
    pub pairing: Pairing,
    /// Battery reporting and thresholds.
    pub battery: BatteryProfile,
    /// Software update rules.
    pub update: UpdateProfile,
    /// Reboots and power-down.
    pub reboot: RebootProfile,
    /// How the SDK discovers this model.
    pub discovery: DiscoveryProfile,
    /// Connecting and auto-reconnect.
    pub connection: ConnectionProfile,
}

/// Battery thresholds (docs/domain.md §7: critical ≤ 5 %, low ≤ 20 %).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatteryProfile {
    /// Whether the SDK reports battery levels for this model (mobile readers).
    pub reported: bool,
    /// At or below this level the battery is critical: connecting fails and a
    /// connected reader that is not charging shuts down.
    pub critical_percent: u8,
    /// At or below this level (and above critical) the battery is low.
    pub low_percent: u8,
    /// How often a connected reader reports its level, in seconds.
    pub report_interval_s: u32,
}

/// Software update rules (docs/domain.md §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// Whether required updates are installed by the SDK during connect
    /// (mobile readers); smart readers update themselves.
    pub installs_on_connect: bool,
    /// Updates need strictly more than this battery level, charging or not.
    pub min_battery_percent: u8,
    /// Days an optional update may wait before it becomes required.
    pub optional_deadline_days: u32,
    /// How long an install takes, in seconds (not documented: configurable).
    pub install_s: u32,
}

/// Reboots and power-down (docs/domain.md §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootProfile {
    /// The security reboot comes this many hours after the last boot.
    pub security_period_h: u32,
    /// Whether a requested reboot restarts the security-reboot timer.
    pub requested_resets_timer: bool,
    /// How long a reboot keeps the reader away, in seconds.
    pub reboot_s: u32,
    /// Whether the reader powers itself down when idle and not charging.
    pub idle_power_down: bool,
    /// Idle hours before that power-down.
    pub idle_after_h: u32,
}

/// How discovery reports this model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryProfile {
    /// Discovery methods that find this model.
    pub methods: Vec<DiscoveryMethod>,
    /// Bluetooth proximity reports the reader twice: serial only, then full.
    pub two_phase_proximity: bool,
    /// Discovery lists the reader even while it is offline (smart readers).
    pub lists_offline: bool,
    /// How far the listed status lags reality, in seconds.
    pub status_lag_s: u32,
    /// Delay from the start of discovery to the first report, in ms.
    pub report_ms: u32,
    /// Delay to the second, full report of a two-phase discovery, in ms.
    pub full_report_ms: u32,
}

/// Connecting and auto-reconnect (docs/domain.md §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionProfile {
    /// How long establishing a connection takes, in ms.
    pub connect_ms: u32,
    /// Whether auto-reconnect is on unless the app turns it off.
    pub auto_reconnect: bool,
    /// How long auto-reconnect keeps trying, in seconds.
    pub reconnect_budget_s: u32,
    /// How long a connect waits for a person to confirm a pairing code.
    pub pairing_timeout_s: u32,
}

impl ReaderProfile {
    /// Parses and validates one profile. `file` only names the source in errors.
    ///
    /// Errors carry the dotted key and, whenever the text lets us find it, the
    /// 1-based line: a profile author should never have to bisect a fixture.
    pub fn from_toml(file: &str, text: &str) -> Result<ReaderProfile, DataFileError> {
        let profile: ReaderProfile = data_file::parse(file, text)?;
        profile.validate().map_err(|v| DataFileError::at(file, text, v.key, v.message))?;
        Ok(profile)
    }

    /// Like [`ReaderProfile::from_toml`], for the file named after `expected`
    /// (`m2.toml` must say `model = "m2"`). A profile copied to start a new
    /// model and not edited would otherwise silently stand in for the wrong one.
    pub fn from_toml_for(
        file: &str,
        expected: ReaderModel,
        text: &str,
    ) -> Result<ReaderProfile, DataFileError> {
        let profile = ReaderProfile::from_toml(file, text)?;
        if profile.model != expected {
            let message = format!(
                "this file holds the `{expected}` profile, but says model = \"{}\"",
                profile.model
            );
            return Err(DataFileError::at(file, text, "model", message));
        }
        Ok(profile)
    }

    /// Whether this model stores offline payments on the POS (mobile) or itself.
    pub fn is_mobile(&self) -> bool {
        self.family == Family::Mobile
    }

    /// The rules serde cannot express. Family comes first because the link,
    /// store and discovery rules are stated per family (docs/domain.md §1).
    fn validate(&self) -> Result<(), Violation> {
        use DiscoveryMethod::{BluetoothProximity, BluetoothScan, Internet};
        let p = self;

        ensure(!p.name.trim().is_empty(), "name", || "the name must not be blank".to_owned())?;
        // Serials are `<prefix>-0001`; they end up in histories, file names and
        // URLs, so keep them to characters that need no escaping anywhere.
        ensure(
            !p.serial_prefix.is_empty()
                && p.serial_prefix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "serial_prefix",
            || format!("{:?} must be ASCII uppercase letters and digits", p.serial_prefix),
        )?;

        let family = p.model.family();
        ensure(p.family == family, "family", || {
            format!(
                "{} is a {} reader (docs/domain.md §1), not {}",
                p.model,
                spelled(&family),
                spelled(&p.family)
            )
        })?;
        let (store, links, methods): (_, &[LinkKind], &[DiscoveryMethod]) = match family {
            Family::Mobile => (
                StoreLocation::Pos,
                &[LinkKind::Ble, LinkKind::Usb],
                &[BluetoothScan, BluetoothProximity, DiscoveryMethod::Usb],
            ),
            Family::Smart => (StoreLocation::Reader, &[LinkKind::Lan], &[Internet]),
        };
        ensure(p.offline_store == store, "offline_store", || {
            format!(
                "a {} reader keeps offline payments in {} (docs/domain.md §1), not {}",
                spelled(&family),
                spelled(&store),
                spelled(&p.offline_store)
            )
        })?;
        // For smart readers "non-empty subset of [lan]" is exactly `["lan"]`,
        // and likewise for discovery: one rule serves both families.
        subset_rule(&p.links, links, "links", family)?;
        subset_rule(&p.discovery.methods, methods, "discovery.methods", family)?;
        ensure(
            !p.discovery.methods.contains(&DiscoveryMethod::Usb)
                || p.links.contains(&LinkKind::Usb),
            "discovery.methods",
            || "USB discovery needs the \"usb\" link in `links`".to_owned(),
        )?;
        ensure(
            !p.discovery.two_phase_proximity || p.discovery.methods.contains(&BluetoothProximity),
            "discovery.two_phase_proximity",
            || "a two-phase proximity report needs the \"bluetooth_proximity\" method".to_owned(),
        )?;

        ensure(!p.entry_modes.is_empty(), "entry_modes", || {
            "a reader must accept at least one entry mode".to_owned()
        })?;
        no_duplicates(&p.entry_modes, "entry_modes")?;
        ensure(!p.offline_tipping || family == Family::Smart, "offline_tipping", || {
            "tipping offline works only on smart readers (docs/domain.md §1)".to_owned()
        })?;

        let b = &p.battery;
        ensure(b.critical_percent < b.low_percent, "battery.low_percent", || {
            format!(
                "low_percent ({}) must be above critical_percent ({}): the low band lies between them",
                b.low_percent, b.critical_percent
            )
        })?;
        ensure(b.low_percent <= 100, "battery.low_percent", || {
            format!("{} is not a battery percentage", b.low_percent)
        })?;
        ensure(p.update.min_battery_percent <= 100, "update.min_battery_percent", || {
            format!("{} is not a battery percentage", p.update.min_battery_percent)
        })?;

        // Each of these is a period the state machines schedule by: zero would
        // put the next deadline at `now` forever and spin the simulator.
        positive(b.report_interval_s, "battery.report_interval_s")?;
        positive(p.reboot.security_period_h, "reboot.security_period_h")?;
        positive(p.connection.connect_ms, "connection.connect_ms")?;
        positive(p.connection.reconnect_budget_s, "connection.reconnect_budget_s")?;
        positive(p.connection.pairing_timeout_s, "connection.pairing_timeout_s")?;
        positive(p.reboot.reboot_s, "reboot.reboot_s")?;
        positive(p.update.install_s, "update.install_s")?;
        // With a zero idle period a reader would sleep the instant it woke.
        ensure(
            !p.reboot.idle_power_down || p.reboot.idle_after_h > 0,
            "reboot.idle_after_h",
            || "must be greater than zero when idle_power_down is on".to_owned(),
        )?;
        // The full report of a two-phase discovery follows the partial one.
        let d = &p.discovery;
        ensure(d.full_report_ms >= d.report_ms, "discovery.full_report_ms", || {
            format!("{} comes before the first report at {} ms", d.full_report_ms, d.report_ms)
        })?;
        Ok(())
    }
}

/// A semantic rule a profile breaks: the key to blame and why.
#[derive(Debug)]
struct Violation {
    key: &'static str,
    message: String,
}

fn ensure(ok: bool, key: &'static str, message: impl FnOnce() -> String) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(Violation { key, message: message() }) }
}

fn positive(value: u32, key: &'static str) -> Result<(), Violation> {
    ensure(value > 0, key, || "must be greater than zero".to_owned())
}

fn no_duplicates<T: PartialEq + Serialize>(
    items: &[T],
    key: &'static str,
) -> Result<(), Violation> {
    let duplicate = items.iter().enumerate().find(|(i, item)| items[..*i].contains(item));
    match duplicate {
        Some((_, item)) => {
            Err(Violation { key, message: format!("{} is listed twice", spelled(item)) })
        }
        None => Ok(()),
    }
}

/// `items` must be a non-empty list, without duplicates, of `allowed` values.
fn subset_rule<T: PartialEq + Serialize>(
    items: &[T],
    allowed: &[T],
    key: &'static str,
    family: Family,
) -> Result<(), Violation> {
    ensure(!items.is_empty(), key, || "must list at least one".to_owned())?;
    no_duplicates(items, key)?;
    match items.iter().find(|item| !allowed.contains(item)) {
        Some(item) => Err(Violation {
            key,
            message: format!(
                "a {} reader allows only {} (docs/domain.md §1), not {}",
                spelled(&family),
                spelled(&allowed),
                spelled(item)
            ),
        }),
        None => Ok(()),
    }
}

/// A value as the fixture spells it (`"pos"`, `["ble","usb"]`), for messages.
fn spelled<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("profile enums serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const M2: &str = include_str!("../../../fixtures/readers/m2.toml");
    const S700: &str = include_str!("../../../fixtures/readers/s700.toml");
    const FILE: &str = "fixtures/readers/m2.toml";

    /// Applies text edits, each of which must match exactly once: an edit that
    /// matched nothing would leave a valid profile and a test that proves nothing.
    fn edited(base: &str, edits: &[(&str, &str)]) -> String {
        let mut text = base.to_owned();
        for (from, to) in edits {
            assert_eq!(text.matches(from).count(), 1, "edit {from:?} must match exactly once");
            text = text.replacen(from, to, 1);
        }
        text
    }

    /// The 1-based line of the first line containing `needle`, found
    /// independently of the code under test.
    fn line_of(text: &str, needle: &str) -> usize {
        let index = text.lines().position(|l| l.contains(needle));
        index.unwrap_or_else(|| panic!("{needle:?} not in the text")) + 1
    }

    #[rstest]
    #[case::unknown_top_level_key(
        M2, &[("pairing = ", "colour = \"red\"\npairing = ")],
        "colour", Some("colour = "), "unknown field `colour`")]
    #[case::unknown_key_in_battery(
        M2, &[("low_percent = 20", "colour = \"red\"\nlow_percent = 20")],
        "battery.colour", Some("colour = "), "unknown field `colour`")]
    #[case::missing_family(
        M2, &[("family = \"mobile\"", "")],
        "family", None, "missing field `family`")]
    #[case::missing_low_percent(
        M2, &[("low_percent = 20", "")],
        "battery.low_percent", Some("[battery]"), "missing field `low_percent`")]
    #[case::bad_enum_value(
        M2, &[("family = \"mobile\"", "family = \"tablet\"")],
        "family", Some("family = \"tablet\""), "unknown variant `tablet`")]
    #[case::wrong_type(
        M2, &[("pin_entry = false", "pin_entry = \"yes\"")],
        "pin_entry", Some("pin_entry = \"yes\""), "expected a boolean")]
    #[case::bad_value_in_a_list(
        M2, &[("links = [\"ble\", \"usb\"]", "links = [\"ble\", \"wifi\"]")],
        "links[1]", Some("links = "), "unknown variant `wifi`")]
    #[case::syntax_error(
        M2, &[("[battery]", "[battery")],
        ".", Some("[battery"), "expected `]`")]
    #[case::low_percent_below_critical(
        M2, &[("low_percent = 20", "low_percent = 3")],
        "battery.low_percent", Some("low_percent = 3"), "above critical_percent")]
    #[case::low_percent_over_100(
        M2, &[("low_percent = 20", "low_percent = 101")],
        "battery.low_percent", Some("low_percent = 101"), "not a battery percentage")]
    #[case::update_battery_over_100(
        M2, &[("min_battery_percent = 50", "min_battery_percent = 150")],
        "update.min_battery_percent", Some("min_battery_percent = 150"), "not a battery percentage")]
    #[case::family_contradicts_model(
        S700, &[("family = \"smart\"", "family = \"mobile\"")],
        "family", Some("family = \"mobile\""), "s700 is a \"smart\" reader")]
    #[case::smart_reader_storing_on_the_pos(
        S700, &[("offline_store = \"reader\"", "offline_store = \"pos\"")],
        "offline_store", Some("offline_store = \"pos\""), "keeps offline payments in \"reader\"")]
    #[case::smart_reader_over_bluetooth(
        S700, &[("links = [\"lan\"]", "links = [\"lan\", \"ble\"]")],
        "links", Some("links = "), "allows only [\"lan\"]")]
    #[case::mobile_reader_found_by_internet(
        M2, &[("methods = [\"bluetooth_scan\", \"usb\"]", "methods = [\"internet\"]")],
        "discovery.methods", Some("methods = "), "not \"internet\"")]
    #[case::mobile_reader_without_links(
        M2, &[("links = [\"ble\", \"usb\"]", "links = []")],
        "links", Some("links = "), "at least one")]
    #[case::tipping_on_a_mobile_reader(
        M2, &[("offline_tipping = false", "offline_tipping = true")],
        "offline_tipping", Some("offline_tipping = true"), "only on smart readers")]
    #[case::usb_discovery_without_usb_link(
        M2, &[("links = [\"ble\", \"usb\"]", "links = [\"ble\"]")],
        "discovery.methods", Some("methods = "), "needs the \"usb\" link")]
    #[case::two_phase_without_proximity(
        M2, &[("two_phase_proximity = false", "two_phase_proximity = true")],
        "discovery.two_phase_proximity", Some("two_phase_proximity = true"), "bluetooth_proximity")]
    #[case::duplicated_entry_mode(
        M2, &[("\"contactless\", \"chip\", \"swipe\"", "\"contactless\", \"chip\", \"chip\"")],
        "entry_modes", Some("entry_modes = "), "\"chip\" is listed twice")]
    #[case::duplicated_link(
        M2, &[("links = [\"ble\", \"usb\"]", "links = [\"ble\", \"ble\"]")],
        "links", Some("links = "), "\"ble\" is listed twice")]
    #[case::no_entry_mode(
        M2, &[("\"contactless\", \"chip\", \"swipe\"", "")],
        "entry_modes", Some("entry_modes = "), "at least one entry mode")]
    #[case::lowercase_serial_prefix(
        M2, &[("serial_prefix = \"STRM2\"", "serial_prefix = \"strm2\"")],
        "serial_prefix", Some("serial_prefix = "), "uppercase")]
    #[case::blank_name(
        M2, &[("name = \"Stripe Reader M2\"", "name = \" \"")],
        "name", Some("name = "), "blank")]
    #[case::zero_security_period(
        M2, &[("security_period_h = 24", "security_period_h = 0")],
        "reboot.security_period_h", Some("security_period_h = 0"), "greater than zero")]
    #[case::zero_connect_time(
        M2, &[("connect_ms = 1500", "connect_ms = 0")],
        "connection.connect_ms", Some("connect_ms = 0"), "greater than zero")]
    #[case::zero_reconnect_budget(
        M2, &[("reconnect_budget_s = 60", "reconnect_budget_s = 0")],
        "connection.reconnect_budget_s", Some("reconnect_budget_s = 0"), "greater than zero")]
    #[case::zero_reboot(
        M2, &[("reboot_s = 30", "reboot_s = 0")],
        "reboot.reboot_s", Some("reboot_s = 0"), "greater than zero")]
    #[case::zero_install(
        M2, &[("install_s = 120", "install_s = 0")],
        "update.install_s", Some("install_s = 0"), "greater than zero")]
    #[case::zero_idle_period_while_idle_power_down_is_on(
        M2, &[("idle_after_h = 10", "idle_after_h = 0")],
        "reboot.idle_after_h", Some("idle_after_h = 0"), "when idle_power_down is on")]
    #[case::full_report_before_the_first(
        M2, &[("full_report_ms = 800", "full_report_ms = 500")],
        "discovery.full_report_ms", Some("full_report_ms = 500"), "comes before the first report")]
    #[case::zero_battery_report_interval(
        M2, &[("report_interval_s = 600", "report_interval_s = 0")],
        "battery.report_interval_s", Some("report_interval_s = 0"), "greater than zero")]
    fn a_broken_profile_names_its_key_and_line(
        #[case] base: &str,
        #[case] edits: &[(&str, &str)],
        #[case] key: &str,
        #[case] line_holding: Option<&str>,
        #[case] says: &str,
    ) {
        let text = edited(base, edits);
        let error = ReaderProfile::from_toml(FILE, &text).expect_err("the edit breaks the profile");
        assert_eq!(error.key, key, "{error}");
        assert_eq!(error.line, line_holding.map(|needle| line_of(&text, needle)), "{error}");
        assert!(error.message.contains(says), "{error}");
        assert_eq!(error.file, FILE);
        let shown = error.to_string();
        assert!(shown.starts_with(&format!("{FILE}:")), "{shown}");
        assert!(shown.contains(&format!("key `{key}`")), "{shown}");
    }

    #[test]
    fn the_m2_fixture_is_valid() {
        let profile = ReaderProfile::from_toml_for(FILE, ReaderModel::M2, M2).expect("valid");
        assert_eq!(profile.model, ReaderModel::M2);
        assert!(profile.is_mobile());
    }

    #[test]
    fn a_profile_filed_under_another_model_is_refused() {
        let error = ReaderProfile::from_toml_for("wisepad3.toml", ReaderModel::Wisepad3, M2)
            .expect_err("m2 text is not the wisepad3 profile");
        assert_eq!(error.key, "model");
        assert_eq!(error.line, Some(line_of(M2, "model = \"m2\"")));
        assert!(error.to_string().starts_with("wisepad3.toml:"), "{error}");
    }
}
