//! The Rig abstraction (docs/design.md §2): what a scenario step can ask of
//! a rig, whoever plays its parts.
//!
//! A [`Target`] says which parts are emulated and which capabilities that
//! gives ([`Capability`]); [`Target::start`] builds a [`Rig`] from a
//! [`RigSpec`]. Steps speak only to [`Rig`]: they place customers and faults,
//! let time pass, and read the history. Assertions read the history alone
//! (the contract), so they judge any target alike. A step that needs a
//! capability the target lacks makes its scenario skip with the reason.
//!
//! Three targets exist: [`SimTarget`] (in process), [`ServedTarget`] (a
//! `readerlab serve` reached through its sockets, `served.rs`) and the lab
//! target (`commands/lab/target.rs`: a bench of physical readers, real
//! time), which implements the same two traits.

mod external;
mod pos;
mod served;

pub(crate) use external::{Told, check_capabilities, collect_answer, collect_request, told};
pub use pos::{InProcessPos, Pos, RigAccess};
pub use served::{ProbeRig, ServedTarget};

/// The panic payload of a step the target cannot do: the collector turns it
/// into a skipped scenario with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped(pub String);

/// The panic payload of a step that failed because the bench did (a lab
/// hook that failed or timed out): the scenario fails as a bench error,
/// not as a failure of the SDK under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchError(pub String);

use readerlab_emulator::core::Event;
use readerlab_emulator::sim::{Fault, PaymentSpec, RigSpec, Sim};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a target can do. Steps declare what they need; scenarios can say so
/// up front with `@needs:<capability>` tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Time is virtual: days pass in an instant.
    VirtualTime,
    /// Links can be cut, slowed and made to flap.
    NetworkFaults,
    /// The n-th request of a kind can time out or lose its answer.
    RequestFaults,
    /// Devices can lose power, with unsynced writes lost.
    Power,
    /// The POS app can be killed, restarted, upgraded, its data wiped.
    AppLifecycle,
    /// A device can be locked (keys unavailable).
    DeviceLock,
    /// A reader's battery level can be set.
    Battery,
    /// Bluetooth radio, signal and USB cable can be cut.
    ReaderLinks,
    /// A reader can be offered a required software update.
    SoftwareUpdates,
    /// Storage can fill up, records can be damaged.
    StorageFaults,
    /// The backend can decline on sync, fail tokens, answer with errors.
    BackendFaults,
    /// Defect profiles can be switched on in the code under test.
    Defects,
    /// The POS's requests to the backend take rig time on their way, so a
    /// fault can land while one is in flight (an outside POS's take none:
    /// the rig does not move while it works).
    CallsInFlight,
}

impl Capability {
    /// Every capability, in the order `readerlab steps` lists them.
    pub const ALL: [Capability; 13] = [
        Capability::VirtualTime,
        Capability::NetworkFaults,
        Capability::RequestFaults,
        Capability::Power,
        Capability::AppLifecycle,
        Capability::DeviceLock,
        Capability::Battery,
        Capability::ReaderLinks,
        Capability::SoftwareUpdates,
        Capability::StorageFaults,
        Capability::BackendFaults,
        Capability::Defects,
        Capability::CallsInFlight,
    ];

    /// The name `@needs:` tags use.
    pub fn name(self) -> &'static str {
        match self {
            Capability::VirtualTime => "virtual-time",
            Capability::NetworkFaults => "network-faults",
            Capability::RequestFaults => "request-faults",
            Capability::Power => "power",
            Capability::AppLifecycle => "app-lifecycle",
            Capability::DeviceLock => "device-lock",
            Capability::Battery => "battery",
            Capability::ReaderLinks => "reader-links",
            Capability::SoftwareUpdates => "software-updates",
            Capability::StorageFaults => "storage-faults",
            Capability::BackendFaults => "backend-faults",
            Capability::Defects => "defects",
            Capability::CallsInFlight => "calls-in-flight",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Capability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            let known: Vec<_> = Capability::ALL.iter().map(|c| c.name()).collect();
            format!("unknown capability `{s}` (known: {})", known.join(", "))
        })
    }
}

