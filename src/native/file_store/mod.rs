//! [`FileStore`]: the native client's persistence, in a data directory.
//!
//! - `state.json` — the [`PersistedState`], replaced atomically (write `state.json.tmp`, rename).
//! - `settings` — the last known server privacy settings (the core's record, see
//!   `footfall::settings_fetch::SettingsRecord`), replaced atomically the same way.
//! - `queue.log` — an append-only log of records, each
//!   `"FFQ1" | payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload`, where the payload
//!   is either an *add* (`1 | enqueued_at u64 LE | id len u16 | id | category len u16 | category
//!   | message JSON`) or a *remove* (`2 | message ids joined by '\n'`). An add for an id the log
//!   already holds is a rewrite (`Store::replace`): it replaces that message in its place.
//!
//! Loading replays the log. A record whose checksum does not match, or that is cut short by a
//! crash mid-write, is skipped with a warning (the reader resynchronizes on the next `FFQ1`
//! marker), never a crash. After loading, and whenever removed records outnumber live ones
//! (and exceed [`COMPACT_AFTER_REMOVES`]), the log is compacted: rewritten with only the live
//! messages and atomically renamed into place.
//!
//! Writes go straight to the file (no user-space buffer), so everything appended survives a
//! process crash; with [`FileStore::with_sync`] each write is also `fsync`ed (survives power
//! loss, costs a disk flush per event).
//!
//! This layout is version 1 (footfall 0.1.0), pinned by the fixture in
//! `tests/fixtures/persisted/v1/native` (tests/persisted_v1.rs): a change that cannot read it
//! needs a migration and a new fixture version. Readers skip record types they do not know and
//! ignore unknown fields in `state.json`, so a newer version may add those (a rollback keeps
//! working); queued messages must stay in *add* records.
//!
//! - `lock` — one store per directory: [`FileStore::open`] takes an exclusive `flock` on it
//!   (see `dir_lock.rs`); the kernel releases it when the holder exits or is killed.
//! - `slot-1/`, `slot-2/`, … — the same files for the other clients on this data dir, in this
//!   process or others, while the data dir itself (slot 0) is held by a live one; a store that
//!   opens adopts the queues of slots nobody holds any more (see `slots.rs`).
//!
//! The record format of `queue.log` (encoding and replay) is `log.rs`; the file operations
//! (atomic replacement, appends, recovery of a deleted data dir, compaction) are `disk.rs`; this
//! file holds the store itself: opening its slot of the data dir and the [`Store`] methods.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::dir_lock::DirLock;
use super::slots;
use crate::store::{PersistedState, Restored, Store, StoreError, StoredMessageRef};

mod disk;
mod log;
#[cfg(test)]
mod tests;

use log::{REMOVE, push_record};
pub(super) use log::{encode_add, replay};

pub(super) const LOG_FILE: &str = "queue.log";
pub(super) const STATE_FILE: &str = "state.json";
pub(super) const SETTINGS_FILE: &str = "settings";
/// Compaction happens only after at least this many removed records.
pub const COMPACT_AFTER_REMOVES: u64 = 1_000;

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError(format!("{what} {}: {e}", path.display()))
}

/// The file-backed [`Store`]; see the module docs for the format.
#[derive(Debug)]
pub struct FileStore {
    /// The slot's directory: the data dir itself (slot 0) or `{data_dir}/slot-N`.
    dir: PathBuf,
    /// The data dir.
    root: PathBuf,
    slot: usize,
    log: Option<File>,
    sync: bool,
    adds: u64,
    removes: u64,
    lock: DirLock,
    /// The last state written, rewritten if the data dir has to be recreated.
    last_state: Option<String>,
}

impl FileStore {
    /// A store in the data dir `dir` (created if missing): in the directory itself, or, while
    /// another live client holds that, in the first free `slot-N` subdirectory (see
    /// `slots.rs`), locked for this store's lifetime (see `dir_lock.rs`). [`Store::load`] then
    /// also adopts the queues other clients left in slots nobody holds. Fails with a clear
    /// error when `dir` cannot be created or written (a file in its place, read-only) or all
    /// [`super::MAX_SLOTS`] slots are held.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let root = dir.into();
        let dir = &root;
        if let Err(e) = fs::create_dir_all(dir) {
            let what = if dir.exists() && !dir.is_dir() {
                "is not a directory".to_string()
            } else {
                format!("cannot be created: {e}")
            };
            return Err(StoreError(format!("data dir {} {what}", dir.display())));
        }
        let (slot, dir, lock) = slots::take_slot(&root)?;
        if slot == 0 {
            tracing::info!(target: "footfall", "data dir {}: using it (slot 0)", root.display());
        } else {
            tracing::info!(
                target: "footfall",
                "data dir {}: slot 0 is held by another live client; using slot {slot} ({})",
                root.display(),
                dir.display()
            );
        }
        Ok(FileStore {
            dir,
            root,
            slot,
            log: None,
            sync: false,
            adds: 0,
            removes: 0,
            lock,
            last_state: None,
        })
    }

    /// The directory this store writes to: the data dir itself (slot 0) or its `slot-N`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The slot this store holds: 0 for the data dir itself, `N` for `slot-N`.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// What the client's worker adopts abandoned slots with while it runs (see `slots.rs`);
    /// `None` on a file system that cannot lock (no slots there).
    pub(crate) fn adopter(&self) -> Option<slots::Adopter> {
        self.lock.unlocked.is_none().then(|| slots::Adopter {
            root: self.root.clone(),
            slot: self.slot,
            log: self.log_path(),
            sync: self.sync,
        })
    }

    /// `fsync` after every write (default off).
    pub fn with_sync(mut self, sync: bool) -> FileStore {
        self.sync = sync;
        self
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.join(SETTINGS_FILE)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// `name` of this slot, or — for a slot that has none yet — a copy of slot 0's (see
    /// `slots.rs`: a new slot starts with the identity and settings of the data dir, then
    /// keeps its own).
    fn read_own_or_slot0(&self, name: &str) -> std::io::Result<Vec<u8>> {
        match fs::read(self.dir.join(name)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.slot != 0 => {
                let bytes = fs::read(self.root.join(name))?;
                // A failed copy only means copying again next time.
                let _ = self.write_atomically(&self.dir.join(name), &bytes);
                Ok(bytes)
            }
            other => other,
        }
    }
}

