//! The POS end over a real Bluetooth stack, with `btleplug`: [`discover`]
//! readers by name or service, [`connect`] to one and get a
//! [`CentralPort`], and read the standard Battery and Device Information
//! services of any BLE device ([`inspect`], [`read_device_info`],
//! [`read_battery`]) for lab rigs that watch physical readers.
//!
//! A connection's task turns [`CentralOp`]s into GATT writes (with
//! response) and reads, notifications on the reader's notify
//! characteristic into [`CentralEvent::Notification`], and the end of the
//! link (ours, or btleplug's `DeviceDisconnected`) into
//! [`CentralEvent::Disconnected`]. btleplug reports no MTU change during a
//! connection, so [`CentralEvent::Mtu`] is never sent.
//!
//! Several emulated readers may share one adapter by taking turns (see
//! `hw::bluez`): then one address shows several identities over time, and
//! [`discover`] reports each identity it sees as its own [`Found`].

use super::{Context, HwError, Result};
use crate::ble::{CentralEvent, CentralOp, CentralPort, DeviceInfo};
use crate::wire::ble::gatt;
use btleplug::api::{
    Central, CentralEvent as BtEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

/// Which advertisements [`discover`] reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this exact local name.
    pub name: Option<String>,
    /// Only devices that advertise this service.
    pub service: Option<u128>,
}

impl Filter {
    /// Every reader: the reader service.
    pub fn readers() -> Filter {
        Filter { name: None, service: Some(gatt::READER_SERVICE) }
    }

    /// The reader advertising as `name`.
    pub fn named(name: &str) -> Filter {
        Filter { name: Some(name.to_owned()), service: None }
    }
}

/// One identity seen while scanning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The advertised local name.
    pub name: Option<String>,
    /// The device address (`00:00:00:00:00:01`).
    pub address: String,
    /// Model and serial from the manufacturer data under `gatt::COMPANY_ID`.
    pub model_serial: Option<(String, String)>,
    /// Signal strength, if the stack reported one.
    pub rssi: Option<i16>,
    /// The advertised service UUIDs.
    pub services: Vec<u128>,
}

impl Found {
    fn matches(&self, filter: &Filter) -> bool {
        filter.name.as_ref().is_none_or(|name| self.name.as_ref() == Some(name))
            && filter.service.is_none_or(|service| self.services.contains(&service))
    }

    /// The serial this identity claims (manufacturer data, else the name).
    pub fn serial(&self) -> Option<&str> {
        self.model_serial.as_ref().map(|(_, serial)| serial.as_str()).or(self.name.as_deref())
    }
}

/// The adapter named `name` (`hci1`), or the first one.
async fn adapter(name: Option<&str>) -> Result<Adapter> {
    let manager = Manager::new().await.context(|| "connecting to the Bluetooth stack".into())?;
    let adapters = manager.adapters().await.context(|| "listing adapters".into())?;
    for adapter in adapters {
        let info = adapter.adapter_info().await.context(|| "reading adapter info".into())?;
        let id = info.split_whitespace().next().unwrap_or_default();
        if name.is_none_or(|name| name == id) {
            return Ok(adapter);
        }
    }
    Err(HwError::new(
        format!("opening adapter {}", name.unwrap_or("(any)")),
        "no such Bluetooth adapter",
    ))
}

async fn found(peripheral: &Peripheral) -> Result<Option<Found>> {
    let properties = peripheral
        .properties()
        .await
        .context(|| format!("reading the properties of {}", peripheral.address()))?;
    Ok(properties.map(|properties| Found {
        name: properties.local_name,
        address: properties.address.to_string(),
        model_serial: properties
            .manufacturer_data
            .get(&gatt::COMPANY_ID)
            .and_then(|data| gatt::Advertisement::parse_manufacturer_data(data))
            .map(|(model, serial)| (model.to_owned(), serial)),
        rssi: properties.rssi,
        services: properties.services.iter().map(Uuid::as_u128).collect(),
    }))
}

/// Scans on `adapter` for `timeout` and returns every distinct identity
/// (address, name, manufacturer data) that matched `filter`, in the order
/// first seen.
pub async fn discover(
    filter: &Filter,
    adapter: Option<&str>,
    timeout: Duration,
) -> Result<Vec<Found>> {
    scan(filter, adapter, timeout, |_| false).await
}

/// Scans until the first identity matching `filter`; an error after
/// `timeout` without one.
pub async fn find(filter: &Filter, adapter: Option<&str>, timeout: Duration) -> Result<Found> {
    let found = scan(filter, adapter, timeout, |found| !found.is_empty()).await?;
    found.into_iter().next().ok_or_else(|| {
        HwError::new(
            format!("scanning for {filter:?}"),
            format!("nothing matched within {timeout:?}"),
        )
    })
}

