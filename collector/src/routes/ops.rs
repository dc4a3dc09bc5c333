//! Operations: `GET /health` (the process answers), `GET /ready` (storage reachable and taking
//! writes; 503 otherwise, so a load balancer stops sending: see
//! [`crate::commit::Committer::write_failure`]), `GET /metrics` (Prometheus / OpenMetrics text,
//! see [`crate::metrics`]).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::RouteTable;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(table: RouteTable) -> RouteTable {
    table
        .add("/health", &["GET"], get(health))
        .add("/ready", &["GET"], get(ready))
        .add("/metrics", &["GET"], get(metrics))
}

/// Liveness: the process answers (also served while waiting for the storage at start).
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Response {
    let problem = match state.store.ping().await {
        Err(e) => Some(e.to_string()),
        Ok(()) => state
            .committer
            .write_failure()
            .map(|e| format!("the last write failed: {e}")),
    };
    match problem {
        None => (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response(),
        Some(message) => ApiError::StoreUnavailable {
            message,
            retry_after: state.config.limits.retry_after_secs,
        }
        .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .store_backlog
        .set(state.store.backlog().unwrap_or(0).try_into().unwrap_or(i64::MAX));
    state
        .metrics
        .store_damaged_log_bytes
        .set(state.store.damaged_log_bytes().try_into().unwrap_or(i64::MAX));
    // The store counts; the counter follows it (it never goes back).
    let reopens = &state.metrics.store_reopens;
    reopens.inc_by(state.store.reopens().saturating_sub(reopens.get()));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
