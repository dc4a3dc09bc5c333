//! How writes go through the intake log (see [`super::intake`]) into DuckDB: the write that
//! logs them, the loader thread that moves them, and the settling that reads and erasure do
//! first.
//!
//! Locks: the writer connection, then the intake log, never the other way round. A write holds
//! only the log (for its dedupe, append and fsync), so intake goes on while the loader inserts
//! into DuckDB under the writer lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use ::duckdb::{Connection, params};

use super::intake::{BACKLOG_WAIT, IntakeLog, LOAD_ROWS, MAX_PENDING_ROWS, Record, Taken};
use super::keys::{self, KeySet};
use super::scan::{SCAN_FUNCTION, ScanSlot};
use super::{EVENT_COLUMN_NAMES, Inner, KEYED_EVENT_COLUMN_NAMES, Writer, connection, err, lock, sql};
use crate::store::{EventRow, StoreError, WriteBatch, WriteReport, common};

/// The log's directory inside the data directory.
pub const INTAKE_DIR: &str = "intake";
/// How often the idle loader looks at the log's age.
const LOADER_TICK: Duration = Duration::from_millis(100);
/// Failed loads in a row between two warnings in the log (one a second: one line a minute).
const LOADER_FAILURES_PER_LOG: u64 = 60;

/// The log and the signals around it, shared with the loader thread (which holds no strong
/// reference to the store, so dropping the store ends it).
pub struct Intake {
    pub log: Mutex<IntakeLog>,
    /// [`IntakeLog::backlog`], read without the lock.
    pub backlog: Arc<AtomicU64>,
    /// Notified when rows become pending (the loader) and when a load makes room (writers
    /// waiting on a full backlog).
    changed: Condvar,
    closed: AtomicBool,
    /// The loader thread, joined by [`Inner::close`].
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Intake {
    pub fn new(log: IntakeLog) -> Self {
        Self {
            backlog: log.backlog(),
            log: Mutex::new(log),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            thread: Mutex::new(None),
        }
    }
}

/// Creates the table that records the last loaded log record; returns its sequence number.
pub fn prepare_state(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS intake_state (id INTEGER PRIMARY KEY, loaded_seq BIGINT NOT NULL);
         INSERT INTO intake_state SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM intake_state);",
    )
    .map_err(err)?;
    let seq: i64 = conn
        .query_row("SELECT loaded_seq FROM intake_state WHERE id = 1", [], |r| {
            r.get(0)
        })
        .map_err(err)?;
    Ok(seq.max(0) as u64)
}

/// Starts the loader thread of `inner`.
pub fn spawn(inner: &Arc<Inner>) {
    let intake = inner.intake.clone();
    let weak = Arc::downgrade(inner);
    let started = std::thread::Builder::new()
        .name("footfall-duckdb-loader".into())
        .spawn(move || run_loader(&intake, &weak));
    match started {
        Ok(handle) => {
            if let Ok(mut slot) = inner.intake.thread.lock() {
                *slot = Some(handle);
            }
        }
        // Writes still work (reads and a full backlog load them), only later.
        Err(e) => tracing::error!(error = %e, "duckdb: cannot start the intake loader thread"),
    }
}

