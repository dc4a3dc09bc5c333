//! Per-person funnel progress in SQL: one row per person with `lvl` (furthest step reached),
//! `t2..tN` (ms from step 1 to step k on the first reach of step k) and `bd` (first-touch
//! breakdown value). Persons reaching no step may be left out: callers read `lvl >= 1` only. Two renderings of one algorithm, checked against each other by the
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
//!
//! **Rows** ([`flagged_base`]): only the events named by a step or an exclusion are scanned, their
//! flags (with the JSON property filters) are evaluated once, and only flagged rows look up their
//! person (the identity join is the cost of person-level queries); the window layers then carry
//! just `person, ts`, the flags and the breakdown value.

use super::QueryError;
use super::fields::{Field, event_match_sql, filter_uses_person, pre_filter};
use super::funnel::{FunnelMode, FunnelQuery};
use super::scope::Prepared;
use super::spec::EventMatch;

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
    let bd = match &q.breakdown {
        Some(f) => {
            let t = Field::parse(f)?.text_sql(sql)?;
            format!("coalesce({t}, '')")
        }
        None => "''".into(),
    };
    let base = match flagged_base(p, q, &cols, &bd)? {
        Some(base) => base,
        None => plain_base(p, q, &cols, &any, &bd)?,
    };
    if sql.is_ch() {
        super::funnel_ch::ch_per_person(q, n, &base, window_ms)
    } else {
        Ok(window_per_person(p, q, n, &base, window_ms))
    }
}

/// The funnel's rows (`person, ts, s1.., x1.., bdv`) with the step and exclusion flags computed
/// once per event *before* the identity join: the scan keeps the events named by a step or
/// exclusion (all tracked events in strict mode), the flags (with their JSON filters) are
/// evaluated on those, the rows flagged by nothing are dropped, and only the rest look up their
/// person. `None` when a filter or the breakdown reads `person`, or the scope has conditions on
/// `person` mixed with other fields: [`plain_base`] then resolves every candidate event first.
fn flagged_base(
    p: &Prepared<'_>,
    q: &FunnelQuery,
    cols: &[String],
    bd: &str,
) -> Result<Option<String>, QueryError> {
    let xs: Vec<EventMatch> = q.exclusions.iter().map(|x| x.matcher()).collect();
    let matchers: Vec<&EventMatch> = q.steps.iter().chain(&xs).collect();
    let reads_person = matchers
        .iter()
        .any(|m| m.filters.as_ref().is_some_and(filter_uses_person))
        || match &q.breakdown {
            Some(b) => Field::parse(b)? == Field::Text("person"),
            None => false,
        };
    if reads_person || !p.person_only {
        return Ok(None);
    }
    let sql = &p.sql;
    let strict = q.mode == FunnelMode::Strict;
    let mut pre = p.row_conds.clone();
    if !strict && !matchers.iter().any(|m| m.is_any()) {
        let names = matchers
            .iter()
            .map(|m| Ok(format!("event = {}", sql.lit(&m.event)?)))
            .collect::<Result<Vec<_>, QueryError>>()?;
        pre.push(format!("({})", names.join(" OR ")));
    }
    let conds = sql.event_conds(
        &p.ctx.project_id,
        Some(p.frame.from_ms),
        Some(p.frame.to_ms),
        p.include_bots,
        &pre,
    )?;
    let keyed = p.keyed();
    let ids: Vec<String> = sql
        .rollup_ids(keyed)
        .iter()
        .map(|(e, a)| format!("{e} AS {a}"))
        .collect();
    let mut flags: Vec<String> = (1..=q.steps.len()).map(|i| format!("s{i} = 1")).collect();
    flags.extend((1..=q.exclusions.len()).map(|e| format!("x{e} = 1")));
    let mut carried: Vec<String> = (1..=q.steps.len()).map(|i| format!("s{i}")).collect();
    carried.extend((1..=q.exclusions.len()).map(|e| format!("x{e}")));
    let tracked = if strict {
        flags.push("tk = 1".into());
        format!(
            ", {} AS tk",
            sql.flag("type NOT IN ('identify', 'group', 'alias')")
        )
    } else {
        String::new()
    };
    let flagged = format!(
        "SELECT * FROM (SELECT {}, ts, {}, {bd} AS bdv{tracked} FROM {} WHERE {}) AS fl WHERE {}",
        ids.join(", "),
        cols.join(", "),
        crate::store::events_from(sql.dialect, "e"),
        conds.join(" AND "),
        flags.join(" OR ")
    );
    let mut keep: Vec<&str> = vec!["ts"];
    keep.extend(carried.iter().map(String::as_str));
    keep.push("bdv");
    let resolved = sql.rollup_person(&p.ctx.project_id, &flagged, &keep, keyed)?;
    let mut filter = vec!["person IS NOT NULL".to_string()];
    filter.extend(p.person_conds.iter().cloned());
    Ok(Some(format!(
        "SELECT person, {} FROM ({resolved}) AS rp WHERE {}",
        keep.join(", "),
        filter.join(" AND ")
    )))
}

