//! Link faults: an internet link (the POS's, or a smart reader's own) goes
//! down, flaps, slows down, swallows a request or loses an answer. The POS's
//! link to a mobile reader is the Bluetooth family's.

use super::{Draw, Fault, FaultRates, secs};
use crate::core::FaultKind;
use crate::core::LinkKind;
use crate::core::backend::RequestKind;
use crate::core::offline::Input as EngineInput;
use crate::core::reader::Input as ReaderInput;
use crate::sim::links::{LinkId, RequestFate, RequestRule};
use crate::sim::{Device, FaultError, Sim, Timer};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// A fault on a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkFault {
    /// The link is down until cleared.
    LinkDown { link: LinkId },
    /// The link goes down and up every few seconds until cleared.
    LinkFlapping { link: LinkId },
    /// The link is this much slower each way until cleared.
    Latency { link: LinkId, extra_ms: u64 },
    /// The `nth` matching request (1: the next) never arrives.
    RequestTimeout { link: LinkId, request: Option<RequestKind>, nth: u32 },
    /// The `nth` matching request the backend applies loses its answer.
    ResponseLost { link: LinkId, request: Option<RequestKind>, nth: u32 },
}

impl LinkFault {
    /// Its kind, as history names it.
    pub fn kind(&self) -> FaultKind {
        match self {
            LinkFault::LinkDown { .. } => FaultKind::LinkDown,
            LinkFault::LinkFlapping { .. } => FaultKind::LinkFlapping,
            LinkFault::Latency { .. } => FaultKind::Latency,
            LinkFault::RequestTimeout { .. } => FaultKind::RequestTimeout,
            LinkFault::ResponseLost { .. } => FaultKind::ResponseLost,
        }
    }

    /// The link it hits.
    pub fn link(&self) -> LinkId {
        match self {
            LinkFault::LinkDown { link }
            | LinkFault::LinkFlapping { link }
            | LinkFault::Latency { link, .. }
            | LinkFault::RequestTimeout { link, .. }
            | LinkFault::ResponseLost { link, .. } => *link,
        }
    }
}

/// A busy day's link faults on the internet links.
pub(super) fn draw(draw: &mut Draw<'_>, rates: &FaultRates) {
    draw.times(rates.link_down, |rng, rig| {
        let hold = secs(rng.random_range(20..1_800));
        (LinkFault::LinkDown { link: rig.internet_link(rng) }.into(), Some(hold))
    });
    draw.times(rates.link_flapping, |rng, rig| {
        let hold = secs(rng.random_range(60..600));
        (LinkFault::LinkFlapping { link: rig.internet_link(rng) }.into(), Some(hold))
    });
    draw.times(rates.latency, |rng, rig| {
        let extra_ms = rng.random_range(200..3_000);
        let hold = secs(rng.random_range(60..900));
        (LinkFault::Latency { link: rig.internet_link(rng), extra_ms }.into(), Some(hold))
    });
    draw.times(rates.response_lost, |rng, rig| {
        let request = rng.random_bool(0.7).then_some(RequestKind::ForwardOfflinePayment);
        let nth = rng.random_range(1..4);
        (LinkFault::ResponseLost { link: rig.internet_link(rng), request, nth }.into(), None)
    });
    draw.times(rates.request_timeout, |rng, rig| {
        let nth = rng.random_range(1..4);
        let link = rig.internet_link(rng);
        (LinkFault::RequestTimeout { link, request: None, nth }.into(), None)
    });
}

impl Sim {
    /// The link exists on this rig (a mobile reader has no internet link).
    pub(super) fn validate_link(&self, link: LinkId, fault: &Fault) -> Result<(), FaultError> {
        match link {
            LinkId::PosBackend => Ok(()),
            LinkId::PosReader(i) => self.validate_reader(i),
            LinkId::ReaderBackend(i) => {
                self.validate_reader(i)?;
                if self.links.contains_key(&link) {
                    Ok(())
                } else {
                    Err(FaultError::NotApplicable {
                        fault: fault.kind(),
                        target: self.device_target(Device::Reader(i)),
                        why: "a mobile reader has no internet link of its own",
                    })
                }
            }
        }
    }

