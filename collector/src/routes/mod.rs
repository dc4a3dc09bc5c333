//! The HTTP API: one module per group of routes, assembled by [`app`].
//!
//! Each module exposes `fn routes(table: RouteTable) -> RouteTable` and adds its routes with
//! [`RouteTable::add`], which records the path and methods next to the handler. The record feeds
//! [`route_table`], which the OpenAPI test compares with `collector/openapi.yaml`, so a route
//! cannot be added without documenting it.
//!
//! Groups: [`ingest`] (Segment-compatible intake), [`admin`] (data-subject rights, audit, dead
//! letters), [`settings`] (privacy settings: `/v1/settings` for SDKs, the admin API), [`dashboards`]
//! (the engine's dashboards, alerts and query API), [`pages`] (landing page, privacy page,
//! browser example), [`ops`] (health, readiness, metrics). To add a group: write
//! `routes/<name>.rs` with a `routes` function like the others, call it in [`all_routes`], and
//! describe the paths in `collector/openapi.yaml`.

pub mod admin;
pub mod dashboards;
pub mod ingest;
pub mod ops;
pub mod pages;
pub mod settings;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::MethodRouter;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::state::AppState;

/// A documented route: its path (axum syntax, `{param}`) and HTTP methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

/// A router that remembers which paths and methods it serves.
pub struct RouteTable {
    /// Same-origin routes (admin, operations, dashboards).
    router: Router<AppState>,
    /// Routes browsers call from other origins (ingestion): served with CORS.
    public: Router<AppState>,
    routes: Vec<RouteInfo>,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            router: Router::new(),
            public: Router::new(),
            routes: Vec::new(),
        }
    }
}

impl RouteTable {
    /// Adds `handler` at `path`; `methods` must list the methods `handler` serves (upper case).
    pub fn add(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.routes.push(RouteInfo { path, methods });
        self
    }

    /// Like [`RouteTable::add`], for a route that web pages of other origins call (CORS applies:
    /// the projects' `allowed_origins`, preflight included).
    pub fn add_public(
        mut self,
        path: &'static str,
        methods: &'static [&'static str],
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.public = self.public.route(path, handler);
        self.routes.push(RouteInfo { path, methods });
        self
    }

    /// Nests a whole router whose paths are documented by `routes` (for route groups built
    /// elsewhere, e.g. in the engine crate).
    pub fn merge(mut self, router: Router<AppState>, routes: &[RouteInfo]) -> Self {
        self.router = self.router.merge(router);
        self.routes.extend_from_slice(routes);
        self
    }
}

fn all_routes() -> RouteTable {
    let table = RouteTable::default();
    let table = ingest::routes(table);
    let table = admin::routes(table);
    let table = settings::routes(table);
    let table = dashboards::routes(table);
    let table = pages::routes(table);
    ops::routes(table)
}

/// Every route the collector serves.
pub fn route_table() -> Vec<RouteInfo> {
    all_routes().routes
}

/// Headers of every response: `X-Content-Type-Options: nosniff` (a browser never runs a JSON
/// answer or an export that echoes event data as HTML or script). The HTML pages set their own
/// hardening headers (CSP, framing, referrer: `footfall_engine::dashboard::html::html_response`).
/// The admin and dashboards API get no CORS headers (only the ingestion routes of
/// [`RouteTable::add_public`] do): other origins cannot read them.
async fn common_headers(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Admin API answers (personal data: exports, dead letters, the audit log) are never stored by
/// a browser or a proxy cache: `Cache-Control: no-store`.
async fn admin_no_store(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let admin = request.uri().path().starts_with("/v1/admin/");
    let mut response = next.run(request).await;
    if admin {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The collector's HTTP application.
pub fn app(state: AppState) -> Router {
    let table = all_routes();
    let public = table.public.layer(ingest::cors(&state.config));
    table
        .router
        .merge(public)
        .layer(axum::middleware::map_response(common_headers))
        .layer(axum::middleware::from_fn(admin_no_store))
        // 5xx answers are logged once, sampled, with their message by `ApiError` (error.rs);
        // the trace layer's own line for each would double an outage's log volume.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
        .with_state(state)
}
