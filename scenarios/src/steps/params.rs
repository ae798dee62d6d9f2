//! The phrases steps are written with, as cucumber parameter types: a
//! device, a reader, a model, an amount, an entry mode, and each step's own
//! alternatives (`is full` or `has room again`). Each phrase's regex is
//! written once, here; a step names it in its cucumber expression
//! (`the app data on {device} is wiped`) and receives it parsed.
//!
//! A cucumber expression compiles to `^…$` with its text escaped and each
//! `{name}` replaced by `(REGEX)` of its type, so a step written with these
//! types matches exactly the texts its regex used to: every regex here is
//! the alternation the steps spelled out before, without capture groups.
//! The device and reader phrases are plain alternations of literal phrases
//! (their `FromStr` accepts exactly those), and the tests below check each
//! list against the reader catalogue: a new model must not fall out of them
//! unnoticed.
//!
//! A phrase names a reader by model; which reader of the rig that is, the
//! world decides (`LabWorld::reader`, `LabWorld::device`).

use cucumber::Parameter;
use readerlab_emulator::core::backend::RequestKind;
use readerlab_emulator::core::{Currency, EntryMode, Money, ReaderModel};
use readerlab_emulator::fixtures::ReaderCatalog;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a text does not read as a parameter type. Its `Debug` is its
/// message, as cucumber prints a failed parse with `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct PhraseError(pub String);

impl fmt::Debug for PhraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PhraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PhraseError {}

impl From<PhraseError> for String {
    fn from(e: PhraseError) -> String {
        e.0
    }
}

/// The model a marketing name (or fixture id) names.
pub(crate) fn model_named(name: &str) -> Option<ReaderModel> {
    let catalog = ReaderCatalog::builtin();
    ReaderModel::ALL.into_iter().find(|m| catalog.get(*m).name == name || m.id() == name)
}

/// A model's marketing name.
fn name_of(model: ReaderModel) -> &'static str {
    &ReaderCatalog::builtin().get(model).name
}

/// Whether `text` is one of the phrases of `P`, whose regex is a plain
/// alternation of literal phrases (`the POS|the reader|…`).
fn is_one_of<P: Parameter>(text: &str) -> bool {
    P::REGEX.split('|').any(|phrase| phrase == text)
}

/// A reader as a step names it, before the world says which reader of the
/// rig that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderPhrase {
    /// `the reader`: the rig's first reader.
    First,
    /// `the <model>`: the rig's reader of that model.
    Model(ReaderModel),
}

impl ReaderPhrase {
    /// A table's `reader` column, read loosely: a model's name or fixture
    /// id, with or without `the`, or `reader`.
    pub(crate) fn named(text: &str) -> Result<ReaderPhrase, String> {
        let name = text.strip_prefix("the ").unwrap_or(text);
        if name == "reader" {
            return Ok(ReaderPhrase::First);
        }
        model_named(name)
            .map(ReaderPhrase::Model)
            .ok_or_else(|| format!("no reader model is called {name}"))
    }
}

impl FromStr for ReaderPhrase {
    type Err = PhraseError;

    /// `the reader`, or `the` and a model's marketing name.
    fn from_str(text: &str) -> Result<ReaderPhrase, PhraseError> {
        let bad =
            || PhraseError(format!("`{text}` names no reader: say `the reader` or `the <model>`"));
        match text.strip_prefix("the ") {
            Some("reader") => Ok(ReaderPhrase::First),
            Some(name) => ReaderModel::ALL
                .into_iter()
                .find(|m| name_of(*m) == name)
                .map(ReaderPhrase::Model)
                .ok_or_else(bad),
            None => Err(bad()),
        }
    }
}

impl fmt::Display for ReaderPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReaderPhrase::First => f.write_str("the reader"),
            ReaderPhrase::Model(model) => write!(f, "the {}", name_of(*model)),
        }
    }
}

/// A device as a step names it: the POS, or a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePhrase {
    /// `the POS`.
    Pos,
    /// A reader.
    Reader(ReaderPhrase),
}

impl FromStr for DevicePhrase {
    type Err = PhraseError;

