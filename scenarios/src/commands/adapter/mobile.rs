//! `readerlab adapter`'s mobile SDK: readerlab's reference SDK for the
//! Bluetooth readers (M2, WisePad 3, Chipper 2X BT), outside the rig, as a
//! mobile SDK team's build would be (docs/driver-protocol.md, protocol 2).
//!
//! It is the same offline engine and store the in-process POS runs
//! (`OfflineDevice` on real files under `session.data_dir`), with the app of
//! `sim/app.rs` around it, and three shells of its own: the reader over
//! BLE-over-TCP as its central (the reader protocol of docs/ble-gatt.md,
//! the card handed over sealed by `card_data`), the backend over HTTP with
//! the POS's key (so the POS's link faults hit it), and time from
//! `clock.advance`. Everything the engine says goes to readerlab as
//! `sdk.event`, so the checker judges it as it judges the in-process SDK;
//! each payment's end is also a `payment.ended`.

use crate::driver::protocol::{
    self, NotificationMessage, Outcome as Ended, PaymentEnded, QueuedPayment, RpcError, SdkEvent,
    SessionNew, Version, codes,
};
use readerlab_emulator::ble::{CentralEvent, CentralOp, CentralPort};
use readerlab_emulator::core::offline::merchant;
use readerlab_emulator::core::offline::{
    Account, CaptureMethod, CollectedCard, Holder, Input, OfflineBehavior, OfflineConfig,
    Session as SdkSession, Timings,
};
use readerlab_emulator::core::{
    Defects, EventBody, Millis, Money, PaymentRequest, ReaderModel, TerminalErrorCode, TestCards,
};
use readerlab_emulator::device::{EngineSetup, OfflineDevice};
use readerlab_emulator::disk::FileDisk;
use readerlab_emulator::serve::device_http::{self, DeviceClient};
use readerlab_emulator::sim::LOCATION;
use readerlab_emulator::store::StoreConfig;
use readerlab_emulator::store::crypto::FileKeychain;
use readerlab_emulator::wire::ble::link::{CentralLink, Inbound};
use readerlab_emulator::wire::ble::protocol::{Command, Reply};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long the app waits for a payment before giving up on it (as in
/// process, `sim/app.rs`).
const PATIENCE: Duration = Duration::from_secs(300);
/// How often the app tries to connect a reader that is not connected.
const CONNECT_RETRY: Duration = Duration::from_secs(15);
/// Real time a reader has to answer one command.
const BLE_WAIT: Duration = Duration::from_secs(10);
/// Real time the backend has to answer one call.
const CALL_WAIT: Duration = Duration::from_secs(10);
/// The ATT MTU the SDK offers (a typical phone's).
const MTU: u16 = 185;

/// One Bluetooth reader, as the SDK holds it.
#[derive(Debug)]
struct Reader {
    serial: String,
    model: ReaderModel,
    addr: SocketAddr,
    /// The connection, while there is one.
    port: Option<CentralPort>,
    link: CentralLink,
    /// The reader said it is connected to this POS, and not since that it
    /// is not.
    connected: bool,
    /// No connection attempt before then.
    next_connect: Millis,
}

/// Where the payment at the counter stands (as in `sim/app.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Creating,
    Collecting,
    Confirming,
}

/// The payment at the counter.
#[derive(Debug)]
struct Current {
    payment: String,
    reader: usize,
    amount: Money,
    phase: Phase,
    started: Millis,
}

/// A customer waiting for the counter.
#[derive(Debug)]
struct Waiting {
    payment: String,
    reader: usize,
    amount: Money,
    behavior: OfflineBehavior,
}

/// What the app keeps in `session.data_dir/sdk.json` beside the store, so
/// an `app.kill` loses nothing.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    /// The SDK's session: last account, configuration, online connects.
    session: SdkSession,
    /// App runs so far (offline ids embed the run).
    runs: u32,
    /// This install's name in its offline ids (from the first session's
    /// id): a backend that outlives the install (a lab bench's) never sees
    /// one offline id from two installs.
    #[serde(default)]
    install: String,
    /// Payments started and not yet reported ended, with their reader.
    open: BTreeMap<String, String>,
}

