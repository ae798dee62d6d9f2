//! End to end over a BlueZ D-Bus stack: an M2 and a WisePad 3 served by
//! `hw::bluez` on adapter 00:00:00:00:00:01, found and driven by
//! `hw::central` from adapter 00:00:00:00:00:02. It needs bluezoo (or a
//! real bluetoothd with two adapters) on the system bus and both features,
//! so only `ci/ble.sh` runs it; without the stack it fails, saying so.
#![cfg(all(feature = "bluez", feature = "btleplug"))]

use readerlab_emulator::ble::{
    CentralEvent, CentralOp, CentralPort, DeviceInfo, PeripheralEvent, PeripheralPort,
};
use readerlab_emulator::hw::bluez;
use readerlab_emulator::hw::central::{self, Filter, Found};
use readerlab_emulator::wire::ble::gatt;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::timeout;

const PERIPHERAL: &str = "00:00:00:00:00:01";
const CENTRAL: &str = "00:00:00:00:00:02";
const STEP: Duration = Duration::from_secs(10);

fn reader(model: &str, serial: &str, firmware: &str) -> (gatt::Advertisement, DeviceInfo) {
    let advertisement = gatt::Advertisement::of(model, serial).expect("a mobile model");
    let info = DeviceInfo {
        manufacturer: "readerlab".into(),
        model: model.into(),
        serial: serial.into(),
        firmware: firmware.into(),
    };
    (advertisement, info)
}

/// The adapters' names, or a failure that says what is missing.
async fn stack() -> (String, String) {
    let bus = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_default();
    let bus = &bus;
    let find = |address| async move {
        bluez::adapter_with_address(address).await.unwrap_or_else(|error| {
            panic!(
                "no BlueZ adapter {address} on the system bus ({error}; \
                 DBUS_SYSTEM_BUS_ADDRESS={bus:?}): run this test through `bash ci/ble.sh`, \
                 which starts bluezoo with adapters {PERIPHERAL} and {CENTRAL}"
            )
        })
    };
    (find(PERIPHERAL).await, find(CENTRAL).await)
}

async fn peripheral_event(port: &mut PeripheralPort) -> PeripheralEvent {
    timeout(STEP, port.events.recv())
        .await
        .expect("a peripheral event in time")
        .expect("the peripheral port is open")
}

async fn central_event(port: &mut CentralPort) -> CentralEvent {
    timeout(STEP, port.events.recv())
        .await
        .expect("a central event in time")
        .expect("the central port is open")
}

async fn write(port: &CentralPort, value: &[u8]) {
    let (ack, acked) = oneshot::channel();
    port.ops.send(CentralOp::Write(value.to_vec(), ack)).await.expect("ops open");
    timeout(STEP, acked).await.expect("ack in time").expect("acked").expect("write accepted");
}

/// Connects, checks the profile and echoes a few values through both ports.
async fn session(
    found: &Found,
    adapter: &str,
    reader: &mut PeripheralPort,
    expected: &DeviceInfo,
) -> CentralPort {
    let mut port = central::connect(found, Some(adapter), Duration::from_secs(20))
        .await
        .expect("connect to the reader");
    let mtu = match peripheral_event(reader).await {
        PeripheralEvent::Connected { mtu } => mtu,
        other => panic!("expected Connected, got {other:?}"),
    };
    assert!(mtu >= gatt::DEFAULT_ATT_MTU, "MTU {mtu}");
    assert_eq!(&central::read_device_info(&port).await.expect("DIS"), expected);
    reader.battery.send_replace(42);
    assert_eq!(central::read_battery(&port).await.expect("battery"), 42);
    for n in 0..5u8 {
        let value = vec![n; 1 + usize::from(n) * 40];
        write(&port, &value).await;
        assert_eq!(peripheral_event(reader).await, PeripheralEvent::Write(value.clone()));
        let mut echoed = value.clone();
        echoed.reverse();
        reader.notify.send(echoed.clone()).await.expect("notify open");
        assert_eq!(central_event(&mut port).await, CentralEvent::Notification(echoed));
    }
    port
}

