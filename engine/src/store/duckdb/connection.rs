//! Opening the database again after a fatal error (the settings it is opened with: [`super::settings`]).
//!
//! # Reopening
//! DuckDB *invalidates* a database instance after a fatal error — most often an automatic
//! checkpoint that cannot write the database file (disk full): "Transaction COMMIT succeeded and
//! is durable, but the autocheckpoint failed. Reopen the database instance to recover". Every
//! later call on any of its connections then fails until the instance is closed and opened
//! again. The store does that itself ([`Inner::reopen_locked`]), so the process recovers when the
//! disk does, as it does from a failed write: every connection of the dead instance is dropped
//! (the writer, the readers, and a backup's, see [`Inner::instance`]), the file is opened again
//! (DuckDB replays its WAL), and the intake log forgets what the reopened database already holds:
//! a commit that was durable though it reported a failure is not loaded twice (no load is in
//! progress then: a load holds the writer from `take` to `complete`). The dedupe set stays as
//! it is: it covers the stored and the logged events, and the reopen changes neither.
//!
//! Locks, in this order only: the writer, the intake log, then (the reopen) the instance lock
//! and the readers. A reader holder and a backup's export take nothing else; they call
//! [`Inner::recover_from`] after releasing their connection. The reopen holds the writer and the
//! log, so it never *waits* for a connection in use (a long query or export would stall intake
//! behind it): it takes every one with `try_lock`, or leaves the instance as it is
//! ([`NotReopened::Busy`]) for the next failing call to try again — every call on the dead
//! instance fails, so one comes.
//!
//! The old instance is closed before the file is opened again (two instances of one file in
//! one process would diverge); meanwhile the connections are stand-ins (private in-memory
//! databases). If the open fails (the disk still full, another process holding the file) they
//! stay so and the store is *closed*: every call that would use them fails with
//! [`closed_error`] (503) instead, writes are still logged (acknowledged, durable), and the open
//! is retried by the calls, with one error line in the log per [`REOPEN_FAILURES_PER_LOG`]
//! attempts. Reopens back off ([`REOPEN_RETRY`] doubling up to [`REOPEN_RETRY_MAX`] while they
//! follow each other): on a disk that stays full every reopened instance is invalidated again at
//! its first commit, and each reopen replays the WAL (up to the checkpoint threshold, 256 MB).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use ::duckdb::Connection;

use super::intake::IntakeLog;
use super::settings::apply_settings;
use super::{Inner, Writer, err, loader, lock, scan};
use crate::store::StoreError;

/// Whether `e` says the database instance is invalidated (see the module docs).
pub fn is_fatal(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains("FATAL Error")
        || m.contains("database has been invalidated")
        || m.contains("Reopen the database instance"))
}

/// The time between two reopens at first (each opens the file and replays its WAL, and on a
/// full disk the reopened instance is invalidated again at its first commit: the WAL is still
/// beyond the checkpoint threshold). Each reopen soon after the previous one waits twice as long,
/// up to [`REOPEN_RETRY_MAX`]; meanwhile calls fail as unavailable and writes are logged.
pub const REOPEN_RETRY: Duration = Duration::from_millis(500);
/// The longest wait between two reopens: also how long reads may stay unavailable after the
/// disk has space again.
pub const REOPEN_RETRY_MAX: Duration = Duration::from_secs(8);
/// A reopen this long after the previous one waits [`REOPEN_RETRY`] again.
const REOPEN_CALM: Duration = Duration::from_secs(20);

/// Failed attempts to reopen between two error lines in the log (besides the first failure's;
/// at [`REOPEN_RETRY_MAX`] about one a minute).
const REOPEN_FAILURES_PER_LOG: u64 = 8;

/// When the next reopen may run (see [`REOPEN_RETRY`]); kept with the writer.
#[derive(Debug, Default)]
pub struct Backoff {
    /// The last attempt, and the wait after it.
    last: Option<(Instant, Duration)>,
    /// Failed opens in a row.
    failures: u64,
}

impl Backoff {
    /// Whether an attempt may run at `now`.
    fn ready(&self, now: Instant) -> bool {
        self.last.is_none_or(|(at, wait)| now >= at + wait)
    }

    /// Records an attempt at `now`: the wait after it doubles when the previous attempt was less
    /// than [`REOPEN_CALM`] ago.
    fn attempted(&mut self, now: Instant) {
        let wait = match self.last {
            Some((at, wait)) if now < at + REOPEN_CALM => (wait * 2).clamp(REOPEN_RETRY, REOPEN_RETRY_MAX),
            _ => REOPEN_RETRY,
        };
        self.last = Some((now, wait));
    }
}

/// The error of every call while the database is closed (a reopen failed): unavailable (a 503),
/// and fatal, so that the call's failure tries the reopen again.
pub fn closed_error() -> StoreError {
    StoreError::Unavailable(
        "duckdb: FATAL Error: the database instance was invalidated by a fatal error and could not be \
         opened again yet (see the collector's log); retrying"
            .into(),
    )
}

