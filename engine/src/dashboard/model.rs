//! The dashboard format: dashboards, widgets, metrics and funnel steps as serde types.
//!
//! Every struct denies unknown fields so a typo is an error, never silently ignored. Loading
//! (with errors that name the dashboard, the widget and the field) lives in [`super::parse`];
//! per-type rules (a funnel needs steps, a metric tile one metric...) in [`Widget::check`].

use serde::{Deserialize, Deserializer, Serialize};

use super::filters::{Field, Filters};
use super::period::{DateRange, Trend};

/// One dashboard: a named list of widgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// URL-safe id (`[a-z0-9_-]`, at most 64 characters). Default: derived from `name`
    /// (`Product Overview` → `product-overview`), or the key in the seed's map form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default range of every widget that has none of its own. Default: the last 30 days and
    /// today (`30_days_ago` .. `today`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRange>,
    /// IANA time zone of dates and day buckets (`Europe/Paris`). Default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub widgets: Vec<Widget>,
}

/// The widget types of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetKind {
    /// One number (a tile), optionally with a trend versus an earlier period.
    #[default]
    Metric,
    /// A line or bar chart over one dimension (time buckets or a property).
    Chart,
    /// Conversion through ordered steps.
    Funnel,
    /// Rows of dimensions and metrics.
    Table,
    /// What people do after an event: the most common step sequences (a table, a row per path).
    Paths,
}

impl WidgetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetKind::Metric => "metric",
            WidgetKind::Chart => "chart",
            WidgetKind::Funnel => "funnel",
            WidgetKind::Table => "table",
            WidgetKind::Paths => "paths",
        }
    }
}

/// How a chart widget draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartType {
    Line,
    Bar,
}

/// One widget. Which fields apply depends on `type`; [`Widget::check`] rejects the others.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// Stable id within the dashboard (the seed's `widget_id`; `id` is accepted too).
    /// Default: `w{index}`.
    #[serde(default, alias = "id", skip_serializing_if = "Option::is_none")]
    pub widget_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: WidgetKind,
    /// Shown above the widget. Default: empty (the page then shows the widget type).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Chart widgets: `line` or `bar` (`chart:` is accepted too). Default: `line` when the
    /// first dimension is a time bucket, else `bar`.
    #[serde(default, alias = "chart", skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<ChartType>,
    /// Which events count (see [`Filters`]); the seed's `start_date`/`end_date` keys set the
    /// widget's range.
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
    /// Chart and table widgets: what rows are keyed by (`day`, `event`, `properties.plan`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
    /// What is measured. Default: one `count` of events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// Same role as `dimensions` (the seed writes both; they are merged, duplicates removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// `"<metric or dimension> [ASC|DESC]"`; `count` names the first count-like metric.
    /// Default: charts over time by time ascending; others by the first metric descending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<String>,
    /// Chart, table and paths widgets: at most this many rows. Default: 100 for tables, 50 for
    /// charts over a property, unlimited for time series, 10 paths (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Funnel widgets: 2 to 32 ordered steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funnel_steps: Vec<FunnelStep>,
    /// Funnel widgets: the conversion window, e.g. `14_days` (default `14_days`; units
    /// seconds to months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funnel_window: Option<String>,
    /// Funnel widgets: `sequential` (default), `strict` or `any_order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funnel_mode: Option<String>,
    /// Paths widgets: where paths start, an event with optional property filters (each person's
    /// first in the range). Default: any event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_start: Option<FunnelStep>,
    /// Paths widgets: paths that lead to this event instead (each person's last steps up to
    /// their first one in the range); not with `paths_start`. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_end: Option<FunnelStep>,
    /// Paths widgets: steps per path, the start (or end) included, 2 to 10. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_steps: Option<u32>,
    /// Paths widgets: the field that names a step (`properties.path`, `event`...); events without
    /// it are named by their event name. Default `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_node: Option<String>,
    /// Metric widgets: compare with the same metric over the range shifted back by this period
    /// (`7_days`, `1_weeks`, `previous_period`). For a range of that length this is the
    /// previous period of that length. Default: no trend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    /// The widget's own range, used when the request gives none. Default: the dashboard's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRange>,
    /// Table widgets: header labels, one per dimension then per metric (the seed's `columns`).
    /// Default: the dimension and metric names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// The aggregations of the format: the query layer's metric kinds (`count`, `count_distinct`,
/// `sum`, `avg`, `min`, `max`, `median`, `p90`, `p95`, `p99`).
pub use crate::query::MetricKind as Aggregation;

/// Whether an aggregation needs a numeric `field` (everything but count and count_distinct).
pub fn needs_numeric_field(a: Aggregation) -> bool {
    !matches!(a, Aggregation::Count | Aggregation::CountDistinct)
}

/// `{type: count_distinct, field: user_id, alias: users}`, or just `count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub agg: Aggregation,
    /// `count_distinct`: what is counted (default `person`); `sum`..`p99`: a numeric
    /// `properties.x` (a bare name means a property).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Result column name (`as:` is accepted too). Default: the query layer's (`count`,
    /// `count_distinct_person`, `sum_amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSpecFull {
    #[serde(rename = "type")]
    agg: Aggregation,
    #[serde(default)]
    field: Option<String>,
    #[serde(default, alias = "as")]
    alias: Option<String>,
}

impl<'de> Deserialize<'de> for MetricSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        if let serde_json::Value::String(s) = &v {
            let agg: Aggregation = serde_json::from_value(v.clone()).map_err(|_| {
                D::Error::custom(format!(
                    "unknown metric `{s}`, expected one of count, count_distinct, sum, avg, min, max, \
                     median, p90, p95, p99"
                ))
            })?;
            return Ok(MetricSpec {
                agg,
                field: None,
                alias: None,
            });
        }
        let full: MetricSpecFull = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(MetricSpec {
            agg: full.agg,
            field: full.field,
            alias: full.alias,
        })
    }
}

impl MetricSpec {
    pub fn count() -> Self {
        MetricSpec {
            agg: Aggregation::Count,
            field: None,
            alias: None,
        }
    }

    /// The query layer's metric (field names canonical: `user_id` → `person`).
    pub fn to_query(&self) -> crate::query::Metric {
        let field = self.field.as_ref().map(|f| {
            Field::parse(f)
                .map(|p| p.canonical())
                .unwrap_or_else(|_| f.clone())
        });
        crate::query::Metric {
            kind: self.agg,
            field,
            alias: self.alias.clone(),
        }
    }

    /// The result column name of this metric.
    pub fn name(&self) -> String {
        self.to_query().column_name()
    }
}

/// One funnel step (or a paths widget's start): an event with optional property filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelStep {
    /// Label. Default: the event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The event (`event:` is accepted too).
    #[serde(alias = "event")]
    pub event_type: String,
    /// Property filters of the step, same forms as a widget's `filters`.
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
}

impl FunnelStep {
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.event_type)
    }

    /// The query layer's matcher of this step (event, property filters, label).
    pub fn to_event_match(&self) -> crate::query::EventMatch {
        crate::query::EventMatch {
            event: self.event_type.clone(),
            filters: self.filters.to_query(),
            name: self.name.clone(),
        }
    }
}