/// Battery Level notifications follow the port's watch (a second btleplug
/// handle on the same connection, as the port carries only the reader
/// service's notifications).
async fn battery_notifies(adapter: &str, address: &str, reader: &mut PeripheralPort) {
    use btleplug::api::{Central as _, Manager as _, Peripheral as _};
    let manager = btleplug::platform::Manager::new().await.expect("btleplug");
    let mut central = None;
    for candidate in manager.adapters().await.expect("adapters") {
        let info = candidate.adapter_info().await.expect("adapter info");
        if info.split_whitespace().next() == Some(adapter) {
            central = Some(candidate);
        }
    }
    let central = central.expect("the central's adapter");
    let peripheral = central
        .peripherals()
        .await
        .expect("peripherals")
        .into_iter()
        .find(|p| p.address().to_string() == address)
        .expect("the connected reader");
    peripheral.discover_services().await.expect("services");
    let level = peripheral
        .characteristics()
        .into_iter()
        .find(|c| c.uuid.as_u128() == gatt::BATTERY_LEVEL_CHAR)
        .expect("Battery Level");
    let mut notifications = peripheral.notifications().await.expect("notifications");
    peripheral.subscribe(&level).await.expect("subscribe to Battery Level");
    // BlueZ also reports the value of the earlier read (42) as a change of
    // the characteristic's Value; only levels never read can prove notify.
    for percent in [17u8, 16] {
        reader.battery.send_replace(percent);
        let arrived = async {
            loop {
                let n = futures::StreamExt::next(&mut notifications).await;
                let n = n.expect("notifications open");
                if n.uuid == level.uuid && n.value == [percent] {
                    return;
                }
            }
        };
        timeout(STEP, arrived).await.expect("the new battery level notified");
    }
    peripheral.unsubscribe(&level).await.expect("unsubscribe");
}

async fn disconnect(mut port: CentralPort, reader: &mut PeripheralPort) {
    port.ops.send(CentralOp::Disconnect).await.expect("ops open");
    assert_eq!(central_event(&mut port).await, CentralEvent::Disconnected);
    assert_eq!(peripheral_event(reader).await, PeripheralEvent::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_m2_and_a_wisepad3_on_one_adapter_over_bluez() {
    let (peripheral_adapter, central_adapter) = stack().await;
    let m2 = reader("m2", "STRM2-0001", "2.1.0");
    let wisepad = reader("wisepad3", "WPC3-0001", "1.9.3");
    let infos = [m2.1.clone(), wisepad.1.clone()];
    let (served, ports) = bluez::advertise(Some(&peripheral_adapter), vec![m2, wisepad])
        .await
        .expect("serve both readers");
    assert_eq!(served.address(), PERIPHERAL);
    let [mut m2_port, mut wisepad_port]: [PeripheralPort; 2] =
        ports.try_into().expect("one port per reader");

    // By service: both identities, from the one address, within a few slots.
    let both = central::scan(
        &Filter::readers(),
        Some(&central_adapter),
        Duration::from_secs(30),
        |found| {
            ["STRM2-0001", "WPC3-0001"]
                .iter()
                .all(|serial| found.iter().any(|f| f.serial() == Some(serial)))
        },
    )
    .await
    .expect("scan by service");
    let of = |serial: &str| {
        both.iter().find(|f| f.serial() == Some(serial)).cloned().unwrap_or_else(|| {
            panic!("{serial} not discovered by service; saw {both:?}");
        })
    };
    let m2_found = of("STRM2-0001");
    assert_eq!(m2_found.address, PERIPHERAL);
    assert_eq!(m2_found.name.as_deref(), Some("STRM2-0001"));
    assert_eq!(m2_found.model_serial, Some(("m2".into(), "STRM2-0001".into())));
    assert_eq!(of("WPC3-0001").model_serial, Some(("wisepad3".into(), "WPC3-0001".into())));

    // By name.
    let wisepad_found =
        central::find(&Filter::named("WPC3-0001"), Some(&central_adapter), Duration::from_secs(30))
            .await
            .expect("find the WisePad 3 by name");
    assert_eq!(wisepad_found.address, PERIPHERAL);
    assert!(wisepad_found.services.contains(&gatt::READER_SERVICE));

    let port = session(&m2_found, &central_adapter, &mut m2_port, &infos[0]).await;
    disconnect(port, &mut m2_port).await;

    let port = session(&wisepad_found, &central_adapter, &mut wisepad_port, &infos[1]).await;
    battery_notifies(&central_adapter, PERIPHERAL, &mut wisepad_port).await;
    disconnect(port, &mut wisepad_port).await;

    // And back to the M2: a second connection works like the first.
    let port = session(&m2_found, &central_adapter, &mut m2_port, &infos[0]).await;
    disconnect(port, &mut m2_port).await;

    assert_eq!(served.error(), None);

    // Dropping the handle withdraws the advertisement and the application.
    let session = bluer::Session::new().await.expect("bluetoothd");
    let adapter = session.adapter(&peripheral_adapter).expect("the adapter");
    assert_eq!(adapter.active_advertising_instances().await.expect("instances"), 1);
    let services = adapter.uuids().await.expect("uuids").unwrap_or_default();
    assert!(services.contains(&bluer::Uuid::from_u128(gatt::READER_SERVICE)), "{services:?}");
    drop(served);
    let withdrawn = async {
        loop {
            let advertising = adapter.active_advertising_instances().await.expect("instances");
            let services = adapter.uuids().await.expect("uuids").unwrap_or_default();
            if advertising == 0 && services.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    timeout(STEP, withdrawn).await.expect("advertisement and GATT services withdrawn");
}
