//! The offline engine's effects: the work it hands its shell ([`Effect`]) and
//! the outbox that queues them with the history events, shared by the engine
//! and the forwarder.

use super::{OfflineId, StoredPayment};
use crate::backend::ApiCall;
use crate::event::EventBody;
use crate::time::Millis;
use std::collections::VecDeque;

/// Work the engine asks its shell to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send this call to the backend; answer with [`Input::ApiReplied`] (or
    /// never, if it is lost).
    Call { call: u64, request: ApiCall },
    /// Append and sync this payment (group commit allowed); answer with
    /// [`Input::Persisted`] or [`Input::PersistFailed`].
    Persist { payment: StoredPayment },
    /// Durably mark this payment forwarded; answer with
    /// [`Input::MarkedForwarded`] or [`Input::MarkFailed`].
    MarkForwarded { offline_id: OfflineId },
}

/// Events and effects waiting for the shell, and the call counter.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) events: VecDeque<(Millis, EventBody)>,
    pub(super) effects: VecDeque<Effect>,
    next_call: u64,
}

impl Outbox {
    pub(super) fn event(&mut self, at: Millis, body: EventBody) {
        self.events.push_back((at, body));
    }

    pub(super) fn effect(&mut self, effect: Effect) {
        self.effects.push_back(effect);
    }

    /// Queues a call and returns its id.
    pub(super) fn call(&mut self, request: ApiCall) -> u64 {
        self.next_call += 1;
        let call = self.next_call;
        self.effects.push_back(Effect::Call { call, request });
        call
    }
}
