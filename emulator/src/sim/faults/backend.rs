//! Backend faults: the backend answers with HTTP errors, declines stored
//! payments when they are forwarded, fails to mint connection tokens or
//! mints them for another account. Each is armed on the ledger
//! ([`ArmedFault`]), which applies it to the calls that come.

use super::{Draw, FaultRates};
use crate::core::FaultKind;
use crate::core::backend::{ArmedFault, ForwardMatch, RequestKind};
use crate::sim::{FaultError, Sim};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A fault of the backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendFault {
    /// The backend answers the next `times` requests with `status`.
    HttpError { status: u16, request: Option<RequestKind>, times: u32 },
    /// The next `times` forwarded payments are declined with `decline_code`.
    DeclineOnSync { times: u32, decline_code: String },
    /// The connection-token provider fails `times` times.
    TokenProviderFailure { times: u32 },
    /// The next `times` connection tokens are for another account.
    AccountMismatch { times: u32 },
}

impl BackendFault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            BackendFault::HttpError { .. } => FaultKind::HttpError,
            BackendFault::DeclineOnSync { .. } => FaultKind::DeclineOnSync,
            BackendFault::TokenProviderFailure { .. } => FaultKind::TokenProviderFailure,
            BackendFault::AccountMismatch { .. } => FaultKind::AccountMismatch,
        }
    }

    /// What the ledger arms for it, and the detail its event records.
    fn armed(&self) -> (ArmedFault, String) {
        match self {
            BackendFault::HttpError { status, request, times } => (
                ArmedFault::HttpError { status: *status, only: *request, times: *times },
                format!("{status} x{times}"),
            ),
            BackendFault::DeclineOnSync { times, decline_code } => (
                ArmedFault::DeclineOnSync {
                    when: ForwardMatch::Any,
                    decline_code: decline_code.clone(),
                    times: Some(*times),
                },
                format!("{decline_code} x{times}"),
            ),
            BackendFault::TokenProviderFailure { times } => {
                (ArmedFault::TokenProviderFailure { times: *times }, format!("x{times}"))
            }
            BackendFault::AccountMismatch { times } => (
                ArmedFault::TokensFor {
                    account: "acct_other".to_owned(),
                    livemode: false,
                    times: Some(*times),
                },
                format!("x{times}"),
            ),
        }
    }
}

/// A busy day's HTTP errors (drawn right after the link faults).
pub(super) fn draw_http_errors(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.times(rates.http_error, |rng, _| {
        let status = [500, 502, 503, 429][rng.random_range(0..4)];
        let times = rng.random_range(1..4);
        (BackendFault::HttpError { status, request: None, times }.into(), None)
    });
}

/// A busy day's declines on sync and token failures.
pub(super) fn draw(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.times(rates.decline_on_sync, |rng, _| {
        let decline_code = ["insufficient_funds", "generic_decline"][rng.random_range(0..2)];
        let times = rng.random_range(1..4);
        (BackendFault::DeclineOnSync { times, decline_code: decline_code.to_owned() }.into(), None)
    });
    draw.times(rates.token_provider_failure, |rng, _| {
        (BackendFault::TokenProviderFailure { times: rng.random_range(1..4) }.into(), None)
    });
    draw.times(rates.account_mismatch, |_, _| {
        (BackendFault::AccountMismatch { times: 1 }.into(), None)
    });
}

impl Sim {
    pub(super) fn perform_backend(
        &mut self,
        fault: &BackendFault,
    ) -> Result<Option<String>, FaultError> {
        let (armed, detail) = fault.armed();
        let now = self.now;
        self.backend.arm(now, armed).map_err(|e| FaultError::Backend(e.to_string()))?;
        Ok(Some(detail))
    }
}
