//! Trends: a metric per time bucket, optionally broken down by a field (top N values + other),
//! and the rolling active-user counts DAU, WAU and MAU.
//!
//! ```json
//! {"kind": "trends", "event": "purchase", "metric": {"type": "sum", "field": "properties.amount"},
//!  "interval": "day", "breakdown": "properties.plan", "breakdown_limit": 5,
//!  "from": "30_days_ago", "to": "today"}
//! {"kind": "trends", "event": "*", "metric": "wau", "from": "30_days_ago"}
//! ```
//!
//! * Every bucket of the range is present (empty ones are 0, or null for averages/quantiles).
//! * Breakdown: the `breakdown_limit` (default 10) values with the largest metric over the whole
//!   range (count, count_distinct and sum rank by themselves, other metrics by event count; ties
//!   by value ascending, missing values last) get a series each; the rest are merged into one
//!   series with `breakdown: "$other"` and `other: true`, computed over the merged events (a
//!   distinct count of `other` is not a sum of distinct counts).
//! * `dau`, `wau`, `mau` (interval `day` only): for each day D, distinct persons with a matching
//!   event in the 1, 7 or 30 local days ending with D (so the first days of a range look back
//!   before `from`).
//! * `total`: the metric over the whole range (not the sum of buckets for distinct counts);
//!   null for rolling metrics.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::events::{metric_json, metric_sql};
use super::fields::{Field, event_match_sql, filter_uses_person, pre_filter};
use super::mask::{Mask, bit_counts};
use super::normalize::rows;
use super::rollup::Rollup;
use super::scope::Prepared;
use super::spec::{EventMatch, Interval, Metric, MetricKind, de_event_match, scoped_spec};
use super::time::bucket_label;
use super::{QueryContext, QueryError};
use crate::store::Store;

/// A trend's metric: an events metric or a rolling active-user count.
#[derive(Debug, Clone, PartialEq)]
pub enum TrendMetric {
    Metric(Metric),
    /// Rolling distinct persons over this many days (1 = DAU, 7 = WAU, 30 = MAU).
    Active(u32),
}

impl TrendMetric {
    fn active_name(days: u32) -> &'static str {
        match days {
            1 => "dau",
            7 => "wau",
            _ => "mau",
        }
    }
}

impl Serialize for TrendMetric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TrendMetric::Metric(m) => m.serialize(s),
            TrendMetric::Active(d) => Self::active_name(*d).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TrendMetric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let kind = match &v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) if m.len() == 1 => m.get("type").and_then(Value::as_str),
            _ => None,
        };
        match kind {
            Some("dau") => Ok(TrendMetric::Active(1)),
            Some("wau") => Ok(TrendMetric::Active(7)),
            Some("mau") => Ok(TrendMetric::Active(30)),
            _ => super::spec::de_metric(v)
                .map(TrendMetric::Metric)
                .map_err(serde::de::Error::custom),
        }
    }
}

fn default_trend_metric() -> TrendMetric {
    TrendMetric::Metric(Metric::count())
}
fn default_event() -> EventMatch {
    EventMatch::named("*")
}
fn default_interval() -> Interval {
    Interval::Day
}

scoped_spec! {
    /// A trend (see the module doc).
    pub struct TrendsQuery {
        /// The events counted (default `*`, any event).
        #[serde(default = "default_event", deserialize_with = "de_event_match")]
        pub event: EventMatch,
        /// Default `count`; also `dau`, `wau`, `mau`.
        #[serde(default = "default_trend_metric")]
        pub metric: TrendMetric,
        /// Default `day`.
        #[serde(default = "default_interval")]
        pub interval: Interval,
        /// A field to break down by.
        #[serde(default)]
        pub breakdown: Option<String>,
        /// Series kept before `$other` (default 10, at most 100).
        #[serde(default)]
        pub breakdown_limit: Option<usize>,
    }
}

