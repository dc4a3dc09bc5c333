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

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

const MAGIC: &[u8; 4] = b"FFI1";
const HEADER: usize = 4 + 4 + 4 + 8;

/// One logged write (what was new in it, after dedupe), kept as its encoded payload: one
/// allocation per write instead of a score of strings per event, read in place by the loader.
#[derive(Clone)]
pub struct Record {
    pub seq: u64,
    /// The encoded record; its payload starts at `at`.
    data: Vec<u8>,
    at: usize,
    rows: usize,
}

impl Record {
    /// The write, borrowed from the payload (checked when the record was made or read).
    pub fn view(&self) -> BatchView<'_> {
        decode_view(&self.data[self.at..]).expect("a record's payload is checked when it is made")
    }
}

/// One event, borrowed from a record.
pub struct EventRef<'a> {
    pub project_id: &'a str,
    pub message_id: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
    pub ts: i64,
    pub received_at: i64,
    pub sent_at: Option<i64>,
    pub original_timestamp: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub group_id: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub os: Option<&'a str>,
    pub device_type: Option<&'a str>,
    pub is_bot: bool,
    pub ip: Option<&'a str>,
    pub properties: &'a str,
    pub traits: &'a str,
    pub context: &'a str,
}

/// A logged write, borrowed from its record (links and dead letters are rare: owned).
pub struct BatchView<'a> {
    pub events: Vec<EventRef<'a>>,
    pub links: Vec<IdentityLink>,
    pub dead_letters: Vec<DeadLetter>,
}

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

/// Bytes of a segment that hold no valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub len: usize,
    /// Valid records follow it (damage in the middle: data that was acknowledged), or it is the
    /// tail of the segment.
    pub mid: bool,
    /// The tail ends before the length its header announces: a write cut short (never
    /// acknowledged: the ack follows the fsync).
    pub short: bool,
}

/// The valid records of a segment, and the damaged stretches between or after them. Replay goes
/// on after damage at the next record that checks out (magic, CRC, decodable payload), so a
/// damaged record costs only itself.
fn read_segment(bytes: &[u8]) -> (Vec<Record>, Vec<Damage>) {
    let mut out = Vec::new();
    let mut damage = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if let Some((record, end)) = read_record(bytes, at) {
            out.push(record);
            at = end;
            continue;
        }
        let next = (at + 1..bytes.len().saturating_sub(HEADER - 1))
            .filter(|&p| &bytes[p..p + 4] == MAGIC)
            .find_map(|p| read_record(bytes, p).map(|r| (p, r)));
        let short = bytes.len() - at < HEADER
            || (&bytes[at..at + 4] == MAGIC
                && at
                    + HEADER
                    + u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize
                    > bytes.len());
        match next {
            Some((p, (record, end))) => {
                damage.push(Damage {
                    offset: at,
                    len: p - at,
                    mid: true,
                    short: false,
                });
                out.push(record);
                at = end;
            }
            None => {
                damage.push(Damage {
                    offset: at,
                    len: bytes.len() - at,
                    mid: false,
                    short,
                });
                break;
            }
        }
    }
    (out, damage)
}

/// The record at `at` if it is whole and checks out, and where it ends.
fn read_record(bytes: &[u8], at: usize) -> Option<(Record, usize)> {
    if bytes.len() - at < HEADER || &bytes[at..at + 4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
    let body = at + 12;
    let end = body.checked_add(8 + len).filter(|&e| e <= bytes.len())?;
    if crc32fast::hash(&bytes[body..end]) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(bytes[body..body + 8].try_into().expect("8 bytes"));
    let payload = &bytes[body + 8..end];
    let rows = decode_view(payload)?.events.len();
    let record = Record {
        seq,
        data: payload.to_vec(),
        at: 0,
        rows,
    };
    Some((record, end))
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

fn encode_record(
    buf: &mut Vec<u8>,
    seq: u64,
    events: &[&EventRow],
    links: &[IdentityLink],
    dead_letters: &[DeadLetter],
) {
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&[0; 8]); // length and CRC, filled in below
    let body = buf.len();
    buf.extend_from_slice(&seq.to_le_bytes());
    encode_batch(buf, events, links, dead_letters);
    let len = (buf.len() - body - 8) as u32;
    let crc = crc32fast::hash(&buf[body..]);
    buf[body - 8..body - 4].copy_from_slice(&len.to_le_bytes());
    buf[body - 4..body].copy_from_slice(&crc.to_le_bytes());
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => {
            buf.push(1);
            put_str(buf, s);
        }
        None => buf.push(0),
    }
}

fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_opt_i64(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            buf.push(1);
            put_i64(buf, v);
        }
        None => buf.push(0),
    }
}

fn encode_batch(
    buf: &mut Vec<u8>,
    events: &[&EventRow],
    links: &[IdentityLink],
    dead_letters: &[DeadLetter],
) {
    buf.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        // Destructured so that a new column cannot be forgotten here.
        let EventRow {
            project_id,
            message_id,
            kind,
            event,
            ts,
            received_at,
            sent_at,
            original_timestamp,
            anonymous_id,
            user_id,
            session_id,
            group_id,
            browser,
            os,
            device_type,
            is_bot,
            ip,
            properties,
            traits,
            context,
        } = *e;
        for s in [project_id, message_id, kind, event] {
            put_str(buf, s);
        }
        put_i64(buf, *ts);
        put_i64(buf, *received_at);
        put_opt_i64(buf, *sent_at);
        for s in [
            original_timestamp,
            anonymous_id,
            user_id,
            session_id,
            group_id,
            browser,
            os,
            device_type,
        ] {
            put_opt_str(buf, s);
        }
        buf.push(*is_bot as u8);
        put_opt_str(buf, ip);
        for s in [properties, traits, context] {
            put_str(buf, s);
        }
    }
    buf.extend_from_slice(&(links.len() as u32).to_le_bytes());
    for IdentityLink {
        project_id,
        anonymous_id,
        user_id,
        linked_at,
    } in links
    {
        for s in [project_id, anonymous_id, user_id] {
            put_str(buf, s);
        }
        put_i64(buf, *linked_at);
    }
    buf.extend_from_slice(&(dead_letters.len() as u32).to_le_bytes());
    for DeadLetter {
        project_id,
        received_at,
        reason,
        message_id,
        payload,
    } in dead_letters
    {
        put_opt_str(buf, project_id);
        put_i64(buf, *received_at);
        put_str(buf, reason);
        put_opt_str(buf, message_id);
        put_str(buf, payload);
    }
}

/// A cursor over a record's payload; every read fails (`None`) past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.bytes(n)?).ok()
    }
    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        self.opt(Self::str)
    }
    fn opt_string(&mut self) -> Option<Option<String>> {
        self.opt(Self::string)
    }
    /// A count of items, each at least `min_size` bytes: never more than the bytes left allow.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.saturating_mul(min_size) <= self.0.len()).then_some(n)
    }
}

fn decode_view(bytes: &[u8]) -> Option<BatchView<'_>> {
    let mut r = Reader(bytes);
    let n = r.count(40)?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(EventRef {
            project_id: r.str()?,
            message_id: r.str()?,
            kind: r.str()?,
            event: r.str()?,
            ts: r.i64()?,
            received_at: r.i64()?,
            sent_at: r.opt(Reader::i64)?,
            original_timestamp: r.opt_str()?,
            anonymous_id: r.opt_str()?,
            user_id: r.opt_str()?,
            session_id: r.opt_str()?,
            group_id: r.opt_str()?,
            browser: r.opt_str()?,
            os: r.opt_str()?,
            device_type: r.opt_str()?,
            is_bot: r.u8()? != 0,
            ip: r.opt_str()?,
            properties: r.str()?,
            traits: r.str()?,
            context: r.str()?,
        });
    }
    let mut links = Vec::new();
    for _ in 0..r.count(20)? {
        links.push(IdentityLink {
            project_id: r.string()?,
            anonymous_id: r.string()?,
            user_id: r.string()?,
            linked_at: r.i64()?,
        });
    }
    let mut dead_letters = Vec::new();
    for _ in 0..r.count(18)? {
        dead_letters.push(DeadLetter {
            project_id: r.opt_string()?,
            received_at: r.i64()?,
            reason: r.string()?,
            message_id: r.opt_string()?,
            payload: r.string()?,
        });
    }
    // Bytes after the dead letters are a newer version's addition (see the module docs: a
    // rollback must not drop its records), ignored.
    Some(BatchView {
        events,
        links,
        dead_letters,
    })
}

#[cfg(test)]
#[path = "intake_tests.rs"]
pub(super) mod tests;
