//! The per-connection pump: a client accepted by a proxy, its connection to
//! the upstream, and one task per direction carrying bytes through the
//! toxics.
//!
//! Each direction reads chunks as they come and stamps them with the time
//! they were read; a writer beside it asks the direction's [`Chain`] what
//! to do with each chunk and does it. The writer reads the proxy's toxic
//! list afresh before every chunk and whenever it changes, so toxics added
//! or removed act on live connections, as in Toxiproxy. Either direction
//! ending ends both: the connection's [`Ending`] is shared, and only ever
//! escalates (open, then closed, then reset).

use super::chain::{Chain, Ending, InstalledToxic, Piece};
use super::toxics::Stream;
use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The proxy's toxics as every connection of it sees them.
pub(crate) type ToxicList = Arc<Vec<InstalledToxic>>;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 32 * 1024;
/// Chunks read but not yet written, per direction. Latency holds chunks
/// back without holding up reading, like Toxiproxy's buffered latency toxic.
const CHUNKS_IN_FLIGHT: usize = 1024;

/// Serves one accepted client: connects to `upstream`, then pumps both
/// directions until one side closes, a toxic ends the connection, or `stop`
/// turns true (the proxy disabled, removed or shut down).
pub(crate) async fn serve_client(
    client: TcpStream,
    upstream: String,
    toxics: watch::Receiver<ToxicList>,
    mut stop: watch::Receiver<bool>,
    seed: u64,
) {
    let connected = tokio::select! {
        _ = stop.wait_for(|stopped| *stopped) => return,
        connected = TcpStream::connect(upstream.as_str()) => connected,
    };
    // An upstream that cannot be reached closes the client at once, which
    // is what Toxiproxy does too.
    let Ok(upstream) = connected else { return };
    // Small writes must leave at once: Nagle's algorithm would add its own
    // delay on top of the toxics' and spoil latency measurements.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);

    let (ending, mut ending_changes) = watch::channel(Ending::Open);
    let ending = Arc::new(ending);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let pumps = [
        tokio::spawn(pump(
            client_read,
            upstream_write,
            Chain::new(Stream::Upstream, ChaCha8Rng::seed_from_u64(seed.wrapping_mul(2))),
            toxics.clone(),
            Arc::clone(&ending),
        )),
        tokio::spawn(pump(
            upstream_read,
            client_write,
            Chain::new(Stream::Downstream, ChaCha8Rng::seed_from_u64(seed.wrapping_mul(2) + 1)),
            toxics,
            Arc::clone(&ending),
        )),
    ];
    tokio::select! {
        _ = stop.wait_for(|stopped| *stopped) => end(&ending, Ending::Close),
        _ = ending_changes.wait_for(|e| *e != Ending::Open) => {}
    }
    for pump in pumps {
        let _ = pump.await;
    }
}

/// Moves `how` into the shared ending unless the connection already ends
/// at least as hard (a reset is never softened to a close).
fn end(ending: &watch::Sender<Ending>, how: Ending) {
    ending.send_if_modified(|current| {
        let harder = how > *current;
        if harder {
            *current = how;
        }
        harder
    });
}

/// One direction: `source` to `dest` through `chain`, until the connection ends.
async fn pump(
    mut source: OwnedReadHalf,
    mut dest: OwnedWriteHalf,
    chain: Chain,
    toxics: watch::Receiver<ToxicList>,
    ending: Arc<watch::Sender<Ending>>,
) {
    let (chunks_in, chunks_out) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::join!(
        read_chunks(&mut source, chunks_in, ending.subscribe()),
        write_chunks(&mut dest, chunks_out, chain, toxics, &ending),
    );
    if *ending.borrow() == Ending::Reset {
        // SO_LINGER 0 makes close() send RST instead of FIN; forgetting the
        // write half skips its shutdown(Write), which would send a FIN first.
        let _ = source.as_ref().set_zero_linger();
        let _ = dest.as_ref().set_zero_linger();
        dest.forget();
    }
}

/// Reads chunks and stamps each with its arrival; returns at end of stream,
/// on a read error, or when the connection ends.
async fn read_chunks(
    source: &mut OwnedReadHalf,
    chunks: mpsc::Sender<(Bytes, Instant)>,
    mut ending: watch::Receiver<Ending>,
) {
    let mut buffer = BytesMut::with_capacity(READ_SIZE);
    loop {
        buffer.reserve(READ_SIZE);
        let read = tokio::select! {
            _ = ending.wait_for(|e| *e != Ending::Open) => return,
            read = source.read_buf(&mut buffer) => read,
        };
        if !matches!(read, Ok(n) if n > 0) {
            return;
        }
        let chunk = (buffer.split().freeze(), Instant::now());
        tokio::select! {
            _ = ending.wait_for(|e| *e != Ending::Open) => return,
            sent = chunks.send(chunk) => if sent.is_err() { return },
        }
    }
}

/// Writes what the chain makes of each chunk; ends the connection when the
/// reader is done and everything read has been written, when a write
/// fails, or when a toxic says so.
async fn write_chunks(
    dest: &mut OwnedWriteHalf,
    mut chunks: mpsc::Receiver<(Bytes, Instant)>,
    mut chain: Chain,
    mut toxics: watch::Receiver<ToxicList>,
    ending: &watch::Sender<Ending>,
) {
    let mut ending_changes = ending.subscribe();
    let mut toxics_may_change = true;
    loop {
        let current = Arc::clone(&toxics.borrow_and_update());
        chain.sync(&current, Instant::now());
        let due = chain.next_ending();
        let (due_at, due_ending) = due.unwrap_or((Instant::now(), Ending::Open));
        let chunk = tokio::select! {
            _ = ending_changes.wait_for(|e| *e != Ending::Open) => return,
            changed = toxics.changed(), if toxics_may_change => {
                toxics_may_change = changed.is_ok();
                continue;
            }
            _ = tokio::time::sleep_until(due_at), if due.is_some() => {
                end(ending, due_ending);
                return;
            }
            chunk = chunks.recv() => chunk,
        };
        let Some((data, read_at)) = chunk else {
            end(ending, Ending::Close);
            return;
        };
        let plan = chain.plan(data, read_at, Instant::now());
        for piece in plan.pieces {
            let written = tokio::select! {
                _ = ending_changes.wait_for(|e| *e != Ending::Open) => return,
                written = deliver(dest, piece) => written,
            };
            if written.is_err() {
                end(ending, Ending::Close);
                return;
            }
        }
        if plan.then != Ending::Open {
            end(ending, plan.then);
            return;
        }
    }
}

/// Waits as long as the piece must, then writes it.
async fn deliver(dest: &mut OwnedWriteHalf, piece: Piece) -> std::io::Result<()> {
    tokio::time::sleep_until(piece.not_before).await;
    if piece.pause > Duration::ZERO {
        tokio::time::sleep(piece.pause).await;
    }
    dest.write_all(&piece.data).await
}
