//! readerlab-core: the sans-IO core. State machines that take the time and an
//! input and hand back effects (events) for a shell to perform, and the pure
//! codecs the shells speak on the wire.
//!
//! **Architecture invariant:** nothing in this crate touches a socket, a file, a
//! thread, the system clock or a global random generator. Time arrives as a
//! [`Millis`] parameter; effects leave as values. That is what lets the
//! simulator replay a run byte for byte and lets the served target reuse the
//! very same logic on real sockets.

pub mod backend;
pub mod cards;
pub mod data_file;
pub mod defect;
pub mod discovery;
pub mod error;
pub mod event;
pub mod fault;
pub mod invariant;
pub mod money;
pub mod offline;
pub mod profile;
pub mod reader;
pub mod time;
pub mod wire;

pub use error::TerminalErrorCode;
pub use event::{EventBody, Part};
pub use money::{Currency, Money};
pub use time::Millis;
