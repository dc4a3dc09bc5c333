//! The index Live events needs: `events (project_id, received_at)`.
//!
//! Live events (the `raw_events` query: newest arrivals first, polled every 2 s while the page is
//! open) sorted the scope's whole time range by `received_at` on each poll: 660 ms and three
//! cores for 2 M events a week, growing with traffic (measured on PostgreSQL 15; with the index
//! the plan is a backward index scan that stops after one page: 1.5 ms; BENCHMARKS.md).
//!
//! It is not part of a schema version's migration, because that runs in one transaction, and a
//! plain `CREATE INDEX` on a big table blocks every insert while it builds — an upgrade would turn
//! into minutes of `503`s. Instead a serving process ([`crate::store::Store::start_maintenance`],
//! called by `footfall serve`, not by one-shot commands that would interrupt the build) builds
//! it in the background with `CREATE INDEX CONCURRENTLY` (writes go on), one process at a time
//! (a session advisory lock; another collector starting meanwhile skips it); an index left
//! invalid by an interrupted build is dropped and built again. Until it exists Live events is
//! only slower.

use super::{PostgresStore, pg_err};
use crate::store::StoreError;

/// The index's name (in the store's schema).
pub const NAME: &str = "events_project_received";

impl PostgresStore {
    /// Starts building the index in the background (see the module docs); failures are logged.
    pub(super) fn spawn_arrival_index(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match store.ensure_arrival_index().await {
                Ok(true) => {
                    tracing::info!(index = NAME, elapsed = ?started.elapsed(), "postgres: index built")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(index = NAME, error = %e, "postgres: cannot build the index (Live events stays slower); retried at the next start")
                }
            }
        });
    }

    /// Builds the index unless it exists and is valid, or another process holds the build lock.
    /// Returns whether it built one.
    pub async fn ensure_arrival_index(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let schema = self.schema.clone().unwrap_or_else(|| "public".into());
        let key = format!("footfall-index:{schema}:{NAME}");
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key])
            .await
            .map_err(pg_err)?
            .get(0);
        if !locked {
            return Ok(false);
        }
        let result = async {
            let valid: Option<bool> = client
                .query_opt(
                    "SELECT i.indisvalid FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relname = $1 AND n.nspname = current_schema()",
                    &[&NAME],
                )
                .await
                .map_err(pg_err)?
                .map(|r| r.get(0));
            match valid {
                Some(true) => return Ok(false),
                Some(false) => {
                    tracing::warn!(
                        index = NAME,
                        "postgres: an interrupted build left the index invalid; building it again"
                    );
                    client
                        .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {NAME}"))
                        .await
                        .map_err(pg_err)?;
                }
                None => {}
            }
            client
                .batch_execute(&format!(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON events (project_id, received_at)"
                ))
                .await
                .map_err(pg_err)?;
            Ok(true)
        }
        .await;
        let _ = client
            .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key])
            .await;
        result
    }
}
