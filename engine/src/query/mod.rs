//! The query layer: SQL generated per [`crate::store::Dialect`], executed inside the backend.
//!
//! # Design
//!
//! * **One spec type per query kind** ([`EventsQuery`], [`TrendsQuery`], [`FunnelQuery`],
//!   [`RetentionQuery`], [`UserMetricsQuery`], [`FeatureAdoptionQuery`], [`SegmentQuery`],
//!   [`LifecycleQuery`], [`StickinessQuery`], [`PathsQuery`], [`RawEventsQuery`]), serde in JSON and YAML, gathered in the tagged
//!   [`Query`] (`{"kind": "funnel", ...}`). One entry point per kind returns a serializable
//!   result, and [`run_query`] dispatches any [`Query`] to its [`QueryOutput`]: the CLI, the HTTP
//!   API, dashboards and alerts are thin layers over it.
//! * **Everything runs in the backend.** Each query kind renders a few SQL statements for the
//!   store's dialect ([`sql::Sql`] holds every dialect difference); rows returned are aggregates
//!   (buckets, steps, cohorts, a page of persons), never events — except `raw_events`, a page of
//!   the events themselves for the Live events page and exports.
//! * **Identical results on every backend**: integer arithmetic for times and buckets (time zones
//!   resolved in Rust, see [`time`]), exact aggregates (`uniqExact`, sorted-array quantiles on
//!   ClickHouse), two-valued filters, deterministic tie orders, and rates/averages computed or
//!   rounded in Rust ([`normalize`]).
//! * **Person** = `coalesce(user_id, identities.user_id, anonymous_id)` (empty strings count as
//!   absent), resolved at query time through the store's dedupe-safe relations.
//! * **Scope** ([`spec::Scope`]): every spec takes `from`/`to`, `time_zone`, `filters`, `segment`
//!   (saved id or inline) and `include_bots` (default false).
//!
//! See engine/README.md ("Definitions") for the exact semantics of each query kind.

pub mod adoption;
pub mod events;
pub mod fields;
pub mod funnel;
mod funnel_ch;
mod funnel_sql;
pub mod lifecycle;
pub mod mask;
pub mod normalize;
pub mod paths;
pub mod raw_events;
pub mod retention;
pub mod rollup;
pub mod scope;
pub mod segments;
pub mod spec;
pub mod sql;
pub mod time;
pub mod trends;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

pub use adoption::{FeatureAdoption, FeatureAdoptionQuery, get_feature_adoption};
pub use events::{EventsQuery, EventsResult, query_events};
pub use funnel::{FunnelMode, FunnelQuery, FunnelResult, get_conversion_funnel};
pub use lifecycle::{
    LifecycleQuery, LifecycleResult, StickinessQuery, StickinessResult, get_lifecycle, get_stickiness,
};
pub use paths::{PathCount, PathsQuery, PathsResult, get_paths};
pub use raw_events::{RawEvent, RawEventsQuery, RawEventsResult, get_raw_events};
pub use retention::{RetentionMode, RetentionQuery, RetentionResult, get_retention};
pub use segments::{
    Criterion, SavedSegment, SegmentQuery, SegmentResult, SegmentSpec, delete_segment, get_segment,
    list_segments, save_segment, segment_users,
};
pub use spec::{Condition, EventMatch, Filter, Interval, Metric, MetricKind, Op, Scope, SegmentRef};
pub use trends::TrendMetric;
pub use trends::{TrendsQuery, TrendsResult, get_trends};
pub use users::{UserMetrics, UserMetricsQuery, get_user_metrics};

/// Errors of the query boundary. HTTP mapping: `Invalid` 400, `NotFound` 404, `Store`
/// (`Unavailable`) 503, others 500.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The spec is malformed; the message names the field.
    #[error("invalid query: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backend returned rows of an unexpected shape (a bug).
    #[error("unexpected query result: {0}")]
    Unexpected(String),
}