    /// `the POS`, or a reader's phrase.
    fn from_str(text: &str) -> Result<DevicePhrase, PhraseError> {
        if text == "the POS" {
            Ok(DevicePhrase::Pos)
        } else {
            text.parse().map(DevicePhrase::Reader)
        }
    }
}

impl fmt::Display for DevicePhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevicePhrase::Pos => f.write_str("the POS"),
            DevicePhrase::Reader(reader) => reader.fmt(f),
        }
    }
}

impl From<ReaderPhrase> for DevicePhrase {
    fn from(reader: ReaderPhrase) -> DevicePhrase {
        DevicePhrase::Reader(reader)
    }
}

/// `FromStr`, `Display` and the conversion to its phrase of a parameter
/// type wrapping a phrase: it reads exactly the phrases of its regex.
macro_rules! phrase_parameter {
    ($ty:ident($phrase:ident), $what:literal) => {
        impl FromStr for $ty {
            type Err = PhraseError;

            fn from_str(text: &str) -> Result<$ty, PhraseError> {
                if !is_one_of::<$ty>(text) {
                    return Err(PhraseError(format!(
                        "`{text}` is not {}: say {}",
                        $what,
                        <$ty as Parameter>::REGEX.replace('|', ", ")
                    )));
                }
                text.parse().map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$ty> for $phrase {
            fn from(param: $ty) -> $phrase {
                param.0
            }
        }
    };
}

/// `{reader}`: any reader (`the reader` is the rig's first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "reader",
    regex = "the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E"
)]
pub struct AnyReader(pub ReaderPhrase);
phrase_parameter!(AnyReader(ReaderPhrase), "a reader");

/// `{bluetooth reader}`: a reader that reaches the POS over Bluetooth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "bluetooth reader",
    regex = "the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT"
)]
pub struct BluetoothReader(pub ReaderPhrase);
phrase_parameter!(BluetoothReader(ReaderPhrase), "a Bluetooth reader");

/// `{usb reader}`: a reader that can reach the POS by USB cable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "usb reader", regex = "the reader|the Stripe Reader M2|the BBPOS WisePad 3")]
pub struct UsbReader(pub ReaderPhrase);
phrase_parameter!(UsbReader(ReaderPhrase), "a USB reader");

/// `{device}`: a device that stores payments, the POS (a mobile reader's)
/// or a smart reader (its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "device", regex = "the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E")]
pub struct StoringDevice(pub DevicePhrase);
phrase_parameter!(StoringDevice(DevicePhrase), "a device that stores payments");

/// `{device or reader}`: the POS or any reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "device or reader",
    regex = "the POS|the reader|the Stripe Reader M2|the BBPOS WisePad 3|the BBPOS Chipper 2X BT|the Stripe Reader S700|the BBPOS WisePOS E"
)]
pub struct DeviceOrReader(pub DevicePhrase);
phrase_parameter!(DeviceOrReader(DevicePhrase), "the POS or a reader");

/// `{model}`: a reader model, by its marketing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "model",
    regex = "Stripe Reader M2|BBPOS WisePad 3|BBPOS Chipper 2X BT|Stripe Reader S700|BBPOS WisePOS E"
)]
pub struct ModelName(pub ReaderModel);

impl FromStr for ModelName {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<ModelName, PhraseError> {
        ReaderModel::ALL
            .into_iter()
            .find(|m| is_one_of::<ModelName>(text) && name_of(*m) == text)
            .map(ModelName)
            .ok_or_else(|| {
                PhraseError(format!(
                    "`{text}` is not a reader model: say {}",
                    ModelName::REGEX.replace('|', ", ")
                ))
            })
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name_of(self.0))
    }
}

/// Currencies without minor units (their amounts are written whole).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// `{amount}`: money, `12.50 USD`, or whole in a zero-decimal currency
/// (`1000 JPY`); in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "amount", regex = r"\d+(?:\.\d\d)? [A-Z]{3}")]
pub struct Amount(pub Money);

