//! Test cards and test amounts (docs/domain.md §6), and the online
//! authorization they produce.
//!
//! The tables are data in `fixtures/cards.toml`; this module parses them and
//! decides an authorization from a card, an amount, how the card was read and
//! whether a PIN was entered. The reader core (online confirm) and, later, the
//! backend ledger (forwarding, decline on sync) both call [`TestCards::authorize`],
//! so the two can never disagree about what a card does.

use crate::data_file::{self, DataFileError};
use crate::money::Money;
use crate::profile::EntryMode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

/// Card brand (network).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Unionpay,
    Interac,
    Girocard,
}

/// Card funding type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    Credit,
    Debit,
    Prepaid,
}

/// The cardholder verification a card asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinBehavior {
    /// No PIN.
    None,
    /// PIN verified by the card (`offline_pin_cvm`).
    Offline,
    /// PIN verified by the issuer (`online_pin_cvm`); refused offline.
    Online,
    /// A tap is declined for SCA; the card must be inserted and a PIN entered
    /// (`online_pin_sca_retry`).
    OnlineScaRetry,
}

/// A card number as typed into a scenario. Its `Debug` shows only the last
/// four digits, so logging an input (or a proptest regression file) never
/// writes a full number (invariant I7).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

impl CardNumber {
    /// The number as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters (fewer if the number is shorter); safe on any
    /// text, since a scenario may contain anything.
    pub fn last4(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl From<&str> for CardNumber {
    fn from(number: &str) -> Self {
        CardNumber(number.to_owned())
    }
}

impl From<String> for CardNumber {
    fn from(number: String) -> Self {
        CardNumber(number)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(…{})", self.last4())
    }
}

/// One test card of docs/domain.md §6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCard {
    /// The full test number. It is test data, but it still never reaches a
    /// history or a stored record in clear (invariant I7).
    pub number: String,
    /// Stripe's simulated-card name (`visa_debit`, `online_pin_cvm`, ...).
    pub simulated_type: String,
    /// Network.
    pub brand: Brand,
    /// Credit, debit or prepaid.
    pub funding: Funding,
    /// Whether the brand may be used offline (not Interac, not girocard).
    pub offline_capable: bool,
    /// PIN behaviour.
    pub pin: PinBehavior,
    /// `approved`, or `declined` with the codes below.
    pub outcome: Outcome,
    /// Stripe error `code` of a declined card (`card_declined`, `expired_card`, ...).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Stripe `decline_code` of a declined card.
    #[serde(default)]
    pub decline_code: Option<String>,
}

impl TestCard {
    /// The last four digits, the only part of the number events may carry.
    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }
}

/// A table outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The issuer approves.
    Approved,
    /// The issuer declines with the row's decline code.
    Declined,
    /// The issuer asks for a PIN; entered, it approves (amounts 02 and 03).
    PinRequired,
}

/// One test-amount ending of docs/domain.md §6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestAmount {
    /// The two digits, as text (`"05"`).
    pub ending: String,
    /// What the ending does.
    pub outcome: Outcome,
    /// The decline code, for `declined` and `pin_required` rows.
    #[serde(default)]
    pub decline_code: Option<String>,
}

/// Whether, and how, a PIN has been entered for this authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinEntry {
    /// No PIN entered yet.
    NotEntered,
    /// The test PIN was entered.
    Correct,
    /// Some other PIN was entered.
    Wrong,
}

/// The issuer's answer to one authorization attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Authorization {
    /// Approved.
    Approved,
    /// Declined; `error_code` is Stripe's error `code`, `decline_code` the reason.
    Declined { error_code: String, decline_code: String },
    /// Ask for a PIN (and, for `insert_first`, the card inserted) and try again.
    PinRequired { decline_code: String, insert_first: bool },
}

/// The parsed `fixtures/cards.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCards {
    /// The PIN that verifies (`1234`).
    pub test_pin: String,
    /// Every test card, in table order.
    #[serde(rename = "card")]
    pub cards: Vec<TestCard>,
    /// Every special test-amount ending; other endings approve.
    #[serde(rename = "amount")]
    pub amounts: Vec<TestAmount>,
}

