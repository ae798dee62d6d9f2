//! What an offline engine's shell, the store and the history share about a
//! device, apart from the engine itself: who holds the engine, the account
//! and session that outlive an app run, and a record the store could not
//! read. (The offline status the app is shown is an event's value:
//! [`crate::event::OfflineStatus`].)

use super::{OfflineConfig, OfflineId};
use crate::money::Money;
use crate::profile::ReaderModel;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who runs this engine, which decides where payments are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The SDK on the POS, for mobile readers.
    Pos,
    /// A smart reader, which stores its own offline payments and reports its
    /// status to the POS with a lag.
    SmartReader { serial: String },
}

/// The account the device last saw online.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// `acct_…`.
    pub id: String,
    /// Live or test mode.
    pub livemode: bool,
}

/// What the SDK keeps between app runs (no payment data: those live in the
/// store). An app restart hands it back to [`OfflineEngine::new`], which is
/// the offline start-up path of incident rn-668.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The last account seen online.
    pub account: Option<Account>,
    /// The configuration fetched at the last online connect.
    pub config: Option<OfflineConfig>,
    /// Last online connection per reader model.
    pub online_by_model: BTreeMap<ReaderModel, Millis>,
    /// Last online connection per Location.
    pub online_by_location: BTreeMap<String, Millis>,
}

/// A stored record the store could not read back (corrupt or undecryptable):
/// what its clear header still says. The engine reports it; dropping it from
/// the store afterwards is the shell's work, by the record's position, which
/// needs no (possibly garbled) id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableRecord {
    /// The payment's offline id, if the header survived.
    pub offline_id: Option<OfflineId>,
    /// Its amount, if the header survived.
    pub amount: Option<Money>,
    /// Why it could not be read.
    pub reason: String,
}
