//! A bench's labgrid place (`place = "..."` in the bench file), held for
//! the whole of a `run --target lab` or `lab check` through labgrid's own
//! `labgrid-client` and coordinator, as published.
//!
//! Acquired before anything touches the bench; a place someone else holds
//! is a refusal naming the holder. Released after, even when readerlab is
//! interrupted or killed: a guard process of its own (outside readerlab's
//! process group, so a Ctrl-C at the terminal does not reach it) waits on a
//! pipe only readerlab holds, and releases the place when the pipe closes,
//! which it does however readerlab ends.

use super::bench::Place;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `labgrid-client acquire` may take.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the release may take once readerlab is done.
const RELEASE_WAIT: Duration = Duration::from_secs(30);

/// A held place: released when dropped (or when readerlab dies).
#[derive(Debug)]
pub struct Held {
    name: String,
    guard: Child,
    /// Closing it tells the guard to release.
    pipe: Option<ChildStdin>,
}

/// `CLIENT -x COORDINATOR -p PLACE` as words for `sh`.
fn client(place: &Place) -> String {
    let mut words = vec![place.client.clone()];
    if let Some(coordinator) = &place.coordinator {
        words.push("-x".to_owned());
        words.push(quote(coordinator));
    }
    words.push("-p".to_owned());
    words.push(quote(&place.name));
    words.join(" ")
}

fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Acquires `place`, or says why not: who holds it, or what labgrid said.
///
/// The guard itself acquires, then says `held` on its stdout and waits for
/// its stdin to close before it releases: there is no moment at which the
/// place is held and no guard would release it, whenever readerlab dies.
/// (It ignores SIGPIPE, so a readerlab gone before `held` is read does not
/// kill it before its release.)
pub fn acquire(place: &Place) -> Result<Held, String> {
    let command = client(place);
    let script = format!(
        "trap '' PIPE; {command} acquire >&2 || exit 1; echo held; cat > /dev/null; exec {command} release"
    );
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting `{command} acquire`: {e}"))?;
    let pipe = guard.stdin.take();
    let said = read_said(&mut guard);
    let stderr = guard.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    });
    let held = said.recv_timeout(ACQUIRE_TIMEOUT).ok().flatten().is_some_and(|line| line == "held");
    if held {
        return Ok(Held { name: place.name.clone(), guard, pipe });
    }
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(i32::try_from(guard.id()).unwrap_or(i32::MAX)),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = guard.wait();
    drop(pipe);
    let why = errors.join().unwrap_or_default();
    Err(match holder(&why) {
        Some(holder) => format!(
            "the labgrid place `{}` is held by {holder}: nothing was run (ask them to release \
             it; a place left by a run that died is freed with `labgrid-client -p {} release \
             --kick`)",
            place.name, place.name
        ),
        None => format!(
            "acquiring the labgrid place `{}` (`{command} acquire`, {} s at most): {}",
            place.name,
            ACQUIRE_TIMEOUT.as_secs(),
            super::probe::tail(&why)
        ),
    })
}

/// The guard's first line, on a channel (`None`: it ended without one).
fn read_said(guard: &mut Child) -> std::sync::mpsc::Receiver<Option<String>> {
    let (send, receive) = std::sync::mpsc::channel();
    let stdout = guard.stdout.take();
    std::thread::spawn(move || {
        let line = stdout.and_then(|stdout| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .ok()
                .filter(|n| *n > 0)
                .map(|_| line.trim().to_owned())
        });
        let _ = send.send(line);
    });
    receive
}

/// The holder labgrid names in its refusal ("already acquired by HOST/USER").
fn holder(said: &str) -> Option<String> {
    let after = said.split("already acquired by ").nth(1)?;
    let holder: String = after.chars().take_while(|c| !c.is_whitespace()).collect();
    let holder = holder.trim_end_matches(['.', ',']);
    (!holder.is_empty()).then(|| holder.to_owned())
}

impl Held {
    /// The place's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Held {
    /// Closes the pipe and waits (a while) for the guard's release, so that
    /// the place is free when readerlab returns.
    fn drop(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.flush();
        }
        let started = Instant::now();
        while started.elapsed() < RELEASE_WAIT {
            match self.guard.try_wait() {
                Ok(Some(status)) if !status.success() => {
                    eprintln!(
                        "readerlab: releasing the labgrid place `{}` failed ({status}); free it \
                         with `labgrid-client -p {} release`",
                        self.name, self.name
                    );
                    return;
                }
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        eprintln!("readerlab: the labgrid place `{}` was not released within 30 s", self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_from_labgrids_refusal() {
        let said = "`labgrid-client -p bench1 acquire` exit status: 1\n  labgrid-client: Error: \
                    Place bench1 is already acquired by vm/root. To work simultaneously, ...";
        assert_eq!(holder(said).as_deref(), Some("vm/root"));
        assert_eq!(holder("connection refused"), None);
    }

    #[test]
    fn the_client_is_called_with_its_coordinator_and_place_quoted() {
        let place = Place {
            name: "bench 1".to_owned(),
            coordinator: Some("127.0.0.1:20408".to_owned()),
            client: "labgrid-client".to_owned(),
        };
        assert_eq!(client(&place), "labgrid-client -x '127.0.0.1:20408' -p 'bench 1'");
    }
}