/// Why a reopen did not happen.
#[derive(Debug)]
pub enum NotReopened {
    /// A connection of the instance is in use (a backup's, or a reader running a query): the
    /// next failure of a call tries again, without anyone waiting for it meanwhile.
    Busy(&'static str),
    /// The file could not be opened (the connections are stand-ins until a retry opens it).
    Failed(StoreError),
}

impl From<StoreError> for NotReopened {
    fn from(e: StoreError) -> Self {
        NotReopened::Failed(e)
    }
}

/// Takes a lock without waiting; a poisoned one is taken too (its connection is replaced).
fn try_take<G>(r: Result<G, TryLockError<G>>) -> Option<G> {
    match r {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Inner {
    /// After a call failed with `e`: reopens the database if `e` is fatal (see the module docs).
    /// Takes the writer and the log; call it holding neither (nor a reader).
    pub(super) fn recover_from(&self, e: &StoreError) {
        if !is_fatal(e) {
            return;
        }
        let (Ok(mut w), Ok(mut log)) = (
            self.writer.lock(),
            // Writer, then log: the order everywhere.
            self.intake.log.lock(),
        ) else {
            return;
        };
        self.reopen_locked(&mut w, &mut log, e);
    }

    /// [`Self::recover_from`] with the writer and the log held.
    pub(super) fn recover_locked(&self, w: &mut Writer, log: &mut IntakeLog, e: &StoreError) {
        if is_fatal(e) {
            self.reopen_locked(w, log, e);
        }
    }

    /// Whether the instance is closed and not open again yet: the connections are stand-ins.
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The writer, for a call that uses the database: while the database is closed (a reopen
    /// failed), tries to open it first (when [`Backoff`] allows) and fails with
    /// [`closed_error`] if it stays closed. Call it holding no other lock of the store.
    pub(super) fn writer(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        let mut w = lock(&self.writer)?;
        if self.is_closed() {
            let mut log = lock(&self.intake.log)?;
            self.reopen_locked(&mut w, &mut log, &closed_error());
            drop(log);
            if self.is_closed() {
                return Err(closed_error());
            }
        }
        Ok(w)
    }

    /// Closes the invalidated instance and opens the file again (no-op if the writer works: a
    /// concurrent caller reopened it already). Never waits for a connection in use (a backup, a
    /// query): the writer and the log are held here, so waiting would stall intake; the next
    /// failure tries again. Reopens back off (see [`REOPEN_RETRY`]); a failed open is logged once
    /// per [`REOPEN_FAILURES_PER_LOG`] attempts.
    fn reopen_locked(&self, w: &mut Writer, log: &mut IntakeLog, cause: &StoreError) {
        let Some(path) = self.path.as_ref() else {
            tracing::error!(error = %cause, "duckdb: the in-memory database was invalidated; it cannot be reopened");
            return;
        };
        if !self.is_closed() && w.conn.execute_batch("SELECT 1").is_ok() {
            return;
        }
        let started = Instant::now();
        if !w.reopen.ready(started) {
            return;
        }
        let result = self.reopen(w, path);
        if !matches!(result, Err(NotReopened::Busy(_))) {
            w.reopen.attempted(started);
        }
        match result {
            Ok(loaded_seq) => {
                let forgotten = log.forget_loaded(loaded_seq);
                self.reopens.fetch_add(1, Ordering::Relaxed);
                let failed_attempts = std::mem::take(&mut w.reopen.failures);
                tracing::warn!(
                    error = %cause,
                    path = %path.display(),
                    loaded_seq,
                    already_loaded_records = forgotten,
                    failed_attempts,
                    elapsed = ?started.elapsed(),
                    "duckdb: the database instance was invalidated by a fatal error; reopened it (WAL replayed, \
                     the intake log goes on after the last load it holds)"
                );
            }
            Err(NotReopened::Busy(what)) => {
                tracing::debug!(error = %cause, "duckdb: the database instance is invalidated; reopening it when {what} is done");
            }
            Err(NotReopened::Failed(e)) => {
                w.reopen.failures += 1;
                if w.reopen.failures % REOPEN_FAILURES_PER_LOG == 1 {
                    tracing::error!(
                        error = %e,
                        cause = %cause,
                        path = %path.display(),
                        failed_attempts = w.reopen.failures,
                        "duckdb: the database instance was invalidated and cannot be opened again yet; every call \
                         fails as unavailable (writes are still logged) and the open is retried"
                    );
                }
            }
        }
    }

    /// Drops every connection of the current instance and opens `path` again; returns the
    /// reopened database's last loaded intake sequence number. Takes every connection or none
    /// ([`NotReopened::Busy`]); if the open fails the connections stay stand-ins (a private
    /// in-memory database each) and the store closed ([`Self::writer`], `with_plain_reader`).
    pub(super) fn reopen(&self, w: &mut Writer, path: &Path) -> Result<u64, NotReopened> {
        // A backup's connection is the only one outside `writer` and `readers`.
        let Some(_instance) = try_take(self.instance.try_write()) else {
            return Err(NotReopened::Busy("a backup"));
        };
        let mut readers: Vec<MutexGuard<'_, Connection>> = Vec::with_capacity(self.readers.len());
        for r in &self.readers {
            readers.push(try_take(r.try_lock()).ok_or(NotReopened::Busy("a query"))?);
        }
        if !self.is_closed() {
            let stand_in = Connection::open_in_memory().map_err(err)?;
            for r in readers.iter_mut() {
                **r = stand_in.try_clone().map_err(err)?;
            }
            w.conn = stand_in;
            // Set with every connection held: a reader sees it as soon as it has its connection.
            self.closed.store(true, Ordering::Release);
        }
        let conn = Connection::open(path).map_err(err)?;
        apply_settings(&conn, &self.settings)?;
        let loaded_seq = loader::prepare_state(&conn)?;
        let clones = readers
            .iter()
            .map(|_| conn.try_clone().map_err(err))
            .collect::<Result<Vec<_>, _>>()?;
        conn.register_table_function_with_extra_info::<scan::IntakeScan, scan::Slot>(
            scan::SCAN_FUNCTION,
            &w.scan,
        )
        .map_err(err)?;
        for (r, clone) in readers.iter_mut().zip(clones) {
            **r = clone;
        }
        w.conn = conn;
        w.staging_ready = false;
        w.keyed = None;
        w.threads = None;
        self.closed.store(false, Ordering::Release);
        Ok(loaded_seq)
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
