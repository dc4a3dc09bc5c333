//! The migrations: one transaction under an advisory lock (concurrent collectors starting at
//! once), the schema created if needed, then the versions not applied yet.

use super::{PostgresStore, pg_err};
use crate::store::{StoreError, common, sql};

impl PostgresStore {
    /// [`Store::migrate`](crate::store::Store::migrate).
    pub(super) async fn migrate_schema(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // Serialize concurrent migrations of the same schema (several collectors starting at once).
        let schema = self.schema.clone().unwrap_or_else(|| "public".into());
        let lock_key = format!("footfall-migrate:{schema}");
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock_key])
            .await
            .map_err(pg_err)?;
        if let Some(schema) = &self.schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(pg_err)?;
        }
        tx.batch_execute(sql::SCHEMA_VERSION_DDL).await.map_err(pg_err)?;
        let current: i32 = tx
            .query_one(sql::SCHEMA_VERSION_CURRENT, &[])
            .await
            .map_err(pg_err)?
            .get(0);
        let migrations: [(i32, String); 2] = [
            (
                1,
                format!("{};\n{}", sql::schema_v1("TEXT COLLATE \"C\"", true), INDEXES_V1),
            ),
            (2, sql::schema_v2_postgres()),
        ];
        for (version, ddl) in migrations.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(ddl).await.map_err(pg_err)?;
            tx.execute(sql::SCHEMA_VERSION_RECORD, &[version, &common::now_ms()])
                .await
                .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }
}

/// Secondary indexes of schema version 1 (the query layer filters on these).
const INDEXES_V1: &str = "
CREATE INDEX IF NOT EXISTS events_project_ts ON events (project_id, ts);
CREATE INDEX IF NOT EXISTS events_project_event_ts ON events (project_id, event, ts);
CREATE INDEX IF NOT EXISTS events_project_user ON events (project_id, user_id);
CREATE INDEX IF NOT EXISTS events_project_anonymous ON events (project_id, anonymous_id);
CREATE INDEX IF NOT EXISTS identities_project_user ON identities (project_id, user_id);
CREATE INDEX IF NOT EXISTS dead_letters_project_received ON dead_letters (project_id, received_at);
CREATE INDEX IF NOT EXISTS audit_log_project_at ON audit_log (project_id, at);
";
