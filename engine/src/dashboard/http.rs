//! HTTP routes of dashboards, alerts and queries (feature `http`), mounted by the collector.
//!
//! The routes are generic over a [`DashboardHost`] state that the collector implements: it gives
//! the store, checks the admin token and resolves the project a request acts on. Mount with
//! `Router::new().merge(dashboard_routes::<MyState>()).with_state(state)` (or `.merge(...)` into
//! the collector's own `Router<MyState>`).
//!
//! | method & path | what | success |
//! |---|---|---|
//! | `GET /v1/dashboards` | `{"dashboards": [Dashboard]}` | 200 |
//! | `POST /v1/dashboards` | a dashboard (JSON), or a dashboards file (`dashboards:` key; YAML with `Content-Type: application/yaml`) | 201 `Dashboard` / `{"dashboards": [...]}` |
//! | `GET /v1/dashboards/{id}` | the dashboard | 200 |
//! | `PUT /v1/dashboards/{id}` | replace it (JSON or YAML) | 200 |
//! | `DELETE /v1/dashboards/{id}` | | 204 |
//! | `GET /v1/dashboards/{id}/data?from=&to=[&widget=ID][&refresh=1]` | [`DashboardData`](super::DashboardData) (one widget with `widget`; `refresh` bypasses the host's cache) | 200 |
//! | `GET /v1/alerts`, `POST /v1/alerts`, `GET/PUT/DELETE /v1/alerts/{id}` | alert rules, same conventions | |
//! | `GET /v1/alerts/{id}/state` | the evaluator's state of a rule | 200 |
//! | `POST /v1/alerts/evaluate` | evaluate the project's due rules now | 200 `{"outcomes": [...]}` |
//! | `POST /v1/query?from=&to=` | any query spec (JSON), see [`super::cli::run_query_spec`] | 200 |
//! | `GET /dashboards`, `GET /dashboards/{id}`, `GET /events` | HTML pages (no data in them, so no auth: the page's script calls the API with the token; CSP and hardening headers: [`super::html::html_response`]); `/events` is Live events (the `raw_events` query) | 200 |
//!
//! Errors are `{"error": "..."}` with the status of [`status_of`]; auth failures are whatever
//! [`DashboardHost::authorize`] returns.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DashboardError;
use super::alert::AlertRule;
use super::alert_eval::evaluate_alerts;
use super::cache::DataCache;
use super::cli::run_query_value;
use super::crud::{AlertStore, DashboardStore, Doc, DocStore, load_alert_state};
use super::data::{DataRequest, dashboard_data_with};
use super::html::{Page, html_response, render_dashboard_page};
use super::model::Dashboard;
use super::parse::parse_dashboards;
use crate::store::{Store, StoreError};

/// What the collector provides to the routes.
pub trait DashboardHost: Clone + Send + Sync + 'static {
    /// The active store.
    fn store(&self) -> Arc<dyn Store>;
    /// Checks the admin token of a request (e.g. `Authorization: Bearer <token>`) and returns the
    /// project the request acts on (e.g. from `X-Footfall-Project` or `?project=`, defaulting to
    /// the only project). The `Err` response is returned to the client as is (401/403/404).
    #[allow(clippy::result_large_err)]
    fn authorize(&self, parts: &Parts) -> Result<String, Response>;
    /// Prefix of the URLs the HTML pages call (default `""`: the API is at the site root).
    fn api_base(&self) -> String {
        String::new()
    }
    /// A cache of widget results (default none). Keep one [`DataCache`] in the state to make
    /// reopening a dashboard instant (results up to its TTL old, then served stale while one
    /// background refresh recomputes them; Refresh bypasses it). Pair it with a
    /// [`super::CacheWarmer`] to keep every dashboard warm.
    fn data_cache(&self) -> Option<&DataCache> {
        None
    }
}

