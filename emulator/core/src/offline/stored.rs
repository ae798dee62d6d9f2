//! A payment stored offline: what the store keeps, encrypted, until the
//! forwarder has delivered it and the backend has answered.
//!
//! This is the one shape shared by the POS/SDK model (mobile readers), the
//! smart-reader offline engine, the durable store and the backend's
//! forwarding endpoint. It holds the full card number, because the backend
//! needs it to authorize at forwarding time; so it must never be written
//! anywhere but the store's encrypted records and the forwarding request
//! (invariant I7). Its `Debug` masks the number, and history events carry a
//! [`CardSummary`](crate::event::CardSummary) instead.

use crate::cards::{Brand, CardNumber, Funding, PinEntry, TestCard};
use crate::money::Money;
use crate::profile::EntryMode;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The id a payment has while it exists only offline (a PaymentIntent created
/// offline has no Stripe id until it is forwarded, docs/domain.md §3).
///
/// It is unique per payment forever: the SDK builds it from an instance id
/// drawn when the app starts and a counter, so an app restart cannot hand the
/// same id to a second payment (which would make the backend replay the first
/// payment's result for it, and lose it).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OfflineId(pub String);

impl OfflineId {
    /// The `Idempotency-Key` every forwarding attempt of this payment carries.
    /// It depends on nothing but the offline id, so retries, reboots, app
    /// restarts and upgrades all send the same key and the backend charges the
    /// payment once (incident android-747 is the bug this prevents).
    pub fn idempotency_key(&self) -> String {
        format!("readerlab-offline-{}", self.0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OfflineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OfflineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the backend captures the funds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Captured as soon as the payment is authorized (after forwarding, for
    /// an offline payment).
    Automatic,
    /// The app captures after the forwarded callback.
    Manual,
}

/// The card data a reader collected, as the store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    /// The full number: encrypted in the store, sent only to the backend.
    #[serde(with = "card_number_text")]
    pub number: CardNumber,
    /// Network.
    pub brand: Brand,
    /// Credit, debit or prepaid.
    pub funding: Funding,
    /// How it was read.
    pub entry_mode: EntryMode,
    /// Whether (and how) a PIN was verified on the reader.
    pub pin: PinEntry,
}

impl StoredCard {
    /// `card` as the reader read it: how, and with which PIN entry.
    pub fn read(card: &TestCard, entry_mode: EntryMode, pin: PinEntry) -> StoredCard {
        StoredCard {
            number: CardNumber::from(card.number.as_str()),
            brand: card.brand,
            funding: card.funding,
            entry_mode,
            pin,
        }
    }
}

impl fmt::Debug for StoredCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCard")
            .field("number", &self.number)
            .field("brand", &self.brand)
            .field("funding", &self.funding)
            .field("entry_mode", &self.entry_mode)
            .field("pin", &self.pin)
            .finish()
    }
}

/// One payment confirmed offline and kept until forwarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPayment {
    /// The offline id; its idempotency key is derived from it.
    pub offline_id: OfflineId,
    /// The Stripe id, when the intent was created online and confirmed
    /// offline (it keeps its id, docs/domain.md §3).
    pub intent_id: Option<String>,
    /// What was charged.
    pub amount: Money,
    /// When the payment was stored (the rig's clock).
    pub stored_at: Millis,
    /// The card.
    pub card: StoredCard,
    /// Automatic or manual capture.
    pub capture: CaptureMethod,
    /// The account the payment belongs to (the last seen account).
    pub account: String,
    /// Live or test mode of that account.
    pub livemode: bool,
    /// The Location of the reader that took it.
    pub location: String,
    /// The serial of the reader that took it.
    pub reader: String,
}

/// The store needs the full number and nothing else may have it, so the
/// number gets serde only here, as plain text inside an encrypted record.
mod card_number_text {
    use crate::cards::CardNumber;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(number: &CardNumber, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(number.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CardNumber, D::Error> {
        String::deserialize(d).map(CardNumber::from)
    }
}

/// Why a forwarded payment did not succeed, as `onPaymentIntentForwarded`
/// reports it: a Stripe code (`card_declined`, with the issuer's decline
/// code: decline on sync) or an SDK code (`ACCOUNT_ID_MISMATCH_WHILE_FORWARDING`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardError {
    /// The error code.
    pub code: String,
    /// The issuer's decline code, for a decline on sync.
    pub decline_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    pub(crate) fn sample() -> StoredPayment {
        StoredPayment {
            offline_id: OfflineId("off_a1_1".into()),
            intent_id: None,
            amount: Money::new(1000, Currency::USD),
            stored_at: Millis(5_000),
            card: StoredCard {
                number: CardNumber::from("4242424242424242"),
                brand: Brand::Visa,
                funding: Funding::Credit,
                entry_mode: EntryMode::Contactless,
                pin: PinEntry::NotEntered,
            },
            capture: CaptureMethod::Automatic,
            account: "acct_1".into(),
            livemode: false,
            location: "tml_1".into(),
            reader: "STRM2-0001".into(),
        }
    }

    #[test]
    fn debug_never_shows_the_card_number() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("424242424242"), "{text}");
        assert!(text.contains("4242"));
    }

    #[test]
    fn the_idempotency_key_depends_only_on_the_offline_id() {
        let mut other = sample();
        other.amount = Money::new(5, Currency::USD);
        assert_eq!(sample().offline_id.idempotency_key(), other.offline_id.idempotency_key());
        assert_eq!(sample().offline_id.idempotency_key(), "readerlab-offline-off_a1_1");
    }

    #[test]
    fn serde_round_trips_with_the_full_number() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(json.contains("4242424242424242"));
        let back: StoredPayment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }
}
