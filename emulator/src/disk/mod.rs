//! The storage medium: a flat directory of named files with explicit
//! durability, as the offline store needs it.
//!
//! [`Disk`] is the one trait the store writes through; [`FileDisk`] puts it on
//! real files (with real `fdatasync` and directory syncs) and [`SimDisk`] keeps
//! it in memory with crash semantics, so the simulator and the tests can cut
//! the power, tear the last write, fill the disk or flip a bit, all
//! deterministically. This module knows nothing about records, payments or
//! keys: it must not interpret the bytes it stores, and it must not buffer
//! anything a caller believes is durable after [`Disk::sync`] returned.

mod file;
mod sim;

pub use file::FileDisk;
pub use sim::SimDisk;

use std::fs;
use std::io;
use std::path::Path;

/// A flat directory of named files.
///
/// Durability is explicit: bytes written by [`append`](Disk::append) or
/// [`truncate`](Disk::truncate) may vanish at a power loss until
/// [`sync`](Disk::sync) has returned for that file. [`replace`](Disk::replace)
/// is atomic and durable when it returns: after a power loss the file holds
/// either its old or its new content, never a mix.
///
/// A full disk is reported as [`io::ErrorKind::StorageFull`] (ENOSPC), so the
/// store can tell it from other failures; a missing file as
/// [`io::ErrorKind::NotFound`].
pub trait Disk {
    /// The whole content of `name`.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Whether `name` exists.
    fn exists(&self, name: &str) -> io::Result<bool>;
    /// Every file name, sorted.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Appends `bytes` to `name`, creating it if needed. Not durable until
    /// [`sync`](Disk::sync). On error a prefix of `bytes` may have been
    /// written (a short write before ENOSPC).
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes every earlier write to `name` durable (`fdatasync`, and the
    /// directory entry of a newly created file).
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Cuts `name` to `len` bytes. Not durable until [`sync`](Disk::sync).
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Replaces `name` with `bytes` atomically and durably: write a temporary
    /// file, sync it, rename it over `name`, sync the directory. A crash
    /// part-way leaves the old content (and perhaps a stale temporary file,
    /// see [`temp_name`]).
    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes `name` durably; removing a missing file is not an error.
    fn remove(&mut self, name: &str) -> io::Result<()>;
}

/// The temporary file [`Disk::replace`] writes before renaming it over
/// `name`. A crash can leave it behind; its owner removes it on open.
pub fn temp_name(name: &str) -> String {
    format!("{name}.tmp")
}

/// Whether an I/O error means the disk is full (ENOSPC).
pub fn is_storage_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull
}

/// Rejects names that are not plain file names, so a caller cannot escape
/// the directory (`..`, `/`) or hide a file from [`Disk::list`].
pub(crate) fn check_name(name: &str) -> io::Result<()> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.');
    if plain {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{name}` is not a plain file name"),
        ))
    }
}

/// Sets `path`'s permissions to `mode` if it allows more (Unix only).
pub(crate) fn make_private(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = fs::metadata(path)?.permissions().mode() & 0o777;
        if current & !mode != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Creates `dir` (and its parents) readable by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
