//! Is a bench reader there: a Bluetooth reader is connected to over
//! BLE-over-TCP, its Device Information and battery read (docs/ble-gatt.md)
//! and the connection closed again, so the next central (the POS) finds it
//! free; a smart reader's LAN API is asked about a payment that does not
//! exist, which a reader on the LAN answers with a 404.

use super::bench::{BenchReader, Find};
use super::http;
use readerlab_emulator::ble::{CentralEvent, CentralOp, CentralPort};
use readerlab_emulator::wire::ble::gatt;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// The MTU `lab check` offers.
const MTU: u16 = 185;
/// How long one look at a reader may take.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// Between two looks while waiting for a reader to come or go.
const POLL: Duration = Duration::from_millis(250);

/// What a reader said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its serial number, when it tells it (Bluetooth readers).
    pub serial: Option<String>,
    /// In words, for the table.
    pub detail: String,
}

/// What one look at a reader found.
enum Look {
    /// It answered as the reader the bench means.
    Answers(Seen),
    /// It answered, but not as that reader (another model).
    Wrong(String),
    /// It did not answer.
    Unreachable(String),
}

/// Looks at `reader` once, within `deadline`: what it told, or why it is
/// not the reader the bench means.
pub fn look(runtime: &Runtime, reader: &BenchReader, deadline: Duration) -> Result<Seen, String> {
    match look_once(runtime, reader, deadline) {
        Look::Answers(seen) => Ok(seen),
        Look::Wrong(why) | Look::Unreachable(why) => Err(why),
    }
}

fn look_once(runtime: &Runtime, reader: &BenchReader, deadline: Duration) -> Look {
    match &reader.find {
        Find::BleTcp(addr) => {
            let told = runtime.block_on(async {
                tokio::time::timeout(deadline, ble(addr)).await.unwrap_or_else(|_| {
                    Err(format!("{addr}: no answer within {} ms", deadline.as_millis()))
                })
            });
            match told {
                Ok(told) => match same_model(reader, &told) {
                    Ok(()) => Look::Answers(told.seen),
                    Err(why) => Look::Wrong(why),
                },
                Err(why) => Look::Unreachable(why),
            }
        }
        Find::Lan(url) => match lan(url, deadline) {
            Ok(seen) => Look::Answers(seen),
            Err(why) => Look::Unreachable(why),
        },
    }
}

/// Looks at `reader` until `want` holds for being reachable (true: it
/// answers as the reader the bench means; false: it does not answer at
/// all), within `within`. The last look on success, or what the last look
/// saw on timeout.
pub fn wait_until(
    runtime: &Runtime,
    reader: &BenchReader,
    want: bool,
    within: Duration,
) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let left = within.saturating_sub(started.elapsed());
        let deadline = left.clamp(Duration::from_millis(100), PROBE_DEADLINE);
        let seen = look_once(runtime, reader, deadline);
        match (&seen, want) {
            (Look::Answers(seen), true) => return Ok(seen.detail.clone()),
            (Look::Unreachable(why), false) => return Ok(format!("unreachable: {why}")),
            _ => {}
        }
        if started.elapsed() + POLL >= within {
            let last = match seen {
                Look::Answers(seen) => format!("still answers: {}", seen.detail),
                Look::Wrong(why) => format!("answers, but {why}"),
                Look::Unreachable(why) => format!("still unreachable: {why}"),
            };
            return Err(format!("{last} after {} s", within.as_secs_f64()));
        }
        std::thread::sleep(POLL);
    }
}

/// What a Bluetooth reader told, with the model it names itself.
struct Told {
    seen: Seen,
    model: String,
}

/// A reader whose Device Information names another model is not the one
/// the bench file means: its model number must contain the model's id
/// (letters and digits compared, case aside: `Stripe Reader M2` is `m2`).
fn same_model(reader: &BenchReader, told: &Told) -> Result<(), String> {
    let squash = |s: &str| -> String {
        s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
    };
    if squash(&told.model).contains(&squash(reader.model.id())) {
        return Ok(());
    }
    Err(format!(
        "it says it is a `{}` (Device Information), the bench says {}: {}",
        told.model,
        reader.model.id(),
        told.seen.detail
    ))
}

async fn ble(addr: &str) -> Result<Told, String> {
    let mut port = readerlab_emulator::ble::tcp::connect(addr, MTU)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!(
                "{addr}: BLE-over-TCP: the reader closes connections at once (off, out of range, or held by another central)"
            ),
            _ => format!("{addr}: connecting over BLE-over-TCP: {e}"),
        })?;
    let read = async {
        let serial = read_string(&port, gatt::SERIAL_NUMBER_CHAR, "serial number").await?;
        let model = read_string(&port, gatt::MODEL_NUMBER_CHAR, "model number").await?;
        let firmware =
            read_string(&port, gatt::FIRMWARE_REVISION_CHAR, "firmware revision").await?;
        let battery = read(&port, gatt::BATTERY_LEVEL_CHAR, "battery level").await?;
        let battery = battery.first().copied().ok_or("the battery level is empty")?;
        Ok::<_, String>(Told {
            seen: Seen {
                detail: format!(
                    "serial {serial}, model {model}, firmware {firmware}, battery {battery} %"
                ),
                serial: Some(serial),
            },
            model,
        })
    };
    let seen = read.await;
    // Leave the reader free for the next central, and wait until it is.
    if port.ops.send(CentralOp::Disconnect).await.is_ok() {
        let gone = async {
            while let Some(event) = port.events.recv().await {
                if event == CentralEvent::Disconnected {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), gone).await;
    }
    seen.map_err(|e| format!("{addr}: {e}"))
}

async fn read(port: &CentralPort, uuid: u128, what: &str) -> Result<Vec<u8>, String> {
    let (reply, answer) = oneshot::channel();
    port.ops
        .send(CentralOp::Read(uuid, reply))
        .await
        .map_err(|_| format!("reading the {what}: disconnected"))?;
    answer
        .await
        .map_err(|_| format!("reading the {what}: disconnected"))?
        .map_err(|e| format!("reading the {what}: {e}"))
}

async fn read_string(port: &CentralPort, uuid: u128, what: &str) -> Result<String, String> {
    Ok(String::from_utf8_lossy(&read(port, uuid, what).await?).into_owned())
}

fn lan(url: &str, deadline: Duration) -> Result<Seen, String> {
    let probe = format!("{url}/payments/readerlab-lab-check");
    let answer = http::get(&probe, None, deadline)?;
    match answer.status {
        404 | 200 => Ok(Seen { serial: None, detail: format!("LAN API answers ({url})") }),
        503 => Err(format!("{url}: the reader's LAN is down (503)")),
        status => Err(format!("{url}: GET {probe} answered {status}: {}", tail(&answer.body))),
    }
}

/// The first 200 characters of `text`, on one line.
pub fn tail(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    one_line.chars().take(200).collect()
}
