//! Connecting, disconnecting and auto-reconnect (docs/domain.md §7).
//!
//! A connect takes the profile's `connect_ms`; whether it succeeds is decided
//! when it completes, so a battery, radio or power change during the attempt
//! counts. Auto-reconnect keeps trying for `reconnect_budget_s` after a
//! disconnect whose reason allows it ([`DisconnectReason::auto_reconnects`]);
//! an attempt starts whenever the link becomes reachable again.

use super::{Conn, InputError, Reader, Session};
use crate::error::TerminalErrorCode;
use crate::event::{BatteryStatus, DisconnectReason, EventBody};
use crate::profile::{Family, LinkKind, Pairing};
use crate::time::{Millis, secs};
use std::time::Duration;

impl Reader {
    pub(super) fn connect(&mut self, now: Millis, session: Session, fail_if_in_use: bool) {
        let pos = session.pos.clone();
        if !self.profile.links.contains(&session.via) {
            let code = TerminalErrorCode::UnsupportedOperation;
            return self.emit(now, EventBody::ConnectRefused { pos, code });
        }
        match &self.conn {
            Conn::Idle => {}
            Conn::Reconnecting { session: old, .. } if old.pos == pos => {
                // The app connecting by hand ends its own auto-reconnect,
                // which still gets its one outcome.
                self.emit(now, EventBody::ReconnectFailed { pos: pos.clone() });
                self.conn = Conn::Idle;
            }
            Conn::Reconnecting { session: old, .. } if self.profile.family == Family::Smart => {
                // A smart reader whose POS lost it is idle: a new POS takes it
                // over, and the old POS's reconnect ends.
                let from_pos = old.pos.clone();
                self.emit(
                    now,
                    EventBody::TakenOver { from_pos: from_pos.clone(), by_pos: pos.clone() },
                );
                self.emit(now, EventBody::ReconnectFailed { pos: from_pos });
                self.conn = Conn::Idle;
            }
            Conn::Connected { session: old } if old.pos == pos => {
                let code = TerminalErrorCode::AlreadyConnectedToReader;
                return self.emit(now, EventBody::ConnectRefused { pos, code });
            }
            Conn::Connected { session: old } if self.profile.family == Family::Smart => {
                // Smart readers: a new POS takes over an idle reader; with
                // `failIfInUse` it may not interrupt a collect or confirm.
                if fail_if_in_use && self.payment.is_some() {
                    let code = TerminalErrorCode::ReaderBusy;
                    return self.emit(now, EventBody::ConnectRefused { pos, code });
                }
                let from_pos = old.pos.clone();
                self.emit(now, EventBody::TakenOver { from_pos, by_pos: pos.clone() });
                self.fail_payment(now, TerminalErrorCode::Canceled);
                self.end_connection(now, DisconnectReason::Unknown, false);
            }
            _ => {
                // A Bluetooth or USB reader serves one POS at a time, and any
                // reader in the middle of connecting (pairing, updating) to
                // another POS is busy.
                let code = TerminalErrorCode::ReaderBusy;
                return self.emit(now, EventBody::ConnectRefused { pos, code });
            }
        }
        self.touch(now);
        self.emit(now, EventBody::ConnectStarted { pos, via: session.via });
        let done_at = now + self.connect_duration();
        self.conn = Conn::Connecting { session, done_at };
    }

    fn connect_duration(&self) -> Duration {
        Duration::from_millis(u64::from(self.profile.connection.connect_ms))
    }

    /// Why a connection over `via` cannot be made now, if it cannot.
    fn connect_refusal(&self, via: LinkKind) -> Option<TerminalErrorCode> {
        if !self.reachable(via) {
            return Some(match via {
                LinkKind::Ble if !self.links.radio_on => TerminalErrorCode::BluetoothError,
                LinkKind::Ble => TerminalErrorCode::BluetoothConnectTimedOut,
                LinkKind::Usb => TerminalErrorCode::UsbDisconnected,
                LinkKind::Lan => TerminalErrorCode::ReaderCommunicationError,
            });
        }
        // Incident android-343: connecting on a critical battery must fail
        // clearly rather than hang.
        if self.battery_status() == BatteryStatus::Critical && !self.charging {
            return Some(TerminalErrorCode::ReaderBatteryCriticallyLow);
        }
        None
    }

