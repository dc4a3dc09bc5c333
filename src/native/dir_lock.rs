//! [`DirLock`]: one client per data dir. [`super::FileStore::open`] takes an exclusive
//! `flock(2)` on `{data_dir}/lock` and holds it until the store is dropped (when the client's
//! worker has finished). A second store on the same directory — another `Client` in this
//! process or another process — is refused with a clear error instead of double-sending
//! restored events or losing the other one's writes. The kernel releases the lock when the
//! holder exits, even on `SIGKILL`: no stale lock file to clean up.
//!
//! `flock` is enforced on Unix; elsewhere the lock file is created (which proves the directory
//! is writable) but not locked. A file system that cannot lock (NFS without a lock daemon, some
//! FUSE mounts) does not stop the client: it runs unlocked, with a warning.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::store::StoreError;

/// Name of the lock file inside the data dir.
pub(super) const LOCK_FILE: &str = "lock";

/// Held for as long as the store lives.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
    /// Why the directory could not be locked, when the file system cannot lock.
    pub(super) unlocked: Option<String>,
}

impl DirLock {
    /// Locks `dir` (which must exist) or says why not.
    pub(super) fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                StoreError(format!(
                    "data dir {} is not writable (creating {LOCK_FILE}: {e})",
                    dir.display()
                ))
            })?;
        let unlocked = match try_lock(&file) {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(StoreError(format!(
                    "data dir {} is in use by another footfall client (in this or another \
                     process); one data dir serves one client at a time",
                    dir.display()
                )));
            }
            Err(e) => Some(format!(
                "data dir {} cannot be locked ({e}); make sure no other client uses it",
                dir.display()
            )),
        };
        Ok(DirLock {
            _file: file,
            unlocked,
        })
    }
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
