//! Retention: cohort table and weighted average.
//!
//! ```json
//! {"kind": "retention", "start_event": "signup", "return_event": "*", "period": "week",
//!  "periods": 5, "mode": "recurring", "from": "2026-10-05", "to": "2026-11-08"}
//! ```
//!
//! Cohorts are the `period` buckets (day, week = ISO week, month; local time) of the range.
//! * `recurring` (default): a person is in cohort C for every period C of the range in which
//!   they did the start event.
//! * `first_time`: a person is in the cohort of the period of their first start event ever (all
//!   history is read); persons whose first start event is before the range are in no cohort.
//!
//! Cell (C, k), k >= 1: cohort persons who did the return event (default any event) in period
//! C + k. Period 0 is the cohort size (100%). Returns are read inside the range only: a cell
//! whose period C + k starts after the range's last period is null (not observable yet).
//! `average[k]` = Σ returned(C, k) / Σ size(C) over the cohorts whose period C + k is observable.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{event_match_sql, filter_uses_person};
use super::mask::Mask;
use super::normalize::{rate, rows};
use super::rollup::{Agg, Merge, Rollup};
use super::scope::Prepared;
use super::spec::{EventMatch, Interval, de_event_match, scoped_spec};
use super::time::bucket_label;
use super::{QueryContext, QueryError};
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionMode {
    #[default]
    Recurring,
    FirstTime,
}

fn any_event() -> EventMatch {
    EventMatch::named("*")
}
fn default_period() -> Interval {
    Interval::Day
}
fn default_periods() -> usize {
    8
}

scoped_spec! {
    /// A retention query (see the module doc).
    pub struct RetentionQuery {
        /// Default `*` (any event).
        #[serde(default = "any_event", deserialize_with = "de_event_match")]
        pub start_event: EventMatch,
        /// Default `*` (any event).
        #[serde(default = "any_event", deserialize_with = "de_event_match")]
        pub return_event: EventMatch,
        /// `day` (default), `week` or `month`.
        #[serde(default = "default_period")]
        pub period: Interval,
        /// Periods per cohort row including period 0 (default 8, at most 100).
        #[serde(default = "default_periods")]
        pub periods: usize,
        #[serde(default)]
        pub mode: RetentionMode,
    }
}

