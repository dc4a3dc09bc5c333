//! `query_events`: filters, dimensions (fields and time buckets), metrics, order, limit.
//!
//! ```json
//! {"kind": "events", "from": "30_days_ago", "to": "today",
//!  "filters": {"and": [{"field": "event", "op": "eq", "value": "purchase"},
//!                      {"field": "properties.amount", "op": "gte", "value": 10}]},
//!  "dimensions": ["day", "browser"],
//!  "metrics": ["count", {"type": "count_distinct", "field": "person"},
//!              {"type": "p95", "field": "properties.amount", "as": "p95_amount"}],
//!  "order_by": ["count DESC"], "limit": 100}
//! ```
//!
//! Rows are ordered by `order_by` then by every dimension ascending (NULLs last), so ties are
//! deterministic. Time dimensions come back as labels (`2026-10-01`, weeks as their Monday,
//! `2026-10`, hours `2026-10-01T13:00`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Field;
use super::mask::{BITS, bit_counts};
use super::normalize::{float_json, rows};
use super::rollup::{Agg, Merge, Rollup};
use super::scope::Prepared;
use super::spec::{Interval, Metric, MetricKind, de_metrics, scoped_spec};
use super::sql::Sql;
use super::time::bucket_label;
use super::{QueryContext, QueryError};
use crate::store::Store;

/// Default and maximum row limits.
pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 10_000;

fn default_metrics() -> Vec<Metric> {
    vec![Metric::count()]
}

scoped_spec! {
    /// An events query (see the module doc for an example).
    pub struct EventsQuery {
        /// Group by these: field names (see [`crate::query::Condition::field`]) or the time buckets
        /// `hour`, `day`, `week`, `month`. Default none (one row).
        #[serde(default)]
        pub dimensions: Vec<String>,
        /// Default `[count]`.
        #[serde(default = "default_metrics", deserialize_with = "de_metrics")]
        pub metrics: Vec<Metric>,
        /// `"<column> [ASC|DESC]"` over output columns. Default: time dimensions ascending if any,
        /// else the first metric descending.
        #[serde(default)]
        pub order_by: Vec<String>,
        /// Default 100, at most 10,000.
        #[serde(default)]
        pub limit: Option<u64>,
    }
}

impl EventsQuery {
    pub fn new(dimensions: &[&str], metrics: Vec<Metric>) -> Self {
        Self::from_fields(
            dimensions.iter().map(|s| s.to_string()).collect(),
            metrics,
            Vec::new(),
            None,
        )
    }
}

/// One output column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `dimension` or `metric`.
    pub role: String,
    /// For time dimensions: the bucket unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Interval>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsResult {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

enum Dim {
    Time(Interval),
    Field(Field),
}

fn parse_dim(name: &str) -> Result<Dim, QueryError> {
    Ok(match name {
        "hour" => Dim::Time(Interval::Hour),
        "day" | "date" => Dim::Time(Interval::Day),
        "week" => Dim::Time(Interval::Week),
        "month" => Dim::Time(Interval::Month),
        other => {
            Dim::Field(Field::parse(other).map_err(|e| QueryError::Invalid(format!("dimensions: {e}")))?)
        }
    })
}

/// The field a metric reads (`count_distinct` defaults to `person`; `count` reads none).
pub(crate) fn metric_field(m: &Metric) -> Result<Option<Field>, QueryError> {
    let default = (m.kind == MetricKind::CountDistinct).then_some("person");
    match m.field.as_deref().or(default) {
        _ if m.kind == MetricKind::Count => Ok(None),
        Some(name) => Field::parse(name).map(Some),
        None => Err(QueryError::Invalid(format!(
            "metric `{}` needs a field",
            m.kind.name()
        ))),
    }
}

