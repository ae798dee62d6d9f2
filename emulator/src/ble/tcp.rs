//! BLE-over-TCP, the tokio shell around `wire::ble::tcp`: one listening
//! socket is one emulated reader (a [`PeripheralPort`]), and [`connect`]
//! gives the POS a [`CentralPort`] to it, so tools and tests without a
//! Bluetooth stack move the same values a BlueZ carrier would.
//!
//! The peripheral serves one central at a time, like a mobile reader
//! connected to its POS: a TCP connection accepted while another central is
//! connected is closed at once (the second [`connect`] fails with
//! `ConnectionRefused`). The central speaks first with its MTU; the
//! peripheral answers with its own, both use the smaller (within 23..=517),
//! and only then the peripheral reports `Connected`. A central that does
//! not send its MTU within [`HANDSHAKE_TIMEOUT`] is closed. Writes are
//! acknowledged once queued on the port's event channel; reads of Battery
//! Level and the Device Information strings are answered from the port's
//! `battery` watch (100 % until the rig sets it) and the [`DeviceInfo`]
//! (strings longer than one PDU are cut to [`MAX_PAYLOAD`]); values
//! notified while no central is connected are dropped. The listener's task
//! ends when the port is dropped.

use super::{CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort};
use crate::wire::ble::gatt;
use crate::wire::ble::tcp::{MAX_PAYLOAD, Pdu, PduDecoder};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a new central has to send its MTU.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Capacity of the ports' channels.
const QUEUE: usize = 64;
/// The battery level before the rig reports one.
const INITIAL_BATTERY: u8 = 100;
const READ_CHUNK: usize = 4096;

/// Listens on `addr` as the reader described by `info`, offering `mtu`.
/// Returns the address bound (for port 0) and the reader's port.
pub async fn listen(
    addr: impl ToSocketAddrs,
    info: DeviceInfo,
    mtu: u16,
) -> io::Result<(SocketAddr, PeripheralPort)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Nobody switches this radio off: with its sender gone it stays on.
    let (_, radio) = watch::channel(true);
    Ok((local, spawn_peripheral(listener, info, mtu, radio)))
}

/// Like [`listen`], bound at once on loopback (port 0) from synchronous
/// code inside a tokio runtime, with the reader's radio under the caller's
/// control: while the returned sender holds `false` the connected central
/// is dropped (as a lost signal drops it: no disconnect PDU) and new ones
/// are closed as soon as they connect.
pub fn listen_with_radio(
    info: DeviceInfo,
    mtu: u16,
) -> io::Result<(SocketAddr, PeripheralPort, watch::Sender<bool>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let listener = TcpListener::from_std(listener)?;
    let (radio, radio_rx) = watch::channel(true);
    Ok((local, spawn_peripheral(listener, info, mtu, radio_rx), radio))
}

fn spawn_peripheral(
    listener: TcpListener,
    info: DeviceInfo,
    mtu: u16,
    radio: watch::Receiver<bool>,
) -> PeripheralPort {
    let (events_tx, events) = mpsc::channel(QUEUE);
    let (notify, notify_rx) = mpsc::channel(QUEUE);
    let (battery, battery_rx) = watch::channel(INITIAL_BATTERY);
    let peripheral = Peripheral {
        listener,
        info,
        mtu: gatt::negotiate_mtu(mtu, gatt::MAX_ATT_MTU),
        events: events_tx,
        notify: notify_rx,
        battery: battery_rx,
        radio,
    };
    tokio::spawn(peripheral.run());
    PeripheralPort { events, notify, battery }
}

/// Writes one PDU; a PDU too large to encode is `InvalidInput`.
async fn send(writer: &mut OwnedWriteHalf, pdu: &Pdu) -> io::Result<()> {
    let bytes = pdu.encode().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    writer.write_all(&bytes).await
}

/// Whether the listener goes on after a connection ends.
enum Flow {
    Continue,
    Stop,
}

/// What handling a batch of PDUs leads to.
enum Step {
    Go,
    Close,
    /// The radio went off: the connection is dropped without a word.
    Lost,
    Stop,
}

#[derive(Debug)]
struct Peripheral {
    listener: TcpListener,
    info: DeviceInfo,
    mtu: u16,
    events: mpsc::Sender<PeripheralEvent>,
    notify: mpsc::Receiver<Vec<u8>>,
    battery: watch::Receiver<u8>,
    /// Whether the reader's radio is on: off, no central stays connected.
    radio: watch::Receiver<bool>,
}

