//! The Bluetooth carrier in memory: [`pair`] gives one reader's
//! [`PeripheralPort`] and a [`MemoryCentral`] that connects POS ends to it
//! over tokio channels, with the semantics of `ble_tcp` and no sockets.
//!
//! As over TCP: one central at a time (a second [`MemoryCentral::connect`]
//! while one is connected fails with `ConnectionRefused`); the MTU is the
//! smaller of both offers within 23..=517; a write is acknowledged once
//! queued on the port's event channel; reads of Battery Level and the
//! Device Information strings come from the port's `battery` watch (100 %
//! until set) and the [`DeviceInfo`]; values notified while no central is
//! connected are dropped; a central dropping its port or sending
//! `Disconnect` is `Disconnected` at both ends. The carrier's task ends when
//! the peripheral port is dropped, telling a connected central
//! `Disconnected`.

use super::{CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort};
use crate::wire::ble::gatt;
use std::io;
use tokio::sync::{mpsc, oneshot, watch};

/// Capacity of the ports' channels.
const QUEUE: usize = 64;
/// The battery level before the rig reports one.
const INITIAL_BATTERY: u8 = 100;

/// A central's request to connect: its MTU and where to send the port.
type ConnectRequest = (u16, oneshot::Sender<io::Result<CentralPort>>);

/// Connects POS ends to the reader of a [`pair`]; clone it freely.
#[derive(Clone, Debug)]
pub struct MemoryCentral {
    requests: mpsc::Sender<ConnectRequest>,
}

impl MemoryCentral {
    /// Connects as the reader's central, offering `mtu`.
    pub async fn connect(&self, mtu: u16) -> io::Result<CentralPort> {
        let gone = || io::Error::new(io::ErrorKind::ConnectionRefused, "the reader is gone");
        let (reply, answer) = oneshot::channel();
        self.requests.send((mtu, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// One emulated reader in memory, offering `mtu`. Needs a tokio runtime to
/// run its task in (an error outside one).
pub fn pair(info: DeviceInfo, mtu: u16) -> io::Result<(PeripheralPort, MemoryCentral)> {
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let (events_tx, events) = mpsc::channel(QUEUE);
    let (notify, notify_rx) = mpsc::channel(QUEUE);
    let (battery, battery_rx) = watch::channel(INITIAL_BATTERY);
    let (requests, requests_rx) = mpsc::channel(4);
    let carrier = Carrier {
        info,
        mtu: gatt::negotiate_mtu(mtu, gatt::MAX_ATT_MTU),
        events: events_tx,
        notify: notify_rx,
        battery: battery_rx,
        requests: requests_rx,
        accepting: true,
        central: None,
    };
    runtime.spawn(carrier.run());
    Ok((PeripheralPort { events, notify, battery }, MemoryCentral { requests }))
}

/// The connected central's channels, as the carrier holds them.
#[derive(Debug)]
struct Connection {
    ops: mpsc::Receiver<CentralOp>,
    events: mpsc::Sender<CentralEvent>,
}

#[derive(Debug)]
struct Carrier {
    info: DeviceInfo,
    mtu: u16,
    events: mpsc::Sender<PeripheralEvent>,
    notify: mpsc::Receiver<Vec<u8>>,
    battery: watch::Receiver<u8>,
    requests: mpsc::Receiver<ConnectRequest>,
    /// False once every [`MemoryCentral`] is dropped.
    accepting: bool,
    central: Option<Connection>,
}

/// The next operation of the connected central, or never.
async fn next_op(central: &mut Option<Connection>) -> Option<CentralOp> {
    match central {
        Some(c) => c.ops.recv().await,
        None => std::future::pending().await,
    }
}

impl Carrier {
    async fn run(mut self) {
        loop {
            let go_on = tokio::select! {
                request = self.requests.recv(), if self.accepting => match request {
                    Some((theirs, reply)) => self.connect(theirs, reply).await,
                    None => {
                        self.accepting = false;
                        true
                    }
                },
                op = next_op(&mut self.central) => self.op(op).await,
                value = self.notify.recv() => match value {
                    Some(value) => {
                        if let Some(c) = &self.central {
                            // A central that stopped listening misses it.
                            let _ = c.events.send(CentralEvent::Notification(value)).await;
                        }
                        true
                    }
                    None => false,
                },
                () = self.events.closed() => false,
            };
            if !go_on {
                break;
            }
        }
        if let Some(c) = self.central.take() {
            let _ = c.events.send(CentralEvent::Disconnected).await;
        }
    }

    /// A central asks to connect; false when the reader's port is gone.
    async fn connect(
        &mut self,
        theirs: u16,
        reply: oneshot::Sender<io::Result<CentralPort>>,
    ) -> bool {
        if self.central.is_some() {
            let _ = reply.send(Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the reader has a central already",
            )));
            return true;
        }
        let mtu = gatt::negotiate_mtu(self.mtu, theirs);
        let (ops, ops_rx) = mpsc::channel(QUEUE);
        let (events_tx, events) = mpsc::channel(QUEUE);
        if reply.send(Ok(CentralPort { mtu, ops, events })).is_err() {
            // The central gave up waiting.
            return true;
        }
        self.central = Some(Connection { ops: ops_rx, events: events_tx });
        self.events.send(PeripheralEvent::Connected { mtu }).await.is_ok()
    }

    /// One operation of the connected central; false when the reader's
    /// port is gone.
    async fn op(&mut self, op: Option<CentralOp>) -> bool {
        match op {
            Some(CentralOp::Write(value, ack)) => {
                if self.events.send(PeripheralEvent::Write(value)).await.is_err() {
                    let _ = ack.send(Err(io::ErrorKind::NotConnected.into()));
                    return false;
                }
                let _ = ack.send(Ok(()));
                true
            }
            Some(CentralOp::Read(uuid, reply)) => {
                let battery = *self.battery.borrow();
                let value = self.info.read(uuid, battery).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "the reader serves no such characteristic",
                    )
                });
                let _ = reply.send(value);
                true
            }
            Some(CentralOp::Disconnect) | None => {
                if let Some(c) = self.central.take() {
                    let _ = c.events.send(CentralEvent::Disconnected).await;
                }
                self.events.send(PeripheralEvent::Disconnected).await.is_ok()
            }
        }
    }
}
