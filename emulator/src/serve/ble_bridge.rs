//! [`BleBridge`]: carries the POS-to-reader link of a served rig's
//! Bluetooth readers over a real Bluetooth carrier, through the reader
//! protocol of `wire::ble`.
//!
//! Per carried reader there are two ends, as in the field: the reader's
//! end (a [`PeripheralPort`] with a [`PeripheralLink`]) and the POS's end
//! (a [`CentralPort`] with a [`CentralLink`]). The SDK's commands
//! ([`ReaderCall`]) are written by the central, fragmented to the MTU,
//! reassembled by the peripheral and performed on the rig's reader
//! ([`crate::sim::Sim::command_arrived`]); the reply goes back as notifications. The
//! reader's events ([`ReaderNotice`]) are notified by the peripheral and
//! handed to the app when the central has decoded them
//! ([`crate::sim::Sim::notice_arrived`]).
//!
//! [`BleBridge::carry`] completes when the far end has applied the message,
//! which is what lets the virtual clock wait for it (the rig counts it as
//! busy until then) and keeps served histories deterministic.

use crate::ble::{
    CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort,
};
use crate::core::EventBody;
use crate::core::ReaderModel;
use crate::sim::{ReaderCall, ReaderNotice, ReaderTraffic};
use crate::wire::ble::link::{CentralLink, Inbound, PeripheralLink};
use crate::wire::ble::protocol::{Command, Reply};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// The MTU both ends offer: the rig's radio MTU (a typical phone's).
pub const OFFERED_MTU: u16 = crate::sim::RADIO_MTU;

/// Which carrier moves the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BleCarrier {
    /// BLE-over-TCP on loopback: one listener per reader.
    Tcp,
    /// BlueZ: each reader advertised and served through bluer on the
    /// adapter with address `00:00:00:00:00:01`, the POS connecting through
    /// btleplug from `00:00:00:00:00:02` (bluezoo's virtual adapters in
    /// ci/ble.sh). Only in a build with the `bluez` and `btleplug` features.
    Bluez,
}

/// The adapter that serves the readers, and the POS's.
pub const BLUEZ_ADAPTERS: (&str, &str) = ("00:00:00:00:00:01", "00:00:00:00:00:02");

impl std::str::FromStr for BleCarrier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(BleCarrier::Tcp),
            "bluez" if cfg!(all(feature = "bluez", feature = "btleplug")) => Ok(BleCarrier::Bluez),
            "bluez" => Err("this readerlab was built without Bluetooth: build it with \
                            `--features bluez,btleplug` for the BlueZ carrier"
                .to_owned()),
            other => Err(format!("unknown Bluetooth carrier `{other}` (known: tcp, bluez)")),
        }
    }
}

/// A message for one reader's link.
#[derive(Debug)]
pub enum ReaderMessage {
    /// The radio between POS and reader went down or came back.
    Link(usize, bool),
    /// The link's ATT MTU is now this (renegotiated).
    Mtu(usize, u16),
    /// SDK → reader.
    Call(ReaderCall),
    /// Reader → SDK.
    Notice(ReaderNotice),
}

impl ReaderMessage {
    /// In the order the carrier must take them: link changes first (a
    /// lost signal's own events are the SDK's conclusions, not the
    /// reader's words), then commands, then events.
    pub fn all(traffic: ReaderTraffic) -> impl Iterator<Item = ReaderMessage> {
        let links = traffic.links.into_iter().map(|(i, up)| ReaderMessage::Link(i, up));
        let mtus = traffic.mtus.into_iter().map(|(i, mtu)| ReaderMessage::Mtu(i, mtu));
        let links = links.chain(mtus);
        let calls = traffic.calls.into_iter().map(ReaderMessage::Call);
        links.chain(calls).chain(traffic.notices.into_iter().map(ReaderMessage::Notice))
    }

    fn reader(&self) -> usize {
        match self {
            ReaderMessage::Link(reader, _) | ReaderMessage::Mtu(reader, _) => *reader,
            ReaderMessage::Call(call) => call.reader,
            ReaderMessage::Notice(notice) => notice.reader,
        }
    }
}