    pub(super) fn finish_connect(&mut self, at: Millis, session: Session) {
        if let Some(code) = self.connect_refusal(session.via) {
            self.conn = Conn::Idle;
            return self.emit(at, EventBody::ConnectFailed { pos: session.pos, code });
        }
        if session.via == LinkKind::Ble && !self.links.paired {
            return self.pair(at, session);
        }
        if self.update_required_on_connect(at) {
            return self.start_connect_update(at, session, false);
        }
        self.establish(at, session, false);
    }

    /// A connect, or a reconnect attempt, that ends without a connection:
    /// each gets its one outcome event.
    pub(super) fn abort_connect(
        &mut self,
        at: Millis,
        session: Session,
        reconnect: bool,
        code: TerminalErrorCode,
    ) {
        self.conn = Conn::Idle;
        let pos = session.pos;
        let outcome = if reconnect {
            EventBody::ReconnectFailed { pos }
        } else {
            EventBody::ConnectFailed { pos, code }
        };
        self.emit(at, outcome);
    }

    /// The link is up: report it and start the periodic battery reports.
    pub(super) fn establish(&mut self, at: Millis, session: Session, reconnect: bool) {
        let pos = session.pos.clone();
        self.emit(at, EventBody::Connected { pos: pos.clone(), via: session.via });
        if reconnect {
            self.emit(at, EventBody::ReconnectSucceeded { pos });
        }
        self.touch(at);
        self.conn = Conn::Connected { session };
        self.schedule_battery_report(at);
    }

    pub(super) fn disconnect_requested(&mut self, now: Millis) {
        match self.conn {
            Conn::Idle => {}
            _ => self.drop_connection(now, DisconnectReason::DisconnectRequested),
        }
    }

    /// The connection ends for `reason`; auto-reconnect starts if it may.
    pub(super) fn drop_connection(&mut self, at: Millis, reason: DisconnectReason) {
        let may_reconnect = reason.auto_reconnects();
        self.end_connection(at, reason, may_reconnect);
    }

