//! What every fuzz target shares (`tests/fuzz.rs` of each crate includes
//! this file): bolero's byte input turned into the target's input, by
//! mutating one of the target's valid seeds or taken as it is; a time limit
//! per input and a watchdog for a hang; the failing input in the failure
//! message; the time box of a run; and one line of statistics per target.
//!
//! On the stable toolchain bolero's `check!()` runs as an ordinary test:
//! random inputs, no coverage feedback. The seeds and the mutations below
//! are what gets those inputs past the first byte of a parser. docs/fuzzing.md
//! says how to run longer and how to reproduce a failure.

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `bolero::check!()` gives a test: raw bytes, on the default engine.
pub type Check =
    bolero::TestTarget<bolero::ByteSliceGenerator, bolero::DefaultEngine, bolero::BorrowedInput>;

/// Inputs of one target in the default (`cargo test`) run, at most.
const DEFAULT_ITERATIONS: usize = 3000;
/// And its time box, in milliseconds.
const DEFAULT_MILLIS: u64 = 250;
/// The most one input may take, twice in a row, before it is a failure.
const SLOW: Duration = Duration::from_secs(1);
/// An input still running after this long is a hang: the process aborts.
const HANG: Duration = Duration::from_secs(20);
/// The longest bolero input: bytes to use as they are, or the mutation
/// script for a seed.
const RAW_MAX_LEN: usize = 4096;

/// Tokens every target's mutations may insert: the numbers and characters
/// that sit at the edges of the parsers' ranges and syntax.
const COMMON_TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"255",
    b"256",
    b"65535",
    b"65536",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"1e999",
    b"-0",
    b"0.5",
    b"\"",
    b"\\",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b"&",
    b"%",
    b"%00",
    b"%ff",
];

/// One fuzz target.
#[derive(Debug)]
pub struct Target {
    /// The test's name (`fuzz_form_body`), for messages and statistics.
    pub name: &'static str,
    /// Valid inputs the mutations start from (may be empty).
    pub seeds: Vec<Vec<u8>>,
    /// Tokens of the input's own syntax, inserted by mutations.
    pub tokens: &'static [&'static [u8]],
    /// The longest input the target gets (a mutated seed is cut there).
    pub max_len: usize,
}

impl Target {
    /// A target with no seeds or tokens, inputs up to 16 KiB.
    pub fn new(name: &'static str) -> Target {
        Target { name, seeds: Vec::new(), tokens: &[], max_len: 16 * 1024 }
    }

    /// With these seeds.
    pub fn seeds<S: AsRef<[u8]>>(mut self, seeds: impl IntoIterator<Item = S>) -> Target {
        self.seeds.extend(seeds.into_iter().map(|s| s.as_ref().to_vec()));
        self
    }

    /// With these tokens.
    pub fn tokens(mut self, tokens: &'static [&'static [u8]]) -> Target {
        self.tokens = tokens;
        self
    }

    /// With inputs at most this long.
    pub fn max_len(mut self, max_len: usize) -> Target {
        self.max_len = max_len;
        self
    }
}

/// How long each target runs: `READERLAB_FUZZ_SECONDS` (the long run,
/// `ci/fuzz.sh`), or the default time box of `cargo test`.
fn time_box() -> (Duration, Option<usize>) {
    match std::env::var("READERLAB_FUZZ_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()) {
        Some(seconds) if seconds > 0.0 => (Duration::from_secs_f64(seconds), None),
        _ => (Duration::from_millis(DEFAULT_MILLIS), Some(DEFAULT_ITERATIONS)),
    }
}

/// An input as a failure message shows it: its length and a byte-string
/// literal that can be pasted into a regression test.
pub fn show(input: &[u8]) -> String {
    format!("{} bytes: b\"{}\"", input.len(), input.escape_ascii())
}