type Done = oneshot::Sender<()>;

/// Where carried messages land: the rig's simulator, at the far end of the
/// carrier. The served rig implements it; the bridge needs nothing else of it.
pub trait FarEnd: std::fmt::Debug + Send + Sync + 'static {
    /// Applies an SDK command at the reader; `None` when the rig is gone.
    fn command_arrived(&self, reader: usize, command: Command) -> Option<Reply>;
    /// Applies a reader's event at the POS.
    fn notice_arrived(&self, reader: usize, body: &EventBody);
}

/// The carriers of a served rig's Bluetooth readers.
#[derive(Debug)]
pub struct BleBridge {
    rig: Arc<dyn FarEnd>,
    ends: BTreeMap<usize, End>,
}

#[derive(Debug)]
struct End {
    /// Whether the radio link is up (the carrier connected); while it is
    /// down the SDK's commands and conclusions stay on the POS side, in
    /// process, as they would in the field.
    up: Arc<AtomicBool>,
    /// The MTU the link was renegotiated to (both ends fragment to the
    /// smaller of it and their carrier's).
    mtu: Arc<AtomicU16>,
    /// The POS's end in this process; `None` when the POS is outside.
    to_pos: Option<mpsc::UnboundedSender<ToPos>>,
    notices: mpsc::UnboundedSender<(EventBody, bool, Done)>,
    /// An outside POS's reader: its radio, and where it listens.
    offered: Option<(watch::Sender<bool>, SocketAddr)>,
}

/// What the POS's end is asked to do.
#[derive(Debug)]
enum ToPos {
    Call(Command, Done),
    Link(bool, Done),
}

/// What the device information service of an emulated reader says.
fn device_info(model: ReaderModel, serial: &str) -> DeviceInfo {
    let manufacturer = match model {
        ReaderModel::M2 => "Stripe",
        _ => "BBPOS",
    };
    DeviceInfo {
        manufacturer: manufacturer.to_owned(),
        model: model.to_string(),
        serial: serial.to_owned(),
        firmware: "readerlab".to_owned(),
    }
}

impl BleBridge {
    /// Starts a carrier for each of `readers` (index, model, serial) of
    /// the rig served by `rig`. Must be called inside a tokio runtime; the
    /// carriers come up in the background and messages wait for them.
    pub fn start(
        rig: Arc<dyn FarEnd>,
        readers: Vec<(usize, ReaderModel, String)>,
        carrier: BleCarrier,
    ) -> BleBridge {
        let mut ends = BTreeMap::new();
        for (index, model, serial) in readers {
            let (to_pos, to_pos_rx) = mpsc::unbounded_channel();
            let (notices, notices_rx) = mpsc::unbounded_channel();
            let up = Arc::new(AtomicBool::new(true));
            let mtu = Arc::new(AtomicU16::new(crate::sim::RADIO_MTU));
            let info = device_info(model, &serial);
            let (rig, link_up, link_mtu) = (Arc::clone(&rig), Arc::clone(&up), Arc::clone(&mtu));
            tokio::spawn(async move {
                match connect(carrier, model, info).await {
                    Ok((peripheral, dial, central, keep)) => {
                        let applied = Arc::new(Mutex::new(VecDeque::new()));
                        let reader = ReaderEnd {
                            rig: Arc::clone(&rig),
                            index,
                            port: peripheral,
                            carrier_mtu: central.mtu,
                            mtu: Arc::clone(&link_mtu),
                            link: PeripheralLink::new(central.mtu),
                            notices: notices_rx,
                            applied: Arc::clone(&applied),
                            outside: None,
                        };
                        tokio::spawn(reader.run());
                        let pos = PosEnd {
                            rig,
                            index,
                            serial,
                            dial,
                            link: CentralLink::new(central.mtu),
                            mtu: link_mtu,
                            port: Some(central),
                            asks: to_pos_rx,
                            pending: BTreeMap::new(),
                            applied,
                            up: link_up,
                            _keep: keep,
                        };
                        pos.run().await;
                    }
                    Err(error) => {
                        eprintln!("readerlab: the Bluetooth carrier of {serial} failed: {error}");
                    }
                }
            });
            ends.insert(index, End { up, mtu, to_pos: Some(to_pos), notices, offered: None });
        }
        BleBridge { rig, ends }
    }

