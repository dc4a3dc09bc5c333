//! The embedded store's intake log: where a write is durable before DuckDB holds it.
//!
//! # Why
//! DuckDB handles a small appended transaction twice: it serializes the rows into its WAL at
//! commit, then compresses them again when a checkpoint moves them into the database file. An
//! append of a whole row group (122,880 rows) is different: DuckDB writes it compressed straight
//! into the file and logs only block pointers. The collector group-commits a few thousand events
//! at a time, so its commits took the expensive path (1.6–2.4× the CPU per row of whole row
//! groups, engine/tests/store_throughput.rs). So a write is made durable here, in an append-only
//! log that is fsynced once per write, and a loader moves the log into DuckDB in transactions of
//! [`LOAD_ROWS`] (or at least every [`LOAD_INTERVAL`]).
//!
//! # Guarantees
//! * **Durable**: [`IntakeLog::append`] returns after the record is written and `fdatasync`ed; a
//!   crash at any point after that loses nothing — the next open replays it.
//! * **Exactly once**: each record has a sequence number; a load inserts records and sets
//!   `intake_state.loaded_seq` in one DuckDB transaction, and a replay skips records at or below
//!   it. Dedupe is decided before the append (the digest set covers logged events), so a replayed
//!   record is inserted as is.
//! * **Visible**: every read of events or identities first loads what is pending (see
//!   `settle` in the store), so a query after an acknowledged write sees it, as before.
//! * **Bounded**: at most [`MAX_PENDING_ROWS`] rows wait in memory (~0.7 KB each); a write beyond
//!   that waits for the loader up to [`BACKLOG_WAIT`], then fails as unavailable (the collector
//!   answers 503 with `Retry-After`).
//!
//! # Format
//! Segments `DIR/intake/<first seq, 20 digits>.log`; a segment is closed when the loader takes
//! its records and deleted once they are committed in DuckDB. A record: magic `FFI1`, payload
//! length (u32 LE), CRC-32 of seq and payload (u32 LE), seq (u64 LE), payload. A torn record can
//! only be the last one of a segment (a failed append is cut off, and if that fails the log moves
//! to a new segment): replay cuts it off with a warning. Damage in the middle (a bad sector, a
//! flipped bit) costs only the records it hits: replay goes on at the next record that checks out
//! and logs an error naming the file and the bytes lost. The payload is the write batch, fields in
//! declaration order: strings as u32 length + UTF-8, options as a 0/1 byte first, integers LE.
//! This is version 1 of the format, pinned by the fixture in
//! `engine/tests/fixtures/persisted/v1/intake` (engine/tests/persisted_v1.rs). A reader ignores
//! bytes after the last section (the dead letters), so a newer version may append data there
//! (e.g. a per-event section of new columns) and a rolled-back version still loads its records;
//! anything else (a field in the middle, another magic) needs a new version and a migration.
//!
//! The record format (encoding, decoding, reading a segment) is in `intake/format.rs`; this file
//! keeps the log's bookkeeping: segments, sequence numbers, what is pending and what a load took.

mod format;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use self::format::{Damage, HEADER, encode_record, read_segment};
pub use self::format::{EventRef, Record};
use super::keys::KeySet;
use crate::store::{DeadLetter, EventRow, IdentityLink};

/// DuckDB's row group size: the full row groups of a load are written compressed straight to
/// the database file; only the last, partial one goes through the WAL (and is compressed again
/// at a checkpoint).
pub const ROW_GROUP: usize = 122_880;
/// Rows that make a load due: two row groups, so that the partial one is a small share.
pub const LOAD_ROWS: usize = 2 * ROW_GROUP;
/// The longest an acknowledged write waits before the loader moves it into DuckDB.
pub const LOAD_INTERVAL: Duration = Duration::from_secs(1);
/// Rows held for the loader (their encoding: about 0.7 KB each); writes beyond it wait.
pub const MAX_PENDING_ROWS: usize = 2 * LOAD_ROWS;
/// How long a write waits for the loader when the backlog is full before failing.
pub const BACKLOG_WAIT: Duration = Duration::from_secs(10);

/// Bytes of loaded records' buffers kept for reuse by later appends (fresh memory for every
/// write cost the collector page faults).
const SPARE_BYTES: usize = 64 << 20;

/// Records taken by a load, and the segments that hold nothing else.
pub struct Taken {
    pub records: Vec<Record>,
    pub segments: Vec<PathBuf>,
}

