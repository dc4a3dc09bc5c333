//! PostgreSQL store (`postgres://user:pass@host:5432/db[?schema=NAME]`), via tokio-postgres and a
//! deadpool connection pool.
//!
//! # Location
//! Any libpq-style URL that tokio-postgres accepts, plus parameters of ours: `schema=NAME`
//! (lowercase letters, digits, `_`) puts every table in that schema (created by `migrate`) instead
//! of `public`. TLS is not supported yet (`sslmode=require` is refused with a clear error).
//! `timeout=SECS` and `query_timeout=SECS` bound each call, see [`Timeouts`]:
//! connecting, waiting for a pooled connection and the whole of a write, ping, document, audit or
//! lookup call by `timeout`; a query, export or erasure by `query_timeout`; `migrate` and the
//! retention deletes are not bounded. A call cut off by its timeout drops its transaction (rolled
//! back unless its COMMIT was already sent) and its connection goes back to the pool; connections
//! the server closed (restart, crash) are dropped by the pool's recycling check, so the store
//! recovers by itself when the server is back.
//!
//! # Write path
//! One [`Store::write`] is one transaction of at most three statements: the events as column
//! arrays through `INSERT … SELECT * FROM UNNEST($1::text[], …) ON CONFLICT DO NOTHING RETURNING
//! project_id, message_id`, the reduced identity links through the first-link-wins upsert, and
//! the dead letters. The primary key makes dedupe exact even between concurrent writers (a second
//! writer waits on the first's row and then skips it); rows are sorted by key so that concurrent
//! writers lock in the same order, and a deadlock or serialization failure is retried.
//!
//! # Schema (see [`super::sql::schema_v1`])
//! Text columns are `TEXT COLLATE "C"` (bytewise comparisons and ORDER BY, as on DuckDB and
//! ClickHouse), times `BIGINT` ms, `is_bot BOOLEAN`, JSON columns text (cast with `::jsonb` to
//! query them). Keys: events `PRIMARY KEY (project_id, message_id)`, identities
//! `(project_id, anonymous_id)`, documents `(kind, project_id, id)`, audit_log `(id)`. Indexes:
//! events `(project_id, ts)`, `(project_id, event, ts)`, `(project_id, user_id)`,
//! `(project_id, anonymous_id)`; identities `(project_id, user_id)`, `(project_id, anon_key)`;
//! dead_letters `(project_id, received_at)`; audit_log `(project_id, at)`. Version 2 adds the
//! integer identity keys (`events.rid_key`, `identities.anon_key` / `user_key`) as stored
//! generated columns ([`super::sql::schema_v2_postgres`]): PostgreSQL computes them on insert.
//! Outside the versions, `events (project_id, received_at)` for Live events is built
//! concurrently in the background by a serving process (see [`arrival_index`]).
//!
//! # Files
//! This file holds the store, its statement helpers and the [`Store`] glue; `pool.rs` the
//! location's parameters and the connection pool, `schema.rs` the migrations, `write.rs` the
//! write transaction and its retries, `erasure.rs` the erasure transactions, `values.rs` the
//! decoding of binary result values, `arrival_index.rs` the background index build.

mod arrival_index;
mod erasure;
mod pool;
mod schema;
mod values;
mod write;

use async_trait::async_trait;
use deadpool_postgres::{Pool, PoolError};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use self::values::select_in;
use super::common;
use super::{
    AuditEntry, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, Timeouts, WriteBatch,
    WriteReport, sql, within,
};

/// The PostgreSQL store. Cheap to clone (shares the pool).
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    schema: Option<String>,
    location: String,
    timeouts: Timeouts,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        // Connection exceptions, insufficient resources, operator intervention, system errors,
        // and serialization failures / deadlocks that survived the retries: try again later.
        Some(code)
            if ["08", "53", "57", "58", "40"]
                .iter()
                .any(|c| code.code().starts_with(c)) =>
        {
            StoreError::Unavailable(format!("postgres: {e}"))
        }
        Some(_) => StoreError::Query(format!(
            "postgres: {}",
            e.as_db_error().map(|d| d.to_string()).unwrap_or(e.to_string())
        )),
        // No SQLSTATE: the connection failed or closed.
        None => StoreError::Unavailable(format!("postgres: {e}")),
    }
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(format!("postgres pool: {other}")),
    }
}

impl PostgresStore {
    /// `op` bounded by the operation timeout (see [`Timeouts`]).
    async fn quick<T>(&self, op: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        within("postgres", self.timeouts.operation, op).await
    }

