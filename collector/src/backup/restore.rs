//! Restoring a backup (`footfall restore --from DIR --data NEWDIR`, offline): the DuckDB import
//! into a new, empty data directory, the migration to this version's schema, and the check of the
//! event count against the manifest.

use std::path::{Path, PathBuf};

use footfall_engine::store::{AuditEntry, DuckDbStore, Store, StoreError};
use serde::Serialize;
use serde_json::json;

use super::{Manifest, read_manifest};

/// What a restore did.
#[derive(Debug, Serialize)]
pub struct RestoreSummary {
    pub backup: String,
    pub data: PathBuf,
    pub events: u64,
    pub schema_version: i64,
}

/// Restores the backup in `from` into the new data directory `data` (which must be missing or
/// empty: a data directory in use is never empty), migrates it, checks its event count and
/// audits the restore (`restore` by `actor`) in the restored database.
pub async fn restore(from: &Path, data: &Path, actor: &str) -> Result<RestoreSummary, String> {
    let manifest = read_manifest(from)?;
    let existed = data.exists();
    if existed {
        let mut entries =
            std::fs::read_dir(data).map_err(|e| format!("cannot read {}: {e}", data.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty: restore into a new directory (never over a data directory, let alone one in use)",
                data.display()
            ));
        }
    }
    let result = restore_into(from, data, &manifest, actor).await;
    if result.is_err() {
        // Leave nothing half-restored behind.
        let _ = if existed {
            std::fs::read_dir(data).map(|entries| {
                for e in entries.flatten() {
                    let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
                }
            })
        } else {
            std::fs::remove_dir_all(data)
        };
    }
    result
}

async fn restore_into(
    from: &Path,
    data: &Path,
    manifest: &Manifest,
    actor: &str,
) -> Result<RestoreSummary, String> {
    let store_err = |e: StoreError| format!("restoring {}: {e}", from.display());
    let (f, d) = (from.to_path_buf(), data.to_path_buf());
    tokio::task::spawn_blocking(move || DuckDbStore::restore(&f, &d))
        .await
        .map_err(|e| format!("restore task failed: {e}"))?
        .map_err(store_err)?;
    let store = DuckDbStore::open(data).map_err(store_err)?;
    store.migrate().await.map_err(store_err)?;
    let events = scalar(&store, "SELECT count(*) FROM events")
        .await
        .map_err(store_err)?;
    let schema_version = scalar(&store, "SELECT coalesce(max(version), 0) FROM schema_version")
        .await
        .map_err(store_err)?;
    let events = u64::try_from(events).unwrap_or_default();
    if events != manifest.events {
        return Err(format!(
            "the restored database holds {events} events but the backup's manifest says {}: the backup is damaged",
            manifest.events
        ));
    }
    let entry = AuditEntry {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: None,
        at: chrono::Utc::now().timestamp_millis(),
        actor: actor.to_string(),
        action: "restore".into(),
        target: format!("backup:{}", manifest.name),
        details: json!({ "events": events, "created_at": manifest.created_at, "from": from.display().to_string() }),
    };
    store.append_audit(&entry).await.map_err(store_err)?;
    store.close().await.map_err(store_err)?;
    Ok(RestoreSummary {
        backup: manifest.name.clone(),
        data: data.to_path_buf(),
        events,
        schema_version,
    })
}

/// The integer a one-value query answers (0 when it answers none).
async fn scalar(store: &DuckDbStore, sql: &str) -> Result<i64, StoreError> {
    let result = store.query(sql).await?;
    Ok(result
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.as_i64())
        .unwrap_or_default())
}
