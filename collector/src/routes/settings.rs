//! The privacy control plane over HTTP (see [`crate::privacy::settings`]):
//!
//! * `GET /v1/settings` — what SDKs fetch: the project's [`footfall::settings::PrivacySettings`]
//!   as JSON (no salt). Write-key auth: HTTP Basic username, or `?writeKey=` for clients that
//!   cannot set headers. `ETag` + `If-None-Match` → 304; `Cache-Control: no-cache` (caches may
//!   keep it but must revalidate, so a change is seen on the next fetch); CORS like ingestion.
//! * `GET /v1/admin/projects/{id}/privacy[?reveal_salt=1]` — the settings with their version,
//!   source (`config` or `store`), last change (when, who), `ETag`.
//! * `PUT /v1/admin/projects/{id}/privacy` — the settings or any part of them (JSON Merge Patch),
//!   optionally `hash_salt`; `If-Match` guards against concurrent edits (412). Answers like GET
//!   plus `changes` (field, old, new), each also written to the audit log. Invalid settings are
//!   400 `invalid_settings` with a message naming the field.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use super::RouteTable;
use super::admin::{Admin, store_error};
use super::ingest::{basic_auth_user, header_str};
use crate::error::ApiError;
use crate::privacy::settings::{Effective, UpdateError};
use crate::state::AppState;

pub fn routes(table: RouteTable) -> RouteTable {
    table
        .add_public("/v1/settings", &["GET"], get(public_settings))
        .add(
            "/v1/admin/projects/{project_id}/privacy",
            &["GET", "PUT"],
            get(admin_get).put(admin_put),
        )
}

#[derive(Debug, Default, Deserialize)]
struct SettingsQuery {
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
}

fn with_etag(mut response: Response, e: &Effective) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&e.etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Authorization, Origin"));
    response
}

/// Whether an `If-None-Match` header names `etag` (or `*`); weak tags compare equal.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let Some(v) = header_str(headers, "if-none-match") else {
        return false;
    };
    v.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

async fn public_settings(
    State(state): State<AppState>,
    Query(q): Query<SettingsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = basic_auth_user(&headers)
        .or(q.write_key)
        .ok_or(ApiError::MissingWriteKey)?;
    let project = state.project_by_key(&key).ok_or(ApiError::InvalidWriteKey)?;
    if let Some(origin) = header_str(&headers, "origin")
        && !project.allows_origin(origin)
    {
        return Err(ApiError::OriginNotAllowed(origin.chars().take(200).collect()));
    }
    let e = state.privacy.get(&project.id);
    if none_match(&headers, &e.etag) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &e));
    }
    let body = (
        [(header::CONTENT_TYPE, "application/json")],
        e.public_json.clone(),
    );
    Ok(with_etag(body.into_response(), &e))
}

#[derive(Debug, Default, Deserialize)]
struct AdminQuery {
    reveal_salt: Option<String>,
}

async fn admin_get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(project_id): Path<String>,
    Query(q): Query<AdminQuery>,
) -> Result<Response, ApiError> {
    let project = state.resolve_project(Some(&project_id))?;
    let e = state.privacy.get(&project.id);
    let reveal = matches!(q.reveal_salt.as_deref(), Some("1" | "true"));
    Ok(with_etag(
        Json(e.admin_view(&project.id, reveal)).into_response(),
        &e,
    ))
}

async fn admin_put(
    State(state): State<AppState>,
    admin: Admin,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let project = state.resolve_project(Some(&project_id))?;
    let patch: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidSettings(format!("the body is not valid JSON: {e}")))?;
    let if_match = header_str(&headers, "if-match");
    let (e, changes) = state
        .privacy
        .update(&*state.store, &project.id, patch, &admin.actor, if_match)
        .await
        .map_err(|e| match e {
            UpdateError::Invalid(m) => ApiError::InvalidSettings(m),
            UpdateError::Conflict(_) => ApiError::PreconditionFailed(e.to_string()),
            UpdateError::Store(s) => store_error(&state, s),
        })?;
    let mut view = e.admin_view(&project.id, false);
    view["changes"] = serde_json::to_value(&changes).unwrap_or_default();
    Ok(with_etag(Json(view).into_response(), &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, "\"a\""));
        h.insert(header::IF_NONE_MATCH, "\"x\", W/\"a\"".parse().unwrap());
        assert!(none_match(&h, "\"a\""));
        h.insert(header::IF_NONE_MATCH, "\"x\"".parse().unwrap());
        assert!(!none_match(&h, "\"a\""));
        h.insert(header::IF_NONE_MATCH, "*".parse().unwrap());
        assert!(none_match(&h, "\"a\""));
    }
}
