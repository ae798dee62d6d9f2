//! [`Journal`]: the served rig's history written to a file as it is
//! recorded, so a server that is killed (SIGKILL, a power cut of the
//! process, an OOM kill) leaves its history up to the kill, not nothing.
//!
//! The rig appends under its lock, after each run of the rig and before the
//! calls that run caused are sent: an event is in the file (the kernel's page
//! cache, which outlives the process) before anyone outside can have seen
//! its effect. A charge the backend made is therefore on file before the
//! device that asked for it hears the answer, and a stored payment's
//! `offline.payment.stored` before the POS's client does. A new rig
//! (`POST /_readerlab/rig`) starts the file again, as `GET /history` does.
//!
//! Each batch is one `write`; a kill in the middle of one can still leave
//! its last line unterminated, which is then the only damage (everything
//! before the last newline is whole).

use crate::core::Event;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

/// A history file kept up to date with the rig's history.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// The rig generation whose history the file holds.
    generation: u64,
    /// Events of that generation already in the file.
    written: usize,
    /// A write failed and was said once on stderr; later ones stay quiet.
    failed: bool,
}

impl Journal {
    /// Creates (or empties) the file at `path`.
    pub fn create(path: &Path) -> io::Result<Journal> {
        let file = File::create(path)?;
        Ok(Journal { path: path.to_owned(), file, generation: 0, written: 0, failed: false })
    }

    /// Brings the file up to `events`, the whole history of rig
    /// `generation`: appends the events not yet written, or starts the file
    /// again for a new rig. A failed write is said once on stderr and
    /// tried again at the next call.
    pub fn record(&mut self, generation: u64, events: &[Event]) {
        if let Err(error) = self.try_record(generation, events)
            && !self.failed
        {
            self.failed = true;
            eprintln!("readerlab: cannot write the history to {}: {error}", self.path.display());
        }
    }

    fn try_record(&mut self, generation: u64, events: &[Event]) -> io::Result<()> {
        if generation != self.generation || events.len() < self.written {
            self.file.set_len(0)?;
            self.file.rewind()?;
            self.generation = generation;
            self.written = 0;
        }
        if events.len() == self.written {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for event in &events[self.written..] {
            serde_json::to_writer(&mut bytes, event)?;
            bytes.push(b'\n');
        }
        self.file.write_all(&bytes)?;
        self.written = events.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{EventBody, Millis, Part};

    fn event(seq: u64) -> Event {
        Event { seq, t_ms: Millis(seq), part: Part("rig".to_owned()), body: EventBody::RigFinished }
    }

    #[test]
    fn appends_what_is_new_and_starts_again_for_a_new_rig() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut journal = Journal::create(&path).unwrap();
        let events: Vec<Event> = (1..=3).map(event).collect();
        journal.record(1, &events[..2]);
        journal.record(1, &events);
        journal.record(1, &events);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, String::from_utf8(crate::history::to_jsonl(&events)).unwrap());
        journal.record(2, &events[..1]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "a new rig starts the file again: {text}");
    }
}
