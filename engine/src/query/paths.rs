//! Paths: what people do after an event — the most common sequences of steps (PostHog's Paths,
//! Amplitude's Journeys).
//!
//! ```json
//! {"kind": "paths", "start": "page_view", "steps": 4, "node": "properties.path", "limit": 20}
//! ```
//!
//! Steps are what people do — `track`, `page` and `screen` calls; `identify`, `group` and `alias`
//! calls are not steps. Per person with a `start` event in the range: their events from the
//! first such event on (the
//! range's end bounds them), in time order. With `end` instead (`{"kind": "paths", "end":
//! "sign_up"}`: what leads there): per person with an `end` event in the range, their events up
//! to and including the first such event (the range's start bounds them), and the path is the
//! last `steps` names, ending with the end event's. A step is named by the `node` field's text — or by
//! the event name when the event has no such field or it is empty (so `properties.path` names
//! page views by their path and every other event by its name); consecutive repeats of a name
//! collapse into one step (a reload, a double click), unless `collapse_repeats: false`; the
//! path is the first `steps` names (fewer when the person did fewer things). The answer: the
//! `limit` most common paths with the number of persons who took each, most persons first (ties
//! by the steps, bytewise; a path that ended sorts before its longer continuations), and the
//! number of persons who did the start event at all.
//!
//! Events are ordered by time, then the start event before others (the end event after others) at
//! the same instant, then message id (a total order, the same on every backend). DuckDB and PostgreSQL number each
//! person's rows with window functions; ClickHouse 18.16 has none, so it sorts each person's
//! events into one array and slices it (see [`ch_paths`]).

use serde::{Deserialize, Serialize};

use super::fields::{Field, event_match_sql};
use super::normalize::rows;
use super::scope::Prepared;
use super::spec::{EventMatch, de_event_match, de_opt_event_match, scoped_spec};
use super::sql::Sql;
use super::{QueryContext, QueryError};
use crate::store::{Dialect, Store};

fn any_event() -> EventMatch {
    EventMatch::named("*")
}
fn default_steps() -> usize {
    4
}
fn default_node() -> String {
    "event".into()
}
fn default_limit() -> usize {
    20
}
fn yes() -> bool {
    true
}

/// Longest path (steps, the start included).
pub const MAX_STEPS: usize = 10;
/// Most paths in one answer.
pub const MAX_PATHS: usize = 100;

scoped_spec! {
    /// Paths (see the module doc).
    pub struct PathsQuery {
        /// The event paths start at: each person's first in the range. Default `*` (a person's
        /// first event).
        #[serde(default = "any_event", deserialize_with = "de_event_match")]
        pub start: EventMatch,
        /// Paths that lead to this event instead (each person's first in the range); `start` is
        /// then left at its default. Default: none.
        #[serde(default, deserialize_with = "de_opt_event_match", skip_serializing_if = "Option::is_none")]
        pub end: Option<EventMatch>,
        /// Steps per path, the start included: 2–10. Default 4.
        #[serde(default = "default_steps")]
        pub steps: usize,
        /// The field that names a step (`event`, the default; `properties.path`, `browser`, ...);
        /// events without it are named by their event name.
        #[serde(default = "default_node")]
        pub node: String,
        /// Paths in the answer, most common first: 1–100. Default 20.
        #[serde(default = "default_limit")]
        pub limit: usize,
        /// Consecutive repeats of a step count once. Default `true`.
        #[serde(default = "yes")]
        pub collapse_repeats: bool,
    }
}

impl PathsQuery {
    pub fn new(start: EventMatch, steps: usize) -> Self {
        Self::from_fields(start, None, steps, default_node(), default_limit(), true)
    }