/// Scans until `timeout` or until `enough` says so.
pub async fn scan(
    filter: &Filter,
    adapter_name: Option<&str>,
    timeout: Duration,
    enough: impl Fn(&[Found]) -> bool,
) -> Result<Vec<Found>> {
    let central = adapter(adapter_name).await?;
    let mut events = central.events().await.context(|| "listening to the adapter".into())?;
    let services = filter.service.map(Uuid::from_u128).into_iter().collect();
    central.start_scan(ScanFilter { services }).await.context(|| "starting a scan".into())?;
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<Found> = Vec::new();
    let record = |candidate: Option<Found>, seen: &mut Vec<Found>| {
        if let Some(candidate) = candidate
            && candidate.matches(filter)
            && !seen.iter().any(|known| {
                known.address == candidate.address
                    && known.name == candidate.name
                    && known.model_serial == candidate.model_serial
            })
        {
            seen.push(candidate);
        }
    };
    let known = central.peripherals().await.context(|| "listing known devices".into())?;
    for peripheral in &known {
        record(found(peripheral).await?, &mut seen);
    }
    while !enough(&seen) {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let id = match event {
            Some(
                BtEvent::DeviceDiscovered(id)
                | BtEvent::DeviceUpdated(id)
                | BtEvent::ManufacturerDataAdvertisement { id, .. }
                | BtEvent::ServicesAdvertisement { id, .. },
            ) => id,
            Some(_) => continue,
            None => break,
        };
        if let Ok(peripheral) = central.peripheral(&id).await {
            record(found(&peripheral).await?, &mut seen);
        }
    }
    central.stop_scan().await.context(|| "stopping the scan".into())?;
    Ok(seen)
}

fn characteristic(peripheral: &Peripheral, uuid: u128) -> Option<Characteristic> {
    peripheral.characteristics().into_iter().find(|c| c.uuid.as_u128() == uuid)
}

async fn read_string(peripheral: &Peripheral, uuid: u128) -> Result<Option<String>> {
    let Some(characteristic) = characteristic(peripheral, uuid) else { return Ok(None) };
    let value = peripheral
        .read(&characteristic)
        .await
        .context(|| format!("reading {uuid:032x} from {}", peripheral.address()))?;
    Ok(Some(String::from_utf8_lossy(&value).into_owned()))
}

