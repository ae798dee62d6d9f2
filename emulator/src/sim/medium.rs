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
use std::io;
use std::path::Path;
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
