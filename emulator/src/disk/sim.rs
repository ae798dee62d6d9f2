//! [`SimDisk`]: the [`Disk`] trait in memory, with the crash semantics of a
//! real disk and faults the caller places deterministically.
//!
//! Each file has a durable part and what the application currently sees; a
//! power loss keeps only the durable part, plus (if the caller asks) the
//! first bytes of the unsynced tail, because the last write may be torn. It
//! holds no random generator: the caller (the simulator, which owns a seeded
//! one, or a test) chooses how many bytes tear, when the disk fills up and
//! which bit flips. It is a cheap-clone handle over shared state so a fault
//! injector can act on the disk while a store owns another clone.

use super::{Disk, check_name, temp_name};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// An in-memory disk with crash semantics. Clones share the same disk.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<String, SimFile>,
    capacity: Option<u64>,
    /// Writes still to go before the armed ENOSPC (0: the next write fails).
    full_in: Option<u64>,
    /// Operations still to go before the armed power loss, and its torn length.
    power_cut: Option<(u64, usize)>,
    powered_off: bool,
    writes: u64,
    /// Armed ENOSPC failures that fired and nobody has asked about yet.
    fired: u32,
}

#[derive(Debug, Default)]
struct SimFile {
    /// What a reader sees now.
    current: Vec<u8>,
    /// What survives a power loss.
    durable: Vec<u8>,
    /// Whether the file's directory entry survives a power loss.
    durable_entry: bool,
}

fn powered_off() -> io::Error {
    io::Error::other("simulated power loss: the disk is off until power_on")
}

fn full() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "simulated disk full (ENOSPC)")
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file `{name}`"))
}

impl State {
    /// Every mutating step passes here: it refuses while the power is off and
    /// fires an armed power cut instead of performing the step.
    fn step(&mut self) -> io::Result<()> {
        if self.powered_off {
            return Err(powered_off());
        }
        if let Some((left, torn)) = self.power_cut {
            if left == 0 {
                self.power_cut = None;
                self.lose_power(torn);
                return Err(powered_off());
            }
            self.power_cut = Some((left - 1, torn));
        }
        Ok(())
    }

    /// Counts a data write and fires an armed ENOSPC.
    fn write_allowed(&mut self) -> io::Result<()> {
        self.writes += 1;
        match self.full_in {
            Some(0) => {
                self.full_in = None;
                self.fired += 1;
                Err(full())
            }
            Some(n) => {
                self.full_in = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn used(&self) -> u64 {
        self.files.values().map(|f| f.current.len() as u64).sum()
    }

    /// Appends as much of `bytes` as fits; a short write ends in ENOSPC.
    fn write_into(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let room = self.capacity.map_or(u64::MAX, |cap| cap.saturating_sub(self.used()));
        let fits = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
        let file = self.files.entry(name.to_owned()).or_default();
        file.current.extend_from_slice(&bytes[..fits]);
        if fits < bytes.len() { Err(full()) } else { Ok(()) }
    }

    fn lose_power(&mut self, torn: usize) {
        self.powered_off = true;
        self.files.retain(|_, f| f.durable_entry);
        for file in self.files.values_mut() {
            let kept = if file.current.starts_with(&file.durable) {
                let tail = &file.current[file.durable.len()..];
                let mut kept = file.durable.clone();
                kept.extend_from_slice(&tail[..torn.min(tail.len())]);
                kept
            } else {
                // An unsynced truncate or rewrite: the old durable bytes remain.
                file.durable.clone()
            };
            // What survived a power loss is on the medium: durable now.
            file.durable.clone_from(&kept);
            file.current = kept;
        }
    }

    fn file(&self, name: &str) -> io::Result<&SimFile> {
        self.files.get(name).ok_or_else(|| not_found(name))
    }
}

impl SimDisk {
    /// An empty disk with no capacity limit.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in this file; the state is
        // still consistent enough for the test that reports it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Limits the disk to `bytes` in total (all files, as the application
    /// sees them); a write past it is cut short with ENOSPC. `None` lifts it.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.state().capacity = bytes;
    }

    /// Bytes in use now, over all files.
    pub fn used(&self) -> u64 {
        self.state().used()
    }

    /// Arms ENOSPC for the `n`-th data write from now (1: the next one). That
    /// write stores nothing; later writes succeed again.
    pub fn fail_nth_write(&self, n: u64) {
        assert!(n >= 1, "writes are counted from 1");
        self.state().full_in = Some(n - 1);
    }

    /// How many armed ENOSPC failures ([`fail_nth_write`](Self::fail_nth_write))
    /// fired since the last call: the rig records each as it happens.
    pub fn take_fired(&self) -> u32 {
        std::mem::take(&mut self.state().fired)
    }

    /// Data writes performed so far (appends and replace's temporary file).
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    /// Arms a power loss: `ops` more mutating steps happen (an append, a
    /// sync, a truncate, a remove, or one of replace's three steps: write the
    /// temporary file, sync it, rename it), then the next one does not and
    /// the power goes, keeping `torn` bytes of each unsynced tail.
    pub fn cut_power_after(&self, ops: u64, torn: usize) {
        self.state().power_cut = Some((ops, torn));
    }

    /// Loses the power now: unsynced bytes vanish except the first `torn`
    /// bytes of each file's unsynced tail, files never synced vanish. Every
    /// operation fails until [`power_on`](SimDisk::power_on).
    pub fn power_loss(&self, torn: usize) {
        self.state().lose_power(torn);
    }

    /// Powers the disk back on after a power loss.
    pub fn power_on(&self) {
        let mut state = self.state();
        state.powered_off = false;
        state.power_cut = None;
    }

    /// Whether the power is off.
    pub fn is_powered_off(&self) -> bool {
        self.state().powered_off
    }

    /// XORs the byte at `offset` of `name` with `mask`, in what is seen and
    /// in what is durable: a bit rot, or a tampered file.
    pub fn flip(&self, name: &str, offset: u64, mask: u8) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        let at = usize::try_from(offset).ok().filter(|&at| at < file.current.len()).ok_or_else(
            || {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("offset {offset} past the end of `{name}`"),
                )
            },
        )?;
        file.current[at] ^= mask;
        if let Some(byte) = file.durable.get_mut(at) {
            *byte ^= mask;
        }
        Ok(())
    }

