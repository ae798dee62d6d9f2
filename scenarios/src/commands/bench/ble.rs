//! `readerlab bench ble`: the BlueZ carriers' speed on this machine. One
//! emulated reader is served by `hw::bluez` on one adapter and reached by
//! `hw::central` (btleplug) from another; the reader's side echoes each
//! write back as a notification. It measures
//!
//! - round trips: a write (with response) to the moment its echo arrives
//!   as a notification, one at a time; min, median, p99 and max;
//! - a notification burst: MTU-sized values sent on the peripheral port
//!   back to back, until the central has them all (or a timeout): values
//!   per second, and how many arrived;
//! - writes: MTU-sized writes with response, one outstanding at a time as
//!   ATT allows, acknowledged by the peripheral port: writes per second.
//!
//! Built only with `--features bluez,btleplug`; CI runs it on bluezoo
//! (ci/ble.sh). Like `bench store`, it measures and never judges.

use crate::commands::{Outcome, Verdict};
use anyhow::Context;
use readerlab_emulator::ble::{CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent};
use readerlab_emulator::hw::{bluez, central};
use readerlab_emulator::wire::ble::gatt;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The flags of `readerlab bench ble`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Round trips timed (after 10 untimed ones).
    #[arg(long, default_value_t = 200, value_name = "N")]
    round_trips: usize,
    /// Values in the notification burst and in the write run.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    burst: usize,
    /// Address of the adapter that serves the emulated reader.
    #[arg(long, default_value = "00:00:00:00:00:01", value_name = "ADDR")]
    peripheral: String,
    /// Address of the adapter the central connects from.
    #[arg(long, default_value = "00:00:00:00:00:02", value_name = "ADDR")]
    central: String,
}

/// Runs `bench ble` and prints what it measured.
pub fn run(args: &Args) -> Outcome {
    let options = BleBenchOptions {
        peripheral_address: args.peripheral.clone(),
        central_address: args.central.clone(),
        round_trips: args.round_trips,
        burst: args.burst,
    };
    let bench = ble(&options)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        print!("{}", table(&bench));
    }
    Ok(Verdict::Holds)
}

/// What to measure and where.
#[derive(Clone, Debug)]
pub struct BleBenchOptions {
    /// Address of the adapter that serves the reader.
    pub peripheral_address: String,
    /// Address of the adapter the central connects from.
    pub central_address: String,
    /// Round trips timed (after 10 untimed ones).
    pub round_trips: usize,
    /// Values in the notification burst and in the write run.
    pub burst: usize,
}

/// What `bench ble` measured.
#[derive(Debug, Serialize)]
pub struct BleBench {
    /// The adapters (`hci0 00:00:00:00:00:01`).
    pub peripheral_adapter: String,
    /// The central's adapter.
    pub central_adapter: String,
    /// The MTU the peripheral reported at subscription.
    pub peripheral_mtu: u16,
    /// The MTU btleplug reported at connection.
    pub central_mtu: u16,
    /// Milliseconds from the start of the scan to the reader found.
    pub discover_ms: f64,
    /// Milliseconds to connect, discover services and subscribe.
    pub connect_ms: f64,
    /// Write → notify round trips.
    pub round_trip: RoundTrips,
    /// The notification burst.
    pub notify_burst: Burst,
    /// The write run.
    pub writes: Burst,
}

/// Round-trip latencies in microseconds.
#[derive(Debug, Serialize)]
pub struct RoundTrips {
    /// Timed round trips.
    pub n: usize,
    /// Bytes per write.
    pub value_bytes: usize,
    /// Fastest.
    pub min_us: f64,
    /// Median (nearest rank).
    pub median_us: f64,
    /// 99th percentile (nearest rank).
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
}

/// A run of values one way.
#[derive(Debug, Serialize)]
pub struct Burst {
    /// Values sent.
    pub sent: usize,
    /// Values that arrived (notifications are unacknowledged and may drop).
    pub received: usize,
    /// Bytes per value.
    pub value_bytes: usize,
    /// Seconds from the first send to the last arrival.
    pub seconds: f64,
    /// Values per second.
    pub per_s: f64,
    /// Payload bytes per second.
    pub bytes_per_s: f64,
}

