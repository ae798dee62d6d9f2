//! Parsing the project's TOML data files (reader profiles, the test-card
//! table) so that every error names the file, the key and the line: a fixture
//! author should never have to bisect a file to find what is wrong.
//!
//! This module does no I/O: the caller reads the file and passes its text, and
//! the file name only labels errors. [`parse`] covers syntax and schema errors;
//! rules a schema cannot express stay with each data type, which reports a
//! broken one through [`DataFileError::at`] so its line is found the same way.

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// A data file that could not be loaded: names the file, the key and the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: key `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DataFileError {
    /// The file, as the caller named it.
    pub file: String,
    /// Key path: dotted names and 0-based row indices (`battery.low_percent`,
    /// `card[3].number`); `.` for the whole document.
    pub key: String,
    /// 1-based line, when it can be located.
    pub line: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl DataFileError {
    /// An error about `key` of the document `text`, on the line
    /// [`key_line`] finds for it. For rules checked after parsing.
    pub fn at(file: &str, text: &str, key: &str, message: String) -> DataFileError {
        DataFileError {
            file: file.to_owned(),
            key: key.to_owned(),
            line: key_line(text, key),
            message,
        }
    }
}

/// Parses `text` as a `T`. `file` only names the source in errors.
///
/// The error's key always names the offending key itself: a missing or unknown
/// field is blamed on that field (`battery.low_percent`), not on the table that
/// lacks or holds it. A missing field is placed on its table's header line; a
/// missing top-level key has no line, because the document root has none.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DataFileError> {
    let error = |key: String, span: Option<std::ops::Range<usize>>, message: &str| DataFileError {
        file: file.to_owned(),
        key,
        line: span.map(|span| line_at(text, span.start)),
        message: message.to_owned(),
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| error(".".to_owned(), e.span(), e.message()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let (key, span) = blamed_key(&e);
        error(key, span, e.inner().message())
    })
}

/// Key path and span of a serde error, fixed up so the key always names the
/// offending key itself.
fn blamed_key(
    e: &serde_path_to_error::Error<toml::de::Error>,
) -> (String, Option<std::ops::Range<usize>>) {
    let path = e.path().to_string();
    let message = e.inner().message();
    let span = e.inner().span();
    if let Some(field) = backquoted_after(message, "missing field `") {
        // serde reports a missing field against the table that lacks it, and
        // toml points at that table's header. The document root has no header
        // (toml points at offset 0, the first comment line), so no line rather
        // than a misleading one.
        let span = if path == "." { None } else { span };
        return (join_key(&path, field), span);
    }
    if let Some(field) = backquoted_after(message, "unknown field `") {
        // With toml 1.2 the path already ends in the unknown key, because toml
        // deserializes the key before serde rejects it; other versions stop at
        // the enclosing table, so do not rely on it.
        if path.rsplit('.').next() != Some(field) {
            return (join_key(&path, field), span);
        }
    }
    (path, span)
}

/// The text between `prefix` and the next backquote, if `message` starts so.
fn backquoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// `parent.child`, where serde_path_to_error spells the root `.`.
fn join_key(parent: &str, child: &str) -> String {
    if parent == "." { child.to_owned() } else { format!("{parent}.{child}") }
}

/// The 1-based line where `key` is set, in the key syntax of
/// [`DataFileError::key`]: `battery.low_percent` is the `low_percent =` line
/// under `[battery]` (or a top-level `battery.low_percent =`), `card[3]` the
/// fourth `[[card]]` header, `card[3].number` the `number =` line below it.
///
/// When the key is missing, the line of its nearest parent that exists: a row
/// without `decline_code` is found at its `[[card]]` header. A missing
/// top-level key, a key that is not a path (`.`), or text that is not TOML
/// give `None`. Names are taken literally, so a key that itself contains `.`
/// or `[` cannot be found.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    let root = DeValue::Table(DeTable::parse(text).ok()?.into_inner());
    let mut current = &root;
    let mut line = None;
    for step in steps(key)? {
        let found = match step {
            Step::Name(name) => current.get(name),
            Step::Index(index) => current.get(index),
        };
        let Some(found) = found else { break };
        current = found.get_ref();
        line = Some(line_at(text, found.span().start));
    }
    line
}

/// One step down a key path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step<'k> {
    /// A table key.
    Name(&'k str),
    /// A 0-based array index.
    Index(usize),
}

