//! Stripe's form encoding, both ways: `a=1&b[c]=2&list[]=x&list[1]=y&meta[k]=v`,
//! percent and `+` decoding, nested brackets, into a tree of [`FormValue`]s
//! and back.
//!
//! Pure functions over bytes: no HTTP here. Malformed input is a
//! [`FormError`] naming the parameter; nothing panics on any input (a
//! property test feeds arbitrary bytes). Lists take `[]` (append) and
//! `[N]` (index; stripe-python always sends `[0]`, `[1]`, …): an index may
//! name an existing element (`a[0][b]=1&a[0][c]=2`) or the next one, never
//! leave a gap.
//!
//! Limits, checked while reading and before anything is built, so no input
//! can exhaust the stack or the memory beyond the body's own size: at most
//! [`MAX_DEPTH`] levels of brackets in one parameter and at most
//! [`MAX_PARAMS`] parameters (pairs) in one form. Building and inserting
//! walk a path with loops, not recursion.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use thiserror::Error;

/// One form value: text, a map (`a[k]=…`) or a list (`a[0]=…`, `a[]=…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormValue {
    Text(String),
    Map(BTreeMap<String, FormValue>),
    List(Vec<FormValue>),
}

/// The most levels of brackets one parameter may have (`a[b][c]` has 2).
/// Stripe's own limit is smaller; 32 is far beyond any real request.
pub const MAX_DEPTH: usize = 32;

/// The most parameters (`name=value` pairs) one form may have.
pub const MAX_PARAMS: usize = 1000;

/// The most characters of a parameter's name an error repeats.
const PARAM_SHOWN: usize = 200;

/// A form's top level: parameter name to value.
pub type Form = BTreeMap<String, FormValue>;

/// Why a form cannot be read: the parameter (as sent) and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid parameter `{param}`: {reason}")]
pub struct FormError {
    /// The parameter's name as it was sent (decoded), e.g. `metadata[k]`.
    pub param: String,
    /// What is wrong with it.
    pub reason: String,
}

/// One step of a parameter's path.
enum Segment {
    Key(String),
    Index(usize),
    Append,
}

/// Parses an `application/x-www-form-urlencoded` body or query string.
pub fn parse_form(input: &[u8]) -> Result<Form, FormError> {
    let mut form = Form::new();
    for (index, pair) in input.split(|b| *b == b'&').filter(|p| !p.is_empty()).enumerate() {
        let (raw_key, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if index == MAX_PARAMS {
            return Err(FormError {
                param: shown(&String::from_utf8_lossy(raw_key)),
                reason: format!("more than {MAX_PARAMS} parameters in one request"),
            });
        }
        let key = decode(raw_key).map_err(|reason| FormError {
            param: shown(&String::from_utf8_lossy(raw_key)),
            reason,
        })?;
        let value = decode(raw_value).map_err(|reason| FormError {
            param: shown(&key),
            reason: format!("value: {reason}"),
        })?;
        let fail = |reason: &str| FormError { param: shown(&key), reason: reason.to_owned() };
        let (name, segments) = split_key(&key).map_err(&fail)?;
        insert_top(&mut form, name, &segments, value).map_err(fail)?;
    }
    Ok(form)
}

/// A parameter's name as an error repeats it: whole, or its first
/// [`PARAM_SHOWN`] characters and `…`.
fn shown(key: &str) -> String {
    match key.char_indices().nth(PARAM_SHOWN) {
        None => key.to_owned(),
        Some((at, _)) => format!("{}…", &key[..at]),
    }
}

/// Encodes a form the way stripe-python does: brackets literal, lists with
/// indexes, everything else percent-encoded. Empty maps and lists have no
/// pairs, so they do not survive a round trip (Stripe reads an empty value
/// `a=` as "unset" instead).
pub fn encode_form(form: &Form) -> String {
    let mut out = String::new();
    for (name, value) in form {
        encode_value(&mut out, &escape(name), value);
    }
    out
}

fn encode_value(out: &mut String, path: &str, value: &FormValue) {
    match value {
        FormValue::Text(text) => {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(path);
            out.push('=');
            out.push_str(&escape(text));
        }
        FormValue::Map(map) => {
            for (key, value) in map {
                encode_value(out, &format!("{path}[{}]", escape(key)), value);
            }
        }
        FormValue::List(list) => {
            for (index, value) in list.iter().enumerate() {
                encode_value(out, &format!("{path}[{index}]"), value);
            }
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Percent-encodes one path segment of a URL (the same rule as values).
pub fn escape_segment(text: &str) -> String {
    escape(text)
}

/// Decodes `+` and `%XX`; the result must be UTF-8.
pub fn decode(raw: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        match raw[at] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw
                    .get(at + 1..at + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or("a `%` without two hex digits")?;
                let digit = |b: u8| char::from(b).to_digit(16).unwrap_or(0) as u8;
                bytes.push(digit(hex[0]) * 16 + digit(hex[1]));
                at += 2;
            }
            other => bytes.push(other),
        }
        at += 1;
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 once decoded".to_owned())
}

/// `a[b][0][]` → (`a`, [Key b, Index 0, Append]).
fn split_key(key: &str) -> Result<(&str, Vec<Segment>), &'static str> {
    let (name, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    if name.is_empty() {
        return Err("a parameter needs a name before any `[`");
    }
    if name.contains(']') {
        return Err("a `]` without its `[`");
    }
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if segments.len() == MAX_DEPTH {
            return Err("nested deeper than 32 levels of brackets (the most a parameter may have)");
        }
        let inner = rest.strip_prefix('[').ok_or("text after a `]` that does not open a `[`")?;
        let close = inner.find(']').ok_or("a `[` without its `]`")?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return Err("a `[` inside brackets");
        }
        segments.push(if segment.is_empty() {
            Segment::Append
        } else if segment.bytes().all(|b| b.is_ascii_digit()) {
            Segment::Index(segment.parse().map_err(|_| "a list index too large")?)
        } else {
            Segment::Key(segment.to_owned())
        });
        rest = &inner[close + 1..];
    }
    Ok((name, segments))
}

fn insert_top(
    form: &mut Form,
    name: &str,
    segments: &[Segment],
    value: String,
) -> Result<(), &'static str> {
    match form.get_mut(name) {
        Some(slot) => insert(slot, segments, value),
        None => {
            form.insert(name.to_owned(), build(segments, value));
            Ok(())
        }
    }
}

