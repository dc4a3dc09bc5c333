//! Slots: several clients (processes) on one data dir — pre-fork workers, overlapping restarts,
//! two instances started by mistake — neither corrupt each other's queue nor refuse to start.
//! (The pattern sentry-native uses for its run directories.)
//!
//! - **Taking a slot.** Slot 0 is the data dir itself (the layout a lone client has always
//!   used). When its lock is held by a live client, a store takes `slot-1`, `slot-2`, … (created
//!   as needed, each with its own `lock`, `queue.log`, `state.json` and `settings`): the first
//!   one it can lock, up to [`MAX_SLOTS`] in all (beyond: a clear error naming the limit). Which
//!   slot was taken is logged at info level.
//! - **Identity.** A slot without a `state.json` of its own starts from slot 0's (anonymous id,
//!   user id, session, consent choices) and from slot 0's last known privacy settings, so every
//!   process of one service shares the identity it had; from then on each slot keeps its own
//!   copy.
//! - **Adoption.** When a store loads, it locks every other slot nobody holds (its client shut
//!   down or died with events queued), reads its queue with the same reader as a restart
//!   (corrupt records skipped with warnings), merges those messages into its own (same
//!   messageIds, by original enqueue time, each id once) and rewrites its own log with them
//!   (atomically; `fsync`ed with `sync_writes`) — and only then removes the adopted slot's
//!   `queue.log`, removes a non-zero slot's directory and lets go of its lock. A crash between
//!   the two steps leaves the events in both places: they are sent again with the same
//!   messageIds and the collector de-duplicates (at-least-once). The adopted messages go
//!   through the core's restore like a restart's (consent, `max_age`, and `max_queue_size`:
//!   over the cap the oldest are dropped and counted `queue_full`). A slot whose lock is held
//!   is never touched, and slot 0 is never removed.
//! - **When.** Whenever a store is loaded (every client start), and then while the client runs,
//!   every [`ADOPT_INTERVAL_MS`] (its worker wakes up for that, also when idle): an
//!   [`Adopter`] appends the adopted messages to the running store's log (`fsync`ed with
//!   `sync_writes`) before it removes them from the adopted slot, and the worker hands them to
//!   the core ([`crate::Core::restore_messages`]: the same rules as a restart). So events a
//!   stopped instance left behind are delivered by the instances still running (a blue-green
//!   switch), not only at the next start, and not after `max_age` has expired them.
//! - A file system that cannot lock has no slots: every client uses slot 0, unlocked, with a
//!   warning (see `dir_lock.rs`).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::dir_lock::{DirLock, LOCK_FILE, LockAttempt};
use super::file_store::{LOG_FILE, SETTINGS_FILE, STATE_FILE, encode_add, replay};
use crate::store::{StoreError, StoredMessage};

/// While a client runs, its worker looks for abandoned slots to adopt this often (ms of the
/// client's clock; an idle worker wakes up for it: one directory listing a minute).
pub const ADOPT_INTERVAL_MS: u64 = 60_000;

/// How many clients can share one data dir: slot 0 (the dir itself) and `slot-1` …
/// `slot-63`.
pub const MAX_SLOTS: usize = 64;

/// The directory of `slot` in the data dir `root`.
pub(super) fn slot_dir(root: &Path, slot: usize) -> PathBuf {
    if slot == 0 {
        root.to_path_buf()
    } else {
        root.join(format!("slot-{slot}"))
    }
}

/// Locks the first slot of `root` (which exists) no live client holds.
pub(super) fn take_slot(root: &Path) -> Result<(usize, PathBuf, DirLock), StoreError> {
    for slot in 0..MAX_SLOTS {
        let dir = slot_dir(root, slot);
        if let Some(lock) = lock_slot(&dir)? {
            return Ok((slot, dir, lock));
        }
    }
    Err(StoreError(format!(
        "data dir {} is in use by {MAX_SLOTS} other footfall clients (in this or other processes): \
         all its {MAX_SLOTS} slots (the dir itself and slot-1 … slot-{}) are taken; stop one of \
         them or give this client a data dir of its own",
        root.display(),
        MAX_SLOTS - 1
    )))
}

/// The lock of the slot directory `dir` (created if missing), or `None` when a live client
/// holds it.
fn lock_slot(dir: &Path) -> Result<Option<DirLock>, StoreError> {
    // `Gone`: an adopting store removed this slot directory just now; make it again.
    for _ in 0..5 {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("data dir slot {} cannot be created: {e}", dir.display())))?;
        match DirLock::try_acquire(dir)? {
            LockAttempt::Locked(lock) => return Ok(Some(lock)),
            LockAttempt::Held => return Ok(None),
            LockAttempt::Gone => {}
        }
    }
    Ok(None)
}

/// A slot nobody holds, locked by the adopting store, and the messages its queue held.
#[derive(Debug)]
pub(super) struct Orphan {
    slot: usize,
    dir: PathBuf,
    lock: DirLock,
    messages: Vec<StoredMessage>,
}

/// Locks and reads every slot of `root` but `own` that no live client holds. Problems
/// (corrupt records, unreadable files) become `warnings`.
pub(super) fn find_orphans(root: &Path, own: usize, warnings: &mut Vec<String>) -> Vec<Orphan> {
    let mut orphans = Vec::new();
    for slot in (0..MAX_SLOTS).filter(|&s| s != own) {
        let dir = slot_dir(root, slot);
        if !dir.is_dir() {
            continue;
        }
        let lock = match DirLock::try_acquire(&dir) {
            Ok(LockAttempt::Locked(lock)) if lock.unlocked.is_none() => lock,
            // Live, just removed, or on a file system that cannot lock: not ours to take.
            Ok(_) => continue,
            Err(e) => {
                warnings.push(format!("slot {} not adopted: {e}", dir.display()));
                continue;
            }
        };
        let path = dir.join(LOG_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                warnings.push(format!("{} not adopted: reading it failed ({e})", path.display()));
                continue;
            }
        };
        let (messages, log_warnings) = replay(&bytes);
        for w in log_warnings {
            warnings.push(format!("adopting {}: {w}", dir.display()));
        }
        orphans.push(Orphan {
            slot,
            dir,
            lock,
            messages,
        });
    }
    orphans
}

