//! The backend's injectable faults (docs/design.md §5, backend part): decline
//! on sync, a failing connection-token provider, HTTP 5xx/429 before a request
//! is applied, and tokens minted for another account or mode.
//!
//! The simulator arms them; the ledger asks, request by request, whether one
//! fires. Faults fire in the order they were armed, and each counts down its
//! `times`. A lost response after the request was applied is not here: that
//! is a link fault the simulator performs itself, and the idempotency keys
//! make the retry safe.

use crate::backend::api::RequestKind;
use crate::money::Money;
use crate::offline::StoredPayment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One fault to arm on the backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArmedFault {
    /// Forwarded payments that `when` matches are declined by the issuer
    /// with `decline_code`, whatever the card would have done; `times`
    /// forwards, or every matching one when `None`.
    DeclineOnSync { when: ForwardMatch, decline_code: String, times: Option<u32> },
    /// The next `times` connection-token creations fail with a 500 (the SDK
    /// reports CONNECTION_TOKEN_PROVIDER_ERROR_WHILE_FORWARDING).
    TokenProviderFailure { times: u32 },
    /// The next `times` requests (of kind `only`, or any) are answered with
    /// `status`, a 5xx or 429, before anything is applied.
    HttpError { status: u16, only: Option<RequestKind>, times: u32 },
    /// Connection tokens are minted for `account` in `livemode` instead of
    /// the configured account: `times` tokens, or all when `None`. Forwards
    /// authorized by them meet the account and mode checks.
    TokensFor { account: String, livemode: bool, times: Option<u32> },
}

/// Which forwarded payments a decline on sync hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum ForwardMatch {
    /// Every forward.
    Any,
    /// Cards ending in these four digits.
    CardLast4 { last4: String },
    /// Payments of exactly this amount.
    Amount { amount: Money },
}

impl ForwardMatch {
    fn matches(&self, payment: &StoredPayment) -> bool {
        match self {
            ForwardMatch::Any => true,
            ForwardMatch::CardLast4 { last4 } => payment.card.number.last4() == *last4,
            ForwardMatch::Amount { amount } => payment.amount == *amount,
        }
    }
}

/// A fault that cannot be armed as given.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidFault {
    /// `HttpError` with a status that is neither 5xx, 429 nor 409.
    #[error("HTTP fault status {0} is neither a 5xx, 429 nor 409")]
    NotAnHttpFaultStatus(u16),
    /// A count of zero would arm a fault that never fires.
    #[error("a fault armed for zero times never fires")]
    ZeroTimes,
    /// A decline on sync needs a decline code.
    #[error("a decline on sync needs a decline code")]
    EmptyDeclineCode,
    /// A card match is the last four digits, nothing else: a longer value
    /// would never match and would put card digits in the history.
    #[error("a card match takes exactly the last four digits")]
    NotLast4,
}

impl ArmedFault {
    fn validate(&self) -> Result<(), InvalidFault> {
        let times = match self {
            ArmedFault::DeclineOnSync { decline_code, times, .. } => {
                if decline_code.is_empty() {
                    return Err(InvalidFault::EmptyDeclineCode);
                }
                if let ArmedFault::DeclineOnSync { when: ForwardMatch::CardLast4 { last4 }, .. } =
                    self
                    && !(last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(InvalidFault::NotLast4);
                }
                *times
            }
            ArmedFault::TokenProviderFailure { times } => Some(*times),
            ArmedFault::HttpError { status, times, .. } => {
                if !(*status == 409 || *status == 429 || (500..=599).contains(status)) {
                    return Err(InvalidFault::NotAnHttpFaultStatus(*status));
                }
                Some(*times)
            }
            ArmedFault::TokensFor { times, .. } => *times,
        };
        if times == Some(0) {
            return Err(InvalidFault::ZeroTimes);
        }
        Ok(())
    }

    fn times(&self) -> Option<u32> {
        match self {
            ArmedFault::DeclineOnSync { times, .. } | ArmedFault::TokensFor { times, .. } => *times,
            ArmedFault::TokenProviderFailure { times } | ArmedFault::HttpError { times, .. } => {
                Some(*times)
            }
        }
    }
}

#[derive(Debug)]
struct Armed {
    fault: ArmedFault,
    /// Firings left; `None` fires forever.
    left: Option<u32>,
}

/// The armed faults, in arming order.
#[derive(Debug, Default)]
pub(crate) struct ArmedFaults {
    armed: Vec<Armed>,
}