/// The log and the writes it holds that DuckDB does not have yet. `dir: None` (an in-memory
/// database) keeps the pending writes without a file.
pub struct IntakeLog {
    dir: Option<PathBuf>,
    /// The segment appends go to: its path, file and length.
    current: Option<(PathBuf, File, u64)>,
    /// Closed segments whose records are pending or being loaded.
    sealed: Vec<PathBuf>,
    next_seq: u64,
    pending: VecDeque<Record>,
    pending_rows: usize,
    /// Rows pending or being loaded, readable without the log's lock (the backlog metric).
    backlog: Arc<AtomicU64>,
    oldest: Option<Instant>,
    /// Whether a load has taken records and not yet finished or restored them.
    loading: bool,
    /// Buffers of loaded records, for reuse; their capacity in bytes.
    spare: Vec<Vec<u8>>,
    spare_bytes: usize,
    /// Digests of every event stored or logged (see `keys`); `None` until loaded.
    pub keys: Option<KeySet>,
    /// Bytes replay skipped as damaged that may have held acknowledged events (damage in the
    /// middle of a segment or a corrupt last record; not a torn, never acknowledged tail).
    pub damaged_bytes: u64,
}

impl IntakeLog {
    /// Opens the log in `dir` (created if needed), replaying the records after `loaded_seq`:
    /// they come back pending, in order, and the segments that hold them are sealed.
    pub fn open(dir: Option<PathBuf>, loaded_seq: u64) -> io::Result<Self> {
        let mut log = Self {
            dir: dir.clone(),
            current: None,
            sealed: Vec::new(),
            next_seq: loaded_seq + 1,
            pending: VecDeque::new(),
            pending_rows: 0,
            backlog: Arc::default(),
            oldest: None,
            loading: false,
            spare: Vec::new(),
            spare_bytes: 0,
            keys: None,
            damaged_bytes: 0,
        };
        let Some(dir) = dir else { return Ok(log) };
        fs::create_dir_all(&dir).map_err(named(&dir))?;
        let mut segments: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(named(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        segments.sort();
        for path in segments {
            let (records, damage) = read_segment(&fs::read(&path).map_err(named(&path))?);
            report_damage(&path, &damage);
            log.damaged_bytes += damage
                .iter()
                .filter(|d| !d.short)
                .map(|d| d.len as u64)
                .sum::<u64>();
            for record in records {
                log.next_seq = log.next_seq.max(record.seq + 1);
                if record.seq > loaded_seq {
                    log.push(record);
                }
            }
            log.sealed.push(path);
        }
        Ok(log)
    }

    /// Rows waiting for the loader.
    pub fn pending_rows(&self) -> usize {
        self.pending_rows
    }

    /// Rows pending or being loaded, as a counter readable without the log's lock.
    pub fn backlog(&self) -> Arc<AtomicU64> {
        self.backlog.clone()
    }

    /// Whether the loader should run now.
    pub fn load_due(&self) -> bool {
        self.pending_rows >= LOAD_ROWS
            || self.oldest.is_some_and(|t| t.elapsed() >= LOAD_INTERVAL)
            || (self.pending.is_empty() && !self.sealed.is_empty())
    }

    /// Whether anything awaits a load (pending records, a load in progress, or segments to
    /// delete).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.sealed.is_empty() || self.loading
    }

    /// Logs a write durably and keeps it pending. An empty write is not logged.
    pub fn append(
        &mut self,
        events: &[&EventRow],
        links: &[IdentityLink],
        dead_letters: &[DeadLetter],
    ) -> io::Result<()> {
        if events.is_empty() && links.is_empty() && dead_letters.is_empty() {
            return Ok(());
        }
        let seq = self.next_seq;
        let mut buf = self.spare.pop().unwrap_or_default();
        self.spare_bytes -= buf.capacity();
        buf.clear();
        buf.reserve(HEADER + 700 * events.len() + 200);
        encode_record(&mut buf, seq, events, links, dead_letters);
        if self.dir.is_some() {
            self.write_durably(seq, &buf)?;
        }
        self.next_seq += 1;
        self.push(Record {
            seq,
            data: buf,
            at: HEADER,
            rows: events.len(),
        });
        Ok(())
    }

    fn push(&mut self, record: Record) {
        self.pending_rows += record.rows;
        self.backlog.fetch_add(record.rows as u64, Ordering::Relaxed);
        self.oldest.get_or_insert_with(Instant::now);
        self.pending.push_back(record);
    }

    fn write_durably(&mut self, seq: u64, buf: &[u8]) -> io::Result<()> {
        if self.current.is_none() {
            let dir = self.dir.as_ref().expect("file-backed log");
            let path = dir.join(format!("{seq:020}.log"));
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            sync_dir(dir)?;
            self.current = Some((path, file, 0));
        }
        let (_, file, len) = self.current.as_mut().expect("opened above");
        let result = file.write_all(buf).and_then(|()| file.sync_data());
        match result {
            Ok(()) => {
                *len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut the torn record off; if even that fails, later records go to a new
                // segment so that replay (which stops at a bad record) still reaches them.
                if file.set_len(*len).and_then(|()| file.sync_data()).is_err() {
                    let (path, _, _) = self.current.take().expect("current");
                    self.sealed.push(path);
                }
                Err(e)
            }
        }
    }

    /// Takes every pending record for a load and closes the current segment (later appends
    /// start a new one), so the taken segments can be deleted once the load commits.
    pub fn take(&mut self) -> Taken {
        if let Some((path, _, _)) = self.current.take() {
            self.sealed.push(path);
        }
        self.pending_rows = 0;
        self.oldest = None;
        self.loading = true;
        Taken {
            records: self.pending.drain(..).collect(),
            segments: std::mem::take(&mut self.sealed),
        }
    }

    /// Ends the load of `taken`: committed (`loaded`) → its segments go and its buffers are kept
    /// for reuse; failed → its records are pending again.
    pub fn complete(&mut self, mut taken: Taken, loaded: bool) {
        if loaded {
            self.finish(std::mem::take(&mut taken.segments));
            self.recycle(taken.records);
        } else {
            self.restore(taken);
        }
    }

    /// The load of what [`Self::take`] took committed: its segments go.
    pub fn finish(&mut self, segments: Vec<PathBuf>) {
        self.loading = false;
        self.backlog.store(self.pending_rows as u64, Ordering::Relaxed);
        for path in &segments {
            if let Err(e) = fs::remove_file(path)
                && e.kind() != io::ErrorKind::NotFound
            {
                // Harmless: its records are at or below `loaded_seq` and skipped on replay;
                // the next successful load retries the deletion.
                tracing::warn!(path = %path.display(), error = %e, "duckdb intake: cannot delete a loaded segment");
                self.sealed.push(path.clone());
            }
        }
    }

    /// Drops the pending records the database already holds (sequence number ≤ `loaded_seq`):
    /// after a reopen, a load that reported a failure may have committed. Returns how many.
    pub fn forget_loaded(&mut self, loaded_seq: u64) -> usize {
        let before = self.pending.len();
        let mut rows = 0;
        self.pending.retain(|r| {
            let keep = r.seq > loaded_seq;
            if !keep {
                rows += r.rows;
            }
            keep
        });
        self.pending_rows -= rows;
        self.backlog.fetch_sub(rows as u64, Ordering::Relaxed);
        if self.pending.is_empty() {
            self.oldest = None;
        }
        before - self.pending.len()
    }

    /// Keeps the buffers of loaded records for later appends, up to [`SPARE_BYTES`].
    pub fn recycle(&mut self, records: Vec<Record>) {
        for record in records {
            let cap = record.data.capacity();
            if self.spare_bytes + cap <= SPARE_BYTES {
                self.spare_bytes += cap;
                self.spare.push(record.data);
            }
        }
    }

    /// The load of `taken` failed: its records are pending again, ahead of newer ones.
    pub fn restore(&mut self, taken: Taken) {
        self.loading = false;
        for record in taken.records.into_iter().rev() {
            self.pending_rows += record.rows;
            self.pending.push_front(record);
        }
        if !self.pending.is_empty() {
            self.oldest = Some(Instant::now() - LOAD_INTERVAL);
        }
        let mut segments = taken.segments;
        segments.append(&mut self.sealed);
        self.sealed = segments;
    }
}

/// Adds the path to an I/O error, so that the message names the file.
fn named(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Says what replay found damaged in `path` (the log and the operator must know: a damaged
/// record in the middle held acknowledged events).
fn report_damage(path: &Path, damage: &[Damage]) {
    for d in damage {
        let (file, offset, bytes) = (path.display(), d.offset, d.len);
        if d.mid {
            tracing::error!(
                file = %file, offset, bytes,
                "duckdb intake: corrupt data in the middle of a log segment skipped; the acknowledged \
                 events in it are lost (the records after it are recovered); check the disk"
            );
        } else if d.short {
            tracing::warn!(
                file = %file, offset, bytes,
                "duckdb intake: torn record at the end of a log segment cut off (a write cut short \
                 by a crash; it was never acknowledged)"
            );
        } else {
            tracing::error!(
                file = %file, offset, bytes,
                "duckdb intake: corrupt last record of a log segment skipped (a write cut short by \
                 a crash, never acknowledged, or damaged acknowledged events); check the disk"
            );
        }
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
pub(super) mod tests;
