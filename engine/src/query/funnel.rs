//! Funnels (`get_conversion_funnel`).
//!
//! ```json
//! {"kind": "funnel", "from": "30_days_ago", "to": "today",
//!  "steps": ["page_view", {"event": "signup", "filters": {"field": "properties.plan", "op": "eq", "value": "pro"}},
//!            "purchase"],
//!  "mode": "sequential", "window": 14, "window_unit": "day",
//!  "exclusions": [{"event": "logout", "from_step": 1, "to_step": 2}],
//!  "breakdown": "browser", "breakdown_limit": 5, "include_persons": 100}
//! ```
//!
//! **Semantics.** A person reaches step k when some chain of their events t1 < t2 < … < tk
//! (strictly increasing times, all inside the range) matches steps 1..k with tk − t1 ≤ window;
//! each person counts once, at the furthest step over all their attempts. Modes:
//! `sequential` (default; other events may occur between steps), `strict` (no other tracked
//! event — any event but identify/group/alias — strictly between consecutive steps) and
//! `any_order` (k distinct steps, in any order, within the window after the first of them; an
//! event matching several steps counts for each; times need not differ). Window: `window`
//! (default 14) × `window_unit` (`second`, `minute`, `hour`, `day` (default), `week`, `month` =
//! 30 days). Exclusions `{event, filters, from_step (default 1), to_step (default last)}`: an
//! excluded event strictly between a chain's step `from_step` and step `to_step` breaks that
//! chain (the person may still convert through another attempt); not available in `any_order`.
//! Breakdown: first touch — the value on the person's earliest step-1 event in the range (an
//! empty or missing value is `null`); top `breakdown_limit` (default 10) values by step-1
//! persons, the rest merged into `$other`.
//!
//! **Output** per step: persons, conversion from step 1 and from the previous step (0..1),
//! drop-off from the previous step, and the median and average time from step 1 (ms) over the
//! persons reaching it, measured on the first time they reach it (the latest valid start for
//! that event; `any_order`: only the last step). Optional sample of person ids per step
//! (`include_persons`, sorted ascending).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::funnel_sql::per_person_sql;
use super::normalize::{float_json, rate, rows};
use super::scope::Prepared;
use super::spec::{EventMatch, Filter, de_event_matches, scoped_spec};
use super::{QueryContext, QueryError};
use crate::store::Store;

pub const MAX_STEPS: usize = 32;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelMode {
    #[default]
    Sequential,
    Strict,
    AnyOrder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowUnit {
    Second,
    Minute,
    Hour,
    #[default]
    Day,
    Week,
    /// 30 days.
    Month,
}

impl WindowUnit {
    pub fn ms(self) -> i64 {
        match self {
            WindowUnit::Second => 1_000,
            WindowUnit::Minute => 60_000,
            WindowUnit::Hour => 3_600_000,
            WindowUnit::Day => 86_400_000,
            WindowUnit::Week => 7 * 86_400_000,
            WindowUnit::Month => 30 * 86_400_000,
        }
    }
}

/// An exclusion step (1-based step numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_step: Option<usize>,
    /// Default: the last step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_step: Option<usize>,
}

impl Exclusion {
    pub fn between(event: &str, from_step: usize, to_step: usize) -> Self {
        Exclusion {
            event: event.into(),
            filters: None,
            from_step: Some(from_step),
            to_step: Some(to_step),
        }
    }

    pub(crate) fn matcher(&self) -> EventMatch {
        EventMatch {
            event: self.event.clone(),
            filters: self.filters.clone(),
            name: None,
        }
    }

    pub(crate) fn steps(&self, n: usize) -> (usize, usize) {
        (self.from_step.unwrap_or(1), self.to_step.unwrap_or(n))
    }
}

fn default_window() -> u64 {
    14
}

scoped_spec! {
    /// A funnel (see the module doc).
    pub struct FunnelQuery {
        /// 1 to 32 steps.
        #[serde(deserialize_with = "de_event_matches")]
        pub steps: Vec<EventMatch>,
        #[serde(default)]
        pub mode: FunnelMode,
        /// Conversion window, in `window_unit`s (default 14).
        #[serde(default = "default_window")]
        pub window: u64,
        #[serde(default)]
        pub window_unit: WindowUnit,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub exclusions: Vec<Exclusion>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub breakdown: Option<String>,
        /// Default 10.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub breakdown_limit: Option<usize>,
        /// Person ids listed per step (default 0, at most 1,000).
        #[serde(default)]
        pub include_persons: usize,
    }
}

impl FunnelQuery {
    pub fn new(steps: Vec<EventMatch>) -> Self {
        Self::from_fields(
            steps,
            FunnelMode::Sequential,
            default_window(),
            WindowUnit::Day,
            Vec::new(),
            None,
            None,
            0,
        )
    }

