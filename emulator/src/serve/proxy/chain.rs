//! One direction of one connection's view of the toxics: which apply (the
//! toxicity roll), since when, and what they make of a chunk of bytes.
//!
//! `Chain::plan` turns a chunk into the pieces to write, each with the
//! instant before which it must not leave and the pause before it, plus
//! whether the connection ends afterwards. It sleeps and writes nothing
//! itself: `link.rs` carries the plan out, so this part is tested with a
//! seeded generator and no sockets.

use super::toxics::{Stream, Toxic, ToxicKind};
use bytes::Bytes;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::time::Instant;

/// A toxic as a proxy holds it: with an id that no later toxic reuses, so a
/// connection can tell a toxic updated in place from one removed and added
/// again under the same name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstalledToxic {
    pub(crate) id: u64,
    pub(crate) toxic: Toxic,
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ending {
    /// Still open.
    Open,
    /// Closed in order (FIN) on both sides.
    Close,
    /// Reset (RST) on both sides: `reset_peer`.
    Reset,
}

/// Bytes to write, not before `not_before`, and `pause` after the piece before.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    pub(crate) data: Bytes,
    pub(crate) not_before: Instant,
    pub(crate) pause: Duration,
}

/// What to do with one chunk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) pieces: Vec<Piece>,
    /// `Open` to carry on, or how to end the connection once the pieces are out.
    pub(crate) then: Ending,
}

#[derive(Debug)]
struct ToxicState {
    installed: InstalledToxic,
    applies: bool,
    since: Instant,
    bytes_passed: u64,
    reset_at: Option<Instant>,
}

/// The toxics of one direction of one connection.
#[derive(Debug)]
pub(crate) struct Chain {
    direction: Stream,
    rng: ChaCha8Rng,
    states: Vec<ToxicState>,
}

impl Chain {
    pub(crate) fn new(direction: Stream, rng: ChaCha8Rng) -> Chain {
        Chain { direction, rng, states: Vec::new() }
    }

    /// Brings the chain up to date with the proxy's toxics at `now`: a toxic
    /// new to this connection takes hold now, after its toxicity roll (rolled
    /// again when its toxicity changes); one that is gone no longer acts.
    pub(crate) fn sync(&mut self, toxics: &[InstalledToxic], now: Instant) {
        let mut old = std::mem::take(&mut self.states);
        for installed in toxics.iter().filter(|t| t.toxic.stream == self.direction) {
            let kept = old.iter().position(|s| s.installed.id == installed.id);
            let state = match kept.map(|i| old.swap_remove(i)) {
                Some(mut state) => {
                    if state.installed.toxic.toxicity != installed.toxic.toxicity {
                        state.applies = self.rng.random::<f64>() < installed.toxic.toxicity;
                    }
                    state.installed = installed.clone();
                    state
                }
                None => ToxicState {
                    installed: installed.clone(),
                    applies: self.rng.random::<f64>() < installed.toxic.toxicity,
                    since: now,
                    bytes_passed: 0,
                    reset_at: None,
                },
            };
            self.states.push(state);
        }
    }

    /// The next instant the connection must end without waiting for data:
    /// a `timeout` running out or a `reset_peer` falling due.
    pub(crate) fn next_ending(&self) -> Option<(Instant, Ending)> {
        self.applying()
            .filter_map(|state| match state.installed.toxic.kind {
                ToxicKind::Timeout { timeout } if timeout > 0 => {
                    Some((later(state.since, Duration::from_millis(timeout)), Ending::Close))
                }
                ToxicKind::ResetPeer { .. } => state.reset_at.map(|at| (at, Ending::Reset)),
                _ => None,
            })
            .min_by_key(|(at, _)| *at)
    }

    fn applying(&self) -> impl Iterator<Item = &ToxicState> {
        self.states.iter().filter(|s| s.applies)
    }