const STEP: Duration = Duration::from_secs(10);

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn burst(sent: usize, received: usize, value_bytes: usize, seconds: f64) -> Burst {
    let per_s = if seconds > 0.0 { received as f64 / seconds } else { 0.0 };
    Burst { sent, received, value_bytes, seconds, per_s, bytes_per_s: per_s * value_bytes as f64 }
}

async fn notification(port: &mut CentralPort) -> anyhow::Result<Vec<u8>> {
    loop {
        match tokio::time::timeout(STEP, port.events.recv()).await {
            Ok(Some(CentralEvent::Notification(value))) => return Ok(value),
            Ok(Some(CentralEvent::Mtu(_))) => continue,
            Ok(Some(CentralEvent::Disconnected) | None) => anyhow::bail!("the reader disconnected"),
            Err(_) => anyhow::bail!("no notification within {STEP:?}"),
        }
    }
}

async fn write(
    port: &CentralPort,
    value: Vec<u8>,
) -> anyhow::Result<oneshot::Receiver<std::io::Result<()>>> {
    let (ack, acked) = oneshot::channel();
    port.ops.send(CentralOp::Write(value, ack)).await.context("the central's link is gone")?;
    Ok(acked)
}

async fn acked(acked: oneshot::Receiver<std::io::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(STEP, acked)
        .await
        .context("no write acknowledgement in time")?
        .context("the central's link is gone")?
        .context("the write failed")
}

/// Runs the benchmark (on its own tokio runtime), reporting progress on
/// stderr.
pub fn ble(options: &BleBenchOptions) -> anyhow::Result<BleBench> {
    anyhow::ensure!(options.round_trips > 0 && options.burst > 0, "counts must be above 0");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(measure(options))
}

async fn measure(options: &BleBenchOptions) -> anyhow::Result<BleBench> {
    let peripheral_name = bluez::adapter_with_address(&options.peripheral_address).await?;
    let central_name = bluez::adapter_with_address(&options.central_address).await?;
    let serial = "STRM2-BENCH";
    eprintln!(
        "bench ble: reader {serial} on {peripheral_name} ({}), central on {central_name} ({})",
        options.peripheral_address, options.central_address
    );
    let reader = EchoReader::serve(&peripheral_name, serial).await?;
    let (mut central_port, discover_ms, connect_ms) = connect(&central_name, serial).await?;
    let central_mtu = central_port.mtu;
    let peripheral_mtu = reader.subscribed_mtu().await?;
    let value_bytes = gatt::att_payload(peripheral_mtu.min(central_mtu)).max(1);
    eprintln!(
        "bench ble: found in {discover_ms:.0} ms, connected in {connect_ms:.0} ms, \
         MTU {peripheral_mtu} (reader) / {central_mtu} (central), {value_bytes}-byte values"
    );
    let round_trip = round_trips(&mut central_port, options.round_trips).await?;
    let value = vec![0x5a; value_bytes];
    let notify_burst = notify_burst(&reader, &mut central_port, options.burst, &value).await?;
    let writes = write_run(&reader, &central_port, options.burst, &value).await?;
    disconnect(&mut central_port).await?;
    reader.stop();
    Ok(BleBench {
        peripheral_adapter: format!("{peripheral_name} {}", options.peripheral_address),
        central_adapter: format!("{central_name} {}", options.central_address),
        peripheral_mtu,
        central_mtu,
        discover_ms,
        connect_ms,
        round_trip,
        notify_burst,
        writes,
    })
}