/// The mobile SDK of one session.
#[derive(Debug)]
pub(super) struct Mobile {
    device: OfflineDevice<FileDisk, FileKeychain>,
    /// The defect profiles switched on (the merchant's app reads them too).
    defects: Defects,
    /// The merchant's app: what it has shown.
    merchant: merchant::MerchantApp,
    readers: Vec<Reader>,
    backend: SocketAddr,
    key: String,
    http: DeviceClient,
    now: Millis,
    current: Option<Current>,
    waiting: VecDeque<Waiting>,
    saved: Saved,
    file: PathBuf,
    /// Reader events heard and not yet acted on, by reader index.
    heard: VecDeque<(usize, EventBody)>,
    /// Notifications for readerlab, in order.
    out: Vec<NotificationMessage>,
}

fn rpc(message: String, definite: bool) -> RpcError {
    RpcError {
        code: codes::FAILED,
        message,
        data: Some(protocol::ErrorData { definite, sdk_code: None }),
    }
}

impl Mobile {
    /// The SDK for the rig's Bluetooth readers; `None` when it has none.
    /// Opens the store (recovering what a killed run left), and connects
    /// to each reader.
    pub(super) fn start(
        runtime: &Runtime,
        hello: &SessionNew,
        backend: SocketAddr,
        defects: &Defects,
    ) -> Result<Option<Mobile>, RpcError> {
        let mut readers = Vec::new();
        for reader in &hello.rig.readers {
            let Some(addr) = reader.ble_tcp.as_deref() else { continue };
            let addr =
                addr.parse().map_err(|e| rpc(format!("{}: ble_tcp: {e}", reader.serial), true))?;
            let model = ReaderModel::from_id(&reader.model).ok_or_else(|| {
                rpc(format!("{}: unknown model `{}`", reader.serial, reader.model), true)
            })?;
            let serial = reader.serial.clone();
            readers.push(Reader {
                serial,
                model,
                addr,
                port: None,
                link: CentralLink::new(MTU),
                connected: false,
                next_connect: Millis::ZERO,
            });
        }
        if readers.is_empty() {
            return Ok(None);
        }
        let dir = PathBuf::from(&hello.session.data_dir);
        let file = dir.join("sdk.json");
        let mut saved = match std::fs::read(&file) {
            Ok(bytes) if hello.session.resumed => serde_json::from_slice(&bytes)
                .map_err(|e| rpc(format!("{}: {e}", file.display()), true))?,
            _ => Saved {
                session: first_session(hello)?,
                install: install_name(&hello.session.id),
                ..Saved::default()
            },
        };
        saved.runs += 1;
        let now = Millis(hello.rig.clock.now_ms);
        let setup = EngineSetup {
            holder: Holder::Pos,
            instance: format!("pos{}{}", saved.install, saved.runs),
            session: saved.session.clone(),
            cards: Arc::new(TestCards::builtin().clone()),
            timings: Timings::default(),
            defects: defects.clone(),
        };
        let disk =
            FileDisk::open(dir.join("store")).map_err(|e| rpc(format!("the store: {e}"), true))?;
        let keys = FileKeychain::open(dir.join("keys"))
            .map_err(|e| rpc(format!("the store's key: {e}"), true))?;
        let (device, _) = OfflineDevice::start(now, setup, disk, keys, StoreConfig::default())
            .map_err(|e| rpc(format!("opening the store: {e}"), true))?;
        let http = runtime.block_on(async { device_http::client() });
        let mut mobile = Mobile {
            device,
            readers,
            backend,
            key: hello.rig.backend.secret_key.clone(),
            http,
            now,
            current: None,
            waiting: VecDeque::new(),
            saved,
            file,
            heard: VecDeque::new(),
            out: Vec::new(),
            defects: defects.clone(),
            merchant: merchant::MerchantApp::default(),
        };
        mobile.device.handle(now, Input::NetworkChanged { up: true });
        mobile.resume(&hello.session.reported);
        mobile.connect_readers(runtime);
        mobile.settle(runtime);
        Ok(Some(mobile))
    }

    /// After a kill: a payment that was open is one whose end the app
    /// cannot tell now (the engine's payments in flight died with it; one
    /// that was stored is forwarded from the store and judged by its
    /// forwarding). Each is reported `unknown` once, unless readerlab
    /// already has its end.
    fn resume(&mut self, reported: &[String]) {
        let open = std::mem::take(&mut self.saved.open);
        for (payment, _) in open {
            if reported.contains(&payment) {
                continue;
            }
            self.ended(PaymentEnded {
                payment,
                outcome: Ended::Unknown,
                intent: None,
                code: None,
                decline_code: None,
                message: Some("the app was killed while the payment was in progress".to_owned()),
            });
        }
    }