impl FromStr for Amount {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<Amount, PhraseError> {
        let (value, code) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| PhraseError(format!("`{text}` is not an amount")))?;
        let currency: Currency = code.parse().map_err(PhraseError)?;
        let zero_decimal = ZERO_DECIMAL.contains(&currency.as_str());
        let bad =
            || PhraseError(format!("`{text}` is not an amount: write 12.50 USD, or 1000 JPY"));
        let number = |digits: &str| digits.parse::<u64>().map_err(|_| bad());
        let minor = match value.split_once('.') {
            Some(_) if zero_decimal => return Err(bad()),
            Some((whole, cents)) if cents.len() == 2 => {
                let cents = number(cents)?;
                number(whole)?.checked_mul(100).and_then(|whole| whole.checked_add(cents))
            }
            Some(_) => return Err(bad()),
            None if zero_decimal => Some(number(value)?),
            None => number(value)?.checked_mul(100),
        };
        // The pattern takes any number of digits.
        let minor = minor.ok_or_else(|| {
            PhraseError(format!("`{text}` is more minor units than an amount holds"))
        })?;
        Ok(Amount(Money::new(minor, currency)))
    }
}

/// `{entry mode}`: how a card is presented, `tapping`, `inserting` or
/// `swiping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "entry mode", regex = "tapping|inserting|swiping")]
pub struct EntryModePhrase(pub EntryMode);

impl FromStr for EntryModePhrase {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<EntryModePhrase, PhraseError> {
        match text {
            "tapping" => Ok(EntryModePhrase(EntryMode::Contactless)),
            "inserting" => Ok(EntryModePhrase(EntryMode::Chip)),
            "swiping" => Ok(EntryModePhrase(EntryMode::Swipe)),
            other => Err(PhraseError(format!("`{other}` is not a way to present a card"))),
        }
    }
}

/// `{n}`: a whole number, written in digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "n", regex = r"\d+")]
pub struct Number(pub u64);

impl FromStr for Number {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<Number, PhraseError> {
        text.parse().map(Number).map_err(|_| PhraseError(format!("`{text}` is not a number")))
    }
}

/// The capture of an optional clause of a regex step: `None` when the
/// clause is left out (cucumber hands it over empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Maybe<T>(pub Option<T>);

impl<T: FromStr> FromStr for Maybe<T> {
    type Err = T::Err;

    fn from_str(text: &str) -> Result<Maybe<T>, T::Err> {
        if text.is_empty() { Ok(Maybe(None)) } else { text.parse().map(|t| Maybe(Some(t))) }
    }
}

// --- each step's own alternatives ----------------------------------------