/// The funnel's rows by the general plan: every candidate event with its person, then the flags.
fn plain_base(
    p: &Prepared<'_>,
    q: &FunnelQuery,
    cols: &[String],
    any: &[String],
    bd: &str,
) -> Result<String, QueryError> {
    let sql = &p.sql;
    // Only rows matching a step or exclusion are read (strict mode also needs the rest).
    let pre = if q.mode == FunnelMode::Strict {
        Vec::new()
    } else {
        let xs: Vec<_> = q.exclusions.iter().map(|x| x.matcher()).collect();
        pre_filter(sql, &q.steps.iter().chain(xs.iter()).collect::<Vec<_>>())?
    };
    // With a pre-filter the rows already match a step or exclusion: no second JSON pass.
    let any = if pre.is_empty() {
        format!(" AND ({})", any.join(" OR "))
    } else {
        String::new()
    };
    Ok(format!(
        "SELECT person, ts, {}, {bd} AS bdv FROM {} WHERE person IS NOT NULL{any}",
        cols.join(", "),
        p.frame_events_pre(&pre, &[])?,
    ))
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
    // Columns every layer carries: the latest excluded event before the row (per exclusion) and,
    // in strict mode, the time of the previous row (both over all rows, computed in `l1`).
    let mut carried: Vec<String> = (1..=q.exclusions.len()).map(|e| format!("lx{e}")).collect();
    let mut first = vec!["CASE WHEN s1 = 1 THEN ts END AS b".to_string()];
    for e in 1..=q.exclusions.len() {
        first.push(format!(
            "max(CASE WHEN x{e} = 1 THEN ts END) OVER {BEFORE} AS lx{e}"
        ));
    }
    if strict {
        first.push(format!("max(ts) OVER {BEFORE} AS pts"));
        carried.push("pts".into());
    }
    let steps_from = |k: usize| -> Vec<String> { (k..=n).map(|m| format!("s{m}")).collect() };
    let cols =
        |items: &[Vec<String>]| -> String { items.iter().flatten().map(|c| format!(", {c}")).collect() };
    // Layer j holds the rows that can still matter for steps > j, with `b` = the start of the
    // best chain reaching step j at that row (NULL when none). One materialized CTE per step:
    // nesting the window layers as subqueries makes DuckDB's optimizer exponential in the number
    // of steps (seconds at 16 steps).
    let mut ctes = vec![format!(
        "l1 AS MATERIALIZED (SELECT person, ts, bdv{}, {} FROM ({base}) AS f0)",
        cols(&[steps_from(2)]),
        first.join(", ")
    )];
    for j in 1..n {
        // Only rows that reached step j (they carry the starts) or match a later step can
        // change a later step: the others are dropped before the window. Not before the first
        // window: DuckDB would push that filter into `l1`'s scan and evaluate the step flags
        // (JSON filters) once more per scanned event, and `l1` only holds flagged rows anyway.
        let later: Vec<String> = steps_from(j + 1).iter().map(|c| format!("{c} = 1")).collect();
        let prune = if j == 1 {
            String::new()
        } else {
            format!(" WHERE b IS NOT NULL OR {}", later.join(" OR "))
        };
        let input = format!(
            "SELECT person, ts, b{} FROM l{j}{prune}",
            cols(&[steps_from(j + 1), carried.clone()]),
        );
        // `p` (the latest start) is defined exactly when `d` (the time of the latest row
        // reaching step j) is: the second window is only computed when a condition reads it.
        let mut conds = vec![
            format!("s{} = 1", j + 1),
            "p IS NOT NULL".to_string(),
            format!("ts - p <= {w}"),
        ];
        let mut reads_d = strict;
        for (e, x) in q.exclusions.iter().enumerate() {
            let (a, b) = x.steps(n);
            if a <= j && j < b {
                let cmp = if j == a { ">=" } else { ">" };
                conds.push(format!("(lx{0} IS NULL OR d {cmp} lx{0})", e + 1));
                reads_d = true;
            }
        }
        if strict {
            conds.push("d = pts".into());
        }
        let latest_time = if reads_d {
            format!(", max(CASE WHEN b IS NOT NULL THEN ts END) OVER {BEFORE} AS d")
        } else {
            String::new()
        };
        ctes.push(format!(
            "l{} AS MATERIALIZED (SELECT person, ts{}, CASE WHEN {} THEN p END AS b FROM \
             (SELECT *, max(b) OVER {BEFORE} AS p{latest_time} FROM ({input}) AS i{j}) AS w{j})",
            j + 1,
            cols(&[steps_from(j + 2), carried.clone()]),
            conds.join(" AND ")
        ));
    }
    // Every row reaching some step k, then per person: the furthest step, and the time from
    // the start on the first row reaching step k (starts only grow along the rows).
    let reached: Vec<String> = (1..=n)
        .map(|k| {
            let bdv = if k == 1 {
                "bdv".to_string()
            } else {
                sql.text("NULL")
            };
            format!("SELECT person, {k} AS k, ts, b, {bdv} AS bdv FROM l{k} WHERE b IS NOT NULL")
        })
        .collect();
    let times: String = (2..=n)
        .map(|k| format!("min(CASE WHEN k = {k} THEN ts END) - min(CASE WHEN k = {k} THEN b END) AS t{k}, "))
        .collect();
    let bd = if q.breakdown.is_some() {
        sql.first_by("bdv", "(CASE WHEN k = 1 THEN ts ELSE 9000000000000000000 END)")
    } else {
        "''".to_string()
    };
    format!(
        "(WITH {} SELECT person, max(k) AS lvl, {times}{bd} AS bd FROM ({}) AS r GROUP BY person)",
        ctes.join(", "),
        reached.join(" UNION ALL ")
    )
}