    /// Whether `serial` is one of this SDK's readers.
    pub(super) fn has_reader(&self, serial: &str) -> bool {
        self.readers.iter().any(|r| r.serial == serial)
    }

    /// `payment.collect` on a Bluetooth reader: the customer waits for
    /// the counter; the app starts the payment when it is free.
    pub(super) fn collect(
        &mut self,
        runtime: &Runtime,
        payment: &str,
        serial: &str,
        amount: Money,
        behavior: OfflineBehavior,
    ) -> Result<(), RpcError> {
        let reader =
            self.readers.iter().position(|r| r.serial == serial).expect("checked by the caller");
        if self.saved.open.contains_key(payment) {
            return Err(rpc(format!("payment `{payment}` is already in progress"), true));
        }
        self.saved.open.insert(payment.to_owned(), serial.to_owned());
        self.waiting.push_back(Waiting { payment: payment.to_owned(), reader, amount, behavior });
        self.settle(runtime);
        Ok(())
    }

    /// `payment.cancel`: a collect in progress is canceled on the reader
    /// and fails with `CANCELED`; later phases run to their end.
    pub(super) fn cancel(&mut self, runtime: &Runtime, payment: &str) -> Result<(), RpcError> {
        if let Some(at) = self.waiting.iter().position(|w| w.payment == payment) {
            self.waiting.remove(at);
            self.ended(PaymentEnded {
                payment: payment.to_owned(),
                outcome: Ended::Canceled,
                intent: None,
                code: None,
                decline_code: None,
                message: None,
            });
            return Ok(());
        }
        if !self.saved.open.contains_key(payment) {
            return Err(rpc(format!("no payment `{payment}` in progress"), true));
        }
        self.give_up(runtime, payment);
        self.settle(runtime);
        Ok(())
    }

    /// `device.network`: what the operating system says of the internet.
    pub(super) fn network(&mut self, runtime: &Runtime, up: bool) {
        self.device.handle(self.now, Input::NetworkChanged { up });
        self.settle(runtime);
    }

    /// `clock.advance`: rig time is `now`; everything due is done.
    pub(super) fn advance(&mut self, runtime: &Runtime, now: Millis) {
        self.now = self.now.max(now);
        for index in 0..self.readers.len() {
            // Every event the reader sent before now is heard first (that it
            // connected, say), and a connection the radio dropped is found.
            let _ = self.ask(runtime, index, Command::Sync);
        }
        self.settle(runtime);
        self.connect_readers(runtime);
        let overdue = self.current.as_ref().filter(|c| self.now.since(c.started) >= PATIENCE);
        if let Some(payment) = overdue.map(|c| c.payment.clone()) {
            self.give_up(runtime, &payment);
        }
        self.settle(runtime);
    }

    /// When the SDK next has something due: an engine deadline (a retry, a
    /// timeout), the patience of the payment at the counter, the next
    /// connection attempt while a customer waits for the reader.
    pub(super) fn next_due(&self) -> Option<Millis> {
        let watchdog = self.current.as_ref().map(|c| c.started + PATIENCE);
        let someone_waits = self.current.is_some() || !self.waiting.is_empty();
        let reconnect = self
            .readers
            .iter()
            .filter(|r| someone_waits && !r.connected)
            .map(|r| r.next_connect.max(self.now));
        [self.device.poll_timeout(), watchdog].into_iter().flatten().chain(reconnect).min()
    }

    /// The payments started and not yet reported ended.
    pub(super) fn queue(&self) -> Vec<QueuedPayment> {
        self.saved
            .open
            .iter()
            .map(|(payment, reader)| QueuedPayment {
                payment: payment.clone(),
                reader: reader.clone(),
                intent: None,
                state: match &self.current {
                    Some(c) if &c.payment == payment => format!("{:?}", c.phase).to_lowercase(),
                    _ => "waiting".to_owned(),
                },
            })
            .collect()
    }

    /// Notifications for readerlab since the last call.
    pub(super) fn take_notifications(&mut self) -> Vec<NotificationMessage> {
        std::mem::take(&mut self.out)
    }

