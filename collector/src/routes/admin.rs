//! The admin API (`Authorization: Bearer <admin token>`; write keys never work here):
//!
//! * `DELETE /v1/admin/users/{userId}?project=ID` — erase a person (events, identity links,
//!   linked anonymous ids), suppress their ids, answer the counts.
//! * `GET /v1/admin/users/{userId}/export?project=ID` — the person's events as NDJSON.
//! * `DELETE /v1/admin/anonymous_ids/{anonymousId}?project=ID`,
//!   `GET /v1/admin/anonymous_ids/{anonymousId}/export?project=ID` — the same for a person named
//!   by a cookie or device id (its linked user when it has one, else just that id).
//! * `GET /v1/admin/audit?project=ID&limit=N` — the audit log, newest first.
//! * `GET /v1/admin/dead_letters?project=ID&limit=N` — refused messages, newest first.
//! * `GET /v1/admin/projects` — configured projects (ids, names, origins, live privacy settings;
//!   no keys, no salts).
//! * `POST /v1/admin/backup` (body `{"name": "...", "keep": N}`, both optional) — an online backup
//!   of the embedded store into the configured `backup_dir` (see [`crate::backup`]), then
//!   retention (`keep`, else the config's `backup_keep`: the N newest backups are kept); audited
//!   as `backup`.
//! * `GET /v1/admin/backups` — the backups in `backup_dir`, newest first, and what else is there.
//!
//! `project` may be left out when one project is configured. The optional `X-Footfall-Actor`
//! header names the person acting, recorded in the audit log as `admin:<name>`.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::RouteTable;
use crate::error::ApiError;
use crate::privacy::{self, Person, sql_string};
use crate::state::AppState;

pub fn routes(table: RouteTable) -> RouteTable {
    table
        .add("/v1/admin/users/{user_id}", &["DELETE"], delete(erase_user))
        .add("/v1/admin/users/{user_id}/export", &["GET"], get(export_user))
        .add(
            "/v1/admin/anonymous_ids/{anonymous_id}",
            &["DELETE"],
            delete(erase_anonymous),
        )
        .add(
            "/v1/admin/anonymous_ids/{anonymous_id}/export",
            &["GET"],
            get(export_anonymous),
        )
        .add("/v1/admin/audit", &["GET"], get(audit_log))
        .add("/v1/admin/dead_letters", &["GET"], get(dead_letters))
        .add("/v1/admin/projects", &["GET"], get(projects))
        .add("/v1/admin/backup", &["POST"], post(backup))
        .add("/v1/admin/backups", &["GET"], get(backups))
}

/// An authenticated admin; `actor` is what the audit log records.
pub struct Admin {
    pub actor: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).map(|actor| Admin { actor })
    }
}

/// Checks the admin bearer token of a request; returns the audit actor (`admin`, or
/// `admin:<X-Footfall-Actor>`). Failed attempts are limited per client address (see
/// [`crate::auth_limit`]).
pub fn authenticate(parts: &Parts, state: &AppState) -> Result<String, ApiError> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let client = crate::ingest::enrich::client_ip(&parts.headers, peer, state.config.trust_proxy.hops());
    let now = std::time::Instant::now();
    if let Some(ip) = client {
        state
            .admin_failures
            .check(ip, now)
            .map_err(|retry_after| ApiError::TooManyAttempts { retry_after })?;
    }
    let result = check_token(parts, state);
    if let (Err(_), Some(ip)) = (&result, client) {
        state.admin_failures.failed(ip, now);
    }
    result
}

fn check_token(parts: &Parts, state: &AppState) -> Result<String, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(t) if state.is_admin_token(t) => {
            let name = parts
                .headers
                .get("x-footfall-actor")
                .and_then(|v| v.to_str().ok());
            Ok(match name {
                Some(n) if !n.trim().is_empty() => {
                    format!("admin:{}", n.trim().chars().take(100).collect::<String>())
                }
                _ => "admin".to_string(),
            })
        }
        _ => Err(ApiError::Unauthorized),
    }
}

#[derive(Debug, Deserialize)]
pub struct ProjectQuery {
    pub project: Option<String>,
    pub limit: Option<usize>,
}

pub fn store_error(state: &AppState, e: footfall_engine::store::StoreError) -> ApiError {
    ApiError::from_store(e, state.config.limits.retry_after_secs)
}

