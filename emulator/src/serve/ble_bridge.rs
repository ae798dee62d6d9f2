//! [`BleBridge`]: carries the POS-to-reader link of a served rig's
//! Bluetooth readers over a real Bluetooth carrier, through the reader
//! protocol of `wire::ble`.
//!
//! Per carried reader there are two ends, as in the field: the reader's
//! end (a [`PeripheralPort`] with a [`PeripheralLink`]) and the POS's end
//! (a [`CentralPort`] with a [`CentralLink`]). The SDK's commands
//! ([`ReaderCall`]) are written by the central, fragmented to the MTU,
//! reassembled by the peripheral and performed on the rig's reader
//! ([`Sim::command_arrived`]); the reply goes back as notifications. The
//! reader's events ([`ReaderNotice`]) are notified by the peripheral and
//! handed to the app when the central has decoded them
//! ([`Sim::notice_arrived`]).
//!
//! [`BleBridge::carry`] completes when the far end has applied the message,
//! which is what lets the virtual clock wait for it (the rig counts it as
//! busy until then) and keeps served histories deterministic.

use super::ble::{
    CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort,
};
use super::rig::ServedRig;
use crate::core::event::EventBody;
use crate::core::profile::ReaderModel;
use crate::sim::{ReaderCall, ReaderNotice, Sim};
use crate::wire::ble::link::{CentralLink, Inbound, PeripheralLink};
use crate::wire::ble::protocol::Command;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The MTU both ends offer (a typical phone's).
pub const OFFERED_MTU: u16 = 185;

/// Which carrier moves the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BleCarrier {
    /// BLE-over-TCP on loopback: one listener per reader.
    Tcp,
}

impl std::str::FromStr for BleCarrier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(BleCarrier::Tcp),
            other => Err(format!("unknown Bluetooth carrier `{other}` (known: tcp)")),
        }
    }
}

/// A message for one reader's link.
#[derive(Debug)]
pub enum ReaderTraffic {
    /// SDK → reader.
    Call(ReaderCall),
    /// Reader → SDK.
    Notice(ReaderNotice),
}

impl ReaderTraffic {
    fn reader(&self) -> usize {
        match self {
            ReaderTraffic::Call(call) => call.reader,
            ReaderTraffic::Notice(notice) => notice.reader,
        }
    }
}

type Done = oneshot::Sender<()>;

/// The carriers of a served rig's Bluetooth readers.
#[derive(Debug)]
pub struct BleBridge {
    ends: BTreeMap<usize, End>,
}

#[derive(Debug)]
struct End {
    calls: mpsc::UnboundedSender<(Command, Done)>,
    notices: mpsc::UnboundedSender<(EventBody, Done)>,
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
        rig: &ServedRig,
        readers: Vec<(usize, ReaderModel, String)>,
        carrier: BleCarrier,
    ) -> BleBridge {
        let mut ends = BTreeMap::new();
        for (index, model, serial) in readers {
            let (calls, calls_rx) = mpsc::unbounded_channel();
            let (notices, notices_rx) = mpsc::unbounded_channel();
            let info = device_info(model, &serial);
            let rig = rig.clone();
            tokio::spawn(async move {
                match connect(carrier, info).await {
                    Ok((peripheral, central)) => {
                        let applied = Arc::new(Mutex::new(VecDeque::new()));
                        let reader = ReaderEnd {
                            rig: rig.clone(),
                            index,
                            port: peripheral,
                            link: PeripheralLink::new(central.mtu),
                            notices: notices_rx,
                            applied: Arc::clone(&applied),
                        };
                        tokio::spawn(reader.run());
                        let pos = PosEnd {
                            rig,
                            index,
                            link: CentralLink::new(central.mtu),
                            port: central,
                            calls: calls_rx,
                            pending: BTreeMap::new(),
                            applied,
                        };
                        pos.run().await;
                    }
                    Err(error) => {
                        eprintln!("readerlab: the Bluetooth carrier of {serial} failed: {error}");
                    }
                }
            });
            ends.insert(index, End { calls, notices });
        }
        BleBridge { ends }
    }

    /// Carries one message; returns when the far end applied it (at once
    /// if its carrier is gone: the message is lost, as on a dead link).
    pub async fn carry(&self, traffic: ReaderTraffic) {
        let Some(end) = self.ends.get(&traffic.reader()) else { return };
        let (done, applied) = oneshot::channel();
        let sent = match traffic {
            ReaderTraffic::Call(call) => end.calls.send((call.command, done)).is_ok(),
            ReaderTraffic::Notice(notice) => end.notices.send((notice.body, done)).is_ok(),
        };
        if sent {
            let _ = applied.await;
        }
    }
}