    /// Offers each of `readers` (index, model, serial) to a POS outside
    /// the process: a BLE-over-TCP listener per reader on loopback
    /// ([`BleBridge::addresses`]), whose central is the outside SDK. The
    /// SDK's commands are performed on the rig's reader as they arrive;
    /// the reader's events are notified to it; a radio fault drops its
    /// connection and refuses new ones until the radio is back; a central
    /// that leaves on its own (the app closed or killed) disconnects the
    /// reader. Must be called inside a tokio runtime.
    pub fn offer(
        rig: Arc<dyn FarEnd>,
        readers: Vec<(usize, ReaderModel, String)>,
    ) -> std::io::Result<BleBridge> {
        let mut ends = BTreeMap::new();
        for (index, model, serial) in readers {
            let info = device_info(model, &serial);
            let (address, port, radio) = crate::ble::tcp::listen_with_radio(info, OFFERED_MTU)?;
            let (notices, notices_rx) = mpsc::unbounded_channel();
            let up = Arc::new(AtomicBool::new(true));
            let mtu = Arc::new(AtomicU16::new(crate::sim::RADIO_MTU));
            let reader = ReaderEnd {
                rig: Arc::clone(&rig),
                index,
                port,
                carrier_mtu: OFFERED_MTU,
                mtu: Arc::clone(&mtu),
                link: PeripheralLink::new(OFFERED_MTU),
                notices: notices_rx,
                applied: Arc::new(Mutex::new(VecDeque::new())),
                outside: Some(Arc::clone(&up)),
            };
            tokio::spawn(reader.run());
            ends.insert(
                index,
                End { up, mtu, to_pos: None, notices, offered: Some((radio, address)) },
            );
        }
        Ok(BleBridge { rig, ends })
    }

    /// Where each reader offered to an outside POS listens, by index.
    pub fn addresses(&self) -> BTreeMap<usize, SocketAddr> {
        self.ends
            .iter()
            .filter_map(|(i, end)| end.offered.as_ref().map(|(_, a)| (*i, *a)))
            .collect()
    }

    /// Carries one message; returns when the far end applied it (at once
    /// if its carrier is gone: the message is lost, as on a dead link).
    pub async fn carry(&self, message: ReaderMessage) {
        let Some(end) = self.ends.get(&message.reader()) else { return };
        let (done, applied) = oneshot::channel();
        let up = end.up.load(Ordering::SeqCst);
        if let Some((radio, _)) = end.offered.as_ref() {
            return self.carry_outside(end, radio, message);
        }
        let Some(to_pos) = end.to_pos.as_ref() else { return };
        let sent = match message {
            ReaderMessage::Link(_, up) => to_pos.send(ToPos::Link(up, done)).is_ok(),
            ReaderMessage::Mtu(_, mtu) => {
                end.mtu.store(mtu, Ordering::SeqCst);
                false
            }
            ReaderMessage::Call(call) if up => to_pos.send(ToPos::Call(call.command, done)).is_ok(),
            ReaderMessage::Notice(notice) if up => {
                end.notices.send((notice.body, notice.lost, done)).is_ok()
            }
            // Lost on the air while the radio is down: nobody hears it.
            ReaderMessage::Notice(ReaderNotice { lost: true, .. }) => false,
            // The radio is down: the SDK answers itself, in process.
            ReaderMessage::Call(call) => {
                let ReaderCall { reader, command } = call;
                let _ = self.rig.command_arrived(reader, command);
                false
            }
            ReaderMessage::Notice(notice) => {
                let ReaderNotice { reader, body, .. } = notice;
                self.rig.notice_arrived(reader, &body);
                false
            }
        };
        if sent {
            let _ = applied.await;
        }
    }

