//! How the store's bytes reach the disk: files replaced atomically, records appended to the
//! log (after recreating a data dir deleted under a running store), and the log rewritten with
//! only its live messages (compaction).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{FileStore, encode_add, io_err, replay};
use crate::native::dir_lock::DirLock;
use crate::store::{StoreError, StoredMessage};

impl FileStore {
    pub(super) fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| io_err("creating", &tmp, e))?;
        let written = f
            .write_all(bytes)
            .map_err(|e| io_err("writing", &tmp, e))
            .and_then(|()| {
                if self.sync {
                    f.sync_all().map_err(|e| io_err("syncing", &tmp, e))
                } else {
                    Ok(())
                }
            });
        if let Err(e) = written {
            // A disk that is full stays a little less full: no half-written copy left behind.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, path).map_err(|e| io_err("renaming", &tmp, e))?;
        #[cfg(unix)]
        if self.sync {
            // The rename itself must survive a power loss too: later appends go to the new file.
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err("syncing", &self.dir, e))?;
        }
        Ok(())
    }

    pub(super) fn append_records(&mut self, records: &[u8]) -> Result<(), StoreError> {
        // If the log cannot be recreated, the records still go to the deleted one (kept open),
        // so that a later recovery has them too.
        let recovered = self.recover_if_deleted();
        if self.log.is_none() {
            let path = self.log_path();
            self.log = Some(open_log(&path).map_err(|e| io_err("opening", &path, e))?);
        }
        let path = self.log_path();
        let f = self.log.as_mut().expect("opened above");
        f.write_all(records)
            .map_err(|e| io_err("appending to", &path, e))?;
        if self.sync {
            f.sync_data().map_err(|e| io_err("syncing", &path, e))?;
        }
        match recovered? {
            // Written: the error only makes the core count and log what happened.
            Some(bytes) => Err(StoreError(format!(
                "queue.log in {} was deleted while in use (data dir removed?); recreated it with \
                 the {bytes} bytes of queue it held",
                self.dir.display()
            ))),
            None => Ok(()),
        }
    }

    /// Appends to a deleted log would vanish with it (the open file lives on, unlinked): when
    /// the log was deleted (the data dir removed by a cleanup job, ...), recreate the dir, take
    /// the lock again and rewrite the log from the open file, and the last state. Returns the
    /// bytes recovered, `None` when nothing was deleted; on an error the deleted log stays
    /// open (and is tried again on the next write).
    fn recover_if_deleted(&mut self) -> Result<Option<usize>, StoreError> {
        let Some(f) = self.log.as_mut().filter(|f| is_deleted(f)) else {
            return Ok(None);
        };
        let mut queue = Vec::new();
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.read_to_end(&mut queue))
            .map_err(|e| io_err("reading the deleted", &self.log_path(), e))?;
        fs::create_dir_all(&self.dir).map_err(|e| io_err("recreating", &self.dir, e))?;
        self.lock = DirLock::acquire(&self.dir)?;
        self.write_atomically(&self.log_path(), &queue)?;
        self.log = None;
        if let Some(state) = &self.last_state {
            self.write_atomically(&self.state_path(), state.as_bytes())?;
        }
        Ok(Some(queue.len()))
    }

    /// Rewrites the log with only `live` messages.
    pub(super) fn rewrite(&mut self, live: &[StoredMessage]) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        for m in live {
            encode_add(
                &mut bytes,
                m.message_id.as_str(),
                &m.category,
                m.enqueued_at,
                &m.json,
            );
        }
        self.log = None;
        self.write_atomically(&self.log_path(), &bytes)?;
        self.adds = live.len() as u64;
        self.removes = 0;
        // Kept open, so a deleted data dir is noticed (and the queue recovered) on the next write.
        self.log = open_log(&self.log_path()).ok();
        Ok(())
    }

    pub(super) fn compact(&mut self) -> Result<(), StoreError> {
        let bytes = match fs::read(self.log_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err("reading", &self.log_path(), e)),
        };
        let (live, _) = replay(&bytes);
        self.rewrite(&live)
    }
}

/// The log, for appending (and reading back if it gets deleted).
fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).read(true).append(true).open(path)
}

/// Whether `file` was unlinked from the data dir (Unix: no links left; elsewhere an open file
/// cannot be deleted).
fn is_deleted(file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata().is_ok_and(|m| m.nlink() == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}
