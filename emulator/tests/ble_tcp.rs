//! The Bluetooth carriers end to end: over real loopback sockets
//! (`ble::tcp`) and over the in-memory pair (`ble::memory`), a
//! central connects with the MTUs negotiated, a command fragmented at MTU 23
//! is written through the `CentralPort` and reassembled by a
//! `PeripheralLink`, a reply and an event notified back are decoded by a
//! `CentralLink`, battery and Device Information reads are answered, a
//! second central is refused, and a disconnect is seen at both ends.

use readerlab_emulator::ble::{
    CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort,
};
use readerlab_emulator::ble::{memory as ble_memory, tcp as ble_tcp};
use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::{Currency, Money};
use readerlab_emulator::wire::ble::gatt;
use readerlab_emulator::wire::ble::link::{CentralLink, Inbound, PeripheralLink};
use readerlab_emulator::wire::ble::protocol::{Command, Reply};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn info() -> DeviceInfo {
    DeviceInfo {
        manufacturer: "readerlab".into(),
        model: "m2".into(),
        serial: "STRM2-0001".into(),
        firmware: "2.01.00.04".into(),
    }
}

/// Awaits `f`, failing the test instead of hanging.
async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f).await.expect("timed out")
}

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    within(rx.recv()).await.expect("channel open")
}

async fn write(central: &CentralPort, value: Vec<u8>) -> io::Result<()> {
    let (ack, acked) = oneshot::channel();
    central.ops.send(CentralOp::Write(value, ack)).await.expect("carrier running");
    within(acked).await.expect("acknowledged or failed")
}

async fn read(central: &CentralPort, uuid: u128) -> io::Result<Vec<u8>> {
    let (reply, answer) = oneshot::channel();
    central.ops.send(CentralOp::Read(uuid, reply)).await.expect("carrier running");
    within(answer).await.expect("answered or failed")
}

/// The whole conversation over a connected pair of ports at MTU 23.
async fn converse(peripheral: &mut PeripheralPort, central: &mut CentralPort) {
    assert_eq!(central.mtu, 23);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Connected { mtu: 23 });
    let mut plink = PeripheralLink::new(23);
    let mut clink = CentralLink::new(central.mtu);

    let amount = Money::new(1055, Currency::USD);
    let command = Command::Collect { payment: "pay_1".into(), amount };
    let (seq, values) = clink.send(command.clone()).expect("encodes");
    assert!(values.len() > 1, "a collect does not fit one value at MTU 23");
    for value in values {
        assert!(value.len() <= gatt::att_payload(23));
        write(central, value).await.expect("write acknowledged");
    }
    let mut received = None;
    while received.is_none() {
        match next(&mut peripheral.events).await {
            PeripheralEvent::Write(value) => received = plink.on_write(&value).expect("valid"),
            other => panic!("expected a write, got {other:?}"),
        }
    }
    assert_eq!(received, Some((seq, command.clone())));

    let event = EventBody::CollectStarted { payment: "pay_1".into(), amount };
    let mut values = plink.respond(seq, &Reply::Accepted).expect("encodes");
    values.extend(plink.notify(&event).expect("encodes"));
    for value in values {
        peripheral.notify.send(value).await.expect("carrier running");
    }
    let mut inbound = Vec::new();
    while inbound.len() < 2 {
        match next(&mut central.events).await {
            CentralEvent::Notification(value) => {
                inbound.extend(clink.on_notification(&value).expect("valid"));
            }
            other => panic!("expected a notification, got {other:?}"),
        }
    }
    assert_eq!(inbound[0], Inbound::Response { seq, command, reply: Reply::Accepted });
    assert_eq!(inbound[1], Inbound::Event { seq: 0, body: event, missed: 0 });
    assert_eq!(clink.pending().count(), 0);

    assert_eq!(read(central, gatt::BATTERY_LEVEL_CHAR).await.expect("battery"), vec![100]);
    peripheral.battery.send_replace(42);
    assert_eq!(read(central, gatt::BATTERY_LEVEL_CHAR).await.expect("battery"), vec![42]);
    for (uuid, text) in [
        (gatt::MANUFACTURER_NAME_CHAR, "readerlab"),
        (gatt::MODEL_NUMBER_CHAR, "m2"),
        (gatt::SERIAL_NUMBER_CHAR, "STRM2-0001"),
        (gatt::FIRMWARE_REVISION_CHAR, "2.01.00.04"),
    ] {
        assert_eq!(read(central, uuid).await.expect("DIS string"), text.as_bytes());
    }
    let missing = read(central, gatt::READER_SERVICE).await.expect_err("not readable");
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);

    central.ops.send(CentralOp::Disconnect).await.expect("carrier running");
    assert_eq!(next(&mut central.events).await, CentralEvent::Disconnected);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Disconnected);
}

