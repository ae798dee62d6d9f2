//! What only smart readers (S700, WisePOS E) do: registration with a
//! three-word code, their own internet connection, and the status the
//! backend's reader list shows, which lags reality (docs/domain.md §7).
//!
//! The registration code is chosen by the caller (the simulator draws it from
//! its seeded generator), so this module needs no randomness of its own.

use super::{Power, Reader};
use crate::error::TerminalErrorCode;
use crate::event::{EventBody, NetworkStatus};
use crate::profile::{Family, ReaderModel};
use crate::time::Millis;
use std::time::Duration;

/// A smart reader's registration to an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The `tmr_…` id the backend gave it.
    pub reader_id: String,
    /// The Location it belongs to.
    pub location: String,
    /// Its label.
    pub label: String,
}

/// Smart-reader state; inert on mobile readers.
#[derive(Clone, Debug)]
pub(super) struct SmartState {
    pub(super) registration: Option<Registration>,
    shown_code: Option<String>,
    internet_up: bool,
    /// When the reader's real online status changed, oldest first.
    status_log: Vec<(Millis, NetworkStatus)>,
}

impl SmartState {
    pub(super) fn new(now: Millis) -> SmartState {
        SmartState {
            registration: None,
            shown_code: None,
            internet_up: true,
            status_log: vec![(now, NetworkStatus::Online)],
        }
    }

    /// The status as it was `lag` before `now`: what a list fetched now shows.
    pub(super) fn listed_status(&self, now: Millis, lag: Duration) -> NetworkStatus {
        let lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        let seen_at = Millis(now.0.saturating_sub(lag_ms));
        self.status_log
            .iter()
            .rev()
            .find(|(t, _)| *t <= seen_at)
            .map_or(NetworkStatus::Unknown, |(_, s)| *s)
    }
}

/// The simulated registration code Stripe accepts for each smart model.
fn simulated_code(model: ReaderModel) -> Option<&'static str> {
    model.simulated_registration_code()
}

impl Reader {
    pub(super) fn set_internet(&mut self, now: Millis, up: bool) {
        if self.smart.internet_up != up {
            self.smart.internet_up = up;
            // Only a running reader notices; its listed status changes anyway.
            if self.power == Power::On {
                self.emit(now, EventBody::InternetChanged { up });
            }
            self.note_online_status(now);
        }
    }

    /// Records the real online status if it changed (power or internet).
    pub(super) fn note_online_status(&mut self, at: Millis) {
        let status = if self.power == Power::On && self.smart.internet_up {
            NetworkStatus::Online
        } else {
            NetworkStatus::Offline
        };
        if self.smart.status_log.last().map(|(_, s)| *s) != Some(status) {
            self.smart.status_log.push((at, status));
        }
    }

    pub(super) fn show_registration_code(&mut self, now: Millis, code: String) {
        if self.profile.family == Family::Smart && self.power == Power::On {
            self.smart.shown_code = Some(code.clone());
            self.emit(now, EventBody::RegistrationCodeShown { code });
        }
    }

    /// Registers the reader if `code` is the one on its screen, or the
    /// simulated code for its model.
    pub(super) fn register(&mut self, now: Millis, code: &str, location: String, label: String) {
        let refusal = if self.profile.family != Family::Smart {
            Some((
                TerminalErrorCode::UnsupportedOperation,
                "only smart readers register".to_owned(),
            ))
        } else if self.smart.shown_code.as_deref() != Some(code)
            && simulated_code(self.profile.model) != Some(code)
        {
            let message = format!("`{code}` is not the code this reader shows");
            Some((TerminalErrorCode::InvalidRequiredParameter, message))
        } else {
            None
        };
        if let Some((code, message)) = refusal {
            return self.emit(now, EventBody::RegistrationFailed { code, message });
        }
        // A code is good for one registration.
        self.smart.shown_code = None;
        let reader_id =
            format!("tmr_{}", self.serial.replace(|c: char| !c.is_ascii_alphanumeric(), ""));
        let registration = Registration { reader_id: reader_id.clone(), location, label };
        self.emit(
            now,
            EventBody::Registered {
                reader_id,
                location: registration.location.clone(),
                label: registration.label.clone(),
            },
        );
        self.smart.registration = Some(registration);
    }
}
