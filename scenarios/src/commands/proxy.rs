//! `readerlab proxy`: the Toxiproxy-compatible fault proxy
//! (`readerlab_emulator::serve::proxy`) as a server, until Ctrl-C.
//!
//! Toxiproxy's clients (toxiproxy-python, toxiproxy-go, ...) talk to it
//! unchanged; `docs/proxy.md` lists what it answers. This file only owns the
//! runtime and the signal; everything the proxy does lives in the emulator.

use super::{Outcome, Verdict};
use anyhow::Context;
use readerlab_emulator::serve::proxy::{DEFAULT_API_PORT, ProxyServer};
use std::net::{Ipv4Addr, SocketAddr};

/// The flags of `readerlab proxy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve the API here (Toxiproxy's port by default; port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value_t = default_listen())]
    pub listen: SocketAddr,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_API_PORT))
}

/// Serves the API on `args.listen` until Ctrl-C, then closes every proxy.
pub fn run(args: &Args) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let server = ProxyServer::start(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("toxiproxy-compatible API listening on http://{}", server.api_addr());
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
        server.shutdown().await.context("shutting the proxy down")?;
        Ok(Verdict::Holds)
    })
}
