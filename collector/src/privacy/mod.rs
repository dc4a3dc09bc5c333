//! Data-subject rights and retention, shared by the admin API and the CLI:
//!
//! * [`erase_user`] (right to be forgotten): suppress the person's ids, wait until no accepted
//!   event of theirs is still in flight, erase every event and identity link of the user id and
//!   each anonymous id linked to it, and write an audit entry. The audit entry and the
//!   suppression list hold only fingerprints of the ids (see [`suppression`]).
//! * [`export_user`] (right of access): every stored event of the person, as NDJSON lines.
//! * [`run_retention`]: deletes events older than each project's retention.
//!
//! Every admin action is written to the audit log (who, when, what, counts).

pub mod suppression;

use footfall_engine::store::{AuditEntry, Dialect, EventRow, StoreError, identities_relation};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::ProjectConfig;
use crate::state::{AppState, now_ms};

/// What an erasure did (the admin API's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureSummary {
    pub project: String,
    pub user_id: String,
    pub events_deleted: u64,
    pub identity_links_deleted: u64,
    /// The user id and every anonymous id linked to it, all now suppressed.
    pub ids: Vec<String>,
}

/// A single-quoted SQL string literal for the backend's dialect.
pub fn sql_string(dialect: Dialect, s: &str) -> String {
    match dialect {
        Dialect::ClickHouse => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Dialect::DuckDb | Dialect::Postgres => format!("'{}'", s.replace('\'', "''")),
    }
}

/// Anonymous ids whose winning identity link points to `user_id`.
async fn linked_ids(state: &AppState, project: &str, user_id: &str) -> Result<Vec<String>, StoreError> {
    let d = state.store.dialect();
    let sql = format!(
        "SELECT DISTINCT anonymous_id FROM {} AS i WHERE project_id = {} AND user_id = {}",
        identities_relation(d),
        sql_string(d, project),
        sql_string(d, user_id)
    );
    let result = state.store.query(&sql).await?;
    Ok(result
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next()?.as_str().map(str::to_string))
        .collect())
}

/// A short, non-reversible name of a person for the audit log.
fn audit_target(project: &str, user_id: &str) -> String {
    let fp = suppression::hex(&suppression::fingerprint(project, user_id));
    format!("user:{}", &fp[..16])
}

/// Appends an audit entry.
pub async fn audit(
    state: &AppState,
    project: Option<&str>,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
) -> Result<(), StoreError> {
    let entry = AuditEntry {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.map(str::to_string),
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        details,
    };
    state.store.append_audit(&entry).await
}

/// Erases a person (see the module docs). `actor` names who asked, for the audit log.
pub async fn erase_user(
    state: &AppState,
    project: &ProjectConfig,
    user_id: &str,
    actor: &str,
) -> Result<ErasureSummary, StoreError> {
    let mut ids = vec![user_id.to_string()];
    ids.extend(linked_ids(state, &project.id, user_id).await?);
    {
        // Exclusive: every request that validated before this point has committed; every later
        // one sees the suppression.
        let _gate = state.gate.write().await;
        state
            .suppression
            .add(&*state.store, &project.id, &ids, now_ms())
            .await?;
    }
    let report = state.store.erase_person(&project.id, user_id).await?;
    let late: Vec<String> = report
        .ids
        .iter()
        .filter(|id| !ids.contains(id))
        .cloned()
        .collect();
    if !late.is_empty() {
        // Linked between the first look and the erase: suppress them too.
        let _gate = state.gate.write().await;
        state
            .suppression
            .add(&*state.store, &project.id, &late, now_ms())
            .await?;
        ids.extend(late);
    }
    let summary = ErasureSummary {
        project: project.id.clone(),
        user_id: user_id.to_string(),
        events_deleted: report.events_deleted,
        identity_links_deleted: report.identity_links_deleted,
        ids,
    };
    let details = json!({
        "events_deleted": summary.events_deleted,
        "identity_links_deleted": summary.identity_links_deleted,
        "ids_suppressed": summary.ids.len(),
    });
    audit(
        state,
        Some(&project.id),
        actor,
        "erase_user",
        &audit_target(&project.id, user_id),
        details,
    )
    .await?;
    tracing::info!(project = %project.id, actor, events = summary.events_deleted, "person erased");
    Ok(summary)
}

/// One exported event: the stored row with its JSON columns as objects.
pub fn export_line(row: &EventRow) -> String {
    let mut v = serde_json::to_value(row).unwrap_or_default();
    for key in ["properties", "traits", "context"] {
        if let Some(text) = v.get(key).and_then(Value::as_str) {
            let parsed =
                serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()));
            v[key] = parsed;
        }
    }
    v.to_string()
}

/// Every stored event of the person as NDJSON (one event per line, oldest first), audited.
pub async fn export_user(
    state: &AppState,
    project: &ProjectConfig,
    user_id: &str,
    actor: &str,
) -> Result<String, StoreError> {
    let rows = state.store.export_person(&project.id, user_id).await?;
    let mut out = String::new();
    for row in &rows {
        out.push_str(&export_line(row));
        out.push('\n');
    }
    let details = json!({ "events": rows.len() });
    audit(
        state,
        Some(&project.id),
        actor,
        "export_user",
        &audit_target(&project.id, user_id),
        details,
    )
    .await?;
    Ok(out)
}

/// Deletes events older than each project's retention; audits projects where it deleted some.
/// Returns (project, deleted) pairs.
pub async fn run_retention(state: &AppState, now: i64) -> Result<Vec<(String, u64)>, StoreError> {
    let mut out = Vec::new();
    for project in &state.config.projects {
        let days = i64::from(state.config.retention_days(project));
        let cutoff = now - days * 86_400_000;
        let deleted = state.store.delete_events_before(&project.id, cutoff).await?;
        if deleted > 0 {
            let details = json!({ "deleted": deleted, "cutoff_ms": cutoff, "retention_days": days });
            audit(
                state,
                Some(&project.id),
                "retention-job",
                "retention",
                "events",
                details,
            )
            .await?;
            tracing::info!(project = %project.id, deleted, "retention job deleted old events");
        }
        out.push((project.id.clone(), deleted));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_strings_escape_per_dialect() {
        assert_eq!(sql_string(Dialect::Postgres, "o'neil\\"), "'o''neil\\'");
        assert_eq!(sql_string(Dialect::ClickHouse, "o'neil\\"), "'o\\'neil\\\\'");
    }

    #[test]
    fn audit_targets_hide_the_id() {
        let t = audit_target("p", "ada@example.com");
        assert!(t.starts_with("user:") && !t.contains("ada"));
    }
}