/// Declares the parameter type of a step's pair of opposite phrases: it
/// reads `true` for the first, `false` for the second. `optional` declares
/// an optional clause: `true` when it is there.
macro_rules! either_phrase {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $yes:literal | $no:literal) => {
        either_phrase!(@define $(#[$doc])* $ty, $name, concat!($yes, "|", $no), $yes, $no);
    };
    ($(#[$doc:meta])* $ty:ident, $name:literal, optional $yes:literal) => {
        either_phrase!(@define $(#[$doc])* $ty, $name, concat!("(?:", $yes, ")?"), $yes, "");
    };
    (@define $(#[$doc:meta])* $ty:ident, $name:literal, $regex:expr, $yes:literal, $no:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $ty(pub bool);

        impl Parameter for $ty {
            const REGEX: &'static str = $regex;
            const NAME: &'static str = $name;
        }

        impl FromStr for $ty {
            type Err = PhraseError;

            fn from_str(text: &str) -> Result<$ty, PhraseError> {
                match text {
                    $yes => Ok($ty(true)),
                    $no => Ok($ty(false)),
                    other => Err(PhraseError(format!(
                        "`{other}` is neither `{}` nor `{}`",
                        $yes, $no
                    ))),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(if self.0 { $yes } else { $no })
            }
        }
    };
}

either_phrase!(
    /// `{goes down or comes back}`: an internet link goes down (`true`).
    InternetDown, "goes down or comes back", "goes down" | "comes back"
);
either_phrase!(
    /// `{times out or loses its answer}`: a request times out (`true`), or
    /// its answer is lost after the backend applied it.
    TimesOut, "times out or loses its answer", "times out" | "loses its answer"
);
either_phrase!(
    /// `{is killed or starts again}`: the app is killed (`true`).
    AppKilled, "is killed or starts again", "is killed" | "starts again"
);
either_phrase!(
    /// `{locked or unlocked}`: a device is locked (`true`).
    Locked, "locked or unlocked", "locked" | "unlocked"
);
either_phrase!(
    /// `{mid write?}`: power is lost ` in the middle of its next write`
    /// (`true`), or at once.
    MidWrite, "mid write?", optional " in the middle of its next write"
);
either_phrase!(
    /// `{is full or has room again}`: a device's storage is full (`true`).
    StorageIsFull, "is full or has room again", "is full" | "has room again"
);
either_phrase!(
    /// `{while charging?}`: a battery reads ` while charging` (`true`).
    WhileCharging, "while charging?", optional " while charging"
);
either_phrase!(
    /// `{lost or back}`: a Bluetooth signal is lost (`true`).
    SignalLost, "lost or back", "lost" | "back"
);
either_phrase!(
    /// `{pulled or plugged back in}`: a USB cable is pulled (`true`).
    CablePulled, "pulled or plugged back in", "pulled" | "plugged back in"
);
either_phrase!(
    /// `{connected or not connected}`: a reader is connected (`true`).
    Connected, "connected or not connected", "connected" | "not connected"
);

/// `{n seconds late or on time again}`: how late a reader's notifications
/// reach the POS (`None`: on time again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "n seconds late or on time again", regex = r"\d+ seconds? late|on time again")]
pub struct Lateness(pub Option<u64>);

impl FromStr for Lateness {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<Lateness, PhraseError> {
        if text == "on time again" {
            return Ok(Lateness(None));
        }
        let late = text.strip_suffix(" late");
        let seconds = late.and_then(|t| t.strip_suffix(" seconds").or(t.strip_suffix(" second")));
        let seconds = seconds.ok_or_else(|| PhraseError(format!("`{text}` is not a lateness")))?;
        let seconds = seconds
            .parse()
            .map_err(|_| PhraseError(format!("{seconds} seconds is not a duration")))?;
        Ok(Lateness(Some(seconds)))
    }
}

/// `{down to n or back up}`: the Bluetooth MTU a link is renegotiated down
/// to (`None`: back up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "down to n or back up", regex = r"down to \d+|back up")]
pub struct MtuChange(pub Option<u16>);

impl FromStr for MtuChange {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<MtuChange, PhraseError> {
        if text == "back up" {
            return Ok(MtuChange(None));
        }
        let mtu = text
            .strip_prefix("down to ")
            .ok_or_else(|| PhraseError(format!("`{text}` is not an MTU change")))?;
        let mtu = mtu
            .parse()
            .map_err(|_| PhraseError(format!("MTU {mtu} is not a number from 23 to 185")))?;
        Ok(MtuChange(Some(mtu)))
    }
}

/// `{slows to n ms or is normal again}`: the Bluetooth connection interval
/// a link slows to, in ms (`None`: normal again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "slows to n ms or is normal again", regex = r"slows to \d+ ms|is normal again")]
pub struct IntervalChange(pub Option<u64>);

impl FromStr for IntervalChange {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<IntervalChange, PhraseError> {
        if text == "is normal again" {
            return Ok(IntervalChange(None));
        }
        let ms = text.strip_prefix("slows to ").and_then(|t| t.strip_suffix(" ms"));
        let ms = ms.ok_or_else(|| PhraseError(format!("`{text}` is not an interval change")))?;
        let ms = ms.parse().map_err(|_| PhraseError(format!("{ms} ms is not a duration")))?;
        Ok(IntervalChange(Some(ms)))
    }
}

/// `Some(n minutes)` for a step's optional `within <n> minutes` (its
/// number), `None` for none.
pub(crate) fn within(text: &str) -> Result<Option<Duration>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let minutes: u64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    Ok(Some(Duration::from_secs(minutes * 60)))
}

/// `{within?}`: an optional ` within <n> minutes`, how long a step may let
/// pass until it holds (`None`: it looks at what has happened so far).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "within?", regex = r"(?: within \d+ minutes?)?")]
pub struct Within(pub Option<Duration>);

impl FromStr for Within {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<Within, PhraseError> {
        if text.is_empty() {
            return Ok(Within(None));
        }
        let minutes = text
            .strip_prefix(" within ")
            .and_then(|t| t.strip_suffix(" minutes").or(t.strip_suffix(" minute")));
        let minutes = minutes.ok_or_else(|| PhraseError(format!("`{text}` is not a wait")))?;
        within(minutes).map(Within).map_err(PhraseError)
    }
}

/// `{event}`: a history event's name (`reader.payment.collected`).
#[derive(Clone, Debug, PartialEq, Eq, Parameter)]
#[param(name = "event", regex = r"[a-z_.]+")]
pub struct EventName(pub String);

impl FromStr for EventName {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<EventName, PhraseError> {
        let name = |c: char| c.is_ascii_lowercase() || c == '_' || c == '.';
        if !text.is_empty() && text.chars().all(name) {
            Ok(EventName(text.to_owned()))
        } else {
            Err(PhraseError(format!("`{text}` is not an event name")))
        }
    }
}

/// `{ordinal}`: which matching request, `next` (1) or `3rd` (3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(name = "ordinal", regex = r"next|\d+(?:st|nd|rd|th)")]
pub struct Ordinal(pub u32);

impl FromStr for Ordinal {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<Ordinal, PhraseError> {
        if text == "next" {
            return Ok(Ordinal(1));
        }
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        digits.parse().map(Ordinal).map_err(|_| PhraseError(format!("`{text}` is not an ordinal")))
    }
}

/// `{request}`: the kind of request a request fault picks out (`None`:
/// `any`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Parameter)]
#[param(
    name = "request",
    regex = "create|confirm|forward|connection token|capture|cancel|process|retrieve reader|retrieve|any"
)]
pub struct RequestFilter(pub Option<RequestKind>);

impl FromStr for RequestFilter {
    type Err = PhraseError;

    fn from_str(text: &str) -> Result<RequestFilter, PhraseError> {
        Ok(RequestFilter(Some(match text {
            "create" => RequestKind::CreatePaymentIntent,
            "confirm" => RequestKind::ConfirmPaymentIntent,
            "forward" => RequestKind::ForwardOfflinePayment,
            "connection token" => RequestKind::CreateConnectionToken,
            "capture" => RequestKind::CapturePaymentIntent,
            "cancel" => RequestKind::CancelPaymentIntent,
            "process" => RequestKind::ProcessPaymentIntent,
            "retrieve reader" => RequestKind::RetrieveReader,
            "retrieve" => RequestKind::RetrievePaymentIntent,
            "any" => return Ok(RequestFilter(None)),
            other => return Err(PhraseError(format!("`{other}` is not a request kind"))),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use readerlab_emulator::core::{Family, LinkKind};

    /// The phrases of a parameter whose regex is a plain alternation.
    fn phrases<P: Parameter>() -> Vec<&'static str> {
        P::REGEX.split('|').collect()
    }

    /// `the <name>` of every model the catalogue lists that `keep` keeps.
    fn readers(keep: impl Fn(&readerlab_emulator::core::ReaderProfile) -> bool) -> Vec<String> {
        let catalog = ReaderCatalog::builtin();
        catalog.iter().filter(|p| keep(p)).map(|p| format!("the {}", p.name)).collect()
    }

    fn with(first: &[&str], rest: Vec<String>) -> Vec<String> {
        first.iter().map(|s| (*s).to_owned()).chain(rest).collect()
    }

    #[test]
    fn the_reader_and_device_phrases_follow_the_catalogue() {
        let all = readers(|_| true);
        let ble = readers(|p| p.links.contains(&LinkKind::Ble));
        let usb = readers(|p| p.links.contains(&LinkKind::Usb));
        let smart = readers(|p| p.family == Family::Smart);
        assert_eq!(phrases::<AnyReader>(), with(&["the reader"], all.clone()));
        assert_eq!(phrases::<BluetoothReader>(), with(&["the reader"], ble));
        assert_eq!(phrases::<UsbReader>(), with(&["the reader"], usb));
        assert_eq!(phrases::<StoringDevice>(), with(&["the POS", "the reader"], smart));
        assert_eq!(phrases::<DeviceOrReader>(), with(&["the POS", "the reader"], all));
        let names: Vec<String> = ReaderCatalog::builtin().iter().map(|p| p.name.clone()).collect();
        assert_eq!(phrases::<ModelName>(), names);
    }

    /// Every phrase of `P` reads, and reads back as itself; a phrase of
    /// `others` it does not list does not read.
    fn reads_exactly_its_phrases<P>(others: &[&str])
    where
        P: Parameter + FromStr<Err = PhraseError> + fmt::Display,
    {
        for phrase in phrases::<P>() {
            let parsed: P = phrase.parse().unwrap_or_else(|e| panic!("{phrase}: {e}"));
            assert_eq!(parsed.to_string(), phrase);
        }
        for other in others.iter().filter(|o| !phrases::<P>().contains(o)) {
            assert!(other.parse::<P>().is_err(), "{} reads `{other}`", P::NAME);
        }
    }

    #[test]
    fn phrase_parameters_read_exactly_the_phrases_of_their_regex() {
        let all = phrases::<DeviceOrReader>();
        let others: Vec<&str> = all
            .iter()
            .copied()
            .chain(["the", "reader", "Stripe Reader M2", "the pos", ""])
            .collect();
        reads_exactly_its_phrases::<AnyReader>(&others);
        reads_exactly_its_phrases::<BluetoothReader>(&others);
        reads_exactly_its_phrases::<UsbReader>(&others);
        reads_exactly_its_phrases::<StoringDevice>(&others);
        reads_exactly_its_phrases::<DeviceOrReader>(&others);
        reads_exactly_its_phrases::<ModelName>(&["the Stripe Reader M2", "m2", "s700", ""]);
    }

    /// Its regex compiles, has no capture group (cucumber would hand the
    /// step the first group instead of the whole phrase), and matches
    /// `yes` and not `no`, whole.
    fn regex_of<P: Parameter>(yes: &[&str], no: &[&str]) {
        let re = cucumber::codegen::Regex::new(&format!("^(?:{})$", P::REGEX))
            .unwrap_or_else(|e| panic!("{}: {e}", P::NAME));
        assert_eq!(re.captures_len(), 1, "{} has a capture group", P::NAME);
        for text in yes {
            assert!(re.is_match(text), "{} does not match `{text}`", P::NAME);
        }
        for text in no {
            assert!(!re.is_match(text), "{} matches `{text}`", P::NAME);
        }
    }

    #[test]
    fn every_parameter_regex_is_one_group_free_pattern() {
        regex_of::<AnyReader>(&["the reader"], &["the POS"]);
        regex_of::<BluetoothReader>(&["the BBPOS Chipper 2X BT"], &["the Stripe Reader S700"]);
        regex_of::<UsbReader>(&["the BBPOS WisePad 3"], &["the BBPOS Chipper 2X BT"]);
        regex_of::<StoringDevice>(&["the POS", "the BBPOS WisePOS E"], &["the Stripe Reader M2"]);
        regex_of::<DeviceOrReader>(&["the POS", "the Stripe Reader M2"], &["the pos"]);
        regex_of::<ModelName>(&["BBPOS WisePOS E"], &["the BBPOS WisePOS E"]);
        regex_of::<Amount>(&["12.50 USD", "1000 JPY"], &["12.5 USD", "12.50 usd", "-1 USD"]);
        regex_of::<EntryModePhrase>(&["tapping", "swiping"], &["tap"]);
        regex_of::<Number>(&["0", "42"], &["-1", "1.5", ""]);
        regex_of::<InternetDown>(&["goes down", "comes back"], &["down"]);
        regex_of::<TimesOut>(&["times out", "loses its answer"], &[""]);
        regex_of::<AppKilled>(&["is killed", "starts again"], &["killed"]);
        regex_of::<Locked>(&["locked", "unlocked"], &[""]);
        regex_of::<MidWrite>(&["", " in the middle of its next write"], &["in the middle"]);
        regex_of::<StorageIsFull>(&["is full", "has room again"], &["full"]);
        regex_of::<WhileCharging>(&["", " while charging"], &["while charging"]);
        regex_of::<SignalLost>(&["lost", "back"], &[""]);
        regex_of::<CablePulled>(&["pulled", "plugged back in"], &["plugged"]);
        regex_of::<Connected>(&["connected", "not connected"], &["disconnected"]);
        regex_of::<Lateness>(&["1 second late", "30 seconds late", "on time again"], &["late"]);
        regex_of::<MtuChange>(&["down to 23", "back up"], &["down to"]);
        regex_of::<IntervalChange>(&["slows to 400 ms", "is normal again"], &["slows to ms"]);
        regex_of::<Within>(&["", " within 1 minute", " within 5 minutes"], &[" within 5"]);
        regex_of::<EventName>(&["reader.payment.collected"], &["Reader", ""]);
        regex_of::<Ordinal>(&["next", "2nd", "11th"], &["2", "second"]);
        regex_of::<RequestFilter>(&["connection token", "any"], &["refund"]);
    }

    #[test]
    fn values_read_as_steps_mean_them() {
        let amount = |text: &str| text.parse::<Amount>().map(|a| a.0);
        assert_eq!(amount("12.50 USD"), Ok(Money::new(1_250, Currency::USD)));
        assert_eq!(amount("10000 USD"), Ok(Money::new(1_000_000, Currency::USD)));
        let jpy: Currency = "jpy".parse().unwrap();
        assert_eq!(amount("1000 JPY"), Ok(Money::new(1_000, jpy)));
        assert!(amount("10.5 USD").is_err());
        assert!(amount("10.50 JPY").is_err());
        assert!(amount("ten USD").is_err());
        assert_eq!("inserting".parse(), Ok(EntryModePhrase(EntryMode::Chip)));
        assert_eq!("1 second late".parse(), Ok(Lateness(Some(1))));
        assert_eq!("on time again".parse(), Ok(Lateness(None)));
        assert_eq!("down to 23".parse(), Ok(MtuChange(Some(23))));
        assert!("down to 70000".parse::<MtuChange>().is_err());
        assert_eq!("slows to 400 ms".parse(), Ok(IntervalChange(Some(400))));
        assert_eq!(" within 1 minute".parse(), Ok(Within(Some(Duration::from_secs(60)))));
        assert_eq!("".parse(), Ok(Within(None)));
        assert_eq!("3rd".parse(), Ok(Ordinal(3)));
        assert_eq!("next".parse(), Ok(Ordinal(1)));
        assert_eq!("any".parse(), Ok(RequestFilter(None)));
        assert_eq!(" while charging".parse(), Ok(WhileCharging(true)));
        assert_eq!("".parse(), Ok(MidWrite(false)));
        assert_eq!("".parse(), Ok(Maybe::<ModelName>(None)));
        assert_eq!("the reader".parse(), Ok(ReaderPhrase::First));
        assert_eq!(ReaderPhrase::named("m2"), Ok(ReaderPhrase::Model(ReaderModel::M2)));
        assert_eq!(ReaderPhrase::named("reader"), Ok(ReaderPhrase::First));
    }

    #[test]
    fn the_one_regex_step_spells_its_clauses_as_the_parameters_do() {
        // `the customer pays` keeps a regex (its optional clauses carry
        // captures, which a cucumber expression cannot): its model and
        // entry-mode clauses must be exactly those parameters' regexes.
        use cucumber::codegen::{StepConstructor as _, WorldInventory};
        type When = <crate::steps::LabWorld as WorldInventory>::When;
        let pays: Vec<String> = cucumber::codegen::inventory::iter::<When>
            .into_iter()
            .map(|s| (s.inner().1)().as_str().to_owned())
            .filter(|re| re.starts_with("^the customer (pays|starts paying) "))
            .collect();
        assert_eq!(pays.len(), 1, "{pays:?}");
        assert!(pays[0].contains(&format!(" ({}) as ", Amount::REGEX)), "{}", pays[0]);
        assert!(pays[0].contains(&format!("(?: at the ({}))?", ModelName::REGEX)), "{}", pays[0]);
        let entry = format!("(?: by ({}))?", EntryModePhrase::REGEX);
        assert!(pays[0].contains(&entry), "{}", pays[0]);
    }

    #[test]
    fn every_model_has_a_name_steps_can_use() {
        for model in ReaderModel::ALL {
            let catalog = ReaderCatalog::builtin();
            let name = &catalog.get(model).name;
            assert_eq!(model_named(name), Some(model));
            assert_eq!(name.parse(), Ok(ModelName(model)));
        }
    }
}