fn run_loader(intake: &Intake, store: &Weak<Inner>) {
    // Failures in a row: the first is logged, then one in LOADER_FAILURES_PER_LOG (a full disk
    // fails every round until space returns).
    let mut failures = 0u64;
    loop {
        {
            let Ok(mut log) = intake.log.lock() else { return };
            while !intake.closed.load(Ordering::Acquire) && !log.load_due() {
                match intake.changed.wait_timeout(log, LOADER_TICK) {
                    Ok((guard, _)) => log = guard,
                    Err(_) => return,
                }
            }
        }
        if intake.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(inner) = store.upgrade() else { return };
        match inner.load_pending() {
            Ok(()) if failures > 0 => {
                tracing::info!(failures, "duckdb: loading the intake log works again");
                failures = 0;
            }
            Ok(()) => {}
            Err(e) => {
                failures += 1;
                if failures % LOADER_FAILURES_PER_LOG == 1 {
                    tracing::warn!(error = %e, failures, "duckdb: loading the intake log failed; retrying every second");
                }
                drop(inner);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

impl Inner {
    /// [`crate::store::Store::write`]: dedupe, log durably, keep pending. Returns the report
    /// and the rows (logged by their encoding; for the caller to free).
    pub(super) fn intake_write(&self, batch: WriteBatch) -> (Result<WriteReport, StoreError>, Vec<EventRow>) {
        let WriteBatch {
            events,
            links,
            dead_letters,
        } = batch;
        let mut log = match self.log_with_keys() {
            Ok(log) => log,
            Err(e) => return (Err(e), events),
        };
        // A full backlog: wait for the loader (bounded intake memory), then give up.
        let deadline = Instant::now() + BACKLOG_WAIT;
        while log.pending_rows() >= MAX_PENDING_ROWS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let e =
                    StoreError::Unavailable("duckdb: the intake backlog is full (loading is behind)".into());
                return (Err(e), events);
            }
            self.intake.changed.notify_all();
            log = match self.intake.changed.wait_timeout(log, left) {
                Ok((guard, _)) => guard,
                Err(_) => {
                    return (
                        Err(StoreError::Unavailable("duckdb: intake log poisoned".into())),
                        events,
                    );
                }
            };
        }
        // One digest per event decides both kinds of duplicates: an earlier copy in this batch
        // or a stored (or logged) one. Indexes are visited in order, so `duplicates` is sorted.
        let stored = log.keys.as_ref().expect("loaded by log_with_keys");
        let mut fresh = Vec::with_capacity(events.len());
        let mut fresh_keys = KeySet::with_capacity_and_hasher(events.len(), Default::default());
        let mut duplicates = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let k = keys::key(&e.project_id, &e.message_id);
            if stored.contains(&k) || !fresh_keys.insert(k) {
                duplicates.push(i);
            } else {
                fresh.push(e);
            }
        }
        let inserted = fresh.len();
        // The log keeps the write's encoding; the rows themselves go back to the caller, to be
        // freed on the thread that allocated them.
        let appended = log.append(&fresh, &links, &dead_letters);
        drop(fresh);
        if let Err(e) = appended {
            let e = StoreError::Unavailable(format!("duckdb: cannot write the intake log: {e}"));
            return (Err(e), events);
        }
        // Logged: only now do these keys count as stored.
        log.keys.as_mut().expect("loaded").extend(fresh_keys);
        if log.pending_rows() >= LOAD_ROWS {
            self.intake.changed.notify_all();
        }
        (Ok(WriteReport { inserted, duplicates }), events)
    }

    /// The log, with the dedupe set loaded (at the first write of a process).
    fn log_with_keys(&self) -> Result<std::sync::MutexGuard<'_, IntakeLog>, StoreError> {
        {
            let log = lock(&self.intake.log)?;
            if log.keys.is_some() {
                return Ok(log);
            }
        }
        let mut w = self.writer()?;
        let mut log = lock(&self.intake.log)?;
        ensure_keys(&mut w, &mut log)?;
        drop(w);
        Ok(log)
    }

    /// Moves every pending write into DuckDB; intake goes on meanwhile. Returns when everything
    /// acknowledged before the call is in DuckDB (a load already running is waited for: it
    /// holds the writer).
    pub(super) fn load_pending(&self) -> Result<(), StoreError> {
        let mut w = self.writer()?;
        let taken = lock(&self.intake.log)?.take();
        let (result, taken) = insert_taken(&mut w, taken);
        let mut log = lock(&self.intake.log)?;
        log.complete(taken, result.is_ok());
        if let Err(e) = &result {
            self.recover_locked(&mut w, &mut log, e);
        }
        drop((log, w));
        self.intake.changed.notify_all();
        result
    }

    /// [`crate::store::Store::close`]: stops the loader (after the load it may be running),
    /// loads what is still pending and checkpoints, so the database file alone is complete.
    pub(super) fn close(&self) -> Result<(), StoreError> {
        self.intake.closed.store(true, Ordering::Release);
        self.intake.changed.notify_all();
        let thread = lock(&self.intake.thread)?.take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::warn!("duckdb: the intake loader thread panicked");
        }
        self.with_settled(|w, _| w.conn.execute_batch("CHECKPOINT").map_err(err))
    }

    /// Runs `f` with the writer and the log held, after loading everything pending.
    pub(super) fn with_settled<T>(
        &self,
        f: impl FnOnce(&mut Writer, &mut IntakeLog) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut w = self.writer()?;
        let mut log = lock(&self.intake.log)?;
        let result = settle_locked(&mut w, &mut log).and_then(|()| f(&mut w, &mut log));
        if let Err(e) = &result {
            self.recover_locked(&mut w, &mut log, e);
        }
        drop(log);
        self.intake.changed.notify_all();
        result
    }
}