/// `card[3].number` as `card`, `3`, `number`; `None` if it is not a key path.
fn steps(key: &str) -> Option<Vec<Step<'_>>> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !name.is_empty() {
            steps.push(Step::Name(name));
        }
        while let Some(tail) = rest.strip_prefix('[') {
            let (index, after) = tail.split_once(']')?;
            steps.push(Step::Index(index.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

/// The 1-based line holding byte `offset`. Counts bytes, so an offset inside a
/// multi-byte character cannot panic.
fn line_at(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;

    const LAYOUT: &str = "\
# name = \"a comment\"
name = \"x\"
[battery]
low_percent = 20  # a = comment
[ update ]
  min_battery_percent=50
battery.reported = true
links = [
  \"ble\",
  \"usb\",
]

[[card]]
number = \"1\"

[[card]]
number = \"2\"
brand = { name = \"visa\" }
";

    #[rstest]
    #[case::top_level("name", Some(2))]
    #[case::in_a_table("battery.low_percent", Some(4))]
    #[case::spaced_header_and_key("update.min_battery_percent", Some(6))]
    #[case::dotted_key_in_a_table("update.battery.reported", Some(7))]
    #[case::a_table_header("battery", Some(3))]
    #[case::a_multi_line_array("update.links", Some(8))]
    #[case::an_array_item("update.links[1]", Some(10))]
    #[case::a_row("card[1]", Some(16))]
    #[case::a_key_in_a_row("card[1].number", Some(17))]
    #[case::inside_an_inline_table("card[1].brand.name", Some(18))]
    #[case::same_name_other_table("low_percent", None)]
    #[case::missing_key_falls_back_to_its_table("battery.reported", Some(3))]
    #[case::missing_key_falls_back_to_its_row("card[0].brand", Some(13))]
    #[case::missing_row_falls_back_to_the_array("card[5].number", Some(13))]
    #[case::missing_top_level_key("colour", None)]
    #[case::the_document(".", None)]
    #[case::not_a_key_path("card[x].number", None)]
    fn key_line_finds_the_line_that_sets_a_key(#[case] key: &str, #[case] line: Option<usize>) {
        assert_eq!(key_line(LAYOUT, key), line);
    }

    #[test]
    fn key_line_of_text_that_is_not_toml_is_none() {
        assert_eq!(key_line("name = \"x\"\n[battery\n", "name"), None);
    }

    #[test]
    fn lines_count_bytes_not_characters() {
        assert_eq!(line_at("é\nx", 1), 1);
        assert_eq!(line_at("é\nx", 3), 2);
        assert_eq!(line_at("é\nx", 99), 2);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        pin: String,
        limits: Limits,
        #[serde(default)]
        row: Vec<Row>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        low: u8,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Row {
        number: u32,
    }

    const DOC: &str = "# a comment\npin = \"1234\"\n[limits]\nlow = 5\n\n[[row]]\nnumber = 1\n";

    #[test]
    fn a_valid_document_parses() {
        let doc: Doc = parse("doc.toml", DOC).expect("valid");
        let numbers: Vec<u32> = doc.row.iter().map(|r| r.number).collect();
        assert_eq!((doc.pin.as_str(), doc.limits.low, numbers), ("1234", 5, vec![1]));
    }

    #[rstest]
    #[case::syntax_error(("[limits]", "[limits"), ".", Some(3), "expected `]`")]
    #[case::wrong_type(("low = 5", "low = \"5\""), "limits.low", Some(4), "expected u8")]
    #[case::unknown_top_level_key(("pin = ", "colour = 1\npin = "), "colour", Some(2), "unknown field `colour`")]
    #[case::unknown_key_in_a_table(("low = 5", "low = 5\nhigh = 9"), "limits.high", Some(5), "unknown field `high`")]
    #[case::unknown_key_in_a_row(("number = 1", "number = 1\nx = 2"), "row[0].x", Some(8), "unknown field `x`")]
    #[case::missing_top_level_key(("pin = \"1234\"\n", ""), "pin", None, "missing field `pin`")]
    #[case::missing_key_in_a_table(("low = 5", ""), "limits.low", Some(3), "missing field `low`")]
    #[case::missing_key_in_a_row(("number = 1", ""), "row[0].number", Some(6), "missing field `number`")]
    fn a_broken_document_names_file_key_and_line(
        #[case] (from, to): (&str, &str),
        #[case] key: &str,
        #[case] line: Option<usize>,
        #[case] says: &str,
    ) {
        assert_eq!(DOC.matches(from).count(), 1, "edit {from:?} must match exactly once");
        let text = DOC.replacen(from, to, 1);
        let error = parse::<Doc>("doc.toml", &text).expect_err("the edit breaks the document");
        assert_eq!((error.key.as_str(), error.line), (key, line), "{error}\n---\n{text}");
        assert!(error.message.contains(says), "{error}");
        let expected_start = match line {
            Some(line) => format!("doc.toml:{line}: key `{key}`: "),
            None => format!("doc.toml: key `{key}`: "),
        };
        assert!(error.to_string().starts_with(&expected_start), "{error}");
    }

    #[test]
    fn an_error_at_a_key_finds_its_line() {
        let error = DataFileError::at("doc.toml", DOC, "row[0].number", "too small".to_owned());
        assert_eq!(error.line, Some(7));
        assert_eq!(error.to_string(), "doc.toml:7: key `row[0].number`: too small");
    }
}