    pub fn window_ms(&self) -> i64 {
        self.window as i64 * self.window_unit.ms()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// 1-based.
    pub step: usize,
    pub name: String,
    pub event: String,
    pub persons: i64,
    pub conversion_from_start: f64,
    pub conversion_from_previous: f64,
    /// Persons of the previous step who did not reach this one (0 for step 1).
    pub drop_off: i64,
    pub drop_off_rate: f64,
    pub median_time_from_start_ms: Value,
    pub avg_time_from_start_ms: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelBreakdown {
    /// The first-touch value (null: missing or empty; `$other` for the merged rest).
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
    pub steps: Vec<FunnelStep>,
    pub conversion_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelResult {
    pub mode: FunnelMode,
    pub window_ms: i64,
    pub steps: Vec<FunnelStep>,
    /// Persons reaching the last step / persons reaching step 1.
    pub conversion_rate: f64,
    pub median_time_to_convert_ms: Value,
    pub avg_time_to_convert_ms: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<FunnelBreakdown>,
}

fn validate(q: &FunnelQuery) -> Result<(), QueryError> {
    let n = q.steps.len();
    if n == 0 || n > MAX_STEPS {
        return Err(QueryError::Invalid(format!(
            "steps: give 1 to {MAX_STEPS} steps (got {n})"
        )));
    }
    if q.window == 0 || q.window_ms() > 366 * 86_400_000 {
        return Err(QueryError::Invalid(
            "window must be between 1 unit and 366 days".into(),
        ));
    }
    if q.include_persons > 1000 {
        return Err(QueryError::Invalid("include_persons is at most 1000".into()));
    }
    if q.exclusions.len() > 32 {
        return Err(QueryError::Invalid("at most 32 exclusions".into()));
    }
    if !q.exclusions.is_empty() && q.mode == FunnelMode::AnyOrder {
        return Err(QueryError::Invalid(
            "exclusions are not supported in any_order funnels".into(),
        ));
    }
    for (i, x) in q.exclusions.iter().enumerate() {
        let (a, b) = x.steps(n);
        if a < 1 || b > n || a >= b {
            return Err(QueryError::Invalid(format!(
                "exclusions[{i}]: need 1 <= from_step < to_step <= {n} (got {a}..{b})"
            )));
        }
    }
    if q.breakdown_limit.is_some_and(|l| !(1..=100).contains(&l)) {
        return Err(QueryError::Invalid(
            "breakdown_limit must be between 1 and 100".into(),
        ));
    }
    Ok(())
}

pub async fn get_conversion_funnel(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &FunnelQuery,
) -> Result<FunnelResult, QueryError> {
    validate(q)?;
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let n = q.steps.len();
    let pp = per_person_sql(&p, q, q.window_ms())?;
    let mut aggs = vec!["count(*) AS c1".to_string()];
    for k in 2..=n {
        aggs.push(format!("sum(CASE WHEN lvl >= {k} THEN 1 ELSE 0 END) AS c{k}"));
        aggs.push(format!("avg(t{k}) AS a{k}"));
        aggs.push(format!("{} AS q{k}", sql.quantile(&format!("t{k}"), 0.5)));
    }
    let overall = p
        .run(&sql.with_ctes(
            &[("pp", pp.clone())],
            &format!("SELECT {} FROM {{pp}} AS pp WHERE lvl >= 1", aggs.join(", ")),
        ))
        .await?;
    let overall = rows(&overall)
        .next()
        .map(|r| step_stats(&r, n))
        .transpose()?
        .unwrap_or_default();
    let mut steps = build_steps(q, &overall);
    if q.include_persons > 0 {
        // The persons listed are the smallest person ids: they need the ids, not the integer
        // keys the counts above were computed with (see query/rollup.rs).
        let text_ctx = QueryContext {
            text_persons: true,
            ..ctx.clone()
        };
        let p = Prepared::new(store, &text_ctx, &q.scope()).await?;
        let pp = per_person_sql(&p, q, q.window_ms())?;
        let l = q.include_persons;
        let body = if sql.is_ch() {
            format!(
                "SELECT r.k + 1 AS step, person FROM {{pp}} AS pp CROSS JOIN {} AS r WHERE lvl >= r.k + 1 \
                 ORDER BY step, person LIMIT {l} BY step",
                sql.range_relation(n as i64)
            )
        } else {
            format!(
                "SELECT step, person FROM (SELECT r.k + 1 AS step, pp.person, row_number() OVER \
                 (PARTITION BY r.k ORDER BY pp.person) AS rn FROM {{pp}} AS pp CROSS JOIN {} AS r WHERE pp.lvl >= r.k + 1) AS s \
                 WHERE rn <= {l} ORDER BY step, person",
                sql.range_relation(n as i64)
            )
        };
        let res = p.run(&sql.with_ctes(&[("pp", pp.clone())], &body)).await?;
        for s in steps.iter_mut() {
            s.person_ids = Some(Vec::new());
        }
        for row in rows(&res) {
            if let Some(s) = steps.get_mut(row.i64(0)? as usize - 1) {
                s.person_ids.get_or_insert_with(Vec::new).push(row.str(1));
            }
        }
    }
    let last = steps.last().map(|s| s.persons).unwrap_or(0);
    let first = steps.first().map(|s| s.persons).unwrap_or(0);
    let mut result = FunnelResult {
        mode: q.mode,
        window_ms: q.window_ms(),
        conversion_rate: rate(last, first),
        median_time_to_convert_ms: if n > 1 {
            steps[n - 1].median_time_from_start_ms.clone()
        } else {
            Value::Null
        },
        avg_time_to_convert_ms: if n > 1 {
            steps[n - 1].avg_time_from_start_ms.clone()
        } else {
            Value::Null
        },
        steps,
        breakdown: Vec::new(),
    };
    if q.breakdown.is_some() {
        let limit = q.breakdown_limit.unwrap_or(10);
        // The top values first (ClickHouse 18.16 rejects `IN (subquery)` in this select list).
        let top = format!(
            "SELECT bd FROM {{pp}} AS pp WHERE lvl >= 1 GROUP BY bd ORDER BY count(*) DESC, bd ASC LIMIT {limit}"
        );
        let top = p.run(&sql.with_ctes(&[("pp", pp.clone())], &top)).await?;
        let mut values = Vec::new();
        for r in rows(&top) {
            values.push(sql.lit(&r.str(0))?);
        }
        let in_top = if values.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("bd IN ({})", values.join(", "))
        };
        let body = format!(
            "SELECT CASE WHEN {in_top} THEN 1 ELSE 0 END AS top, CASE WHEN {in_top} THEN bd ELSE '' END AS g, {} \
             FROM {{pp}} AS pp WHERE lvl >= 1 GROUP BY top, g",
            aggs.join(", ")
        );
        let res = p.run(&sql.with_ctes(&[("pp", pp.clone())], &body)).await?;
        let mut groups = Vec::new();
        for row in rows(&res) {
            let top = row.i64(0)? == 1;
            let g = row.str(1);
            let stats = step_stats_at(&row, n, 2)?;
            let steps = build_steps(q, &stats);
            let (value, other) = match (top, g.is_empty()) {
                (false, _) => (Value::from("$other"), true),
                (true, true) => (Value::Null, false),
                (true, false) => (Value::from(g), false),
            };
            let conv = rate(steps.last().map(|s| s.persons).unwrap_or(0), steps[0].persons);
            groups.push(FunnelBreakdown {
                value,
                other,
                steps,
                conversion_rate: conv,
            });
        }
        groups.sort_by(|a, b| {
            (a.other, -a.steps[0].persons, a.value.as_str().map(str::to_string)).cmp(&(
                b.other,
                -b.steps[0].persons,
                b.value.as_str().map(str::to_string),
            ))
        });
        result.breakdown = groups;
    }
    Ok(result)
}

/// Per step k: (persons, avg ms, median ms).
#[derive(Default)]
struct Stats(Vec<(i64, Option<f64>, Option<f64>)>);

fn step_stats(row: &super::normalize::Row<'_>, n: usize) -> Result<Stats, QueryError> {
    step_stats_at(row, n, 0)
}

fn step_stats_at(row: &super::normalize::Row<'_>, n: usize, off: usize) -> Result<Stats, QueryError> {
    let mut v = vec![(row.i64(off)?, None, None)];
    for k in 2..=n {
        let i = off + 1 + (k - 2) * 3;
        v.push((row.i64(i)?, row.opt_f64(i + 1)?, row.opt_f64(i + 2)?));
    }
    Ok(Stats(v))
}

fn build_steps(q: &FunnelQuery, stats: &Stats) -> Vec<FunnelStep> {
    let first = stats.0.first().map(|s| s.0).unwrap_or(0);
    q.steps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (persons, avg, median) = stats.0.get(i).copied().unwrap_or((0, None, None));
            let prev = if i == 0 {
                persons
            } else {
                stats.0.get(i - 1).map(|s| s.0).unwrap_or(0)
            };
            let timed = i > 0 && persons > 0;
            FunnelStep {
                step: i + 1,
                name: m.label(),
                event: m.event.clone(),
                persons,
                conversion_from_start: if i == 0 && first > 0 {
                    1.0
                } else {
                    rate(persons, first)
                },
                conversion_from_previous: if i == 0 && first > 0 {
                    1.0
                } else {
                    rate(persons, prev)
                },
                drop_off: prev - persons,
                drop_off_rate: rate(prev - persons, prev),
                median_time_from_start_ms: if timed { float_json(median) } else { Value::Null },
                avg_time_from_start_ms: if timed { float_json(avg) } else { Value::Null },
                person_ids: None,
            }
        })
        .collect()
}

/// The SQL computing per-person progress (`person, lvl, t2..tN, bd`) for `q` on `store`'s
/// dialect: for debugging and for users who want to see what runs.
pub async fn explain_funnel(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &FunnelQuery,
) -> Result<String, QueryError> {
    validate(q)?;
    // With the person ids (not their integer keys): the relation is for reading and joining.
    let ctx = QueryContext {
        text_persons: true,
        ..ctx.clone()
    };
    let p = Prepared::new(store, &ctx, &q.scope()).await?;
    per_person_sql(&p, q, q.window_ms())
}
