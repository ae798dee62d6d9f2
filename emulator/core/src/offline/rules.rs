//! The offline rules of docs/domain.md §2 and §3 as pure functions: whether
//! a payment may be created offline, and whether a collected card may be
//! confirmed and stored offline. Each refusal carries its documented SDK
//! error code (§5); the order of the checks is fixed and documented below,
//! because a card that breaks two rules must always get the same answer.

use crate::cards::{Brand, CardNumber, PinBehavior, PinEntry, TestCard};
use crate::error::TerminalErrorCode as Code;
use crate::money::{Currency, Money};
use crate::offline::config::OfflineConfig;
use crate::profile::EntryMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The app's choice per payment (docs/domain.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfflineBehavior {
    /// Online when the network works, offline otherwise (the default).
    #[default]
    PreferOnline,
    /// Fail when offline.
    RequireOnline,
    /// Store even when online; forward in the background.
    ForceOffline,
}

/// Where a payment is processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Online,
    Offline,
}

/// What the reader collected, as the SDK receives it for confirm.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectedCard {
    /// The full number (in the EMV data the reader encrypted for the SDK).
    pub number: CardNumber,
    /// How it was read.
    pub entry_mode: EntryMode,
    /// The PIN entered on the reader, if any.
    pub pin: PinEntry,
    /// Whether the reader read all the payment data it needs; false is the
    /// `MISSING_EMV_DATA` fault (a card pulled mid-read, a reader glitch).
    pub emv_complete: bool,
    /// When `number` is sealed card data (an SDK outside the rig, which
    /// never sees the number: `card_data` in docs/ble-gatt.md): the card's
    /// row of the test-card table, which is what the reader's kernel read
    /// of the card besides its number (brand, funding, CVM, expiry), and
    /// what the offline rules need.
    pub simulated_type: Option<String>,
}

impl CollectedCard {
    /// A card read completely, with no PIN.
    pub fn read(number: &str, entry_mode: EntryMode) -> Self {
        CollectedCard {
            number: number.into(),
            entry_mode,
            pin: PinEntry::NotEntered,
            emv_complete: true,
            simulated_type: None,
        }
    }
}

impl fmt::Debug for CollectedCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectedCard")
            .field("number", &self.number)
            .field("entry_mode", &self.entry_mode)
            .field("pin", &self.pin)
            .field("emv_complete", &self.emv_complete)
            .finish()
    }
}

/// Decides where a new payment goes, or refuses it.
///
/// `config` is the configuration last fetched online (none if the device
/// never was online); `account_known` says whether an account was seen
/// online (`NO_LAST_SEEN_ACCOUNT` otherwise, incident rn-668's start-up path).
pub fn mode_for_create(
    behavior: OfflineBehavior,
    network_up: bool,
    config: Option<&OfflineConfig>,
    account_known: bool,
) -> Result<Mode, Code> {
    let enabled = config.is_some_and(|c| c.enabled);
    match behavior {
        OfflineBehavior::RequireOnline if network_up => Ok(Mode::Online),
        OfflineBehavior::RequireOnline => Err(Code::NotConnectedToInternetAndRequireOnlineSet),
        OfflineBehavior::PreferOnline if network_up => Ok(Mode::Online),
        // Incident ios-275: FORCE_OFFLINE without offline mode is refused
        // with its own code and nothing is stored.
        OfflineBehavior::ForceOffline if !enabled => Err(Code::ForceOfflineWithFeatureDisabled),
        OfflineBehavior::PreferOnline if !enabled => Err(Code::NotConnectedToInternet),
        _ if !account_known => Err(Code::NoLastSeenAccount),
        OfflineBehavior::PreferOnline | OfflineBehavior::ForceOffline => Ok(Mode::Offline),
    }
}

