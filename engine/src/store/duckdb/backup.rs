//! Backup and restore (see "Backup and restore" in the module doc): DuckDB's `EXPORT DATABASE`
//! in a snapshot taken with every acknowledged write loaded, and `IMPORT DATABASE` into a new
//! file.

use std::path::Path;

use ::duckdb::Connection;

use super::{DB_FILE, DuckDbStore, Inner, err, poisoned};
use crate::store::{BackupReport, StoreError, sql};

impl DuckDbStore {
    /// Restores a backup written by [`Store::backup`](crate::store::Store::backup) (the directory `from`) into a new database
    /// in the directory `data` (created if needed), which must not hold a database yet. Offline:
    /// nothing may have `data` open.
    pub fn restore(from: &Path, data: &Path) -> Result<(), StoreError> {
        std::fs::create_dir_all(data).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the data directory {}: {e}",
                data.display()
            ))
        })?;
        let path = data.join(DB_FILE);
        if path.exists() {
            return Err(StoreError::Config(format!(
                "{} already holds a database: restore into a new directory",
                data.display()
            )));
        }
        let conn = Connection::open(&path).map_err(|e| {
            StoreError::Config(format!(
                "cannot create the DuckDB database {}: {e}",
                path.display()
            ))
        })?;
        conn.execute_batch(&format!("IMPORT DATABASE {}", sql_path(from)?))
            .map_err(err)?;
        conn.execute_batch("CHECKPOINT").map_err(err)?;
        conn.close().map_err(|(_, e)| err(e))
    }
}

/// `path` as a SQL string literal.
fn sql_path(path: &Path) -> Result<String, StoreError> {
    let text = path
        .to_str()
        .ok_or_else(|| StoreError::Config(format!("{} is not a UTF-8 path", path.display())))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// [`Store::backup`](crate::store::Store::backup) (see "Backup and restore" in the module doc).
pub(super) fn backup_blocking(inner: &Inner, dir: &Path) -> Result<BackupReport, StoreError> {
    if inner.path.is_none() {
        return Err(StoreError::Query(
            "duckdb: an in-memory database has no backup".into(),
        ));
    }
    let target = sql_path(dir)?;
    // The snapshot starts at the transaction's first read, taken while nothing can be written.
    let (conn, report, instance) = inner.with_settled(|w, _| {
        // Taken with the writer held (the order of a reopen): no reopen while `conn` lives.
        let instance = inner.instance.read().map_err(poisoned)?;
        let conn = w.conn.try_clone().map_err(err)?;
        conn.execute_batch("BEGIN TRANSACTION").map_err(err)?;
        let events: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(err)?;
        let schema_version: i64 = conn
            .query_row(sql::SCHEMA_VERSION_CURRENT, [], |r| r.get(0))
            .map_err(err)?;
        let report = BackupReport {
            events: events.max(0) as u64,
            schema_version,
        };
        Ok((conn, report, instance))
    })?;
    let result = conn
        .execute_batch(&format!("EXPORT DATABASE {target} (FORMAT parquet)"))
        .map_err(err);
    let _ = conn.execute_batch("ROLLBACK");
    // The connection goes before the instance guard: a reopen may then close the instance.
    drop(conn);
    drop(instance);
    if let Err(e) = &result {
        inner.recover_from(e);
    }
    result.map(|()| report)
}
