//! Per-person rollups: one row per (person, keys) with partial aggregates, computed with the
//! identity join *after* a first aggregation.
//!
//! Resolving the person of every scanned event (a join of millions of rows with `identities`)
//! is the main cost of person-level queries (DAU, retention, adoption, distinct counts). A
//! rollup instead
//!
//! 1. groups the scoped events by their raw identity ([`Sql::rollup_ids`]: the user id, or the
//!    anonymous id when there is none) and the keys (a day, a week, a dimension), computing
//!    partial aggregates: millions of events become one row per (raw id, key);
//! 2. resolves each row's person with one identity join ([`Sql::rollup_person`]), which only rows
//!    without a user id probe;
//! 3. merges the rows of the same (person, keys): several anonymous ids and the user id of one
//!    person fall together here.
//!
//! **Integer keys.** When the scope has no condition on `person` ([`Prepared::keyed`]), the
//! raw identity is the stored integer `rid_key` and `person` the person's integer key (see
//! [`crate::store::id_key`]): the first aggregation, the identity join and the merge are all
//! keyed by 64-bit integers (DAU, retention and adoption take 2–2.4× less CPU than by the id
//! strings at 10M events, and the scan no longer reads the strings). Such a `person` is for counting, grouping and joining persons
//! of keyed rollups only; it equals the string plan's person up to key collisions (≈ n²/2⁶³
//! over n ids). A scope that filters on `person` (a segment, `person = x`) compares strings,
//! so its rollups keep the string plan; so do rollups whose conditions read `person` (the
//! plain plan below).
//!
//! Bucketed activity (days of DAU, weeks of retention, values of a low-cardinality dimension)
//! is best carried as bit masks merged with [`Merge::BitOr`] rather than as keys: see
//! [`super::mask`].
//!
//! The result is exactly that of grouping the events-with-person relation by (person, keys),
//! because the person is a function of the raw identity and the merges (`max`, `min`, `sum` of
//! integers) are associative. When a condition reads `person` other than through a
//! person-only scope condition (a filter such as `person = x OR event = y`), the rollup falls
//! back to that plain plan.

use super::QueryError;
use super::scope::Prepared;
use super::sql::Sql;

/// How partial aggregates of one person and key are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    Max,
    Min,
    /// Only for integers: a float sum depends on the order of additions.
    Sum,
    /// Bitwise OR of 64-bit integers (the bucket masks of [`Mask`]).
    BitOr,
}

impl Merge {
    /// The SQL aggregate that merges the partial values `expr`.
    pub fn apply(self, sql: &Sql, expr: &str) -> String {
        match self {
            Merge::Max => format!("max({expr})"),
            Merge::Min => format!("min({expr})"),
            Merge::Sum => format!("sum({expr})"),
            Merge::BitOr => sql.bit_or_agg(expr),
        }
    }
}

/// One aggregate column of a rollup.
#[derive(Debug, Clone)]
pub struct Agg {
    /// Output column name (not `person`, `rid`, `ru` or a key's alias).
    pub alias: String,
    /// The aggregate over events, e.g. `max(CASE WHEN … THEN 1 ELSE 0 END)`, `count(*)`.
    pub expr: String,
    pub merge: Merge,
}

impl Agg {
    /// `value` (this aggregate or its merge) with the column's type: integer sums as 64-bit
    /// integers (DuckDB would widen them to HUGEINT, whose merge costs twice a BIGINT's).
    fn typed(&self, sql: &Sql, value: &str) -> String {
        match self.merge {
            Merge::Sum | Merge::BitOr => sql.int(value),
            Merge::Max | Merge::Min => value.to_string(),
        }
    }

    pub fn new(alias: &str, expr: impl Into<String>, merge: Merge) -> Self {
        Agg {
            alias: alias.into(),
            expr: expr.into(),
            merge,
        }
    }
}

/// A rollup request (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Rollup {
    /// `from_ms <= ts < to_ms` (either optional).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Conditions over the event columns; they may read `person` only when `reads_person`.
    pub conds: Vec<String>,
    /// Grouping keys as (expression over the event columns, alias).
    pub keys: Vec<(String, String)>,
    pub aggs: Vec<Agg>,
    /// Whether `conds`, key or aggregate expressions read `person` (forces the plain plan).
    pub reads_person: bool,
    /// Keep events without a person (one group with `person` NULL per key); default: dropped.
    pub keep_null_person: bool,
}