impl TestCards {
    /// The card with this number, if it is a test card.
    pub fn by_number(&self, number: &str) -> Option<&TestCard> {
        self.cards.iter().find(|c| c.number == number)
    }

    /// The card with this simulated-type name (`visa`, `interac`, ...).
    pub fn by_type(&self, simulated_type: &str) -> Option<&TestCard> {
        self.cards.iter().find(|c| c.simulated_type == simulated_type)
    }

    /// Parses and validates a cards table. `file` only names the source in
    /// errors.
    ///
    /// Besides the schema, it checks what the authorization logic relies on:
    /// numbers are 13–19 digits and pass the Luhn check, numbers and simulated
    /// types are unique, a declined card carries both codes and an approved one
    /// none, endings are two digits and unique, declined and PIN-requesting
    /// endings carry a decline code, and the test PIN is 4–12 digits.
    pub fn from_toml(file: &str, text: &str) -> Result<TestCards, DataFileError> {
        let cards: TestCards = data_file::parse(file, text)?;
        cards.validate().map_err(|invalid| {
            DataFileError::at(file, text, &invalid.at.to_string(), invalid.message)
        })?;
        Ok(cards)
    }

    /// The table bundled with the emulator (`fixtures/cards.toml`), parsed once.
    ///
    /// # Panics
    ///
    /// If the bundled file does not load: that is a bug in the repository, and
    /// the tests of this module catch it first.
    pub fn builtin() -> &'static TestCards {
        static BUILTIN: OnceLock<TestCards> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            TestCards::from_toml(
                "fixtures/cards.toml",
                include_str!("../../../fixtures/cards.toml"),
            )
            .unwrap_or_else(|e| panic!("the bundled cards table does not load: {e}"))
        })
    }

    /// The special test-amount row for this amount's ending, if it has one.
    pub fn amount_rule(&self, amount: Money) -> Option<&TestAmount> {
        let ending = format!("{:02}", amount.test_ending());
        self.amounts.iter().find(|a| a.ending == ending)
    }

    /// Decides one online authorization.
    ///
    /// Order: a declining card declines whatever the amount; then the card's
    /// own PIN behaviour; then a wrong PIN; then the amount ending. `pin_pad`
    /// says whether the reader can take a PIN at all: where it cannot, a PIN
    /// request becomes a decline with the same code, as the issuer would see it.
    ///
    /// In detail:
    /// 1. A `declined` card answers with its own codes, PIN or not.
    /// 2. A card that verifies a PIN (`offline`, `online`) asks for one while
    ///    none was entered. An `online_sca_retry` card asks too, and on a tap
    ///    it asks for the card to be inserted first.
    /// 3. A wrong PIN declines with `incorrect_pin`: a PIN is only entered when
    ///    something asked for it, so this covers the card's request and the
    ///    amount's alike.
    /// 4. A declining ending declines with `card_declined` and the row's code;
    ///    a PIN-requesting ending asks for a PIN unless the correct one was
    ///    entered (one PIN satisfies card and amount); other endings approve.
    ///
    /// # Panics
    ///
    /// If a declining card or row has no decline code, which [`Self::from_toml`]
    /// rules out.
    pub fn authorize(
        &self,
        card: &TestCard,
        amount: Money,
        entry: EntryMode,
        pin: PinEntry,
        pin_pad: bool,
    ) -> Authorization {
        match self.issuer_answer(card, amount, entry, pin) {
            // Without a PIN pad nothing can answer the request, so the request
            // itself is the final word, with the code the issuer gave.
            Authorization::PinRequired { decline_code, .. } if !pin_pad => {
                declined("card_declined", &decline_code)
            }
            answer => answer,
        }
    }

    /// Steps 1–4 of [`Self::authorize`], as if the reader had a PIN pad.
    fn issuer_answer(
        &self,
        card: &TestCard,
        amount: Money,
        entry: EntryMode,
        pin: PinEntry,
    ) -> Authorization {
        if card.outcome == Outcome::Declined {
            return declined(
                required(&card.error_code, "a declined card's error_code"),
                required(&card.decline_code, "a declined card's decline_code"),
            );
        }

        let card_asks = match card.pin {
            PinBehavior::None => None,
            PinBehavior::Offline => Some(("offline_pin_required", false)),
            PinBehavior::Online => Some(("online_or_offline_pin_required", false)),
            PinBehavior::OnlineScaRetry => {
                Some(("online_or_offline_pin_required", entry == EntryMode::Contactless))
            }
        };
        if let (Some((code, insert_first)), PinEntry::NotEntered) = (card_asks, pin) {
            return pin_required(code, insert_first);
        }

        if pin == PinEntry::Wrong {
            return declined("card_declined", "incorrect_pin");
        }

        let Some(rule) = self.amount_rule(amount) else {
            return Authorization::Approved;
        };
        let code = || required(&rule.decline_code, "a declining test amount's decline_code");
        match rule.outcome {
            Outcome::Declined => declined("card_declined", code()),
            Outcome::PinRequired if pin != PinEntry::Correct => pin_required(code(), false),
            Outcome::PinRequired | Outcome::Approved => Authorization::Approved,
        }
    }

    /// The checks [`Self::from_toml`] documents, first failure wins.
    fn validate(&self) -> Result<(), Invalid> {
        check(is_digits(&self.test_pin, 4..=12), At::Top("test_pin"), "must be 4 to 12 digits")?;

        let mut numbers = HashMap::new();
        let mut types = HashMap::new();
        for (i, card) in self.cards.iter().enumerate() {
            let at = |field| At::Row("card", i, field);
            check(is_digits(&card.number, 13..=19), at("number"), "must be 13 to 19 digits")?;
            check(luhn_valid(&card.number), at("number"), "fails the Luhn check")?;
            if let Some(first) = numbers.insert(card.number.as_str(), i) {
                return Err(Invalid::new(at("number"), format!("repeats card[{first}]")));
            }
            if let Some(first) = types.insert(card.simulated_type.as_str(), i) {
                return Err(Invalid::new(at("simulated_type"), format!("repeats card[{first}]")));
            }
            // A card's own PIN request is `pin`; `pin_required` is an
            // amount-row outcome only.
            check(
                card.outcome != Outcome::PinRequired,
                at("outcome"),
                "a card is approved or declined; its PIN request goes in `pin`",
            )?;
            let declines = card.outcome == Outcome::Declined;
            let codes = "a declined card needs one, an approved card has none";
            check(card.error_code.is_some() == declines, at("error_code"), codes)?;
            check(card.decline_code.is_some() == declines, at("decline_code"), codes)?;
        }

        let mut endings = HashMap::new();
        for (i, amount) in self.amounts.iter().enumerate() {
            let at = |field| At::Row("amount", i, field);
            check(is_digits(&amount.ending, 2..=2), at("ending"), "must be exactly two digits")?;
            if let Some(first) = endings.insert(amount.ending.as_str(), i) {
                return Err(Invalid::new(at("ending"), format!("repeats amount[{first}]")));
            }
            check(
                amount.decline_code.is_some() == (amount.outcome != Outcome::Approved),
                at("decline_code"),
                "declined and pin_required rows need one, approved rows have none",
            )?;
        }
        Ok(())
    }
}