    /// `op` bounded by the query timeout (see [`Timeouts`]).
    async fn long<T>(&self, op: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        within("postgres", self.timeouts.query, op).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
        client.execute(&stmt, params).await.map_err(pg_err)
    }

    /// Runs one of our own statements in a read-only transaction and normalizes the values.
    async fn select(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<QueryResult, StoreError> {
        self.select_with(sql, params, true).await
    }

    /// `cache`: keep the prepared statement on the connection (our fixed statements; not the query
    /// layer's ever-different SQL, which would grow the per-connection cache without bound).
    async fn select_with(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        cache: bool,
    ) -> Result<QueryResult, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let result = select_in(&tx, sql, params, cache).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(result)
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_schema().await
    }

    fn start_maintenance(&self) {
        self.spawn_arrival_index();
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.quick(async {
            self.client()
                .await?
                .simple_query("SELECT 1")
                .await
                .map_err(pg_err)
                .map(|_| ())
        })
        .await
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        self.quick(self.write_batch(&batch)).await
    }

    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.long(async { self.select_with(sql, &[], false).await }).await
    }

    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        self.long(self.erase_person_in_tx(project_id, user_id)).await
    }

    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        self.long(async {
            let r = self
                .select(&sql::export_person(), &[&project_id, &user_id])
                .await?;
            r.rows.iter().map(|row| common::event_from_values(row)).collect()
        })
        .await
    }

    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(sql::DELETE_EVENTS_BEFORE, &[&project_id, &cutoff_ms])
            .await
    }

    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        self.quick(async {
            let r = self
                .select(sql::LINKED_USER, &[&project_id, &anonymous_id])
                .await?;
            Ok(common::first_text(r))
        })
        .await
    }

    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        self.long(common::erase_anonymous_or_person(
            self,
            project_id,
            anonymous_id,
            || self.erase_unlinked_anonymous_in_tx(project_id, anonymous_id),
        ))
        .await
    }

    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.long(async {
            let r = match self.linked_user(project_id, anonymous_id).await? {
                Some(u) => self.select(&sql::export_person(), &[&project_id, &u]).await?,
                None => {
                    self.select(&sql::export_anonymous(), &[&project_id, &anonymous_id])
                        .await?
                }
            };
            r.rows.iter().map(|row| common::event_from_values(row)).collect()
        })
        .await
    }

    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(&sql::clear_sessions_before(), &[&project_id, &cutoff_ms])
            .await
    }

    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.execute(sql::DELETE_LINKS_BEFORE, &[&project_id, &cutoff_ms])
            .await
    }

    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.quick(async {
            let body = body.to_string();
            self.execute(
                sql::DOC_UPSERT,
                &[&kind, &project_id, &id, &body, &common::now_ms()],
            )
            .await
            .map(|_| ())
        })
        .await
    }

    async fn get_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.quick(async {
            let r = self.select(sql::DOC_GET, &[&kind, &project_id, &id]).await?;
            common::document_from(r)
        })
        .await
    }

    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.quick(async { common::documents_from(self.select(sql::DOC_LIST, &[&kind, &project_id]).await?) })
            .await
    }

    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError> {
        self.quick(async { Ok(self.execute(sql::DOC_DELETE, &[&kind, &project_id, &id]).await? > 0) })
            .await
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.quick(async {
            let details = e.details.to_string();
            let params: [&(dyn ToSql + Sync); 7] = [
                &e.id,
                &e.project_id,
                &e.at,
                &e.actor,
                &e.action,
                &e.target,
                &details,
            ];
            self.execute(&sql::audit_insert(), &params).await.map(|_| ())
        })
        .await
    }

    async fn list_audit(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.quick(async {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let r = match project_id {
                Some(p) => self.select(&sql::audit_list(true), &[&p, &limit]).await?,
                None => self.select(&sql::audit_list(false), &[&limit]).await?,
            };
            r.rows.iter().map(|row| common::audit_from_values(row)).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts connections and never answers (a paused PostgreSQL): calls fail as
    /// unavailable after the timeout instead of waiting forever.
    #[tokio::test]
    async fn a_server_that_never_answers_is_unavailable() {
        let (addr, hold) = crate::store::silent_server().await;
        let url = format!("postgres://u@{addr}/db?timeout=1&query_timeout=1");
        let s = PostgresStore::connect(&url).unwrap();
        assert!(matches!(s.ping().await, Err(StoreError::Unavailable(_))));
        assert!(matches!(
            s.query("SELECT 1").await,
            Err(StoreError::Unavailable(_))
        ));
        hold.abort();
    }
}
