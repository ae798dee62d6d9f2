//! Amounts in minor units with their currency, as Stripe's API carries them.
//!
//! Test amounts decide outcomes by their last two digits in minor units
//! (docs/domain.md §6); zero-decimal currencies use the two rightmost digits
//! of the whole amount, which is the same arithmetic, so no special case.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A three-letter ISO currency code, lowercase as Stripe writes it (`usd`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars, the default currency of the bundled scenarios.
    pub const USD: Currency = Currency(*b"usd");

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Construction guarantees three ASCII lowercase letters.
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_lowercase) {
            return Err(format!("`{s}` is not a three-letter currency code"));
        }
        Ok(Currency([bytes[0], bytes[1], bytes[2]]))
    }
}

impl TryFrom<String> for Currency {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest amount Stripe takes, in minor units (99,999,999: $999,999.99).
pub const MAX_AMOUNT: u64 = 99_999_999;

/// An amount in minor units of its currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (cents for `usd`, yen for `jpy`).
    pub amount: u64,
    /// The currency of `amount`.
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: u64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// The two rightmost digits of the minor amount: the test-amount ending.
    pub fn test_ending(&self) -> u8 {
        (self.amount % 100) as u8
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_letters_lowercased() {
        assert_eq!("USD".parse::<Currency>().unwrap(), Currency::USD);
        assert!("us".parse::<Currency>().is_err());
        assert!("us1".parse::<Currency>().is_err());
        assert!("usdd".parse::<Currency>().is_err());
    }

    #[test]
    fn the_test_ending_is_the_last_two_minor_digits() {
        assert_eq!(Money::new(1055, Currency::USD).test_ending(), 55);
        assert_eq!(Money::new(7, Currency::USD).test_ending(), 7);
        assert_eq!(Money::new(1200, "jpy".parse().unwrap()).test_ending(), 0);
    }
}
