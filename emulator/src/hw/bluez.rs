//! Emulated mobile readers as BLE peripherals on BlueZ, through `bluer`'s
//! GATT application and LE advertising APIs. [`advertise`] serves each
//! reader's GATT profile (`wire::ble::gatt`) and hands back one
//! [`PeripheralPort`] per reader:
//!
//! - reader service: a write (with response) to the command characteristic
//!   becomes [`PeripheralEvent::Write`], acknowledged once the port has
//!   taken it; values sent on [`PeripheralPort::notify`] are notified on the
//!   notify characteristic through bluer's notify IO (a socket per
//!   subscription). A subscription is [`PeripheralEvent::Connected`] with
//!   `mtu = writer.mtu() + 3`, so `gatt::att_payload(mtu)` is exactly the
//!   largest value bluer's socket takes (bluer reports the ATT MTU less 5,
//!   a workaround for BlueZ); the end of the subscription, or the
//!   subscribing device's disconnection, is [`PeripheralEvent::Disconnected`].
//!   bluer gives no signal when the MTU changes during a subscription, so
//!   this carrier never sends [`PeripheralEvent::Mtu`].
//! - Battery Level: read, and notified whenever the port's `battery` watch
//!   changes.
//! - Device Information: the four strings of [`DeviceInfo`], read only.
//!
//! The advertisement carries the local name, the reader service UUID and
//! the manufacturer data under `gatt::COMPANY_ID`, with `discoverable` set
//! (bluezoo hides an advertisement without it).
//!
//! # Several readers on one adapter
//!
//! One adapter is one radio with one address and *one* GATT database: a
//! central that connects gets every service the adapter's host serves. So
//! two readers served at once on one adapter would be one device with two
//! reader services of the same UUID, and btleplug (which keys services by
//! UUID) could reach only one of them. What bluezoo 1.0.2 does makes it
//! worse for a naive approach: it accepts up to 15 advertisements per
//! adapter but a scanner only ever sees the *first* registered one, as a
//! device at the adapter's address; and a connection links every GATT
//! application registered on the adapter at that moment.
//!
//! So readers sharing an adapter take turns, as a time-shared radio: each
//! reader in turn has the adapter for a slot ([`DEFAULT_SLOT`], or the slot
//! given to [`advertise_rotating`]), with only its own GATT application
//! and advertisement registered. A scanner sees the adapter's address
//! change name and manufacturer data from slot to slot; `hw::central`
//! reports each identity it sees as its own `Found`. While any device is
//! connected to the adapter the rotation holds, so the connected reader
//! keeps the adapter until the central leaves. A central that connects at
//! the instant a slot ends can land on the next reader: `hw::central::connect`
//! checks the Serial Number string and tries again. One reader per adapter
//! (several adapters, each given to its own [`advertise`] call) needs no
//! rotation and is what a rig with truly simultaneous readers should use.
//!
//! Dropping the [`BluezPeripheral`] stops advertising and unregisters the
//! application.

use super::{Context, HwError, Result};
use crate::ble::{DeviceInfo, PeripheralEvent, PeripheralPort};
use crate::wire::ble::gatt;
use bluer::adv::{Advertisement as LeAdvertisement, AdvertisementHandle, Type};
use bluer::gatt::CharacteristicWriter;
use bluer::gatt::local::{
    Application, ApplicationHandle, Characteristic, CharacteristicControlEvent,
    CharacteristicNotifier, CharacteristicNotify, CharacteristicNotifyMethod, CharacteristicRead,
    CharacteristicWrite, CharacteristicWriteMethod, ReqError, Service, characteristic_control,
};
use bluer::{Adapter, Address, Session, Uuid};
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How long each reader has the adapter when several share it. bluezoo
/// scans every `--scan-interval` seconds, so a slot must span at least one
/// scan (ci/ble.sh runs bluezoo with a 1 s interval).
pub const DEFAULT_SLOT: Duration = Duration::from_secs(2);

/// How often the connection of a subscribed device is checked.
const POLL: Duration = Duration::from_millis(50);

/// How long a write that arrives before its central's subscription has
/// been announced waits for it, so `Connected` precedes the first `Write`.
const SUBSCRIBE_GRACE: Duration = Duration::from_millis(200);

/// Capacity of each port's channels.
const PORT_CAPACITY: usize = 256;

/// Readers being served on one adapter. Dropping it stops advertising and
/// unregisters their GATT applications.
#[derive(Debug)]
pub struct BluezPeripheral {
    adapter_name: String,
    address: String,
    error: Arc<Mutex<Option<String>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl BluezPeripheral {
    /// The adapter's name (`hci0`).
    pub fn adapter_name(&self) -> &str {
        &self.adapter_name
    }

    /// The adapter's address, the one every reader it serves is seen at.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Why the rotation between readers stopped, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|error| error.clone())
    }
}

