//! Per-person funnel progress in SQL: one row per person with `lvl` (furthest step reached),
//! `t2..tN` (ms from step 1 to step k on the first reach of step k) and `bd` (first-touch
//! breakdown value). Two renderings of one algorithm, checked against each other by the
//! differential tests:
//!
//! **The algorithm** (sequential and strict modes). Process a person's events in time order,
//! grouping events with equal timestamps (a chain needs strictly increasing times). For each
//! level j keep the *latest start* among chains that reached step j and are still alive: a later
//! start leaves the most room in the window, so it dominates (windowFunnel's idea). An event at
//! time t matching step j+1 extends the best level-j chain whose last event is before t when
//! `t - start <= window`. Because a level's best start only grows, "best level-j chain before t"
//! is simply the latest level-j row before t; so level j+1 is a function of level j computed
//! with one "last defined value strictly before t" pass:
//!
//! * DuckDB / PostgreSQL: `max(b_j) OVER (PARTITION BY person ORDER BY ts RANGE BETWEEN
//!   UNBOUNDED PRECEDING AND 1 PRECEDING)`, one materialized CTE per step.
//! * ClickHouse (18.16 has no window functions or `arrayFold`): the person's events as a sorted
//!   array; "last value before t" = a merge of the rows (key `2t`) with the defined values' deltas
//!   (key `2t'+1`) sorted, then `arrayCumSum` — O(n log n) per step, no lambda captures.
//!
//! Exclusion `(a, b)`: an excluded event at x breaks the chains that have their step-a event
//! before x and have not reached step b by x (x at the same time as the step-b event does not
//! break). A level-j chain (a <= j < b) is therefore alive at t iff its last event is after the
//! latest excluded event before t (or at the same time when j = a). Strict mode: the level-j
//! row must be in the timestamp group right before t's (no other tracked event in between).
//!
//! **any_order**: for each event matching a step, the number of distinct steps matched within
//! `[t, t + window]`; the person's level is the maximum.

use super::QueryError;
use super::fields::{event_match_sql, pre_filter};
use super::funnel::{FunnelMode, FunnelQuery};
use super::scope::Prepared;

/// Renders the per-person relation (a parenthesized subquery).
pub(crate) fn per_person_sql(
    p: &Prepared<'_>,
    q: &FunnelQuery,
    window_ms: i64,
) -> Result<String, QueryError> {
    let sql = &p.sql;
    let n = q.steps.len();
    let mut cols = Vec::new();
    let mut any = Vec::new();
    for (i, s) in q.steps.iter().enumerate() {
        let m = event_match_sql(sql, s)?;
        cols.push(format!("{} AS s{}", sql.flag(&m), i + 1));
        any.push(m);
    }
    for (e, x) in q.exclusions.iter().enumerate() {
        let m = event_match_sql(sql, &x.matcher())?;
        cols.push(format!("{} AS x{}", sql.flag(&m), e + 1));
        any.push(m);
    }
    if q.mode == FunnelMode::Strict {
        any.push("type NOT IN ('identify', 'group', 'alias')".into());
    }
    // Only rows matching a step or exclusion are read (strict mode also needs the rest).
    let pre = if q.mode == FunnelMode::Strict {
        Vec::new()
    } else {
        let xs: Vec<_> = q.exclusions.iter().map(|x| x.matcher()).collect();
        pre_filter(sql, &q.steps.iter().chain(xs.iter()).collect::<Vec<_>>())?
    };
    let bd = match &q.breakdown {
        Some(f) => {
            let t = super::fields::Field::parse(f)?.text_sql(sql)?;
            format!("coalesce({t}, '')")
        }
        None => "''".into(),
    };
    // With a pre-filter the rows already match a step or exclusion: no second JSON pass.
    let any = if pre.is_empty() {
        format!(" AND ({})", any.join(" OR "))
    } else {
        String::new()
    };
    let base = format!(
        "SELECT person, ts, {}, {bd} AS bdv FROM {} WHERE person IS NOT NULL{any}",
        cols.join(", "),
        p.frame_events_pre(&pre, &[])?,
    );
    if sql.is_ch() {
        super::funnel_ch::ch_per_person(q, n, &base, window_ms)
    } else {
        Ok(window_per_person(p, q, n, &base, window_ms))
    }
}

const BEFORE: &str = "(PARTITION BY person ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)";

