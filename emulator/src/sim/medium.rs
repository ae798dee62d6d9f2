//! Where a device of the rig keeps its offline store: on the simulated disk
//! and keychain (in memory, with crash semantics and every storage fault),
//! or on real files under a data directory (the served rig, whose stores
//! must outlive the process).
//!
//! Both are handles: clones share the same disk or keychain, as the
//! simulator needs (the slot keeps one while the running store holds
//! another). The faults that only a simulated medium can perform (a torn
//! write, a full disk, a flipped bit, a locked keychain) ask for
//! [`Medium::simulated`] and [`Keys::simulated`]; the simulator refuses them
//! on real files rather than pretending.

use crate::disk::{Disk, FileDisk, SimDisk};
use crate::store::{FileKeychain, KeyError, Keychain, SimKeychain};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A device's disk.
#[derive(Clone, Debug)]
pub enum Medium {
    /// In memory, with crash semantics.
    Simulated(SimDisk),
    /// Real files in one directory, synced for real.
    Files(Arc<Mutex<FileDisk>>),
}

impl Medium {
    /// Real files in `dir` (created if needed).
    pub fn files(dir: &Path) -> io::Result<Medium> {
        Ok(Medium::Files(Arc::new(Mutex::new(FileDisk::open(dir)?))))
    }

    /// The simulated disk, if this is one.
    pub fn simulated(&self) -> Option<&SimDisk> {
        match self {
            Medium::Simulated(disk) => Some(disk),
            Medium::Files(_) => None,
        }
    }

    /// Armed write failures that fired since the last call (none on files:
    /// nothing is armed there).
    pub fn take_fired(&self) -> u32 {
        self.simulated().map_or(0, SimDisk::take_fired)
    }

    /// Whether a simulated power cut left the disk dead.
    pub fn is_powered_off(&self) -> bool {
        self.simulated().is_some_and(SimDisk::is_powered_off)
    }

    fn files_lock(files: &Mutex<FileDisk>) -> MutexGuard<'_, FileDisk> {
        files.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Disk for Medium {
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        match self {
            Medium::Simulated(disk) => disk.read(name),
            Medium::Files(files) => Medium::files_lock(files).read(name),
        }
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        match self {
            Medium::Simulated(disk) => disk.exists(name),
            Medium::Files(files) => Medium::files_lock(files).exists(name),
        }
    }

    fn list(&self) -> io::Result<Vec<String>> {
        match self {
            Medium::Simulated(disk) => disk.list(),
            Medium::Files(files) => Medium::files_lock(files).list(),
        }
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        match self {
            Medium::Simulated(disk) => disk.append(name, bytes),
            Medium::Files(files) => Medium::files_lock(files).append(name, bytes),
        }
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        match self {
            Medium::Simulated(disk) => disk.sync(name),
            Medium::Files(files) => Medium::files_lock(files).sync(name),
        }
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        match self {
            Medium::Simulated(disk) => disk.truncate(name, len),
            Medium::Files(files) => Medium::files_lock(files).truncate(name, len),
        }
    }

    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        match self {
            Medium::Simulated(disk) => disk.replace(name, bytes),
            Medium::Files(files) => Medium::files_lock(files).replace(name, bytes),
        }
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        match self {
            Medium::Simulated(disk) => disk.remove(name),
            Medium::Files(files) => Medium::files_lock(files).remove(name),
        }
    }
}

/// A device's keychain.
#[derive(Clone, Debug)]
pub enum Keys {
    /// In memory, derived from a seed, lockable.
    Simulated(SimKeychain),
    /// A random key in its own 0600 directory.
    Files(Arc<Mutex<FileKeychain>>),
}

impl Keys {
    /// The keychain in `dir` (a new random key if there is none).
    pub fn files(dir: &Path) -> Result<Keys, KeyError> {
        Ok(Keys::Files(Arc::new(Mutex::new(FileKeychain::open(dir)?))))
    }

    /// The simulated keychain, if this is one.
    pub fn simulated(&self) -> Option<&SimKeychain> {
        match self {
            Keys::Simulated(keys) => Some(keys),
            Keys::Files(_) => None,
        }
    }

    fn files_lock(files: &Mutex<FileKeychain>) -> MutexGuard<'_, FileKeychain> {
        files.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Keychain for Keys {
    fn key(&self) -> Result<[u8; crate::store::crypto::KEY_LEN], KeyError> {
        match self {
            Keys::Simulated(keys) => keys.key(),
            Keys::Files(files) => Keys::files_lock(files).key(),
        }
    }

    fn next_epoch(&mut self) -> Result<u32, KeyError> {
        match self {
            Keys::Simulated(keys) => keys.next_epoch(),
            Keys::Files(files) => Keys::files_lock(files).next_epoch(),
        }
    }
}

/// The durable count of a device's app runs on real files: the highest run
/// any process ever started on this data directory. Offline ids embed the
/// run (`off_pos3_000001`), so a new `serve` on the same directory starts
/// above every earlier process's runs and never repeats an id, stored or
/// forwarded (whose idempotency key it is). The file sits next to the
/// device's `store/`, not in it, so wiping the app's data keeps it. The
/// simulator's devices have none: their runs are counted in memory, as the
/// whole rig lives in one process.
#[derive(Clone, Debug)]
pub struct RunFile {
    path: PathBuf,
}

impl RunFile {
    /// The name of the file in the device's directory.
    pub const NAME: &'static str = "app-runs";

    /// The counter in `dir` (the device's directory).
    pub fn new(dir: &Path) -> RunFile {
        RunFile { path: dir.join(Self::NAME) }
    }

    /// The highest run recorded (0 when none is).
    pub fn recorded(&self) -> io::Result<u32> {
        match fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a run count", self.path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Claims the run after `counted` (this process's own count) and after
    /// every run recorded, and makes it durable before returning it.
    pub fn claim(&self, counted: u32) -> io::Result<u32> {
        let run = counted.max(self.recorded()?).checked_add(1).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "the app run count is exhausted")
        })?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let temp = self.path.with_extension("tmp");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(format!("{run}\n").as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, &self.path)?;
        File::open(dir)?.sync_all()?;
        Ok(run)
    }
}