/// SQL aggregate of a metric.
pub(crate) fn metric_sql(sql: &Sql, m: &Metric) -> Result<String, QueryError> {
    let field = metric_field(m)?;
    let field = || {
        field
            .as_ref()
            .ok_or_else(|| QueryError::Invalid(format!("metric `{}` needs a field", m.kind.name())))
    };
    let num = || -> Result<String, QueryError> { field()?.num_sql(sql) };
    Ok(match m.kind {
        MetricKind::Count => "count(*)".into(),
        MetricKind::CountDistinct => sql.count_distinct(&field()?.text_sql(sql)?),
        MetricKind::Sum => format!("coalesce(sum({}), 0)", num()?),
        MetricKind::Avg => format!("avg({})", num()?),
        MetricKind::Min => format!("min({})", num()?),
        MetricKind::Max => format!("max({})", num()?),
        MetricKind::Median => sql.quantile(&num()?, 0.5),
        MetricKind::P90 => sql.quantile(&num()?, 0.9),
        MetricKind::P95 => sql.quantile(&num()?, 0.95),
        MetricKind::P99 => sql.quantile(&num()?, 0.99),
    })
}

/// A metric value as JSON: counts as integers, the rest rounded floats; an aggregate over no
/// rows is null except counts and sums (0).
pub(crate) fn metric_json(kind: MetricKind, v: &Value, n_rows: i64) -> Value {
    match kind {
        MetricKind::Count | MetricKind::CountDistinct => {
            Value::from(v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(0))
        }
        _ if n_rows == 0 => {
            if kind == MetricKind::Sum {
                Value::from(0.0)
            } else {
                Value::Null
            }
        }
        _ => float_json(v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))),
    }
}

/// The select list (`d{i}` dimensions, `m{i}` metrics, `n_rows`) and the `FROM` relation of
/// an events query, by the cheapest plan that gives the same rows:
/// * nothing reads `person` (dimensions, metrics, scope): the events alone, no identity join;
/// * distinct persons with only counts, minima and maxima beside them: a per-person
///   [`Rollup`] keyed by the dimensions (the identity join after a first aggregation), or, for
///   one low-cardinality column dimension, the per-person mask plan of [`value_mask_plan`];
/// * otherwise every event with its person.
async fn plan(
    p: &Prepared<'_>,
    q: &EventsQuery,
    dims: &[Dim],
    dim_exprs: &[String],
) -> Result<(Vec<String>, String), QueryError> {
    let sql = &p.sql;
    let is_person = |f: &Field| *f == Field::Text("person");
    let dim_person = dims.iter().any(|d| matches!(d, Dim::Field(f) if is_person(f)));
    let fields = q
        .metrics
        .iter()
        .map(metric_field)
        .collect::<Result<Vec<_>, _>>()?;
    let metric_person = fields.iter().flatten().any(is_person);
    let dim_cols = dim_exprs.iter().enumerate().map(|(i, e)| format!("{e} AS d{i}"));
    if !p.scope_uses_person() && !dim_person && !metric_person {
        let mut select: Vec<String> = dim_cols.collect();
        for (i, m) in q.metrics.iter().enumerate() {
            select.push(format!("{} AS m{i}", metric_sql(sql, m)?));
        }
        select.push("count(*) AS n_rows".into());
        return Ok((
            select,
            p.events_without_person(Some(p.frame.from_ms), Some(p.frame.to_ms), &[])?,
        ));
    }
    if let Some(plan) = value_mask_plan(p, q, dims, &fields).await? {
        return Ok(plan);
    }
    let rollable = !dim_person
        && q.metrics.iter().zip(&fields).all(|(m, f)| match m.kind {
            MetricKind::Count => true,
            MetricKind::CountDistinct => f.as_ref().is_some_and(is_person),
            MetricKind::Min | MetricKind::Max => !f.as_ref().is_some_and(is_person),
            _ => false,
        });
    if !rollable {
        let mut select: Vec<String> = dim_cols.collect();
        for (i, m) in q.metrics.iter().enumerate() {
            select.push(format!("{} AS m{i}", metric_sql(sql, m)?));
        }
        select.push("count(*) AS n_rows".into());
        return Ok((select, p.frame_events(&[])?));
    }
    let mut aggs = vec![Agg::new("n", "count(*)", Merge::Sum)];
    let mut select: Vec<String> = (0..dims.len()).map(|i| format!("d{i}")).collect();
    for (i, m) in q.metrics.iter().enumerate() {
        select.push(match m.kind {
            MetricKind::Count => format!("sum(n) AS m{i}"),
            MetricKind::CountDistinct => format!("count(person) AS m{i}"),
            kind => {
                let merge = if kind == MetricKind::Min {
                    Merge::Min
                } else {
                    Merge::Max
                };
                aggs.push(Agg::new(&format!("a{i}"), metric_sql(sql, m)?, merge));
                format!("{} AS m{i}", merge.apply(sql, &format!("a{i}")))
            }
        });
    }
    select.push("sum(n) AS n_rows".into());
    let rollup = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        keys: dim_exprs
            .iter()
            .enumerate()
            .map(|(i, e)| (e.clone(), format!("d{i}")))
            .collect(),
        aggs,
        keep_null_person: true,
        ..Rollup::default()
    })?;
    Ok((select, format!("({rollup}) AS ev")))
}