    /// Carries a message of a reader offered to an outside POS. Nothing
    /// waits for the outside SDK: a notification counts as carried once it
    /// is written to its connection, and the SDK's own conclusions about a
    /// lost link (drawn in the rig while the radio is down) are its to draw
    /// again, so they are not sent.
    fn carry_outside(&self, end: &End, radio: &watch::Sender<bool>, message: ReaderMessage) {
        match message {
            ReaderMessage::Link(_, up) => {
                end.up.store(up, Ordering::SeqCst);
                radio.send_replace(up);
            }
            ReaderMessage::Mtu(_, mtu) => end.mtu.store(mtu, Ordering::SeqCst),
            // No app of this process speaks to an offered reader; should
            // the rig's own app ask something, the reader hears it.
            ReaderMessage::Call(ReaderCall { reader, command }) => {
                let _ = self.rig.command_arrived(reader, command);
            }
            ReaderMessage::Notice(notice) if end.up.load(Ordering::SeqCst) => {
                let (done, _) = oneshot::channel();
                let _ = end.notices.send((notice.body, notice.lost, done));
            }
            ReaderMessage::Notice(_) => {}
        }
    }
}

/// How the POS's end reaches its reader again after the link was lost.
#[derive(Debug)]
enum Dial {
    Tcp(std::net::SocketAddr),
    #[cfg(all(feature = "bluez", feature = "btleplug"))]
    Bluez {
        adapter: String,
    },
}

impl Dial {
    async fn dial(&self, serial: &str) -> std::io::Result<CentralPort> {
        match self {
            Dial::Tcp(addr) => {
                let _ = serial;
                crate::ble::tcp::connect(addr, OFFERED_MTU).await
            }
            #[cfg(all(feature = "bluez", feature = "btleplug"))]
            Dial::Bluez { adapter } => {
                use crate::hw::central;
                let timeout = std::time::Duration::from_secs(30);
                let filter = central::Filter::named(serial);
                let found = central::find(&filter, Some(adapter), timeout)
                    .await
                    .map_err(std::io::Error::other)?;
                central::connect(&found, Some(adapter), timeout)
                    .await
                    .map_err(std::io::Error::other)
            }
        }
    }
}

/// What keeps a carrier's far side alive (a BlueZ advertisement) for as
/// long as its link runs.
type Keep = Option<Box<dyn std::any::Any + Send>>;

/// Brings up one reader's carrier: its peripheral, and a central
/// connected to it.
async fn connect(
    carrier: BleCarrier,
    model: ReaderModel,
    info: DeviceInfo,
) -> std::io::Result<(PeripheralPort, Dial, CentralPort, Keep)> {
    match carrier {
        BleCarrier::Tcp => {
            let (addr, peripheral) =
                crate::ble::tcp::listen("127.0.0.1:0", info, OFFERED_MTU).await?;
            let dial = Dial::Tcp(addr);
            let central = dial.dial("").await?;
            Ok((peripheral, dial, central, None))
        }
        #[cfg(all(feature = "bluez", feature = "btleplug"))]
        BleCarrier::Bluez => bluez(model, info).await.map_err(std::io::Error::other),
        #[cfg(not(all(feature = "bluez", feature = "btleplug")))]
        BleCarrier::Bluez => {
            let _ = (model, info);
            Err(std::io::Error::other("built without the bluez and btleplug features"))
        }
    }
}

/// The reader advertised through bluer on one adapter, found and
/// connected through btleplug on the other.
#[cfg(all(feature = "bluez", feature = "btleplug"))]
async fn bluez(
    model: ReaderModel,
    info: DeviceInfo,
) -> crate::hw::Result<(PeripheralPort, Dial, CentralPort, Keep)> {
    use crate::hw::{bluez, central};
    use crate::wire::ble::gatt::Advertisement;
    use std::time::Duration;
    let (reader_address, pos_address) = BLUEZ_ADAPTERS;
    let serial = info.serial.clone();
    let advertisement = Advertisement::of(&model.to_string(), &serial).ok_or_else(|| {
        crate::hw::HwError::new(format!("advertising {serial}"), "not a Bluetooth model")
    })?;
    let reader_adapter = bluez::adapter_with_address(reader_address).await?;
    let pos_adapter = bluez::adapter_with_address(pos_address).await?;
    let (handle, mut ports) =
        bluez::advertise(Some(&reader_adapter), vec![(advertisement, info)]).await?;
    let peripheral = ports.pop().ok_or_else(|| {
        crate::hw::HwError::new(format!("advertising {serial}"), "no port came back")
    })?;
    let timeout = Duration::from_secs(30);
    let found =
        central::find(&central::Filter::named(&serial), Some(&pos_adapter), timeout).await?;
    let port = central::connect(&found, Some(&pos_adapter), timeout).await?;
    Ok((peripheral, Dial::Bluez { adapter: pos_adapter }, port, Some(Box::new(handle))))
}

