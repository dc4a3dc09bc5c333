//! One load: the logged records `taken` from the intake log (see [`super::intake`]) inserted
//! into DuckDB in one transaction, for the loader and the settling in [`super::loader`].

use std::sync::Arc;

use ::duckdb::params;

use super::intake::{Record, Taken};
use super::scan::{SCAN_FUNCTION, ScanSlot};
use super::{EVENT_COLUMN_NAMES, KEYED_EVENT_COLUMN_NAMES, Writer, connection, err, lock, sql};
use crate::store::{StoreError, common};

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
pub(super) fn insert_taken(w: &mut Writer, mut taken: Taken) -> (Result<(), StoreError>, Taken) {
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
