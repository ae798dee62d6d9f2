//! What a backend is set up with: the account it serves, live or test mode,
//! how its rig time maps to Unix time, how long credentials and idempotency
//! keys live, and the issuer's test tables.
//!
//! Plain data with every default stated here, in one place. It must not hold
//! state that changes during a run; that is the ledger's.

use crate::cards::TestCards;
use crate::time::{Millis, hours};
use std::sync::Arc;
use std::time::Duration;

/// The backend's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendConfig {
    /// The platform account secret-key calls act for (`acct_…`), and the
    /// account connection tokens are bound to unless a fault says otherwise.
    pub account: String,
    /// Live or test mode of that account. Test mode by default, as every
    /// test card only exists there.
    pub livemode: bool,
    /// The Unix time, in seconds, of rig time zero: objects' `created`,
    /// `canceled_at` and `offline.stored_at` are this plus the rig time.
    /// Default 1 700 000 000 (2023-11-14T22:13:20Z), a fixed instant so
    /// histories and snapshots do not change with the day they run.
    pub epoch_unix_secs: u64,
    /// How long a connection token authorizes calls. Stripe does not document
    /// a lifetime (only that tokens are short-lived and the SDK fetches new
    /// ones itself), so it is configurable; default 10 minutes.
    pub connection_token_lifetime: Duration,
    /// How long a saved idempotent reply is replayed. Stripe documents that
    /// keys "are eligible to be removed" once at least 24 hours old; default
    /// 24 hours. A retry later than this executes again.
    pub idempotency_key_lifetime: Duration,
    /// The issuer's tables: the same ones the readers use, so online confirm
    /// and forwarding can never disagree about a card.
    pub cards: Arc<TestCards>,
    /// The secret key (`sk_test_…`) a served backend's clients must present;
    /// default `sk_test_readerlab`. Only the wire layer reads it.
    pub secret_key: String,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            account: "acct_readerlab0000001".to_owned(),
            livemode: false,
            epoch_unix_secs: 1_700_000_000,
            connection_token_lifetime: Duration::from_secs(10 * 60),
            idempotency_key_lifetime: hours(24),
            cards: Arc::new(TestCards::builtin().clone()),
            secret_key: "sk_test_readerlab".to_owned(),
        }
    }
}

impl BackendConfig {
    /// Unix seconds of a rig instant (whole seconds, rounded down, as Stripe's
    /// timestamps are).
    pub fn unix_secs(&self, at: Millis) -> u64 {
        self.epoch_unix_secs.saturating_add(at.0 / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_is_the_epoch_plus_whole_rig_seconds() {
        let config = BackendConfig::default();
        assert_eq!(config.unix_secs(Millis::ZERO), 1_700_000_000);
        assert_eq!(config.unix_secs(Millis(2_999)), 1_700_000_002);
    }
}