/// Every route of this module as (path, methods, handler), for hosts that record their routes
/// (the collector's `RouteTable::add` feeds its OpenAPI check).
pub fn dashboard_route_list<S: DashboardHost>()
-> Vec<(&'static str, &'static [&'static str], MethodRouter<S>)> {
    vec![
        (
            "/v1/dashboards",
            &["GET", "POST"],
            get(list_dashboards).post(create_dashboards),
        ),
        (
            "/v1/dashboards/{id}",
            &["GET", "PUT", "DELETE"],
            get(get_doc::<Dashboard>)
                .put(update_doc::<Dashboard>)
                .delete(delete_doc::<Dashboard>),
        ),
        (
            "/v1/dashboards/{id}/data",
            &["GET"],
            get(dashboard_data_handler::<S>),
        ),
        (
            "/v1/alerts",
            &["GET", "POST"],
            get(list_alerts).post(create_alert),
        ),
        ("/v1/alerts/evaluate", &["POST"], post(evaluate_handler)),
        (
            "/v1/alerts/{id}",
            &["GET", "PUT", "DELETE"],
            get(get_doc::<AlertRule>)
                .put(update_doc::<AlertRule>)
                .delete(delete_doc::<AlertRule>),
        ),
        ("/v1/alerts/{id}/state", &["GET"], get(alert_state)),
        ("/v1/query", &["POST"], post(query_handler)),
        ("/dashboards", &["GET"], get(index_page::<S>)),
        ("/events", &["GET"], get(events_page::<S>)),
        ("/dashboards/{id}", &["GET"], get(dashboard_page::<S>)),
    ]
}

/// Every route of this module in one router, for a host state `S`.
pub fn dashboard_routes<S: DashboardHost>() -> Router<S> {
    dashboard_route_list()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handler)| r.route(path, handler))
}