impl Store for FileStore {
    fn load(&mut self) -> Result<Restored, StoreError> {
        // Without a working lock nobody can tell a live slot from an abandoned one.
        let can_adopt = self.lock.unlocked.is_none();
        let mut warnings: Vec<String> = self.lock.unlocked.take().into_iter().collect();
        let state = match self.read_own_or_slot0(STATE_FILE) {
            Ok(bytes) => match std::str::from_utf8(&bytes)
                .map_err(|e| e.to_string())
                .and_then(PersistedState::from_json)
            {
                Ok(s) => {
                    self.last_state = Some(s.to_json());
                    Some(s)
                }
                Err(e) => {
                    warnings.push(format!(
                        "state.json unreadable ({e}); starting with a new identity"
                    ));
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("reading", &self.state_path(), e)),
        };
        let bytes = match fs::read(self.log_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err("reading", &self.log_path(), e)),
        };
        let (mut messages, log_warnings) = replay(&bytes);
        warnings.extend(log_warnings);
        let orphans = if can_adopt {
            slots::find_orphans(&self.root, self.slot, &mut warnings)
        } else {
            Vec::new()
        };
        // Adopted messages are durable in our log before they leave the orphan's.
        let merged = (!orphans.is_empty()).then(|| slots::merge(&messages, &orphans));
        match self.rewrite(merged.as_deref().unwrap_or(&messages)) {
            Ok(()) => {
                if let Some(merged) = merged {
                    messages = merged;
                }
                for orphan in orphans {
                    warnings.extend(orphan.release(&self.root));
                }
            }
            Err(e) => {
                warnings.push(format!("compaction failed: {e}"));
                if !orphans.is_empty() {
                    warnings.push(format!(
                        "the queues of {} abandoned slot(s) of {} were left for a later start",
                        orphans.len(),
                        self.root.display()
                    ));
                }
            }
        }
        let settings = match self.read_own_or_slot0(SETTINGS_FILE).map(String::from_utf8) {
            Ok(Ok(text)) => Some(text),
            Ok(Err(e)) => {
                warnings.push(format!("settings unreadable ({e}); ignored"));
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                warnings.push(format!("settings unreadable ({e}); ignored"));
                None
            }
        };
        Ok(Restored {
            state,
            messages,
            warnings,
            settings,
        })
    }

    fn save_state(&mut self, state: &PersistedState) -> Result<(), StoreError> {
        let json = state.to_json();
        let result = self.write_atomically(&self.state_path(), json.as_bytes());
        self.last_state = Some(json);
        result
    }

    fn append(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        let mut out = Vec::new();
        for m in messages {
            encode_add(&mut out, m.message_id, m.category, m.enqueued_at, m.json);
        }
        self.adds += messages.len() as u64;
        self.append_records(&out)
    }

    fn replace(&mut self, messages: &[StoredMessageRef<'_>]) -> Result<(), StoreError> {
        // An add record for an id the log holds replaces it in place when replayed.
        self.append(messages)?;
        self.removes += messages.len() as u64;
        Ok(())
    }

    fn save_settings(&mut self, record: &str) -> Result<(), StoreError> {
        self.write_atomically(&self.settings_path(), record.as_bytes())
    }

    fn remove(&mut self, message_ids: &[&str]) -> Result<(), StoreError> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let mut payload = vec![REMOVE];
        payload.extend_from_slice(message_ids.join("\n").as_bytes());
        let mut out = Vec::new();
        push_record(&mut out, &payload);
        self.append_records(&out)?;
        self.removes += message_ids.len() as u64;
        if self.removes >= COMPACT_AFTER_REMOVES && self.removes * 2 > self.adds {
            self.compact()?;
        }
        Ok(())
    }
}
