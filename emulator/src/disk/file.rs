//! [`FileDisk`]: the [`Disk`] trait on real files in one directory.
//!
//! It keeps one open handle per file it appends to, so a group commit costs
//! one `write` and one `fdatasync`. It must not pretend: `sync` really calls
//! `sync_data`, a newly created file's directory entry is synced too, and
//! `replace` syncs the directory after the rename. The directory is made
//! 0700 and every file 0600 (owner only), existing ones included.

use super::{Disk, check_name, temp_name};
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Real files in one directory.
#[derive(Debug)]
pub struct FileDisk {
    dir: PathBuf,
    open: HashMap<String, File>,
    /// Files created since the directory was last synced: their entries are
    /// not durable until it is.
    created: BTreeSet<String>,
}

impl FileDisk {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FileDisk> {
        let dir = dir.into();
        super::create_private_dir(&dir)?;
        super::make_private(&dir, 0o700)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                super::make_private(&entry.path(), 0o600)?;
            }
        }
        Ok(FileDisk { dir, open: HashMap::new(), created: BTreeSet::new() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        Ok(self.dir.join(name))
    }

    fn handle(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.open.contains_key(name) {
            let path = self.path(name)?;
            let existed = path.exists();
            let file = private_options().create(true).append(true).open(&path)?;
            if !existed {
                self.created.insert(name.to_owned());
            }
            self.open.insert(name.to_owned(), file);
        }
        Ok(self.open.get_mut(name).expect("inserted above"))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()?;
        self.created.clear();
        Ok(())
    }
}

/// Options that create a file readable and writable by its owner only.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

impl Disk for FileDisk {
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(name)?)
    }

    fn exists(&self, name: &str) -> io::Result<bool> {
        self.path(name)?.try_exists()
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
                && check_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.handle(name)?.write_all(bytes)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.handle(name)?.sync_data()?;
        if self.created.contains(name) {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.handle(name)?.set_len(len)
    }

    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.path(name)?;
        let temp = self.path(&temp_name(name))?;
        // The cached handle points at the inode being replaced.
        self.open.remove(name);
        let written = (|| {
            let mut file = private_options().write(true).create(true).truncate(true).open(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            // A half-written temporary file is garbage; the old file is intact.
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        fs::rename(&temp, &target)?;
        self.sync_dir()
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        let path = self.path(name)?;
        self.open.remove(name);
        match fs::remove_file(path) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