/// Columns with few distinct values, for [`value_mask_plan`].
const LOW_CARDINALITY: &[&str] = &["event", "type", "browser", "os", "device_type"];

/// Counts and distinct persons by one low-cardinality column (`top events`: events and people
/// per event name), when its values in the range are at most [`BITS`]: instead of a rollup
/// keyed by (raw identity, value), one row per person carries the values they have as bits of a
/// mask (see [`super::mask`]), so the string-keyed aggregations have one group per raw identity
/// and per person; the event counts come from a plain aggregation without the identity join.
/// `None` when the query has another shape (or more values): the caller plans it otherwise.
async fn value_mask_plan(
    p: &Prepared<'_>,
    q: &EventsQuery,
    dims: &[Dim],
    fields: &[Option<Field>],
) -> Result<Option<(Vec<String>, String)>, QueryError> {
    let col = match dims {
        [Dim::Field(Field::Text(c))] if LOW_CARDINALITY.contains(c) => *c,
        _ => return Ok(None),
    };
    let counts_only = q.metrics.iter().zip(fields).all(|(m, f)| match m.kind {
        MetricKind::Count => true,
        MetricKind::CountDistinct => *f == Some(Field::Text("person")),
        _ => false,
    });
    if !counts_only || p.scope_uses_person() {
        return Ok(None);
    }
    let sql = &p.sql;
    let (from_ms, to_ms) = (Some(p.frame.from_ms), Some(p.frame.to_ms));
    let groups = format!(
        "SELECT {col} AS gd, count(*) AS gn FROM {} GROUP BY {col}",
        p.events_without_person(from_ms, to_ms, &[])?
    );
    let values = p
        .run(&format!("SELECT gd FROM ({groups}) AS g LIMIT {}", BITS + 1))
        .await?;
    if values.rows.len() as i64 > BITS {
        return Ok(None);
    }
    // Bit j of a person's mask: they have an event with the j-th value. (A value first stored
    // between this lookup and the statement below counts its events but shows 0 persons.)
    let mut bit_of = String::from("(CASE");
    let mut count_of = String::from("(CASE");
    for (j, r) in rows(&values).enumerate() {
        let test = match r.opt_str(0) {
            Some(v) => format!("= {}", sql.lit(&v)?),
            None => "IS NULL".to_string(),
        };
        bit_of.push_str(&format!(
            " WHEN {col} {test} THEN {}",
            sql.int(&(1_i64 << j).to_string())
        ));
        count_of.push_str(&format!(" WHEN gd {test} THEN c{j}"));
    }
    bit_of.push_str(&format!(" ELSE {} END)", sql.int("0")));
    count_of.push_str(" END)");
    let n_values = values.rows.len() as u32;
    let pm = p.rollup(&Rollup {
        from_ms,
        to_ms,
        aggs: vec![Agg::new("m", sql.bit_or_agg(&bit_of), Merge::BitOr)],
        ..Rollup::default()
    })?;
    let persons = bit_counts(sql, "m", 0..n_values);
    let persons = if persons.is_empty() {
        format!("SELECT {} AS c0", sql.int("0"))
    } else {
        format!("SELECT {} FROM ({pm}) AS pm", persons.join(", "))
    };
    let count_of = if n_values == 0 { sql.int("0") } else { count_of };
    let from = format!(
        "(SELECT gd AS d0, gn AS n, {count_of} AS pn FROM ({groups}) AS g CROSS JOIN ({persons}) AS pc) AS ev"
    );
    let mut select = vec!["d0".to_string()];
    for (i, m) in q.metrics.iter().enumerate() {
        select.push(match m.kind {
            MetricKind::Count => format!("{} AS m{i}", sql.int("sum(n)")),
            _ => format!("{} AS m{i}", sql.int("sum(pn)")),
        });
    }
    select.push(format!("{} AS n_rows", sql.int("sum(n)")));
    Ok(Some((select, from)))
}

