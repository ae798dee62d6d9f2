//! Connection tokens: minted for the app's token provider, each bound to an
//! account and a mode, each valid for a configured lifetime.
//!
//! A call the SDK makes carries a token's secret; this module says whom it
//! acts for, or why it cannot (unknown, expired). It does not decide what a
//! refusal looks like on the wire; the ledger does.

use crate::time::Millis;
use std::collections::BTreeMap;
use std::time::Duration;

/// One minted connection token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionToken {
    /// `pst_test_…` or `pst_live_…`, from a counter, fixed width.
    pub secret: String,
    /// The account the token acts for.
    pub account: String,
    /// Live or test mode.
    pub livemode: bool,
    /// The Location the token was restricted to, if any.
    pub location: Option<String>,
    /// When it was minted.
    pub created: Millis,
}

/// Why a secret does not authorize a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// No token was ever minted with this secret.
    Unknown,
    /// The token's lifetime is over.
    Expired,
}

/// Every token minted so far.
#[derive(Debug)]
pub(crate) struct ConnectionTokens {
    lifetime: Duration,
    by_secret: BTreeMap<String, ConnectionToken>,
    minted: u64,
}

impl ConnectionTokens {
    pub(crate) fn new(lifetime: Duration) -> Self {
        ConnectionTokens { lifetime, by_secret: BTreeMap::new(), minted: 0 }
    }

    /// Mints a token at `now` for `account` in its mode.
    pub(crate) fn mint(
        &mut self,
        now: Millis,
        account: &str,
        livemode: bool,
        location: Option<String>,
    ) -> ConnectionToken {
        self.minted += 1;
        let mode = if livemode { "live" } else { "test" };
        let token = ConnectionToken {
            secret: format!("pst_{mode}_{:012}", self.minted),
            account: account.to_owned(),
            livemode,
            location,
            created: now,
        };
        self.by_secret.insert(token.secret.clone(), token.clone());
        token
    }

    /// The token a call presents, if it still authorizes calls at `now`. A
    /// token is valid from its minting for `lifetime`, the end excluded.
    pub(crate) fn check(
        &self,
        now: Millis,
        secret: &str,
    ) -> Result<&ConnectionToken, TokenRefusal> {
        let token = self.by_secret.get(secret).ok_or(TokenRefusal::Unknown)?;
        if now >= token.created + self.lifetime {
            return Err(TokenRefusal::Expired);
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_until_its_lifetime_ends() {
        let mut tokens = ConnectionTokens::new(Duration::from_secs(60));
        let secret = tokens.mint(Millis(1_000), "acct_1", false, None).secret;
        assert_eq!(secret, "pst_test_000000000001");
        assert_eq!(tokens.check(Millis(60_999), &secret).map(|t| t.account.as_str()), Ok("acct_1"));
        assert_eq!(tokens.check(Millis(61_000), &secret), Err(TokenRefusal::Expired));
        assert_eq!(tokens.check(Millis(1_000), "pst_test_nope"), Err(TokenRefusal::Unknown));
    }

    #[test]
    fn secrets_say_their_mode_and_sort_in_minting_order() {
        let mut tokens = ConnectionTokens::new(Duration::from_secs(60));
        let first = tokens.mint(Millis::ZERO, "acct_1", true, None).secret;
        let second = tokens.mint(Millis::ZERO, "acct_1", true, None).secret;
        assert!(first.starts_with("pst_live_"), "{first}");
        assert!(first < second);
    }
}