async fn erase_person(
    state: &AppState,
    actor: &str,
    project: Option<&str>,
    person: Person<'_>,
) -> Result<Json<privacy::ErasureSummary>, ApiError> {
    let project = state.resolve_project(project)?;
    let summary = privacy::erase(state, project, person, actor)
        .await
        .map_err(|e| store_error(state, e))?;
    Ok(Json(summary))
}

async fn export_person(
    state: &AppState,
    actor: &str,
    project: Option<&str>,
    person: Person<'_>,
) -> Result<Response, ApiError> {
    let project = state.resolve_project(project)?;
    let body = privacy::export(state, project, person, actor)
        .await
        .map_err(|e| store_error(state, e))?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

async fn erase_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<privacy::ErasureSummary>, ApiError> {
    erase_person(&state, &admin.actor, q.project.as_deref(), Person::UserId(&id)).await
}

async fn erase_anonymous(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<privacy::ErasureSummary>, ApiError> {
    erase_person(
        &state,
        &admin.actor,
        q.project.as_deref(),
        Person::AnonymousId(&id),
    )
    .await
}

async fn export_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> Result<Response, ApiError> {
    export_person(&state, &admin.actor, q.project.as_deref(), Person::UserId(&id)).await
}

async fn export_anonymous(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> Result<Response, ApiError> {
    export_person(
        &state,
        &admin.actor,
        q.project.as_deref(),
        Person::AnonymousId(&id),
    )
    .await
}

async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(p) = &q.project {
        state.resolve_project(Some(p))?;
    }
    let limit = q.limit.unwrap_or(100).min(10_000);
    let entries = state
        .store
        .list_audit(q.project.as_deref(), limit)
        .await
        .map_err(|e| store_error(&state, e))?;
    Ok(Json(json!({ "entries": entries })))
}

async fn dead_letters(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let project = state.resolve_project(q.project.as_deref())?;
    let limit = q.limit.unwrap_or(100).min(10_000);
    let sql = format!(
        "SELECT received_at, reason, message_id, payload FROM dead_letters WHERE project_id = {} \
         ORDER BY received_at DESC LIMIT {limit}",
        sql_string(state.store.dialect(), &project.id)
    );
    let result = state
        .store
        .query(&sql)
        .await
        .map_err(|e| store_error(&state, e))?;
    let rows: Vec<Value> = result
        .rows
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            json!({ "received_at": it.next(), "reason": it.next(), "message_id": it.next(), "payload": it.next() })
        })
        .collect();
    Ok(Json(json!({ "project": project.id, "dead_letters": rows })))
}

async fn projects(State(state): State<AppState>, _admin: Admin) -> Json<Value> {
    let list: Vec<Value> = state
        .config
        .projects
        .iter()
        .map(|p| {
            let privacy = state.privacy.get(&p.id);
            json!({
                "id": p.id,
                "name": p.name.clone().unwrap_or_else(|| p.id.clone()),
                "allowed_origins": p.allowed_origins,
                "retention_days": privacy.settings.retention.events_days,
                "privacy": privacy.settings,
            })
        })
        .collect();
    Json(json!({ "projects": list }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    name: Option<String>,
    /// Signed, so that a negative `keep` gets our message naming `keep`, not serde's.
    keep: Option<i64>,
}

/// `POST /v1/admin/backup`: the manifest of the backup written, where it is on the server, and
/// what retention deleted.
async fn backup(
    State(state): State<AppState>,
    admin: Admin,
    body: axum::body::Bytes,
) -> Result<Json<crate::backup::Taken>, ApiError> {
    let request: BackupRequest = if body.iter().all(u8::is_ascii_whitespace) {
        BackupRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid backup request: {e}")))?
    };
    let keep = request.keep.map(crate::backup::validate_keep).transpose()?;
    // In a task of its own: a client that hangs up does not abandon a backup half-written.
    let taken = tokio::spawn(async move {
        crate::backup::take(&state, request.name.as_deref(), keep, &admin.actor).await
    })
    .await
    .map_err(|e| ApiError::Internal(format!("backup task failed: {e}")))??;
    Ok(Json(taken))
}

/// `GET /v1/admin/backups`: the backups in `backup_dir`, newest first, and the entries there that
/// are not backups (never counted nor deleted by retention).
async fn backups(State(state): State<AppState>, _admin: Admin) -> Result<Json<Value>, ApiError> {
    let (dir, catalog) = crate::backup::list(&state).await?;
    Ok(Json(json!({
        "backup_dir": dir,
        "keep": state.config.backup_keep,
        "backups": catalog.backups,
        "ignored": catalog.ignored,
    })))
}