/// The input a target gets from bolero's bytes `raw`. The first byte picks
/// how: `raw` itself (and always, for a target without seeds); a token soup,
/// where a byte from 0xc0 up stands for a token of the syntax; a seed as it
/// is; or, most often, a seed changed by a few mutations that `raw`
/// describes. A function
/// of `raw` alone, so `BOLERO_RANDOM_SEED` replays it.
pub fn derive(target: &Target, raw: &[u8]) -> Vec<u8> {
    let Some((&mode, script)) = raw.split_first() else {
        return Vec::new();
    };
    let mut input = if target.seeds.is_empty() || mode % 8 == 0 {
        script.to_vec()
    } else if mode % 8 == 1 {
        let mut soup = Vec::new();
        for &byte in script {
            match byte {
                0xc0.. => soup.extend_from_slice(token(target, byte & 0x3f)),
                _ => soup.push(byte),
            }
        }
        soup
    } else if mode % 16 == 2 {
        // A seed as it is: the valid inputs are checked too.
        let pick = script.first().copied().unwrap_or(mode);
        target.seeds[usize::from(pick) % target.seeds.len()].clone()
    } else {
        let Some((&pick, script)) = script.split_first() else {
            return target.seeds[usize::from(mode) % target.seeds.len()].clone();
        };
        let mut input = target.seeds[usize::from(pick) % target.seeds.len()].clone();
        // Mostly one to four mutations: a seed stays recognisable.
        let count = 1 + usize::from(mode % 4) + usize::from(mode / 64) * 4;
        for op in script.chunks_exact(4).take(count) {
            mutate(target, &mut input, [op[0], op[1], op[2], op[3]]);
        }
        input
    };
    input.truncate(target.max_len);
    input
}

/// Token `pick` of the common ones and the target's.
fn token(target: &Target, pick: u8) -> &'static [u8] {
    let pick = usize::from(pick) % (COMMON_TOKENS.len() + target.tokens.len());
    COMMON_TOKENS.get(pick).copied().unwrap_or_else(|| target.tokens[pick - COMMON_TOKENS.len()])
}