impl Drop for Inner {
    /// Loads what is pending (so the database file alone is complete after a clean close) and
    /// stops the loader. A failure here loses nothing: the log is replayed at the next open.
    fn drop(&mut self) {
        self.intake.closed.store(true, Ordering::Release);
        self.intake.changed.notify_all();
        // A closed database (a failed reopen) has only stand-ins: the log keeps everything.
        if !self.is_closed()
            && let (Ok(w), Ok(mut log)) = (self.writer.get_mut(), self.intake.log.lock())
            && let Err(e) = settle_locked(w, &mut log)
        {
            tracing::warn!(error = %e, "duckdb: loading the intake log at close failed; it is replayed at the next open");
        }
    }
}

/// Loads everything pending while the caller holds both locks.
fn settle_locked(w: &mut Writer, log: &mut IntakeLog) -> Result<(), StoreError> {
    let taken = log.take();
    let (result, taken) = insert_taken(w, taken);
    log.complete(taken, result.is_ok());
    result
}

/// Loads the dedupe set from `events` (everything pending is loaded first, so it is complete).
pub fn ensure_keys(w: &mut Writer, log: &mut IntakeLog) -> Result<(), StoreError> {
    if log.keys.is_some() {
        return Ok(());
    }
    settle_locked(w, log)?;
    let started = Instant::now();
    let n: i64 = w
        .conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .map_err(err)?;
    let mut set = KeySet::with_capacity_and_hasher(n.max(0) as usize, Default::default());
    let mut stmt = w
        .conn
        .prepare("SELECT project_id, message_id FROM events")
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    while let Some(row) = rows.next().map_err(err)? {
        let (p, m): (String, String) = (row.get(0).map_err(err)?, row.get(1).map_err(err)?);
        set.insert(keys::key(&p, &m));
    }
    tracing::info!(events = set.len(), elapsed = ?started.elapsed(), "duckdb: dedupe keys loaded");
    log.keys = Some(set);
    Ok(())
}

/// [`insert_records`] of the records `taken` holds, which it gets back (the scan shares them
/// while the insert runs).
///
/// The load runs with DuckDB's `threads` at 1: a query's client thread busy-waits while a
/// background worker runs the query's task (duckdb/duckdb#22178, open in DuckDB 1.5), so the
/// insert's single pipeline would otherwise cost two cores, the loader spinning beside the
/// worker (measured on 2 cores: 12 % of the collector's CPU at 300K events/s). With no
/// background worker the loader does the work itself; the setting is restored after the load,
/// so queries between loads keep their parallelism (during a load, a query still runs on its
/// own thread).
fn insert_taken(w: &mut Writer, mut taken: Taken) -> (Result<(), StoreError>, Taken) {
    let records = Arc::new(std::mem::take(&mut taken.records));
    // Settling reads and erasure often find nothing to load: no setting to change then.
    let threads = if records.is_empty() { 1 } else { w.threads() };
    let toggle = threads > 1 && w.conn.execute_batch("SET threads = 1").is_ok();
    let result = insert_records(w, &records);
    if toggle
        && let Err(e) = w.conn.execute_batch(&format!("SET threads = {threads}")).map_err(err)
        // An invalidated instance refuses it too: it is reopened with its settings anew.
        && !connection::is_fatal(&e)
    {
        tracing::warn!(error = %e, threads, "duckdb: cannot restore the thread count after a load");
    }
    if let Ok(mut slot) = w.scan.lock() {
        *slot = ScanSlot::default();
    }
    // The scan's state is gone with its query; a copy only if DuckDB still held it.
    taken.records = Arc::try_unwrap(records).unwrap_or_else(|shared| (*shared).clone());
    (result, taken)
}

