//! Running one bench hook: `sh -c` in its own process group, killed with
//! the group when its timeout passes; it passes when it exits 0 in time.
//! Its environment names what it is for (`READERLAB_HOOK`,
//! `READERLAB_TARGET`), so one script can serve several hooks.

use super::bench::Hook;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Lines of a failed hook's output shown.
const TAIL_LINES: usize = 5;

/// Runs `hook` for `action` on `target`; `Ok` with how long it took, or
/// what went wrong with the tail of its output.
pub fn run(hook: &Hook, action: &str, target: &str) -> Result<Duration, String> {
    run_with(hook, action, target, &[])
}

/// [`run`], with more in its environment (`present_card` is told the card).
pub fn run_with(
    hook: &Hook,
    action: &str,
    target: &str,
    env: &[(&str, String)],
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&hook.run)
        .env("READERLAB_HOOK", action)
        .env("READERLAB_TARGET", target)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start `sh -c {}`: {e}", hook.run))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= hook.timeout() => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for the hook: {e}")),
        }
    };
    if status.is_none() {
        kill_group(child.id());
        let _ = child.wait();
    }
    let output =
        format!("{}{}", stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    let took = started.elapsed();
    match status {
        Some(status) if status.success() => Ok(took),
        Some(status) => Err(format!("`{}` {status}{}", hook.run, tail(&output))),
        None => Err(format!(
            "`{}` did not finish within {} s (killed){}",
            hook.run,
            hook.timeout_s,
            tail(&output)
        )),
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The last lines of a hook's output, as `; output: ...`, or nothing.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "; no output".to_owned();
    }
    let last = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    format!("; output: {}", last.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(run: &str, timeout_s: f64) -> Hook {
        Hook { run: run.to_owned(), timeout_s }
    }

    #[test]
    fn a_hook_passes_on_exit_0_and_fails_with_its_output_otherwise() {
        assert!(run(&hook("test \"$READERLAB_TARGET\" = m2", 5.0), "power_off", "m2").is_ok());
        let failed =
            run(&hook("echo relay stuck >&2; exit 3", 5.0), "power_off", "m2").unwrap_err();
        assert!(failed.contains("exit status: 3") && failed.contains("relay stuck"), "{failed}");
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let started = Instant::now();
        let failed = run(&hook("echo started; sleep 30", 0.3), "power_on", "m2").unwrap_err();
        assert!(
            failed.contains("did not finish within 0.3 s") && failed.contains("started"),
            "{failed}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