/// Connects to `address` on `central` and discovers its services; if
/// `serial` is given, until the device's Serial Number string says so
/// (a reader sharing its adapter may have handed it on).
async fn link(
    central: &Adapter,
    address: &str,
    serial: Option<&str>,
    timeout: Duration,
) -> Result<Peripheral> {
    let deadline = Instant::now() + timeout;
    let context = || format!("connecting to {address}");
    let mut last = String::from("not seen by this adapter; discover it first");
    loop {
        let known = central.peripherals().await.context(context)?;
        if let Some(peripheral) =
            known.into_iter().find(|p| p.address().to_string().eq_ignore_ascii_case(address))
        {
            let attempt = async {
                if !peripheral.is_connected().await.context(context)? {
                    peripheral.connect().await.context(context)?;
                }
                peripheral.discover_services().await.context(context)?;
                match serial {
                    Some(serial) => {
                        let said = read_string(&peripheral, gatt::SERIAL_NUMBER_CHAR).await?;
                        Ok::<_, HwError>(said.as_deref() == Some(serial))
                    }
                    None => Ok(true),
                }
            };
            match attempt.await {
                Ok(true) => return Ok(peripheral),
                Ok(false) => {
                    last = format!("it is serving another reader, not {}", serial.unwrap_or(""));
                    let _ = peripheral.disconnect().await;
                }
                Err(error) => last = error.to_string(),
            }
        }
        if Instant::now() >= deadline {
            return Err(HwError::new(context(), format!("gave up after {timeout:?}: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Connects to the reader `found` through `adapter`, subscribes to its
/// notify characteristic and returns the port; the link lives in a task
/// until [`CentralOp::Disconnect`], the ops sender's drop, or the device's
/// disconnection.
pub async fn connect(
    found: &Found,
    adapter_name: Option<&str>,
    timeout: Duration,
) -> Result<CentralPort> {
    let central = adapter(adapter_name).await?;
    let peripheral = link(&central, &found.address, found.serial(), timeout).await?;
    // Listened to only now: the attempts `link` gave up on disconnected too.
    let mut central_events =
        central.events().await.context(|| "listening to the adapter".into())?;
    let address = found.address.clone();
    let missing = |uuid: u128| {
        HwError::new(format!("connecting to {address}"), format!("no characteristic {uuid:032x}"))
    };
    let command = characteristic(&peripheral, gatt::COMMAND_CHAR)
        .ok_or_else(|| missing(gatt::COMMAND_CHAR))?;
    let notify =
        characteristic(&peripheral, gatt::NOTIFY_CHAR).ok_or_else(|| missing(gatt::NOTIFY_CHAR))?;
    let mut notifications = peripheral
        .notifications()
        .await
        .context(|| format!("listening to notifications from {address}"))?;
    peripheral.subscribe(&notify).await.context(|| format!("subscribing to {address}"))?;
    let mtu = peripheral.mtu();
    let (ops, mut ops_rx) = mpsc::channel::<CentralOp>(256);
    let (events_tx, events) = mpsc::channel(256);
    let id = peripheral.id();
    tokio::spawn(async move {
        // The adapter's events end with the adapter: keep it for the link.
        let _central = central;
        loop {
            tokio::select! {
                op = ops_rx.recv() => match op {
                    Some(CentralOp::Write(value, ack)) => {
                        let written = peripheral
                            .write(&command, &value, WriteType::WithResponse)
                            .await
                            .map_err(std::io::Error::other);
                        let _ = ack.send(written);
                    }
                    Some(CentralOp::Read(uuid, reply)) => {
                        let value = match characteristic(&peripheral, uuid) {
                            Some(c) => peripheral.read(&c).await.map_err(std::io::Error::other),
                            None => Err(std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                format!("no characteristic {uuid:032x}"),
                            )),
                        };
                        let _ = reply.send(value);
                    }
                    Some(CentralOp::Disconnect) | None => {
                        let _ = peripheral.disconnect().await;
                        break;
                    }
                },
                notification = notifications.next() => match notification {
                    Some(n) if n.uuid == notify.uuid => {
                        let _ = events_tx.send(CentralEvent::Notification(n.value)).await;
                    }
                    Some(_) => {}
                    None => break,
                },
                event = central_events.next() => match event {
                    Some(BtEvent::DeviceDisconnected(gone)) if gone == id => {
                        // A late report of an earlier link is not this one's end.
                        if !peripheral.is_connected().await.unwrap_or(false) {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        let _ = events_tx.send(CentralEvent::Disconnected).await;
    });
    Ok(CentralPort { mtu, ops, events })
}

async fn read_op(port: &CentralPort, uuid: u128) -> Result<Vec<u8>> {
    let context = || format!("reading {uuid:032x}");
    let (reply, answer) = oneshot::channel();
    port.ops.send(CentralOp::Read(uuid, reply)).await.context(context)?;
    answer.await.context(context)?.context(context)
}

/// The Device Information strings, through a connection's port.
pub async fn read_device_info(port: &CentralPort) -> Result<DeviceInfo> {
    let string = |value: Vec<u8>| String::from_utf8_lossy(&value).into_owned();
    Ok(DeviceInfo {
        manufacturer: string(read_op(port, gatt::MANUFACTURER_NAME_CHAR).await?),
        model: string(read_op(port, gatt::MODEL_NUMBER_CHAR).await?),
        serial: string(read_op(port, gatt::SERIAL_NUMBER_CHAR).await?),
        firmware: string(read_op(port, gatt::FIRMWARE_REVISION_CHAR).await?),
    })
}

/// The Battery Level (percent), through a connection's port.
pub async fn read_battery(port: &CentralPort) -> Result<u8> {
    let value = read_op(port, gatt::BATTERY_LEVEL_CHAR).await?;
    value.first().copied().ok_or_else(|| HwError::new("reading the battery level", "empty value"))
}

/// What [`inspect`] read from a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The Device Information strings the device has (absent ones empty).
    pub device_info: DeviceInfo,
    /// The Battery Level, if the device has a Battery service.
    pub battery: Option<u8>,
}

/// Connects to any BLE device at `address` (seen by `adapter` in an
/// earlier scan), reads its Device Information and Battery Level, and
/// disconnects: presence and health checks for physical readers.
pub async fn inspect(
    address: &str,
    adapter_name: Option<&str>,
    timeout: Duration,
) -> Result<Inspection> {
    let central = adapter(adapter_name).await?;
    let peripheral = link(&central, address, None, timeout).await?;
    let read = async {
        let string = |uuid| read_string(&peripheral, uuid);
        let device_info = DeviceInfo {
            manufacturer: string(gatt::MANUFACTURER_NAME_CHAR).await?.unwrap_or_default(),
            model: string(gatt::MODEL_NUMBER_CHAR).await?.unwrap_or_default(),
            serial: string(gatt::SERIAL_NUMBER_CHAR).await?.unwrap_or_default(),
            firmware: string(gatt::FIRMWARE_REVISION_CHAR).await?.unwrap_or_default(),
        };
        let battery = match characteristic(&peripheral, gatt::BATTERY_LEVEL_CHAR) {
            Some(c) => peripheral
                .read(&c)
                .await
                .context(|| format!("reading the battery level of {address}"))?
                .first()
                .copied(),
            None => None,
        };
        Ok(Inspection { device_info, battery })
    };
    let inspection = read.await;
    let disconnected =
        peripheral.disconnect().await.context(|| format!("disconnecting from {address}"));
    let inspection = inspection?;
    disconnected?;
    Ok(inspection)
}
