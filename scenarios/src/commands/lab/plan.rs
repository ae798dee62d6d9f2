//! Which bench hook performs a scenario's fault, and which one undoes it.
//! A fault no hook of the bench can do is skipped with the missing hook
//! named (`hooks.link_down.reader-backend.counter`), never faked.

use super::bench::{ByTarget, Hook, Hooks};
use readerlab_emulator::core::FaultKind;
use readerlab_emulator::sim::{BluetoothFault, Device, Fault, LinkFault, LinkId, PowerFault};
use std::time::Duration;

/// How a fault is done on the bench.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The hook that does it: its action and target.
    pub action: String,
    pub target: String,
    pub hook: Hook,
    /// The hook that undoes it, for a fault that holds until cleared.
    pub undo: Option<(String, Hook)>,
    /// A power loss: the reader is powered on again after this long.
    pub off_for: Option<Duration>,
    /// The history's name for the fault and its target.
    pub kind: FaultKind,
    pub part: String,
}

impl Hooks {
    /// The hook of an action (`power_off`, `link_down.pos-reader`, ...)
    /// for a target, if the bench has one.
    pub fn find(&self, action: &str, target: &str) -> Option<&Hook> {
        let map: &ByTarget = match action {
            "power_off" => &self.power_off,
            "power_on" => &self.power_on,
            "power_cycle" => &self.power_cycle,
            "reboot" => &self.reboot,
            "present_card" => &self.present_card,
            _ => {
                let (direction, link) = action.split_once('.')?;
                let links = match direction {
                    "link_down" => &self.link_down,
                    "link_up" => &self.link_up,
                    _ => return None,
                };
                links.each().into_iter().find(|(name, _)| *name == link)?.1
            }
        };
        map.get(target)
    }
}

/// The bench's readers as the scenario's rig numbers them: each one's
/// bench id and its history part (`reader/SERIAL`).
pub type Placed = [(String, String)];

/// How the bench does `fault`, or why it cannot (the scenario skips).
pub fn plan(hooks: &Hooks, readers: &Placed, fault: &Fault) -> Result<Plan, String> {
    let reader = |index: usize| -> Result<&(String, String), String> {
        readers.get(index).ok_or_else(|| format!("the rig has no reader #{index}"))
    };
    let (down, up, (target, part), off_for) = match fault {
        Fault::Link(LinkFault::LinkDown { link }) => {
            let (name, who) = match link {
                LinkId::PosBackend => ("pos-backend", ("pos".to_owned(), "pos".to_owned())),
                LinkId::ReaderBackend(i) => ("reader-backend", reader(*i)?.clone()),
                LinkId::PosReader(i) => ("pos-reader", reader(*i)?.clone()),
            };
            (format!("link_down.{name}"), Some(format!("link_up.{name}")), who, None)
        }
        // A lost signal is the POS-to-reader link going down.
        Fault::Bluetooth(BluetoothFault::SignalLost { reader: i }) => (
            "link_down.pos-reader".to_owned(),
            Some("link_up.pos-reader".to_owned()),
            reader(*i)?.clone(),
            None,
        ),
        Fault::Power(PowerFault::ReaderReboot { reader: i }) => {
            ("reboot".to_owned(), None, reader(*i)?.clone(), None)
        }
        Fault::Power(PowerFault::PowerLoss {
            device: Device::Reader(i),
            torn,
            mid_write,
            off_for,
        }) => {
            if *torn > 0 || *mid_write {
                return Err("a torn or interrupted write cannot be made by a bench hook: the \
                            lab target powers readers off between writes only"
                    .to_owned());
            }
            (
                "power_off".to_owned(),
                Some("power_on".to_owned()),
                reader(*i)?.clone(),
                Some(*off_for),
            )
        }
        other => {
            return Err(format!(
                "the lab target has no hook for `{}` (a bench can power readers off and on, \
                 reboot them and take links down and up: docs/lab.md)",
                other.kind().name()
            ));
        }
    };
    let missing = |action: &str| format!("the bench has no hook `hooks.{action}.{target}`");
    let hook = hooks.find(&down, &target).ok_or_else(|| missing(&down))?.clone();
    let undo = match up {
        Some(up) => {
            Some((up.clone(), hooks.find(&up, &target).ok_or_else(|| missing(&up))?.clone()))
        }
        None => None,
    };
    Ok(Plan { action: down, target, hook, undo, off_for, kind: fault.kind(), part })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> Hooks {
        let text = r#"
            [[reader]]
            id = "counter"
            model = "s700"
            lan = "http://127.0.0.1:1/lan"
            [hooks.link_down.reader-backend]
            counter = { run = "true", timeout_s = 1 }
            [hooks.link_up.reader-backend]
            counter = { run = "true", timeout_s = 1 }
            [hooks.reboot]
            counter = { run = "true", timeout_s = 1 }
        "#;
        super::super::bench::parse("bench.toml", text).unwrap().hooks
    }

    #[test]
    fn a_fault_is_done_by_its_hook_and_undone_by_the_other() {
        let readers = [("counter".to_owned(), "reader/STRS7-0001".to_owned())];
        let down = Fault::Link(LinkFault::LinkDown { link: LinkId::ReaderBackend(0) });
        let down = plan(&hooks(), &readers, &down).unwrap();
        assert_eq!(down.action, "link_down.reader-backend");
        assert_eq!(down.undo.as_ref().map(|u| u.0.as_str()), Some("link_up.reader-backend"));
        assert_eq!(down.part, "reader/STRS7-0001");
        let reboot = Fault::Power(PowerFault::ReaderReboot { reader: 0 });
        assert_eq!(plan(&hooks(), &readers, &reboot).unwrap().undo, None);
    }

    #[test]
    fn what_the_bench_lacks_is_named() {
        let readers = [("counter".to_owned(), "reader/STRS7-0001".to_owned())];
        let pos = Fault::Link(LinkFault::LinkDown { link: LinkId::PosBackend });
        assert_eq!(
            plan(&hooks(), &readers, &pos).unwrap_err(),
            "the bench has no hook `hooks.link_down.pos-backend.pos`"
        );
        let torn = Fault::Power(PowerFault::PowerLoss {
            device: Device::Reader(0),
            torn: 1,
            mid_write: false,
            off_for: Duration::from_secs(1),
        });
        assert!(plan(&hooks(), &readers, &torn).unwrap_err().contains("torn"));
        let wipe = Fault::Power(PowerFault::AppDataWiped { device: Device::Pos });
        assert!(plan(&hooks(), &readers, &wipe).unwrap_err().contains("no hook for"));
    }
}
