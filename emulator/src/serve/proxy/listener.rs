//! A proxy's listening socket while it is enabled: accepts clients and
//! hands each to `link::serve_client`.
//!
//! Disabling the proxy turns `stop` true; the loop then drops the listener
//! (new clients are refused) and waits for every live connection to close,
//! so that when `Registry::set_enabled(name, false)` returns the link is
//! really down.

use super::link::{ToxicList, serve_client};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Accepts clients until `stop` turns true (or its sender is dropped),
/// then waits for their connections to close.
pub(crate) async fn accept_clients(
    listener: TcpListener,
    upstream: String,
    toxics: watch::Receiver<ToxicList>,
    mut stop: watch::Receiver<bool>,
    seed: u64,
) {
    let mut connections = JoinSet::new();
    let mut accepted_so_far = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            Ok((client, _)) => {
                accepted_so_far += 1;
                let seed = seed ^ accepted_so_far.rotate_left(32);
                let stop = stop.clone();
                connections.spawn(serve_client(
                    client,
                    upstream.clone(),
                    toxics.clone(),
                    stop,
                    seed,
                ));
            }
            // Out of file descriptors and the like: pause rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
