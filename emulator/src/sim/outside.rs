//! An outside POS (docs/driver-protocol.md): an adapter process plays the
//! POS, and this is all the rig sees of it. Its calls to the backend cross
//! the POS's internet link like the reference POS's calls do, so the same
//! faults hit them: a link that is down, a request that never arrives, an
//! answer lost after the backend applied the request. What it says to the
//! harness is recorded as the POS's events.

use super::Sim;
use super::links::{LinkId, RequestFate};
use crate::core::backend::{ApiCall, ApiReply, RequestKind};
use crate::core::{EventBody, Part};

/// Why an outside POS's event was not recorded.
#[derive(Debug, thiserror::Error)]
#[error(
    "only an outside POS's events (pos.session.started, pos.payment.*, pos.sdk.error, pos.reader.battery) and its SDK's (payment.intent.created, payment.succeeded/declined/failed, payment.request.refused, payment.fell_back_offline, offline.payment.stored/forwarded/unreadable, offline.forward.attempted, offline.forwarding.failed, offline.status.changed, offline.connect.refused, offline.store.recovered) can be recorded for it, not `{0}`"
)]
pub struct NotPosEvent(pub String);

impl Sim {
    /// Runs a call the outside POS made, across the POS's internet link.
    /// `None`: no answer reaches the POS (the link is down, the request was
    /// swallowed, or its answer was lost after the backend applied it).
    pub fn pos_call(&mut self, mut call: ApiCall) -> Option<ApiReply> {
        self.open_sealed(&mut call.request);
        let kind = call.request.kind();
        let link = self.links.get_mut(&LinkId::PosBackend).expect("every rig has the POS's link");
        if !link.up {
            return None;
        }
        if link.meets(kind, RequestFate::Swallowed) {
            self.request_fault_fired(
                LinkId::PosBackend,
                RequestFate::Swallowed,
                format!("{kind:?}"),
            );
            return None;
        }
        let reply = self.backend_call(call);
        if kind == RequestKind::CreateConnectionToken
            && let ApiReply::Ok(token) = &reply
            && let Some(secret) = token.get("secret").and_then(|s| s.as_str())
        {
            self.pos_tokens.insert(secret.to_owned());
        }
        let applied = reply.applied();
        let link = self.links.get_mut(&LinkId::PosBackend).expect("checked above");
        if applied && link.meets(kind, RequestFate::ResponseLost) {
            let detail = format!("{kind:?}");
            self.request_fault_fired(LinkId::PosBackend, RequestFate::ResponseLost, detail);
            return None;
        }
        Some(reply)
    }

    /// Whether `token` is a connection token the outside POS minted: an
    /// SDK authenticates its calls with one.
    pub fn is_pos_token(&self, token: &str) -> bool {
        self.pos_tokens.contains(token)
    }

    /// Whether the POS's internet link is up now (what its device's
    /// operating system reports, `device.network`).
    pub fn pos_internet_up(&self) -> bool {
        self.links.get(&LinkId::PosBackend).is_some_and(|link| link.up)
    }

    /// Records what the outside POS said (a `pos.*` event, or one of its
    /// SDK's own events) now.
    pub fn record_pos(&mut self, body: EventBody) -> Result<(), NotPosEvent> {
        may_record(&body)?;
        let now = self.now;
        self.record(now, Part::pos(), body);
        Ok(())
    }
}

/// Whether an outside POS may record `body` as its own: a `pos.*` event,
/// or one of its SDK's (the served rig and the lab target both ask).
pub fn may_record(body: &EventBody) -> Result<(), NotPosEvent> {
    let outside = matches!(
        body,
        EventBody::PosSessionStarted { .. }
            | EventBody::PosPaymentRequested { .. }
            | EventBody::PosPaymentStarted { .. }
            | EventBody::PosPaymentRefused { .. }
            | EventBody::PosPaymentEnded { .. }
            | EventBody::PosSdkError { .. }
            | EventBody::PosReaderBattery { .. }
    );
    if outside || is_sdk_event(body) { Ok(()) } else { Err(NotPosEvent(body.name())) }
}

/// The events an SDK writes in process (docs/history.md, "Offline mode"),
/// which an outside SDK may have recorded as its own (`sdk.event`).
fn is_sdk_event(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::SdkIntentCreated { .. }
            | EventBody::SdkPaymentFailed { .. }
            | EventBody::SdkRequestRefused { .. }
            | EventBody::FellBackOffline { .. }
            | EventBody::SdkPaymentSucceeded { .. }
            | EventBody::SdkPaymentDeclined { .. }
            | EventBody::OfflinePaymentStored { .. }
            | EventBody::ForwardAttempted { .. }
            | EventBody::PaymentForwarded { .. }
            | EventBody::PaymentUnreadable { .. }
            | EventBody::ForwardingFailed { .. }
            | EventBody::OfflineStatusChanged { .. }
            | EventBody::OfflineConnectRefused { .. }
            | EventBody::StoreRecovered { .. }
            | EventBody::MerchantNotified { .. }
    )
}
