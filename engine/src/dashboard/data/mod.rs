//! Dashboard data: every widget's result over its effective range, as serializable JSON.
//!
//! ```json
//! {"dashboard": {"id": "product", "name": "Product", "description": null},
//!  "from": "2026-10-01T00:00:00.000Z", "to": "2026-11-01T00:00:00.000Z",
//!  "generated_at": "...",
//!  "widgets": [
//!   {"index": 0, "id": "dau", "title": "DAU", "type": "metric", "from": "...", "to": "...",
//!    "result": {"kind": "number", "metric": "count_distinct", "value": 812,
//!               "trend": {"period": "7_days", "from": "...", "to": "...", "previous": 790,
//!                         "change": 22, "change_pct": 2.78}}},
//!   {"index": 1, "type": "chart", "chart_type": "line", "result": {"kind": "table",
//!    "columns": [{"name": "day", "label": "day", "role": "dimension", "time": "day"},
//!                {"name": "count", "label": "count", "role": "metric"}],
//!    "rows": [["2026-10-01", 120], ...]}},
//!   {"index": 2, "type": "funnel", "result": {"kind": "funnel", "steps": [{"name": "Visit",
//!    "event": "page_view", "persons": 100, "conversion_from_start": 1.0,
//!    "conversion_from_previous": 1.0, "drop_off": 0}, ...], "overall_conversion": 0.12,
//!    "median_time_to_convert_s": 3600.0, "avg_time_to_convert_s": 5400.0}},
//!   {"index": 3, "type": "table", "error": "query failed: ..."}]}
//! ```
//!
//! Ranges: `from`/`to` of the request (absolute or relative dates) apply to every widget but those
//! whose own range is `fixed: true`; without them each widget uses its own range, else the
//! dashboard's, else the last 30 days. Fractions
//! (conversion) are 0..1; `change_pct` is a percentage (null when the previous value is 0).
//! Time buckets are `YYYY-MM-DD` (hours `YYYY-MM-DDTHH:00Z`); a chart over time gets every bucket
//! of its range, missing count buckets as 0.
//!
//! With a host's [`DataCache`] ([`dashboard_data_with`]) a widget served from the cache carries
//! `"cached": true` and `"computed_at"` (RFC 3339), plus `"stale": true` when it is past the
//! cache's TTL and being recomputed in the background (see [`DataCache`]).
//!
//! # Layout
//!
//! This file holds the serializable result types and [`DataRequest`]; `compute.rs` computes
//! them: the effective ranges, each widget through the query layer, and the host's cache (fresh
//! hits, stale hits refreshed in the background, one inline computation per key).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cache::DataCache;
use super::filters::TimeBucket;
use super::model::{ChartType, WidgetKind};

mod compute;

pub(crate) use compute::{compute_into, dashboard_context, widget_key, widget_range};
pub use compute::{
    dashboard_data, dashboard_data_at, dashboard_data_with, request_range, trend_numbers, widget_id,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardMeta {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    pub dashboard: DashboardMeta,
    /// The request's range (RFC 3339), when it gave one.
    pub from: Option<String>,
    pub to: Option<String>,
    pub generated_at: String,
    pub widgets: Vec<WidgetData>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetData {
    pub index: usize,
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: WidgetKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<ChartType>,
    /// The widget keeps its own range whatever the request asks (`date_range.fixed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixed_range: bool,
    /// Effective range, RFC 3339, half-open.
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<WidgetResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Served from the host's cache (see [`DataCache`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// A cached result past the cache's TTL, served while one background refresh recomputes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// When a cached result was computed (RFC 3339); absent for a result computed by this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_at: Option<String>,
}

/// A widget's result in one of three shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WidgetResult {
    Number {
        metric: String,
        /// Null when undefined (an average over no events).
        value: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        trend: Option<TrendData>,
    },
    Table {
        columns: Vec<Column>,
        rows: Vec<Vec<Value>>,
    },
    Funnel {
        steps: Vec<FunnelStepData>,
        overall_conversion: f64,
        median_time_to_convert_s: Option<f64>,
        avg_time_to_convert_s: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Canonical dimension (`properties.plan`, `day`) or metric name (`count`, `sum_amount`).
    pub name: String,
    /// Header label (the table's `columns`, else the name).
    pub label: String,
    /// `dimension` or `metric`.
    pub role: ColumnRole,
    /// The bucket when this dimension is a time bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeBucket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    Dimension,
    Metric,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendData {
    /// As written in the widget (`7_days`, `previous_period`).
    pub period: String,
    /// The comparison range, RFC 3339.
    pub from: String,
    pub to: String,
    pub previous: Option<f64>,
    /// value − previous.
    pub change: Option<f64>,
    /// (value − previous) / |previous| × 100; null when previous is 0 or missing.
    pub change_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStepData {
    pub name: String,
    pub event: String,
    pub persons: u64,
    /// 0..1
    pub conversion_from_start: f64,
    /// 0..1
    pub conversion_from_previous: f64,
    /// Persons of the previous step who did not reach this one (0 for the first step).
    pub drop_off: u64,
}

/// What a data request asks for, beyond the dashboard.
#[derive(Clone, Copy)]
pub struct DataRequest<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    /// "Now" for relative dates, ms.
    pub now_ms: i64,
    /// Only this widget (its `widget_id`, or `w{index}`): the live page loads widgets one by one
    /// so the first ones show while the slow ones run.
    pub widget: Option<&'a str>,
    /// Results younger than the cache's TTL are reused, fresh ones stored.
    pub cache: Option<&'a DataCache>,
    /// Bypass (but refill) the cache.
    pub refresh: bool,
}