/// The reader's end: performs commands, notifies events.
struct ReaderEnd {
    rig: Arc<dyn FarEnd>,
    index: usize,
    port: PeripheralPort,
    /// The MTU the carrier negotiated, and the renegotiated one.
    carrier_mtu: u16,
    mtu: Arc<AtomicU16>,
    link: PeripheralLink,
    notices: mpsc::UnboundedReceiver<(EventBody, bool, Done)>,
    /// Events notified and not yet applied at the POS, oldest first.
    applied: Arc<Mutex<VecDeque<Done>>>,
    /// Offered to an outside POS: whether the radio link is up.
    outside: Option<Arc<AtomicBool>>,
}

impl ReaderEnd {
    async fn run(mut self) {
        loop {
            tokio::select! {
                // Events queued before a command are notified before its
                // reply: an SDK's `sync` relies on it.
                biased;
                notice = self.notices.recv() => {
                    let Some((body, lost, done)) = notice else { return };
                    self.notice(body, lost, done).await;
                }
                event = self.port.events.recv() => match event {
                    Some(PeripheralEvent::Write(value)) => self.on_write(&value).await,
                    Some(PeripheralEvent::Connected { mtu } | PeripheralEvent::Mtu(mtu)) => {
                        self.carrier_mtu = mtu;
                    }
                    // The radio (signal or power) dropped the central: the
                    // rig already knows why.
                    Some(PeripheralEvent::Lost) => self.link.reset(),
                    Some(PeripheralEvent::Disconnected) => {
                        self.link.reset();
                        // An outside central left on its own: the app
                        // closed the connection (or died), which the reader
                        // takes as `disconnectReader`.
                        if self.outside.is_some() {
                            let _ = self.rig.command_arrived(self.index, Command::Disconnect);
                        }
                    }
                    None => return,
                },
            }
        }
    }

    /// Notifies one event (lost on the air: its sequence number is used
    /// and nothing is sent, so the POS sees the gap at the next event).
    async fn notice(&mut self, body: EventBody, lost: bool, done: Done) {
        self.fit_mtu();
        match self.link.notify(&body) {
            Ok(_) if lost => {
                let _ = done.send(());
            }
            Ok(values) => {
                // An outside POS says nothing when it applied one: carried
                // once written.
                if self.outside.is_none() {
                    lock(&self.applied).push_back(done);
                }
                self.send(values).await;
            }
            Err(error) => {
                eprintln!("readerlab: cannot notify {}: {error}", body.name());
                let _ = done.send(());
            }
        }
    }

    async fn on_write(&mut self, value: &[u8]) {
        let command = match self.link.on_write(value) {
            Ok(Some(command)) => command,
            Ok(None) => return,
            Err(error) => {
                eprintln!("readerlab: reader #{} got a bad write: {error}", self.index);
                return;
            }
        };
        let (seq, command) = command;
        let index = self.index;
        self.fit_mtu();
        let Some(reply) = self.rig.command_arrived(index, command) else {
            return;
        };
        match self.link.respond(seq, &reply) {
            Ok(values) => self.send(values).await,
            Err(error) => eprintln!("readerlab: cannot answer command {seq}: {error}"),
        }
    }

    /// Fragments from the next message on to the link's current MTU.
    fn fit_mtu(&mut self) {
        self.link.set_mtu(self.carrier_mtu.min(self.mtu.load(Ordering::SeqCst)));
    }

    async fn send(&self, values: Vec<Vec<u8>>) {
        for value in values {
            if self.port.notify.send(value).await.is_err() {
                return;
            }
        }
    }
}

