//! The rig's timers: what each one does when it falls due (a notice or
//! command arriving, a placed fault injected or cleared, power coming back,
//! a flapping link toggling, a customer arriving, a card presented, a
//! watchdog, a carried call leaving, an answer).

use super::{Sim, Timer};
use crate::core::reader::Input as ReaderInput;
use rand::RngExt;
use std::time::Duration;

impl Sim {
    pub(super) fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Notice(index, body) => self.deliver_notice(index, *body),
            Timer::Command(index, input) => self.deliver_command(index, *input),
            Timer::Inject(fault, holds_for) => {
                let sustained = fault.is_sustained();
                if self.inject(fault.clone()).is_ok()
                    && sustained
                    && let Some(hold) = holds_for
                {
                    let at = self.now + hold;
                    self.at(at, Timer::Clear(fault));
                }
            }
            Timer::Clear(fault) => self.clear(&fault),
            Timer::PowerOn(device) => self.power_on(device),
            Timer::Flap(link) => {
                let flapping = self.links.get(&link).is_some_and(|l| l.flapping);
                if flapping {
                    // A link held down by a `link_down` stays down.
                    let up = !self.links[&link].up && !self.held_down(link);
                    self.set_link(link, up);
                    let wait = self.rng.random_range(2_000..20_000);
                    let at = self.now + Duration::from_millis(wait);
                    self.at(at, Timer::Flap(link));
                }
            }
            Timer::Arrive(spec) => self.arrive(*spec),
            Timer::PresentCard { payment } => self.present_card(&payment),
            Timer::RemoveCard(index) => {
                let now = self.now;
                let _ = self.readers[index].reader.handle(now, ReaderInput::RemoveCard);
            }
            Timer::Watchdog { payment } => self.watchdog(&payment),
            Timer::Wake => {}
            Timer::Carry(outgoing) => {
                // A call that left before its link went down is lost with it.
                if self.links[&outgoing.link].up {
                    self.outgoing.push(outgoing);
                } else {
                    self.awaiting.remove(&outgoing.id);
                }
            }
            Timer::Answer(waiting, reply) => self.answer(waiting, reply),
        }
    }
}