/// Inserts logged records (already deduplicated) in one transaction that also records the
/// last one as loaded: the events by one `INSERT … SELECT` from the intake scan (see
/// [`super::scan`]), which collects the records' links and dead letters on the way.
fn insert_records(w: &mut Writer, records: &Arc<Vec<Record>>) -> Result<(), StoreError> {
    let Some(last_seq) = records.last().map(|r| r.seq) else {
        return Ok(());
    };
    w.ensure_staging()?;
    // Before `migrate` upgrades an older database, rows load without keys (then backfilled).
    let keyed = w.keyed()?;
    let columns: &[&str] = if keyed {
        &KEYED_EVENT_COLUMN_NAMES
    } else {
        &EVENT_COLUMN_NAMES
    };
    *lock(&w.scan)? = ScanSlot {
        records: Some(records.clone()),
        ..ScanSlot::default()
    };
    let tx = w.conn.transaction().map_err(err)?;
    let cols = columns.join(", ");
    tx.execute(
        &format!("INSERT INTO events ({cols}) SELECT {cols} FROM {SCAN_FUNCTION}()"),
        [],
    )
    .map_err(err)?;
    let (links, dead_letters) = {
        let mut slot = lock(&w.scan)?;
        (
            std::mem::take(&mut slot.links),
            std::mem::take(&mut slot.dead_letters),
        )
    };
    let links = common::reduce_links(&links);
    if !links.is_empty() {
        {
            // Columns named: a newer version's column (a rollback) is left NULL, not an error.
            let columns = [
                "project_id",
                "anonymous_id",
                "user_id",
                "linked_at",
                "anon_key",
                "user_key",
            ];
            let columns = if keyed { &columns[..] } else { &columns[..4] };
            let mut app = tx
                .appender_with_columns_to_catalog_and_db("identities_staging", "temp", "main", columns)
                .map_err(err)?;
            for l in &links {
                let row = params![
                    l.project_id,
                    l.anonymous_id,
                    l.user_id,
                    l.linked_at,
                    common::id_key(&l.anonymous_id),
                    common::id_key(&l.user_id),
                ];
                let row = if keyed { row } else { &row[..4] };
                app.append_row(row).map_err(err)?;
            }
            app.flush().map_err(err)?;
        }
        let upsert = format!(
            "INSERT INTO identities SELECT * FROM temp.identities_staging{}; DELETE FROM temp.identities_staging",
            sql::link_upsert_conflict(if keyed {
                ", user_key = excluded.user_key"
            } else {
                ""
            })
        );
        tx.execute_batch(&upsert).map_err(err)?;
    }
    if !dead_letters.is_empty() {
        let mut app = tx
            .appender_with_columns(
                "dead_letters",
                &["project_id", "received_at", "reason", "message_id", "payload"],
            )
            .map_err(err)?;
        for d in &dead_letters {
            app.append_row(params![
                d.project_id,
                d.received_at,
                d.reason,
                d.message_id,
                d.payload
            ])
            .map_err(err)?;
        }
        app.flush().map_err(err)?;
    }
    tx.execute(
        "UPDATE intake_state SET loaded_seq = ? WHERE id = 1",
        params![last_seq as i64],
    )
    .map_err(err)?;
    tx.commit().map_err(err)
}