/// A table that parsed but breaks a rule of [`TestCards::from_toml`].
#[derive(Debug)]
struct Invalid {
    at: At,
    message: String,
}

impl Invalid {
    fn new(at: At, message: impl Into<String>) -> Self {
        Invalid { at, message: message.into() }
    }
}

/// Where a broken rule sits: the key an error names, and so its line.
#[derive(Clone, Copy, Debug)]
enum At {
    /// A top-level key (`test_pin`).
    Top(&'static str),
    /// A field of one `[[table]]` row (`card[3].number`).
    Row(&'static str, usize, &'static str),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Top(key) => f.write_str(key),
            At::Row(table, index, field) => write!(f, "{table}[{index}].{field}"),
        }
    }
}

fn declined(error_code: &str, decline_code: &str) -> Authorization {
    Authorization::Declined {
        error_code: error_code.to_owned(),
        decline_code: decline_code.to_owned(),
    }
}

fn pin_required(decline_code: &str, insert_first: bool) -> Authorization {
    Authorization::PinRequired { decline_code: decline_code.to_owned(), insert_first }
}

/// A code validation guarantees; its absence is a hand-built table's bug.
fn required<'a>(code: &'a Option<String>, what: &str) -> &'a str {
    code.as_deref().unwrap_or_else(|| panic!("{what} is missing (from_toml rejects this)"))
}