/// Brings up one reader's carrier: its peripheral, and a central
/// connected to it.
async fn connect(
    carrier: BleCarrier,
    info: DeviceInfo,
) -> std::io::Result<(PeripheralPort, CentralPort)> {
    match carrier {
        BleCarrier::Tcp => {
            let (addr, peripheral) =
                super::ble_tcp::listen("127.0.0.1:0", info, OFFERED_MTU).await?;
            let central = super::ble_tcp::connect(addr, OFFERED_MTU).await?;
            Ok((peripheral, central))
        }
    }
}

/// The reader's end: performs commands, notifies events.
struct ReaderEnd {
    rig: ServedRig,
    index: usize,
    port: PeripheralPort,
    link: PeripheralLink,
    notices: mpsc::UnboundedReceiver<(EventBody, Done)>,
    /// Events notified and not yet applied at the POS, oldest first.
    applied: Arc<Mutex<VecDeque<Done>>>,
}

impl ReaderEnd {
    async fn run(mut self) {
        loop {
            tokio::select! {
                event = self.port.events.recv() => match event {
                    Some(PeripheralEvent::Write(value)) => self.on_write(&value).await,
                    Some(PeripheralEvent::Connected { mtu } | PeripheralEvent::Mtu(mtu)) => {
                        self.link.set_mtu(mtu);
                    }
                    Some(PeripheralEvent::Disconnected) => self.link.reset(),
                    None => return,
                },
                notice = self.notices.recv() => {
                    let Some((body, done)) = notice else { return };
                    match self.link.notify(&body) {
                        Ok(values) => {
                            lock(&self.applied).push_back(done);
                            self.send(values).await;
                        }
                        Err(error) => {
                            eprintln!("readerlab: cannot notify {}: {error}", body.name());
                            let _ = done.send(());
                        }
                    }
                }
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
        let Ok(reply) = self.rig.with_sim(|sim: &mut Sim| sim.command_arrived(index, command))
        else {
            return;
        };
        match self.link.respond(seq, &reply) {
            Ok(values) => self.send(values).await,
            Err(error) => eprintln!("readerlab: cannot answer command {seq}: {error}"),
        }
    }

    async fn send(&self, values: Vec<Vec<u8>>) {
        for value in values {
            if self.port.notify.send(value).await.is_err() {
                return;
            }
        }
    }
}

/// The POS's end: writes commands, applies events.
struct PosEnd {
    rig: ServedRig,
    index: usize,
    port: CentralPort,
    link: CentralLink,
    calls: mpsc::UnboundedReceiver<(Command, Done)>,
    /// Commands written, by seq, until their reply arrives.
    pending: BTreeMap<u16, Done>,
    applied: Arc<Mutex<VecDeque<Done>>>,
}

impl PosEnd {
    async fn run(mut self) {
        loop {
            tokio::select! {
                call = self.calls.recv() => {
                    let Some((command, done)) = call else { return };
                    self.write(command, done).await;
                }
                event = self.port.events.recv() => match event {
                    Some(CentralEvent::Notification(value)) => self.on_notification(&value),
                    Some(CentralEvent::Mtu(mtu)) => self.link.set_mtu(mtu),
                    // The reader's end went away: its rig is finished.
                    Some(CentralEvent::Disconnected) | None => return,
                },
            }
        }
    }

    async fn write(&mut self, command: Command, done: Done) {
        let (seq, values) = match self.link.send(command) {
            Ok(sent) => sent,
            Err(error) => {
                eprintln!("readerlab: cannot send to reader #{}: {error}", self.index);
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
            if self.port.ops.send(CentralOp::Write(value, ack)).await.is_err() {
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
            Ok(Some(Inbound::Event { body, .. })) => {
                let index = self.index;
                let _ = self.rig.with_sim(|sim: &mut Sim| sim.notice_arrived(index, &body));
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