impl ArmedFaults {
    pub(crate) fn arm(&mut self, fault: ArmedFault) -> Result<(), InvalidFault> {
        fault.validate()?;
        let left = fault.times();
        self.armed.push(Armed { fault, left });
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    pub(crate) fn armed(&self) -> impl Iterator<Item = &ArmedFault> {
        self.armed.iter().map(|a| &a.fault)
    }

    /// The first armed fault `pick` accepts fires: its count goes down (and
    /// it is disarmed at zero) and `pick`'s answer is returned with it.
    fn fire<T>(
        &mut self,
        mut pick: impl FnMut(&ArmedFault) -> Option<T>,
    ) -> Option<(ArmedFault, T)> {
        let index = self.armed.iter().position(|a| pick(&a.fault).is_some())?;
        let armed = &mut self.armed[index];
        let answer = pick(&armed.fault)?;
        let fault = armed.fault.clone();
        if let Some(left) = &mut armed.left {
            *left -= 1;
            if *left == 0 {
                self.armed.remove(index);
            }
        }
        Some((fault, answer))
    }

    /// An HTTP status to answer a request of `kind` with, before applying it.
    pub(crate) fn http_error(&mut self, kind: RequestKind) -> Option<(ArmedFault, u16)> {
        self.fire(|fault| match fault {
            ArmedFault::HttpError { status, only, .. } if only.is_none_or(|k| k == kind) => {
                Some(*status)
            }
            _ => None,
        })
    }

    /// Whether this connection-token creation fails.
    pub(crate) fn token_provider_failure(&mut self) -> Option<ArmedFault> {
        self.fire(|fault| matches!(fault, ArmedFault::TokenProviderFailure { .. }).then_some(()))
            .map(|(fault, ())| fault)
    }

    /// The account and mode to mint the next token for, if a fault says.
    pub(crate) fn token_binding(&mut self) -> Option<(ArmedFault, (String, bool))> {
        self.fire(|fault| match fault {
            ArmedFault::TokensFor { account, livemode, .. } => Some((account.clone(), *livemode)),
            _ => None,
        })
    }

    /// The decline code a forward of `payment` meets, if a fault says.
    pub(crate) fn decline_on_sync(
        &mut self,
        payment: &StoredPayment,
    ) -> Option<(ArmedFault, String)> {
        self.fire(|fault| match fault {
            ArmedFault::DeclineOnSync { when, decline_code, .. } if when.matches(payment) => {
                Some(decline_code.clone())
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn http(status: u16, times: u32) -> ArmedFault {
        ArmedFault::HttpError { status, only: None, times }
    }

    #[test]
    fn a_fault_fires_its_count_then_disarms() {
        let mut faults = ArmedFaults::default();
        faults.arm(http(503, 2)).unwrap();
        assert_eq!(faults.http_error(RequestKind::CreatePaymentIntent).map(|f| f.1), Some(503));
        assert_eq!(faults.http_error(RequestKind::CreatePaymentIntent).map(|f| f.1), Some(503));
        assert_eq!(faults.http_error(RequestKind::CreatePaymentIntent), None);
        assert_eq!(faults.armed().count(), 0);
    }

    #[test]
    fn faults_fire_in_arming_order_and_respect_their_filter() {
        let mut faults = ArmedFaults::default();
        let only_forwards = ArmedFault::HttpError {
            status: 500,
            only: Some(RequestKind::ForwardOfflinePayment),
            times: 1,
        };
        faults.arm(only_forwards).unwrap();
        faults.arm(http(429, 1)).unwrap();
        assert_eq!(faults.http_error(RequestKind::CreateConnectionToken).map(|f| f.1), Some(429));
        assert_eq!(faults.http_error(RequestKind::ForwardOfflinePayment).map(|f| f.1), Some(500));
        assert_eq!(faults.http_error(RequestKind::ForwardOfflinePayment), None);
    }

    #[rstest]
    #[case::not_an_error(http(200, 1), InvalidFault::NotAnHttpFaultStatus(200))]
    #[case::client_error(http(404, 1), InvalidFault::NotAnHttpFaultStatus(404))]
    #[case::zero(http(500, 0), InvalidFault::ZeroTimes)]
    #[case::zero_tokens(ArmedFault::TokenProviderFailure { times: 0 }, InvalidFault::ZeroTimes)]
    #[case::no_code(
        ArmedFault::DeclineOnSync { when: ForwardMatch::Any, decline_code: String::new(), times: None },
        InvalidFault::EmptyDeclineCode
    )]
    #[case::full_number(
        ArmedFault::DeclineOnSync {
            when: ForwardMatch::CardLast4 { last4: "4242424242424242".into() },
            decline_code: "insufficient_funds".into(),
            times: None,
        },
        InvalidFault::NotLast4
    )]
    fn faults_that_could_not_fire_as_meant_are_refused(
        #[case] fault: ArmedFault,
        #[case] error: InvalidFault,
    ) {
        assert_eq!(ArmedFaults::default().arm(fault), Err(error));
    }
}