impl Peripheral {
    async fn run(mut self) {
        loop {
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of descriptors or a connection reset in the
                        // backlog: try again shortly.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                value = self.notify.recv() => match value {
                    // No central: the notification goes nowhere.
                    Some(_) => continue,
                    None => return,
                },
                () = self.events.closed() => return,
            };
            if !*self.radio.borrow() {
                // Out of range: the connection attempt fails.
                drop(stream);
                continue;
            }
            if let Flow::Stop = self.serve(stream).await {
                return;
            }
        }
    }

    async fn serve(&mut self, stream: TcpStream) -> Flow {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut decoder = PduDecoder::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let first =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, next_pdu(&mut reader, &mut decoder, &mut buf))
                .await;
        let Ok(Ok(Pdu::MtuExchange(theirs))) = first else {
            return Flow::Continue;
        };
        if send(&mut writer, &Pdu::MtuExchange(self.mtu)).await.is_err() {
            return Flow::Continue;
        }
        let mtu = gatt::negotiate_mtu(self.mtu, theirs);
        // Values notified before the central subscribed are gone.
        while self.notify.try_recv().is_ok() {}
        if self.events.send(PeripheralEvent::Connected { mtu }).await.is_err() {
            return Flow::Stop;
        }
        let flow = loop {
            let step = tokio::select! {
                read = reader.read(&mut buf) => match read {
                    Ok(0) | Err(_) => Step::Close,
                    Ok(n) => {
                        decoder.push(&buf[..n]);
                        self.handle(&mut decoder, &mut writer).await
                    }
                },
                value = self.notify.recv() => match value {
                    Some(value) => match send(&mut writer, &Pdu::Notification(value)).await {
                        Ok(()) => Step::Go,
                        // Too large for one PDU: dropped, as an over-long
                        // notification would be.
                        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Step::Go,
                        Err(_) => Step::Close,
                    },
                    None => Step::Stop,
                },
                accepted = self.listener.accept() => {
                    // A second central is refused: closed at once.
                    drop(accepted);
                    Step::Go
                }
                // The signal is lost: the central is gone, unwarned.
                on = radio_change(&mut self.radio) => if on { Step::Go } else { Step::Lost },
                () = self.events.closed() => Step::Stop,
            };
            match step {
                Step::Go => {}
                Step::Close => break Flow::Continue,
                Step::Lost => {
                    drop((reader, writer));
                    if self.events.send(PeripheralEvent::Lost).await.is_err() {
                        return Flow::Stop;
                    }
                    return Flow::Continue;
                }
                Step::Stop => break Flow::Stop,
            }
        };
        if let Flow::Stop = flow {
            let _ = send(&mut writer, &Pdu::Disconnect).await;
        }
        let _ = writer.shutdown().await;
        if self.events.send(PeripheralEvent::Disconnected).await.is_err() {
            return Flow::Stop;
        }
        flow
    }

    /// Acts on every whole PDU the decoder holds.
    async fn handle(&mut self, decoder: &mut PduDecoder, writer: &mut OwnedWriteHalf) -> Step {
        loop {
            let pdu = match decoder.next_pdu() {
                Ok(Some(pdu)) => pdu,
                Ok(None) => return Step::Go,
                Err(_) => return Step::Close,
            };
            let answer = match pdu {
                Pdu::Write(value) => {
                    if self.events.send(PeripheralEvent::Write(value)).await.is_err() {
                        return Step::Stop;
                    }
                    Pdu::WriteAck
                }
                Pdu::ReadRequest(uuid) => {
                    let battery = *self.battery.borrow();
                    match self.info.read(uuid, battery) {
                        Some(mut value) => {
                            value.truncate(MAX_PAYLOAD);
                            Pdu::ReadResponse(value)
                        }
                        None => Pdu::ReadNotFound,
                    }
                }
                Pdu::MtuExchange(theirs) => {
                    let mtu = gatt::negotiate_mtu(self.mtu, theirs);
                    if send(writer, &Pdu::MtuExchange(self.mtu)).await.is_err() {
                        return Step::Close;
                    }
                    if self.events.send(PeripheralEvent::Mtu(mtu)).await.is_err() {
                        return Step::Stop;
                    }
                    continue;
                }
                Pdu::Disconnect => return Step::Close,
                // Not a central's PDU: the stream is confused.
                Pdu::WriteAck | Pdu::Notification(_) | Pdu::ReadResponse(_) | Pdu::ReadNotFound => {
                    return Step::Close;
                }
            };
            if send(writer, &answer).await.is_err() {
                return Step::Close;
            }
        }
    }
}

/// The radio's next state, once it changes; never, once nobody holds the
/// radio any more (it then stays as it is).
async fn radio_change(radio: &mut watch::Receiver<bool>) -> bool {
    match radio.changed().await {
        Ok(()) => *radio.borrow(),
        Err(_) => std::future::pending().await,
    }
}

