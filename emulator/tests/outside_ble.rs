//! A served rig's Bluetooth reader driven by an SDK outside the process
//! (`RigSpec::outside_pos`): the test is the SDK. It finds the
//! reader's BLE-over-TCP address in the control API, connects as its
//! central, speaks the reader protocol (docs/ble-gatt.md) over a real
//! loopback socket, and pays through the served Stripe API with the sealed
//! card data the reader hands over; a lost signal drops its connection and
//! refuses a new one until the signal is back.

use readerlab_emulator::ble::CentralEvent;
use readerlab_emulator::ble::CentralOp;
use readerlab_emulator::ble::CentralPort;
use readerlab_emulator::core::{EntryMode, EventBody, ReaderModel};
use readerlab_emulator::serve::client::ControlClient;
use readerlab_emulator::serve::rig::ClockMode;
use readerlab_emulator::serve::server::{ServeConfig, Server};
use readerlab_emulator::sim::{BluetoothFault, Fault, PowerFault, RigSpec};
use readerlab_emulator::wire::ble::link::{CentralLink, Inbound};
use readerlab_emulator::wire::ble::protocol::{Command, Reply};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "sk_test_readerlab";
const WAIT: Duration = Duration::from_secs(10);

async fn serve() -> (Server, ControlClient) {
    let mut rig = RigSpec::single(ReaderModel::M2, 1);
    rig.outside_pos = true;
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: ClockMode::Virtual,
        token: None,
        rig,
        secret_key: KEY.to_owned(),
        ble: None,
        ui: None,
    };
    let server = Server::start(config).await.unwrap();
    let client = ControlClient::new(server.addr(), None);
    (server, client)
}

/// The SDK's end of the reader's link.
struct Sdk {
    port: CentralPort,
    link: CentralLink,
    events: Vec<EventBody>,
}

impl Sdk {
    async fn connect(addr: SocketAddr) -> std::io::Result<Sdk> {
        let port = readerlab_emulator::ble::tcp::connect(addr, 185).await?;
        let link = CentralLink::new(port.mtu);
        Ok(Sdk { port, link, events: Vec::new() })
    }

    /// Sends `command` and waits for its reply (events on the way are kept).
    async fn ask(&mut self, command: Command) -> Reply {
        let (seq, values) = self.link.send(command).expect("sends");
        for value in values {
            let (ack, acked) = tokio::sync::oneshot::channel();
            self.port.ops.send(CentralOp::Write(value, ack)).await.expect("connected");
            acked.await.expect("acknowledged").expect("written");
        }
        loop {
            match self.next().await {
                Some(Inbound::Response { seq: s, reply, .. }) if s == seq => return reply,
                Some(_) => {}
                None => panic!("the reader went away before answering"),
            }
        }
    }

    /// The next response or event; `None` once the connection is gone.
    async fn next(&mut self) -> Option<Inbound> {
        loop {
            let event = tokio::time::timeout(WAIT, self.port.events.recv()).await;
            match event.expect("the reader answers within 10 s") {
                Some(CentralEvent::Notification(value)) => {
                    if let Some(inbound) = self.link.on_notification(&value).expect("decodes") {
                        if let Inbound::Event { body, .. } = &inbound {
                            self.events.push(body.clone());
                        }
                        return Some(inbound);
                    }
                }
                Some(CentralEvent::Mtu(_)) => {}
                Some(CentralEvent::Disconnected) | None => return None,
            }
        }
    }

    /// Waits for an event `matches` accepts.
    async fn until(&mut self, matches: impl Fn(&EventBody) -> bool) -> EventBody {
        if let Some(seen) = self.events.iter().find(|e| matches(e)) {
            return seen.clone();
        }
        loop {
            match self.next().await {
                Some(Inbound::Event { body, .. }) if matches(&body) => return body,
                Some(_) => {}
                None => panic!("the reader went away; events so far: {:?}", self.events),
            }
        }
    }
}

/// A form POST to the served Stripe API as the outside POS; (status, JSON).
async fn stripe(addr: SocketAddr, path: &str, form: &str) -> (u16, Value) {
    post(addr, path, "application/x-www-form-urlencoded", form).await
}

async fn post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}_pos\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8(answer).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn ble_address(client: &ControlClient) -> SocketAddr {
    let readers = client.readers().await.unwrap();
    let address = readers["readers"][0]["ble_tcp"].as_str().expect("an offered reader");
    address.parse().unwrap()
}

