//! One offline device of the rig (the POS app with its SDK, or a smart
//! reader's own offline engine) together with what outlives it: its disk,
//! its keychain and the SDK's session.
//!
//! The simulator kills and restarts devices; this file keeps the medium and
//! the generation count straight so that an answer sent to an app run that
//! has since died is never delivered to the next one. It decides nothing
//! about payments: that is the engine's and the store's.

use super::medium::{Keys, Medium, RunFile};
use crate::core::Defects;
use crate::core::Millis;
use crate::core::TestCards;
use crate::core::offline::{Holder, Input, Session, Timings};
use crate::core::{EventBody, Part};
use crate::device::{EngineSetup, OfflineDevice};
use crate::store::{Keychain, StoreConfig};
use std::sync::Arc;

/// An offline device of the rig, on a simulated disk or on real files.
pub type SimOfflineDevice = OfflineDevice<Medium, Keys>;

/// A device slot: the running device, if it runs, and its durable parts.
#[derive(Debug)]
pub struct DeviceSlot {
    /// Whose payments these are.
    pub holder: Holder,
    /// The part its events carry.
    pub part: Part,
    /// The disk, shared with the store of the running device.
    pub disk: Medium,
    /// The keychain, likewise.
    pub keys: Keys,
    /// What the SDK keeps between runs.
    pub session: Session,
    /// The running device, if any.
    pub running: Option<SimOfflineDevice>,
    /// Bumped at every start, so late answers to a dead run are dropped.
    pub generation: u64,
    /// App runs so far; makes each run's instance id unique.
    runs: u32,
    /// On real files: where the runs are counted durably, so that a new
    /// process on the same data goes on counting (and its offline ids stay
    /// new); `None`: counted in memory only (the simulator).
    run_file: Option<RunFile>,
    /// Whether the device has power (a power loss keeps it down until its
    /// power returns).
    pub powered: bool,
    /// Whether the app should be running (false after a kill until the
    /// restart, or while the device is switched off).
    pub wanted: bool,
    /// How long the power stays off after an armed mid-write cut fires.
    pub off_for: std::time::Duration,
}

impl DeviceSlot {
    /// A fresh device that was online before with `session`, keeping its
    /// store on `disk` with `keys`.
    pub fn new(
        holder: Holder,
        part: Part,
        (disk, keys): (Medium, Keys),
        session: Session,
    ) -> DeviceSlot {
        DeviceSlot {
            holder,
            part,
            disk,
            keys,
            session,
            running: None,
            generation: 0,
            runs: 0,
            run_file: None,
            powered: true,
            wanted: true,
            off_for: std::time::Duration::from_secs(20),
        }
    }

    /// The same slot counting its app runs durably in `file` (a device on
    /// real files), or in memory only (`None`).
    pub fn with_run_file(mut self, file: Option<RunFile>) -> DeviceSlot {
        self.run_file = file;
        self
    }

    /// Starts the app if it should run and can: powered, and its store opens
    /// (it does not while the keys are locked; the rig tries again on
    /// unlock). Returns the start-up events.
    pub fn start(
        &mut self,
        now: Millis,
        cards: &Arc<TestCards>,
        timings: &Timings,
        defects: &Defects,
        network_up: bool,
    ) -> bool {
        if self.running.is_some() || !self.powered || !self.wanted || self.keys.key().is_err() {
            return false;
        }
        let run = match &self.run_file {
            None => self.runs + 1,
            // A run that cannot be counted durably does not start: its ids
            // could repeat an earlier process's.
            Some(file) => match file.claim(self.runs) {
                Ok(run) => run,
                Err(_) => return false,
            },
        };
        self.runs = run;
        let setup = EngineSetup {
            holder: self.holder.clone(),
            // Unique across devices and app runs: offline ids embed it.
            instance: match &self.holder {
                Holder::Pos => format!("pos{}", self.runs),
                Holder::SmartReader { serial } => format!("{serial}.{}", self.runs),
            },
            session: self.session.clone(),
            cards: Arc::clone(cards),
            timings: timings.clone(),
            defects: defects.clone(),
        };
        let opened = OfflineDevice::start(
            now,
            setup,
            self.disk.clone(),
            self.keys.clone(),
            StoreConfig::default(),
        );
        match opened {
            Ok((mut device, _)) => {
                device.handle(now, Input::NetworkChanged { up: network_up });
                self.generation += 1;
                self.running = Some(device);
                true
            }
            // The store did not open (a lost race with a lock, an unreadable
            // format): the app stays down and the run shows it by the absence
            // of its events; nothing on disk was touched.
            Err(_) => false,
        }
    }

    /// Whether the app runs.
    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    /// The app stops without warning; its session survives.
    pub fn kill(&mut self) {
        if let Some(device) = self.running.take() {
            let (_, _, session) = device.crash();
            self.session = session;
        }
    }

    /// Hands the engine's pending events to `sink`.
    pub fn drain_events(&mut self, mut sink: impl FnMut(Millis, EventBody)) {
        if let Some(device) = self.running.as_mut() {
            while let Some((at, body)) = device.poll_event() {
                sink(at, body);
            }
        }
    }
}
