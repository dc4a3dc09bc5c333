//! Dashboards and alerts: the YAML format, storage, data, HTML pages, alert rules and their
//! evaluator, HTTP routes (feature `http`) and the CLI helpers the `footfall` binary calls.
//!
//! # Design
//!
//! * **Format** ([`model`], [`filters`], [`period`], [`parse`], [`validate`]): the seed's YAML
//!   verbatim (`dashboards:` as a list or a map keyed by id; widgets `metric`, `chart`, `funnel`,
//!   `table`, and `paths`), strict serde types (`deny_unknown_fields`) and errors naming the dashboard, the
//!   widget (index and title) and the field.
//! * **No SQL here**: every widget is translated into a query-layer spec ([`translate`]) and run
//!   by [`crate::query`] (any spec through [`query_api`]), so dashboards, the CLI, `POST /v1/query`
//!   and alerts compute the same numbers on every backend.
//! * **Storage** ([`crud`]): dashboards and alerts are JSON documents of the [`crate::store::Store`]
//!   (kinds `dashboard`, `alert`, `alert_state`), validated on every write.
//! * **Data** ([`data`]): [`dashboard_data`] returns per widget a uniform result (a number, a table,
//!   or funnel steps), its effective range, and for trends the previous value and % change. One
//!   failing widget reports its error and does not fail the dashboard.
//! * **Kept warm** ([`cache`], [`warm`]): a host's [`cache::DataCache`] serves results fresh for
//!   60 s, then stale (marked, with their `computed_at`) while one background refresh recomputes
//!   them; the [`CacheWarmer`] recomputes every dashboard's widgets in the background (one at a
//!   time, every 5 minutes), so a dashboard opens from the cache even at 10M events.
//! * **HTML** ([`html`]): one self-contained page (CSS + JS inlined from `engine/assets/`, no CDN)
//!   used both live (fetching `/v1/dashboards/{id}/data`) and as a static report with the data
//!   embedded. Charts are hand-written SVG — see [`html`] for why.
//! * **Alerts** ([`alert`], [`alert_eval`]): a rule is a metric, a condition (`> 100`,
//!   `change > 20%`), a window and an interval; [`evaluate_alerts`] is a plain async function of
//!   `now` (deterministic in tests) and [`AlertScheduler`] the task a host spawns.
//! * **HTTP** (`http`, feature `http`): handlers plus `dashboard_routes()` generic over a
//!   [`http::DashboardHost`] state the collector implements (store, project resolution, admin auth).
//!
//! # Wiring into a host (the collector)
//!
//! ```ignore
//! impl DashboardHost for AppState {
//!     fn store(&self) -> Arc<dyn Store> { self.store.clone() }
//!     fn authorize(&self, parts: &Parts) -> Result<String, Response> {
//!         // admin token (Authorization: Bearer), then ?project= (or the only project)
//!     }
//!     fn data_cache(&self) -> Option<&DataCache> { Some(&self.dashboard_cache) } // optional
//! }
//! // routes: for (path, methods, h) in dashboard_route_list::<AppState>() { table = table.add(path, methods, h) }
//! //     (or: router.merge(dashboard_routes::<AppState>()))
//! // alerts: tokio::spawn(AlertScheduler::new(store, project_ids).run(shutdown_signal));
//! // warmer: tokio::spawn(CacheWarmer::new(store, state.dashboard_cache.clone(), project_ids).run(shutdown));
//! // CLI:    cli::run_query_file(store, project, path, from, to, format) -> String to print
//! //         cli::render_report_file(store, project, path, from, to) -> RenderedReport { html, widget_errors }
//! // demo:   DashboardStore::new(&*store, project).upsert_all(&example_dashboards()).await?
//! ```

pub mod alert;
pub mod alert_eval;
pub mod cache;
pub mod cli;
pub mod crud;
pub mod data;
pub mod filters;
pub mod html;
#[cfg(feature = "http")]
pub mod http;
pub mod model;
pub mod parse;
pub mod period;
pub mod query_api;
pub mod tabulate;
pub mod translate;
pub mod translate_funnel;
pub mod translate_paths;
pub mod validate;
pub mod warm;

pub use alert::{AlertRule, Condition};
pub use alert_eval::{AlertOutcome, AlertScheduler, evaluate_alerts};
pub use crud::{AlertStore, DashboardStore};
pub use data::{DashboardData, WidgetData, dashboard_data};
pub use html::{Page, render_dashboard_html, render_index_html, render_static_report};
pub use model::{Dashboard, Widget, WidgetKind};
pub use parse::{parse_dashboard, parse_dashboards};
pub use warm::{CacheWarmer, WarmReport};

use crate::store::StoreError;

/// The repository's example dashboards file (`examples/dashboards.yaml`): the product team's
/// dashboard, which `footfall serve --demo` installs for the demo project.
pub const EXAMPLE_DASHBOARDS_YAML: &str = include_str!("../../../examples/dashboards.yaml");

/// [`EXAMPLE_DASHBOARDS_YAML`] parsed (a test keeps it valid).
pub fn example_dashboards() -> Vec<Dashboard> {
    parse_dashboards(EXAMPLE_DASHBOARDS_YAML).unwrap_or_default()
}

/// Errors of the dashboards and alerts boundary. The HTTP layer maps them to status codes in one
/// place (`http::status_of`): Invalid 400, NotFound 404, Conflict 409, Store Unavailable 503,
/// others 500.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The dashboard, alert or query spec is malformed; the message names where.
    #[error("{0}")]
    Invalid(String),
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} `{id}` already exists")]
    Conflict { kind: &'static str, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query layer refused or failed a query.
    #[error("query failed: {0}")]
    Query(String),
    #[error("{0}")]
    Io(String),
}