async fn advance(client: &ControlClient, by: Duration) {
    let now = client.now().await.unwrap();
    client.advance(now + by, false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_sdk_connects_collects_and_confirms_with_the_sealed_card_data() {
    let (server, client) = serve().await;
    let mut sdk = Sdk::connect(ble_address(&client).await).await.unwrap();
    let connect =
        Command::Connect { pos: "sdk".into(), auto_reconnect: None, fail_if_in_use: false };
    assert_eq!(sdk.ask(connect).await, Reply::Accepted);
    advance(&client, Duration::from_secs(5)).await;
    sdk.until(|e| matches!(e, EventBody::Connected { .. })).await;

    let form = "amount=1250&currency=usd&payment_method_types[]=card_present\
                &metadata[readerlab_payment]=coffee";
    let (status, intent) = stripe(server.addr(), "/v1/payment_intents", form).await;
    assert_eq!(status, 200, "{intent}");
    let intent = intent["id"].as_str().unwrap().to_owned();
    // Before a card is read there is nothing to hand over.
    let early = sdk.ask(Command::CardData { payment: "coffee".into() }).await;
    assert!(matches!(early, Reply::Refused { .. }), "{early:?}");
    let amount =
        readerlab_emulator::core::Money::new(1250, readerlab_emulator::core::Currency::USD);
    let collect = Command::Collect { payment: "coffee".into(), amount };
    assert_eq!(sdk.ask(collect).await, Reply::Accepted);
    client.present_card("STRM2-0001", "4242424242424242", EntryMode::Chip).await.unwrap();
    advance(&client, Duration::from_secs(1)).await;
    sdk.until(|e| matches!(e, EventBody::Collected { .. })).await;

    let Reply::CardData { emv_data, simulated_type } =
        sdk.ask(Command::CardData { payment: "coffee".into() }).await
    else {
        panic!("no card data");
    };
    assert!(!emv_data.contains("4242424242424242"), "{emv_data}");
    assert_eq!(simulated_type, "visa");
    let form = format!(
        "payment_method_data[type]=card_present&payment_method_data[card_present][emv_data]={emv_data}"
    );
    let (status, confirmed) =
        stripe(server.addr(), &format!("/v1/payment_intents/{intent}/confirm"), &form).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    assert!(confirmed["latest_charge"].is_string(), "{confirmed}");
    assert_eq!(sdk.ask(Command::Complete { payment: "coffee".into() }).await, Reply::Accepted);

    // Kept with a payment stored offline, the same value is forwarded later.
    let stored = json!({
        "offline_id": "off_sdk_1", "intent_id": null,
        "amount": {"amount": 700, "currency": "usd"}, "stored_at": 9000,
        "card": {"number": emv_data, "brand": "visa", "funding": "credit",
                 "entry_mode": "contactless", "pin": "not_entered"},
        "capture": "automatic", "account": "acct_readerlab0000001", "livemode": false,
        "location": "tml_readerlab", "reader": "STRM2-0001"
    });
    let (status, forwarded) = post(
        server.addr(),
        "/v1/readerlab/offline_payments",
        "application/json",
        &stored.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{forwarded}");
    assert_eq!(forwarded["status"], "succeeded", "{forwarded}");

    // A value that is not this rig's is no card at all.
    let (status, intent2) = stripe(
        server.addr(),
        "/v1/payment_intents",
        "amount=500&currency=usd&payment_method_types[]=card_present",
    )
    .await;
    assert_eq!(status, 200, "{intent2}");
    let forged = "payment_method_data[type]=card_present&payment_method_data[card_present][emv_data]=emv_STRM2-0001_99_4242";
    let path = format!("/v1/payment_intents/{}/confirm", intent2["id"].as_str().unwrap());
    let (status, refused) = stripe(server.addr(), &path, forged).await;
    assert_eq!(status, 402, "{refused}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_signal_drops_the_outside_sdk_and_refuses_it_until_the_signal_is_back() {
    let (server, client) = serve().await;
    let addr = ble_address(&client).await;
    let mut sdk = Sdk::connect(addr).await.unwrap();
    let connect =
        || Command::Connect { pos: "sdk".into(), auto_reconnect: None, fail_if_in_use: false };
    assert_eq!(sdk.ask(connect()).await, Reply::Accepted);
    advance(&client, Duration::from_secs(5)).await;
    sdk.until(|e| matches!(e, EventBody::Connected { .. })).await;

    let lost = Fault::Bluetooth(BluetoothFault::SignalLost { reader: 0 });
    client.inject(&lost).await.unwrap();
    while sdk.next().await.is_some() {}
    // Out of range: a new connection is closed at once.
    assert!(Sdk::connect(addr).await.is_err(), "connected while the signal is lost");

    client.clear(&lost).await.unwrap();
    advance(&client, Duration::from_secs(1)).await;
    let mut again = Sdk::connect(addr).await.expect("back in range");
    let reply = again.ask(connect()).await;
    assert!(matches!(reply, Reply::Accepted | Reply::Refused { .. }), "{reply:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_powers_off_drops_the_outside_sdk_and_answers_no_central() {
    let (server, client) = serve().await;
    let addr = ble_address(&client).await;
    let mut sdk = Sdk::connect(addr).await.expect("a powered reader answers");
    // Its battery runs out: the reader switches itself off.
    let empty = Fault::Power(PowerFault::Battery { reader: 0, percent: 0, charging: false });
    client.inject(&empty).await.unwrap();
    advance(&client, Duration::from_secs(1)).await;
    let readers = client.readers().await.unwrap();
    assert_eq!(readers["readers"][0]["powered"], false, "{readers}");
    while sdk.next().await.is_some() {}
    // Off, it answers nobody (as a lab bench's power_off must show).
    assert!(Sdk::connect(addr).await.is_err(), "connected to a reader that is off");
    server.shutdown().await.unwrap();
}