pub async fn query_events(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &EventsQuery,
) -> Result<EventsResult, QueryError> {
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    if q.metrics.is_empty() {
        return Err(QueryError::Invalid("metrics: give at least one metric".into()));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(QueryError::Invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let mut columns = Vec::new();
    let mut dim_exprs = Vec::new();
    let mut dims = Vec::new();
    for name in &q.dimensions {
        let d = parse_dim(name)?;
        dim_exprs.push(match &d {
            Dim::Time(iv) => p.frame.bucket_sql(sql, "ts", *iv),
            Dim::Field(f) => f.text_sql(sql)?,
        });
        columns.push(Column {
            name: name.clone(),
            role: "dimension".into(),
            time: if let Dim::Time(iv) = d { Some(iv) } else { None },
        });
        dims.push(d);
    }
    let (select, from) = plan(&p, q, &dims, &dim_exprs).await?;
    for m in &q.metrics {
        let name = m.column_name();
        if columns.iter().any(|c| c.name == name) {
            return Err(QueryError::Invalid(format!(
                "two output columns are named `{name}`: set `as`"
            )));
        }
        columns.push(Column {
            name,
            role: "metric".into(),
            time: None,
        });
    }
    let alias = |i: usize| {
        if i < dims.len() {
            format!("d{i}")
        } else {
            format!("m{}", i - dims.len())
        }
    };
    let mut order = Vec::new();
    for o in &q.order_by {
        let mut parts = o.split_whitespace();
        let col = parts.next().unwrap_or_default();
        let dir = match parts.next().map(|s| s.to_ascii_uppercase()).as_deref() {
            None | Some("ASC") => "ASC",
            Some("DESC") => "DESC",
            Some(other) => {
                return Err(QueryError::Invalid(format!(
                    "order_by {o:?}: unknown direction {other}"
                )));
            }
        };
        let idx = columns
            .iter()
            .position(|c| c.name == col)
            .ok_or_else(|| QueryError::Invalid(format!("order_by {o:?}: no output column `{col}`")))?;
        order.push(format!("{} {dir} NULLS LAST", alias(idx)));
    }
    if q.order_by.is_empty() {
        if dims.iter().any(|d| matches!(d, Dim::Time(_))) {
            order.extend(
                dims.iter()
                    .enumerate()
                    .map(|(i, _)| format!("d{i} ASC NULLS LAST")),
            );
        } else if !dims.is_empty() {
            order.push("m0 DESC NULLS LAST".into());
        }
    }
    order.extend((0..dims.len()).map(|i| format!("d{i} ASC NULLS LAST")));
    let group = if dims.is_empty() {
        String::new()
    } else {
        format!(
            " GROUP BY {}",
            (0..dims.len())
                .map(|i| format!("d{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let order_sql = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    let text = format!(
        "SELECT {} FROM {from}{group}{order_sql} LIMIT {limit}",
        select.join(", ")
    );
    let res = p.run(&text).await?;
    let mut out = Vec::new();
    for row in rows(&res) {
        let n_rows = row.i64(dims.len() + q.metrics.len())?;
        let mut vals = Vec::new();
        for (i, d) in dims.iter().enumerate() {
            vals.push(match d {
                Dim::Time(iv) => match row.opt_i64(i)? {
                    Some(id) => Value::from(bucket_label(id, *iv)),
                    None => Value::Null,
                },
                Dim::Field(_) => row.opt_str(i).map(Value::from).unwrap_or(Value::Null),
            });
        }
        for (j, m) in q.metrics.iter().enumerate() {
            vals.push(metric_json(m.kind, &row.value(dims.len() + j), n_rows));
        }
        out.push(vals);
    }
    Ok(EventsResult { columns, rows: out })
}
