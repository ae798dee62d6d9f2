//! The merchant's app: what it shows the merchant of the SDK's offline
//! work. Offline POS apps tell merchants at once, with the reason, of each
//! stored payment that fails when it is forwarded (insufficient funds, an
//! expired card): the customer has left, and the merchant must follow up.
//!
//! Sans-IO: the app (the simulator's, or the reference adapter's) passes
//! each SDK event through [`MerchantApp::notice`] and records what comes
//! back, on the part of the device whose SDK said it.

use crate::defect::{Defect, Defects};
use crate::event::{EventBody, MerchantNotice};
use crate::offline::OfflineId;
use std::collections::BTreeSet;

/// The merchant's app on one device: which payments it has shown.
#[derive(Clone, Debug, Default)]
pub struct MerchantApp {
    shown: BTreeSet<OfflineId>,
}

impl MerchantApp {
    /// The notice the app shows for an SDK event, if any: a stored payment
    /// forwarded with an error is shown once, with its reason (the issuer's
    /// decline code, else the error code), however often the SDK reports
    /// it. Defect `failed-sync-not-shown`: nothing is shown.
    pub fn notice(&mut self, body: &EventBody, defects: &Defects) -> Option<EventBody> {
        let EventBody::PaymentForwarded { offline_id, amount, error: Some(error), .. } = body
        else {
            return None;
        };
        if defects.has(Defect::FailedSyncNotShown) || !self.shown.insert(offline_id.clone()) {
            return None;
        }
        Some(EventBody::MerchantNotified {
            notice: MerchantNotice::SyncFailed,
            offline_id: offline_id.clone(),
            amount: *amount,
            reason: error.decline_code.clone().unwrap_or_else(|| error.code.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::ForwardError;
    use crate::{Currency, Money};

    fn forwarded(error: Option<ForwardError>) -> EventBody {
        EventBody::PaymentForwarded {
            offline_id: OfflineId("off_1".to_owned()),
            amount: Money::new(500, Currency::USD),
            intent: None,
            status: None,
            error,
        }
    }

    #[test]
    fn a_payment_declined_on_sync_is_shown_once_with_its_decline_code_and_a_charged_one_is_not() {
        let declined = ForwardError {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
        };
        let mut app = MerchantApp::default();
        let shown = app.notice(&forwarded(Some(declined.clone())), &Defects::none());
        match shown {
            Some(EventBody::MerchantNotified { notice, reason, .. }) => {
                assert_eq!(
                    (notice, reason.as_str()),
                    (MerchantNotice::SyncFailed, "insufficient_funds")
                );
            }
            other => panic!("a notice, not {other:?}"),
        }
        // Once per payment, however often the SDK reports it.
        assert_eq!(app.notice(&forwarded(Some(declined.clone())), &Defects::none()), None);
        assert_eq!(app.notice(&forwarded(None), &Defects::none()), None);
        let defect = Defects::of([Defect::FailedSyncNotShown]);
        assert_eq!(MerchantApp::default().notice(&forwarded(Some(declined)), &defect), None);
    }
}
