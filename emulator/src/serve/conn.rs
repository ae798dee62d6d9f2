//! The server's own accept loop: hyper's HTTP/1 connections around the
//! axum router, with the limits `axum::serve` does not have (see
//! [`ServeLimits`]): a time to send a request's head, a time a kept-alive
//! connection may stay idle, and a number of connections per client
//! address. A connection past its time is closed; one past the count is
//! answered 503 and closed before anything of it is read.
//!
//! Each connection has a watchdog that reads its [`Watch`]: when it began
//! waiting for a request (accepted, or its last response finished), when
//! the first byte of that request arrived, and how many requests are in
//! flight. Only a connection waiting for a request is ever timed out: a
//! long answer (a followed history) is not idle.

use super::stripe::NoAnswer;
use axum::Router;
use axum::body::Body;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a connection may take and how many one client may hold
/// (docs/http-api.md, "Limits"). A connection past its time is closed; one
/// past the count is answered 503 and closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// A request's head (request line and headers) must be complete this
    /// long after the connection opened or its first byte arrived.
    pub header_read_timeout: std::time::Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: std::time::Duration,
    /// Connections one client address may have open at once.
    pub max_connections_per_ip: usize,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            header_read_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
            max_connections_per_ip: 128,
        }
    }
}

/// How long shutdown waits for open connections before it drops them.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `stop` turns true, then lets open
/// requests finish (up to [`DRAIN`]).
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut stopped = stop.clone();
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopping(&mut stopped) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    // Out of file descriptors, say: try again shortly.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Some(slot) = Slot::take(&per_ip, peer.ip(), limits.max_connections_per_ip)
                else {
                    refuse(&stream, limits.max_connections_per_ip);
                    drop(stream);
                    continue;
                };
                let (app, limits, stop) = (app.clone(), limits.clone(), stop.clone());
                connections.spawn(async move {
                    connection(stream, app, &limits, stop).await;
                    drop(slot);
                });
            }
            // Reap finished connections as they go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One client address's share of the connections.
struct Slot {
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Slot {
    fn take(per_ip: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut counts = lock(per_ip);
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot { per_ip: Arc::clone(per_ip), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.per_ip);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// A connection over the count: a 503 if the socket takes it at once, then
/// closed. Nothing of the request is read.
fn refuse(stream: &TcpStream, max: usize) {
    let body = format!(
        "{{\"error\":{{\"type\":\"api_error\",\"status\":503,\"message\":\"Too many connections \
         from this address: at most {max} at once.\"}}}}"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// What the watchdog knows of a connection.
#[derive(Debug)]
struct Watch {
    /// When it began waiting for a request; `None` while one is in flight.
    waiting_since: Option<Instant>,
    /// When the first byte of the awaited request arrived.
    first_byte: Option<Instant>,
    /// Whether it has not had a request yet.
    fresh: bool,
    /// Requests whose responses are not finished.
    in_flight: usize,
}

type Shared = Arc<Mutex<Watch>>;

impl Watch {
    /// Whether the connection has waited too long for its request's head:
    /// a new connection must send it within the header timeout; a kept-alive
    /// one must start it within the idle timeout and finish it within the
    /// header timeout of its first byte.
    fn expired(&self, now: Instant, limits: &ServeLimits) -> bool {
        let Some(since) = self.waiting_since else { return false };
        if self.in_flight > 0 {
            return false;
        }
        match (self.fresh, self.first_byte) {
            (true, _) => now - since >= limits.header_read_timeout,
            (false, Some(first)) => now - first >= limits.header_read_timeout,
            (false, None) => now - since >= limits.idle_timeout,
        }
    }
}

async fn connection(
    stream: TcpStream,
    app: Router,
    limits: &ServeLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let watch: Shared = Arc::new(Mutex::new(Watch {
        waiting_since: Some(Instant::now()),
        first_byte: None,
        fresh: true,
        in_flight: 0,
    }));
    let io = TokioIo::new(Tracked { stream, watch: Arc::clone(&watch) });
    let service = {
        let watch = Arc::clone(&watch);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let tower = TowerToHyperService::new(app.clone());
            let guard = InFlight::begin(&watch);
            async move {
                let response = match hyper::service::Service::call(&tower, request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                // An answer a faulty link lost: hyper closes the connection
                // when the service fails, and sends nothing.
                if response.extensions().get::<NoAnswer>().is_some() {
                    drop(guard);
                    return Err(AnswerLost);
                }
                Ok(response.map(|body| Body::new(Guarded { body, _guard: guard })))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's own header timer is a backstop: it runs from the moment the
    // connection waits for a head, idle time included.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout + limits.idle_timeout);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let shortest = limits.header_read_timeout.min(limits.idle_timeout);
    let mut tick = tokio::time::interval((shortest / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutting = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tick.tick() => {
                if lock(&watch).expired(Instant::now(), limits) {
                    // Dropping the connection closes the socket.
                    return;
                }
            }
            () = stopping(&mut stop), if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The socket, noting when the first byte of an awaited request arrives.
struct Tracked {
    stream: TcpStream,
    watch: Shared,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            let mut watch = lock(&this.watch);
            if watch.waiting_since.is_some() && watch.first_byte.is_none() {
                watch.first_byte = Some(Instant::now());
            }
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request in flight, from its head until its response is finished.
struct InFlight(Shared);

impl InFlight {
    fn begin(watch: &Shared) -> InFlight {
        let mut state = lock(watch);
        state.in_flight += 1;
        state.waiting_since = None;
        state.first_byte = None;
        state.fresh = false;
        InFlight(Arc::clone(watch))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.waiting_since = Some(Instant::now());
            state.first_byte = None;
        }
    }
}

/// A response body that ends its request's [`InFlight`] when it is done
/// (hyper drops it once the last frame is written).
struct Guarded {
    body: Body,
    _guard: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The service's one failure: the answer was not to be sent (a
/// [`NoAnswer`] response).
#[derive(Debug)]
struct AnswerLost;

impl std::fmt::Display for AnswerLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer was lost on the way (a link fault)")
    }
}

impl std::error::Error for AnswerLost {}