    /// Paths of `steps` steps that lead to `end`.
    pub fn to(end: EventMatch, steps: usize) -> Self {
        Self::from_fields(
            any_event(),
            Some(end),
            steps,
            default_node(),
            default_limit(),
            true,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathCount {
    /// The step names in time order (the start first; with `end`, the end last).
    pub steps: Vec<String>,
    pub persons: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathsResult {
    /// Persons with a start (or end) event in the range.
    pub persons: i64,
    /// The most common paths, most persons first.
    pub paths: Vec<PathCount>,
}

pub async fn get_paths(
    store: &dyn Store,
    ctx: &QueryContext,
    q: &PathsQuery,
) -> Result<PathsResult, QueryError> {
    if !(2..=MAX_STEPS).contains(&q.steps) {
        return Err(QueryError::Invalid(format!(
            "steps must be between 2 and {MAX_STEPS}"
        )));
    }
    if !(1..=MAX_PATHS).contains(&q.limit) {
        return Err(QueryError::Invalid(format!(
            "limit must be between 1 and {MAX_PATHS}"
        )));
    }
    let p = Prepared::new(store, ctx, &q.scope()).await?;
    let sql = &p.sql;
    let field = Field::parse(&q.node).map_err(|e| QueryError::Invalid(format!("node: {e}")))?;
    let node = match field {
        Field::Text("event") => "event".to_string(),
        f => format!("coalesce(nullIf({}, ''), event)", f.text_sql(sql)?),
    };
    let anchor = match &q.end {
        Some(_) if !q.start.is_any() || q.start.filters.is_some() => {
            return Err(QueryError::Invalid(
                "give `start` or `end`, not both: paths start at an event or lead to one".into(),
            ));
        }
        Some(end) => end,
        None => &q.start,
    };
    let anchor = sql.flag(&event_match_sql(sql, anchor)?);
    // Steps are what people do: track, page and screen calls (not identify, group or alias).
    let actions = ["type IN ('track', 'page', 'screen')".to_string()];
    let events = format!(
        "SELECT person, ts, message_id, {anchor} AS s, {node} AS node FROM {}",
        p.frame_events_pre(&actions, &[])?
    );
    let per_person = match (sql.is_ch(), q.end.is_some()) {
        (true, false) => ch_paths(&events, q),
        (true, true) => ch_paths_to(&events, q),
        (false, false) => window_paths(&events, q),
        (false, true) => window_paths_to(&events, q),
    };
    let cols: Vec<String> = (1..=q.steps).map(|k| format!("n{k}")).collect();
    let order: Vec<String> = cols
        .iter()
        .map(|c| bytewise(sql, &format!("coalesce({c}, '')")))
        .collect();
    // Every person with a start (end) event has one path, so the persons are the sum over all
    // paths: a window over the groups on DuckDB/PostgreSQL (before the LIMIT); on ClickHouse
    // 18.16 (no window functions) a second, cheaper statement counts the persons with one.
    let total_col = if sql.is_ch() {
        ""
    } else {
        ", sum(count(*)) OVER () AS total"
    };
    let text = format!(
        "SELECT {c}, count(*) AS persons{total_col} FROM ({per_person}) AS pp GROUP BY {c} \
         ORDER BY persons DESC, {o} LIMIT {limit}",
        c = cols.join(", "),
        o = order.join(", "),
        limit = q.limit,
    );
    let found = p.run(&text).await?;
    let persons = if sql.is_ch() {
        let total = format!("SELECT uniqExact(person) FROM ({events}) WHERE s = 1");
        rows(&p.run(&total).await?).next().map(|r| r.i64(0)).transpose()?
    } else {
        rows(&found).next().map(|r| r.i64(q.steps + 1)).transpose()?
    };
    let mut out = PathsResult {
        persons: persons.unwrap_or(0),
        paths: Vec::new(),
    };
    for r in rows(&found) {
        let mut steps = Vec::new();
        for k in 0..q.steps {
            match r.opt_str(k) {
                Some(name) => steps.push(name),
                None => break,
            }
        }
        out.paths.push(PathCount {
            steps,
            persons: r.i64(q.steps)?,
        });
    }
    Ok(out)
}

/// `expr` compared bytewise (PostgreSQL text from JSON has the database's collation).
fn bytewise(sql: &Sql, expr: &str) -> String {
    match sql.dialect {
        Dialect::Postgres => format!("{expr} COLLATE \"C\""),
        _ => expr.to_string(),
    }
}

/// DuckDB / PostgreSQL: a person's rows from their first start on (`ts >= t0`, never true for a
/// person without a start: `t0` is NULL), repeats dropped with `lag`,
/// numbered with `row_number`, the first `steps` pivoted into `n1..nK` (NULL after the end).
fn window_paths(events: &str, q: &PathsQuery) -> String {
    let order = "ORDER BY ts, 1 - s, message_id";
    // One pass: each row with its person's first start time (no self-join, which PostgreSQL
    // plans as a nested loop over the identity join).
    let from_start = format!(
        "SELECT person, ts, s, message_id, node FROM (SELECT *, min(CASE WHEN s = 1 THEN ts END) \
         OVER (PARTITION BY person) AS t0 FROM ({events}) AS e) AS f WHERE ts >= t0"
    );
    let kept = if q.collapse_repeats {
        format!(
            "SELECT * FROM (SELECT *, lag(node) OVER (PARTITION BY person {order}) AS prev FROM ({from_start}) AS j) AS l \
             WHERE prev IS NULL OR prev <> node"
        )
    } else {
        from_start
    };
    format!(
        "SELECT person, {} FROM (SELECT person, node, row_number() OVER (PARTITION BY person {order}) AS rn \
         FROM ({kept}) AS k) AS r WHERE rn <= {} GROUP BY person",
        pivot(q.steps, "rn"),
        q.steps
    )
}

/// `n1..nK` of each person's rows numbered 1..K by `pos` (NULL where no row has that number).
fn pivot(steps: usize, pos: &str) -> String {
    let cols: Vec<String> = (1..=steps)
        .map(|k| format!("max(CASE WHEN {pos} = {k} THEN node END) AS n{k}"))
        .collect();
    cols.join(", ")
}

/// DuckDB / PostgreSQL, paths that lead to the end event (`s` flags it here): each person's rows
/// numbered in time order (the end event after others at its instant), those up to their first
/// end kept, repeats dropped, the last `steps` numbered backwards and pivoted forwards.
fn window_paths_to(events: &str, q: &PathsQuery) -> String {
    let order = "ORDER BY ts, s, message_id";
    let upto = format!(
        "SELECT * FROM (SELECT *, min(CASE WHEN s = 1 THEN rn END) OVER (PARTITION BY person) AS re FROM \
         (SELECT *, row_number() OVER (PARTITION BY person {order}) AS rn FROM ({events}) AS e) AS n) AS f \
         WHERE rn <= re"
    );
    let kept = if q.collapse_repeats {
        format!(
            "SELECT * FROM (SELECT *, lag(node) OVER (PARTITION BY person {order}) AS prev FROM ({upto}) AS j) AS l \
             WHERE prev IS NULL OR prev <> node"
        )
    } else {
        upto
    };
    let k = q.steps;
    format!(
        "SELECT person, {} FROM (SELECT person, node, least(count(*) OVER (PARTITION BY person), {k}) - rd + 1 AS pos \
         FROM (SELECT person, node, row_number() OVER (PARTITION BY person ORDER BY ts DESC, s DESC, message_id DESC) AS rd \
         FROM ({kept}) AS k) AS r) AS b WHERE pos >= 1 GROUP BY person",
        pivot(k, "pos")
    )
}

/// ClickHouse, paths that lead to the end event (`s` flags it): each person's `(ts, s, message_id,
/// node)` sorted (the end after others at its instant), cut after the first end, repeats
/// dropped as in [`ch_paths`], the last `steps` names.
fn ch_paths_to(events: &str, q: &PathsQuery) -> String {
    let head = "arraySlice(arrayMap(x -> x.4, a), 1, i)";
    let path = if q.collapse_repeats {
        format!(
            "arrayFilter((x, y, j) -> j = 1 OR x != y, {head}, arrayPushFront(arrayPopBack({head}), ''), \
             arrayEnumerate({head}))"
        )
    } else {
        head.to_string()
    };
    format!(
        "SELECT {} FROM (SELECT arraySlice({path}, -{}) AS p FROM \
         (SELECT arraySort(groupArray((ts, s, message_id, node))) AS a, arrayFirstIndex(x -> x.2 = 1, a) AS i \
          FROM ({events}) GROUP BY person HAVING i > 0))",
        ch_columns(q.steps),
        q.steps
    )
}

/// `n1..nK` from a path array `p` (NULL after its end).
fn ch_columns(steps: usize) -> String {
    let cols: Vec<String> = (1..=steps)
        .map(|k| format!("if(length(p) >= {k}, p[{k}], NULL) AS n{k}"))
        .collect();
    cols.join(", ")
}

/// ClickHouse: each person's `(ts, 1 - s, message_id, node)` sorted into one array, sliced from
/// the first start; repeats dropped by comparing the names with the same array shifted by one
/// (no lambda captures an array: that would copy it per element); `n1..nK` NULL after the end.
fn ch_paths(events: &str, q: &PathsQuery) -> String {
    let tail = "arraySlice(arrayMap(x -> x.4, a), i)";
    let path = if q.collapse_repeats {
        format!(
            "arrayFilter((x, y, j) -> j = 1 OR x != y, {tail}, arrayPushFront(arrayPopBack({tail}), ''), \
             arrayEnumerate({tail}))"
        )
    } else {
        tail.to_string()
    };
    format!(
        "SELECT {} FROM (SELECT arraySlice({path}, 1, {}) AS p FROM \
         (SELECT arraySort(groupArray((ts, 1 - s, message_id, node))) AS a, arrayFirstIndex(x -> x.2 = 0, a) AS i \
          FROM ({events}) GROUP BY person HAVING i > 0))",
        ch_columns(q.steps),
        q.steps
    )
}
