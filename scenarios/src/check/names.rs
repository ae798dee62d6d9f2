//! Small wording helpers shared by the judging modules: lists of payment ids
//! capped to a readable length, durations in seconds, plurals.
//!
//! Only formatting lives here; nothing in this file may look at a history.

use std::time::Duration;

/// At most this many ids are listed in one message.
const MAX_LISTED: usize = 8;

/// `a, b, c` or `a, b, … and 4 more`.
pub(super) fn list(ids: &[&str]) -> String {
    let mut text = ids.iter().take(MAX_LISTED).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > MAX_LISTED {
        text.push_str(&format!(" and {} more", ids.len() - MAX_LISTED));
    }
    text
}

/// `1 payment`, `3 payments`.
pub(super) fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `60 s`, or `1500 ms` when the duration is not whole seconds.
pub(super) fn duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A value's name in the history (`swipe`, `interac`, `REQUIRE_ONLINE`):
/// its serde name, so messages use the words a history reader greps for.
pub(super) fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_and_counted() {
        let ids: Vec<String> = (1..=10).map(|i| format!("off_{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(list(&ids[..2]), "off_1, off_2");
        assert!(list(&ids).ends_with("off_8 and 2 more"), "{}", list(&ids));
        assert_eq!(duration(Duration::from_secs(60)), "60 s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(count(1, "payment"), "1 payment");
    }
}
