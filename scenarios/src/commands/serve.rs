//! `readerlab serve`: the emulated rig on real sockets until Ctrl-C.
//!
//! Reads the rig file (or the bundled `fixtures/rigs/counter.toml`), keeps
//! every device's store on real files under `--data`, starts the backend
//! and control APIs on `--listen` and prints what listens where. Ctrl-C
//! stops accepting and lets calls in flight finish. With `--history` the
//! history is written to its file as it is recorded, so a server killed
//! without warning leaves it up to the kill; stored payments are already on
//! disk (a store acknowledges only synced payments), so a later `serve` on
//! the same directory forwards them.

use super::{Outcome, Verdict};
use anyhow::{Context, bail};
use readerlab_emulator::core::offline::OfflineConfig;
use readerlab_emulator::core::{Defect, Defects};
use readerlab_emulator::core::{LinkKind, ReaderModel};
use readerlab_emulator::serve::ble_bridge::BleCarrier;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::{RigSpec, Sim};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The rig `serve` starts without `--rig`.
pub const DEFAULT_RIG: &str = include_str!("../../../fixtures/rigs/counter.toml");

/// `readerlab serve`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rig to serve (TOML; see fixtures/rigs/counter.toml, the default).
    #[arg(long, value_name = "RIG.toml")]
    pub rig: Option<PathBuf>,
    /// Where the backend and control APIs listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12111")]
    pub listen: SocketAddr,
    /// Rig time: `real` (wall time) or `virtual` (moves only through
    /// POST /_readerlab/clock/advance).
    #[arg(long, default_value = "real", value_parser = parse_clock)]
    pub clock: ClockMode,
    /// The control API's bearer token; required beyond loopback.
    #[arg(long)]
    pub token: Option<String>,
    /// Where the devices' stores live (kept across runs).
    #[arg(long, value_name = "DIR", default_value = "readerlab-data")]
    pub data: PathBuf,
    /// The secret key backend clients must present.
    #[arg(long, value_name = "KEY", default_value = "sk_test_readerlab")]
    pub secret_key: String,
    /// Write the history (JSON Lines) here as it is recorded (a killed
    /// server leaves it up to the kill).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Carry the POS's link to each Bluetooth reader over a real carrier
    /// (`tcp`: BLE-over-TCP on loopback) instead of in process.
    #[arg(long, value_name = "CARRIER")]
    pub ble: Option<BleCarrier>,
}

fn parse_clock(text: &str) -> Result<ClockMode, String> {
    text.parse()
}

/// A rig file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RigFile {
    readers: Vec<String>,
    #[serde(default = "one")]
    seed: u64,
    #[serde(default = "yes")]
    offline_enabled: bool,
    #[serde(default)]
    defects: Vec<String>,
    mobile_link: Option<String>,
    #[serde(default)]
    outside_pos: bool,
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

/// Parses a rig file; errors name the file, and the line where TOML says.
pub fn parse_rig(text: &str, origin: &str) -> anyhow::Result<RigSpec> {
    let file: RigFile =
        toml::from_str(text).with_context(|| format!("{origin}: not a rig file"))?;
    if file.readers.is_empty() {
        bail!("{origin}: `readers` is empty; a rig needs at least one reader");
    }
    let mut readers = Vec::new();
    for id in &file.readers {
        readers.push(ReaderModel::from_id(id).with_context(|| {
            let known: Vec<&str> = ReaderModel::ALL.iter().map(|m| m.id()).collect();
            format!("{origin}: unknown reader model `{id}` (known: {})", known.join(", "))
        })?);
    }
    let defects = file
        .defects
        .iter()
        .map(|d| d.parse::<Defect>().map_err(|e| anyhow::anyhow!("{origin}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mobile_link = match file.mobile_link.as_deref() {
        None => None,
        Some("ble") => Some(LinkKind::Ble),
        Some("usb") => Some(LinkKind::Usb),
        Some(other) => bail!("{origin}: mobile_link `{other}` is neither \"ble\" nor \"usb\""),
    };
    let offline =
        if file.offline_enabled { OfflineConfig::enabled() } else { OfflineConfig::default() };
    Ok(RigSpec {
        readers,
        defects: Defects::of(defects),
        offline,
        mobile_link,
        outside_pos: file.outside_pos,
        ..RigSpec::single(ReaderModel::M2, file.seed)
    })
}

fn load_rig(path: Option<&Path>) -> anyhow::Result<RigSpec> {
    match path {
        None => parse_rig(DEFAULT_RIG, "fixtures/rigs/counter.toml"),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the rig file {}", path.display()))?;
            parse_rig(&text, &path.display().to_string())
        }
    }
}

/// Runs `readerlab serve` until Ctrl-C.
pub fn run(args: &Args) -> Outcome {
    let mut spec = load_rig(args.rig.as_deref())?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data directory {}", args.data.display()))?;
    spec.data_dir = Some(args.data.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let config = ServeConfig {
            listen: args.listen,
            clock: args.clock,
            token: args.token.clone(),
            rig: spec,
            secret_key: args.secret_key.clone(),
            ble: args.ble,
            ui: Some(std::sync::Arc::new(crate::timeline::LiveView)),
        };
        let server = Server::start(config).await?;
        if let Some(path) = &args.history {
            server
                .rig()
                .journal_to(path)
                .with_context(|| format!("writing the history to {}", path.display()))?;
        }
        print_banner(args, &server)?;
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        eprintln!("stopping: letting calls in flight finish...");
        let rig = server.rig().clone();
        let (events, queued) = rig
            .events_from(0)
            .map(|(_, events)| events)
            .and_then(|events| {
                let queued = rig
                    .read(|sim: &Sim| sim.reader_views().iter().map(|r| r.queued).sum::<usize>())?;
                Ok((events, queued))
            })
            .unwrap_or_default();
        server.shutdown().await.context("shutting down")?;
        if let Some(path) = &args.history {
            // Written as it was recorded (the rig's journal).
            println!("history: {} events in {}", events.len(), path.display());
        }
        println!(
            "stopped; {queued} stored payment(s) still waiting to be forwarded are kept in {}",
            args.data.display()
        );
        anyhow::Ok(Verdict::Holds)
    })
}

fn print_banner(args: &Args, server: &Server) -> anyhow::Result<()> {
    let addr = server.addr();
    let readers = server.rig().read(Sim::reader_views)?;
    println!(
        "readerlab serve: {} reader(s), clock {:?}, stores in {}",
        readers.len(),
        server.rig().mode(),
        args.data.display()
    );
    for reader in &readers {
        println!(
            "  reader #{} {} ({}), payments stored by {:?}",
            reader.index,
            reader.serial,
            reader.model.id(),
            reader.stored_by
        );
    }
    println!("backend API  http://{addr}/v1  (Authorization: Bearer {})", args.secret_key);
    println!("control API  http://{addr}/_readerlab/");
    match &args.token {
        Some(_) => println!("live view    http://{addr}/_readerlab/ui#token=TOKEN (the --token)"),
        None => println!("live view    http://{addr}/_readerlab/ui"),
    }
    println!("Ctrl-C stops; nothing stored is lost.");
    Ok(())
}