impl TrendsQuery {
    pub fn new(event: EventMatch, metric: TrendMetric, interval: Interval) -> Self {
        Self::from_fields(event, metric, interval, None, None)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The breakdown value (null without breakdown or for events without the field).
    pub breakdown: Value,
    /// True for the merged `$other` series.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    /// One value per bucket of [`TrendsResult::buckets`].
    pub values: Vec<Value>,
    pub total: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendsResult {
    pub interval: Interval,
    /// Bucket labels (`2026-10-01`; weeks by their Monday; `2026-10`; `2026-10-01T13:00`).
    pub buckets: Vec<String>,
    pub series: Vec<Series>,
}

pub async fn get_trends(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &TrendsQuery,
) -> Result<TrendsResult, QueryError> {
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let ids = p.frame.buckets(q.interval)?;
    let buckets: Vec<String> = ids.iter().map(|id| bucket_label(*id, q.interval)).collect();
    let m = event_match_sql(&p.sql, &q.event)?;
    let series = match &q.metric {
        TrendMetric::Active(days) => vec![active_series(&p, q, &m, *days, &ids).await?],
        TrendMetric::Metric(metric) => metric_series(&p, q, &m, metric, &ids).await?,
    };
    Ok(TrendsResult {
        interval: q.interval,
        buckets,
        series,
    })
}

async fn active_series(
    p: &Prepared<'_>,
    q: &TrendsQuery,
    m: &str,
    days: u32,
    ids: &[i64],
) -> Result<Series, QueryError> {
    if q.interval != Interval::Day {
        return Err(QueryError::Invalid(format!(
            "{} needs interval `day`",
            TrendMetric::active_name(days)
        )));
    }
    if q.breakdown.is_some() {
        return Err(QueryError::Invalid(
            "breakdown is not supported with dau/wau/mau".into(),
        ));
    }
    let mut values = vec![Value::from(0); ids.len()];
    if let (Some(&first), Some(&last)) = (ids.first(), ids.last()) {
        let sql = &p.sql;
        let start_id = first - (days as i64 - 1);
        let start = p.frame.bucket_start(start_id, Interval::Day);
        let day = p.frame.bucket_sql(sql, "ts", Interval::Day);
        let reads_person = q.event.filters.as_ref().is_some_and(filter_uses_person);
        let mask = Mask::new(start_id, last);
        if days == 1 || mask.single() {
            // One row per person (and chunk) with the days active as a mask; a rolling window
            // is an OR of shifted masks; the count of a day is a sum of bit tests.
            let pm = p.rollup(&Rollup {
                from_ms: Some(start),
                to_ms: Some(p.frame.to_ms),
                conds: vec![m.to_string()],
                keys: mask.keys(sql, &day),
                aggs: vec![mask.agg(sql, "m", &day, None)],
                reads_person,
                ..Rollup::default()
            })?;
            let active = if days == 1 {
                "m".to_string()
            } else {
                mask.window(sql, "m", days)
            };
            let bits = mask.chunk_bits();
            let bits = (first - start_id) as u32..bits.end;
            let text = format!(
                "SELECT w, {} FROM (SELECT {} AS w, {active} AS am FROM ({pm}) AS pm) AS x GROUP BY w",
                bit_counts(sql, "am", bits.clone()).join(", "),
                mask.chunk_col(sql),
            );
            for row in rows(&p.run(&text).await?) {
                let w = row.i64(0)?;
                for (c, j) in bits.clone().enumerate() {
                    let id = mask.bucket(w, j);
                    if let Some(v) = usize::try_from(id - first).ok().and_then(|i| values.get_mut(i)) {
                        *v = Value::from(row.opt_i64(c + 1)?.unwrap_or(0));
                    }
                }
            }
        } else {
            // A rolling window longer than one mask: the distinct (person, day) pairs, then
            // each pair counts for the `days` days from its own.
            let pd = p.rollup(&Rollup {
                from_ms: Some(start),
                to_ms: Some(p.frame.to_ms),
                conds: vec![m.to_string()],
                keys: vec![(day, "d".into())],
                reads_person,
                ..Rollup::default()
            })?;
            let text = format!(
                "SELECT pd.d + r.k AS day, {} AS n FROM ({pd}) AS pd CROSS JOIN {} AS r \
                 WHERE pd.d + r.k >= {first} AND pd.d + r.k <= {last} GROUP BY pd.d + r.k",
                sql.count_distinct("pd.person"),
                sql.range_relation(days as i64),
            );
            for row in rows(&p.run(&text).await?) {
                let i = (row.i64(0)? - first) as usize;
                if let Some(v) = values.get_mut(i) {
                    *v = Value::from(row.i64(1)?);
                }
            }
        }
    }
    Ok(Series {
        breakdown: Value::Null,
        other: false,
        values,
        total: Value::Null,
    })
}

async fn metric_series(
    p: &Prepared<'_>,
    q: &TrendsQuery,
    m: &str,
    metric: &Metric,
    ids: &[i64],
) -> Result<Vec<Series>, QueryError> {
    let sql = &p.sql;
    let agg = metric_sql(sql, metric)?;
    let events = p.frame_events_pre(&pre_filter(sql, &[&q.event])?, &[m.to_string()])?;
    let bucket = p.frame.bucket_sql(sql, "ts", q.interval);
    // Group index per row: 1..=N for the top values, 0 for other; -1 without breakdown.
    let (group, keys, has_other) = match &q.breakdown {
        None => ("-1".to_string(), vec![Value::Null], false),
        Some(field) => {
            let limit = q.breakdown_limit.unwrap_or(10);
            if !(1..=100).contains(&limit) {
                return Err(QueryError::Invalid(
                    "breakdown_limit must be between 1 and 100".into(),
                ));
            }
            let f = Field::parse(field).map_err(|e| QueryError::Invalid(format!("breakdown: {e}")))?;
            let bd = f.text_sql(sql)?;
            let rank = match metric.kind {
                MetricKind::Count | MetricKind::CountDistinct | MetricKind::Sum => agg.clone(),
                _ => "count(*)".into(),
            };
            let top = format!(
                "SELECT {bd} AS bd, {rank} AS r FROM {events} GROUP BY {bd} ORDER BY r DESC, bd ASC NULLS LAST LIMIT {}",
                limit + 1
            );
            let res = p.run(&top).await?;
            let mut keys: Vec<Value> = rows(&res).map(|r| r.value(0)).collect();
            let has_other = keys.len() > limit;
            keys.truncate(limit);
            let mut case = String::from("(CASE");
            for (i, k) in keys.iter().enumerate() {
                match k {
                    Value::Null => case.push_str(&format!(" WHEN {bd} IS NULL THEN {}", i + 1)),
                    Value::String(s) => {
                        case.push_str(&format!(" WHEN {bd} = {} THEN {}", sql.lit(s)?, i + 1))
                    }
                    other => case.push_str(&format!(
                        " WHEN {bd} = {} THEN {}",
                        sql.lit(&other.to_string())?,
                        i + 1
                    )),
                }
            }
            case.push_str(" ELSE 0 END)");
            (case, keys, has_other)
        }
    };
    let main =
        format!("SELECT {bucket} AS b, {group} AS g, {agg} AS v, count(*) AS n FROM {events} GROUP BY b, g");
    let totals = format!("SELECT {group} AS g, {agg} AS v, count(*) AS n FROM {events} GROUP BY g");
    let (main, totals) = (p.run(&main).await?, p.run(&totals).await?);
    let empty = metric_json(metric.kind, &Value::Null, 0);
    let slot = |g: i64| {
        if g <= 0 {
            if g == 0 { keys.len() } else { 0 }
        } else {
            (g - 1) as usize
        }
    };
    let n_series = keys.len() + has_other as usize;
    let mut series: Vec<Series> = (0..n_series)
        .map(|i| Series {
            breakdown: if i < keys.len() {
                keys[i].clone()
            } else {
                Value::from("$other")
            },
            other: i >= keys.len(),
            values: vec![empty.clone(); ids.len()],
            total: empty.clone(),
        })
        .collect();
    let first = ids.first().copied().unwrap_or(0);
    for row in rows(&main) {
        let (b, g, n) = (row.i64(0)?, row.i64(1)?, row.i64(3)?);
        let i = usize::try_from(b - first).ok();
        if let Some(v) = series
            .get_mut(slot(g))
            .zip(i)
            .and_then(|(s, i)| s.values.get_mut(i))
        {
            *v = metric_json(metric.kind, &row.value(2), n);
        }
    }
    for row in rows(&totals) {
        let (g, n) = (row.i64(0)?, row.i64(2)?);
        if let Some(s) = series.get_mut(slot(g)) {
            s.total = metric_json(metric.kind, &row.value(1), n);
        }
    }
    Ok(series)
}
