//! The reference POS app: customers queue at the counter, and for each the
//! app creates the payment, has the reader collect the card, confirms, and
//! waits for the one outcome, the way docs/domain.md §3 describes an app.
//!
//! The app is as plain as a good integration: it serves one customer at a
//! time, keeps its reader connected (reconnecting by hand when the SDK's
//! auto-reconnect gives up), and gives up on a payment that has not finished
//! after a few minutes. What happens to the payment is the SDK's business
//! (the offline engine); the app only reads the events.

use super::{Device, PaymentSpec, ReaderSlot, Sim, Timer};
use crate::core::offline::{CaptureMethod, CollectedCard, Input as EngineInput};
use crate::core::reader::Input as ReaderInput;
use crate::core::{ConnectionStatus, EventBody, PaymentRequest, Prompt};
use rand::RngExt;
use std::collections::VecDeque;
use std::time::Duration;

/// How long the app waits for a payment before giving up on it.
const PAYMENT_PATIENCE: Duration = Duration::from_secs(300);
/// How often the app tries to connect a reader that is not connected.
const CONNECT_RETRY: Duration = Duration::from_secs(15);

/// Where the payment at the counter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Asked the SDK to create the payment intent.
    Creating,
    /// The reader is collecting the card.
    Collecting,
    /// Card collected; confirming.
    Confirming,
}

/// The payment at the counter.
#[derive(Clone, Debug)]
struct Current {
    spec: PaymentSpec,
    phase: Phase,
}

/// The app's state: who is waiting and who is being served.
#[derive(Debug, Default)]
pub(super) struct PosApp {
    waiting: VecDeque<PaymentSpec>,
    current: Option<Current>,
    /// Payments started so far.
    pub(super) started: u32,
}

impl PosApp {
    /// No customer waiting or being served.
    pub(super) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.current.is_none()
    }

    /// Customers still waiting.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.len() + usize::from(self.current.is_some())
    }

    /// A customer arrives.
    pub(super) fn arrive(&mut self, spec: PaymentSpec) {
        self.waiting.push_back(spec);
    }
}

impl Sim {
    /// The device whose SDK takes payments at reader `index`.
    pub(super) fn device_for(&self, index: usize) -> Device {
        if self.readers[index].device.is_some() { Device::Reader(index) } else { Device::Pos }
    }

    /// Serves the next customer if the app, the reader and the device are
    /// ready; otherwise makes sure the reader is getting connected.
    pub(super) fn try_start_payment(&mut self) {
        if self.app.current.is_some() {
            return;
        }
        let Some(index) = self.app.waiting.front().map(|spec| spec.reader) else { return };
        if !self.pos.is_up() {
            return;
        }
        if self.readers[index].reader.status() != ConnectionStatus::Connected {
            return self.connect_reader(index);
        }
        if self.readers[index].reader.is_busy() {
            return;
        }
        let device = self.device_for(index);
        let lan_up = self.links[&super::LinkId::PosReader(index)].up;
        let ready = self.slot(device).is_some_and(|s| s.is_up());
        if !ready || (device != Device::Pos && !lan_up) {
            return;
        }
        let spec = self.app.waiting.pop_front().expect("checked above");
        self.app.started += 1;
        let input = EngineInput::CreatePaymentIntent {
            payment: spec.name.clone(),
            amount: spec.amount,
            behavior: spec.behavior,
            capture: CaptureMethod::Automatic,
        };
        let payment = spec.name.clone();
        self.app.current = Some(Current { spec, phase: Phase::Creating });
        let at = self.now + PAYMENT_PATIENCE;
        self.at(at, Timer::Watchdog { payment });
        self.engine_input(device, input);
    }

    /// Asks the reader to connect, at most every [`CONNECT_RETRY`]; wakes
    /// a reader that slept (the cashier presses its button).
    pub(super) fn connect_reader(&mut self, index: usize) {
        let now = self.now;
        let slot: &mut ReaderSlot = &mut self.readers[index];
        if slot.reader.status() != ConnectionStatus::NotConnected || now < slot.next_connect {
            return;
        }
        slot.next_connect = now + CONNECT_RETRY;
        if !slot.reader.is_powered() {
            if slot.power_fault {
                return;
            }
            let _ = slot.reader.handle(now, ReaderInput::PowerOn);
        }
        let via = slot.via;
        let connect = ReaderInput::Connect {
            pos: "pos".to_owned(),
            via,
            auto_reconnect: Some(true),
            fail_if_in_use: false,
        };
        self.command_reader(index, connect);
        let at = now + CONNECT_RETRY;
        self.at(at, Timer::Wake);
    }

    pub(super) fn engine_input(&mut self, device: Device, input: EngineInput) {
        let now = self.now;
        if let Some(running) = self.slot_mut(device).and_then(|s| s.running.as_mut()) {
            running.handle(now, input);
        }
    }

    fn reader_input(&mut self, index: usize, input: ReaderInput) {
        self.command_reader(index, input);
    }

