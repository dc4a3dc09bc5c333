//! One process per data directory: the store holds an exclusive `flock(2)` on
//! `DIR/footfall.lock` for as long as it is open (the kernel releases it when the process exits,
//! even on `SIGKILL`: no stale lock to clean up).
//!
//! DuckDB locks its database file too, but only while the file is open: while the store reopens
//! a database that DuckDB invalidated (see [`super::connection`]) — microseconds, or as long as
//! the reopen keeps failing — another process (`footfall query`, a second `serve`) could open
//! the directory, replay the intake log the collector is appending to and delete its segments.
//! The lock closes that window, and it turns DuckDB's "Could not set lock on file" into a message
//! that says what to do. Opening the same directory twice in one process shares one store (see
//! `DuckDbStore::open`) and takes the lock once. Unix only (elsewhere DuckDB's own lock is all).

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::store::StoreError;

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "footfall.lock";

/// Takes the directory's lock (held until the returned file is dropped), or says who has it.
pub fn acquire(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", path.display())))?;
    match try_lock(&file) {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(StoreError::Config(format!(
            "the data directory {} is in use by another process (a running `footfall serve`?): \
             the embedded store belongs to one process — stop it first, or use the collector's \
             admin API (exports, erasure, queries, `footfall backup`)",
            dir.display()
        ))),
        // A file system without locks (some network or FUSE mounts): DuckDB's lock remains.
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "duckdb: cannot lock the data directory; make sure one process uses it");
            Ok(file)
        }
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads the descriptor, which `file` keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_by_name_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        // flock locks belong to the open file: a second open in this process conflicts too.
        let e = acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("in use by another process") && e.contains(&dir.path().display().to_string()),
            "{e}"
        );
        drop(first);
        acquire(dir.path()).unwrap();
    }
}
