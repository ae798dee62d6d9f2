//! Operator steps: what no hook of the bench can do (a hook whose `run` is
//! `operator`) is asked of the person at the bench on the terminal, with
//! what to do and a countdown; they press Enter when it is done. A missed
//! deadline fails the step with that said (docs/lab.md, "Operator steps").

use std::io::BufRead;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The `run` of a hook that the operator performs.
pub const OPERATOR: &str = "operator";
/// How often the countdown is printed.
const TICK: Duration = Duration::from_secs(5);

/// Lines typed on stdin, read by one thread for the whole run (a reader
/// per prompt would leave one blocked behind after a missed deadline).
fn lines() -> &'static Mutex<Receiver<()>> {
    static LINES: OnceLock<Mutex<Receiver<()>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if line.is_err() || send.send(()).is_err() {
                    return;
                }
            }
        });
        Mutex::new(receive)
    })
}

/// Asks the operator to do `what` within `within`; `Ok` with how long
/// they took, or the missed deadline in words.
pub fn ask(what: &str, within: Duration) -> Result<Duration, String> {
    let lines = lines().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // An Enter pressed before this prompt does not answer it.
    while lines.try_recv().is_ok() {}
    let started = Instant::now();
    eprintln!("\n>>> OPERATOR: {what}");
    eprintln!(">>> press Enter when done ({} s)", within.as_secs());
    loop {
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "the operator did not confirm within {} s: {what}",
                within.as_secs()
            ));
        }
        match lines.recv_timeout(left.min(TICK)) {
            Ok(()) => return Ok(started.elapsed()),
            Err(RecvTimeoutError::Timeout) => {
                let left = within.saturating_sub(started.elapsed());
                if !left.is_zero() {
                    eprintln!(">>> {} s left: {what}", left.as_secs());
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!(
                    "no operator: stdin is closed, so nobody can confirm: {what} (use \
                     --no-operator to skip such scenarios)"
                ));
            }
        }
    }
}