/// Who asks and when: the project, the instant relative dates are resolved at, and the
/// project's time zone (a spec's `time_zone` overrides it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryContext {
    pub project_id: String,
    /// "Now", ms since the epoch (relative dates such as `today` are resolved at it).
    pub now_ms: i64,
    /// IANA zone; `None` = UTC.
    pub time_zone: Option<String>,
    /// Resolve persons by their id strings instead of the stored integer identity keys (see
    /// query/rollup.rs): the same answers up to key collisions, slower. Default `false`; for
    /// differential tests and benchmarks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub text_persons: bool,
}

impl QueryContext {
    /// A context at the current wall-clock time, UTC.
    pub fn new(project_id: &str) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        QueryContext {
            project_id: project_id.into(),
            now_ms,
            time_zone: None,
            text_persons: false,
        }
    }

    /// A context at a fixed instant (tests, reproducible reports).
    pub fn at(project_id: &str, now_ms: i64) -> Self {
        QueryContext {
            project_id: project_id.into(),
            now_ms,
            time_zone: None,
            text_persons: false,
        }
    }

    pub fn with_time_zone(mut self, tz: &str) -> Self {
        self.time_zone = Some(tz.into());
        self
    }
}

/// Any query, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    Events(EventsQuery),
    Trends(TrendsQuery),
    Funnel(FunnelQuery),
    Retention(RetentionQuery),
    UserMetrics(UserMetricsQuery),
    FeatureAdoption(FeatureAdoptionQuery),
    Segment(SegmentQuery),
    Lifecycle(LifecycleQuery),
    Stickiness(StickinessQuery),
    Paths(PathsQuery),
    RawEvents(RawEventsQuery),
}

impl Query {
    pub fn from_json(text: &str) -> Result<Query, QueryError> {
        serde_json::from_str(text).map_err(|e| QueryError::Invalid(e.to_string()))
    }

    pub fn from_yaml(text: &str) -> Result<Query, QueryError> {
        serde_norway::from_str(text).map_err(|e| QueryError::Invalid(e.to_string()))
    }
}

/// The result of any query, tagged by `kind` like [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryOutput {
    Events(EventsResult),
    Trends(TrendsResult),
    Funnel(FunnelResult),
    Retention(RetentionResult),
    UserMetrics(UserMetrics),
    FeatureAdoption(FeatureAdoption),
    Segment(SegmentResult),
    Lifecycle(LifecycleResult),
    Stickiness(StickinessResult),
    Paths(PathsResult),
    RawEvents(RawEventsResult),
}

/// Runs any query.
pub async fn run_query(store: &dyn Store, ctx: &QueryContext, q: &Query) -> Result<QueryOutput, QueryError> {
    Ok(match q {
        Query::Events(s) => QueryOutput::Events(query_events(store, ctx, s).await?),
        Query::Trends(s) => QueryOutput::Trends(get_trends(store, ctx, s).await?),
        Query::Funnel(s) => QueryOutput::Funnel(get_conversion_funnel(store, ctx, s).await?),
        Query::Retention(s) => QueryOutput::Retention(get_retention(store, ctx, s).await?),
        Query::UserMetrics(s) => QueryOutput::UserMetrics(get_user_metrics(store, ctx, s).await?),
        Query::FeatureAdoption(s) => QueryOutput::FeatureAdoption(get_feature_adoption(store, ctx, s).await?),
        Query::Segment(s) => QueryOutput::Segment(segment_users(store, ctx, s).await?),
        Query::Lifecycle(s) => QueryOutput::Lifecycle(get_lifecycle(store, ctx, s).await?),
        Query::Stickiness(s) => QueryOutput::Stickiness(get_stickiness(store, ctx, s).await?),
        Query::Paths(s) => QueryOutput::Paths(get_paths(store, ctx, s).await?),
        Query::RawEvents(s) => QueryOutput::RawEvents(get_raw_events(store, ctx, s).await?),
    })
}