impl Drop for BluezPeripheral {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The name (`hci1`) of the adapter with this address.
pub async fn adapter_with_address(address: &str) -> Result<String> {
    let session = Session::new().await.context(|| "connecting to bluetoothd".into())?;
    let names = session.adapter_names().await.context(|| "listing adapters".into())?;
    for name in names {
        let adapter = session.adapter(&name).context(|| format!("opening adapter {name}"))?;
        let own = adapter.address().await.context(|| format!("reading {name}'s address"))?;
        if own.to_string().eq_ignore_ascii_case(address) {
            return Ok(name);
        }
    }
    Err(HwError::new(format!("finding the adapter with address {address}"), "no such adapter"))
}

/// Serves `readers` on the adapter `adapter_name` (the default adapter if
/// `None`), taking turns in slots of [`DEFAULT_SLOT`] if there are several.
pub async fn advertise(
    adapter_name: Option<&str>,
    readers: Vec<(gatt::Advertisement, DeviceInfo)>,
) -> Result<(BluezPeripheral, Vec<PeripheralPort>)> {
    advertise_rotating(adapter_name, readers, DEFAULT_SLOT).await
}

/// [`advertise`] with the slot each reader has the adapter for when
/// several share it (see the module documentation).
pub async fn advertise_rotating(
    adapter_name: Option<&str>,
    readers: Vec<(gatt::Advertisement, DeviceInfo)>,
    slot: Duration,
) -> Result<(BluezPeripheral, Vec<PeripheralPort>)> {
    if readers.is_empty() {
        return Err(HwError::new("advertising readers", "no readers given"));
    }
    let session = Session::new().await.context(|| "connecting to bluetoothd".into())?;
    let adapter = match adapter_name {
        Some(name) => session.adapter(name).context(|| format!("opening adapter {name}"))?,
        None => session.default_adapter().await.context(|| "opening the default adapter".into())?,
    };
    let name = adapter.name().to_owned();
    adapter.set_powered(true).await.context(|| format!("powering {name} on"))?;
    let address =
        adapter.address().await.context(|| format!("reading {name}'s address"))?.to_string();

    let mut shared = Vec::new();
    let mut ports = Vec::new();
    let mut tasks = Vec::new();
    for (advertisement, info) in readers {
        let (events_tx, events) = mpsc::channel(PORT_CAPACITY);
        let (notify, notify_rx) = mpsc::channel(PORT_CAPACITY);
        let (battery, battery_rx) = watch::channel(100);
        let reader = Arc::new(Reader {
            advertisement,
            info,
            events: events_tx,
            battery: battery_rx,
            link: Mutex::new(Link::default()),
            subscribed: watch::channel(false).0,
            waited: AtomicBool::new(false),
        });
        tasks.push(tokio::spawn(pump(reader.clone(), notify_rx)));
        shared.push(reader);
        ports.push(PeripheralPort { events, notify, battery });
    }

    // The first slot opens here so a stack that refuses us fails the call.
    let first = open_slot(&adapter, &shared[0]).await?;
    let error = Arc::new(Mutex::new(None));
    tasks.push(tokio::spawn(rotate(adapter, shared, first, slot, error.clone())));
    Ok((BluezPeripheral { adapter_name: name, address, error, tasks }, ports))
}

/// One served reader, shared by its application's callbacks and tasks.
struct Reader {
    advertisement: gatt::Advertisement,
    info: DeviceInfo,
    events: mpsc::Sender<PeripheralEvent>,
    battery: watch::Receiver<u8>,
    link: Mutex<Link>,
    subscribed: watch::Sender<bool>,
    /// Whether a write has already waited for a subscription since the
    /// last one ended (a central that never subscribes waits only once).
    waited: AtomicBool,
}

/// The current notify subscription, if any.
#[derive(Default)]
struct Link {
    writer: Option<Arc<CharacteristicWriter>>,
    generation: u64,
}

impl Reader {
    fn serial(&self) -> &str {
        &self.advertisement.local_name
    }

    /// Takes a new subscription; returns its generation.
    async fn start_link(&self, writer: CharacteristicWriter) -> (u64, Arc<CharacteristicWriter>) {
        let mtu = u16::try_from(writer.mtu() + 3).unwrap_or(u16::MAX);
        let writer = Arc::new(writer);
        let (generation, replaced) = match self.link.lock() {
            Ok(mut link) => {
                link.generation += 1;
                let replaced = link.writer.replace(writer.clone()).is_some();
                (link.generation, replaced)
            }
            Err(_) => (0, false),
        };
        if replaced {
            let _ = self.events.send(PeripheralEvent::Disconnected).await;
        }
        let _ = self.events.send(PeripheralEvent::Connected { mtu }).await;
        self.subscribed.send_replace(true);
        (generation, writer)
    }

