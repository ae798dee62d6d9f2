//! What arrives from an adapter, line by line, whichever way it came (a
//! process's stdout, or a WebSocket): the one vocabulary the reading
//! threads hand to the conversation ([`super::Peer`]).

/// The longest line (or WebSocket message) an adapter may write.
pub const MAX_LINE: usize = 1 << 20;

/// What the reading thread saw on the adapter's stdout (or socket).
#[derive(Debug)]
pub(super) enum Incoming {
    /// A line (1-based number) without its newline.
    Line(usize, String),
    /// A line longer than [`MAX_LINE`]; nothing after it is read.
    TooLong(usize),
    /// The line was not UTF-8.
    NotText(usize),
    /// Stdout closed.
    Eof,
    /// Reading failed.
    Failed(String),
}