/// What is already stored, for the record cap and the stored-amount limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTotals {
    /// Payments stored and not yet forwarded (acknowledged or being stored).
    pub count: u32,
    /// Their amounts per currency, in minor units.
    pub amounts: BTreeMap<Currency, u64>,
}

impl StoredTotals {
    /// Counts one more payment.
    pub fn add(&mut self, amount: Money) {
        self.count += 1;
        *self.amounts.entry(amount.currency).or_default() += amount.amount;
    }

    /// Counts one payment less.
    pub fn remove(&mut self, amount: Money) {
        self.count = self.count.checked_sub(1).expect("removing a payment that was counted");
        let total = self.amounts.get_mut(&amount.currency).expect("a counted currency");
        *total = total.checked_sub(amount.amount).expect("removing an amount that was counted");
        if *total == 0 {
            self.amounts.remove(&amount.currency);
        }
    }
}

/// Checks a collected card before it is confirmed and stored offline.
///
/// The order: first what the reader read (`MISSING_EMV_DATA`, swipe), then
/// what the card is (brand, online PIN, the EEA chip-and-PIN rule), then the
/// card's own offline verification (expiry, PIN), and last the amount rules
/// (currency, per-transaction maximum, record cap, stored-amount limit), so a
/// card the reader could not take never reports an amount problem.
///
/// `card` is the test card with the collected number; `None` is a number the
/// reader could not match to any card data, which is missing EMV data.
pub fn check_offline_confirm(
    config: &OfflineConfig,
    collected: &CollectedCard,
    card: Option<&TestCard>,
    amount: Money,
    stored: &StoredTotals,
) -> Result<(), Code> {
    let card = card.filter(|_| collected.emv_complete).ok_or(Code::MissingEmvData)?;
    if collected.entry_mode == EntryMode::Swipe {
        return Err(Code::CardSwipeNotAvailable);
    }
    if card.brand == Brand::Interac {
        return Err(Code::InteracNotSupportedOffline);
    }
    // Other brands that cannot go offline (girocard; NYCE/PULSE/STAR) have no
    // code of their own: the reader's offline verification declines them.
    if !card.offline_capable {
        return Err(Code::OfflineTransactionDeclined);
    }
    if matches!(card.pin, PinBehavior::Online | PinBehavior::OnlineScaRetry) {
        return Err(Code::OnlinePinNotSupportedOffline);
    }
    // EEA: inserted with PIN, no tap (§2). No code is documented; the
    // reader's offline verification fails, so the generic offline decline.
    if config.eea && (collected.entry_mode != EntryMode::Chip || collected.pin != PinEntry::Correct)
    {
        return Err(Code::OfflineTransactionDeclined);
    }
    if card.error_code.as_deref() == Some("expired_card") {
        return Err(Code::OfflineAndCardExpired);
    }
    let pin_fails = collected.pin == PinEntry::Wrong
        || (card.pin == PinBehavior::Offline && collected.pin != PinEntry::Correct);
    if pin_fails {
        return Err(Code::OfflineTransactionDeclined);
    }
    check_offline_amount(config, amount, stored)
}

/// The amount rules alone: currency, per-transaction maximum, record cap and
/// the optional stored-amount limit.
pub fn check_offline_amount(
    config: &OfflineConfig,
    amount: Money,
    stored: &StoredTotals,
) -> Result<(), Code> {
    let max = config.max_amount.get(&amount.currency).ok_or(Code::InvalidOfflineCurrency)?;
    if amount.amount > *max {
        return Err(Code::AmountExceedsMaxOfflineAmount);
    }
    if stored.count >= config.max_records {
        return Err(Code::OfflinePaymentsDatabaseTooLarge);
    }
    if let Some(limit) = config.stored_amount_limit.get(&amount.currency) {
        let already = stored.amounts.get(&amount.currency).copied().unwrap_or(0);
        if already + amount.amount > *limit {
            return Err(Code::OfflinePaymentsDatabaseTooLarge);
        }
    }
    Ok(())
}