    /// The reader said something the app acts on.
    pub(super) fn on_reader_event(&mut self, index: usize, body: &EventBody) {
        self.action_reader_event(index, body);
        match body {
            EventBody::Connected { .. } if self.readers[index].device.is_none() => {
                self.tell_connected(Device::Pos, index);
            }
            EventBody::Collected { payment, .. } => {
                let Some(current) = self.current_at(payment, Phase::Collecting) else { return };
                current.phase = Phase::Confirming;
                let card = CollectedCard::read(&current.spec.card, current.spec.entry_mode);
                let device = self.device_for(index);
                let payment = payment.clone();
                self.engine_input(
                    device,
                    EngineInput::Collected { payment: payment.clone(), card },
                );
                self.engine_input(device, EngineInput::Confirm { payment });
            }
            // The reader lost the payment (link or power gone) or refused to
            // collect it: while collecting, the SDK fails the payment with
            // the reader's code and the app is told; the customer pays
            // again if they want. (Once the card is read the confirm goes
            // on without the reader.)
            EventBody::PaymentFailed { payment, code }
            | EventBody::PaymentRefused { payment, code, request: PaymentRequest::Collect }
                if self.app.current.as_ref().is_some_and(|c| &c.spec.name == payment) =>
            {
                let collecting = self.current_at(payment, Phase::Collecting).is_some();
                self.app.current = None;
                if collecting {
                    let device = self.device_for(index);
                    let input =
                        EngineInput::CollectFailed { payment: payment.clone(), code: *code };
                    self.engine_input(device, input);
                }
            }
            EventBody::Prompted { prompt: Prompt::RemoveCard } => {
                let at = self.now + Duration::from_secs(2);
                self.at(at, Timer::RemoveCard(index));
            }
            _ => {}
        }
    }

    /// The SDK said something the app acts on.
    pub(super) fn on_device_event(&mut self, device: Device, body: &EventBody) {
        self.action_device_event(device, body);
        match body {
            EventBody::SdkIntentCreated { payment, .. } => {
                let Some(current) = self.current_at(payment, Phase::Creating) else { return };
                current.phase = Phase::Collecting;
                let (index, amount) = (current.spec.reader, current.spec.amount);
                let payment = payment.clone();
                self.reader_input(index, ReaderInput::Collect { payment: payment.clone(), amount });
                let delay = self.rng.random_range(1_500..6_000);
                let at = self.now + Duration::from_millis(delay);
                self.at(at, Timer::PresentCard { payment });
            }
            EventBody::SdkPaymentSucceeded { payment, .. }
            | EventBody::SdkPaymentDeclined { payment, .. }
            | EventBody::SdkPaymentFailed { payment, .. }
            | EventBody::OfflinePaymentStored { payment, .. } => self.payment_ended(payment),
            _ => {}
        }
    }

    /// The customer presents the card.
    pub(super) fn present_card(&mut self, payment: &str) {
        let Some(current) = self.current_at(payment, Phase::Collecting) else { return };
        let (index, number, mode) =
            (current.spec.reader, current.spec.card.clone(), current.spec.entry_mode);
        let input = ReaderInput::PresentCard { number: number.as_str().into(), mode };
        let now = self.now;
        let reader = &mut self.readers[index].reader;
        if !reader.is_busy() && reader.status() == ConnectionStatus::Connected {
            // The collect has not reached the reader yet (a slow radio):
            // the customer waits for it to ask for the card.
            let at = now + Duration::from_secs(1);
            return self.at(at, Timer::PresentCard { payment: payment.to_owned() });
        }
        if reader.handle(now, input.clone()).is_err() {
            // A card from an earlier payment still sits in the slot.
            let _ = reader.handle(now, ReaderInput::RemoveCard);
            let _ = reader.handle(now, input);
        }
    }

    /// The app gives up on a payment that did not finish in time.
    pub(super) fn watchdog(&mut self, payment: &str) {
        let Some(current) = self.app.current.as_ref().filter(|c| c.spec.name == payment) else {
            return;
        };
        if current.phase == Phase::Collecting {
            // `collectPaymentMethod` canceled: the SDK fails the payment
            // with CANCELED, so the app hears how it ended.
            let index = current.spec.reader;
            self.reader_input(index, ReaderInput::Cancel { payment: payment.to_owned() });
            self.app.current = None;
            let device = self.device_for(index);
            let code = crate::core::TerminalErrorCode::Canceled;
            self.engine_input(device, EngineInput::CollectFailed { payment: payment.into(), code });
            return;
        }
        self.app.current = None;
    }

    fn payment_ended(&mut self, payment: &str) {
        let Some(current) = self.app.current.take_if(|c| c.spec.name == payment) else { return };
        let index = current.spec.reader;
        let payment = payment.to_owned();
        match current.phase {
            Phase::Confirming => self.reader_input(index, ReaderInput::Complete { payment }),
            Phase::Collecting => self.reader_input(index, ReaderInput::Cancel { payment }),
            Phase::Creating => {}
        }
    }

    fn current_at(&mut self, payment: &str, phase: Phase) -> Option<&mut Current> {
        self.app.current.as_mut().filter(|c| c.spec.name == payment && c.phase == phase)
    }

    /// Hands a customer to the queue.
    pub(super) fn arrive(&mut self, spec: PaymentSpec) {
        self.app.arrive(spec);
    }
}