    /// Ends whatever connection exists. A connect still in progress fails
    /// instead of disconnecting, since it never connected.
    pub(super) fn end_connection(&mut self, at: Millis, reason: DisconnectReason, reconnect: bool) {
        let session = match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Idle => return,
            Conn::Connecting { session, .. } | Conn::Pairing { session, .. } => {
                let code = self.link_lost_code(session.via);
                return self.emit(at, EventBody::ConnectFailed { pos: session.pos, code });
            }
            Conn::Updating { session, reconnect: was_reconnecting, .. } => {
                return self.interrupt_connect_update(at, session, was_reconnecting);
            }
            Conn::Reconnecting { session, deadline, .. } => {
                // Already disconnected: the reconnect carries on (or not).
                if reconnect || reason.auto_reconnects() {
                    self.conn = Conn::Reconnecting { session, deadline, attempt: None };
                } else {
                    self.emit(at, EventBody::ReconnectFailed { pos: session.pos });
                }
                return;
            }
            Conn::Connected { session } => session,
        };
        self.next_battery_report = None;
        // The SDK drives an optional install; without the link it stops.
        self.abandon_optional_install(at);
        let code = self.link_lost_code(session.via);
        self.fail_payment(at, code);
        let pos = session.pos.clone();
        self.emit(at, EventBody::Disconnected { pos: pos.clone(), reason });
        if reconnect && session.auto_reconnect {
            self.emit(at, EventBody::ReconnectStarted { pos, reason });
            let deadline = at + secs(self.profile.connection.reconnect_budget_s);
            self.conn = Conn::Reconnecting { session, deadline, attempt: None };
        }
    }

    /// The SDK error an operation in flight gets when the link drops.
    pub(super) fn link_lost_code(&self, via: LinkKind) -> TerminalErrorCode {
        match via {
            LinkKind::Ble => TerminalErrorCode::BluetoothDisconnected,
            LinkKind::Usb => TerminalErrorCode::UsbDisconnected,
            LinkKind::Lan => TerminalErrorCode::ReaderCommunicationError,
        }
    }

    /// Starts a reconnect attempt if one is wanted and the link is back.
    pub(super) fn try_reconnect(&mut self, now: Millis) {
        let Conn::Reconnecting { session, deadline, attempt: None } = &self.conn else {
            return;
        };
        if now >= *deadline || !self.reachable(session.via) {
            return;
        }
        let done_at = now + self.connect_duration();
        if let Conn::Reconnecting { attempt, .. } = &mut self.conn {
            *attempt = Some(done_at);
        }
    }

    pub(super) fn finish_reconnect_attempt(
        &mut self,
        at: Millis,
        session: Session,
        deadline: Millis,
    ) {
        // Pairing needs a person at the counter, which auto-reconnect is not.
        let unpaired = session.via == LinkKind::Ble && !self.links.paired;
        if self.connect_refusal(session.via).is_none() && !unpaired {
            if self.update_required_on_connect(at) {
                return self.start_connect_update(at, session, true);
            }
            return self.establish(at, session, true);
        }
        // Not yet: wait for the link to come back before trying again.
        self.conn = Conn::Reconnecting { session, deadline, attempt: None };
    }

    pub(super) fn give_up_reconnect(&mut self, at: Millis, session: Session) {
        self.conn = Conn::Idle;
        self.emit(at, EventBody::ReconnectFailed { pos: session.pos });
    }

    // --- the links ---------------------------------------------------------------

    pub(super) fn set_signal(&mut self, now: Millis, up: bool) {
        self.links.signal = up;
        if !up {
            self.drop_if_via(now, LinkKind::Ble, DisconnectReason::BluetoothSignalLost);
        }
    }

    pub(super) fn set_radio(&mut self, now: Millis, on: bool) {
        self.links.radio_on = on;
        if !on {
            self.drop_if_via(now, LinkKind::Ble, DisconnectReason::BluetoothDisabled);
        }
    }

    pub(super) fn set_usb(&mut self, now: Millis, attached: bool) {
        self.links.usb_attached = attached;
        if !attached {
            self.drop_if_via(now, LinkKind::Usb, DisconnectReason::UsbDisconnected);
        }
    }

    pub(super) fn set_lan(&mut self, now: Millis, up: bool) {
        self.links.lan_up = up;
        if !up {
            self.drop_if_via(now, LinkKind::Lan, DisconnectReason::Unknown);
        }
    }

    /// An unpaired Bluetooth connect pairs first: silently for readers
    /// without a ceremony, by numeric comparison for the WisePad 3, where a
    /// person must confirm the 6-digit code within `pairing_timeout_s`.
    fn pair(&mut self, at: Millis, session: Session) {
        match self.profile.pairing {
            Pairing::None => {
                self.links.paired = true;
                self.emit(at, EventBody::Paired { pos: session.pos.clone() });
                self.finish_connect(at, session);
            }
            Pairing::NumericComparison => {
                let code = pairing_code(&self.serial, at);
                self.emit(at, EventBody::PairingRequested { pos: session.pos.clone(), code });
                let deadline = at + secs(self.profile.connection.pairing_timeout_s);
                self.conn = Conn::Pairing { session, deadline };
            }
        }
    }

    pub(super) fn confirm_pairing(&mut self, now: Millis, accept: bool) -> Result<(), InputError> {
        if !matches!(self.conn, Conn::Pairing { .. }) {
            return Err(InputError::NoPairingRequested);
        }
        let Conn::Pairing { session, .. } = std::mem::replace(&mut self.conn, Conn::Idle) else {
            unreachable!("checked just above");
        };
        if accept {
            self.links.paired = true;
            self.emit(now, EventBody::Paired { pos: session.pos.clone() });
            self.finish_connect(now, session);
        } else {
            let code = TerminalErrorCode::Canceled;
            self.emit(now, EventBody::ConnectFailed { pos: session.pos, code });
        }
        Ok(())
    }

    pub(super) fn pairing_timed_out(&mut self, at: Millis, session: Session) {
        self.conn = Conn::Idle;
        let code = TerminalErrorCode::BluetoothConnectTimedOut;
        self.emit(at, EventBody::ConnectFailed { pos: session.pos, code });
    }

    pub(super) fn remove_pairing(&mut self, now: Millis) {
        self.links.paired = false;
        self.drop_if_via(now, LinkKind::Ble, DisconnectReason::BluetoothPeerRemovedPairing);
    }

    /// Drops the connection if it runs over `via`.
    fn drop_if_via(&mut self, at: Millis, via: LinkKind, reason: DisconnectReason) {
        let uses = match &self.conn {
            Conn::Idle => false,
            Conn::Connecting { session, .. }
            | Conn::Pairing { session, .. }
            | Conn::Updating { session, .. }
            | Conn::Connected { session }
            | Conn::Reconnecting { session, .. } => session.via == via,
        };
        if uses {
            self.drop_connection(at, reason);
        }
    }
}

/// The 6-digit code both screens show during numeric comparison. Derived from
/// the serial and the instant (FNV-1a), so a replay shows the same code and
/// the core needs no random generator.
fn pairing_code(serial: &str, at: Millis) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in serial.bytes().chain(at.0.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:06}", hash % 1_000_000)
}
