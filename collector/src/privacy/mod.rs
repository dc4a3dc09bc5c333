//! Privacy: the per-project settings and their enforcement, data-subject rights and retention.
//!
//! * [`settings`]: the live privacy settings of each project (admin API, store, refresh).
//! * [`enforce`]: the settings applied to every incoming message.
//! * [`erase`] (right to be forgotten): a person named by a user id or an anonymous id (cookie,
//!   device id; the person is its linked user when it has one, else just that id). Suppress the
//!   person's ids, wait until no accepted event of theirs is still in flight, erase every event
//!   and identity link, and write an audit entry. With `hash_user_id` on, a user id is looked up
//!   both as given and hashed. The audit entry and the suppression list hold only fingerprints of
//!   the ids (see [`suppression`]).
//! * [`export`] (right of access): every stored event of the person, as NDJSON lines.
//! * [`run_retention`]: per project, from its live settings: events older than
//!   `retention.events_days` are deleted; events older than `retention.sessions_days` lose their
//!   session id; identity links made more than `retention.users_days` ago are deleted.
//!
//! Every admin action is written to the audit log (who, when, what, counts).

pub mod enforce;
pub mod settings;
pub mod suppression;

use footfall_engine::store::{AuditEntry, Dialect, EraseReport, EventRow, StoreError, identities_relation};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::ProjectConfig;
use crate::state::{AppState, now_ms};

/// How a request names a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person<'a> {
    UserId(&'a str),
    /// A cookie or device id: the person is its linked user when it has one.
    AnonymousId(&'a str),
}

impl Person<'_> {
    fn id(&self) -> &str {
        match self {
            Person::UserId(id) | Person::AnonymousId(id) => id,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Person::UserId(_) => "user_id",
            Person::AnonymousId(_) => "anonymous_id",
        }
    }
}

/// What an erasure did (the admin API's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureSummary {
    pub project: String,
    /// `user_id` or `anonymous_id`: how the request named the person.
    pub by: &'static str,
    /// The id the request named.
    pub id: String,
    /// The user erased: the one named, or the one the anonymous id was linked to (null for an
    /// anonymous id linked to nobody).
    pub user_id: Option<String>,
    pub events_deleted: u64,
    pub identity_links_deleted: u64,
    /// Every id of the person (user ids, also hashed, and linked anonymous ids), all now
    /// suppressed.
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