/// The emulated reader on the peripheral adapter: it echoes each write
/// back as a notification while echoing is on, and notes the MTU it sees.
struct EchoReader {
    /// Values to notify to the central.
    notify: mpsc::Sender<Vec<u8>>,
    /// The advertisement and GATT application; dropping it stops them.
    served: bluez::BluezPeripheral,
    /// The task answering the reader's events.
    task: JoinHandle<()>,
    /// The battery level the reader reports, kept for the whole bench.
    battery: watch::Sender<u8>,
    /// Whether writes are echoed.
    echo: Arc<AtomicBool>,
    /// The MTU of the subscription (0 until subscribed).
    mtu: Arc<AtomicU16>,
}

impl EchoReader {
    /// Serves one M2 advertising `serial` on `adapter`.
    async fn serve(adapter: &str, serial: &str) -> anyhow::Result<Self> {
        let advertisement =
            gatt::Advertisement::of("m2", serial).context("m2 is a mobile model")?;
        let info = DeviceInfo {
            manufacturer: "readerlab".into(),
            model: "m2".into(),
            serial: serial.into(),
            firmware: "bench".into(),
        };
        let (served, ports) = bluez::advertise(Some(adapter), vec![(advertisement, info)])
            .await
            .context("serving the reader")?;
        let mut port = ports.into_iter().next().context("one port per reader")?;
        let echo = Arc::new(AtomicBool::new(true));
        let mtu = Arc::new(AtomicU16::new(0));
        let echoes = port.notify.clone();
        let (echo_on, mtu_seen) = (echo.clone(), mtu.clone());
        let task = tokio::spawn(async move {
            while let Some(event) = port.events.recv().await {
                match event {
                    PeripheralEvent::Connected { mtu } | PeripheralEvent::Mtu(mtu) => {
                        mtu_seen.store(mtu, Ordering::SeqCst);
                    }
                    PeripheralEvent::Write(value) if echo_on.load(Ordering::SeqCst) => {
                        if echoes.send(value).await.is_err() {
                            break;
                        }
                    }
                    PeripheralEvent::Write(_)
                    | PeripheralEvent::Disconnected
                    | PeripheralEvent::Lost => {}
                }
            }
        });
        Ok(EchoReader { notify: port.notify, served, task, battery: port.battery, echo, mtu })
    }

