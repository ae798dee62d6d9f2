//! Histories as JSON Lines: one [`Event`] per line, in order.
//!
//! The history is the contract between every target and the checker
//! (docs/design.md §3): the simulator, the served rig and a lab run all write
//! this format, and the checker reads nothing else. Writing assigns the
//! sequence numbers, so a history has no gaps by construction; reading checks
//! that they run 1, 2, 3, … and names the line of anything it cannot accept.

use crate::core::Millis;
use crate::core::{Event, EventBody, Part};
use std::io::{self, BufRead, Write};

/// Writes events as JSON Lines, numbering them from 1.
#[derive(Debug)]
pub struct HistoryWriter<W: Write> {
    out: W,
    next_seq: u64,
    last_t: Millis,
}

impl<W: Write> HistoryWriter<W> {
    /// A writer that starts a new history on `out`.
    pub fn new(out: W) -> Self {
        HistoryWriter { out, next_seq: 1, last_t: Millis::ZERO }
    }

    /// Appends one event and returns its sequence number.
    ///
    /// # Panics
    ///
    /// If `t_ms` is earlier than the previous event's: histories are ordered,
    /// and a shell that records out of order has a bug worth stopping for.
    pub fn record(&mut self, t_ms: Millis, part: &Part, body: &EventBody) -> io::Result<u64> {
        assert!(t_ms >= self.last_t, "history out of order: {t_ms} after {}", self.last_t);
        let seq = self.next_seq;
        let event = EventRef { seq, t_ms, part, body };
        serde_json::to_writer(&mut self.out, &event)?;
        self.out.write_all(b"\n")?;
        self.next_seq += 1;
        self.last_t = t_ms;
        Ok(seq)
    }

    /// Flushes and returns the sink.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Borrowing twin of [`Event`], so recording does not clone the body.
#[derive(serde::Serialize)]
struct EventRef<'a> {
    seq: u64,
    t_ms: Millis,
    part: &'a Part,
    #[serde(flatten)]
    body: &'a EventBody,
}

/// A history line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The source could not be read at all.
    #[error("line {line}: cannot read: {source}")]
    Io {
        line: usize,
        #[source]
        source: io::Error,
    },
    /// The line is not an event of the vocabulary.
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
}

impl HistoryError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        match self {
            HistoryError::Io { line, .. } | HistoryError::Malformed { line, .. } => *line,
        }
    }
}