    pub(super) fn perform_link(&mut self, fault: &LinkFault) -> Option<String> {
        let now = self.now;
        match fault {
            LinkFault::LinkDown { link } => {
                self.set_link(*link, false);
                None
            }
            LinkFault::LinkFlapping { link } => {
                self.links.get_mut(link).expect("validated").flapping = true;
                self.at(now, Timer::Flap(*link));
                None
            }
            LinkFault::Latency { link, extra_ms } => {
                self.links.get_mut(link).expect("validated").extra_ms = *extra_ms;
                Some(format!("+{extra_ms} ms"))
            }
            LinkFault::RequestTimeout { link, request, nth }
            | LinkFault::ResponseLost { link, request, nth } => {
                let fate = if matches!(fault, LinkFault::RequestTimeout { .. }) {
                    RequestFate::Swallowed
                } else {
                    RequestFate::ResponseLost
                };
                let rule = RequestRule { kind: *request, remaining: nth.saturating_sub(1), fate };
                self.links.get_mut(link).expect("validated").rules.push(rule);
                let which = request.map_or("any".to_owned(), |k| format!("{k:?}"));
                Some(format!("request #{nth} of {which}"))
            }
        }
    }

    pub(super) fn undo_link(&mut self, fault: &LinkFault) {
        match fault {
            // The link comes back unless the other of the two still holds
            // it: a flap keeps toggling, a `link_down` keeps it down.
            LinkFault::LinkDown { link } if !self.links[link].flapping => {
                self.set_link(*link, true);
            }
            LinkFault::LinkFlapping { link } => {
                self.links.get_mut(link).expect("validated").flapping = false;
                if !self.held_down(*link) {
                    self.set_link(*link, true);
                }
            }
            LinkFault::Latency { link, .. } => {
                self.links.get_mut(link).expect("validated").extra_ms = 0;
            }
            _ => {}
        }
    }

    /// Whether a `link_down` holds this link down.
    pub(crate) fn held_down(&self, link: LinkId) -> bool {
        self.active.contains_key(&(FaultKind::LinkDown, self.link_target(link)))
    }

    /// A request rule took effect on `link`: the history says so at the
    /// instant it happened, which is what the checker's quiet stretches need.
    pub(crate) fn request_fault_fired(&mut self, link: LinkId, fate: RequestFate, request: String) {
        let kind = match fate {
            RequestFate::Swallowed => FaultKind::RequestTimeout,
            RequestFate::ResponseLost => FaultKind::ResponseLost,
        };
        *self.faults.entry(kind).or_default() += 1;
        let body = crate::core::EventBody::FaultInjected {
            fault: kind,
            target: self.link_target(link),
            sustained: false,
            detail: Some(request),
        };
        let now = self.now;
        self.record(now, crate::core::Part("fault".to_owned()), body);
    }

    /// A link goes up or down, and whoever sits at its ends notices.
    pub(crate) fn set_link(&mut self, link: LinkId, up: bool) {
        let now = self.now;
        let Some(state) = self.links.get_mut(&link) else { return };
        if state.up == up {
            return;
        }
        state.up = up;
        self.backend_sees_link(link, up);
        match link {
            LinkId::PosBackend => {
                self.engine_input(Device::Pos, EngineInput::NetworkChanged { up });
            }
            LinkId::ReaderBackend(i) => {
                let _ = self.readers[i].reader.handle(now, ReaderInput::Internet { up });
                self.engine_input(Device::Reader(i), EngineInput::NetworkChanged { up });
            }
            LinkId::PosReader(i) => {
                let input = match self.readers[i].via {
                    LinkKind::Ble => ReaderInput::Signal { up },
                    LinkKind::Usb => ReaderInput::Usb { attached: up },
                    LinkKind::Lan => ReaderInput::Lan { up },
                };
                self.radio_link(i, up);
                let _ = self.readers[i].reader.handle(now, input);
            }
        }
    }
}
