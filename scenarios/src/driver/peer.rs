//! One adapter process and the JSON-RPC conversation with it: requests out
//! on its stdin, lines in from its stdout (read by a thread, so every wait
//! has a deadline), its stderr kept as its log. Whatever the adapter
//! writes, this never panics and never waits past a deadline: a line that
//! is not a message, a response to nothing, a closed stdout or an exit
//! becomes a [`DriverError`] naming the line and the last exchange.

use super::line::Incoming;
pub use super::line::MAX_LINE;
use super::protocol::{
    AdapterMessage, Notification, NotificationMessage, Request, RequestMessage, ResponseMessage,
    RpcError, Version,
};
use super::socket::{Connection, PosListener};
use serde_json::Value;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many lines of the adapter's log an error shows.
const LOG_LINES_SHOWN: usize = 12;
/// How long an adapter may take to exit after `session.end` or a closed stdin.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The last request sent and the last line received, for error messages.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    pub sent: Option<String>,
    pub received: Option<(usize, String)>,
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = |s: &str| -> String {
            if s.len() > 300 {
                let end = (0..=300).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                format!("{}…", &s[..end])
            } else {
                s.to_owned()
            }
        };
        match &self.sent {
            Some(sent) => write!(f, "\n  last sent:     {}", cut(sent))?,
            None => write!(f, "\n  last sent:     nothing")?,
        }
        match &self.received {
            Some((line, text)) => write!(f, "\n  last received: line {line}: {}", cut(text)),
            None => write!(f, "\n  last received: nothing"),
        }
    }
}

/// Why a conversation with an adapter failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the adapter could not be started (`{command}`): {source}")]
    Spawn { command: String, source: io::Error },
    #[error("`{method}` got no answer within its deadline of {waited:?}{last}")]
    Deadline { method: String, waited: Duration, last: Box<Exchange> },
    #[error("the adapter {how} before it answered `{method}`{last}")]
    Closed { method: String, how: String, last: Box<Exchange> },
    #[error("line {line} of the adapter's stdout is not a JSON-RPC message ({why}): {text}{last}")]
    Garbage { line: usize, text: String, why: String, last: Box<Exchange> },
    #[error(
        "line {line} of the adapter's stdout answers request {id:?}, which is not waiting{last}"
    )]
    Unexpected { line: usize, id: Option<u64>, last: Box<Exchange> },
    #[error("the adapter answered `{method}` with error {}: {}{}", error.code, error.message,
        if error.definite() { " (definite)" } else { " (indefinite: it may have happened)" })]
    Rpc { method: String, error: RpcError },
    #[error("the adapter's result for `{method}` (line {line}) does not fit the protocol: {why}")]
    BadResult { method: String, line: usize, why: String },
    #[error("the adapter's `{method}` notification (line {line}) does not fit the protocol: {why}")]
    BadNotification { method: String, line: usize, why: String },
    #[error("writing to the adapter's stdin: {0}")]
    Write(io::Error),
}

/// The adapter's stderr, kept whole and shown by its tail.
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The last lines, indented, for an error message.
    pub fn tail(&self) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            return " (empty)".to_owned();
        }
        let from = lines.len().saturating_sub(LOG_LINES_SHOWN);
        lines[from..].iter().map(|l| format!("\n    | {l}")).collect()
    }

    /// Adds a line of the harness's own (a `log` notification).
    pub fn note(&self, line: String) {
        self.push(line);
    }
}

/// How the adapter is reached.
#[derive(Debug)]
enum Link {
    /// A process readerlab started: its stdin, and the shell to wait on
    /// and kill.
    Process { child: Child, stdin: Option<ChildStdin> },
    /// An app that connected in over a WebSocket.
    Socket(Connection),
}

/// A running adapter.
#[derive(Debug)]
pub struct Peer {
    link: Link,
    incoming: Receiver<Incoming>,
    next_id: u64,
    notifications: VecDeque<(usize, Notification)>,
    last: Exchange,
    log: Log,
    /// Stdout ended (or went bad): nothing more will come.
    ended: Option<String>,
    /// Every line received, when asked to keep them (the conformance kit
    /// validates each against the schema).
    transcript: Option<Vec<(usize, String)>>,
}