    /// What the toxics make of `data`, read at `read_at`; `now` is when
    /// the plan is made (a `reset_peer` counts its timeout from it).
    pub(crate) fn plan(&mut self, data: Bytes, read_at: Instant, now: Instant) -> Plan {
        let mut pieces = vec![Piece { data, not_before: read_at, pause: Duration::ZERO }];
        let mut then = Ending::Open;
        for state in self.states.iter_mut().filter(|s| s.applies) {
            match state.installed.toxic.kind {
                ToxicKind::Latency { latency, jitter } => {
                    let spread = self.rng.random_range(0..=jitter.saturating_mul(2));
                    let delay = latency.saturating_add(spread).saturating_sub(jitter);
                    for piece in &mut pieces {
                        piece.not_before = later(piece.not_before, Duration::from_millis(delay));
                    }
                }
                ToxicKind::Bandwidth { rate } if rate > 0 => pieces = throttle(pieces, rate),
                ToxicKind::Bandwidth { .. } => {}
                ToxicKind::Slicer { average_size, size_variation, delay } => {
                    let rng = &mut self.rng;
                    pieces = slice(pieces, average_size, size_variation, delay, rng);
                }
                ToxicKind::Timeout { .. } => pieces.clear(),
                ToxicKind::ResetPeer { timeout } => {
                    pieces.clear();
                    state.reset_at.get_or_insert(later(now, Duration::from_millis(timeout)));
                }
                ToxicKind::LimitData { bytes } => {
                    let mut kept = Vec::new();
                    for mut piece in pieces {
                        let left = bytes.saturating_sub(state.bytes_passed);
                        let take = usize::try_from(left).unwrap_or(usize::MAX);
                        if take == 0 {
                            break;
                        }
                        piece.data.truncate(take);
                        state.bytes_passed += piece.data.len() as u64;
                        kept.push(piece);
                    }
                    pieces = kept;
                    if state.bytes_passed >= bytes {
                        then = then.max(Ending::Close);
                    }
                }
            }
        }
        Plan { pieces, then }
    }
}

/// `at + wait`, or about thirty years on when a huge attribute would
/// overflow the clock: an attribute of `u64::MAX` ms means "never", not a panic.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait).unwrap_or_else(|| at + Duration::from_secs(30 * 365 * 24 * 3600))
}

/// The bandwidth toxic: each piece cut into at most 100 ms worth of bytes
/// (as Toxiproxy does, so a large chunk trickles out instead of arriving all
/// at once at the end), each paused for the time its bytes take at `rate` KB/s.
fn throttle(pieces: Vec<Piece>, rate: u64) -> Vec<Piece> {
    let most = usize::try_from(rate.saturating_mul(100)).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for piece in pieces {
        let mut rest = piece.data;
        let mut first = true;
        while !rest.is_empty() {
            let data = rest.split_to(most.min(rest.len()));
            let pause = Duration::from_micros(data.len() as u64 * 1000 / rate);
            let pause = if first { piece.pause + pause } else { pause };
            out.push(Piece { data, not_before: piece.not_before, pause });
            first = false;
        }
    }
    out
}

