//! Footfall analytics engine.
//!
//! * [`store`]: the storage trait and one module per backend (DuckDB embedded by default,
//!   PostgreSQL, ClickHouse). Every backend runs the same test suite.
//! * `query` (to come): SQL generated per dialect for events queries, trends, funnels, retention,
//!   user metrics, feature adoption, segments, lifecycle and stickiness. Queries run inside the
//!   backend; events are never pulled into the process.

pub mod query;
pub mod store;
