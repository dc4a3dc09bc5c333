//! Widgets → query-layer specs, run through [`crate::query`]. No SQL here.
//!
//! | widget | query |
//! |---|---|
//! | `metric` | [`EventsQuery`] without dimensions, one metric (and again over the trend's range) |
//! | `chart`/`table` over a time bucket and a breakdown, one metric, no `order_by` | [`TrendsQuery`] (every bucket present; the breakdown keeps the top `limit` values, default 10, plus `$other`) |
//! | other `chart`/`table` | [`EventsQuery`] with the dimensions, metrics, order and limit; a series over time alone gets every bucket of its range (missing counts and sums 0) |
//! | `funnel` | [`crate::query::FunnelQuery`] with the steps, window and mode (see [`super::translate_funnel`]) |
//! | `paths` | [`crate::query::PathsQuery`] with the start, steps, node and limit (see [`super::translate_paths`]) |
//!
//! Ranges are passed as RFC 3339 instants (`[from, to)`), filters as the query layer's
//! [`crate::query::Filter`] (see [`Filters::to_query`]); `user_id`/`person` become `person`.

use serde_json::Value;

use super::DashboardError;
use super::data::{Column, ColumnRole, WidgetResult, trend_numbers};
use super::filters::{Field, Filters};
use super::model::{MetricSpec, Widget, WidgetKind};
use super::period::ms_to_rfc3339;
use crate::query::trends::TrendMetric;
use crate::query::{
    EventMatch, EventsQuery, QueryContext, QueryError, TrendsQuery, get_trends, query_events,
};
use crate::store::Store;

/// Sets the scope of any query-layer spec: the range `[from, to)` as RFC 3339 instants, the
/// widget's filters and whether bots count.
macro_rules! set_scope {
    ($q:expr, $filters:expr, $from:expr, $to:expr) => {{
        $q.from = Some($crate::dashboard::period::ms_to_rfc3339($from));
        $q.to = Some($crate::dashboard::period::ms_to_rfc3339($to));
        $q.filters = $filters.to_query();
        $q.include_bots = $filters.include_bots;
    }};
}
pub(crate) use set_scope;

/// Default row limits of widgets: tables, charts over a property (time series: the query
/// layer's maximum, 10,000 buckets).
pub const TABLE_LIMIT: u64 = 100;
pub const CHART_LIMIT: u64 = 50;

impl From<QueryError> for DashboardError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Store(s) => DashboardError::Store(s),
            QueryError::Invalid(m) => DashboardError::Invalid(m),
            other => DashboardError::Query(other.to_string()),
        }
    }
}

/// The events query of a metric or grouped widget over `[from, to)`.
pub fn events_query(w: &Widget, from: i64, to: i64) -> Result<EventsQuery, DashboardError> {
    let dims = w.all_dimensions();
    let metrics: Vec<MetricSpec> = if w.metrics.is_empty() {
        vec![MetricSpec::count()]
    } else {
        w.metrics.clone()
    };
    let time_first = dims
        .first()
        .is_some_and(|d| matches!(Field::parse(d), Ok(Field::Time(_))));
    let limit = match (w.limit, w.kind) {
        (Some(l), _) => u64::from(l),
        (None, WidgetKind::Table) => TABLE_LIMIT,
        (None, _) if time_first => crate::query::events::MAX_LIMIT,
        (None, _) => CHART_LIMIT,
    };
    let mut order_by = Vec::new();
    for o in &w.order_by {
        let (col, desc) = w.order_term(o).map_err(DashboardError::Invalid)?;
        order_by.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
    }
    let mut q = EventsQuery::new(&[], metrics.iter().map(MetricSpec::to_query).collect());
    q.dimensions = dims;
    q.order_by = order_by;
    q.limit = Some(limit);
    set_scope!(q, w.filters, from, to);
    Ok(q)
}

/// The time bucket of a widget's first dimension, if it is one.
fn time_dimension(w: &Widget) -> Option<crate::query::Interval> {
    match w.all_dimensions().first().map(|d| Field::parse(d)) {
        Some(Ok(Field::Time(iv))) => Some(iv),
        _ => None,
    }
}