fn window_per_person(p: &Prepared<'_>, q: &FunnelQuery, n: usize, base: &str, w: i64) -> String {
    let sql = &p.sql;
    let first_key = "(CASE WHEN s1 = 1 THEN ts ELSE 9000000000000000000 END)";
    let bd = sql.first_by("bdv", first_key);
    if q.mode == FunnelMode::AnyOrder {
        let after = format!("(PARTITION BY person ORDER BY ts RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING)");
        let nexts: Vec<String> = (1..=n)
            .map(|i| format!("min(CASE WHEN s{i} = 1 THEN ts END) OVER {after} AS nx{i}"))
            .collect();
        let is_start: Vec<String> = (1..=n).map(|i| format!("s{i} = 1")).collect();
        let cnt: Vec<String> = (1..=n)
            .map(|i| format!("(CASE WHEN nx{i} IS NOT NULL THEN 1 ELSE 0 END)"))
            .collect();
        let span = format!(
            "greatest({}) - ts",
            (1..=n).map(|i| format!("nx{i}")).collect::<Vec<_>>().join(", ")
        );
        let span = if n == 1 { "0".to_string() } else { span };
        let key = format!("(CASE WHEN cnt = {n} THEN ts ELSE 9000000000000000000 END)");
        let mut t_cols: Vec<String> = (2..n).map(|k| format!("CAST(NULL AS BIGINT) AS t{k}")).collect();
        t_cols.push(format!(
            "{} AS t{n}",
            sql.first_by(&format!("(CASE WHEN cnt = {n} THEN span END)"), &key)
        ));
        return format!(
            "(SELECT person, max(CASE WHEN {} THEN cnt ELSE 0 END) AS lvl, {}, {bd} AS bd FROM \
             (SELECT *, {} AS cnt, {span} AS span FROM (SELECT *, {} FROM ({base}) AS f0) AS f1) AS f2 GROUP BY person)",
            is_start.join(" OR "),
            t_cols.join(", "),
            cnt.join(" + "),
            nexts.join(", "),
        );
    }
    let strict = q.mode == FunnelMode::Strict;
    let mut extra = vec!["CASE WHEN s1 = 1 THEN ts END AS b1".to_string()];
    for e in 1..=q.exclusions.len() {
        extra.push(format!(
            "max(CASE WHEN x{e} = 1 THEN ts END) OVER {BEFORE} AS lx{e}"
        ));
    }
    if strict {
        extra.push(format!("max(ts) OVER {BEFORE} AS pts"));
    }
    // One materialized CTE per step: nesting the window layers as subqueries makes DuckDB's
    // optimizer exponential in the number of steps (seconds at 16 steps).
    let mut ctes = vec![format!(
        "l1 AS MATERIALIZED (SELECT *, {} FROM ({base}) AS f0)",
        extra.join(", ")
    )];
    for j in 1..n {
        let mut conds = vec![
            format!("s{} = 1", j + 1),
            format!("d{j} IS NOT NULL"),
            format!("ts - p{j} <= {w}"),
        ];
        for (e, x) in q.exclusions.iter().enumerate() {
            let (a, b) = x.steps(n);
            if a <= j && j < b {
                let cmp = if j == a { ">=" } else { ">" };
                conds.push(format!("(lx{0} IS NULL OR d{j} {cmp} lx{0})", e + 1));
            }
        }
        if strict {
            conds.push(format!("d{j} = pts"));
        }
        ctes.push(format!(
            "l{} AS MATERIALIZED (SELECT *, CASE WHEN {} THEN p{j} END AS b{} FROM (SELECT *, max(b{j}) OVER {BEFORE} AS p{j}, \
             max(CASE WHEN b{j} IS NOT NULL THEN ts END) OVER {BEFORE} AS d{j} FROM l{j}) AS w{j})",
            j + 1,
            conds.join(" AND "),
            j + 1
        ));
    }
    let lvl: String = (1..=n)
        .rev()
        .map(|k| format!(" WHEN b{k} IS NOT NULL THEN {k}"))
        .collect();
    let times: Vec<String> = (2..=n)
        .map(|k| format!("min(CASE WHEN b{k} IS NOT NULL THEN ts END) - min(b{k}) AS t{k}"))
        .collect();
    let times = if times.is_empty() {
        String::new()
    } else {
        format!("{}, ", times.join(", "))
    };
    format!(
        "(WITH {} SELECT person, max(CASE{lvl} ELSE 0 END) AS lvl, {times}{bd} AS bd FROM l{n} GROUP BY person)",
        ctes.join(", ")
    )
}
