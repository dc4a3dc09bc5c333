//! The dashboards, alerts and query API of the engine (`footfall_engine::dashboard::http`),
//! mounted on the collector: the collector is their [`DashboardHost`] (store, admin token,
//! project resolution, result cache).
//!
//! | route | what |
//! |---|---|
//! | `GET/POST /v1/dashboards`, `GET/PUT/DELETE /v1/dashboards/{id}` | dashboards (JSON or YAML) |
//! | `GET /v1/dashboards/{id}/data?from=&to=[&widget=][&refresh=1]` | a dashboard's data |
//! | `GET/POST /v1/alerts`, `POST /v1/alerts/evaluate`, `GET/PUT/DELETE /v1/alerts/{id}`, `GET /v1/alerts/{id}/state` | alert rules |
//! | `POST /v1/query?from=&to=` | any query spec |
//! | `GET /dashboards`, `GET /dashboards/{id}` | the HTML pages (their script calls the API with the admin token) |
//!
//! Every API route takes the admin token (`Authorization: Bearer`) and `?project=` (optional with
//! one project), like the admin API; the pages pass `?project=` on to every call.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use footfall_engine::dashboard::cache::DataCache;
use footfall_engine::dashboard::http::{DashboardHost, dashboard_route_list};
use footfall_engine::store::Store;

use super::RouteTable;
use super::admin::{ProjectQuery, authenticate};
use crate::error::ApiError;
use crate::state::AppState;

impl DashboardHost for AppState {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    fn authorize(&self, parts: &Parts) -> Result<String, Response> {
        authenticate(parts, self).map_err(IntoResponse::into_response)?;
        let Query(q) = Query::<ProjectQuery>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::BadRequest(e.body_text()).into_response())?;
        self.resolve_project(q.project.as_deref())
            .map(|p| p.id.clone())
            .map_err(IntoResponse::into_response)
    }

    fn data_cache(&self) -> Option<&DataCache> {
        Some(&self.dashboard_cache)
    }
}

pub fn routes(table: RouteTable) -> RouteTable {
    dashboard_route_list::<AppState>()
        .into_iter()
        .fold(table, |table, (path, methods, handler)| {
            table.add(path, methods, handler)
        })
}