/// `own` and the orphans' messages in one queue: each list keeps its order, the lists are
/// merged by enqueue time (ties: `own` first), and a messageId seen twice (left in two slots
/// by a crash in the middle of an adoption) is kept once.
pub(super) fn merge(own: &[StoredMessage], orphans: &[Orphan]) -> Vec<StoredMessage> {
    let mut lists: Vec<std::iter::Peekable<std::slice::Iter<'_, StoredMessage>>> =
        Vec::with_capacity(orphans.len() + 1);
    lists.push(own.iter().peekable());
    lists.extend(orphans.iter().map(|o| o.messages.iter().peekable()));
    let total = lists.iter().map(|l| l.len()).sum();
    let mut merged = Vec::with_capacity(total);
    let mut seen: HashSet<&str> = HashSet::with_capacity(total);
    loop {
        let next = lists
            .iter_mut()
            .enumerate()
            .filter_map(|(i, l)| l.peek().map(|m| (m.enqueued_at, i)))
            .min();
        let Some((_, i)) = next else { break };
        let m = lists[i].next().expect("peeked");
        if seen.insert(m.message_id.as_str()) {
            merged.push(m.clone());
        }
    }
    merged
}

impl Orphan {
    /// Once its messages are durable in the adopter's log: forgets them here, removes a non-zero
    /// slot's directory and lets go of the lock. Returns a warning when the queue could not be
    /// removed (its events will be sent again, with the same messageIds).
    pub(super) fn release(self, root: &Path) -> Option<String> {
        let count = self.messages.len();
        let removed = match fs::remove_file(self.dir.join(LOG_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if let Err(e) = removed {
            return Some(format!(
                "adopted the {count} queued events of {} but could not remove its {LOG_FILE} ({e}): \
                 they may be sent again (same messageIds, the collector de-duplicates)",
                self.dir.display()
            ));
        }
        if self.slot != 0 {
            for name in [
                STATE_FILE,
                SETTINGS_FILE,
                "state.tmp",
                "settings.tmp",
                "queue.tmp",
                LOCK_FILE,
            ] {
                let _ = fs::remove_file(self.dir.join(name));
            }
            // Not empty (files we do not know, or a store recreating the slot right now): left.
            let _ = fs::remove_dir(&self.dir);
        }
        if count > 0 {
            tracing::info!(
                target: "footfall",
                "data dir {}: adopted {count} queued events of slot {} (its client is gone)",
                root.display(),
                self.slot
            );
        }
        drop(self.lock);
        None
    }
}

/// Adoption by a running store: what the worker needs to adopt abandoned slots into the log of
/// the store the core owns (see the module docs). Only the worker thread uses the store and
/// its adopter, one after the other; both append to the same log file (`O_APPEND`), which the
/// store reopens by path after a compaction.
#[derive(Debug)]
pub(crate) struct Adopter {
    pub(super) root: PathBuf,
    pub(super) slot: usize,
    pub(super) log: PathBuf,
    pub(super) sync: bool,
}

impl Adopter {
    /// Adopts every other slot nobody holds now: their messages (those not already in our own
    /// log) are appended to it — `fsync`ed with `sync_writes` — and only then removed from the
    /// adopted slots. Returns them, for the core to queue (they are in the store already), and
    /// the problems met. When our log cannot be written, nothing is adopted (the slots stay as
    /// they are, for a later try).
    pub(crate) fn adopt(&self) -> (Vec<StoredMessage>, Vec<String>) {
        let mut warnings = Vec::new();
        let orphans = find_orphans(&self.root, self.slot, &mut warnings);
        if orphans.is_empty() {
            return (Vec::new(), warnings);
        }
        let mut messages = merge(&[], &orphans);
        if !messages.is_empty() {
            // Left in both by a crash in the middle of an earlier adoption: kept once.
            if let Ok(bytes) = fs::read(&self.log) {
                let ours: HashSet<String> = replay(&bytes).0.into_iter().map(|m| m.message_id).collect();
                messages.retain(|m| !ours.contains(&m.message_id));
            }
            let mut records = Vec::new();
            for m in &messages {
                encode_add(&mut records, &m.message_id, &m.category, m.enqueued_at, &m.json);
            }
            if let Err(e) = append_durably(&self.log, &records, self.sync) {
                warnings.push(format!(
                    "adopting {} abandoned slot(s) of {} failed: {} cannot be written ({e}); \
                     left for a later try",
                    orphans.len(),
                    self.root.display(),
                    self.log.display()
                ));
                return (Vec::new(), warnings);
            }
        }
        for orphan in orphans {
            warnings.extend(orphan.release(&self.root));
        }
        (messages, warnings)
    }
}

/// Appends to our log, which must exist (the store created it when it loaded): a log that is
/// gone (the data dir removed while in use) is the store's to recover, from its open file, and
/// what an adoption wrote to a new one would be overwritten then.
fn append_durably(path: &Path, records: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut log = fs::OpenOptions::new().append(true).open(path)?;
    log.write_all(records)?;
    if sync {
        log.sync_data()?;
    }
    Ok(())
}
