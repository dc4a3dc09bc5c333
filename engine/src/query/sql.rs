//! Dialect layer: every piece of SQL text that differs between DuckDB, PostgreSQL and ClickHouse
//! is produced here, so query kinds are written once.
//!
//! * **Literals**: [`Sql::lit`] is the one function that embeds a string in SQL. Standard SQL
//!   doubles single quotes; ClickHouse also treats backslash as an escape, so it gets backslashes
//!   doubled and quotes backslash-escaped. NUL characters are refused (PostgreSQL text cannot hold
//!   them). Numbers go through [`Sql::num`] (finite only).
//! * **Identifiers** never come from specs: JSON keys are validated by
//!   [`super::fields::validate_key`] and then embedded as string literals (function arguments),
//!   never as SQL identifiers.
//! * **JSON**: `properties`, `traits` and `context` are JSON text. [`Sql::json_text`] is the
//!   value's text (a string unquoted, other values as JSON text, NULL when absent or JSON null);
//!   [`Sql::json_num`] is the value when it is a JSON number, else NULL. ClickHouse 18.16 has no
//!   JSON parser beyond `visitParam*`, which finds a key at any nesting depth (the first
//!   occurrence in the text): on ClickHouse `properties.x` may therefore see a nested `x` that
//!   appears before the top-level one. Events written by Footfall rarely nest a key under the same
//!   name, but the difference is documented in the README.

use crate::store::{Dialect, events_from, identities_relation};

use super::QueryError;