/// The trends query of a time series broken down by a second dimension (see the module doc).
pub fn trends_query(w: &Widget, from: i64, to: i64) -> Option<TrendsQuery> {
    let dims = w.all_dimensions();
    let interval = time_dimension(w)?;
    if matches!(
        w.kind,
        WidgetKind::Metric | WidgetKind::Funnel | WidgetKind::Paths
    ) || w.metrics.len() > 1
        || !w.order_by.is_empty()
        || dims.len() != 2
    {
        return None;
    }
    let metric = w
        .metrics
        .first()
        .cloned()
        .unwrap_or_else(MetricSpec::count)
        .to_query();
    let mut q = TrendsQuery::new(EventMatch::named("*"), TrendMetric::Metric(metric), interval);
    q.breakdown = dims.get(1).cloned();
    q.breakdown_limit = q
        .breakdown
        .as_ref()
        .map(|_| w.limit.map(|l| l.min(100) as usize).unwrap_or(10));
    set_scope!(q, w.filters, from, to);
    Some(q)
}

/// How a widget that needs several queries runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// At once (someone is waiting for the result).
    Concurrent,
    /// One after the other (background work: at most one query at a time).
    Sequential,
}

/// Runs a widget over `[from, to)`.
pub async fn run_widget(
    store: &dyn Store,
    ctx: &QueryContext,
    w: &Widget,
    from: i64,
    to: i64,
    pace: Pace,
) -> Result<WidgetResult, DashboardError> {
    match w.kind {
        WidgetKind::Metric => {
            let metric = w.metrics.first().cloned().unwrap_or_else(MetricSpec::count);
            let current = metric_value(store, ctx, &w.filters, &metric, from, to);
            let trend = w.trend.map(|t| (t, t.previous(from, to)));
            let previous = async {
                match trend {
                    Some((_, (pf, pt))) => metric_value(store, ctx, &w.filters, &metric, pf, pt).await,
                    None => Ok(None),
                }
            };
            let (value, previous) = match pace {
                Pace::Concurrent => futures::future::try_join(current, previous).await?,
                Pace::Sequential => (current.await?, previous.await?),
            };
            let trend = match trend {
                None => None,
                Some((t, (pf, pt))) => {
                    let (change, change_pct) = trend_numbers(value, previous);
                    Some(super::data::TrendData {
                        period: t.to_string(),
                        from: ms_to_rfc3339(pf),
                        to: ms_to_rfc3339(pt),
                        previous,
                        change,
                        change_pct,
                    })
                }
            };
            Ok(WidgetResult::Number {
                metric: metric.name(),
                value,
                trend,
            })
        }
        WidgetKind::Funnel => super::translate_funnel::run_funnel_widget(store, ctx, w, from, to).await,
        WidgetKind::Paths => super::translate_paths::run_paths_widget(store, ctx, w, from, to).await,
        WidgetKind::Chart | WidgetKind::Table => match trends_query(w, from, to) {
            Some(q) => Ok(trends_table(w, &get_trends(store, ctx, &q).await?)),
            None => {
                let q = events_query(w, from, to)?;
                let mut table = events_table(w, query_events(store, ctx, &q).await?);
                if let (Some(iv), 1, true) = (time_dimension(w), q.dimensions.len(), w.order_by.is_empty()) {
                    fill_buckets(&mut table, &q, iv, ctx, from, to)?;
                }
                Ok(table)
            }
        },
    }
}

/// Gives a one-dimension time series every bucket of `[from, to)` (labels as the query layer
/// makes them); a missing bucket is 0 for counts and sums, null for other metrics.
fn fill_buckets(
    table: &mut WidgetResult,
    q: &EventsQuery,
    iv: crate::query::Interval,
    ctx: &QueryContext,
    from: i64,
    to: i64,
) -> Result<(), DashboardError> {
    use crate::query::MetricKind;
    use crate::query::time::{Frame, Zone, bucket_label};
    let WidgetResult::Table { rows, .. } = table else {
        return Ok(());
    };
    let frame = Frame::new(from, to, Zone::parse(ctx.time_zone.as_deref())?)?;
    let mut have: std::collections::HashMap<String, Vec<Value>> = rows
        .drain(..)
        .filter_map(|r| Some((r.first()?.as_str()?.to_string(), r)))
        .collect();
    let empty: Vec<Value> = q
        .metrics
        .iter()
        .map(|m| match m.kind {
            MetricKind::Count | MetricKind::CountDistinct => Value::from(0),
            MetricKind::Sum => Value::from(0.0),
            _ => Value::Null,
        })
        .collect();
    for id in frame.buckets(iv)? {
        let label = bucket_label(id, iv);
        rows.push(have.remove(&label).unwrap_or_else(|| {
            let mut r = vec![Value::from(label)];
            r.extend(empty.iter().cloned());
            r
        }));
    }
    Ok(())
}