/// `Err` with `message` at `at` unless `ok`.
fn check(ok: bool, at: At, message: &str) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err(Invalid::new(at, message)) }
}

/// Whether `s` is only ASCII digits, with a length in `len`.
fn is_digits(s: &str, len: RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The Luhn (mod 10) check every card number carries: a mistyped test number
/// in the fixture would otherwise only show up as a card nobody can find.
fn luhn_valid(digits: &str) -> bool {
    luhn_valid_digits(digits.as_bytes())
}

/// The Luhn check over ASCII digits (the caller has checked they are
/// digits). Shared by the fixture check, the simulator's storage scan and
/// the checker's search for card numbers in clear (I7).
pub fn luhn_valid_digits(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        // Every second digit from the right is doubled, and a two-digit
        // result counts as the sum of its digits (d * 2 - 9).
        .map(|(i, d)| match (i % 2 == 1, d) {
            (false, d) => d,
            (true, d @ 0..=4) => d * 2,
            (true, d) => d * 2 - 9,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rstest::rstest;

    fn approved() -> Authorization {
        Authorization::Approved
    }

    fn usd(amount: u64) -> Money {
        Money::new(amount, Currency::USD)
    }

    fn card(number: &str) -> &'static TestCard {
        TestCards::builtin()
            .by_number(number)
            .unwrap_or_else(|| panic!("{number} is not in fixtures/cards.toml"))
    }

    fn visa() -> &'static TestCard {
        card("4242424242424242")
    }

    /// The expectations are written out from docs/domain.md §6 and the brand
    /// rules of §2, not read back from the fixture, so a wrong row fails here.
    #[rstest]
    #[case::visa("4242424242424242", "visa", Brand::Visa, Funding::Credit, true, approved())]
    #[case::visa_debit(
        "4000056655665556",
        "visa_debit",
        Brand::Visa,
        Funding::Debit,
        true,
        approved()
    )]
    #[case::mastercard(
        "5555555555554444",
        "mastercard",
        Brand::Mastercard,
        Funding::Credit,
        true,
        approved()
    )]
    #[case::mastercard_debit(
        "5200828282828210",
        "mastercard_debit",
        Brand::Mastercard,
        Funding::Debit,
        true,
        approved()
    )]
    #[case::mastercard_prepaid(
        "5105105105105100",
        "mastercard_prepaid",
        Brand::Mastercard,
        Funding::Prepaid,
        true,
        approved()
    )]
    #[case::amex("378282246310005", "amex", Brand::Amex, Funding::Credit, true, approved())]
    #[case::discover(
        "6011111111111117",
        "discover",
        Brand::Discover,
        Funding::Credit,
        true,
        approved()
    )]
    #[case::jcb("3566002020360505", "jcb", Brand::Jcb, Funding::Credit, true, approved())]
    #[case::unionpay(
        "6200000000000005",
        "unionpay",
        Brand::Unionpay,
        Funding::Credit,
        true,
        approved()
    )]
    #[case::interac(
        "4506445006931933",
        "interac",
        Brand::Interac,
        Funding::Debit,
        false,
        approved()
    )]
    #[case::girocard(
        "4711009900000316877",
        "girocard",
        Brand::Girocard,
        Funding::Debit,
        false,
        approved()
    )]
    #[case::offline_pin_cvm(
        "4001007020000002",
        "offline_pin_cvm",
        Brand::Visa,
        Funding::Credit,
        true,
        pin_required("offline_pin_required", false)
    )]
    #[case::online_pin_cvm(
        "4001000360000005",
        "online_pin_cvm",
        Brand::Visa,
        Funding::Credit,
        true,
        pin_required("online_or_offline_pin_required", false)
    )]
    #[case::online_pin_sca_retry(
        "4000002760000008",
        "online_pin_sca_retry",
        Brand::Visa,
        Funding::Credit,
        true,
        pin_required("online_or_offline_pin_required", false)
    )]
    #[case::card_declined(
        "4000000000000002",
        "card_declined",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("card_declined", "generic_decline")
    )]
    #[case::insufficient_funds(
        "4000000000009995",
        "insufficient_funds",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("card_declined", "insufficient_funds")
    )]
    #[case::lost_card(
        "4000000000009987",
        "lost_card",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("card_declined", "lost_card")
    )]
    #[case::stolen_card(
        "4000000000009979",
        "stolen_card",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("card_declined", "stolen_card")
    )]
    #[case::expired_card(
        "4000000000000069",
        "expired_card",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("expired_card", "expired_card")
    )]
    #[case::processing_error(
        "4000000000000119",
        "processing_error",
        Brand::Visa,
        Funding::Credit,
        true,
        declined("processing_error", "processing_error")
    )]
    fn every_test_card_is_in_the_table_and_authorizes_as_documented(
        #[case] number: &str,
        #[case] simulated_type: &str,
        #[case] brand: Brand,
        #[case] funding: Funding,
        #[case] offline_capable: bool,
        #[case] expected: Authorization,
    ) {
        let cards = TestCards::builtin();
        let card = card(number);
        assert_eq!(cards.by_type(simulated_type), Some(card));
        assert_eq!(
            (card.brand, card.funding, card.offline_capable),
            (brand, funding, offline_capable)
        );
        let answer = cards.authorize(card, usd(1000), EntryMode::Chip, PinEntry::NotEntered, true);
        assert_eq!(answer, expected);
    }

    #[rstest]
    #[case::ending_00(1000, approved())]
    #[case::ending_01(1001, declined("card_declined", "call_issuer"))]
    #[case::ending_02(1002, pin_required("offline_pin_required", false))]
    #[case::ending_03(1003, pin_required("online_or_offline_pin_required", false))]
    #[case::ending_05(1005, declined("card_declined", "generic_decline"))]
    #[case::ending_55(1055, declined("card_declined", "incorrect_pin"))]
    #[case::ending_65(1065, declined("card_declined", "withdrawal_count_limit_exceeded"))]
    #[case::ending_75(1075, declined("card_declined", "pin_try_exceeded"))]
    #[case::ordinary_42(1042, approved())]
    #[case::ordinary_99(1099, approved())]
    #[case::single_digit_is_ending_05(5, declined("card_declined", "generic_decline"))]
    #[case::hundreds_digit_is_ignored(10_105, declined("card_declined", "generic_decline"))]
    fn every_test_amount_ending_authorizes_as_documented(
        #[case] amount: u64,
        #[case] expected: Authorization,
    ) {
        let answer = TestCards::builtin().authorize(
            visa(),
            usd(amount),
            EntryMode::Chip,
            PinEntry::NotEntered,
            true,
        );
        assert_eq!(answer, expected);
    }

    const OFFLINE_PIN: &str = "4001007020000002";
    const ONLINE_PIN: &str = "4001000360000005";
    const SCA_RETRY: &str = "4000002760000008";
    const DECLINED: &str = "4000000000000002";
    const VISA: &str = "4242424242424242";

    use EntryMode::{Chip, Contactless};
    use PinEntry::{Correct, NotEntered, Wrong};

    #[rstest]
    // The card's own PIN request, then the retry with the PIN.
    #[case::offline_pin_asks(
        OFFLINE_PIN,
        1000,
        Chip,
        NotEntered,
        true,
        pin_required("offline_pin_required", false)
    )]
    #[case::offline_pin_correct(OFFLINE_PIN, 1000, Chip, Correct, true, approved())]
    #[case::offline_pin_wrong(
        OFFLINE_PIN,
        1000,
        Chip,
        Wrong,
        true,
        declined("card_declined", "incorrect_pin")
    )]
    #[case::online_pin_correct(ONLINE_PIN, 1000, Chip, Correct, true, approved())]
    #[case::online_pin_wrong(
        ONLINE_PIN,
        1000,
        Contactless,
        Wrong,
        true,
        declined("card_declined", "incorrect_pin")
    )]
    // SCA retry: a tap is refused and the card must be inserted with a PIN.
    #[case::sca_tap(
        SCA_RETRY,
        1000,
        Contactless,
        NotEntered,
        true,
        pin_required("online_or_offline_pin_required", true)
    )]
    #[case::sca_inserted_without_pin(
        SCA_RETRY,
        1000,
        Chip,
        NotEntered,
        true,
        pin_required("online_or_offline_pin_required", false)
    )]
    #[case::sca_inserted_with_pin(SCA_RETRY, 1000, Chip, Correct, true, approved())]
    #[case::sca_inserted_wrong_pin(
        SCA_RETRY,
        1000,
        Chip,
        Wrong,
        true,
        declined("card_declined", "incorrect_pin")
    )]
    // PIN-requesting amounts.
    #[case::amount_02_correct(VISA, 1002, Chip, Correct, true, approved())]
    #[case::amount_03_correct(VISA, 1003, Contactless, Correct, true, approved())]
    #[case::amount_02_wrong(
        VISA,
        1002,
        Chip,
        Wrong,
        true,
        declined("card_declined", "incorrect_pin")
    )]
    // One correct PIN satisfies both the card and the amount.
    #[case::pin_card_pin_amount(OFFLINE_PIN, 1002, Chip, Correct, true, approved())]
    // The card's PIN comes before the amount, the amount still counts after.
    #[case::pin_card_declining_amount(
        OFFLINE_PIN,
        1005,
        Chip,
        NotEntered,
        true,
        pin_required("offline_pin_required", false)
    )]
    #[case::pin_card_declining_amount_after_pin(
        OFFLINE_PIN,
        1005,
        Chip,
        Correct,
        true,
        declined("card_declined", "generic_decline")
    )]
    // A wrong PIN comes before the amount ending.
    #[case::wrong_pin_before_amount(
        OFFLINE_PIN,
        1001,
        Chip,
        Wrong,
        true,
        declined("card_declined", "incorrect_pin")
    )]
    // A declining card declines whatever the PIN or amount.
    #[case::declined_card_ignores_pin(
        DECLINED,
        1002,
        Chip,
        Correct,
        true,
        declined("card_declined", "generic_decline")
    )]
    #[case::declined_card_ignores_wrong_pin(
        DECLINED,
        1000,
        Chip,
        Wrong,
        false,
        declined("card_declined", "generic_decline")
    )]
    // No PIN pad (M2, Chipper 2X BT): the PIN request becomes the decline.
    #[case::no_pad_offline_pin(
        OFFLINE_PIN,
        1000,
        Chip,
        NotEntered,
        false,
        declined("card_declined", "offline_pin_required")
    )]
    #[case::no_pad_sca_tap(
        SCA_RETRY,
        1000,
        Contactless,
        NotEntered,
        false,
        declined("card_declined", "online_or_offline_pin_required")
    )]
    #[case::no_pad_amount_02(
        VISA,
        1002,
        Chip,
        NotEntered,
        false,
        declined("card_declined", "offline_pin_required")
    )]
    #[case::no_pad_amount_03(
        VISA,
        1003,
        Contactless,
        NotEntered,
        false,
        declined("card_declined", "online_or_offline_pin_required")
    )]
    #[case::no_pad_plain(VISA, 1000, Contactless, NotEntered, false, approved())]
    fn pin_flows(
        #[case] number: &str,
        #[case] amount: u64,
        #[case] entry: EntryMode,
        #[case] pin: PinEntry,
        #[case] pin_pad: bool,
        #[case] expected: Authorization,
    ) {
        let answer = TestCards::builtin().authorize(card(number), usd(amount), entry, pin, pin_pad);
        assert_eq!(answer, expected);
    }

    #[rstest]
    #[case::ending_05(1005, declined("card_declined", "generic_decline"))]
    #[case::ending_00(1000, approved())]
    #[case::ending_55(155, declined("card_declined", "incorrect_pin"))]
    fn zero_decimal_currencies_use_the_two_rightmost_digits(
        #[case] yen: u64,
        #[case] expected: Authorization,
    ) {
        let jpy = Money::new(yen, "jpy".parse().unwrap());
        let answer = TestCards::builtin().authorize(visa(), jpy, Chip, NotEntered, true);
        assert_eq!(answer, expected);
    }

    #[test]
    fn the_bundled_table_loads_whole() {
        let cards = TestCards::builtin();
        assert_eq!(cards.test_pin, "1234");
        assert_eq!(cards.cards.len(), 20);
        assert_eq!(cards.amounts.len(), 8);
        assert_eq!(card("378282246310005").last4(), "0005");
        assert_eq!(card("4711009900000316877").last4(), "6877");
    }

    #[rstest]
    #[case::listed("55", Some(Outcome::Declined))]
    #[case::leading_zero("02", Some(Outcome::PinRequired))]
    #[case::unlisted("42", None)]
    fn amount_rule_finds_the_two_digit_ending(
        #[case] ending: &str,
        #[case] outcome: Option<Outcome>,
    ) {
        let amount = usd(1000 + ending.parse::<u64>().unwrap());
        let rule = TestCards::builtin().amount_rule(amount);
        assert_eq!(rule.map(|r| r.ending.as_str()), outcome.map(|_| ending));
        assert_eq!(rule.map(|r| r.outcome), outcome);
    }

    /// A small valid document around `cards` and `amounts` rows.
    fn doc(cards: &[&str], amounts: &[&str]) -> String {
        let mut text = String::from("test_pin = \"1234\"\n");
        for card in cards {
            text += &format!("\n[[card]]\n{card}");
        }
        for amount in amounts {
            text += &format!("\n[[amount]]\n{amount}");
        }
        text
    }

    /// The body of an approved visa credit card row.
    fn visa_row(number: &str, simulated_type: &str) -> String {
        format!(
            "number = \"{number}\"\nsimulated_type = \"{simulated_type}\"\nbrand = \"visa\"\n\
             funding = \"credit\"\noffline_capable = true\npin = \"none\"\noutcome = \"approved\"\n"
        )
    }

    const PLAIN_AMOUNT: &str = "ending = \"00\"\noutcome = \"approved\"\n";

    #[test]
    fn the_test_documents_are_valid_as_built() {
        let text = doc(&[&visa_row(VISA, "visa")], &[PLAIN_AMOUNT]);
        let cards = TestCards::from_toml("ok.toml", &text).unwrap();
        assert_eq!((cards.cards.len(), cards.amounts.len()), (1, 1));
    }

    #[rstest]
    #[case::unknown_key_in_card(
        doc(&[&(visa_row(VISA, "visa") + "colour = \"blue\"\n")], &[PLAIN_AMOUNT]),
        "card[0].colour",
        Some(11)
    )]
    #[case::missing_number(
        doc(&[&visa_row(VISA, "visa").replace("number = \"4242424242424242\"\n", "")], &[PLAIN_AMOUNT]),
        "card[0].number",
        Some(3)
    )]
    #[case::bad_luhn(
        doc(&[&visa_row("4242424242424241", "visa")], &[PLAIN_AMOUNT]),
        "card[0].number",
        Some(4)
    )]
    #[case::too_short(
        doc(&[&visa_row("424242424242", "visa")], &[PLAIN_AMOUNT]),
        "card[0].number",
        Some(4)
    )]
    #[case::not_digits(
        doc(&[&visa_row("4242-4242-4242-4242", "visa")], &[PLAIN_AMOUNT]),
        "card[0].number",
        Some(4)
    )]
    #[case::duplicate_number(
        doc(&[&visa_row(VISA, "visa"), &visa_row(VISA, "visa_again")], &[PLAIN_AMOUNT]),
        "card[1].number",
        Some(13)
    )]
    #[case::duplicate_simulated_type(
        doc(&[&visa_row(VISA, "visa"), &visa_row("4000056655665556", "visa")], &[PLAIN_AMOUNT]),
        "card[1].simulated_type",
        Some(14)
    )]
    #[case::declined_card_without_decline_code(
        doc(
            &[&visa_row(VISA, "visa").replace("\"approved\"", "\"declined\"\nerror_code = \"card_declined\"")],
            &[PLAIN_AMOUNT],
        ),
        "card[0].decline_code",
        Some(3)
    )]
    #[case::approved_card_with_decline_code(
        doc(&[&(visa_row(VISA, "visa") + "decline_code = \"lost_card\"\n")], &[PLAIN_AMOUNT]),
        "card[0].decline_code",
        Some(11)
    )]
    #[case::card_outcome_pin_required(
        doc(&[&visa_row(VISA, "visa").replace("\"approved\"", "\"pin_required\"")], &[PLAIN_AMOUNT]),
        "card[0].outcome",
        Some(10)
    )]
    #[case::one_digit_ending(
        doc(&[&visa_row(VISA, "visa")], &["ending = \"5\"\noutcome = \"approved\"\n"]),
        "amount[0].ending",
        Some(13)
    )]
    #[case::duplicate_ending(
        doc(&[&visa_row(VISA, "visa")], &[PLAIN_AMOUNT, PLAIN_AMOUNT]),
        "amount[1].ending",
        Some(17)
    )]
    #[case::declined_amount_without_decline_code(
        doc(&[&visa_row(VISA, "visa")], &["ending = \"05\"\noutcome = \"declined\"\n"]),
        "amount[0].decline_code",
        Some(12)
    )]
    #[case::pin_required_amount_without_decline_code(
        doc(&[&visa_row(VISA, "visa")], &["ending = \"02\"\noutcome = \"pin_required\"\n"]),
        "amount[0].decline_code",
        Some(12)
    )]
    #[case::unknown_outcome(
        doc(&[&visa_row(VISA, "visa")], &["ending = \"05\"\noutcome = \"refused\"\n"]),
        "amount[0].outcome",
        Some(14)
    )]
    #[case::short_test_pin(
        doc(&[&visa_row(VISA, "visa")], &[PLAIN_AMOUNT]).replace("\"1234\"", "\"123\""),
        "test_pin",
        Some(1)
    )]
    #[case::not_toml(String::from("test_pin = \"1234\"\n[[card]\n"), ".", Some(2))]
    fn broken_tables_name_file_key_and_line(
        #[case] text: String,
        #[case] key: &str,
        #[case] line: Option<usize>,
    ) {
        let error = TestCards::from_toml("broken.toml", &text).unwrap_err();
        assert_eq!((error.key.as_str(), error.line), (key, line), "{error}\n---\n{text}");
        let shown = error.to_string();
        assert!(shown.starts_with("broken.toml"), "{shown}");
        assert!(shown.contains(&format!("key `{key}`")), "{shown}");
    }

    #[rstest]
    #[case::visa("4242424242424242", true)]
    #[case::amex_15_digits("378282246310005", true)]
    #[case::girocard_19_digits("4711009900000316877", true)]
    #[case::last_digit_off("4242424242424243", false)]
    #[case::swapped_digits("2442424242424242", false)]
    fn the_luhn_check_tells_valid_from_mistyped(#[case] number: &str, #[case] valid: bool) {
        assert_eq!(luhn_valid(number), valid);
    }
}
