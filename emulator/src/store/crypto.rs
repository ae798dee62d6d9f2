//! Keys kept apart from the data, and the authenticated encryption of
//! records (ChaCha20-Poly1305).
//!
//! A [`Keychain`] gives the store its 32-byte key and a persistent epoch
//! counter that makes nonces unique across crashes (see [`nonce`]).
//! [`SimKeychain`] derives its key from a caller's seed and can be locked, as
//! an iOS device locked in the background makes the keychain unreadable
//! (incident ios-355); [`FileKeychain`] keeps a random key in a file with
//! 0600 permissions, in a directory of its own. Nothing here may write a key
//! next to the data it protects, log a key, or draw randomness from anything
//! but the operating system (`FileKeychain`) or the caller's seed.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of the authentication tag the cipher appends.
pub const TAG_LEN: usize = 16;

/// Why a keychain could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The keys cannot be read now (device locked); try again after unlock.
    #[error("the encryption keys are unavailable (keychain locked)")]
    Locked,
    /// The keychain's own storage failed.
    #[error("keychain storage: {0}")]
    Io(#[from] io::Error),
    /// The epoch counter is exhausted; nonces could repeat.
    #[error("the key epoch counter is exhausted")]
    EpochExhausted,
}

/// Where the store's key and nonce epoch live, apart from the data.
pub trait Keychain {
    /// The 32-byte key.
    fn key(&self) -> Result<[u8; KEY_LEN], KeyError>;
    /// Advances the epoch, makes the new value durable, and returns it. The
    /// store calls it once per open, before writing anything.
    fn next_epoch(&mut self) -> Result<u32, KeyError>;
}

/// The 96-bit nonce of a record: epoch (big-endian u32) ‖ counter
/// (big-endian u64).
///
/// Why this scheme: a counter alone restarts after a crash at the last
/// *durable* record, so records written but lost in the crash would have
/// used the counters the next session reuses, with different plaintexts:
/// nonce reuse under one key breaks ChaCha20-Poly1305. The epoch is bumped
/// and made durable in the keychain at every open, before any write, so
/// each session has nonces no other session used, whatever the disk lost.
/// Random 96-bit nonces would also do, but need an RNG in the store and give
/// only probabilistic uniqueness; this is deterministic and replayable.
pub fn nonce(epoch: u32, counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&epoch.to_be_bytes());
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// Encrypts and authenticates `plaintext`, binding `aad`.
pub fn seal(key: &[u8; KEY_LEN], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(key.into());
    cipher
        .encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad })
        .expect("ChaCha20-Poly1305 encrypts any record-sized message")
}

/// Decrypts `sealed`, or `None` if it or `aad` is not what was sealed under
/// this key and nonce.
pub fn open(key: &[u8; KEY_LEN], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(key.into());
    cipher.decrypt(&Nonce::from(*nonce), Payload { msg: sealed, aad }).ok()
}

/// A keychain for simulations and tests: key derived from a seed, epoch in
/// memory (it survives the store, as the device keychain survives an app),
/// lockable. Clones share the same keychain.
#[derive(Clone)]
pub struct SimKeychain {
    state: Arc<Mutex<SimKeys>>,
}

struct SimKeys {
    key: [u8; KEY_LEN],
    epoch: u32,
    locked: bool,
}

impl fmt::Debug for SimKeychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("SimKeychain")
            .field("epoch", &state.epoch)
            .field("locked", &state.locked)
            .finish_non_exhaustive()
    }
}

impl SimKeychain {
    /// A keychain whose key is derived from `seed` (splitmix64: fine for a
    /// simulation, not a key derivation for production).
    pub fn new(seed: u64) -> SimKeychain {
        let mut x = seed;
        let mut key = [0u8; KEY_LEN];
        for chunk in key.chunks_mut(8) {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        SimKeychain { state: Arc::new(Mutex::new(SimKeys { key, epoch: 0, locked: false })) }
    }

    fn state(&self) -> MutexGuard<'_, SimKeys> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the keychain: every key access fails until [`unlock`](Self::unlock).
    pub fn lock(&self) {
        self.state().locked = true;
    }

    /// Unlocks the keychain.
    pub fn unlock(&self) {
        self.state().locked = false;
    }

    /// Whether it is locked.
    pub fn is_locked(&self) -> bool {
        self.state().locked
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        self.state().epoch
    }
}

impl Keychain for SimKeychain {
    fn key(&self) -> Result<[u8; KEY_LEN], KeyError> {
        let state = self.state();
        if state.locked { Err(KeyError::Locked) } else { Ok(state.key) }
    }