    /// Does everything that follows from what happened, until nothing
    /// does: reader events, the engine's deadlines, its calls to the
    /// backend, its events, the next customer. Then saves.
    fn settle(&mut self, runtime: &Runtime) {
        loop {
            let mut moved = false;
            while let Some((index, body)) = self.heard.pop_front() {
                self.on_reader_event(runtime, index, &body);
                moved = true;
            }
            if self.device.poll_timeout().is_some_and(|at| at <= self.now) {
                self.device.handle_timeout(self.now);
                moved = true;
            }
            while let Some((call, request)) = self.device.poll_call() {
                moved = true;
                let (http, backend, key) = (&self.http, self.backend, self.key.as_str());
                let sent = device_http::send(http, backend, &request, key, CALL_WAIT);
                // No answer (the link cut it, or lost it): the engine's own
                // deadline decides, as in process.
                if let Some(reply) = runtime.block_on(sent) {
                    self.device.reply(self.now, call, reply);
                }
            }
            while let Some((_, body)) = self.device.poll_event() {
                moved = true;
                self.on_sdk_event(runtime, &body);
            }
            moved |= self.try_start_payment(runtime);
            if !moved {
                break;
            }
        }
        self.save();
    }

    fn save(&mut self) {
        self.saved.session = self.device.engine().session().clone();
        let text = serde_json::to_vec(&self.saved).expect("the app's state serializes");
        let temporary = self.file.with_extension("json.new");
        let written = std::fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temporary, &self.file));
        if let Err(e) = written {
            eprintln!("readerlab adapter: saving {}: {e}", self.file.display());
        }
    }

    /// Serves the next customer if the counter and the reader are free.
    fn try_start_payment(&mut self, runtime: &Runtime) -> bool {
        if self.current.is_some() {
            return false;
        }
        let Some(index) = self.waiting.front().map(|w| w.reader) else { return false };
        if !self.readers[index].connected {
            self.connect_readers(runtime);
            return false;
        }
        let next = self.waiting.pop_front().expect("checked above");
        let input = Input::CreatePaymentIntent {
            payment: next.payment.clone(),
            amount: next.amount,
            behavior: next.behavior,
            capture: CaptureMethod::Automatic,
        };
        self.current = Some(Current {
            payment: next.payment,
            reader: next.reader,
            amount: next.amount,
            phase: Phase::Creating,
            started: self.now,
        });
        self.device.handle(self.now, input);
        true
    }

    /// The reader said something the app acts on (as `sim/app.rs` does).
    fn on_reader_event(&mut self, runtime: &Runtime, index: usize, body: &EventBody) {
        match body {
            EventBody::Connected { .. } => {
                self.readers[index].connected = true;
                self.tell_connected(index);
            }
            // The reader reconnected by itself while the SDK could not
            // hear it (its signal came back before the carrier did): it is
            // connected to this POS already.
            EventBody::ConnectRefused {
                code: TerminalErrorCode::AlreadyConnectedToReader, ..
            } => {
                self.readers[index].connected = true;
                self.tell_connected(index);
            }
            EventBody::Disconnected { .. } => self.readers[index].connected = false,
            EventBody::Collected { payment, entry_mode, .. } => {
                let Some(current) = self.at(payment, Phase::Collecting) else { return };
                current.phase = Phase::Confirming;
                let payment = payment.clone();
                let card = match self.ask(
                    runtime,
                    index,
                    Command::CardData { payment: payment.clone() },
                ) {
                    Some(Reply::CardData { emv_data, simulated_type }) => CollectedCard {
                        simulated_type: Some(simulated_type),
                        ..CollectedCard::read(&emv_data, *entry_mode)
                    },
                    other => {
                        eprintln!("readerlab adapter: no card data for {payment}: {other:?}");
                        self.current = None;
                        let code = TerminalErrorCode::ReaderCommunicationError;
                        self.device.handle(self.now, Input::CollectFailed { payment, code });
                        return;
                    }
                };
                self.device.handle(self.now, Input::Collected { payment: payment.clone(), card });
                self.device.handle(self.now, Input::Confirm { payment });
            }
            // The reader lost the payment or refused to collect it: while
            // collecting, the SDK fails it with the reader's code.
            EventBody::PaymentFailed { payment, code }
            | EventBody::PaymentRefused { payment, code, request: PaymentRequest::Collect }
                if self.current.as_ref().is_some_and(|c| &c.payment == payment) =>
            {
                let collecting = self.at(payment, Phase::Collecting).is_some();
                self.current = None;
                if collecting {
                    let input = Input::CollectFailed { payment: payment.clone(), code: *code };
                    self.device.handle(self.now, input);
                }
            }
            _ => {}
        }
    }

    /// The engine said something: readerlab hears it, and the app acts.
    fn on_sdk_event(&mut self, runtime: &Runtime, body: &EventBody) {
        self.report_event(body);
        // The merchant's app shows what it must, and says so too.
        if let Some(shown) = self.merchant.notice(body, &self.defects) {
            self.report_event(&shown);
        }
        let ended = |outcome, intent: Option<String>, code: Option<String>, decline_code| {
            (outcome, intent, code, decline_code)
        };
        let (payment, end) = match body {
            EventBody::SdkIntentCreated { payment, .. } => {
                let Some(current) = self.at(payment, Phase::Creating) else { return };
                current.phase = Phase::Collecting;
                let (index, amount) = (current.reader, current.amount);
                let collect = Command::Collect { payment: payment.clone(), amount };
                let _ = self.ask(runtime, index, collect);
                return;
            }
            EventBody::SdkPaymentSucceeded { payment, intent, .. } => {
                (payment, ended(Ended::Succeeded, intent.clone(), None, None))
            }
            EventBody::OfflinePaymentStored { payment, intent, .. } => {
                (payment, ended(Ended::Succeeded, intent.clone(), None, None))
            }
            EventBody::SdkPaymentDeclined { payment, error_code, decline_code } => (
                payment,
                ended(Ended::Declined, None, Some(error_code.clone()), decline_code.clone()),
            ),
            EventBody::SdkPaymentFailed { payment, code } => {
                let outcome = if *code == TerminalErrorCode::Canceled {
                    Ended::Canceled
                } else {
                    Ended::Failed
                };
                (payment, ended(outcome, None, Some(code.name()), None))
            }
            _ => return,
        };
        self.payment_ended(runtime, payment);
        if self.saved.open.contains_key(payment) {
            let (outcome, intent, code, decline_code) = end;
            self.ended(PaymentEnded {
                payment: payment.clone(),
                outcome,
                intent,
                code,
                decline_code,
                message: None,
            });
        }
    }

    /// The payment at the counter ended: the reader is told to finish.
    fn payment_ended(&mut self, runtime: &Runtime, payment: &str) {
        let Some(current) = self.current.take_if(|c| c.payment == payment) else { return };
        let payment = payment.to_owned();
        let command = match current.phase {
            Phase::Confirming => Command::Complete { payment },
            Phase::Collecting => Command::Cancel { payment },
            Phase::Creating => return,
        };
        let _ = self.ask(runtime, current.reader, command);
    }

    /// The app gives up on a payment (patience, or `payment.cancel`): a
    /// collect is canceled and fails with `CANCELED`.
    fn give_up(&mut self, runtime: &Runtime, payment: &str) {
        let Some(current) = self.current.take_if(|c| c.payment == payment) else { return };
        if current.phase == Phase::Collecting {
            let _ =
                self.ask(runtime, current.reader, Command::Cancel { payment: payment.to_owned() });
            let code = TerminalErrorCode::Canceled;
            self.device
                .handle(self.now, Input::CollectFailed { payment: payment.to_owned(), code });
        }
    }

    fn ended(&mut self, end: PaymentEnded) {
        self.saved.open.remove(&end.payment);
        self.notify(protocol::Notification::PaymentEnded(end));
    }

    /// One event of the SDK's history (or its app's), as `sdk.event`.
    fn report_event(&mut self, body: &EventBody) {
        let value = serde_json::to_value(body).expect("events serialize");
        let event: SdkEvent =
            serde_json::from_value(value).expect("an event is an object named by `event`");
        self.notify(protocol::Notification::SdkEvent(event));
    }

    fn notify(&mut self, notification: protocol::Notification) {
        self.out.push(NotificationMessage { jsonrpc: Version::V2, notification });
    }

    fn at(&mut self, payment: &str, phase: Phase) -> Option<&mut Current> {
        self.current.as_mut().filter(|c| c.payment == payment && c.phase == phase)
    }

    fn tell_connected(&mut self, index: usize) {
        let reader = &self.readers[index];
        let input = Input::ConnectReader {
            serial: reader.serial.clone(),
            model: reader.model,
            location: LOCATION.to_owned(),
            software_updated_at: Millis::ZERO,
        };
        self.device.handle(self.now, input);
    }

    /// Connects every reader that is not connected, at most every
    /// [`CONNECT_RETRY`]: the carrier first (refused while the reader is
    /// out of range), then `connect`.
    fn connect_readers(&mut self, runtime: &Runtime) {
        for index in 0..self.readers.len() {
            let reader = &mut self.readers[index];
            if reader.connected || self.now < reader.next_connect {
                continue;
            }
            reader.next_connect = self.now + CONNECT_RETRY;
            if reader.port.is_none() {
                let dialed =
                    runtime.block_on(readerlab_emulator::ble::tcp::connect(reader.addr, MTU));
                let Ok(port) = dialed else { continue };
                reader.link = CentralLink::new(port.mtu);
                reader.port = Some(port);
            }
            let connect = Command::Connect {
                pos: "pos".to_owned(),
                auto_reconnect: Some(true),
                fail_if_in_use: false,
            };
            // Its answer comes as an event: connected, or refused.
            let _ = self.ask(runtime, index, connect);
        }
    }

    /// Sends `command` to reader `index` and waits for its reply; the
    /// events heard meanwhile are kept for [`Mobile::settle`]. `None`:
    /// no connection, or it went away.
    fn ask(&mut self, runtime: &Runtime, index: usize, command: Command) -> Option<Reply> {
        let reader = &mut self.readers[index];
        let port = reader.port.as_mut()?;
        let (seq, values) = reader.link.send(command).ok()?;
        let heard = &mut self.heard;
        let link = &mut reader.link;
        let answered = runtime.block_on(async {
            for value in values {
                let (ack, _) = tokio::sync::oneshot::channel();
                port.ops.send(CentralOp::Write(value, ack)).await.ok()?;
            }
            loop {
                match tokio::time::timeout(BLE_WAIT, port.events.recv()).await {
                    Ok(Some(CentralEvent::Notification(value))) => {
                        match link.on_notification(&value) {
                            Ok(Some(Inbound::Response { seq: s, reply, .. })) if s == seq => {
                                return Some(reply);
                            }
                            Ok(Some(Inbound::Event { body, .. })) => heard.push_back((index, body)),
                            Ok(_) => {}
                            Err(e) => eprintln!("readerlab adapter: a bad notification: {e}"),
                        }
                    }
                    Ok(Some(CentralEvent::Mtu(_))) => {}
                    Ok(Some(CentralEvent::Disconnected) | None) | Err(_) => return None,
                }
            }
        });
        if answered.is_none() {
            // Gone (or silent past the deadline): connect again later.
            reader.port = None;
            reader.connected = false;
            reader.link.reset();
        }
        answered
    }
}