    /// What survives a power loss of `name` now (without tearing).
    pub fn durable(&self, name: &str) -> Option<Vec<u8>> {
        let state = self.state();
        state.files.get(name).filter(|f| f.durable_entry).map(|f| f.durable.clone())
    }
}

impl Disk for SimDisk {
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let state = self.state();
        if state.powered_off {
            return Err(powered_off());
        }
        Ok(state.file(name)?.current.clone())
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        let state = self.state();
        if state.powered_off {
            return Err(powered_off());
        }
        Ok(state.files.contains_key(name))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let state = self.state();
        if state.powered_off {
            return Err(powered_off());
        }
        Ok(state.files.keys().cloned().collect())
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        let mut state = self.state();
        state.step()?;
        state.write_allowed()?;
        state.write_into(name, bytes)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.step()?;
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        file.durable.clone_from(&file.current);
        file.durable_entry = true;
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.state();
        state.step()?;
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        file.current.truncate(len);
        Ok(())
    }

    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        let temp = temp_name(name);
        let mut state = self.state();
        // Step 1: write the temporary file.
        state.step()?;
        state.files.remove(&temp);
        let written = state.write_allowed().and_then(|()| state.write_into(&temp, bytes));
        if let Err(e) = written {
            state.files.remove(&temp);
            return Err(e);
        }
        // Step 2: sync it.
        state.step()?;
        let file = state.files.get_mut(&temp).expect("written above");
        file.durable.clone_from(&file.current);
        file.durable_entry = true;
        // Step 3: rename it over the target and sync the directory.
        state.step()?;
        let mut file = state.files.remove(&temp).expect("written above");
        file.durable_entry = true;
        state.files.insert(name.to_owned(), file);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.step()?;
        state.files.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_loss_keeps_synced_bytes_and_the_torn_prefix_of_the_tail() {
        let mut disk = SimDisk::new();
        disk.append("log", b"abc").unwrap();
        disk.sync("log").unwrap();
        disk.append("log", b"defgh").unwrap();
        disk.power_loss(2);
        assert!(disk.read("log").is_err(), "off until powered on");
        disk.power_on();
        assert_eq!(disk.read("log").unwrap(), b"abcde");
        disk.power_loss(0);
        disk.power_on();
        assert_eq!(disk.read("log").unwrap(), b"abcde", "survivors of a crash are durable");
    }

    #[test]
    fn a_file_never_synced_vanishes_and_an_unsynced_truncate_is_undone() {
        let mut disk = SimDisk::new();
        disk.append("gone", b"x").unwrap();
        disk.append("log", b"abcdef").unwrap();
        disk.sync("log").unwrap();
        disk.truncate("log", 2).unwrap();
        disk.power_loss(usize::MAX);
        disk.power_on();
        assert_eq!(disk.list().unwrap(), ["log"]);
        assert_eq!(disk.read("log").unwrap(), b"abcdef");
    }

    #[test]
    fn capacity_cuts_a_write_short_with_storage_full() {
        let mut disk = SimDisk::new();
        disk.set_capacity(Some(4));
        let err = disk.append("log", b"abcdef").unwrap_err();
        assert!(crate::disk::is_storage_full(&err));
        assert_eq!(disk.read("log").unwrap(), b"abcd");
    }

    #[test]
    fn the_armed_nth_write_fails_alone() {
        let mut disk = SimDisk::new();
        disk.fail_nth_write(2);
        disk.append("log", b"a").unwrap();
        assert!(crate::disk::is_storage_full(&disk.append("log", b"b").unwrap_err()));
        disk.append("log", b"c").unwrap();
        assert_eq!(disk.read("log").unwrap(), b"ac");
    }

    #[test]
    fn replace_is_old_or_new_at_every_power_cut() {
        for ops in 0..4 {
            let mut disk = SimDisk::new();
            disk.replace("log", b"old").unwrap();
            disk.cut_power_after(ops, usize::MAX);
            let replaced = disk.replace("log", b"new content");
            disk.power_loss(usize::MAX);
            disk.power_on();
            let now = disk.read("log").unwrap();
            if replaced.is_ok() {
                assert_eq!(now, b"new content", "cut after {ops}");
            } else {
                assert_eq!(now, b"old", "cut after {ops}");
            }
        }
    }

    #[test]
    fn flip_changes_one_byte_durably() {
        let mut disk = SimDisk::new();
        disk.append("log", b"abc").unwrap();
        disk.sync("log").unwrap();
        disk.flip("log", 1, 0x01).unwrap();
        disk.power_loss(0);
        disk.power_on();
        assert_eq!(disk.read("log").unwrap(), b"acc");
        assert!(disk.flip("log", 3, 1).is_err());
    }
}