    fn next_epoch(&mut self) -> Result<u32, KeyError> {
        let mut state = self.state();
        if state.locked {
            return Err(KeyError::Locked);
        }
        state.epoch = state.epoch.checked_add(1).ok_or(KeyError::EpochExhausted)?;
        Ok(state.epoch)
    }
}

/// A keychain on real files: `store.key` (32 random bytes from the operating
/// system, mode 0600) and `store.epoch`, in a directory that must not be the
/// data directory, so copying or wiping the data never carries the key.
pub struct FileKeychain {
    dir: PathBuf,
    key: [u8; KEY_LEN],
    epoch: u32,
}

impl fmt::Debug for FileKeychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKeychain")
            .field("dir", &self.dir)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

const KEY_FILE: &str = "store.key";
const EPOCH_FILE: &str = "store.epoch";

impl FileKeychain {
    /// Opens the keychain in `dir`, creating the directory (0700) and a new
    /// random key (0600) if there is none.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileKeychain, KeyError> {
        let dir = dir.into();
        crate::disk::create_private_dir(&dir)?;
        // A directory or key made by hand (or by an older version) is made
        // private too.
        crate::disk::make_private(&dir, 0o700)?;
        for name in [KEY_FILE, EPOCH_FILE] {
            if dir.join(name).exists() {
                crate::disk::make_private(&dir.join(name), 0o600)?;
            }
        }
        let key_path = dir.join(KEY_FILE);
        let key = match fs::read(&key_path) {
            Ok(bytes) => <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a {KEY_LEN}-byte key", key_path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
                write_private(&dir, KEY_FILE, &key)?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        let epoch = match fs::read(dir.join(EPOCH_FILE)) {
            Ok(bytes) => {
                u32::from_le_bytes(<[u8; 4]>::try_from(bytes.as_slice()).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "the epoch file is not 4 bytes")
                })?)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(FileKeychain { dir, key, epoch })
    }

    /// The directory holding the key.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Keychain for FileKeychain {
    fn key(&self) -> Result<[u8; KEY_LEN], KeyError> {
        Ok(self.key)
    }

    fn next_epoch(&mut self) -> Result<u32, KeyError> {
        let next = self.epoch.checked_add(1).ok_or(KeyError::EpochExhausted)?;
        write_private(&self.dir, EPOCH_FILE, &next.to_le_bytes())?;
        self.epoch = next;
        Ok(next)
    }
}

/// Moves a keychain from `old` to `new` (the key and its epoch together),
/// unless `old` has none: how a key an earlier version kept inside the data
/// directory leaves it. A key already at `new` as well is an error naming
/// both (which one encrypts the store cannot be told here).
pub fn move_keychain(old: &Path, new: &Path) -> io::Result<()> {
    if !old.join(KEY_FILE).exists() {
        return Ok(());
    }
    if new.join(KEY_FILE).exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "a store key in both {} and {}: keep the one that encrypts the store, in {}",
                old.display(),
                new.display(),
                new.display()
            ),
        ));
    }
    let parent = new.parent().unwrap_or(Path::new("."));
    crate::disk::create_private_dir(parent)?;
    if new.exists() {
        // An empty directory left by an earlier attempt.
        let _ = fs::remove_dir(new);
    }
    if fs::rename(old, new).is_err() {
        // Another file system: copy durably, then remove the original.
        crate::disk::create_private_dir(new)?;
        for name in [KEY_FILE, EPOCH_FILE] {
            match fs::read(old.join(name)) {
                Ok(bytes) => write_private(new, name, &bytes)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        fs::remove_dir_all(old)?;
    }
    File::open(parent)?.sync_all()?;
    if let Some(old_parent) = old.parent() {
        File::open(old_parent)?.sync_all()?;
    }
    Ok(())
}

/// Writes `name` in `dir` atomically and durably, readable by the owner only.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(format!("{name}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_the_associated_data() {
        let key = SimKeychain::new(7).key().unwrap();
        let n = nonce(1, 2);
        let sealed = seal(&key, &n, b"aad", b"secret");
        assert_eq!(sealed.len(), 6 + TAG_LEN);
        assert_eq!(open(&key, &n, b"aad", &sealed).unwrap(), b"secret");
        assert!(open(&key, &n, b"other", &sealed).is_none());
        assert!(open(&key, &nonce(1, 3), b"aad", &sealed).is_none());
        assert!(open(&SimKeychain::new(8).key().unwrap(), &n, b"aad", &sealed).is_none());
    }

    #[test]
    fn a_locked_sim_keychain_refuses_until_unlocked() {
        let mut keys = SimKeychain::new(1);
        keys.lock();
        assert!(matches!(keys.key(), Err(KeyError::Locked)));
        assert!(matches!(keys.next_epoch(), Err(KeyError::Locked)));
        keys.unlock();
        assert_eq!(keys.next_epoch().unwrap(), 1);
        assert_eq!(keys.next_epoch().unwrap(), 2);
    }

    #[test]
    fn the_file_keychain_keeps_its_key_and_epoch_private_and_persistent() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = FileKeychain::open(dir.path().join("keys")).unwrap();
        assert_eq!(keys.next_epoch().unwrap(), 1);
        let again = FileKeychain::open(dir.path().join("keys")).unwrap();
        assert_eq!(again.key().unwrap(), keys.key().unwrap());
        assert_eq!(again.epoch, 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(dir.path().join("keys").join(KEY_FILE)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }
}
