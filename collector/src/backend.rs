//! Opening the configured store: the engine's [`open_store`] (DuckDB directory, `postgres://…`,
//! `http://host:8123/db`), plus `noop`, a sink that stores nothing, for measuring the collector's
//! own ceiling in benchmarks (`footfall serve --store noop`; never for real data).

use std::sync::Arc;

use async_trait::async_trait;
use footfall_engine::store::{
    AuditEntry, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, WriteBatch, WriteReport,
    open_store,
};
use serde_json::Value;

use crate::config::Config;

/// The store location a config selects: `store`, else the `data` directory.
pub fn location(config: &Config) -> String {
    match &config.store {
        Some(url) => url.clone(),
        None => config.data.to_string_lossy().into_owned(),
    }
}

/// Opens the configured store (the schema is migrated by [`crate::AppState::new`]).
pub fn open(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let location = location(config);
    if location == "noop" {
        return Ok(Arc::new(NoopStore));
    }
    if config.store.is_none() {
        std::fs::create_dir_all(&config.data).map_err(|e| {
            StoreError::Config(format!(
                "cannot create data directory {}: {e}",
                config.data.display()
            ))
        })?;
    }
    open_store(&location)
}

/// Accepts every write and stores nothing (benchmark ceiling).
pub struct NoopStore;

#[async_trait]
impl Store for NoopStore {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        Ok(WriteReport {
            inserted: batch.events.len(),
            duplicates: Vec::new(),
        })
    }
    async fn query(&self, _sql: &str) -> Result<QueryResult, StoreError> {
        Ok(QueryResult::default())
    }
    async fn erase_person(&self, _project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        Ok(EraseReport {
            ids: vec![user_id.to_string()],
            ..EraseReport::default()
        })
    }
    async fn export_person(&self, _project_id: &str, _user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        Ok(Vec::new())
    }
    async fn delete_events_before(&self, _project_id: &str, _cutoff_ms: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn linked_user(
        &self,
        _project_id: &str,
        _anonymous_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    async fn erase_anonymous(
        &self,
        _project_id: &str,
        anonymous_id: &str,
    ) -> Result<EraseReport, StoreError> {
        Ok(EraseReport {
            ids: vec![anonymous_id.to_string()],
            ..EraseReport::default()
        })
    }
    async fn export_anonymous(
        &self,
        _project_id: &str,
        _anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        Ok(Vec::new())
    }
    async fn clear_sessions_before(&self, _project_id: &str, _cutoff_ms: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn delete_identities_before(&self, _project_id: &str, _cutoff_ms: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn put_document(
        &self,
        _kind: &str,
        _project_id: &str,
        _id: &str,
        _body: &Value,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn get_document(
        &self,
        _kind: &str,
        _project_id: &str,
        _id: &str,
    ) -> Result<Option<Value>, StoreError> {
        Ok(None)
    }
    async fn list_documents(
        &self,
        _kind: &str,
        _project_id: &str,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        Ok(Vec::new())
    }
    async fn delete_document(&self, _kind: &str, _project_id: &str, _id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn append_audit(&self, _entry: &AuditEntry) -> Result<(), StoreError> {
        Ok(())
    }
    async fn list_audit(
        &self,
        _project_id: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(Vec::new())
    }
}