    /// Ends the subscription `generation` (any, if `None`) if it is still
    /// the current one, and says so on the port.
    async fn end_link(&self, generation: Option<u64>) {
        let ended = match self.link.lock() {
            Ok(mut link) if generation.is_none_or(|g| g == link.generation) => {
                link.writer.take().is_some()
            }
            _ => false,
        };
        if ended {
            self.subscribed.send_replace(false);
            self.waited.store(false, Ordering::SeqCst);
            let _ = self.events.send(PeripheralEvent::Disconnected).await;
        }
    }

    fn writer(&self) -> Option<(u64, Arc<CharacteristicWriter>)> {
        let link = self.link.lock().ok()?;
        link.writer.clone().map(|writer| (link.generation, writer))
    }

    /// Waits (a little, once) until a subscription has been announced.
    async fn subscription(&self) {
        if *self.subscribed.borrow() || self.waited.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut subscribed = self.subscribed.subscribe();
        let _ = tokio::time::timeout(SUBSCRIBE_GRACE, subscribed.wait_for(|s| *s)).await;
    }
}

/// Notifies what the port sends, for as long as the port lives; a value
/// sent with no subscription is dropped.
async fn pump(reader: Arc<Reader>, mut values: mpsc::Receiver<Vec<u8>>) {
    while let Some(value) = values.recv().await {
        let Some((generation, writer)) = reader.writer() else { continue };
        // A value longer than the MTU allows is dropped, as the port's
        // contract says it cannot be sent; any other failure ends the link.
        if value.len() > writer.mtu() {
            continue;
        }
        if writer.send(&value).await.is_err() {
            reader.end_link(Some(generation)).await;
        }
    }
}

/// A reader's turn on the adapter: what is registered while it lasts.
struct Slot {
    reader: Arc<Reader>,
    _advertisement: AdvertisementHandle,
    _application: ApplicationHandle,
    /// Dropped at the end of the slot, which stops the slot's tasks.
    _stop: watch::Sender<()>,
}

impl Slot {
    async fn close(self) {
        let reader = self.reader.clone();
        drop(self);
        reader.end_link(None).await;
    }
}

/// Registers `reader`'s application and advertisement on `adapter`.
async fn open_slot(adapter: &Adapter, reader: &Arc<Reader>) -> Result<Slot> {
    let (stop, stopped) = watch::channel(());
    let (control, control_handle) = characteristic_control();
    let application = application(reader, control_handle, &stopped);
    let name = adapter.name().to_owned();
    let application_handle = adapter
        .serve_gatt_application(application)
        .await
        .context(|| format!("registering {}'s GATT application on {name}", reader.serial()))?;
    let advertisement_handle = adapter
        .advertise(le_advertisement(&reader.advertisement))
        .await
        .context(|| format!("registering {}'s advertisement on {name}", reader.serial()))?;
    tokio::spawn(subscriptions(reader.clone(), adapter.clone(), control, stopped));
    Ok(Slot {
        reader: reader.clone(),
        _advertisement: advertisement_handle,
        _application: application_handle,
        _stop: stop,
    })
}

/// Turns notify subscriptions into `Connected` and watches each until it
/// ends or its device disconnects.
async fn subscriptions(
    reader: Arc<Reader>,
    adapter: Adapter,
    mut control: bluer::gatt::local::CharacteristicControl,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        let event = tokio::select! {
            event = control.next() => event,
            _ = stopped.changed() => return,
        };
        let Some(CharacteristicControlEvent::Notify(writer)) = event else {
            if event.is_none() {
                return;
            }
            continue;
        };
        let device = writer.device_address();
        let (generation, writer) = reader.start_link(writer).await;
        let (reader, adapter, mut stopped) = (reader.clone(), adapter.clone(), stopped.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = writer.closed() => {}
                _ = disconnected(&adapter, device) => {}
                _ = stopped.changed() => return,
            }
            reader.end_link(Some(generation)).await;
        });
    }
}

/// Returns once `device` is no longer connected to `adapter`.
async fn disconnected(adapter: &Adapter, device: Address) {
    loop {
        tokio::time::sleep(POLL).await;
        let connected = match adapter.device(device) {
            Ok(device) => device.is_connected().await.unwrap_or(false),
            Err(_) => false,
        };
        if !connected {
            return;
        }
    }
}

/// Whether any device is connected to `adapter`.
async fn any_connected(adapter: &Adapter) -> bool {
    let Ok(addresses) = adapter.device_addresses().await else { return false };
    for address in addresses {
        if let Ok(device) = adapter.device(address)
            && device.is_connected().await.unwrap_or(false)
        {
            return true;
        }
    }
    false
}

