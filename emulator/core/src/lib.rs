//! readerlab-core: the sans-IO core. State machines that take the time and an
//! input and hand back effects (events) for a shell to perform, and the pure
//! codecs the shells speak on the wire.
//!
//! **Architecture invariant:** nothing in this crate touches a socket, a file, a
//! thread, the system clock or a global random generator. Time arrives as a
//! [`Millis`] parameter; effects leave as values. That is what lets the
//! simulator replay a run byte for byte and lets the served target reuse the
//! very same logic on real sockets.

// The leaf modules are private: their names are this crate's vocabulary and
// are used from the root (`readerlab_core::Millis`). The three machines and the
// codecs keep their namespaces, each with its own curated root.
mod cards;
mod data_file;
mod defect;
mod discovery;
mod error;
mod event;
mod fault;
mod invariant;
mod money;
mod profile;
mod time;

pub mod backend;
pub mod offline;
pub mod reader;
pub mod wire;

pub use cards::{
    Authorization, Brand, CardNumber, Funding, Outcome, PinBehavior, PinEntry, TestAmount,
    TestCard, TestCards, luhn_valid_digits,
};
pub use data_file::{DataFileError, parse as parse_data_file};
pub use defect::{Defect, DefectSheet, Defects, UnknownDefect};
pub use discovery::{DiscoveryRequest, discover};
pub use error::TerminalErrorCode;
pub use event::{
    BatteryStatus, CardSummary, ConnectionStatus, DisconnectReason, DiscoveredReader, Event,
    EventBody, MerchantNotice, NetworkStatus, OfflineDetails, Part, PaymentRequest, PosOutcome,
    PowerOffCause, Prompt, RebootKind, ReportPhase, RigReader, RunSource, ScheduledStep, StoredBy,
    UpdateFailure,
};
pub use fault::FaultKind;
pub use invariant::Invariant;
pub use money::{Currency, MAX_AMOUNT, Money};
pub use profile::{
    BatteryProfile, ConnectionProfile, DiscoveryMethod, DiscoveryProfile, EntryMode, Family,
    LinkKind, Pairing, ReaderModel, ReaderProfile, RebootProfile, StoreLocation, UpdateProfile,
};
pub use time::Millis;