/// Reads until the decoder yields a PDU.
async fn next_pdu(
    reader: &mut OwnedReadHalf,
    decoder: &mut PduDecoder,
    buf: &mut [u8],
) -> io::Result<Pdu> {
    loop {
        match decoder.next_pdu() {
            Ok(Some(pdu)) => return Ok(pdu),
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        let n = reader.read(buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        decoder.push(&buf[..n]);
    }
}

/// Connects to the reader at `addr` as its central, offering `mtu`.
/// Fails with `ConnectionRefused` when the reader already has a central.
pub async fn connect(addr: impl ToSocketAddrs, mtu: u16) -> io::Result<CentralPort> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let ours = gatt::negotiate_mtu(mtu, gatt::MAX_ATT_MTU);
    let refused = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "the reader closed the connection: it has a central already",
        ),
        _ => e,
    };
    send(&mut writer, &Pdu::MtuExchange(ours)).await.map_err(refused)?;
    let mut decoder = PduDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let theirs = match next_pdu(&mut reader, &mut decoder, &mut buf).await.map_err(refused)? {
        Pdu::MtuExchange(theirs) => theirs,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected the reader's MTU, got {other:?}"),
            ));
        }
    };
    let (ops, ops_rx) = mpsc::channel(QUEUE);
    let (events_tx, events) = mpsc::channel(QUEUE);
    let central = Central {
        reader,
        writer,
        decoder,
        buf,
        ours,
        ops: ops_rx,
        events: events_tx,
        writes: VecDeque::new(),
        reads: VecDeque::new(),
    };
    tokio::spawn(central.run());
    Ok(CentralPort { mtu: gatt::negotiate_mtu(ours, theirs), ops, events })
}

#[derive(Debug)]
struct Central {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: PduDecoder,
    buf: Vec<u8>,
    ours: u16,
    ops: mpsc::Receiver<CentralOp>,
    events: mpsc::Sender<CentralEvent>,
    /// Writes awaiting their acknowledgement, in order.
    writes: VecDeque<oneshot::Sender<io::Result<()>>>,
    /// Reads awaiting their value, in order.
    reads: VecDeque<oneshot::Sender<io::Result<Vec<u8>>>>,
}

impl Central {
    async fn run(mut self) {
        // The reader may have notified right after its MTU.
        let mut open = self.handle().await;
        while open {
            open = tokio::select! {
                op = self.ops.recv() => self.op(op).await,
                read = self.reader.read(&mut self.buf) => match read {
                    Ok(0) | Err(_) => false,
                    Ok(n) => {
                        self.decoder.push(&self.buf[..n]);
                        self.handle().await
                    }
                },
            };
        }
        let _ = self.writer.shutdown().await;
        let gone = || io::Error::new(io::ErrorKind::NotConnected, "disconnected before the answer");
        for ack in self.writes.drain(..) {
            let _ = ack.send(Err(gone()));
        }
        for reply in self.reads.drain(..) {
            let _ = reply.send(Err(gone()));
        }
        let _ = self.events.send(CentralEvent::Disconnected).await;
    }

    /// Carries out one operation; false when the connection is over.
    async fn op(&mut self, op: Option<CentralOp>) -> bool {
        match op {
            Some(CentralOp::Write(value, ack)) => {
                match send(&mut self.writer, &Pdu::Write(value)).await {
                    Ok(()) => self.writes.push_back(ack),
                    Err(e) => {
                        let over = e.kind() != io::ErrorKind::InvalidInput;
                        let _ = ack.send(Err(e));
                        return !over;
                    }
                }
            }
            Some(CentralOp::Read(uuid, reply)) => {
                match send(&mut self.writer, &Pdu::ReadRequest(uuid)).await {
                    Ok(()) => self.reads.push_back(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return false;
                    }
                }
            }
            Some(CentralOp::Disconnect) | None => {
                let _ = send(&mut self.writer, &Pdu::Disconnect).await;
                return false;
            }
        }
        true
    }

    /// Acts on every whole PDU received; false when the connection is over.
    async fn handle(&mut self) -> bool {
        loop {
            let pdu = match self.decoder.next_pdu() {
                Ok(Some(pdu)) => pdu,
                Ok(None) => return true,
                Err(_) => return false,
            };
            match pdu {
                Pdu::Notification(value) => {
                    let _ = self.events.send(CentralEvent::Notification(value)).await;
                }
                Pdu::WriteAck => {
                    if let Some(ack) = self.writes.pop_front() {
                        let _ = ack.send(Ok(()));
                    }
                }
                Pdu::ReadResponse(value) => {
                    if let Some(reply) = self.reads.pop_front() {
                        let _ = reply.send(Ok(value));
                    }
                }
                Pdu::ReadNotFound => {
                    if let Some(reply) = self.reads.pop_front() {
                        let _ = reply.send(Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            "the reader serves no such characteristic",
                        )));
                    }
                }
                Pdu::MtuExchange(theirs) => {
                    let mtu = gatt::negotiate_mtu(self.ours, theirs);
                    let _ = self.events.send(CentralEvent::Mtu(mtu)).await;
                }
                Pdu::Disconnect | Pdu::Write(_) | Pdu::ReadRequest(_) => return false,
            }
        }
    }
}