/// One metric over `[from, to)` with `filters` (metric tiles and alerts).
pub async fn metric_value(
    store: &dyn Store,
    ctx: &QueryContext,
    filters: &Filters,
    metric: &MetricSpec,
    from: i64,
    to: i64,
) -> Result<Option<f64>, DashboardError> {
    let w = Widget {
        filters: filters.clone(),
        metrics: vec![metric.clone()],
        ..Widget::default()
    };
    let res = query_events(store, ctx, &events_query(&w, from, to)?).await?;
    Ok(res.rows.first().and_then(|r| r.first()).and_then(Value::as_f64))
}

/// Header labels: the table's `columns`, else readable names (`count_distinct_person` →
/// `People`, `properties.plan` → `plan`); metric aliases are kept as written.
fn labels(w: &Widget, names: &[String]) -> Vec<String> {
    if w.columns.len() == names.len() {
        return w.columns.clone();
    }
    let aliases: Vec<&str> = w.metrics.iter().filter_map(|m| m.alias.as_deref()).collect();
    names
        .iter()
        .map(|n| {
            if aliases.contains(&n.as_str()) {
                n.clone()
            } else {
                humanize(n)
            }
        })
        .collect()
}

/// A readable label for a result column name.
pub fn humanize(name: &str) -> String {
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    if let Some(rest) = ["properties.", "context.", "traits."]
        .iter()
        .find_map(|p| name.strip_prefix(p))
    {
        return rest.to_string();
    }
    match name {
        "count" => return "Events".into(),
        "count_distinct_person" => return "People".into(),
        "person" => return "Person".into(),
        _ => {}
    }
    for (prefix, label) in [
        ("count_distinct_", "Distinct"),
        ("sum_", "Sum of"),
        ("avg_", "Average"),
        ("min_", "Min"),
        ("max_", "Max"),
        ("median_", "Median"),
        ("p90_", "P90"),
        ("p95_", "P95"),
        ("p99_", "P99"),
    ] {
        if let Some(f) = name.strip_prefix(prefix) {
            return format!("{label} {f}");
        }
    }
    cap(&name.replace('_', " "))
}

fn events_table(w: &Widget, r: crate::query::EventsResult) -> WidgetResult {
    let names: Vec<String> = r.columns.iter().map(|c| c.name.clone()).collect();
    let columns = r
        .columns
        .into_iter()
        .zip(labels(w, &names))
        .map(|(c, label)| Column {
            role: if c.role == "metric" {
                ColumnRole::Metric
            } else {
                ColumnRole::Dimension
            },
            name: c.name,
            label,
            time: c.time,
        })
        .collect();
    WidgetResult::Table {
        columns,
        rows: r.rows,
    }
}

fn trends_table(w: &Widget, r: &crate::query::TrendsResult) -> WidgetResult {
    let dims = w.all_dimensions();
    let metric = w
        .metrics
        .first()
        .cloned()
        .unwrap_or_else(MetricSpec::count)
        .name();
    let mut names = vec![dims[0].clone()];
    names.extend(dims.get(1).cloned());
    names.push(metric);
    let labels = labels(w, &names);
    let columns = names
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (n, l))| Column {
            name: n.clone(),
            label: l,
            role: if i + 1 == names.len() {
                ColumnRole::Metric
            } else {
                ColumnRole::Dimension
            },
            time: (i == 0).then_some(r.interval),
        })
        .collect();
    let mut rows = Vec::new();
    for (b, bucket) in r.buckets.iter().enumerate() {
        for s in &r.series {
            let mut row = vec![Value::from(bucket.clone())];
            if dims.len() > 1 {
                row.push(s.breakdown.clone());
            }
            row.push(s.values.get(b).cloned().unwrap_or(Value::Null));
            rows.push(row);
        }
    }
    WidgetResult::Table { columns, rows }
}
