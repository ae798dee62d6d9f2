//! Power, battery and reboots (docs/domain.md §7).
//!
//! Battery classes follow the profile: critical at or below
//! `critical_percent`, low at or below `low_percent`. A connected reader whose
//! battery turns critical while not charging is disconnected (reason
//! `critically_low_battery`, and auto-reconnect does not follow); it stays on,
//! so a new connect fails with `READER_BATTERY_CRITICALLY_LOW` and discovery
//! still lists it (incident android-343). It powers off only when empty. The security reboot comes `security_period_h` after the last boot; a
//! requested reboot restarts that timer when the profile says so. A mobile
//! reader idle for `idle_after_h` and not charging powers itself down.

use super::{Conn, InputError, Power, Reader};
use crate::event::{BatteryStatus, DisconnectReason, EventBody, PowerOffCause, RebootKind};
use crate::time::{Millis, hours, secs};

impl Reader {
    pub(super) fn set_battery(
        &mut self,
        now: Millis,
        percent: u8,
        charging: bool,
    ) -> Result<(), InputError> {
        if percent > 100 {
            return Err(InputError::BatteryOutOfRange { percent });
        }
        let before = self.battery_status();
        self.battery_percent = percent;
        self.charging = charging;
        let status = self.battery_status();
        // The SDK hears about the battery only over a live connection.
        if self.profile.battery.reported && matches!(self.conn, Conn::Connected { .. }) {
            self.emit(now, EventBody::BatteryLevel { percent, charging, status });
            if status == BatteryStatus::Low && before == BatteryStatus::Nominal {
                self.emit(now, EventBody::BatteryLow { percent });
            }
        }
        if status == BatteryStatus::Critical && !charging {
            if percent == 0 {
                self.power_off(now, PowerOffCause::BatteryEmpty);
            } else if matches!(self.conn, Conn::Connected { .. } | Conn::Reconnecting { .. }) {
                self.drop_connection(now, DisconnectReason::CriticallyLowBattery);
            }
        }
        Ok(())
    }

    pub(super) fn schedule_battery_report(&mut self, at: Millis) {
        self.next_battery_report = (self.profile.battery.reported
            && matches!(self.conn, Conn::Connected { .. }))
        .then(|| at + secs(self.profile.battery.report_interval_s));
    }

    pub(super) fn report_battery(&mut self, at: Millis) {
        let (percent, charging, status) =
            (self.battery_percent, self.charging, self.battery_status());
        self.emit(at, EventBody::BatteryLevel { percent, charging, status });
        self.schedule_battery_report(at);
    }

    pub(super) fn power_off(&mut self, at: Millis, cause: PowerOffCause) {
        if self.power == Power::Off {
            return;
        }
        self.power = Power::Off;
        self.emit(at, EventBody::PoweredOff { cause });
        let reason = match cause {
            PowerOffCause::PowerLost => DisconnectReason::PoweredOff,
            PowerOffCause::BatteryEmpty => DisconnectReason::CriticallyLowBattery,
            PowerOffCause::Idle => DisconnectReason::IdlePowerDown,
        };
        self.drop_connection(at, reason);
        self.assert_nothing_in_flight();
        self.note_online_status(at);
    }

    pub(super) fn power_on(&mut self, now: Millis) {
        if self.power != Power::Off {
            return;
        }
        if self.battery_percent == 0 && !self.charging {
            // An empty reader does not start; nothing happens, as on the bench.
            return;
        }
        self.boot(now);
        self.emit(now, EventBody::PoweredOn);
    }

    fn boot(&mut self, at: Millis) {
        self.power = Power::On;
        self.touch(at);
        self.security_reboot_due = at + hours(self.profile.reboot.security_period_h);
        self.note_online_status(at);
    }

    pub(super) fn reboot_requested(&mut self, now: Millis) {
        if self.power == Power::On {
            self.start_reboot(now, RebootKind::Requested);
        }
    }

    pub(super) fn start_reboot(&mut self, at: Millis, kind: RebootKind) {
        let until = at + secs(self.profile.reboot.reboot_s);
        self.power = Power::Rebooting { until, kind };
        self.emit(at, EventBody::RebootStarted { kind });
        let reason = match kind {
            RebootKind::Requested => DisconnectReason::RebootRequested,
            RebootKind::Security => DisconnectReason::SecurityReboot,
        };
        self.drop_connection(at, reason);
        self.assert_nothing_in_flight();
        self.note_online_status(at);
    }

    pub(super) fn finish_reboot(&mut self, at: Millis, kind: RebootKind) {
        let keep_schedule =
            kind == RebootKind::Requested && !self.profile.reboot.requested_resets_timer;
        let due = self.security_reboot_due;
        self.boot(at);
        if keep_schedule {
            // The old deadline may have passed while rebooting: then it is now.
            self.security_reboot_due = due.max(at);
        }
        self.emit(at, EventBody::RebootFinished { kind });
        self.install_pending_on_reboot(at);
    }

    /// Payments and optional installs exist only over a connection, and
    /// ending the connection ends them; so once it is gone, nothing is left.
    fn assert_nothing_in_flight(&self) {
        debug_assert!(self.payment.is_none(), "a payment outlived its connection");
        debug_assert!(self.installing.is_none(), "an install outlived its connection");
    }

    /// Activity: the idle clock starts again.
    pub(super) fn touch(&mut self, at: Millis) {
        self.idle_since = Some(at);
    }

    /// Keeps `idle_since` true to its name after any change: cleared while
    /// the reader cannot sleep, started when it becomes able to. Counting from
    /// the last activity alone would put the deadline in the past when, say,
    /// charging stops eleven hours after the last payment.
    pub(super) fn refresh_idle(&mut self, at: Millis) {
        let can_sleep = self.power == Power::On
            && self.profile.reboot.idle_power_down
            && !self.charging
            && self.payment.is_none()
            && self.installing.is_none();
        self.idle_since = can_sleep.then(|| self.idle_since.unwrap_or(at));
    }

    /// When the idle power-down falls due, if it can.
    pub(super) fn idle_power_down_due(&self) -> Option<Millis> {
        let idle_after = hours(self.profile.reboot.idle_after_h);
        self.idle_since.map(|since| since + idle_after)
    }
}
