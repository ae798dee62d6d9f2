//! The offline settings: what the Terminal configuration says (`offline.enabled`)
//! and every number docs/domain.md documents or leaves to us.
//!
//! Documented values are the defaults; undocumented ones are configurable,
//! each with its default stated here and only here.

use crate::money::Currency;
use crate::time::{hours, secs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The offline part of a Terminal configuration, as the device last fetched
/// it online. Changes reach a device only at its next online connect
/// (docs/domain.md §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineConfig {
    /// `offline.enabled`; documented default false.
    pub enabled: bool,
    /// Currencies enabled offline, each with its per-transaction maximum in
    /// minor units: 10,000 USD "or equivalent" (§2). A currency not listed is
    /// refused with `INVALID_OFFLINE_CURRENCY`.
    pub max_amount: BTreeMap<Currency, u64>,
    /// The app's own limit on the total stored per currency (§2: not in the
    /// SDK, so off by default; the emulator offers it so apps' limits can be
    /// tested). Refused with `OFFLINE_PAYMENTS_DATABASE_TOO_LARGE`.
    pub stored_amount_limit: BTreeMap<Currency, u64>,
    /// Record-count cap (`OFFLINE_PAYMENTS_DATABASE_TOO_LARGE`); the number
    /// is not documented. Default 1,000.
    pub max_records: u32,
    /// Whether the Location is in the EEA, where offline cards must be
    /// inserted and verified by PIN (§2).
    pub eea: bool,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        OfflineConfig {
            enabled: false,
            max_amount: BTreeMap::from([(Currency::USD, 1_000_000)]),
            stored_amount_limit: BTreeMap::new(),
            max_records: 1_000,
            eea: false,
        }
    }
}

impl OfflineConfig {
    /// Offline mode on, USD only, everything else at its default.
    pub fn enabled() -> Self {
        OfflineConfig { enabled: true, ..OfflineConfig::default() }
    }
}

/// The timings of the SDK's requests and of forwarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// An online request that takes longer falls back offline (§3: about 15 s).
    pub online_request_timeout: Duration,
    /// One forwarding attempt's timeout (§4: 30 s).
    pub forward_attempt_timeout: Duration,
    /// Tries per forwarding round before backing off (§4: 3).
    pub forward_tries: u32,
    /// How long to wait for the connection-token provider (§4: 60 s).
    pub token_wait: Duration,
    /// First back-off after a failed round; doubles each round (not
    /// documented: configurable, default 2 s).
    pub backoff_initial: Duration,
    /// The back-off never exceeds this, so a queue still drains within the
    /// checker's 60 s window once links are stable (not documented: 30 s).
    pub backoff_max: Duration,
    /// A connection made online lets the device connect offline for this long
    /// afterwards (§2: 30 days), and the reader's software must have been
    /// updated within the same window.
    pub offline_connect_window: Duration,
    /// How long the smart reader's offline status takes to reach the POS
    /// (§4: eventually consistent, about a minute).
    pub reader_status_lag: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            online_request_timeout: secs(15),
            forward_attempt_timeout: secs(30),
            forward_tries: 3,
            token_wait: secs(60),
            backoff_initial: secs(2),
            backoff_max: secs(30),
            offline_connect_window: hours(24 * 30),
            reader_status_lag: secs(60),
        }
    }
}
