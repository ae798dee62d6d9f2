//! Software updates (docs/domain.md §7).
//!
//! A required update (or an optional one past its deadline) installs while
//! the SDK connects a mobile reader and blocks use until done. Installing
//! needs strictly more than `min_battery_percent`, charging or not (incident
//! android-141). An install fails as interrupted when power or the link goes
//! during it, or with the reader or server error the offer was given. Smart
//! readers update themselves: a pending offer installs at their next reboot.

use super::{Conn, Power, Reader, Session};
use crate::error::TerminalErrorCode;
use crate::event::{EventBody, UpdateFailure};
use crate::time::{Millis, secs};
use std::time::Duration;

/// A software version offered by the update server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateOffer {
    /// The version that would be installed.
    pub version: String,
    /// Whether it must be installed before the reader can be used.
    pub required: bool,
    /// Injected fault: the install fails this way when it completes.
    pub fails_with: Option<UpdateFailure>,
    /// For optional offers, when they become required (set on arrival).
    pub deadline: Option<Millis>,
}

impl UpdateOffer {
    /// An offer of `version` that will install cleanly.
    pub fn new(version: impl Into<String>, required: bool) -> UpdateOffer {
        UpdateOffer { version: version.into(), required, fails_with: None, deadline: None }
    }
}

impl Reader {
    pub(super) fn offer_update(&mut self, now: Millis, mut offer: UpdateOffer) {
        if !offer.required {
            let days = self.profile.update.optional_deadline_days;
            offer.deadline = Some(now + Duration::from_secs(u64::from(days) * 86_400));
        }
        let (version, required, deadline_ms) =
            (offer.version.clone(), offer.required, offer.deadline);
        self.offer = Some(offer);
        self.emit(now, EventBody::UpdateAvailable { version, required, deadline_ms });
    }

    /// Whether connecting must install the pending offer first.
    pub(super) fn update_required_on_connect(&self, now: Millis) -> bool {
        self.profile.update.installs_on_connect
            && self
                .offer
                .as_ref()
                .is_some_and(|o| o.required || o.deadline.is_some_and(|d| now >= d))
    }

    fn battery_allows_update(&self) -> bool {
        self.battery_percent > self.profile.update.min_battery_percent
    }

    fn install_duration(&self) -> Duration {
        secs(self.profile.update.install_s)
    }

    /// A connect (or reconnect attempt) reached the reader and an update
    /// must go on before use.
    pub(super) fn start_connect_update(&mut self, at: Millis, session: Session, reconnect: bool) {
        let version = self.offer.as_ref().map(|o| o.version.clone()).unwrap_or_default();
        if !self.battery_allows_update() {
            // Incident android-141: the update fails and the reader is left
            // disconnected, with an error that says why.
            let code = TerminalErrorCode::ReaderSoftwareUpdateFailedBatteryLow;
            self.emit(at, EventBody::UpdateFailed { version, code });
            return self.abort_connect(at, session, reconnect, code);
        }
        self.emit(at, EventBody::UpdateStarted { version });
        let done_at = at + self.install_duration();
        self.conn = Conn::Updating { session, done_at, reconnect };
    }

    pub(super) fn finish_connect_update(&mut self, at: Millis, session: Session, reconnect: bool) {
        match self.complete_install(at) {
            Ok(()) => self.establish(at, session, reconnect),
            Err(code) => self.abort_connect(at, session, reconnect, code),
        }
    }

    /// Power or link lost while a connect-time update was installing.
    pub(super) fn interrupt_connect_update(
        &mut self,
        at: Millis,
        session: Session,
        reconnect: bool,
    ) {
        let code = TerminalErrorCode::ReaderSoftwareUpdateFailedInterrupted;
        let version = self.offer.as_ref().map(|o| o.version.clone()).unwrap_or_default();
        self.emit(at, EventBody::UpdateFailed { version, code });
        self.abort_connect(at, session, reconnect, code);
    }

    /// Installs the offer, or says why it failed. The offer stays pending on
    /// failure so the next connect tries again.
    fn complete_install(&mut self, at: Millis) -> Result<(), TerminalErrorCode> {
        let Some(offer) = self.offer.clone() else {
            return Ok(());
        };
        if let Some(failure) = offer.fails_with {
            let code = match failure {
                UpdateFailure::ReaderError => {
                    TerminalErrorCode::ReaderSoftwareUpdateFailedReaderError
                }
                UpdateFailure::ServerError => {
                    TerminalErrorCode::ReaderSoftwareUpdateFailedServerError
                }
            };
            self.emit(at, EventBody::UpdateFailed { version: offer.version, code });
            return Err(code);
        }
        self.software_version = offer.version.clone();
        self.offer = None;
        self.emit(at, EventBody::UpdateInstalled { version: offer.version });
        Ok(())
    }

    /// `installAvailableUpdate` while connected. With nothing offered it does
    /// nothing, as the SDK does.
    pub(super) fn install_optional_update(&mut self, now: Millis) {
        let Some(offer) = &self.offer else { return };
        let version = offer.version.clone();
        if let Err(code) = self.ready_for_request() {
            return self.emit(now, EventBody::UpdateRefused { version, code });
        }
        if !self.battery_allows_update() {
            let code = TerminalErrorCode::ReaderSoftwareUpdateFailedBatteryLow;
            return self.emit(now, EventBody::UpdateFailed { version, code });
        }
        self.emit(now, EventBody::UpdateStarted { version });
        self.installing = Some(now + self.install_duration());
    }

    pub(super) fn finish_optional_install(&mut self, at: Millis) {
        self.installing = None;
        self.touch(at);
        // Failures are reported by complete_install; the connection stays.
        let _ = self.complete_install(at);
    }

    /// Power or link went while an optional install ran.
    pub(super) fn abandon_optional_install(&mut self, at: Millis) {
        if self.installing.take().is_some() {
            let version = self.offer.as_ref().map(|o| o.version.clone()).unwrap_or_default();
            let code = TerminalErrorCode::ReaderSoftwareUpdateFailedInterrupted;
            self.emit(at, EventBody::UpdateFailed { version, code });
        }
    }

    /// Smart readers install what is pending while they reboot.
    pub(super) fn install_pending_on_reboot(&mut self, at: Millis) {
        if !self.profile.update.installs_on_connect
            && self.offer.is_some()
            && self.power == Power::On
        {
            let _ = self.complete_install(at);
        }
    }
}
