//! How writes go through the intake log (see [`super::intake`]) into DuckDB: the write that
//! logs them, the loader thread that moves them (each load's transaction: [`super::insert`]),
//! and the settling that reads and erasure do first.
//!
//! Locks: the writer connection, then the intake log, never the other way round. A write holds
//! only the log (for its dedupe, append and fsync), so intake goes on while the loader inserts
//! into DuckDB under the writer lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use ::duckdb::Connection;

use super::insert::insert_taken;
use super::intake::{BACKLOG_WAIT, IntakeLog, LOAD_ROWS, MAX_PENDING_ROWS};
use super::keys::{self, KeySet};
use super::{Inner, Writer, err, lock};
use crate::store::{EventRow, StoreError, WriteBatch, WriteReport};

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