/// SQL generation for one dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sql {
    pub dialect: Dialect,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql { dialect }
    }

    pub fn is_ch(&self) -> bool {
        self.dialect == Dialect::ClickHouse
    }

    /// A string literal, escaped for the dialect. The only way spec text enters SQL.
    pub fn lit(&self, s: &str) -> Result<String, QueryError> {
        if s.contains('\0') {
            return Err(QueryError::Invalid(
                "strings may not contain NUL characters".into(),
            ));
        }
        Ok(match self.dialect {
            Dialect::ClickHouse => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Dialect::DuckDb | Dialect::Postgres => format!("'{}'", s.replace('\'', "''")),
        })
    }

    /// A numeric literal (finite numbers only), typed as a double.
    pub fn num(&self, x: f64) -> Result<String, QueryError> {
        if !x.is_finite() {
            return Err(QueryError::Invalid(format!("number {x} is not finite")));
        }
        let text = format!("{x:?}");
        Ok(match self.dialect {
            Dialect::ClickHouse => format!("toFloat64({text})"),
            Dialect::DuckDb | Dialect::Postgres => format!("CAST({text} AS DOUBLE PRECISION)"),
        })
    }

    /// Integer division of non-negative integers.
    pub fn idiv(&self, a: &str, b: i64) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("intDiv({a}, {b})"),
            Dialect::DuckDb => format!("(({a}) // {b})"),
            Dialect::Postgres => format!("(({a}) / {b})"),
        }
    }

    /// 1 when `cond` holds, else 0 (never NULL).
    pub fn flag(&self, cond: &str) -> String {
        format!("(CASE WHEN {cond} THEN 1 ELSE 0 END)")
    }

    /// `position of needle in haystack > 0`.
    pub fn contains(&self, haystack: &str, needle: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("(position({haystack}, {needle}) > 0)"),
            // DuckDB's `contains` is its fast substring search (same result as `strpos > 0`).
            Dialect::DuckDb => format!("contains({haystack}, {needle})"),
            Dialect::Postgres => format!("(strpos({haystack}, {needle}) > 0)"),
        }
    }

    /// A cheap necessary condition for "the JSON value at some path of the JSON text `col` is
    /// the string `value`", to evaluate before parsing the JSON (parsing every row is the cost
    /// of property filters): `col` contains `"value"` literally, or `col` contains a backslash.
    /// Exact: without any backslash in the text, no JSON string in it is escaped, so a string
    /// value equal to `value` appears literally between quotes. `None` when `value` could also
    /// be the text of a non-string JSON value (a number, `true`/`false`, an object or array,
    /// whose text the backend renders) or needs escaping in JSON (quotes, backslashes, control
    /// characters): the caller then parses every row.
    pub fn json_string_precheck(&self, col: &str, value: &str) -> Result<Option<String>, QueryError> {
        let first = match value.chars().next() {
            Some(c) => c,
            None => return Ok(None),
        };
        let lower = value.to_ascii_lowercase();
        let renders_as_non_string = first.is_ascii_digit()
            || first.is_whitespace()
            || matches!(first, '-' | '+' | '.' | '{' | '[')
            || ["true", "false", "null", "inf", "infinity", "nan"].contains(&lower.as_str());
        let needs_escape = value.chars().any(|c| c == '"' || c == '\\' || c.is_control());
        if renders_as_non_string || needs_escape {
            return Ok(None);
        }
        Ok(Some(format!(
            "({} OR {})",
            self.contains(col, &self.lit(&format!("\"{value}\""))?),
            self.contains(col, &self.lit("\\")?)
        )))
    }

    /// `coalesce(cond, false)` so that three-valued logic never leaks into results.
    pub fn not_null_bool(&self, cond: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("(ifNull({cond}, 0) = 1)"),
            _ => format!("coalesce({cond}, false)"),
        }
    }

    /// The text of a JSON value at `path` inside the JSON text column `col`.
    pub fn json_text(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => format!("json_extract_string({col}, {})", self.duck_path(path)?),
            Dialect::Postgres => format!(
                "jsonb_extract_path_text(CAST({col} AS jsonb), {})",
                self.pg_keys(path)?
            ),
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                let raw = format!("visitParamExtractRaw({parent}, {last})");
                format!(
                    "if(substring({raw}, 1, 1) = '\"', visitParamExtractString({parent}, {last}), \
                     nullIf(nullIf({raw}, ''), 'null'))"
                )
            }
        })
    }

    /// The number at `path` when the JSON value there is a number, else NULL.
    pub fn json_num(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => {
                let p = self.duck_path(path)?;
                format!(
                    "(CASE WHEN json_type({col}, {p}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') \
                     THEN TRY_CAST(json_extract_string({col}, {p}) AS DOUBLE) END)"
                )
            }
            Dialect::Postgres => {
                let keys = self.pg_keys(path)?;
                format!(
                    "(CASE WHEN jsonb_typeof(jsonb_extract_path(CAST({col} AS jsonb), {keys})) = 'number' \
                     THEN CAST(jsonb_extract_path_text(CAST({col} AS jsonb), {keys}) AS DOUBLE PRECISION) END)"
                )
            }
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                format!("toFloat64OrNull(visitParamExtractRaw({parent}, {last}))")
            }
        })
    }

    /// Whether `path` is present with a non-null value.
    pub fn json_is_set(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => {
                let p = self.duck_path(path)?;
                format!("coalesce(json_type({col}, {p}) <> 'NULL', false)")
            }
            Dialect::Postgres => {
                let keys = self.pg_keys(path)?;
                format!(
                    "coalesce(jsonb_typeof(jsonb_extract_path(CAST({col} AS jsonb), {keys})) <> 'null', false)"
                )
            }
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                format!("(visitParamExtractRaw({parent}, {last}) NOT IN ('', 'null'))")
            }
        })
    }

    fn duck_path(&self, path: &[String]) -> Result<String, QueryError> {
        // Keys are validated (no quotes, backslashes or control characters), so quoting each
        // key in the JSON path is exact; the whole path is then one escaped literal.
        let p: String = path.iter().map(|k| format!(".\"{k}\"")).collect();
        self.lit(&format!("${p}"))
    }

    fn pg_keys(&self, path: &[String]) -> Result<String, QueryError> {
        Ok(path
            .iter()
            .map(|k| self.lit(k))
            .collect::<Result<Vec<_>, _>>()?
            .join(", "))
    }

    /// ClickHouse: the raw JSON text of the parent object of `path`'s last key, and that key.
    fn ch_parent(&self, col: &str, path: &[String]) -> Result<(String, String), QueryError> {
        let (last, init) = path
            .split_last()
            .ok_or_else(|| QueryError::Invalid("empty JSON path".into()))?;
        let mut parent = col.to_string();
        for k in init {
            parent = format!("visitParamExtractRaw({parent}, {})", self.lit(k)?);
        }
        Ok((parent, self.lit(last)?))
    }

    /// `body` with named subqueries: a `WITH` clause on DuckDB/PostgreSQL (computed once), the
    /// subqueries inlined on ClickHouse 18.16 (no CTEs). `body` and later subqueries refer to a
    /// subquery as `{name}`.
    pub fn with_ctes(&self, ctes: &[(&str, String)], body: &str) -> String {
        if self.is_ch() {
            let mut out = body.to_string();
            for (name, q) in ctes.iter().rev() {
                out = out.replace(&format!("{{{name}}}"), &format!("({q})"));
            }
            out
        } else {
            let mut defs = Vec::new();
            let unbrace = |s: &str| {
                ctes.iter()
                    .fold(s.to_string(), |acc, (n, _)| acc.replace(&format!("{{{n}}}"), n))
            };
            for (name, q) in ctes {
                defs.push(format!("{name} AS ({})", unbrace(q)));
            }
            format!("WITH {} {}", defs.join(", "), unbrace(body))
        }
    }

    /// Count of distinct non-null values.
    pub fn count_distinct(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("uniqExact({expr})"),
            _ => format!("count(DISTINCT {expr})"),
        }
    }

    /// Continuous quantile (linear interpolation between closest ranks, as PostgreSQL's
    /// `percentile_cont`), NULL over no values.
    pub fn quantile(&self, expr: &str, q: f64) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("quantile_cont(CAST({expr} AS DOUBLE), {q:?})"),
            Dialect::Postgres => {
                format!("percentile_cont({q:?}) WITHIN GROUP (ORDER BY CAST({expr} AS DOUBLE PRECISION))")
            }
            Dialect::ClickHouse => {
                let s = format!("arraySort(groupArray(toFloat64({expr})))");
                let pos = format!("(1 + {q:?} * (length({s}) - 1))");
                let lo = format!("arrayElement({s}, toUInt64(floor({pos})))");
                let hi = format!("arrayElement({s}, toUInt64(ceil({pos})))");
                format!("if(length({s}) = 0, NULL, {lo} + ({pos} - floor({pos})) * ({hi} - {lo}))")
            }
        }
    }

    /// The value of `value` on the row with the smallest `key` (ties: smallest `value`).
    pub fn first_by(&self, value: &str, key: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("first({value} ORDER BY {key}, {value} NULLS LAST)"),
            Dialect::Postgres => format!("(array_agg({value} ORDER BY {key}, {value} NULLS LAST))[1]"),
            Dialect::ClickHouse => format!("argMin({value}, ({key}, {value}))"),
        }
    }

    /// The value of `value` on the row with the largest `key` (ties: largest `tiebreak`),
    /// NULLs in `value` skipped.
    pub fn last_by(&self, value: &str, key: &str, tiebreak: &str) -> String {
        match self.dialect {
            Dialect::DuckDb => {
                format!(
                    "first({value} ORDER BY {key} DESC, {tiebreak} DESC) FILTER (WHERE {value} IS NOT NULL)"
                )
            }
            Dialect::Postgres => format!(
                "(array_agg({value} ORDER BY {key} DESC, {tiebreak} DESC) FILTER (WHERE {value} IS NOT NULL))[1]"
            ),
            Dialect::ClickHouse => format!("argMaxIf({value}, ({key}, {tiebreak}), isNotNull({value}))"),
        }
    }

    /// `0..n` as a relation with one column `k`, to expand rows (`CROSS JOIN`).
    pub fn range_relation(&self, n: i64) -> String {
        match self.dialect {
            Dialect::DuckDb => format!("(SELECT range AS k FROM range({n}))"),
            Dialect::Postgres => format!("(SELECT generate_series(0, {}) AS k)", n - 1),
            Dialect::ClickHouse => format!("(SELECT toInt64(number) AS k FROM system.numbers LIMIT {n})"),
        }
    }

    /// The aggregate bitwise OR of non-negative 64-bit integers, as a signed 64-bit integer
    /// (ClickHouse 18.16's `groupBitOr` takes unsigned integers only).
    pub fn bit_or_agg(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("toInt64(groupBitOr(toUInt64({expr})))"),
            _ => format!("bit_or({expr})"),
        }
    }

    /// `1 << n` as a 64-bit integer, for `0 <= n < 63` (an integer expression).
    pub fn bit(&self, n: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("bitShiftLeft(toInt64(1), {n})"),
            _ => format!("(CAST(1 AS BIGINT) << CAST({n} AS INTEGER))"),
        }
    }

    /// Whether bit `n` (a constant, `0 <= n < 63`) of the 64-bit integer `mask` is set.
    pub fn has_bit(&self, mask: &str, n: u32) -> String {
        let b = 1_i64 << n;
        match self.dialect {
            Dialect::ClickHouse => format!("(bitAnd({mask}, {b}) <> 0)"),
            _ => format!("(({mask} & {b}) <> 0)"),
        }
    }

    /// `mask << s` for a non-negative 64-bit `mask` below `2^limit` (`limit <= 62`), the bits
    /// that would reach `2^limit` or above dropped first (DuckDB refuses an overflowing shift).
    pub fn shl_within(&self, mask: &str, s: u32, limit: u32) -> String {
        if s == 0 {
            return mask.to_string();
        }
        let keep = (1_i64 << (limit - s)) - 1;
        match self.dialect {
            Dialect::ClickHouse => format!("bitShiftLeft(bitAnd({mask}, {keep}), {s})"),
            _ => format!("(({mask} & {keep}) << {s})"),
        }
    }

    /// The bitwise OR of 64-bit integers (at least one).
    pub fn bor(&self, items: &[String]) -> String {
        match self.dialect {
            Dialect::ClickHouse => items
                .iter()
                .skip(1)
                .fold(items[0].clone(), |acc, x| format!("bitOr({acc}, {x})")),
            _ => format!("({})", items.join(" | ")),
        }
    }

    /// Integer remainder of non-negative integers.
    pub fn imod(&self, a: &str, b: i64) -> String {
        format!("(({a}) % {b})")
    }

    /// 64-bit integer cast.
    pub fn int(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("toInt64({expr})"),
            _ => format!("CAST({expr} AS BIGINT)"),
        }
    }

    /// Text cast.
    pub fn text(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("toString({expr})"),
            _ => format!("CAST({expr} AS VARCHAR)"),
        }
    }

    /// The conditions selecting the project's non-bot (unless `include_bots`) events with
    /// `from_ms <= ts < to_ms` (either bound optional) from `events AS e`, plus `pre`.
    pub fn event_conds(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<Vec<String>, QueryError> {
        let mut conds = vec![format!("e.project_id = {}", self.lit(project)?)];
        if let Some(f) = from_ms {
            conds.push(format!("e.ts >= {f}"));
        }
        if let Some(t) = to_ms {
            conds.push(format!("e.ts < {t}"));
        }
        if !include_bots {
            conds.push(if self.is_ch() {
                "e.is_bot = 0".into()
            } else {
                "NOT e.is_bot".into()
            });
        }
        conds.extend(pre.iter().cloned());
        Ok(conds)
    }

    /// Like [`Sql::events_with_person`] without the `person` column, hence without the identity
    /// join: for queries that never look at persons.
    pub fn events_without_person(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<String, QueryError> {
        let conds = self.event_conds(project, from_ms, to_ms, include_bots, pre)?;
        Ok(format!(
            "(SELECT * FROM {} WHERE {})",
            events_from(self.dialect, "e"),
            conds.join(" AND ")
        ))
    }

    /// The project's non-bot (unless `include_bots`) events with `from_ms <= ts < to_ms` (either
    /// bound optional) and the conditions `pre` (over the event columns only: they are applied
    /// before the identity join, which is what makes selective queries cheap), plus the resolved
    /// `person` column, as a parenthesized subquery with the events' columns. Callers add their
    /// filters on top (`WHERE` over this relation).
    pub fn events_with_person(
        &self,
        project: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        include_bots: bool,
        pre: &[String],
    ) -> Result<String, QueryError> {
        let p = self.lit(project)?;
        let conds = self.event_conds(project, from_ms, to_ms, include_bots, pre)?;
        let ch = self.is_ch();
        let cols = "project_id, message_id, type, event, ts, received_at, anonymous_id, user_id, \
                    session_id, group_id, browser, os, device_type, is_bot, ip, properties, traits, context";
        if ch {
            let ecols: String = cols
                .split(", ")
                .map(|c| format!("e.{c} AS {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "(SELECT {cols}, coalesce(nullIf(user_id, ''), nullIf(linked_user_id, ''), nullIf(anonymous_id, '')) AS person \
                 FROM (SELECT {ecols}, ifNull(e.anonymous_id, '') AS anon_key FROM {ev} WHERE {w}) \
                 ANY LEFT JOIN (SELECT anonymous_id AS anon_key, user_id AS linked_user_id FROM {ids} AS i WHERE i.project_id = {p}) \
                 USING anon_key)",
                ev = events_from(self.dialect, "e"),
                w = conds.join(" AND "),
                ids = identities_relation(self.dialect),
            ))
        } else {
            let ecols: String = cols
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "(SELECT {ecols}, coalesce(nullif(e.user_id, ''), nullif(i.user_id, ''), nullif(e.anonymous_id, '')) AS person \
                 FROM (SELECT * FROM {ev} WHERE {w}) AS e LEFT JOIN \
                 (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                 ON i.anonymous_id = e.anonymous_id)",
                ev = events_from(self.dialect, "e"),
                w = conds.join(" AND "),
                ids = identities_relation(self.dialect),
            ))
        }
    }

    /// The raw identity of an event row of `events AS e`, for grouping before the identity join
    /// (see [`super::rollup`]), as (expression, alias) pairs.
    ///
    /// `keyed`: the integer key `rid` = `e.rid_key` (see [`crate::store::rid_key`]: bit 0 set for
    /// a user id). Otherwise the strings `(rid, ru)` = (its user id, 1) when it has one, else
    /// (its anonymous id, 0). The person is then `rid` when `ru = 1`, else the user linked to
    /// `rid`, else `rid` (see [`Sql::rollup_person`]). ClickHouse joins on
    /// `ifNull(anonymous_id, '')`, as [`Sql::events_with_person`] does.
    pub fn rollup_ids(&self, keyed: bool) -> Vec<(String, &'static str)> {
        if keyed {
            vec![("e.rid_key".into(), "rid")]
        } else if self.is_ch() {
            vec![
                (
                    "ifNull(coalesce(nullIf(e.user_id, ''), e.anonymous_id), '')".into(),
                    "rid",
                ),
                ("if(isNull(nullIf(e.user_id, '')), 0, 1)".into(), "ru"),
            ]
        } else {
            vec![
                ("coalesce(nullif(e.user_id, ''), e.anonymous_id)".into(), "rid"),
                (
                    "(CASE WHEN nullif(e.user_id, '') IS NULL THEN 0 ELSE 1 END)".into(),
                    "ru",
                ),
            ]
        }
    }

    /// `rel` (a subquery with the columns of [`Sql::rollup_ids`] and `cols`) with them replaced
    /// by the resolved `person`, by one identity join.
    ///
    /// `keyed`: `person` is the person's integer key (`id_key` of the person id): the linked
    /// user's `user_key` when the anonymous key `rid` has a link, else `rid` without its user bit
    /// (a user id's key `id_key(u) | 1` never equals an `anon_key`, which is even, so user rows
    /// never find a link); NULL for `rid = 0` (no id). Otherwise `person` is the person id:
    /// only rows without a user id look up their link (the key is an expression because DuckDB
    /// plans a left join with a condition on the left side alone, `r.ru = 0 AND …`, as a nested
    /// loop).
    pub fn rollup_person(
        &self,
        project: &str,
        rel: &str,
        cols: &[&str],
        keyed: bool,
    ) -> Result<String, QueryError> {
        let p = self.lit(project)?;
        let ids = identities_relation(self.dialect);
        match (self.is_ch(), keyed) {
            (true, true) => {
                let cols: String = cols.iter().map(|c| format!(", {c}")).collect();
                Ok(format!(
                    "SELECT nullIf(if(linked_key != 0, linked_key, bitAnd(rid, toInt64(-2))), 0) AS person{cols} \
                     FROM ({rel}) ANY LEFT JOIN \
                     (SELECT anon_key AS rid, user_key AS linked_key FROM {ids} AS i WHERE i.project_id = {p}) \
                     USING rid"
                ))
            }
            (true, false) => {
                let cols: String = cols.iter().map(|c| format!(", {c}")).collect();
                Ok(format!(
                    "SELECT if(ru = 1, rid, coalesce(nullIf(linked_user_id, ''), nullIf(rid, ''))) AS person{cols} \
                     FROM ({rel}) ANY LEFT JOIN \
                     (SELECT anonymous_id AS rid, user_id AS linked_user_id FROM {ids} AS i WHERE i.project_id = {p}) \
                     USING rid"
                ))
            }
            (false, true) => {
                let cols: String = cols.iter().map(|c| format!(", r.{c}")).collect();
                Ok(format!(
                    "SELECT nullif(coalesce(i.user_key, r.rid & -2), 0) AS person{cols} FROM ({rel}) AS r LEFT JOIN \
                     (SELECT anon_key, user_key FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                     ON i.anon_key = r.rid"
                ))
            }
            (false, false) => {
                let cols: String = cols.iter().map(|c| format!(", r.{c}")).collect();
                Ok(format!(
                    "SELECT CASE WHEN r.ru = 1 THEN r.rid ELSE coalesce(nullif(i.user_id, ''), nullif(r.rid, '')) END \
                     AS person{cols} FROM ({rel}) AS r LEFT JOIN \
                     (SELECT anonymous_id, user_id FROM {ids} AS i0 WHERE i0.project_id = {p}) AS i \
                     ON i.anonymous_id = (CASE WHEN r.ru = 0 THEN r.rid END)"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped_per_dialect() {
        let duck = Sql::new(Dialect::DuckDb);
        let ch = Sql::new(Dialect::ClickHouse);
        let hostile = r"a'b\'; DROP TABLE events; --";
        assert_eq!(duck.lit(hostile).unwrap(), r"'a''b\''; DROP TABLE events; --'");
        assert_eq!(ch.lit(hostile).unwrap(), r"'a\'b\\\'; DROP TABLE events; --'");
        assert!(duck.lit("nul\0").is_err());
        assert!(duck.num(f64::NAN).is_err());
        assert_eq!(duck.num(1.0).unwrap(), "CAST(1.0 AS DOUBLE PRECISION)");
    }
}
