//! Footfall analytics engine.
//!
//! * [`store`]: the storage trait and one module per backend (DuckDB embedded by default,
//!   PostgreSQL, ClickHouse). Every backend runs the same test suite.
//! * `query` (to come): SQL generated per dialect for events queries, trends, funnels, retention,
//!   user metrics, feature adoption, segments, lifecycle and stickiness. Queries run inside the
//!   backend; events are never pulled into the process.
//! * [`dashboard`]: dashboards and alerts over the query layer — the YAML format, storage as
//!   documents, dashboard data, self-contained HTML pages, alert evaluation and webhooks, HTTP
//!   routes (feature `http`) and the CLI helpers of `footfall query` / `footfall dashboard render`.

pub mod dashboard;
pub mod generate;
pub mod query;
pub mod store;
