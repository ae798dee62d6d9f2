//! A run interrupted (Ctrl-C, or `kill`) leaves no fault on the bench: the
//! faults its hooks made and still hold are listed here while they hold,
//! and on SIGINT or SIGTERM their undo hooks run before readerlab exits
//! (130 or 143). A `kill -9` cannot be caught: what it leaves is said by
//! the next `lab check`. The labgrid place needs none of this: its guard
//! releases it however readerlab ends (`place.rs`).

use super::bench::Hook;
use super::hooks;
use std::sync::{Mutex, Once};

/// An undo hook to run if readerlab is interrupted: its action, target and
/// hook, under an id of its own.
#[derive(Clone, Debug)]
struct Undo {
    id: u64,
    action: String,
    target: String,
    hook: Hook,
}

static HELD: Mutex<Vec<Undo>> = Mutex::new(Vec::new());
static NEXT: Mutex<u64> = Mutex::new(0);
static WATCH: Once = Once::new();

fn held() -> std::sync::MutexGuard<'static, Vec<Undo>> {
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the watch for SIGINT and SIGTERM, once, before anything touches
/// the bench: registered before this returns, so that no hook can run
/// before an interrupt is caught (a process started in the background of
/// a shell inherits SIGINT ignored, and would otherwise lose one).
pub fn watch() {
    WATCH.call_once(start);
}

/// Lists an undo hook while its fault holds; returns its id for
/// [`forget`].
pub fn remember(action: &str, target: &str, hook: &Hook) -> u64 {
    watch();
    let mut next = NEXT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *next += 1;
    let undo = Undo {
        id: *next,
        action: action.to_owned(),
        target: target.to_owned(),
        hook: hook.clone(),
    };
    held().push(undo);
    *next
}

/// The fault was undone (or is being undone) by the run itself.
pub fn forget(id: u64) {
    held().retain(|u| u.id != id);
}

/// Registers for SIGINT and SIGTERM here, then a thread waits for either,
/// undoes what is held, and exits.
fn start() {
    use tokio::signal::unix::{SignalKind, signal};
    let registered =
        tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
            let signals = runtime.block_on(async {
                Ok::<_, std::io::Error>((
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                ))
            })?;
            Ok((runtime, signals))
        });
    let (runtime, (mut interrupt, mut terminate)) = match registered {
        Ok(registered) => registered,
        Err(e) => {
            eprintln!(
                "readerlab: cannot watch for Ctrl-C ({e}): an interrupted run may leave faults \
                 on the bench"
            );
            return;
        }
    };
    let spawned = std::thread::Builder::new().name("lab-interrupt".to_owned()).spawn(move || {
        let code = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            }
        });
        let undo: Vec<Undo> = held().drain(..).rev().collect();
        eprintln!("\nreaderlab: interrupted: undoing {} held fault(s) on the bench", undo.len());
        for undo in undo {
            match hooks::run(&undo.hook, &undo.action, &undo.target) {
                Ok(_) => eprintln!("readerlab: hooks.{}.{}: undone", undo.action, undo.target),
                Err(why) => eprintln!(
                    "readerlab: BENCH ERROR undoing hooks.{}.{}: {why}",
                    undo.action, undo.target
                ),
            }
        }
        std::process::exit(code);
    });
    if let Err(e) = spawned {
        eprintln!(
            "readerlab: cannot watch for Ctrl-C ({e}): an interrupted run may leave faults on \
             the bench"
        );
    }
}