impl Peer {
    /// Starts `sh -c command` with its stdin and stdout piped.
    pub fn spawn(command: &str) -> Result<Peer, DriverError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            // Its own process group: `sh -c` forks the command, and a kill
            // must reach the adapter, not only the shell.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DriverError::Spawn { command: command.to_owned(), source })?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, incoming) = mpsc::channel();
        thread::Builder::new()
            .name("adapter-stdout".to_owned())
            .spawn(move || read_lines(stdout, &tx))
            .map_err(|source| DriverError::Spawn { command: command.to_owned(), source })?;
        let log = Log::default();
        let sink = log.clone();
        thread::Builder::new()
            .name("adapter-stderr".to_owned())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    match line {
                        Ok(line) => sink.push(line),
                        Err(_) => break,
                    }
                }
            })
            .map_err(|source| DriverError::Spawn { command: command.to_owned(), source })?;
        let stdin = child.stdin.take();
        Ok(Peer::over(Link::Process { child, stdin }, incoming, log))
    }

    /// Waits (until `deadline`) for an app to connect to `listener`.
    pub fn accept(listener: &PosListener, deadline: Duration) -> Result<Peer, DriverError> {
        let url = format!("ws://{}", listener.addr());
        let (connection, incoming) = listener
            .accept(deadline)
            .map_err(|source| DriverError::Spawn { command: url.clone(), source })?;
        let log = Log::default();
        log.note(format!("--- readerlab: an app connected from {} ---", connection.peer()));
        Ok(Peer::over(Link::Socket(connection), incoming, log))
    }

    fn over(link: Link, incoming: Receiver<Incoming>, log: Log) -> Peer {
        Peer {
            link,
            incoming,
            next_id: 0,
            notifications: VecDeque::new(),
            last: Exchange::default(),
            log,
            ended: None,
            transcript: None,
        }
    }

    /// Whether readerlab started the adapter (and so can kill it).
    pub fn is_process(&self) -> bool {
        matches!(self.link, Link::Process { .. })
    }

    /// Keeps every line received from now on ([`Peer::transcript`]).
    pub fn keep_transcript(&mut self) {
        self.transcript.get_or_insert_with(Vec::new);
    }

    /// The lines received since [`Peer::keep_transcript`].
    pub fn transcript(&self) -> &[(usize, String)] {
        self.transcript.as_deref().unwrap_or_default()
    }

    /// Waits for the next response, whatever its id (the answer to a line
    /// whose id the adapter may not have been able to read).
    pub fn await_any_response(
        &mut self,
        what: &str,
        deadline: Duration,
    ) -> Result<ResponseMessage, DriverError> {
        let until = Instant::now() + deadline;
        loop {
            let (number, text) = self.next_line(what, until, deadline)?;
            match parse_line(&text) {
                Err(why) => return Err(self.garbage(number, text, why)),
                Ok(AdapterMessage::Notification(NotificationMessage { notification, .. })) => {
                    self.notifications.push_back((number, notification));
                }
                Ok(AdapterMessage::Response(response)) => return Ok(response),
            }
        }
    }

    /// Its log (stderr) so far.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Sends `request` and waits up to `deadline` for its answer, queueing
    /// the notifications that come first.
    pub fn call(&mut self, request: &Request, deadline: Duration) -> Result<Value, DriverError> {
        self.next_id += 1;
        let id = self.next_id;
        let message = RequestMessage { jsonrpc: Version::V2, id, request: request.clone() };
        let line = serde_json::to_string(&message).expect("requests serialize");
        self.send_line(&line)?;
        let method = request.method();
        let response = self.await_response(id, method, deadline)?;
        let line = self.last.received.as_ref().map_or(0, |(n, _)| *n);
        match (response.result, response.error) {
            (_, Some(error)) => Err(DriverError::Rpc { method: method.to_owned(), error }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(DriverError::BadResult {
                method: method.to_owned(),
                line,
                why: "a response needs `result` or `error`".to_owned(),
            }),
        }
    }

    /// Writes one raw line (the conformance kit sends malformed ones).
    pub fn send_line(&mut self, line: &str) -> Result<(), DriverError> {
        self.last.sent = Some(line.to_owned());
        let written = match &mut self.link {
            Link::Process { stdin: Some(stdin), .. } => stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"))
                .and_then(|()| stdin.flush()),
            Link::Process { stdin: None, .. } => {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "stdin is closed"))
            }
            Link::Socket(connection) => connection.send(line),
        };
        match written {
            Ok(()) => Ok(()),
            // A broken pipe: the adapter is gone; say how.
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                let how = self.how_it_ended();
                self.ended = Some(how.clone());
                let method = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| "a line".to_owned());
                Err(self.closed(&method, how))
            }
            Err(error) => Err(DriverError::Write(error)),
        }
    }

    /// Waits for the response with `id` (`None`: one with a null id, the
    /// answer to a line that had none).
    pub fn await_response(
        &mut self,
        id: impl Into<Option<u64>>,
        method: &str,
        deadline: Duration,
    ) -> Result<ResponseMessage, DriverError> {
        let id = id.into();
        let until = Instant::now() + deadline;
        loop {
            let (number, text) = self.next_line(method, until, deadline)?;
            match parse_line(&text) {
                Err(why) => {
                    return Err(self.garbage(number, text, why));
                }
                Ok(AdapterMessage::Notification(NotificationMessage { notification, .. })) => {
                    self.notifications.push_back((number, notification));
                }
                Ok(AdapterMessage::Response(response)) if response.id == id => return Ok(response),
                Ok(AdapterMessage::Response(response)) => {
                    return Err(DriverError::Unexpected {
                        line: number,
                        id: response.id,
                        last: Box::new(self.last.clone()),
                    });
                }
            }
        }
    }

    fn garbage(&self, line: usize, text: String, why: String) -> DriverError {
        DriverError::Garbage { line, text, why, last: Box::new(self.last.clone()) }
    }

    /// The next line of stdout, or why there is none by `until`.
    fn next_line(
        &mut self,
        method: &str,
        until: Instant,
        deadline: Duration,
    ) -> Result<(usize, String), DriverError> {
        if let Some(how) = &self.ended {
            return Err(self.closed(method, how.clone()));
        }
        let wait = until.saturating_duration_since(Instant::now());
        let incoming = match self.incoming.recv_timeout(wait) {
            Ok(incoming) => incoming,
            Err(RecvTimeoutError::Timeout) => {
                return Err(DriverError::Deadline {
                    method: method.to_owned(),
                    waited: deadline,
                    last: Box::new(self.last.clone()),
                });
            }
            Err(RecvTimeoutError::Disconnected) => Incoming::Eof,
        };
        match incoming {
            Incoming::Line(number, text) => {
                self.last.received = Some((number, text.clone()));
                if let Some(transcript) = &mut self.transcript {
                    transcript.push((number, text.clone()));
                }
                Ok((number, text))
            }
            Incoming::TooLong(number) => {
                self.ended = Some(format!("wrote a line longer than {MAX_LINE} bytes"));
                let why = format!("longer than {MAX_LINE} bytes");
                Err(self.garbage(number, "(cut)".to_owned(), why))
            }
            Incoming::NotText(number) => {
                let why = "not UTF-8".to_owned();
                Err(self.garbage(number, "(bytes)".to_owned(), why))
            }
            Incoming::Eof => {
                let how = self.how_it_ended();
                self.ended = Some(how.clone());
                Err(self.closed(method, how))
            }
            Incoming::Failed(why) => {
                let how = format!("could not be read ({why})");
                self.ended = Some(how.clone());
                Err(self.closed(method, how))
            }
        }
    }

    fn closed(&self, method: &str, how: String) -> DriverError {
        DriverError::Closed { method: method.to_owned(), how, last: Box::new(self.last.clone()) }
    }

    /// "exited with status 3", or "closed its stdout" when still running.
    fn how_it_ended(&mut self) -> String {
        let Link::Process { child, .. } = &mut self.link else {
            return "closed the WebSocket connection".to_owned();
        };
        let until = Instant::now() + Duration::from_millis(200);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return exited(status),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(10)),
                _ => return "closed its stdout".to_owned(),
            }
        }
    }

    /// The notifications received so far, in order, with their line.
    pub fn take_notifications(&mut self) -> Vec<(usize, Notification)> {
        self.notifications.drain(..).collect()
    }

    /// Reads whatever the adapter has written by now without waiting:
    /// notifications are queued; anything else is an error (nothing is
    /// waiting for an answer).
    pub fn poll(&mut self) -> Result<(), DriverError> {
        while let Ok(incoming) = self.incoming.try_recv() {
            match incoming {
                Incoming::Line(number, text) => {
                    self.last.received = Some((number, text.clone()));
                    match parse_line(&text) {
                        Ok(AdapterMessage::Notification(message)) => {
                            self.notifications.push_back((number, message.notification));
                        }
                        Ok(AdapterMessage::Response(response)) => {
                            let last = Box::new(self.last.clone());
                            return Err(DriverError::Unexpected {
                                line: number,
                                id: response.id,
                                last,
                            });
                        }
                        Err(why) => return Err(self.garbage(number, text, why)),
                    }
                }
                Incoming::TooLong(number) => {
                    let why = format!("longer than {MAX_LINE} bytes");
                    return Err(self.garbage(number, "(cut)".to_owned(), why));
                }
                Incoming::NotText(number) => {
                    return Err(self.garbage(number, "(bytes)".to_owned(), "not UTF-8".to_owned()));
                }
                Incoming::Eof => {
                    let how = self.how_it_ended();
                    self.ended = Some(how);
                }
                Incoming::Failed(why) => self.ended = Some(format!("could not be read ({why})")),
            }
        }
        Ok(())
    }

    /// Closes stdin and gives the adapter [`EXIT_GRACE`] to exit, then kills
    /// it. Returns how it ended.
    pub fn close(&mut self) -> String {
        let child = match &mut self.link {
            Link::Process { child, stdin } => {
                *stdin = None;
                child
            }
            Link::Socket(connection) => {
                connection.close();
                return "connection closed".to_owned();
            }
        };
        let until = Instant::now() + EXIT_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return exited(status),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(10)),
                _ => {
                    self.kill_group();
                    return format!("did not exit within {EXIT_GRACE:?}: killed");
                }
            }
        }
    }

    /// SIGKILL, as `app.kill` does: nothing is flushed, nothing said.
    /// A connected app cannot be killed: its connection is closed.
    pub fn kill(&mut self) {
        // The signal first: a closed stdin would warn the adapter.
        self.kill_group();
        match &mut self.link {
            Link::Process { stdin, .. } => *stdin = None,
            Link::Socket(connection) => connection.close(),
        }
    }

    /// SIGKILL to the adapter's whole process group (the shell and what it
    /// started), then reaps the shell.
    fn kill_group(&mut self) {
        let Link::Process { child, .. } = &mut self.link else { return };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A shell not yet reaped still owns its group id: kill the group.
        // (A socket closes itself.)
        if let Link::Process { child, .. } = &mut self.link
            && matches!(child.try_wait(), Ok(None))
        {
            self.kill_group();
        }
    }
}