/// The slicer: pieces of `average` ± `variation` bytes, `delay` µs apart.
fn slice(
    pieces: Vec<Piece>,
    average: u64,
    variation: u64,
    delay: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<Piece> {
    let average = average.max(1);
    let variation = variation.min(average - 1);
    let mut out = Vec::new();
    for piece in pieces {
        let mut rest = piece.data;
        let mut first = true;
        while !rest.is_empty() {
            let spread = rng.random_range(0..=variation.saturating_mul(2));
            let size = (average - variation).saturating_add(spread);
            let size = usize::try_from(size).unwrap_or(usize::MAX).clamp(1, rest.len());
            out.push(Piece {
                data: rest.split_to(size),
                not_before: piece.not_before,
                pause: if first { piece.pause } else { Duration::from_micros(delay) },
            });
            first = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn chain_of(toxics: &[Toxic], now: Instant) -> Chain {
        let installed: Vec<InstalledToxic> = toxics
            .iter()
            .enumerate()
            .map(|(id, toxic)| InstalledToxic { id: id as u64, toxic: toxic.clone() })
            .collect();
        let mut chain = Chain::new(Stream::Downstream, ChaCha8Rng::seed_from_u64(1));
        chain.sync(&installed, now);
        chain
    }

    fn down(kind: ToxicKind) -> Toxic {
        Toxic::new(kind, Stream::Downstream)
    }

    fn joined(plan: &Plan) -> Vec<u8> {
        plan.pieces.iter().flat_map(|p| p.data.iter().copied()).collect()
    }

    #[test]
    fn latency_holds_each_piece_back_from_its_read() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::Latency { latency: 200, jitter: 0 })], now);
        let plan = chain.plan(Bytes::from_static(b"hi"), now, now);
        assert_eq!(plan.pieces[0].not_before, now + Duration::from_millis(200));
        assert_eq!(plan.then, Ending::Open);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let now = Instant::now();
        let toxic = down(ToxicKind::Latency { latency: 100, jitter: 30 });
        let mut chain = chain_of(&[toxic], now);
        for _ in 0..200 {
            let plan = chain.plan(Bytes::from_static(b"x"), now, now);
            let delay = plan.pieces[0].not_before - now;
            assert!((70..=130).contains(&delay.as_millis()), "{delay:?}");
        }
    }

    #[test]
    fn the_slicer_keeps_every_byte_in_order() {
        let now = Instant::now();
        let slicer = ToxicKind::Slicer { average_size: 10, size_variation: 4, delay: 50 };
        let mut chain = chain_of(&[down(slicer)], now);
        let data: Vec<u8> = (0..=255).collect();
        let plan = chain.plan(Bytes::from(data.clone()), now, now);
        assert_eq!(joined(&plan), data);
        assert!(plan.pieces.len() > 15);
        assert!(plan.pieces.iter().all(|p| (6..=14).contains(&p.data.len()) || p.data.len() < 6));
        assert!(plan.pieces[1..].iter().all(|p| p.pause == Duration::from_micros(50)));
    }

    #[test]
    fn bandwidth_spreads_a_chunk_over_time() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::Bandwidth { rate: 10 })], now);
        let plan = chain.plan(Bytes::from(vec![7u8; 2500]), now, now);
        assert_eq!(joined(&plan).len(), 2500);
        let total: Duration = plan.pieces.iter().map(|p| p.pause).sum();
        assert_eq!(total, Duration::from_millis(250));
    }

    #[test]
    fn limit_data_lets_exactly_its_bytes_through_then_closes() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::LimitData { bytes: 10 })], now);
        let first = chain.plan(Bytes::from_static(b"123456"), now, now);
        assert_eq!((joined(&first), first.then), (b"123456".to_vec(), Ending::Open));
        let second = chain.plan(Bytes::from_static(b"789abcdef"), now, now);
        assert_eq!((joined(&second), second.then), (b"789a".to_vec(), Ending::Close));
    }

    #[test]
    fn timeout_swallows_data_and_ends_after_its_timeout() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::Timeout { timeout: 500 })], now);
        assert!(chain.plan(Bytes::from_static(b"lost"), now, now).pieces.is_empty());
        assert_eq!(chain.next_ending(), Some((now + Duration::from_millis(500), Ending::Close)));
        let forever = chain_of(&[down(ToxicKind::Timeout { timeout: 0 })], now);
        assert_eq!(forever.next_ending(), None);
    }

    #[test]
    fn reset_peer_counts_from_the_first_data() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::ResetPeer { timeout: 100 })], now);
        assert_eq!(chain.next_ending(), None);
        let later = now + Duration::from_millis(40);
        assert!(chain.plan(Bytes::from_static(b"x"), later, later).pieces.is_empty());
        assert_eq!(chain.next_ending(), Some((later + Duration::from_millis(100), Ending::Reset)));
    }

    #[test]
    fn toxicity_zero_never_applies_and_other_streams_are_ignored() {
        let now = Instant::now();
        let never = down(ToxicKind::Timeout { timeout: 0 }).with_toxicity(0.0);
        let other = Toxic::new(ToxicKind::Timeout { timeout: 0 }, Stream::Upstream);
        let mut chain = chain_of(&[never, other], now);
        assert_eq!(joined(&chain.plan(Bytes::from_static(b"ok"), now, now)), b"ok");
    }

    #[test]
    fn huge_attributes_mean_never_not_a_panic() {
        let now = Instant::now();
        let max = u64::MAX;
        let toxics = [
            down(ToxicKind::Latency { latency: max, jitter: max }),
            down(ToxicKind::Slicer { average_size: max, size_variation: max, delay: max }),
            down(ToxicKind::Bandwidth { rate: max }),
            down(ToxicKind::LimitData { bytes: max }),
            down(ToxicKind::Timeout { timeout: max }).with_toxicity(0.0),
            down(ToxicKind::ResetPeer { timeout: max }).with_toxicity(0.0),
        ];
        let mut chain = chain_of(&toxics, now);
        let plan = chain.plan(Bytes::from_static(b"still here"), now, now);
        assert_eq!(joined(&plan), b"still here");
        let mut ending = chain_of(&[down(ToxicKind::Timeout { timeout: max })], now);
        assert!(ending.next_ending().unwrap().0 > now);
        let mut reset = chain_of(&[down(ToxicKind::ResetPeer { timeout: max })], now);
        reset.plan(Bytes::from_static(b"x"), now, now);
        assert!(reset.next_ending().unwrap().0 > now);
        ending.sync(&[], now);
    }

    #[test]
    fn a_removed_toxic_stops_acting() {
        let now = Instant::now();
        let mut chain = chain_of(&[down(ToxicKind::Timeout { timeout: 0 })], now);
        chain.sync(&[], now);
        assert_eq!(joined(&chain.plan(Bytes::from_static(b"ok"), now, now)), b"ok");
    }
}
