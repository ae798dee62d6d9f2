//! A fault proxy for real TCP links, compatible with Shopify Toxiproxy 2.x's
//! HTTP API, so its clients (and `toxiproxy-python`) drive it unchanged.
//!
//! Each proxy listens on an address and forwards every client to its
//! upstream; toxics (latency, bandwidth, slicer, timeout, reset_peer,
//! limit_data) act on either direction, and disabling a proxy takes the
//! link down. [`ProxyServer`] serves the HTTP API; the same operations are
//! on [`Registry`] for Rust callers that need no HTTP. `docs/proxy.md` lists
//! the endpoints, each toxic's semantics and where this differs from
//! Toxiproxy.
//!
//! The parts: `registry` (proxies by name, listeners on and off), `api`
//! (the routes), `toxics` (the toxic types and their JSON), `chain` (what
//! the toxics make of a chunk, without I/O), `link` (the per-connection
//! pump) and `listener` (accepting clients).

mod api;
mod chain;
mod error;
mod link;
mod listener;
mod registry;
mod toxics;

pub use api::VERSION;
pub use error::ProxyError;
pub use registry::{DEFAULT_LISTEN, ProxySpec, ProxyUpdate, Registry};
pub use toxics::{Stream, Toxic, ToxicKind};

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Toxiproxy's API port, the default of `readerlab proxy`.
pub const DEFAULT_API_PORT: u16 = 8474;

/// The proxy's HTTP API on a socket, with its registry.
#[derive(Debug)]
pub struct ProxyServer {
    registry: Arc<Registry>,
    api_addr: SocketAddr,
    stop_api: oneshot::Sender<()>,
    serving: JoinHandle<io::Result<()>>,
}

impl ProxyServer {
    /// Binds `api_listen` (port 0 picks a free one) and serves the API on
    /// the current tokio runtime until [`ProxyServer::shutdown`].
    pub async fn start(api_listen: SocketAddr) -> io::Result<ProxyServer> {
        let listener = TcpListener::bind(api_listen).await?;
        let api_addr = listener.local_addr()?;
        // Unseeded on purpose: a served proxy faces real, unrepeatable
        // traffic. `Registry::new` takes a seed for callers that want one.
        let seed = getrandom::u64().unwrap_or(0x5eed);
        let registry = Arc::new(Registry::new(seed));
        let (stop_api, stopped) = oneshot::channel::<()>();
        let app = api::router(Arc::clone(&registry));
        let serving = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(ProxyServer { registry, api_addr, stop_api, serving })
    }

    /// The address the API listens on (the real port when 0 was asked for).
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The registry behind the API, for every operation the API has.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Creates an enabled proxy; the spec carries the real listen address.
    pub async fn create(
        &self,
        name: &str,
        listen: &str,
        upstream: &str,
    ) -> Result<ProxySpec, ProxyError> {
        self.registry.create(name, listen, upstream, true).await
    }

    /// Takes a proxy's link down (`false`: listener and live connections
    /// closed) or brings it back up on the same address (`true`).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxySpec, ProxyError> {
        self.registry.set_enabled(name, enabled).await
    }

    /// Adds a toxic to a proxy; live connections apply it from their next chunk.
    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ProxyError> {
        self.registry.add_toxic(proxy, toxic).await
    }

    /// Removes a toxic from a proxy.
    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ProxyError> {
        self.registry.remove_toxic(proxy, toxic).await
    }

    /// Stops answering the API (requests in flight finish), then closes
    /// every proxy's listener and connections.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop_api.send(());
        let served = self.serving.await.map_err(io::Error::other)?;
        self.registry.shutdown().await;
        served
    }
}
