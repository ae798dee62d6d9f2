//! One HTTP GET with a deadline on the whole exchange: what `lab check`
//! asks a backend or a reader's LAN API. Plain `http://` only (the bench
//! file refuses `https://` as not supported yet).

use readerlab_emulator::serve::device_http;
use std::time::Duration;

/// An answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `GET url` (with `Authorization: Bearer key` when given), all of it
/// within `deadline`, through hyper's client. The error says what failed,
/// in words.
pub fn get(url: &str, key: Option<&str>, deadline: Duration) -> Result<Answer, String> {
    if !url.starts_with("http://") {
        return Err(format!("{url}: not an http:// URL"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime for {url}: {e}"))?;
    let (status, body) = runtime.block_on(async {
        let client = device_http::client();
        device_http::get(&client, url, key, deadline).await
    })?;
    Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
}