/// A fresh value for the rest of a path, built from the leaf outwards.
fn build(segments: &[Segment], value: String) -> FormValue {
    let mut built = FormValue::Text(value);
    for segment in segments.iter().rev() {
        built = match segment {
            Segment::Key(key) => FormValue::Map(BTreeMap::from([(key.clone(), built)])),
            Segment::Index(_) | Segment::Append => FormValue::List(vec![built]),
        };
    }
    built
}

/// Puts `value` at `segments` below an existing `slot`, walking down the
/// path one segment at a time.
fn insert(slot: &mut FormValue, segments: &[Segment], value: String) -> Result<(), &'static str> {
    let mut slot = slot;
    let mut segments = segments;
    loop {
        let Some((first, rest)) = segments.split_first() else {
            return Err("given more than once");
        };
        segments = rest;
        slot = match (slot, first) {
            (FormValue::Map(map), Segment::Key(key)) => {
                if !map.contains_key(key) {
                    map.insert(key.clone(), build(rest, value));
                    return Ok(());
                }
                map.get_mut(key).expect("checked above")
            }
            (FormValue::List(list), Segment::Append) => {
                list.push(build(rest, value));
                return Ok(());
            }
            (FormValue::List(list), Segment::Index(index)) => {
                if *index == list.len() {
                    list.push(build(rest, value));
                    return Ok(());
                }
                list.get_mut(*index).ok_or("a list index that skips an element")?
            }
            (FormValue::Text(_), _) => return Err("given both as a value and with brackets"),
            (FormValue::Map(_), _) => return Err("given both as a hash and as a list"),
            (FormValue::List(_), Segment::Key(_)) => {
                return Err("given both as a list and as a hash");
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> FormValue {
        FormValue::Text(s.to_owned())
    }

    #[test]
    fn brackets_nest_into_maps_and_lists() {
        let form = parse_form(
            b"a=1&b[c]=2&list[]=x&list[1]=y&meta[k]=v+w%21&pmt[0]=card_present&n[0][x]=1&n[0][y]=2",
        )
        .unwrap();
        assert_eq!(form["a"], text("1"));
        assert_eq!(form["b"], FormValue::Map(BTreeMap::from([("c".to_owned(), text("2"))])));
        assert_eq!(form["list"], FormValue::List(vec![text("x"), text("y")]));
        assert_eq!(form["meta"], FormValue::Map(BTreeMap::from([("k".into(), text("v w!"))])));
        assert_eq!(form["pmt"], FormValue::List(vec![text("card_present")]));
        let n = FormValue::Map(BTreeMap::from([("x".into(), text("1")), ("y".into(), text("2"))]));
        assert_eq!(form["n"], FormValue::List(vec![n]));
    }

    #[test]
    fn encoded_brackets_and_empty_values_are_read_as_stripe_python_sends_them() {
        let form = parse_form(b"metadata%5Bk%5D=&flag").unwrap();
        assert_eq!(form["metadata"], FormValue::Map(BTreeMap::from([("k".into(), text(""))])));
        assert_eq!(form["flag"], text(""));
    }

    #[test]
    fn malformed_input_names_its_parameter() {
        for (input, param) in [
            (&b"a=1&a=2"[..], "a"),
            (b"a[b=1", "a[b"),
            (b"a=1&a[b]=2", "a[b]"),
            (b"l[0]=1&l[2]=2", "l[2]"),
            (b"[x]=1", "[x]"),
            (b"a=%zz", "a"),
            (b"a%ff=1", "a%ff"),
            (b"m[k]=1&m[0]=2", "m[0]"),
        ] {
            let error = parse_form(input).unwrap_err();
            assert_eq!(error.param, param, "{}: {error}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn depth_and_parameter_count_are_limited_before_anything_is_built() {
        let at_limit = format!("a{}=1", "[k]".repeat(MAX_DEPTH));
        assert!(parse_form(at_limit.as_bytes()).is_ok());
        let deep = format!("a{}=1", "[k]".repeat(15_000));
        let error = parse_form(deep.as_bytes()).unwrap_err();
        assert!(error.reason.contains("32 levels"), "{error}");
        assert!(error.param.starts_with("a[k][k]") && error.param.ends_with('…'));
        assert!(error.param.chars().count() <= PARAM_SHOWN + 1);
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        let error = parse_form(many.join("&").as_bytes()).unwrap_err();
        assert_eq!(error.param, format!("p{MAX_PARAMS}"));
        assert!(parse_form(many[..MAX_PARAMS].join("&").as_bytes()).is_ok());
    }

    #[test]
    fn encoding_escapes_all_but_unreserved_and_keeps_brackets() {
        let form = parse_form(b"b[c]=x y&a=%26%3D&l[0]=1&l[1]=2").unwrap();
        assert_eq!(encode_form(&form), "a=%26%3D&b[c]=x%20y&l[0]=1&l[1]=2");
    }
}
