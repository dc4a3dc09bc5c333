//! The migrations: the tables of schema version 1, and the `MATERIALIZED` identity key columns
//! of version 2 (see "Schema" in the module doc).

use super::ClickHouseStore;
use super::http::{json_rows, lit};
use crate::store::{Dialect, StoreError, common};

/// The integer identity keys of schema version 2, `MATERIALIZED` (computed by ClickHouse on
/// insert, and from the same expression on read for parts written before the column existed):
/// (table, column, expression of [`common::id_key`] / [`common::rid_key`]).
fn key_columns() -> [(&'static str, &'static str, String); 3] {
    let d = Dialect::ClickHouse;
    let key = |s: &str| common::id_key_sql(d, s);
    [
        (
            "events",
            "rid_key",
            common::rid_key_sql(d, "user_id", "anonymous_id", &key),
        ),
        ("identities", "anon_key", key("anonymous_id")),
        ("identities", "user_key", key("user_id")),
    ]
}

const MIGRATION_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS events (project_id String, message_id String, type String, event String, \
     ts Int64, received_at Int64, sent_at Nullable(Int64), original_timestamp Nullable(String), \
     anonymous_id Nullable(String), user_id Nullable(String), session_id Nullable(String), \
     group_id Nullable(String), browser Nullable(String), os Nullable(String), device_type Nullable(String), \
     is_bot UInt8, ip Nullable(String), properties String, traits String, context String, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, message_id)",
    "CREATE TABLE IF NOT EXISTS identities (project_id String, anonymous_id String, user_id String, \
     linked_at Int64, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (project_id, anonymous_id, user_id)",
    "CREATE TABLE IF NOT EXISTS dead_letters (project_id Nullable(String), received_at Int64, reason String, \
     message_id Nullable(String), payload String) ENGINE = MergeTree ORDER BY received_at",
    "CREATE TABLE IF NOT EXISTS documents (kind String, project_id String, id String, body String, \
     updated_at Int64, deleted UInt8, _version UInt64) \
     ENGINE = ReplacingMergeTree(_version) ORDER BY (kind, project_id, id)",
    "CREATE TABLE IF NOT EXISTS audit_log (id String, project_id Nullable(String), at Int64, actor String, \
     action String, target String, details String) ENGINE = ReplacingMergeTree ORDER BY (at, id)",
];

impl ClickHouseStore {
    /// [`Store::migrate`](crate::store::Store::migrate): creates the database and applies the
    /// versions not applied yet.
    pub(super) async fn migrate_schema(&self) -> Result<(), StoreError> {
        let create_db = format!("CREATE DATABASE IF NOT EXISTS {}", self.database);
        self.post(&[], create_db.into_bytes(), false, self.timeouts.operation)
            .await?;
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version UInt32, applied_at Int64) ENGINE = MergeTree ORDER BY version",
        )
        .await?;
        let current = self.count("SELECT max(version) FROM schema_version").await?;
        let migrations: [(u64, &[&str]); 2] = [(1, MIGRATION_V1), (2, &[])];
        for (version, statements) in migrations.iter().filter(|(v, _)| *v > current) {
            // Every statement is idempotent (IF NOT EXISTS): concurrent migrations are harmless.
            for statement in statements.iter() {
                self.execute(statement).await?;
            }
            if *version == 2 {
                for (table, column, expr) in key_columns() {
                    self.add_column(table, &format!("{column} Int64 MATERIALIZED {expr}"))
                        .await?;
                }
            }
            let row = serde_json::json!({ "version": version, "applied_at": common::now_ms() });
            self.insert("schema_version (version, applied_at)", json_rows([row]))
                .await?;
        }
        Ok(())
    }

    /// `ALTER TABLE table ADD COLUMN definition` unless the column exists (ClickHouse 18.16
    /// has no `IF NOT EXISTS` there; a concurrent migration adding it first is fine too).
    async fn add_column(&self, table: &str, definition: &str) -> Result<(), StoreError> {
        let name = definition.split_whitespace().next().unwrap_or_default();
        let exists = format!(
            "SELECT count() FROM system.columns WHERE database = {} AND table = {} AND name = {}",
            lit(&self.database),
            lit(table),
            lit(name)
        );
        if self.count(&exists).await? > 0 {
            return Ok(());
        }
        match self
            .execute(&format!("ALTER TABLE {table} ADD COLUMN {definition}"))
            .await
        {
            Err(_) if self.count(&exists).await? > 0 => Ok(()),
            other => other,
        }
    }
}