/// One mutation of `input`: the operation, a position (two bytes) and an
/// argument.
fn mutate(target: &Target, input: &mut Vec<u8>, [op, p0, p1, arg]: [u8; 4]) {
    let at = usize::from(u16::from_le_bytes([p0, p1])) % (input.len() + 1);
    match op % 9 {
        0 if at < input.len() => input[at] = arg,
        1 => input.insert(at, arg),
        2 => {
            let end = (at + 1 + usize::from(arg % 16)).min(input.len());
            input.drain(at..end);
        }
        3 if at < input.len() => input[at] ^= 1 << (arg % 8),
        4 => {
            let end = (at + 1 + usize::from(arg % 64)).min(input.len());
            let copy = input[at..end].to_vec();
            let repeat = 1 + usize::from(arg / 64);
            for _ in 0..repeat {
                input.splice(at..at, copy.iter().copied());
            }
        }
        5 | 6 => {
            input.splice(at..at, token(target, arg).iter().copied());
        }
        7 => input.truncate(at),
        8 => {
            // Another seed's tail spliced in at `at`.
            let other = &target.seeds[usize::from(arg) % target.seeds.len()];
            let from = usize::from(u16::from_le_bytes([p1, p0])) % (other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        _ => {}
    }
}

/// The input a watchdog sees: when it started and what it is.
type Current = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

/// Aborts the process, naming the input, if one input runs past [`HANG`]:
/// a hang never returns to be timed.
fn watchdog(name: &'static str, current: &Current, done: &AtomicBool) {
    while !done.load(Ordering::Relaxed) {
        std::thread::park_timeout(Duration::from_millis(100));
        if let Some((started, input)) = lock(current).as_ref()
            && started.elapsed() > HANG
        {
            eprintln!(
                "{name}: one input has run for over {} s, a hang; input {}",
                HANG.as_secs(),
                show(input)
            );
            std::process::abort();
        }
    }
}

/// Runs `test` on the inputs of `target` for the time box. A panic, or an
/// input slower than [`SLOW`] twice in a row, fails the test with the input
/// in the message.
pub fn run(check: Check, target: Target, test: impl Fn(&[u8])) {
    let (time, iterations) = time_box();
    let mut check = check.with_max_len(RAW_MAX_LEN).with_test_time(time);
    if let Some(iterations) = iterations {
        check = check.with_iterations(iterations);
    }
    let name = target.name;
    let current: Current = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let dog = {
        let (current, done) = (Arc::clone(&current), Arc::clone(&done));
        std::thread::spawn(move || watchdog(name, &current, &done))
    };
    let started = Instant::now();
    // Every panic is caught and told again with its input, so what the
    // closure shares cannot be seen half-updated.
    let state = AssertUnwindSafe((
        target,
        test,
        Mutex::new((0u64, Duration::ZERO, 0usize, 0usize)),
        current,
    ));
    check.for_each(|raw: &[u8]| {
        let (target, test, stats, current) = &*state;
        let input = derive(target, raw);
        let timed = || {
            *lock(current) = Some((Instant::now(), input.clone()));
            let at = Instant::now();
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| test(&input)));
            let took = at.elapsed();
            *lock(current) = None;
            (outcome, took)
        };
        let (mut outcome, mut took) = timed();
        if outcome.is_ok() && took > SLOW {
            // Once more: a loaded machine can stall any input once.
            (outcome, took) = timed();
        }
        {
            let mut stats = lock(stats);
            stats.0 += 1;
            stats.1 = stats.1.max(took);
            stats.2 += raw.len();
            stats.3 += input.len();
        }
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(a panic without a message)".to_owned());
            panic!("{name}: panicked on the input {}\n{message}", show(&input));
        }
        assert!(
            took <= SLOW,
            "{name}: the input took {took:?}, twice (the limit is {SLOW:?}): a hang or \
             quadratic work; input {}",
            show(&input)
        );
    });
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    dog.thread().unpark();
    let _ = dog.join();
    let (inputs, slowest, raw_bytes, bytes) = *lock(&state.2);
    let mut line = String::new();
    let _ = write!(
        line,
        "fuzz {name}: {inputs} inputs in {:.2} s (slowest {:.1} ms, mean {} bytes from {} random)",
        elapsed.as_secs_f64(),
        slowest.as_secs_f64() * 1000.0,
        bytes / inputs.max(1) as usize,
        raw_bytes / inputs.max(1) as usize,
    );
    eprintln!("{line}");
}

/// A lock that a panic elsewhere does not spoil.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Splits `input` into pieces: each is a length and that many bytes (cut
/// short at the end); the length is one byte, or 255 and two more (u16,
/// little endian). How targets that take a sequence of values (fragments,
/// chunks, requests) read their bytes; [`join`] is its inverse, for seeds.
pub fn split(input: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = input;
    while let Some((&len, tail)) = rest.split_first() {
        let (len, tail) = match (len, tail) {
            (255, [l0, l1, tail @ ..]) => (usize::from(u16::from_le_bytes([*l0, *l1])), tail),
            (len, tail) => (usize::from(len), tail),
        };
        let (piece, tail) = tail.split_at(len.min(tail.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Pieces as [`split`] reads them back.
///
/// # Panics
///
/// If a piece is longer than 65 535 bytes.
pub fn join<P: AsRef<[u8]>>(pieces: impl IntoIterator<Item = P>) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        let piece = piece.as_ref();
        match u8::try_from(piece.len()) {
            Ok(len) if len < 255 => out.push(len),
            _ => {
                let len = u16::try_from(piece.len()).expect("pieces of at most 65 535 bytes");
                out.push(255);
                out.extend_from_slice(&len.to_le_bytes());
            }
        }
        out.extend_from_slice(piece);
    }
    out
}