/// The user ids the stored data may hold for a user id: as given and, when the project has a
/// salt (`hash_user_id` is or was on), hashed.
fn user_forms(state: &AppState, project: &str, user_id: &str) -> Vec<String> {
    let mut forms = vec![user_id.to_string()];
    if let Some(salt) = state
        .privacy
        .get(project)
        .salt
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let h = enforce::hashed(salt, user_id);
        if h != user_id {
            forms.push(h);
        }
    }
    forms
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
pub async fn erase(
    state: &AppState,
    project: &ProjectConfig,
    person: Person<'_>,
    actor: &str,
) -> Result<ErasureSummary, StoreError> {
    let store = &state.store;
    // The person's user ids as stored, and every id to suppress before erasing.
    let (users, linked_user) = match person {
        Person::UserId(u) => (user_forms(state, &project.id, u), Some(u.to_string())),
        Person::AnonymousId(a) => match store.linked_user(&project.id, a).await? {
            Some(u) => (vec![u.clone()], Some(u)),
            None => (Vec::new(), None),
        },
    };
    let mut ids = users.clone();
    for u in &users {
        ids.extend(linked_ids(state, &project.id, u).await?);
    }
    if let Person::AnonymousId(a) = person
        && !ids.iter().any(|i| i == a)
    {
        ids.push(a.to_string());
    }
    {
        // Exclusive: every request that validated before this point has committed; every later
        // one sees the suppression.
        let _gate = state.gate.write().await;
        state
            .suppression
            .add(&**store, &project.id, &ids, now_ms())
            .await?;
    }
    let mut reports: Vec<EraseReport> = Vec::new();
    match person {
        Person::UserId(_) => {
            for u in &users {
                reports.push(store.erase_person(&project.id, u).await?);
            }
        }
        Person::AnonymousId(a) => reports.push(store.erase_anonymous(&project.id, a).await?),
    }
    let late: Vec<String> = reports
        .iter()
        .flat_map(|r| r.ids.iter())
        .filter(|id| !ids.contains(id))
        .cloned()
        .collect();
    if !late.is_empty() {
        // Linked between the first look and the erase: suppress them too.
        let _gate = state.gate.write().await;
        state
            .suppression
            .add(&**store, &project.id, &late, now_ms())
            .await?;
        ids.extend(late);
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let summary = ErasureSummary {
        project: project.id.clone(),
        by: person.kind(),
        id: person.id().to_string(),
        user_id: linked_user,
        events_deleted: reports.iter().map(|r| r.events_deleted).sum(),
        identity_links_deleted: reports.iter().map(|r| r.identity_links_deleted).sum(),
        ids,
    };
    let details = json!({
        "by": summary.by,
        "events_deleted": summary.events_deleted,
        "identity_links_deleted": summary.identity_links_deleted,
        "ids_suppressed": summary.ids.len(),
    });
    let action = match person {
        Person::UserId(_) => "erase_user",
        Person::AnonymousId(_) => "erase_anonymous_id",
    };
    let target = audit_target(&project.id, person.id());
    audit(state, Some(&project.id), actor, action, &target, details).await?;
    tracing::info!(project = %project.id, actor, by = summary.by, events = summary.events_deleted, "person erased");
    Ok(summary)
}

/// Erases a person named by user id (see [`erase`]).
pub async fn erase_user(
    state: &AppState,
    project: &ProjectConfig,
    user_id: &str,
    actor: &str,
) -> Result<ErasureSummary, StoreError> {
    erase(state, project, Person::UserId(user_id), actor).await
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
pub async fn export(
    state: &AppState,
    project: &ProjectConfig,
    person: Person<'_>,
    actor: &str,
) -> Result<String, StoreError> {
    let mut rows: Vec<EventRow> = Vec::new();
    match person {
        Person::UserId(u) => {
            for form in user_forms(state, &project.id, u) {
                rows.extend(state.store.export_person(&project.id, &form).await?);
            }
            rows.sort_by(|a, b| (a.ts, &a.message_id).cmp(&(b.ts, &b.message_id)));
            rows.dedup_by(|a, b| a.message_id == b.message_id);
        }
        Person::AnonymousId(a) => rows = state.store.export_anonymous(&project.id, a).await?,
    }
    let mut out = String::new();
    for row in &rows {
        out.push_str(&export_line(row));
        out.push('\n');
    }
    let details = json!({ "by": person.kind(), "events": rows.len() });
    let action = match person {
        Person::UserId(_) => "export_user",
        Person::AnonymousId(_) => "export_anonymous_id",
    };
    let target = audit_target(&project.id, person.id());
    audit(state, Some(&project.id), actor, action, &target, details).await?;
    Ok(out)
}

/// Exports a person named by user id (see [`export`]).
pub async fn export_user(
    state: &AppState,
    project: &ProjectConfig,
    user_id: &str,
    actor: &str,
) -> Result<String, StoreError> {
    export(state, project, Person::UserId(user_id), actor).await
}

/// What one run of the retention job did in a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    pub project: String,
    pub events_deleted: u64,
    pub sessions_cleared: u64,
    pub identity_links_deleted: u64,
}

const DAY_MS: i64 = 86_400_000;

/// Applies each project's retention settings (see the module docs); audits projects where it
/// changed something.
pub async fn run_retention(state: &AppState, now: i64) -> Result<Vec<RetentionRun>, StoreError> {
    let mut out = Vec::new();
    for project in &state.config.projects {
        let r = state.privacy.get(&project.id).settings.retention;
        let cutoff = |days: u32| now.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        let store = &state.store;
        let run = RetentionRun {
            project: project.id.clone(),
            events_deleted: store
                .delete_events_before(&project.id, cutoff(r.events_days))
                .await?,
            sessions_cleared: store
                .clear_sessions_before(&project.id, cutoff(r.sessions_days))
                .await?,
            identity_links_deleted: store
                .delete_identities_before(&project.id, cutoff(r.users_days))
                .await?,
        };
        if run.events_deleted + run.sessions_cleared + run.identity_links_deleted > 0 {
            let details = json!({
                "events_deleted": run.events_deleted,
                "sessions_cleared": run.sessions_cleared,
                "identity_links_deleted": run.identity_links_deleted,
                "retention": {"events_days": r.events_days, "sessions_days": r.sessions_days, "users_days": r.users_days},
            });
            audit(
                state,
                Some(&project.id),
                "retention-job",
                "retention",
                "events",
                details,
            )
            .await?;
            tracing::info!(project = %project.id, events = run.events_deleted, sessions = run.sessions_cleared,
                links = run.identity_links_deleted, "retention job applied");
        }
        out.push(run);
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
