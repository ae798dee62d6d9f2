//! The payments the reference POS takes during a run: when each customer
//! arrives, how much, which card and how it is presented, the app's
//! OfflineBehavior, and at which reader.
//!
//! Drawn once from the run's seed, before the run starts, so the workload
//! never depends on what the faults did.

use crate::core::Millis;
use crate::core::offline::OfflineBehavior;
use crate::core::{Currency, Money};
use crate::core::{EntryMode, ReaderProfile};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Cards the random workload uses: approved credit and debit cards of the
/// offline brands, and one that declines (online, and at forwarding).
pub const WORKLOAD_CARDS: [&str; 6] = [
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "4000000000009995",
];

/// One customer at the counter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentSpec {
    /// The app's name for the payment (`pay_0001`).
    pub name: String,
    /// When the customer arrives.
    pub at: Millis,
    /// How much.
    pub amount: Money,
    /// The test card's number (never written to the history).
    pub card: String,
    /// How it is presented.
    pub entry_mode: EntryMode,
    /// The app's OfflineBehavior for it.
    pub behavior: OfflineBehavior,
    /// Which reader of the rig takes it.
    pub reader: usize,
}

/// A random day of customers at `readers`, spread over the first 85 % of
/// `duration`. Mostly PREFER_ONLINE, a quarter FORCE_OFFLINE, a few
/// REQUIRE_ONLINE; now and then a swipe (refused offline) or an amount over
/// the offline maximum (refused with its code).
pub fn random_payments(
    count: u32,
    duration: Duration,
    readers: &[&ReaderProfile],
    rng: &mut ChaCha8Rng,
) -> Vec<PaymentSpec> {
    let span = (duration.as_millis() as u64 * 85 / 100).max(1);
    let mut times: Vec<u64> = (0..count).map(|_| rng.random_range(0..span)).collect();
    times.sort_unstable();
    times
        .into_iter()
        .enumerate()
        .map(|(n, t)| {
            let reader = rng.random_range(0..readers.len());
            let profile = readers[reader];
            let swipe = profile.entry_modes.contains(&EntryMode::Swipe) && rng.random_bool(0.03);
            let entry_mode = if swipe {
                EntryMode::Swipe
            } else if profile.entry_modes.contains(&EntryMode::Contactless) && rng.random_bool(0.7)
            {
                EntryMode::Contactless
            } else {
                EntryMode::Chip
            };
            let minor =
                if rng.random_bool(0.01) { 2_000_000 } else { rng.random_range(100..20_000) };
            let behavior = match rng.random_range(0..100) {
                0..70 => OfflineBehavior::PreferOnline,
                70..95 => OfflineBehavior::ForceOffline,
                _ => OfflineBehavior::RequireOnline,
            };
            PaymentSpec {
                name: format!("pay_{:04}", n + 1),
                at: Millis(t),
                amount: Money::new(minor, Currency::USD),
                card: WORKLOAD_CARDS[rng.random_range(0..WORKLOAD_CARDS.len())].to_owned(),
                entry_mode,
                behavior,
                reader,
            }
        })
        .collect()
}