impl Prepared<'_> {
    /// The rollup as a query (not parenthesized) with the columns `person`, the keys' aliases
    /// and the aggregates' aliases, one row per (person, keys).
    pub fn rollup(&self, r: &Rollup) -> Result<String, QueryError> {
        let key_exprs: Vec<&str> = r.keys.iter().map(|(e, _)| e.as_str()).collect();
        let key_cols: Vec<String> = r.keys.iter().map(|(e, a)| format!("{e} AS {a}")).collect();
        let null_filter = if r.keep_null_person {
            "1 = 1"
        } else {
            "person IS NOT NULL"
        };
        if r.reads_person || !self.person_only {
            // Plain plan: resolve every event, then group.
            let (pre, post): (&[String], &[String]) = if r.reads_person {
                (&[], &r.conds)
            } else {
                (&r.conds, &[])
            };
            let rel = self.events_pre(r.from_ms, r.to_ms, pre, post)?;
            let aggs: Vec<String> = r
                .aggs
                .iter()
                .map(|a| format!("{} AS {}", a.typed(&self.sql, &a.expr), a.alias))
                .collect();
            return Ok(format!(
                "SELECT {} FROM {rel} WHERE {null_filter} GROUP BY {}",
                list(&["person".to_string()], &key_cols, &aggs),
                list(&["person".to_string()], &key_exprs, &[] as &[String])
            ));
        }
        let sql = &self.sql;
        let keyed = self.keyed();
        let ids = sql.rollup_ids(keyed);
        let id_cols: Vec<String> = ids.iter().map(|(e, a)| format!("{e} AS {a}")).collect();
        let id_exprs: Vec<&str> = ids.iter().map(|(e, _)| e.as_str()).collect();
        let pre: Vec<String> = self.row_conds.iter().chain(&r.conds).cloned().collect();
        let conds = sql.event_conds(&self.ctx.project_id, r.from_ms, r.to_ms, self.include_bots, &pre)?;
        let partial: Vec<String> = r
            .aggs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{} AS _p{i}", a.typed(sql, &a.expr)))
            .collect();
        let first = format!(
            "SELECT {} FROM {} WHERE {} GROUP BY {}",
            list(&id_cols, &key_cols, &partial),
            crate::store::events_from(sql.dialect, "e"),
            conds.join(" AND "),
            list(&id_exprs, &key_exprs, &[] as &[String]),
        );
        let key_aliases: Vec<&str> = r.keys.iter().map(|(_, a)| a.as_str()).collect();
        let partial_aliases: Vec<String> = (0..r.aggs.len()).map(|i| format!("_p{i}")).collect();
        let mut carried: Vec<&str> = key_aliases.clone();
        carried.extend(partial_aliases.iter().map(String::as_str));
        let resolved = sql.rollup_person(&self.ctx.project_id, &first, &carried, keyed)?;
        let merged: Vec<String> = r
            .aggs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                format!(
                    "{} AS {}",
                    a.typed(sql, &a.merge.apply(sql, &format!("_p{i}"))),
                    a.alias
                )
            })
            .collect();
        let mut filter = vec![null_filter.to_string()];
        filter.extend(self.person_conds.iter().cloned());
        Ok(format!(
            "SELECT {} FROM ({resolved}) AS rp WHERE {} GROUP BY {}",
            list(&["person".to_string()], &key_aliases, &merged),
            filter.join(" AND "),
            list(&["person".to_string()], &key_aliases, &[] as &[String])
        ))
    }
}

/// `a, b, c` of three lists of SQL items.
fn list<A: AsRef<str>, B: AsRef<str>, C: AsRef<str>>(a: &[A], b: &[B], c: &[C]) -> String {
    a.iter()
        .map(|s| s.as_ref())
        .chain(b.iter().map(|s| s.as_ref()))
        .chain(c.iter().map(|s| s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