    /// The subscription's MTU, which reaches the echo task just after
    /// connect returns.
    async fn subscribed_mtu(&self) -> anyhow::Result<u16> {
        let deadline = Instant::now() + STEP;
        while self.mtu.load(Ordering::SeqCst) == 0 {
            anyhow::ensure!(Instant::now() < deadline, "the reader never saw the subscription");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(self.mtu.load(Ordering::SeqCst))
    }

    /// Writes are acknowledged from now on, no longer echoed.
    fn stop_echo(&self) {
        self.echo.store(false, Ordering::SeqCst);
    }

    /// Stops notifying and advertising, and the echo task.
    fn stop(self) {
        let EchoReader { notify, served, task, battery, .. } = self;
        drop(notify);
        drop(served);
        task.abort();
        drop(battery);
    }
}

/// Finds the reader advertising `serial` from `adapter` and connects;
/// returns the port and the milliseconds to find and to connect.
async fn connect(adapter: &str, serial: &str) -> anyhow::Result<(CentralPort, f64, f64)> {
    let start = Instant::now();
    let found =
        central::find(&central::Filter::named(serial), Some(adapter), Duration::from_secs(30))
            .await
            .context("finding the reader")?;
    let discover_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let port = central::connect(&found, Some(adapter), Duration::from_secs(30))
        .await
        .context("connecting to the reader")?;
    let connect_ms = start.elapsed().as_secs_f64() * 1e3;
    Ok((port, discover_ms, connect_ms))
}

/// `count` write→notify round trips of 20 bytes, timed after 10 untimed.
async fn round_trips(port: &mut CentralPort, count: usize) -> anyhow::Result<RoundTrips> {
    eprintln!("bench ble: {count} write→notify round trips…");
    let small = 20;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count + 10 {
        let value: Vec<u8> = (0..small).map(|b| (b + i) as u8).collect();
        let sent = Instant::now();
        let ack = write(port, value.clone()).await?;
        let echoed = notification(port).await?;
        let elapsed = sent.elapsed();
        acked(ack).await?;
        anyhow::ensure!(echoed == value, "round trip {i}: the echo differs from the write");
        if i >= 10 {
            samples.push(elapsed.as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(RoundTrips {
        n: samples.len(),
        value_bytes: small,
        min_us: samples.first().copied().unwrap_or_default(),
        median_us: percentile(&samples, 50.0),
        p99_us: percentile(&samples, 99.0),
        max_us: samples.last().copied().unwrap_or_default(),
    })
}

/// `count` notifications of `value` sent back to back by the reader, until
/// the central has them all or none came for 5 s.
async fn notify_burst(
    reader: &EchoReader,
    port: &mut CentralPort,
    count: usize,
    value: &[u8],
) -> anyhow::Result<Burst> {
    eprintln!("bench ble: a burst of {count} notifications…");
    let start = Instant::now();
    let sender = {
        let (notify, value) = (reader.notify.clone(), value.to_vec());
        tokio::spawn(async move {
            for _ in 0..count {
                if notify.send(value.clone()).await.is_err() {
                    break;
                }
            }
        })
    };
    let mut received = 0;
    let mut last = start;
    while received < count {
        match tokio::time::timeout(Duration::from_secs(5), port.events.recv()).await {
            Ok(Some(CentralEvent::Notification(_))) => {
                received += 1;
                last = Instant::now();
            }
            Ok(Some(CentralEvent::Mtu(_))) => {}
            Ok(Some(CentralEvent::Disconnected) | None) => anyhow::bail!("the reader disconnected"),
            Err(_) => break,
        }
    }
    sender.await.context("the burst's sender")?;
    Ok(burst(count, received, value.len(), (last - start).as_secs_f64()))
}

/// `count` writes of `value` with response, one outstanding at a time,
/// acknowledged by the reader (echo off).
async fn write_run(
    reader: &EchoReader,
    port: &CentralPort,
    count: usize,
    value: &[u8],
) -> anyhow::Result<Burst> {
    eprintln!("bench ble: {count} writes with response…");
    reader.stop_echo();
    let start = Instant::now();
    for _ in 0..count {
        acked(write(port, value.to_vec()).await?).await?;
    }
    Ok(burst(count, count, value.len(), start.elapsed().as_secs_f64()))
}

/// Disconnects and waits until the central says so.
async fn disconnect(port: &mut CentralPort) -> anyhow::Result<()> {
    port.ops.send(CentralOp::Disconnect).await.context("disconnecting")?;
    while let Some(event) = port.events.recv().await {
        if event == CentralEvent::Disconnected {
            break;
        }
    }
    Ok(())
}

/// The report as text.
pub fn table(bench: &BleBench) -> String {
    let rt = &bench.round_trip;
    let row = |name: &str, b: &Burst| {
        format!(
            "{name:<14} {:>6}/{:<6} {:>5} B  {:>9.0}/s  {:>8.1} KiB/s  {:.3} s\n",
            b.received,
            b.sent,
            b.value_bytes,
            b.per_s,
            b.bytes_per_s / 1024.0,
            b.seconds
        )
    };
    let mut out = format!(
        "reader on {}, central on {}; MTU {} (reader) / {} (central)\n\
         found in {:.0} ms, connected in {:.0} ms\n\n\
         write→notify round trip ({} × {} B): min {:.0} µs, median {:.0} µs, p99 {:.0} µs, max {:.0} µs\n\n",
        bench.peripheral_adapter,
        bench.central_adapter,
        bench.peripheral_mtu,
        bench.central_mtu,
        bench.discover_ms,
        bench.connect_ms,
        rt.n,
        rt.value_bytes,
        rt.min_us,
        rt.median_us,
        rt.p99_us,
        rt.max_us
    );
    out.push_str(&row("notifications", &bench.notify_burst));
    out.push_str(&row("writes", &bench.writes));
    out
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 100.0);
        assert_eq!(percentile(&samples, 99.0), 198.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