/// The status code of an error (the one place errors become HTTP).
pub fn status_of(e: &DashboardError) -> StatusCode {
    match e {
        DashboardError::Invalid(_) => StatusCode::BAD_REQUEST,
        DashboardError::NotFound { .. } => StatusCode::NOT_FOUND,
        DashboardError::Conflict { .. } => StatusCode::CONFLICT,
        DashboardError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        DashboardError::Query(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DashboardError::Store(_) | DashboardError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A [`DashboardError`] as an HTTP response.
pub struct ApiError(pub DashboardError);

impl From<DashboardError> for ApiError {
    fn from(e: DashboardError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let mut res = (status, Json(json!({"error": self.0.to_string()}))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// An authorized request: the store and the project it acts on.
pub struct Admin {
    pub store: Arc<dyn Store>,
    pub project: String,
}

impl<S: DashboardHost> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let project = state.authorize(parts)?;
        Ok(Admin {
            store: state.store(),
            project,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RangeParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Query string of the data endpoint.
#[derive(Debug, Default, Deserialize)]
pub struct DataParams {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Only this widget (id or `w{index}`).
    pub widget: Option<String>,
    /// `1`/`true`: bypass the cache.
    #[serde(default)]
    pub refresh: Option<String>,
}

/// A request body as JSON, or YAML when the content type says so.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, DashboardError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = std::str::from_utf8(body).map_err(|_| DashboardError::Invalid("body is not UTF-8".into()))?;
    if ct.contains("yaml") {
        serde_norway::from_str(text)
            .map_err(|e| DashboardError::Invalid(format!("body is not valid YAML: {e}")))
    } else {
        serde_json::from_str(text)
            .map_err(|e| DashboardError::Invalid(format!("body is not valid JSON: {e}")))
    }
}

async fn list_dashboards(a: Admin) -> ApiResult<Json<Value>> {
    let list = DashboardStore::new(a.store.as_ref(), &a.project).list().await?;
    Ok(Json(json!({ "dashboards": list })))
}

async fn create_dashboards(a: Admin, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let v = parse_body(&headers, &body)?;
    let ds = DashboardStore::new(a.store.as_ref(), &a.project);
    if v.get("dashboards").is_some() {
        // A whole dashboards file: validate all first, then create each.
        let text = serde_json::to_string(&v).unwrap_or_default();
        let mut created = Vec::new();
        for d in parse_dashboards(&text)? {
            created.push(ds.create(d).await?);
        }
        return Ok((StatusCode::CREATED, Json(json!({ "dashboards": created }))).into_response());
    }
    let d = ds.create_from_body(&v).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

async fn get_doc<T: Doc>(a: Admin, Path(id): Path<String>) -> ApiResult<Json<T>> {
    Ok(Json(
        DocStore::<T>::new(a.store.as_ref(), &a.project).get(&id).await?,
    ))
}

async fn update_doc<T: Doc>(
    a: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<T>> {
    let v = parse_body(&headers, &body)?;
    Ok(Json(
        DocStore::<T>::new(a.store.as_ref(), &a.project)
            .update_from_body(&id, &v)
            .await?,
    ))
}

async fn delete_doc<T: Doc>(a: Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    DocStore::<T>::new(a.store.as_ref(), &a.project)
        .delete(&id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn dashboard_data_handler<S: DashboardHost>(
    State(s): State<S>,
    a: Admin,
    Path(id): Path<String>,
    Query(p): Query<DataParams>,
) -> ApiResult<Json<Value>> {
    let d = DashboardStore::new(a.store.as_ref(), &a.project).get(&id).await?;
    let req = DataRequest {
        from: p.from.as_deref(),
        to: p.to.as_deref(),
        now_ms: chrono::Utc::now().timestamp_millis(),
        widget: p.widget.as_deref().filter(|w| !w.is_empty()),
        cache: s.data_cache(),
        refresh: matches!(p.refresh.as_deref(), Some("1" | "true")),
    };
    let data = dashboard_data_with(&a.store, &a.project, &d, &req).await?;
    Ok(Json(serde_json::to_value(data).unwrap_or(Value::Null)))
}

async fn list_alerts(a: Admin) -> ApiResult<Json<Value>> {
    let list = AlertStore::new(a.store.as_ref(), &a.project).list().await?;
    Ok(Json(json!({ "alerts": list })))
}

async fn create_alert(a: Admin, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let v = parse_body(&headers, &body)?;
    let rule = AlertStore::new(a.store.as_ref(), &a.project)
        .create_from_body(&v)
        .await?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn alert_state(a: Admin, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    AlertStore::new(a.store.as_ref(), &a.project).get(&id).await?;
    let state = load_alert_state(a.store.as_ref(), &a.project, &id).await?;
    Ok(Json(serde_json::to_value(state).unwrap_or(Value::Null)))
}

async fn evaluate_handler(a: Admin) -> ApiResult<Json<Value>> {
    let now = chrono::Utc::now().timestamp_millis();
    let outcomes = evaluate_alerts(a.store.as_ref(), &a.project, now).await?;
    Ok(Json(json!({ "outcomes": outcomes })))
}

async fn query_handler(
    a: Admin,
    Query(r): Query<RangeParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let spec = parse_body(&headers, &body)?;
    let out = run_query_value(
        a.store.as_ref(),
        &a.project,
        &spec,
        r.from.as_deref(),
        r.to.as_deref(),
    )
    .await?;
    Ok(Json(out))
}

/// A page with its CSP and hardening headers.
fn page_response(page: Page<'_>, api_base: &str) -> Response {
    let rendered = render_dashboard_page(page, api_base);
    html_response(rendered.html, &rendered.csp)
}

async fn index_page<S: DashboardHost>(State(s): State<S>) -> Response {
    page_response(Page::Index, &s.api_base())
}

async fn events_page<S: DashboardHost>(State(s): State<S>) -> Response {
    page_response(Page::Events, &s.api_base())
}

async fn dashboard_page<S: DashboardHost>(State(s): State<S>, Path(id): Path<String>) -> Response {
    let page = Page::Live {
        dashboard_id: &id,
        name: &id,
    };
    page_response(page, &s.api_base())
}
