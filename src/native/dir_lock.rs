//! [`DirLock`]: one store per directory. [`super::FileStore::open`] takes an exclusive
//! `flock(2)` on `{dir}/lock` and holds it until the store is dropped (when the client's worker
//! has finished). The kernel releases the lock when the holder exits, even on `SIGKILL`: no
//! stale lock file to clean up. A directory whose lock is held belongs to a live client; the
//! store then takes another *slot* of the data dir (see `file_store/mod.rs`), and a store that can
//! take the lock of a slot nobody holds may adopt what that slot left behind.
//!
//! A slot directory can be removed by the store that adopted it (lock file included) while
//! another store is about to lock it: a lock taken on a lock file that is no longer the one at
//! its path is worthless, so [`DirLock::try_acquire`] checks that (same device and inode) after
//! locking and reports [`LockAttempt::Gone`] otherwise.
//!
//! `flock` is enforced on Unix; elsewhere the lock file is created (which proves the directory
//! is writable) but not locked. A file system that cannot lock (NFS without a lock daemon, some
//! FUSE mounts) does not stop the client: it runs unlocked, with a warning (and without slots:
//! every client uses the data dir itself, as if alone).

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::store::StoreError;

/// Name of the lock file inside the data dir (and inside each slot directory).
pub(super) const LOCK_FILE: &str = "lock";

/// Held for as long as the store lives.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
    /// Why the directory could not be locked, when the file system cannot lock.
    pub(super) unlocked: Option<String>,
}

/// What one attempt to lock a directory found.
#[derive(Debug)]
pub(super) enum LockAttempt {
    /// Ours (or, with [`DirLock::unlocked`] set, unlockable and used anyway).
    Locked(DirLock),
    /// Another live store holds it.
    Held,
    /// The directory or its lock file disappeared under us (another store removed the slot):
    /// nothing to lock there now; the caller may recreate it and try again.
    Gone,
}

impl DirLock {
    /// Locks `dir` (which must exist) or says why not; a lock held by another store is an
    /// error naming the directory.
    pub(super) fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        for _ in 0..3 {
            match DirLock::try_acquire(dir)? {
                LockAttempt::Locked(lock) => return Ok(lock),
                LockAttempt::Held => break,
                LockAttempt::Gone => {
                    std::fs::create_dir_all(dir).map_err(|e| not_writable(dir, &e))?;
                }
            }
        }
        Err(StoreError(format!(
            "data dir {} is in use by another footfall client (in this or another process)",
            dir.display()
        )))
    }

    /// One attempt to lock `dir`. An error means the lock file cannot be created (the
    /// directory is not writable).
    pub(super) fn try_acquire(dir: &Path) -> Result<LockAttempt, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockAttempt::Gone),
            Err(e) => return Err(not_writable(dir, &e)),
        };
        let unlocked = match try_lock(&file) {
            Ok(()) if !still_at(&file, &path) => return Ok(LockAttempt::Gone),
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(LockAttempt::Held),
            Err(e) => Some(format!(
                "data dir {} cannot be locked ({e}); make sure no other client uses it",
                dir.display()
            )),
        };
        Ok(LockAttempt::Locked(DirLock {
            _file: file,
            unlocked,
        }))
    }
}

fn not_writable(dir: &Path, e: &std::io::Error) -> StoreError {
    StoreError(format!(
        "data dir {} is not writable (creating {LOCK_FILE}: {e})",
        dir.display()
    ))
}

/// Whether `file` is still the file at `path` (not unlinked or replaced since it was opened).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(now)) => open.dev() == now.dev() && open.ino() == now.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}