impl RetentionQuery {
    pub fn new(start_event: EventMatch, return_event: EventMatch, period: Interval, periods: usize) -> Self {
        Self::from_fields(
            start_event,
            return_event,
            period,
            periods,
            RetentionMode::Recurring,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// Label of the cohort's period (`2026-10-05`; `2026-10` for months).
    pub period: String,
    pub persons: i64,
    /// Persons returning in period k (k = 0: the cohort size); null when not observable.
    pub values: Vec<Value>,
    /// `values[k] / persons` (0..1); null when not observable.
    pub rates: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionResult {
    pub period: Interval,
    pub mode: RetentionMode,
    pub cohorts: Vec<Cohort>,
    /// Weighted average rate per period k (null when no cohort observes k).
    pub average: Vec<Value>,
}

/// Cells computed from bucket masks in one select list (PostgreSQL allows 1664 columns); more
/// cells use the join plan of [`cohort_cells`].
const MAX_MASK_CELLS: i64 = 1000;

pub async fn get_retention(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &RetentionQuery,
) -> Result<RetentionResult, QueryError> {
    if q.period == Interval::Hour {
        return Err(QueryError::Invalid(
            "retention period must be day, week or month".into(),
        ));
    }
    if !(1..=100).contains(&q.periods) {
        return Err(QueryError::Invalid("periods must be between 1 and 100".into()));
    }
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let ids = p.frame.buckets(q.period)?;
    let n = q.periods as i64;
    let bucket = p.frame.bucket_sql(sql, "ts", q.period);
    let start_m = event_match_sql(sql, &q.start_event)?;
    let return_m = event_match_sql(sql, &q.return_event)?;
    let reads_person = |m: &EventMatch| m.filters.as_ref().is_some_and(filter_uses_person);
    let start_person = reads_person(&q.start_event);
    let any_person = start_person || reads_person(&q.return_event);
    let first_id = ids.first().copied().unwrap_or(0);
    let last_id = ids.last().copied().unwrap_or(first_id);
    let mask = Mask::new(first_id, last_id);
    // One output column per cell: (C, k) for k < periods and C + k within the range.
    let n_cells: i64 = (0..mask.n).map(|c| n.min(mask.n - c)).sum();
    let rows_out = if q.mode == RetentionMode::Recurring && mask.single() && n_cells <= MAX_MASK_CELLS {
        // One row per person with the periods of start and of return events as masks; a cell
        // (C, k) counts the persons with bit C of `st` and bit C + k of `rt`.
        let pm = p.rollup(&Rollup {
            from_ms: Some(p.frame.from_ms),
            to_ms: Some(p.frame.to_ms),
            conds: vec![format!("({start_m} OR {return_m})")],
            aggs: vec![
                mask.agg(sql, "st", &bucket, Some(&start_m)),
                mask.agg(sql, "rt", &bucket, Some(&return_m)),
            ],
            reads_person: any_person,
            ..Rollup::default()
        })?;
        let count = |cond: String| sql.int(&format!("sum({})", sql.flag(&cond)));
        let mut cols = Vec::new();
        let mut cells = Vec::new();
        for c in 0..mask.n {
            cols.push(count(sql.has_bit("st", c as u32)));
            cells.push((c, -1));
            for k in 1..n.min(mask.n - c) {
                cols.push(count(format!(
                    "{} AND {}",
                    sql.has_bit("st", c as u32),
                    sql.has_bit("rt", (c + k) as u32)
                )));
                cells.push((c, k));
            }
        }
        let res = p
            .run(&format!("SELECT {} FROM ({pm}) AS pm", cols.join(", ")))
            .await?;
        let mut out = Vec::new();
        if let Some(row) = rows(&res).next() {
            for (i, (c, k)) in cells.into_iter().enumerate() {
                out.push((first_id + c, k, row.opt_i64(i)?.unwrap_or(0)));
            }
        }
        out
    } else {
        cohort_cells(&p, q, &bucket, &start_m, &return_m, any_person).await?
    };
    let last = ids.last().copied().unwrap_or(i64::MIN);
    let first = ids.first().copied().unwrap_or(0);
    let mut cohorts: Vec<Cohort> = ids
        .iter()
        .map(|&c| Cohort {
            period: bucket_label(c, q.period),
            persons: 0,
            values: (0..n)
                .map(|k| {
                    if c + k <= last {
                        Value::from(0)
                    } else {
                        Value::Null
                    }
                })
                .collect(),
            rates: Vec::new(),
        })
        .collect();
    for (c, k, v) in rows_out {
        let Some(cohort) = usize::try_from(c - first).ok().and_then(|i| cohorts.get_mut(i)) else {
            continue;
        };
        if k < 0 {
            cohort.persons = v;
            cohort.values[0] = Value::from(v);
        } else if let Some(slot) = cohort.values.get_mut(k as usize).filter(|s| !s.is_null()) {
            *slot = Value::from(v);
        }
    }
    let mut average = Vec::new();
    for k in 0..n as usize {
        let (mut num, mut den, mut seen) = (0, 0, false);
        for c in &cohorts {
            if let Some(v) = c.values[k].as_i64() {
                num += v;
                den += c.persons;
                seen = true;
            }
        }
        average.push(if seen {
            Value::from(rate(num, den))
        } else {
            Value::Null
        });
    }
    for c in &mut cohorts {
        c.rates = c
            .values
            .iter()
            .map(|v| {
                v.as_i64()
                    .map(|x| Value::from(rate(x, c.persons)))
                    .unwrap_or(Value::Null)
            })
            .collect();
    }
    Ok(RetentionResult {
        period: q.period,
        mode: q.mode,
        cohorts,
        average,
    })
}

/// The cohort table as (cohort bucket, k, persons) rows (k = -1: the cohort size) by joining
/// the cohorts' start rows with the return rows per person: `first_time` mode, and ranges of
/// more periods than one bucket mask holds.
async fn cohort_cells(
    p: &Prepared<'_>,
    q: &RetentionQuery,
    bucket: &str,
    start_m: &str,
    return_m: &str,
    any_person: bool,
) -> Result<Vec<(i64, i64, i64)>, QueryError> {
    let sql = &p.sql;
    let n = q.periods as i64;
    // One pass over the events: (person, period) with "did start" / "did return" flags.
    let pb = p.rollup(&Rollup {
        from_ms: Some(p.frame.from_ms),
        to_ms: Some(p.frame.to_ms),
        conds: vec![format!("({start_m} OR {return_m})")],
        keys: vec![(bucket.to_string(), "b".into())],
        aggs: vec![
            Agg::new("st", format!("max({})", sql.flag(start_m)), Merge::Max),
            Agg::new("rt", format!("max({})", sql.flag(return_m)), Merge::Max),
        ],
        reads_person: any_person,
        ..Rollup::default()
    })?;
    let starts = match q.mode {
        RetentionMode::Recurring => "SELECT person, b AS c FROM {pb} AS pb1 WHERE st = 1".to_string(),
        RetentionMode::FirstTime => format!(
            "SELECT person, {} AS c FROM ({}) AS ft WHERE fts >= {}",
            p.frame.bucket_sql(sql, "fts", q.period),
            p.rollup(&Rollup {
                to_ms: Some(p.frame.to_ms),
                conds: vec![start_m.to_string()],
                aggs: vec![Agg::new("fts", "min(ts)", Merge::Min)],
                // Joined with `pb` by person: the same plan (keyed or not) as `pb`.
                reads_person: any_person,
                ..Rollup::default()
            })?,
            p.frame.from_ms
        ),
    };
    let returns = "SELECT person, b AS r FROM {pb} AS pb2 WHERE rt = 1";
    // Sizes (k = -1) and cells in one statement.
    let cells = if sql.is_ch() {
        format!(
            "SELECT toInt64(c) AS c, toInt64(-1) AS k, toInt64(count()) AS n FROM {{starts}} GROUP BY c UNION ALL \
             SELECT toInt64(c) AS c, toInt64(r - c) AS k, toInt64(count()) AS n FROM {{starts}} ALL INNER JOIN {{returns}} \
             USING person WHERE r > c AND r - c < {n} GROUP BY c, k"
        )
    } else {
        format!(
            "SELECT c, -1 AS k, count(*) AS n FROM {{starts}} AS s0 GROUP BY c UNION ALL \
             SELECT s.c, rr.r - s.c AS k, count(*) AS n FROM {{starts}} AS s JOIN {{returns}} AS rr \
             ON s.person = rr.person WHERE rr.r > s.c AND rr.r - s.c < {n} GROUP BY s.c, rr.r - s.c"
        )
    };
    let text = sql.with_ctes(
        &[("pb", pb), ("starts", starts), ("returns", returns.to_string())],
        &cells,
    );
    let res = p.run(&text).await?;
    let mut out = Vec::new();
    for row in rows(&res) {
        out.push((row.i64(0)?, row.i64(1)?, row.i64(2)?));
    }
    Ok(out)
}
