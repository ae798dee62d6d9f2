//! [`ServeChild`]: `readerlab serve` as a child process on a free loopback
//! port, its control API called with blocking HTTP/1.1 (every call with a
//! deadline), its memory and descriptors read from `/proc`, and SIGKILL
//! from any thread. `readerlab soak` measures the serving process through
//! it; `scenarios/tests/crash_restart.rs` kills and restarts it.

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long one control call may take, connection to last byte. A virtual
/// clock's advance waits for every call the rig made, so it is generous.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A `readerlab serve` child process.
#[derive(Debug)]
pub struct ServeChild {
    child: Arc<Mutex<Child>>,
    pid: u32,
    addr: SocketAddr,
}

/// Kills a [`ServeChild`] from another thread.
#[derive(Clone, Debug)]
pub struct Killer(Arc<Mutex<Child>>);

impl Killer {
    /// SIGKILL (on Unix), now; nothing if it already exited.
    pub fn kill(&self) {
        let _ = lock(&self.0).kill();
    }
}

fn lock(child: &Mutex<Child>) -> MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ServeChild {
    /// Starts `binary serve --listen 127.0.0.1:0 ARGS...` and waits (at most
    /// `deadline`) for its banner to say where the control API listens.
    /// Its stderr is the caller's; its stdout is read and dropped.
    pub fn spawn(binary: &Path, args: &[OsString], deadline: Duration) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} serve", binary.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let (found, banner) = mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let addr = line
                    .strip_prefix("control API  http://")
                    .and_then(|rest| rest.strip_suffix("/_readerlab/"))
                    .and_then(|addr| addr.parse::<SocketAddr>().ok());
                if let Some(addr) = addr
                    && let Some(sender) = found.take()
                {
                    let _ = sender.send(addr);
                }
            }
        });
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        let Ok(addr) = banner.recv_timeout(deadline) else {
            let _ = lock(&child).kill();
            let status = lock(&child).wait();
            bail!(
                "readerlab serve did not print its control address within {deadline:?} ({status:?})"
            );
        };
        Ok(ServeChild { child, pid, addr })
    }

    /// Where both APIs listen.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A handle that kills the process from another thread.
    pub fn killer(&self) -> Killer {
        Killer(Arc::clone(&self.child))
    }

    /// SIGKILL, then waits (at most `deadline`) until it is gone.
    pub fn kill(&self, deadline: Duration) -> anyhow::Result<()> {
        self.killer().kill();
        let until = Instant::now() + deadline;
        loop {
            if lock(&self.child).try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= until {
                bail!("readerlab serve (pid {}) still runs {deadline:?} after SIGKILL", self.pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process has exited.
    pub fn exited(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(Some(_)))
    }

    /// `GET /_readerlab{path}`, as JSON.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        json(&self.call("GET", path, None)?)
    }

    /// `POST /_readerlab{path}` with `body`, as JSON.
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        json(&self.call("POST", path, Some(&body.to_string()))?)
    }

    /// `DELETE /_readerlab{path}`, as JSON.
    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        json(&self.call("DELETE", path, None)?)
    }

    /// One control call; a non-2xx answer is an error with the server's
    /// message.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<Vec<u8>> {
        let (status, answer) = http(self.addr, method, &format!("/_readerlab{path}"), body)?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {}", String::from_utf8_lossy(&answer));
        }
        Ok(answer)
    }

    /// `VmRSS` of the process, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid)
    }

    /// Open file descriptors of the process (entries of `/proc/PID/fd`).
    pub fn open_fds(&self) -> anyhow::Result<usize> {
        open_fds(self.pid)
    }
}

/// `VmRSS` of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub fn open_fds(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("reading /proc/{pid}/fd"))?
        .count())
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn json(bytes: &[u8]) -> anyhow::Result<Value> {
    serde_json::from_slice(bytes)
        .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`), at
/// most [`CALL_TIMEOUT`] in all; the status and the body (chunked or not).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let until = Instant::now() + CALL_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&addr, CALL_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_write_timeout(Some(CALL_TIMEOUT))?;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{method} {path}: no whole answer within {CALL_TIMEOUT:?}");
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => return Err(anyhow!(e).context(format!("{method} {path}: reading"))),
        }
    }
    parse_response(&answer).with_context(|| format!("{method} {path}: the answer"))
}

/// The status and body of a whole HTTP/1.1 response.
fn parse_response(bytes: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = std::str::from_utf8(&bytes[..end]).context("headers not UTF-8")?;
    let status =
        head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &bytes[end + 4..];
    Ok((status, if chunked { dechunk(body)? } else { body.to_vec() }))
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").context("a chunk size")?;
        let size = std::str::from_utf8(&body[..line])?.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).context("a chunk size")?;
        body = &body[line + 2..];
        if size == 0 {
            return Ok(out);
        }
        anyhow::ensure!(body.len() >= size + 2, "a chunk cut short");
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{}".to_vec()));
        let chunked = b"HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (409, b"abcde".to_vec()));
    }
}
