//! Scalar and aggregate expressions of [`Sql`]: the dialects' function names, casts and bit
//! operations.

use crate::store::Dialect;

use super::Sql;

impl Sql {
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

    /// `coalesce(cond, false)` so that three-valued logic never leaks into results.
    pub fn not_null_bool(&self, cond: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("(ifNull({cond}, 0) = 1)"),
            _ => format!("coalesce({cond}, false)"),
        }
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
}
