//! What the integration tests of a whole offline device share: a POS session
//! that was online with the backend's account, and starting a POS device on a
//! simulated disk. Not a test binary itself (`tests/common/` is a module).

use readerlab_emulator::core::Defects;
use readerlab_emulator::core::Millis;
use readerlab_emulator::core::TestCards;
use readerlab_emulator::core::backend::Backend;
use readerlab_emulator::core::offline::{Account, Holder, OfflineConfig, Session, Timings};
use readerlab_emulator::device::{EngineSetup, OfflineDevice};
use readerlab_emulator::disk::SimDisk;
use readerlab_emulator::store::{Recovery, SimKeychain, StoreConfig, StoreError};
use std::sync::Arc;

/// A device (POS or smart reader) on the simulated disk.
pub type SimDevice = OfflineDevice<SimDisk, SimKeychain>;

/// The session of a POS that connected online before, to `backend`'s
/// account (test mode), with offline mode enabled.
pub fn online_before(backend: &Backend) -> Session {
    let account = Account { id: backend.config().account.clone(), livemode: false };
    Session { account: Some(account), config: Some(OfflineConfig::enabled()), ..Session::default() }
}

/// Starts the app for its `run`-th time (the run number makes its instance
/// id, so offline ids never repeat) on `disk` and `keys`, on a POS or on a
/// smart reader that stores its own payments.
pub fn start(
    holder: Holder,
    now: Millis,
    run: u32,
    session: &Session,
    disk: &SimDisk,
    keys: &SimKeychain,
) -> Result<(SimDevice, Recovery), StoreError> {
    let setup = EngineSetup {
        holder,
        instance: format!("r{run}"),
        session: session.clone(),
        cards: Arc::new(TestCards::builtin().clone()),
        timings: Timings::default(),
        defects: Defects::none(),
    };
    OfflineDevice::start(now, setup, disk.clone(), keys.clone(), StoreConfig::default())
}
