//! Test doubles (feature `testing`): [`ControlledStore`] wraps a real store (typically the
//! in-memory DuckDB, `open_store(":memory:")`) and lets a test hold writes (to fill the intake
//! deterministically, without timing) or make them fail (unavailable storage).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use footfall_engine::store::{
    AuditEntry, BackupReport, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, WriteBatch,
    WriteReport,
};
use serde_json::Value;
use tokio::sync::{Notify, watch};

/// How writes behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Pass,
    Unavailable,
    Fail,
}

pub struct ControlledStore {
    inner: Arc<dyn Store>,
    mode: Mutex<WriteMode>,
    held: watch::Sender<bool>,
    started: AtomicUsize,
    started_notify: Notify,
    ping_down: Mutex<bool>,
}

impl ControlledStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<ControlledStore> {
        Arc::new(ControlledStore {
            inner,
            mode: Mutex::new(WriteMode::Pass),
            held: watch::channel(false).0,
            started: AtomicUsize::new(0),
            started_notify: Notify::new(),
            ping_down: Mutex::new(false),
        })
    }

    pub fn set_mode(&self, mode: WriteMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn set_ping_down(&self, down: bool) {
        *self.ping_down.lock().unwrap() = down;
    }

    /// Writes that start from now on wait until [`ControlledStore::release`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Number of writes started so far.
    pub fn writes_started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` writes have started.
    pub async fn wait_writes_started(&self, n: usize) {
        loop {
            let notified = self.started_notify.notified();
            if self.writes_started() >= n {
                return;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl Store for ControlledStore {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn backlog(&self) -> Option<u64> {
        self.inner.backlog()
    }
    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
    async fn backup(&self, dir: &std::path::Path) -> Result<Option<BackupReport>, StoreError> {
        self.inner.backup(dir).await
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        if *self.ping_down.lock().unwrap() {
            return Err(StoreError::Unavailable("ping: test store is down".into()));
        }
        self.inner.ping().await
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        let mut held = self.held.subscribe();
        self.started.fetch_add(1, Ordering::SeqCst);
        self.started_notify.notify_waiters();
        while *held.borrow_and_update() {
            if held.changed().await.is_err() {
                break;
            }
        }
        let mode = *self.mode.lock().unwrap();
        match mode {
            WriteMode::Pass => self.inner.write(batch).await,
            WriteMode::Unavailable => Err(StoreError::Unavailable("test store is down".into())),
            WriteMode::Fail => Err(StoreError::Query("test store refuses the batch".into())),
        }
    }
    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.inner.query(sql).await
    }
    async fn erase_person(&self, project_id: &str, user_id: &str) -> Result<EraseReport, StoreError> {
        self.inner.erase_person(project_id, user_id).await
    }
    async fn export_person(&self, project_id: &str, user_id: &str) -> Result<Vec<EventRow>, StoreError> {
        self.inner.export_person(project_id, user_id).await
    }
    async fn delete_events_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.inner.delete_events_before(project_id, cutoff_ms).await
    }
    async fn linked_user(&self, project_id: &str, anonymous_id: &str) -> Result<Option<String>, StoreError> {
        self.inner.linked_user(project_id, anonymous_id).await
    }
    async fn erase_anonymous(&self, project_id: &str, anonymous_id: &str) -> Result<EraseReport, StoreError> {
        self.inner.erase_anonymous(project_id, anonymous_id).await
    }
    async fn export_anonymous(
        &self,
        project_id: &str,
        anonymous_id: &str,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.inner.export_anonymous(project_id, anonymous_id).await
    }
    async fn clear_sessions_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.inner.clear_sessions_before(project_id, cutoff_ms).await
    }
    async fn delete_identities_before(&self, project_id: &str, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.inner.delete_identities_before(project_id, cutoff_ms).await
    }
    async fn put_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), StoreError> {
        self.inner.put_document(kind, project_id, id, body).await
    }
    async fn get_document(
        &self,
        kind: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.inner.get_document(kind, project_id, id).await
    }
    async fn list_documents(&self, kind: &str, project_id: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.inner.list_documents(kind, project_id).await
    }
    async fn delete_document(&self, kind: &str, project_id: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_document(kind, project_id, id).await
    }
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.append_audit(entry).await
    }
    async fn list_audit(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.list_audit(project_id, limit).await
    }
}