/// The POS's end: writes commands, applies events, drops and redials the
/// connection as the radio link goes and comes.
struct PosEnd {
    rig: Arc<dyn FarEnd>,
    index: usize,
    serial: String,
    dial: Dial,
    /// The connection, while the radio link is up.
    port: Option<CentralPort>,
    link: CentralLink,
    /// The renegotiated MTU (the connection's own is the port's).
    mtu: Arc<AtomicU16>,
    asks: mpsc::UnboundedReceiver<ToPos>,
    /// Commands written, by seq, until their reply arrives.
    pending: BTreeMap<u16, Done>,
    applied: Arc<Mutex<VecDeque<Done>>>,
    up: Arc<AtomicBool>,
    _keep: Keep,
}

impl PosEnd {
    async fn run(mut self) {
        loop {
            let event = async {
                match self.port.as_mut() {
                    Some(port) => port.events.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ask = self.asks.recv() => match ask {
                    Some(ToPos::Call(command, done)) => self.write(command, done).await,
                    Some(ToPos::Link(up, done)) => {
                        self.set_link(up).await;
                        let _ = done.send(());
                    }
                    None => return,
                },
                event = event => match event {
                    Some(CentralEvent::Notification(value)) => self.on_notification(&value),
                    Some(CentralEvent::Mtu(mtu)) => {
                        if let Some(port) = self.port.as_mut() {
                            port.mtu = mtu;
                        }
                    }
                    // The reader's end went away: its rig is finished.
                    Some(CentralEvent::Disconnected) | None => return,
                },
            }
        }
    }

    /// The radio link went down (the connection is dropped: whatever was
    /// on its way is lost) or came back (the POS connects again).
    async fn set_link(&mut self, up: bool) {
        if !up {
            self.up.store(false, Ordering::SeqCst);
            if let Some(port) = self.port.take() {
                let _ = port.ops.send(CentralOp::Disconnect).await;
            }
            self.link.reset();
            for (_, done) in std::mem::take(&mut self.pending) {
                let _ = done.send(());
            }
            for done in lock(&self.applied).drain(..) {
                let _ = done.send(());
            }
            return;
        }
        if self.port.is_some() {
            return;
        }
        match self.dial.dial(&self.serial).await {
            Ok(port) => {
                self.link = CentralLink::new(port.mtu);
                self.port = Some(port);
                self.up.store(true, Ordering::SeqCst);
            }
            Err(error) => {
                eprintln!("readerlab: the POS cannot reconnect to {}: {error}", self.serial);
            }
        }
    }

    async fn write(&mut self, command: Command, done: Done) {
        let Some(port) = self.port.as_ref() else {
            let _ = done.send(());
            return;
        };
        self.link.set_mtu(port.mtu.min(self.mtu.load(Ordering::SeqCst)));
        let (seq, values) = match self.link.send(command) {
            Ok(sent) => sent,
            Err(error) => {
                eprintln!("readerlab: cannot send to {}: {error}", self.serial);
                let _ = done.send(());
                return;
            }
        };
        self.pending.insert(seq, done);
        // Written in order without waiting for each acknowledgement: the
        // reply is what completes the command, and waiting here while the
        // reader's notifications queue up behind it could stall both ends.
        for value in values {
            let (ack, _) = oneshot::channel();
            if port.ops.send(CentralOp::Write(value, ack)).await.is_err() {
                return;
            }
        }
    }

    fn on_notification(&mut self, value: &[u8]) {
        match self.link.on_notification(value) {
            Ok(Some(Inbound::Response { seq, .. })) => {
                if let Some(done) = self.pending.remove(&seq) {
                    let _ = done.send(());
                }
            }
            Ok(Some(Inbound::Event { body, missed, .. })) => {
                let index = self.index;
                if missed > 0 {
                    eprintln!(
                        "readerlab: the POS missed {missed} notification(s) from {}",
                        self.serial
                    );
                }
                self.rig.notice_arrived(index, &body);
                if let Some(done) = lock(&self.applied).pop_front() {
                    let _ = done.send(());
                }
            }
            Ok(None) => {}
            Err(error) => eprintln!("readerlab: POS got a bad notification: {error}"),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
