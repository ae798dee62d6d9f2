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

/// Lists an undo hook while its fault holds; returns its id for
/// [`forget`]. The first call starts the watch for SIGINT and SIGTERM.
pub fn remember(action: &str, target: &str, hook: &Hook) -> u64 {
    WATCH.call_once(watch);
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

/// A thread that waits for SIGINT or SIGTERM, undoes what is held, and
/// exits.
fn watch() {
    let spawned = std::thread::Builder::new().name("lab-interrupt".to_owned()).spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        let code = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return None;
            };
            tokio::select! {
                _ = interrupt.recv() => Some(130),
                _ = terminate.recv() => Some(143),
            }
        });
        let Some(code) = code else { return };
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
            "readerlab: cannot watch for Ctrl-C ({e}): an interrupted run may leave faults on the bench"
        );
    }
}
