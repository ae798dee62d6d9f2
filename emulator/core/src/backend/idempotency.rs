//! `Idempotency-Key` semantics as Stripe documents them: the first reply to a
//! key is saved and replayed for every later request with the same key and
//! the same parameters; the same key with other parameters is an error.
//!
//! This is what makes forwarding exactly-once (invariant I2): the forwarder
//! sends one key per stored payment, and a retry after a crash or a lost
//! response gets the first answer back instead of a second charge.
//!
//! Pure bookkeeping: it never executes a request and never reads a clock.

use crate::backend::api::{ApiError, ApiReply, ApiRequest};
use crate::time::Millis;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

/// Whose keys these are: Stripe keeps keys per account, and an account's
/// live and test modes are separate worlds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KeyScope {
    pub(crate) account: String,
    pub(crate) livemode: bool,
}

/// What a key says about a new request.
#[derive(Debug, PartialEq)]
pub(crate) enum KeyLookup {
    /// Never seen (or forgotten): execute the request.
    New,
    /// Seen with these parameters: answer this, execute nothing.
    Replay(ApiReply),
    /// Seen with other parameters: refuse.
    Mismatch,
}

/// A saved reply, compact: an object as its JSON text (a `serde_json::Value`
/// of a payment intent takes several times the memory of its text, and a
/// served rig keeps one per forwarded payment for the key's lifetime, and
/// one per offline id for good).
#[derive(Debug)]
pub(crate) enum SavedReply {
    Ok(Box<str>),
    Err(ApiError),
}

impl SavedReply {
    pub(crate) fn of(reply: &ApiReply) -> SavedReply {
        match reply {
            ApiReply::Ok(value) => SavedReply::Ok(value.to_string().into_boxed_str()),
            ApiReply::Err(error) => SavedReply::Err(error.clone()),
        }
    }

    pub(crate) fn reply(&self) -> ApiReply {
        match self {
            SavedReply::Ok(text) => ApiReply::Ok(
                serde_json::from_str(text).expect("a saved reply is the JSON we wrote"),
            ),
            SavedReply::Err(error) => ApiReply::Err(error.clone()),
        }
    }
}

#[derive(Debug)]
struct Saved {
    /// The request's parameters, as a fingerprint: a key is replayed only
    /// for the same parameters, and only that needs answering.
    request: u64,
    reply: SavedReply,
    at: Millis,
}

/// A request's fingerprint: SipHash with fixed keys (`DefaultHasher::new`)
/// of its debug form, which names every parameter. The same on every run.
fn fingerprint(request: &ApiRequest) -> u64 {
    let mut hasher = DefaultHasher::new();
    format!("{request:?}").hash(&mut hasher);
    hasher.finish()
}

#[derive(Debug)]
pub(crate) struct IdempotencyKeys {
    lifetime: Duration,
    saved: BTreeMap<(KeyScope, String), Saved>,
}

impl IdempotencyKeys {
    pub(crate) fn new(lifetime: Duration) -> Self {
        IdempotencyKeys { lifetime, saved: BTreeMap::new() }
    }

    /// What `key` means for `request` at `now`. Parameters are compared
    /// whole; the token a call came with is not a parameter, so a retry with
    /// a refreshed token still replays.
    pub(crate) fn lookup(
        &self,
        now: Millis,
        scope: &KeyScope,
        key: &str,
        request: &ApiRequest,
    ) -> KeyLookup {
        match self.saved.get(&(scope.clone(), key.to_owned())) {
            Some(saved) if now < saved.at + self.lifetime => {
                if saved.request == fingerprint(request) {
                    KeyLookup::Replay(saved.reply.reply())
                } else {
                    KeyLookup::Mismatch
                }
            }
            _ => KeyLookup::New,
        }
    }

    /// Saves the reply to a request executed under `key` (unless it is one
    /// that is never saved: see [`is_saved`]).
    pub(crate) fn save(
        &mut self,
        now: Millis,
        scope: KeyScope,
        key: String,
        request: &ApiRequest,
        reply: &ApiReply,
    ) {
        if is_saved(reply) {
            let saved =
                Saved { request: fingerprint(request), reply: SavedReply::of(reply), at: now };
            self.saved.insert((scope, key), saved);
        }
    }
}

/// Whether a reply to an executed request is kept for replay: everything but
/// 5xx and 429.
pub(crate) fn is_saved(reply: &ApiReply) -> bool {
    match reply {
        ApiReply::Ok(_) => true,
        ApiReply::Err(error) => error.status < 500 && error.status != 429,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::api::{ApiError, ApiErrorKind};
    use crate::money::{Currency, Money};
    use crate::offline::CaptureMethod;
    use rstest::rstest;

    fn create(amount: u64) -> ApiRequest {
        ApiRequest::CreatePaymentIntent {
            amount: Money::new(amount, Currency::USD),
            capture: CaptureMethod::Automatic,
        }
    }

    fn scope(account: &str) -> KeyScope {
        KeyScope { account: account.to_owned(), livemode: false }
    }

    fn error(status: u16) -> ApiReply {
        ApiReply::Err(ApiError {
            status,
            kind: ApiErrorKind::ApiError,
            code: None,
            decline_code: None,
            message: String::new(),
            payment_intent: None,
            param: None,
        })
    }

    #[test]
    fn same_parameters_replay_other_parameters_mismatch() {
        let mut keys = IdempotencyKeys::new(Duration::from_secs(60));
        let reply = ApiReply::Ok(serde_json::json!({"id": "pi_1"}));
        keys.save(Millis::ZERO, scope("acct_1"), "k".into(), &create(100), &reply);
        assert_eq!(
            keys.lookup(Millis(1), &scope("acct_1"), "k", &create(100)),
            KeyLookup::Replay(reply.clone())
        );
        assert_eq!(
            keys.lookup(Millis(1), &scope("acct_1"), "k", &create(200)),
            KeyLookup::Mismatch
        );
        assert_eq!(keys.lookup(Millis(1), &scope("acct_2"), "k", &create(100)), KeyLookup::New);
        assert_eq!(keys.lookup(Millis(1), &scope("acct_1"), "other", &create(100)), KeyLookup::New);
    }

    #[test]
    fn a_key_is_forgotten_after_its_lifetime() {
        let mut keys = IdempotencyKeys::new(Duration::from_secs(60));
        keys.save(Millis::ZERO, scope("a"), "k".into(), &create(1), &error(402));
        assert!(matches!(
            keys.lookup(Millis(59_999), &scope("a"), "k", &create(1)),
            KeyLookup::Replay(_)
        ));
        assert_eq!(keys.lookup(Millis(60_000), &scope("a"), "k", &create(1)), KeyLookup::New);
    }

    #[rstest]
    #[case::card_error(402, true)]
    #[case::missing(404, true)]
    #[case::bad_state(400, true)]
    #[case::rate_limited(429, false)]
    #[case::server_error(500, false)]
    #[case::unavailable(503, false)]
    fn server_errors_and_rate_limits_are_not_saved(#[case] status: u16, #[case] saved: bool) {
        assert_eq!(is_saved(&error(status)), saved);
    }
}
