//! The protocol over a WebSocket (`--pos-listen ADDR`): for an app on a
//! device or an emulator that reaches readerlab over the network and
//! connects in, once per session. Each text message is one JSON-RPC message.
//! Off loopback the app must present the token (`Authorization: Bearer
//! TOKEN`, or `?token=TOKEN` for clients that cannot set headers), as for
//! the control API.
//!
//! One thread per connection owns the socket: it writes what the session
//! sends and hands what arrives to the same channel a process's stdout
//! feeds, so the conversation ([`super::Peer`]) is the same either way.

use super::line::{Incoming, MAX_LINE};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error as WsError, Message, WebSocket};

/// How long the WebSocket handshake may take once a client connected.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);
/// How often the pump looks for lines to send while it waits to read.
const PUMP_TICK: Duration = Duration::from_millis(5);

/// Where apps connect in.
#[derive(Debug)]
pub struct PosListener {
    listener: TcpListener,
    addr: SocketAddr,
    token: Option<String>,
}

impl PosListener {
    /// Binds `addr`. Off loopback a token is required.
    pub fn bind(addr: SocketAddr, token: Option<String>) -> io::Result<PosListener> {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("--pos-listen {addr} is not a loopback address: give --pos-token TOKEN"),
            ));
        }
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(PosListener { listener, addr, token })
    }

    /// The address it listens on (the port chosen when it was 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (until `deadline`) for an app to connect and complete the
    /// WebSocket handshake with the right token.
    pub(super) fn accept(
        &self,
        deadline: Duration,
    ) -> io::Result<(Connection, Receiver<Incoming>)> {
        let until = Instant::now() + deadline;
        loop {
            let stream = loop {
                match self.listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < until => {
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        return Err(io::Error::new(
                            ErrorKind::TimedOut,
                            format!("no app connected to ws://{} within {deadline:?}", self.addr),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            };
            // A client that fails the handshake (a port scanner, a wrong
            // token) is dropped, and the next one waited for.
            if let Ok(connection) = self.handshake(stream) {
                return Ok(connection);
            }
        }
    }

    #[expect(
        clippy::result_large_err,
        reason = "tungstenite's handshake callback returns its own error response"
    )]
    fn handshake(&self, stream: TcpStream) -> io::Result<(Connection, Receiver<Incoming>)> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(HANDSHAKE_DEADLINE))?;
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr()?;
        let token = self.token.clone();
        let check =
            move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                match &token {
                    Some(token) if !presents(request, token) => {
                        let mut refused =
                            ErrorResponse::new(Some("a valid token is required".to_owned()));
                        *refused.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
                        Err(refused)
                    }
                    _ => Ok(response),
                }
            };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_LINE))
            .max_frame_size(Some(MAX_LINE));
        let socket = tungstenite::accept_hdr_with_config(stream, check, Some(config))
            .map_err(|e| io::Error::other(e.to_string()))?;
        socket.get_ref().set_read_timeout(Some(PUMP_TICK))?;
        let (to_socket, outgoing) = mpsc::channel();
        let (incoming, received) = mpsc::channel();
        let pump = thread::Builder::new()
            .name("adapter-websocket".to_owned())
            .spawn(move || pump(socket, &outgoing, &incoming))?;
        Ok((Connection { outgoing: Some(to_socket), pump: Some(pump), peer }, received))
    }
}

/// Whether the handshake carries the token.
fn presents(request: &Request, token: &str) -> bool {
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == token);
    let query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == format!("token={token}")));
    bearer || query
}

/// One app's connection.
#[derive(Debug)]
pub struct Connection {
    outgoing: Option<Sender<String>>,
    pump: Option<JoinHandle<()>>,
    peer: SocketAddr,
}

impl Connection {
    /// Sends one message.
    pub fn send(&self, line: &str) -> io::Result<()> {
        let closed = || io::Error::new(ErrorKind::BrokenPipe, "the WebSocket is closed");
        let outgoing = self.outgoing.as_ref().ok_or_else(closed)?;
        outgoing.send(line.to_owned()).map_err(|_| closed())
    }

    /// Closes the connection (a Close frame, then the socket).
    pub fn close(&mut self) {
        self.outgoing = None;
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
    }

    /// Who connected.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// The connection's thread: what the session sends goes out; what arrives
/// goes to `incoming`, one line per message (or per line of a message).
fn pump(
    mut socket: WebSocket<TcpStream>,
    outgoing: &Receiver<String>,
    incoming: &Sender<Incoming>,
) {
    let mut number = 0;
    loop {
        loop {
            match outgoing.try_recv() {
                Ok(line) => {
                    if socket.send(Message::text(line)).is_err() {
                        let _ = incoming.send(Incoming::Eof);
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = socket.close(None);
                    let _ = socket.flush();
                    return;
                }
            }
        }
        let received = match socket.read() {
            Ok(Message::Text(text)) => text.as_str().to_owned(),
            Ok(Message::Binary(_)) => {
                number += 1;
                let _ = incoming.send(Incoming::NotText(number));
                continue;
            }
            Ok(Message::Close(_)) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                let _ = incoming.send(Incoming::Eof);
                return;
            }
            Ok(_) => continue,
            Err(WsError::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(WsError::Capacity(_)) => {
                let _ = incoming.send(Incoming::TooLong(number + 1));
                return;
            }
            Err(e) => {
                let _ = incoming.send(Incoming::Failed(e.to_string()));
                return;
            }
        };
        for line in received.lines().filter(|l| !l.trim().is_empty()) {
            number += 1;
            if incoming.send(Incoming::Line(number, line.to_owned())).is_err() {
                return;
            }
        }
    }
}
