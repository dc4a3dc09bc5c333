//! How a call reaches DuckDB: on tokio's blocking pool (async callers never block the runtime),
//! on the writer (behind its mutex, settled or not) or on a reader in a read-only transaction;
//! a failure may trigger the reopen of an invalidated instance (see `connection.rs`).

use std::sync::atomic::Ordering;

use ::duckdb::types::Value as DValue;
use ::duckdb::{Connection, ToSql};

use super::intake::IntakeLog;
use super::{DuckDbStore, Writer, connection, err, lock, poisoned, values};
use crate::store::{QueryResult, StoreError};

impl DuckDbStore {
    pub(super) async fn with_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut w = inner.writer()?;
            let result = f(&mut w);
            drop(w);
            if let Err(e) = &result {
                inner.recover_from(e);
            }
            result
        })
        .await?
    }

    /// Runs `f` on the writer with every acknowledged write loaded and the intake log held (no
    /// write can slip in between): erasure and retention see and change everything stored.
    pub(super) async fn with_settled_writer<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer, &mut IntakeLog) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || inner.with_settled(f)).await?
    }

    /// Loads every acknowledged write into DuckDB (if any awaits), so a read that follows sees
    /// it.
    async fn settle(&self) -> Result<(), StoreError> {
        if !lock(&self.inner.intake.log)?.has_pending() {
            return Ok(());
        }
        let inner = self.inner.clone();
        run_blocking(move || inner.load_pending()).await?
    }

    pub(super) async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.settle().await?;
        self.with_plain_reader(f).await
    }

    /// A reader without settling first: for what the intake log never holds (documents, audit).
    pub(super) async fn with_plain_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take the first idle reader, else wait for the round-robin one.
            let conn = match (0..n).find_map(|k| inner.readers[(start + k) % n].try_lock().ok()) {
                Some(conn) => conn,
                None => inner.readers[start % n].lock().map_err(poisoned)?,
            };
            // Readers only read: generated SQL can never change data. A closed database's stand-in
            // never answers (its failure tries the reopen again, below).
            let result = if inner.is_closed() {
                Err(connection::closed_error())
            } else {
                conn.execute_batch("BEGIN TRANSACTION READ ONLY")
                    .map_err(err)
                    .and_then(|()| {
                        let result = f(&conn);
                        conn.execute_batch("ROLLBACK").map_err(err)?;
                        result
                    })
            };
            drop(conn);
            if let Err(e) = &result {
                inner.recover_from(e);
            }
            result
        })
        .await?
    }
}

/// Runs `f` on tokio's blocking pool; a task that panicked or was cancelled is an outage.
pub(super) async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("duckdb task failed: {e}")))
}

/// Runs `sql` and normalizes every value (see "Query results" in store/mod.rs).
pub(super) fn query_blocking(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<QueryResult, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let mut rows = stmt.query(params).map_err(err)?;
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(values::json_value(row.get::<_, DValue>(i).map_err(err)?));
        }
        out.push(values);
    }
    Ok(QueryResult { columns, rows: out })
}

pub(super) fn execute(w: &mut Writer, sql: &str, params: &[&dyn ToSql]) -> Result<usize, StoreError> {
    w.conn.execute(sql, params).map_err(err)
}
