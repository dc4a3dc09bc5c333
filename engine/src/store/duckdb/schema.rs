//! The migrations (see "Schema" in the module doc), and what the writer connection learns of
//! the schema: whether the tables have the identity keys, and its temp staging table.

use ::duckdb::params;

use super::{Writer, err};
use crate::store::{StoreError, common, sql};

impl Writer {
    pub(super) fn ensure_staging(&mut self) -> Result<(), StoreError> {
        if !self.staging_ready {
            self.conn
                .execute_batch(
                    "DROP TABLE IF EXISTS temp.identities_staging;
                     CREATE TEMP TABLE identities_staging AS SELECT * FROM identities LIMIT 0;",
                )
                .map_err(err)?;
            self.staging_ready = true;
        }
        Ok(())
    }

    /// Whether `events` has `rid_key` (and `identities` its keys): schema version 2.
    pub(super) fn keyed(&mut self) -> Result<bool, StoreError> {
        if let Some(k) = self.keyed {
            return Ok(k);
        }
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() \
                 AND schema_name = 'main' AND table_name = 'events' AND column_name = 'rid_key'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        self.keyed = Some(n > 0);
        Ok(n > 0)
    }
}

/// Events whose identity keys one transaction of the version 2 backfill computes (bounded
/// memory: DuckDB keeps a transaction's updates in memory until it commits).
const BACKFILL_ROWS: i64 = 4 << 20;

pub(super) fn migrate_blocking(w: &mut Writer) -> Result<(), StoreError> {
    let tx = w.conn.transaction().map_err(err)?;
    tx.execute_batch(sql::SCHEMA_VERSION_DDL).map_err(err)?;
    let current: i64 = tx
        .query_row(sql::SCHEMA_VERSION_CURRENT, [], |r| r.get(0))
        .map_err(err)?;
    if current < 1 {
        tx.execute_batch(&sql::schema_v1("TEXT", false)).map_err(err)?;
        tx.execute(sql::SCHEMA_VERSION_RECORD, params![1, common::now_ms()])
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    w.staging_ready = false;
    w.keyed = None;
    if current < 2 {
        // The identity keys: the columns, then the stored rows' keys in chunks of rows, then the
        // version. Resumable: after a crash the version is still 1 and the next start computes
        // the keys still NULL (rows loaded meanwhile already have theirs).
        w.conn.execute_batch(sql::SCHEMA_V2_DUCKDB_COLUMNS).map_err(err)?;
        w.staging_ready = false;
        let end: i64 = w
            .conn
            .query_row("SELECT coalesce(max(rowid) + 1, 0) FROM events", [], |r| r.get(0))
            .map_err(err)?;
        let started = std::time::Instant::now();
        for from in (0..end).step_by(BACKFILL_ROWS as usize) {
            w.conn
                .execute_batch(&sql::backfill_events_duckdb(from, from + BACKFILL_ROWS))
                .map_err(err)?;
        }
        let tx = w.conn.transaction().map_err(err)?;
        tx.execute_batch(&sql::backfill_identities_duckdb())
            .map_err(err)?;
        tx.execute(sql::SCHEMA_VERSION_RECORD, params![2, common::now_ms()])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        if end > 0 {
            tracing::info!(rows = end, elapsed = ?started.elapsed(), "duckdb: identity keys computed (schema version 2)");
        }
    }
    Ok(())
}