/// Why a target could not start a rig.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The rig as specified cannot be built (no reader, two mobile readers,
    /// a link the model lacks, a store that cannot be opened).
    #[error(transparent)]
    Rig(#[from] readerlab_emulator::sim::RigError),
    /// The served rig's temporary data or key directory could not be made.
    #[error("a temporary directory for the served rig: {0}")]
    DataDir(std::io::Error),
    /// The served rig's server did not start.
    #[error(transparent)]
    Server(#[from] readerlab_emulator::serve::server::StartError),
    /// The POS adapter cannot drive this rig (a model or capability it
    /// did not declare): the scenario is skipped with this reason.
    #[error("{0}")]
    Unsupported(String),
    /// The POS adapter failed to start or to answer `session.new`.
    #[error("{0}")]
    Pos(String),
}

/// Why a fault was not performed.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    /// The rig refused it (no such reader, not applicable, no effect now).
    #[error(transparent)]
    Refused(#[from] readerlab_emulator::sim::FaultError),
    /// The served rig's control API refused it or could not be reached.
    #[error(transparent)]
    Control(#[from] readerlab_emulator::serve::client::ControlError),
}

/// Who plays the rig's parts.
pub trait Target: fmt::Debug + Send + Sync {
    /// The name `--target` takes.
    fn name(&self) -> &'static str;
    /// What this target can do.
    fn capabilities(&self) -> BTreeSet<Capability>;
    /// Builds and starts a rig.
    fn start(&self, spec: RigSpec) -> Result<Box<dyn Rig>, StartError>;
    /// The flags beyond `--target` that a replay line needs to play the
    /// rig the same way (` --pos '...'`), each with its leading space.
    fn replay_flags(&self) -> String {
        String::new()
    }
    /// How many scenarios may run at once (`None`: as many as the runner
    /// likes). A target on shared hardware, one radio say, says 1.
    fn max_concurrent(&self) -> Option<usize> {
        None
    }
}

/// A running rig, as steps see it.
pub trait Rig: fmt::Debug {
    /// A customer arrives at the counter (now, or at `spec.at` if later).
    fn pay(&mut self, payment: PaymentSpec);
    /// Performs a fault now.
    fn inject(&mut self, fault: Fault) -> Result<(), InjectError>;
    /// Ends a sustained fault.
    fn clear(&mut self, fault: &Fault);
    /// Lets `span` of time pass.
    fn wait(&mut self, span: Duration);
    /// Lets time pass until an event satisfies `until` (one already in the
    /// history counts), for at most `cap`; tells whether one did.
    fn wait_for(&mut self, cap: Duration, until: &mut dyn FnMut(&Event) -> bool) -> bool;
    /// The history so far.
    fn events(&self) -> &[Event];
    /// Ends the run: every fault cleared, the queues drained, storage
    /// scanned, `rig.finished` recorded. Returns the whole history.
    fn finish(self: Box<Self>) -> Vec<Event>;
    /// [`Rig::finish`], with the log of whoever played the POS outside
    /// readerlab (an adapter's stderr; empty otherwise).
    fn finish_with_log(self: Box<Self>) -> (Vec<Event>, Vec<String>) {
        (self.finish(), Vec::new())
    }
}

/// The deterministic simulator: every part emulated, in process, on virtual
/// time. It can do everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTarget;

/// How much virtual time the final drain of a scenario may take.
const SIM_DRAIN_CAP: Duration = Duration::from_secs(6 * 3_600);

impl Target for SimTarget {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn capabilities(&self) -> BTreeSet<Capability> {
        Capability::ALL.into_iter().collect()
    }

    fn start(&self, spec: RigSpec) -> Result<Box<dyn Rig>, StartError> {
        Ok(Box::new(SimRig(Sim::new(spec)?)))
    }
}

/// A [`Sim`] behind the [`Rig`] trait.
#[derive(Debug)]
struct SimRig(Sim);

impl Rig for SimRig {
    fn pay(&mut self, payment: PaymentSpec) {
        self.0.pay(payment);
    }

    fn inject(&mut self, fault: Fault) -> Result<(), InjectError> {
        Ok(self.0.inject(fault)?)
    }

    fn clear(&mut self, fault: &Fault) {
        self.0.clear(fault);
    }

    fn wait(&mut self, span: Duration) {
        self.0.run_for(span);
    }

    fn wait_for(&mut self, cap: Duration, until: &mut dyn FnMut(&Event) -> bool) -> bool {
        self.0.run_until_event(cap, until)
    }

    fn events(&self) -> &[Event] {
        self.0.events()
    }

    fn finish(self: Box<Self>) -> Vec<Event> {
        self.0.finish(SIM_DRAIN_CAP).events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_round_trip() {
        for capability in Capability::ALL {
            assert_eq!(capability.name().parse::<Capability>(), Ok(capability));
        }
        assert!("teleport".parse::<Capability>().unwrap_err().contains("virtual-time"));
    }
}