fn exited(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was ended by a signal ({status})"),
    }
}

/// One line of the adapter's stdout as a message, or why it is not one.
pub fn parse_line(text: &str) -> Result<AdapterMessage, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err("not a JSON object".to_owned());
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("`jsonrpc` is not \"2.0\"".to_owned());
    }
    if object.contains_key("method") {
        if object.contains_key("id") {
            return Err("adapters send no requests, only responses and notifications".to_owned());
        }
        return serde_json::from_value::<NotificationMessage>(value)
            .map(AdapterMessage::Notification)
            .map_err(|e| format!("not a notification of protocol 1: {e}"));
    }
    serde_json::from_value::<ResponseMessage>(value)
        .map(AdapterMessage::Response)
        .map_err(|e| format!("not a response: {e}"))
}

/// The reading thread: lines of at most [`MAX_LINE`] bytes until EOF.
fn read_lines(stdout: impl Read, tx: &mpsc::Sender<Incoming>) {
    let mut reader = BufReader::new(stdout);
    let mut number = 0;
    loop {
        let mut bytes = Vec::new();
        let read = (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut bytes);
        let sent = match read {
            Ok(0) => {
                let _ = tx.send(Incoming::Eof);
                return;
            }
            Ok(_) => {
                number += 1;
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                } else if bytes.len() > MAX_LINE {
                    let _ = tx.send(Incoming::TooLong(number));
                    return;
                }
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match String::from_utf8(bytes) {
                    Ok(text) => tx.send(Incoming::Line(number, text)),
                    Err(_) => tx.send(Incoming::NotText(number)),
                }
            }
            Err(e) => {
                let _ = tx.send(Incoming::Failed(e.to_string()));
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_messages_say_why() {
        assert!(parse_line("hello").unwrap_err().starts_with("not JSON"));
        assert_eq!(parse_line("[1]").unwrap_err(), "not a JSON object");
        assert!(parse_line(r#"{"id":1,"result":{}}"#).unwrap_err().contains("jsonrpc"));
        let request = r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{}}"#;
        assert!(parse_line(request).unwrap_err().contains("no requests"));
        let unknown = r#"{"jsonrpc":"2.0","method":"payment.stolen","params":{}}"#;
        assert!(parse_line(unknown).unwrap_err().contains("notification"));
        let ok = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        assert!(matches!(parse_line(ok), Ok(AdapterMessage::Response(_))));
    }
}