/// A whole history as JSON Lines, renumbered from 1 as [`HistoryWriter`]
/// writes it.
pub fn to_jsonl(events: &[Event]) -> Vec<u8> {
    let mut writer = HistoryWriter::new(Vec::new());
    for event in events {
        writer.record(event.t_ms, &event.part, &event.body).expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

/// Reads a whole history: the events of [`read_events`], which must be at
/// least one and open with `rig.started` (every target writes it first).
/// An empty file is what a broken history writer leaves, and judging it
/// would find every invariant holding.
pub fn read_history(input: impl BufRead) -> Result<Vec<Event>, HistoryError> {
    let (events, first_line, _) = read_lines(input, false)?;
    opened(events, first_line)
}

/// [`read_history`] as `readerlab check` takes it, for a history a writer
/// may have been killed in the middle of (`readerlab serve --history`
/// after a SIGKILL): a last line with no newline after it whose JSON stops
/// before it is complete is the write the kill cut short, and is left out.
/// Returns the events and the number of the line left out, if one was. Any
/// other damage, a whole last line that is not an event included, is an
/// error as in [`read_history`].
pub fn read_history_cut_short(
    input: impl BufRead,
) -> Result<(Vec<Event>, Option<usize>), HistoryError> {
    let (events, first_line, cut) = read_lines(input, true)?;
    Ok((opened(events, first_line)?, cut))
}

/// The events, if they open with `rig.started`.
fn opened(events: Vec<Event>, first_line: usize) -> Result<Vec<Event>, HistoryError> {
    match events.first() {
        None => Err(HistoryError::Malformed {
            line: 1,
            message: "the history has no events (a history opens with rig.started)".to_owned(),
        }),
        Some(first) if !matches!(first.body, EventBody::RigStarted { .. }) => {
            Err(HistoryError::Malformed {
                line: first_line,
                message: format!(
                    "the history opens with {} instead of rig.started: it is not a whole history",
                    first.body.name()
                ),
            })
        }
        Some(_) => Ok(events),
    }
}

/// Reads events as JSON Lines, checking sequence numbers and time order;
/// any number of them, from any event on (an excerpt, a test's fragment).
/// Blank lines are allowed (an editor's trailing newline) and skipped.
pub fn read_events(input: impl BufRead) -> Result<Vec<Event>, HistoryError> {
    read_lines(input, false).map(|(events, _, _)| events)
}

/// [`read_events`], the line of the first event (1 when there is none),
/// and, when `allow_cut`, the unterminated last line cut short that was
/// left out.
fn read_lines(
    mut input: impl BufRead,
    allow_cut: bool,
) -> Result<(Vec<Event>, usize, Option<usize>), HistoryError> {
    let mut first_line = 1;
    let mut events: Vec<Event> = Vec::new();
    let mut bytes = Vec::new();
    for line_no in 1.. {
        bytes.clear();
        let read = input
            .read_until(b'\n', &mut bytes)
            .map_err(|source| HistoryError::Io { line: line_no, source })?;
        if read == 0 {
            break;
        }
        let terminated = bytes.ends_with(b"\n");
        let line = std::str::from_utf8(&bytes).map_err(|e| HistoryError::Io {
            line: line_no,
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(e) if allow_cut && !terminated && e.is_eof() => {
                return Ok((events, first_line, Some(line_no)));
            }
            Err(e) => {
                return Err(HistoryError::Malformed { line: line_no, message: e.to_string() });
            }
        };
        let expected = events.last().map_or(1, |e| e.seq + 1);
        if event.seq != expected {
            let message = format!("sequence number {} where {expected} was expected", event.seq);
            return Err(HistoryError::Malformed { line: line_no, message });
        }
        if let Some(previous) = events.last()
            && event.t_ms < previous.t_ms
        {
            let message =
                format!("time {} is before the previous event's {}", event.t_ms, previous.t_ms);
            return Err(HistoryError::Malformed { line: line_no, message });
        }
        if events.is_empty() {
            first_line = line_no;
        }
        events.push(event);
    }
    Ok((events, first_line, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::LinkKind;
    use crate::core::{DisconnectReason, EventBody};

    fn sample() -> Vec<u8> {
        let mut writer = HistoryWriter::new(Vec::new());
        let reader = Part::reader("STRM2-0001");
        let connected = EventBody::Connected { pos: "pos-1".into(), via: LinkKind::Ble };
        writer.record(Millis(1500), &reader, &connected).unwrap();
        let reason = DisconnectReason::BluetoothSignalLost;
        let dropped = EventBody::Disconnected { pos: "pos-1".into(), reason };
        writer.record(Millis(9000), &reader, &dropped).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn events_are_written_one_json_object_per_line_with_envelope_first() {
        let text = String::from_utf8(sample()).unwrap();
        insta::assert_snapshot!(text, @r#"
        {"seq":1,"t_ms":1500,"part":"reader/STRM2-0001","event":"reader.connected","pos":"pos-1","via":"ble"}
        {"seq":2,"t_ms":9000,"part":"reader/STRM2-0001","event":"reader.disconnected","pos":"pos-1","reason":"bluetooth_signal_lost"}
        "#);
    }

    /// [`sample`] opened by a `rig.started`, as every history is.
    fn opened() -> Vec<u8> {
        let mut writer = HistoryWriter::new(Vec::new());
        let started = EventBody::RigStarted {
            seed: 1,
            defects: crate::core::Defects::none(),
            readers: Vec::new(),
            offline: crate::core::offline::OfflineConfig::enabled(),
            drain_window_ms: 120_000,
        };
        writer.record(Millis(0), &Part("rig".to_owned()), &started).unwrap();
        for event in read_events(&sample()[..]).unwrap() {
            writer.record(event.t_ms, &event.part, &event.body).unwrap();
        }
        writer.into_inner().unwrap()
    }

    #[test]
    fn an_empty_history_or_one_without_its_opening_is_refused() {
        for text in ["", "\n\n  \n"] {
            let err = read_history(text.as_bytes()).unwrap_err();
            assert_eq!(err.line(), 1, "{err}");
            assert!(err.to_string().contains("no events"), "{err}");
        }
        let err = read_history(&sample()[..]).unwrap_err();
        assert_eq!(err.line(), 1, "{err}");
        assert!(err.to_string().contains("rig.started"), "{err}");
        assert_eq!(read_history(&opened()[..]).unwrap().len(), 3);
        // A page or an excerpt is still readable as events.
        assert_eq!(read_events(&sample()[..]).unwrap().len(), 2);
    }

    #[test]
    fn a_written_history_reads_back_as_the_same_events() {
        let events = read_events(&sample()[..]).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].seq, 2);
        assert_eq!(events[1].body.name(), "reader.disconnected");
        let mut rewritten = HistoryWriter::new(Vec::new());
        for e in &events {
            rewritten.record(e.t_ms, &e.part, &e.body).unwrap();
        }
        assert_eq!(rewritten.into_inner().unwrap(), sample());
    }

    #[test]
    fn unreadable_lines_are_named() {
        let good = String::from_utf8(sample()).unwrap();
        let first = good.lines().next().unwrap();
        let cases = [
            (format!("{first}\nnot json\n"), 2, "expected"),
            (format!("{first}\n{first}\n"), 2, "sequence number 1 where 2 was expected"),
            (
                r#"{"seq":1,"t_ms":0,"part":"pos","event":"pos.teleported"}"#.to_owned(),
                1,
                "unknown variant `pos.teleported`",
            ),
        ];
        for (text, line, fragment) in cases {
            let err = read_events(text.as_bytes()).unwrap_err();
            assert_eq!(err.line(), line, "{err}");
            assert!(err.to_string().contains(fragment), "{err}");
        }
    }

    #[test]
    fn a_last_line_cut_short_by_a_killed_writer_is_left_out_and_named() {
        let whole = opened();
        let last = whole[..whole.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        for cut in last + 1..whole.len() - 1 {
            let text = &whole[..cut];
            let (events, left_out) = read_history_cut_short(text).unwrap();
            assert_eq!((events.len(), left_out), (2, Some(3)), "cut at {cut}");
            assert!(read_history(text).is_err(), "the strict reader refuses it");
        }
        assert_eq!(
            read_history_cut_short(&whole[..]).unwrap(),
            (read_history(&whole[..]).unwrap(), None)
        );
        // A whole line that is not an event, or damage before the end, is
        // not a cut: still refused.
        let mut garbage = whole.clone();
        garbage.extend_from_slice(
            b"{\"seq\":4,\"t_ms\":9000,\"part\":\"pos\",\"event\":\"pos.teleported\"}",
        );
        assert!(read_history_cut_short(&garbage[..]).is_err());
        let mut middle = whole[..last + 10].to_vec();
        middle.push(b'\n');
        middle.extend_from_slice(&whole[last..]);
        assert!(read_history_cut_short(&middle[..]).is_err());
    }

    #[test]
    #[should_panic(expected = "history out of order")]
    fn recording_back_in_time_is_a_bug() {
        let mut writer = HistoryWriter::new(Vec::new());
        writer.record(Millis(10), &Part::pos(), &EventBody::PoweredOn).unwrap();
        writer.record(Millis(9), &Part::pos(), &EventBody::PoweredOn).unwrap();
    }
}