/// The SDK's session when the app first starts: the POS was online at rig
/// time 0 with the rig's readers and fetched the account's offline
/// settings (`rig.offline`), as the in-process POS starts.
/// An install's name for its offline ids: the letters and digits of the
/// session id's last part (a temporary directory's random suffix), at most
/// 12 of them, then a dot (`""` when there are none).
fn install_name(session: &str) -> String {
    let last = session.rsplit(['-', '_', '/', '.']).next().unwrap_or(session);
    let name: String = last.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
    if name.is_empty() { name } else { format!("{name}.") }
}

fn first_session(hello: &SessionNew) -> Result<SdkSession, RpcError> {
    let config: Option<OfflineConfig> = match &hello.rig.offline {
        Some(settings) => Some(
            serde_json::to_value(settings)
                .and_then(serde_json::from_value)
                .map_err(|e| rpc(format!("rig.offline: {e}"), true))?,
        ),
        None => None,
    };
    let mut models = BTreeMap::new();
    for reader in &hello.rig.readers {
        if let Some(model) = ReaderModel::from_id(&reader.model) {
            models.insert(model, Millis::ZERO);
        }
    }
    Ok(SdkSession {
        account: Some(Account { id: hello.rig.backend.account.clone(), livemode: false }),
        config,
        online_by_model: models,
        online_by_location: BTreeMap::from([(LOCATION.to_owned(), Millis::ZERO)]),
    })
}