#[tokio::test]
async fn a_conversation_over_loopback_tcp() {
    let (addr, mut peripheral) = ble_tcp::listen("127.0.0.1:0", info(), 185).await.expect("binds");
    let mut central = ble_tcp::connect(addr, 23).await.expect("connects");
    converse(&mut peripheral, &mut central).await;
}

#[tokio::test]
async fn a_conversation_over_the_memory_pair() {
    let (mut peripheral, centrals) = ble_memory::pair(info(), 185).expect("in a runtime");
    let mut central = centrals.connect(23).await.expect("connects");
    converse(&mut peripheral, &mut central).await;
}

#[tokio::test]
async fn tcp_mtu_is_the_smaller_offer_and_never_below_23() {
    let (addr, mut peripheral) = ble_tcp::listen("127.0.0.1:0", info(), 185).await.expect("binds");
    let central = ble_tcp::connect(addr, 247).await.expect("connects");
    assert_eq!(central.mtu, 185);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Connected { mtu: 185 });
    drop(central);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Disconnected);
    let central = ble_tcp::connect(addr, 5).await.expect("connects");
    assert_eq!(central.mtu, 23);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Connected { mtu: 23 });
}

#[tokio::test]
async fn memory_mtu_is_the_smaller_offer() {
    let (mut peripheral, centrals) = ble_memory::pair(info(), 185).expect("in a runtime");
    let central = centrals.connect(247).await.expect("connects");
    assert_eq!(central.mtu, 185);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Connected { mtu: 185 });
}

#[tokio::test]
async fn tcp_refuses_a_second_central_and_takes_one_after_a_disconnect() {
    let (addr, mut peripheral) = ble_tcp::listen("127.0.0.1:0", info(), 185).await.expect("binds");
    let mut first = ble_tcp::connect(addr, 185).await.expect("connects");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
    let second = within(ble_tcp::connect(addr, 185)).await.expect_err("refused");
    assert_eq!(second.kind(), io::ErrorKind::ConnectionRefused);
    // The first central is unaffected.
    write(&first, vec![1, 2, 3]).await.expect("still connected");
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Write(vec![1, 2, 3]));
    first.ops.send(CentralOp::Disconnect).await.expect("carrier running");
    assert_eq!(next(&mut first.events).await, CentralEvent::Disconnected);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Disconnected);
    let _third = ble_tcp::connect(addr, 185).await.expect("free again");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
}

#[tokio::test]
async fn memory_refuses_a_second_central_and_takes_one_after_a_disconnect() {
    let (mut peripheral, centrals) = ble_memory::pair(info(), 185).expect("in a runtime");
    let first = centrals.connect(185).await.expect("connects");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
    let second = centrals.connect(185).await.expect_err("refused");
    assert_eq!(second.kind(), io::ErrorKind::ConnectionRefused);
    drop(first);
    assert_eq!(next(&mut peripheral.events).await, PeripheralEvent::Disconnected);
    let _third = centrals.connect(185).await.expect("free again");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
}

#[tokio::test]
async fn notifications_without_a_central_are_dropped() {
    let (addr, mut peripheral) = ble_tcp::listen("127.0.0.1:0", info(), 185).await.expect("binds");
    peripheral.notify.send(vec![9]).await.expect("carrier running");
    let mut central = ble_tcp::connect(addr, 185).await.expect("connects");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
    peripheral.notify.send(vec![7]).await.expect("carrier running");
    assert_eq!(next(&mut central.events).await, CentralEvent::Notification(vec![7]));
}

#[tokio::test]
async fn dropping_the_reader_disconnects_its_central() {
    let (addr, mut peripheral) = ble_tcp::listen("127.0.0.1:0", info(), 185).await.expect("binds");
    let mut central = ble_tcp::connect(addr, 185).await.expect("connects");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
    drop(peripheral);
    assert_eq!(next(&mut central.events).await, CentralEvent::Disconnected);

    let (mut peripheral, centrals) = ble_memory::pair(info(), 185).expect("in a runtime");
    let mut central = centrals.connect(185).await.expect("connects");
    assert!(matches!(next(&mut peripheral.events).await, PeripheralEvent::Connected { .. }));
    drop(peripheral);
    assert_eq!(next(&mut central.events).await, CentralEvent::Disconnected);
}

#[test]
fn the_memory_pair_needs_a_runtime() {
    assert!(ble_memory::pair(info(), 23).is_err());
}
