//! I7, confidentiality: no full card number anywhere in the history, none in
//! clear in a device's storage (as `rig.storage.scanned` counted it), and no
//! record the device reported unreadable forwarded after the report (a
//! tampered record must be reported, never forwarded). A charge that follows
//! the report is judged by the upload behind it: an upload sent before the
//! record was damaged may land after the report, and that is no forward of
//! a damaged record.
//!
//! Every event is serialized again, as its history line carries it, and searched
//! for runs of 13 to 19 digits that pass the Luhn check. The run's digits
//! are never repeated: a report shows the last four and the line, and carries
//! no excerpt, because the excerpt would print the number again. The one
//! number field that may be that long by chance, `rig.started`'s `seed`, is
//! blanked before the search.

use super::facts::Facts;
use super::report::Finding;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::luhn_valid_digits;
use readerlab_emulator::core::{Event, EventBody};

/// Shortest and longest card numbers (ISO/IEC 7812).
const CARD_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    numbers_in_history(facts.history, found);
    for &at in &facts.storage_scans {
        if let EventBody::StorageScanned { device, card_numbers_in_clear, .. } =
            &facts.history[at].body
            && *card_numbers_in_clear > 0
        {
            let message =
                format!("{device} keeps {card_numbers_in_clear} card number(s) in clear on disk");
            found.push(Finding::new(Invariant::I7, None, message).with([at]));
        }
    }
    // A record reported unreadable is dropped; a charge after the report
    // with no upload sent before it means the device forwarded what it
    // could not authenticate, and so does any upload after it.
    for (offline_id, payment) in facts.payments.iter() {
        let unreadable = payment
            .outcomes
            .iter()
            .copied()
            .find(|&at| matches!(facts.history[at].body, EventBody::PaymentUnreadable { .. }));
        let Some(unreadable) = unreadable else { continue };
        let sent_before = payment.attempts.iter().any(|&at| at < unreadable);
        let sent_after = payment.attempts.iter().copied().find(|&at| at > unreadable);
        let charged_after = payment.charges.iter().copied().find(|&at| at > unreadable);
        let forwarded = match (sent_after, charged_after) {
            (Some(sent), _) => Some(sent),
            (None, Some(charge)) if !sent_before => Some(charge),
            _ => None,
        };
        if let Some(charge) = forwarded {
            let message = "forwarded after the device reported its record unreadable: a \
                           record that failed authentication was forwarded"
                .to_owned();
            found.push(
                Finding::new(Invariant::I7, Some(offline_id), message).with([unreadable, charge]),
            );
        }
    }
}

/// Searches every event's JSON for a card number: its body as the history
/// line carries it, and its part. The envelope's other fields are a
/// position and a time, never that long.
fn numbers_in_history(history: &[Event], found: &mut Vec<Finding>) {
    let mut text = Vec::with_capacity(512);
    for (at, event) in history.iter().enumerate() {
        text.clear();
        let written = match &event.body {
            EventBody::RigStarted { .. } => {
                let mut blanked = event.body.clone();
                if let EventBody::RigStarted { seed, .. } = &mut blanked {
                    *seed = 0;
                }
                serde_json::to_writer(&mut text, &blanked)
            }
            body => serde_json::to_writer(&mut text, body),
        };
        if written.is_err() {
            continue;
        }
        text.push(b' ');
        text.extend_from_slice(event.part.0.as_bytes());
        if let Some((digits, last4)) = card_number_in(&text) {
            let message = format!(
                "a {digits}-digit number that passes the Luhn check, ending {last4}, appears \
                 in the history at seq {} ({}); the excerpt is left out so as not to repeat it",
                event.seq,
                event.body.name()
            );
            found.push(Finding::new(Invariant::I7, None, message).at(at));
        }
    }
}

/// The first run of 13–19 digits in `text` that passes the Luhn check: its
/// length and last four digits. Longer runs are not card numbers, and a run
/// that ends an identifier (`pi_0000000000000018`, zero-padded ids pass the
/// Luhn check one time in ten) is the identifier's counter, not a card.
pub(super) fn card_number_in(text: &[u8]) -> Option<(usize, String)> {
    let (from, to) = card_runs(text).next()?;
    Some((to - from, String::from_utf8_lossy(&text[to - 4..to]).into_owned()))
}

/// Where each card number in `text` starts and ends: a run of 13 to 19
/// digits, not the counter of an identifier, that passes the Luhn check.
fn card_runs(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = None;
    // One position past the end, so a run at the very end is closed too.
    (0..=text.len()).filter_map(move |i| {
        let digit = text.get(i).is_some_and(u8::is_ascii_digit);
        match (digit, start) {
            (true, None) => {
                start = Some(i);
                None
            }
            (false, Some(from)) => {
                start = None;
                let run = &text[from..i];
                let in_identifier =
                    from > 0 && (text[from - 1].is_ascii_alphabetic() || text[from - 1] == b'_');
                (CARD_DIGITS.contains(&run.len()) && !in_identifier && luhn_valid_digits(run))
                    .then_some((from, i))
            }
            _ => None,
        }
    })
}

/// `text` with every card number (as [`card_number_in`] finds them)
/// written as `[card ending NNNN]`.
pub fn redact_card_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (from, to) in card_runs(text.as_bytes()) {
        out.push_str(&text[copied..from]);
        out.push_str(&format!("{REDACTED}{}]", &text[to - 4..to]));
        copied = to;
    }
    out.push_str(&text[copied..]);
    out
}

/// How [`redact_card_numbers`] begins a number it hides.
pub const REDACTED: &str = "[card ending ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_redacted_and_nothing_else() {
        assert_eq!(
            redact_card_numbers("| a | 4000000000000002 | pi_0000000000000018 |"),
            "| a | [card ending 0002] | pi_0000000000000018 |"
        );
        assert_eq!(redact_card_numbers("pays 500 with a visa"), "pays 500 with a visa");
        assert_eq!(redact_card_numbers("4242424242424242"), "[card ending 4242]");
    }

    #[test]
    fn test_cards_are_found_and_near_misses_are_not() {
        let found = |text: &str| card_number_in(text.as_bytes());
        assert_eq!(found(r#"{"x":"4242424242424242"}"#), Some((16, "4242".to_owned())));
        assert_eq!(found("amex 378282246310005."), Some((15, "0005".to_owned())));
        assert_eq!(found("girocard 4711009900000316877"), Some((19, "6877".to_owned())));
        // Fails Luhn, too short, too long, split.
        assert_eq!(found("4242424242424241"), None);
        assert_eq!(found("424242424242"), None);
        assert_eq!(found("42424242424242424242"), None);
        assert_eq!(found("4242 4242 4242 4242"), None);
        // The counter of an identifier.
        assert_eq!(found(r#"{"intent":"pi_0000000000000018"}"#), None);
    }
}
