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

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::dir_lock::DirLock;
use super::slots;
use crate::store::{PersistedState, Restored, Store, StoreError, StoredMessage, StoredMessageRef};

pub(super) const LOG_FILE: &str = "queue.log";
pub(super) const STATE_FILE: &str = "state.json";
pub(super) const SETTINGS_FILE: &str = "settings";
const MAGIC: &[u8; 4] = b"FFQ1";
const HEADER: usize = 12;
const ADD: u8 = 1;
const REMOVE: u8 = 2;
/// The largest payload a reader accepts (a message is at most a few hundred KB).
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
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

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
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

    fn append_records(&mut self, records: &[u8]) -> Result<(), StoreError> {
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
    fn rewrite(&mut self, live: &[StoredMessage]) -> Result<(), StoreError> {
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

    fn compact(&mut self) -> Result<(), StoreError> {
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

fn push_record(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub(super) fn encode_add(out: &mut Vec<u8>, id: &str, category: &str, enqueued_at: u64, json: &str) {
    let mut p = Vec::with_capacity(1 + 8 + 4 + id.len() + category.len() + json.len());
    p.push(ADD);
    p.extend_from_slice(&enqueued_at.to_le_bytes());
    for s in [id, category] {
        p.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_le_bytes());
        p.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
    }
    p.extend_from_slice(json.as_bytes());
    push_record(out, &p);
}

enum Record {
    Add(StoredMessage),
    Remove(Vec<String>),
}

fn take_str(p: &[u8], at: &mut usize) -> Option<String> {
    let len = u16::from_le_bytes(p.get(*at..*at + 2)?.try_into().ok()?) as usize;
    let s = std::str::from_utf8(p.get(*at + 2..*at + 2 + len)?)
        .ok()?
        .to_string();
    *at += 2 + len;
    Some(s)
}

fn decode(payload: &[u8]) -> Option<Record> {
    match *payload.first()? {
        ADD => {
            let enqueued_at = u64::from_le_bytes(payload.get(1..9)?.try_into().ok()?);
            let mut at = 9;
            let message_id = take_str(payload, &mut at)?;
            let category = take_str(payload, &mut at)?;
            let json = std::str::from_utf8(payload.get(at..)?).ok()?.to_string();
            Some(Record::Add(StoredMessage {
                message_id,
                category,
                enqueued_at,
                json,
            }))
        }
        REMOVE => {
            let text = std::str::from_utf8(&payload[1..]).ok()?;
            Some(Record::Remove(
                text.split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// Replays a log: the live messages in order, and a warning per skipped stretch.
pub(super) fn replay(bytes: &[u8]) -> (Vec<StoredMessage>, Vec<String>) {
    let mut slots: Vec<Option<StoredMessage>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut warnings = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let header = bytes.get(pos..pos + HEADER);
        let parsed = header.and_then(|h| {
            if &h[..4] != MAGIC {
                return None;
            }
            let len = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
            let crc = u32::from_le_bytes(h[8..12].try_into().ok()?);
            if len > MAX_PAYLOAD {
                return None;
            }
            let payload = bytes.get(pos + HEADER..pos + HEADER + len)?;
            (crc32fast::hash(payload) == crc).then(|| decode(payload).map(|r| (r, HEADER + len)))?
        });
        match parsed {
            Some((record, size)) => {
                match record {
                    Record::Add(m) => match index.get(&m.message_id) {
                        // A rewrite (`Store::replace`) keeps the message's place.
                        Some(&i) => slots[i] = Some(m),
                        None => {
                            index.insert(m.message_id.clone(), slots.len());
                            slots.push(Some(m));
                        }
                    },
                    Record::Remove(ids) => {
                        for id in ids {
                            if let Some(i) = index.remove(&id) {
                                slots[i] = None;
                            }
                        }
                    }
                }
                pos += size;
            }
            None => {
                let next = bytes[pos + 1..]
                    .windows(4)
                    .position(|w| w == MAGIC)
                    .map(|i| pos + 1 + i);
                let skipped = next.unwrap_or(bytes.len()) - pos;
                let what = if next.is_none() {
                    "torn or corrupt record at the end"
                } else {
                    "corrupt record"
                };
                warnings.push(format!(
                    "queue.log: {what} at byte {pos} ({skipped} bytes) skipped"
                ));
                pos = next.unwrap_or(bytes.len());
            }
        }
    }
    (slots.into_iter().flatten().collect(), warnings)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> StoredMessage {
        StoredMessage {
            message_id: id.into(),
            category: "analytics".into(),
            enqueued_at: 42,
            json: format!(r#"{{"type":"track","messageId":"{id}"}}"#),
        }
    }

    fn append(store: &mut FileStore, ids: &[&str]) {
        let owned: Vec<StoredMessage> = ids.iter().map(|i| msg(i)).collect();
        let refs: Vec<StoredMessageRef<'_>> = owned.iter().map(StoredMessage::borrowed).collect();
        store.append(&refs).unwrap();
    }

    fn ids(r: &Restored) -> Vec<&str> {
        r.messages.iter().map(|m| m.message_id.as_str()).collect()
    }

    #[test]
    fn round_trips_state_and_queue_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        assert_eq!(s.load().unwrap(), Restored::default());
        let state = PersistedState {
            anonymous_id: Some("a".into()),
            ..Default::default()
        };
        s.save_state(&state).unwrap();
        append(&mut s, &["1", "2", "3"]);
        s.remove(&["2"]).unwrap();
        drop(s);
        let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(restored.state, Some(state));
        assert_eq!(ids(&restored), ["1", "3"]);
        assert_eq!(restored.messages[0], msg("1"));
        assert!(restored.warnings.is_empty());
    }

    #[test]
    fn torn_tail_and_corrupt_middle_are_skipped_with_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        s.load().unwrap();
        append(&mut s, &["1", "2", "3"]);
        drop(s);
        let path = dir.path().join("queue.log");
        let mut bytes = fs::read(&path).unwrap();
        let second = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == MAGIC)
            .nth(1)
            .unwrap()
            .0;
        bytes[second + HEADER + 5] ^= 0xff; // corrupt record 2's payload
        bytes.extend_from_slice(b"FFQ1\x40\x00\x00\x00"); // a torn header at the end
        fs::write(&path, &bytes).unwrap();
        let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(ids(&restored), ["1", "3"]);
        assert_eq!(restored.warnings.len(), 2, "{:?}", restored.warnings);
        // Loading compacted the log: the next load is clean.
        let again = FileStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(ids(&again), ["1", "3"]);
        assert!(again.warnings.is_empty());
    }

    #[test]
    fn garbage_files_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("queue.log"),
            b"\x00\x01FFQ1FFQ1\xff\xff\xff\xffgarbage",
        )
        .unwrap();
        fs::write(dir.path().join("state.json"), b"{not json").unwrap();
        let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
        assert!(restored.messages.is_empty() && restored.state.is_none());
        assert!(restored.warnings.iter().any(|w| w.contains("state.json")));
    }

    #[test]
    fn compacts_when_removes_dominate() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        s.load().unwrap();
        let ids_owned: Vec<String> = (0..1_500).map(|i| i.to_string()).collect();
        let id_refs: Vec<&str> = ids_owned.iter().map(String::as_str).collect();
        append(&mut s, &id_refs);
        let before = fs::metadata(dir.path().join("queue.log")).unwrap().len();
        s.remove(&id_refs[..1_400]).unwrap();
        let after = fs::metadata(dir.path().join("queue.log")).unwrap().len();
        assert!(after < before / 5, "{before} -> {after}");
        append(&mut s, &["new"]);
        drop(s);
        let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(restored.messages.len(), 101);
        assert_eq!(restored.messages.last().unwrap().message_id, "new");
    }
}