/// Gives each reader the adapter in turn; with one reader, holds its slot.
async fn rotate(
    adapter: Adapter,
    readers: Vec<Arc<Reader>>,
    first: Slot,
    slot: Duration,
    error: Arc<Mutex<Option<String>>>,
) {
    let mut current = first;
    if readers.len() == 1 {
        // The slot lives as long as this task; dropping the peripheral
        // aborts the task, which drops the slot and unregisters.
        std::future::pending::<()>().await;
    }
    let mut next = 0;
    loop {
        next = (next + 1) % readers.len();
        tokio::time::sleep(slot).await;
        while any_connected(&adapter).await {
            tokio::time::sleep(POLL).await;
        }
        current.close().await;
        current = match open_slot(&adapter, &readers[next]).await {
            Ok(slot) => slot,
            Err(failure) => {
                if let Ok(mut error) = error.lock() {
                    *error = Some(failure.to_string());
                }
                return;
            }
        };
    }
}

fn le_advertisement(advertisement: &gatt::Advertisement) -> LeAdvertisement {
    LeAdvertisement {
        advertisement_type: Type::Peripheral,
        service_uuids: advertisement.services.iter().map(|u| Uuid::from_u128(*u)).collect(),
        manufacturer_data: [(gatt::COMPANY_ID, advertisement.manufacturer_data.clone())].into(),
        local_name: Some(advertisement.local_name.clone()),
        discoverable: Some(true),
        ..Default::default()
    }
}

/// A read-only characteristic holding `value`.
fn constant(uuid: u128, value: &str) -> Characteristic {
    let value = value.as_bytes().to_vec();
    Characteristic {
        uuid: Uuid::from_u128(uuid),
        read: Some(CharacteristicRead {
            read: true,
            fun: Box::new(move |_request| {
                let value = value.clone();
                Box::pin(async move { Ok(value) })
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The reader's GATT application: reader service, Battery, Device Information.
fn application(
    reader: &Arc<Reader>,
    notify_control: bluer::gatt::local::CharacteristicControlHandle,
    stopped: &watch::Receiver<()>,
) -> Application {
    let writes = reader.clone();
    let command = Characteristic {
        uuid: Uuid::from_u128(gatt::COMMAND_CHAR),
        write: Some(CharacteristicWrite {
            write: true,
            method: CharacteristicWriteMethod::Fun(Box::new(move |value, _request| {
                let reader = writes.clone();
                Box::pin(async move {
                    reader.subscription().await;
                    reader
                        .events
                        .send(PeripheralEvent::Write(value))
                        .await
                        .map_err(|_| ReqError::Failed)
                })
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let notify = Characteristic {
        uuid: Uuid::from_u128(gatt::NOTIFY_CHAR),
        notify: Some(CharacteristicNotify {
            notify: true,
            method: CharacteristicNotifyMethod::Io,
            ..Default::default()
        }),
        control_handle: notify_control,
        ..Default::default()
    };
    let level = reader.battery.clone();
    let (levels, stopped) = (reader.battery.clone(), stopped.clone());
    let battery = Characteristic {
        uuid: Uuid::from_u128(gatt::BATTERY_LEVEL_CHAR),
        read: Some(CharacteristicRead {
            read: true,
            fun: Box::new(move |_request| {
                let value = vec![*level.borrow()];
                Box::pin(async move { Ok(value) })
            }),
            ..Default::default()
        }),
        notify: Some(CharacteristicNotify {
            notify: true,
            method: CharacteristicNotifyMethod::Fun(Box::new(move |notifier| {
                let (levels, stopped) = (levels.clone(), stopped.clone());
                Box::pin(async move {
                    tokio::spawn(notify_battery(notifier, levels, stopped));
                })
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let info = &reader.info;
    Application {
        services: vec![
            Service {
                uuid: Uuid::from_u128(gatt::READER_SERVICE),
                primary: true,
                characteristics: vec![command, notify],
                ..Default::default()
            },
            Service {
                uuid: Uuid::from_u128(gatt::BATTERY_SERVICE),
                primary: true,
                characteristics: vec![battery],
                ..Default::default()
            },
            Service {
                uuid: Uuid::from_u128(gatt::DEVICE_INFO_SERVICE),
                primary: true,
                characteristics: vec![
                    constant(gatt::MANUFACTURER_NAME_CHAR, &info.manufacturer),
                    constant(gatt::MODEL_NUMBER_CHAR, &info.model),
                    constant(gatt::SERIAL_NUMBER_CHAR, &info.serial),
                    constant(gatt::FIRMWARE_REVISION_CHAR, &info.firmware),
                ],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// Notifies each new battery level until the session or the slot ends.
async fn notify_battery(
    mut notifier: CharacteristicNotifier,
    mut levels: watch::Receiver<u8>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            changed = levels.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stopped.changed() => return,
        }
        let level = *levels.borrow_and_update();
        if notifier.notify(vec![level]).await.is_err() {
            return;
        }
    }
}
