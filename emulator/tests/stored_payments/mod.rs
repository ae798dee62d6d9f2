//! The stored payment the store tests and the store's fuzz targets write:
//! payment number `i`, with the `i`-th card of the built-in test table, so
//! a sequence of them covers every card, two currencies and intents created
//! online or not.

use readerlab_emulator::core::offline::{CaptureMethod, OfflineId, StoredCard, StoredPayment};
use readerlab_emulator::core::{
    CardNumber, Currency, EntryMode, Millis, Money, PinEntry, TestCards,
};

/// Payment number `i` (offline id `<prefix>_<i>`), taken at `reader`.
pub fn numbered(prefix: &str, i: usize, reader: &str) -> StoredPayment {
    let cards = &TestCards::builtin().cards;
    let card = &cards[i % cards.len()];
    StoredPayment {
        offline_id: OfflineId(format!("{prefix}_{i}")),
        intent_id: i.is_multiple_of(3).then(|| format!("pi_{i}")),
        amount: Money::new(
            1000 + i as u64,
            if i % 4 == 3 { "eur".parse().expect("a currency") } else { Currency::USD },
        ),
        stored_at: Millis(5_000 + i as u64),
        card: StoredCard {
            number: CardNumber::from(card.number.as_str()),
            brand: card.brand,
            funding: card.funding,
            entry_mode: EntryMode::Chip,
            pin: PinEntry::Correct,
        },
        capture: CaptureMethod::Automatic,
        account: "acct_1".into(),
        livemode: false,
        location: "tml_1".into(),
        reader: reader.into(),
    }
}
