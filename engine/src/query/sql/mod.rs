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
//!
//! # Layout
//!
//! This file holds [`Sql`] and its literals; the other methods of [`Sql`] are grouped by
//! what they produce, one `impl Sql` block per file:
//!
//! * `functions.rs`: scalar and aggregate expressions (integer arithmetic, casts, bit masks,
//!   substring tests, quantiles, first/last by key, `WITH` clauses, ranges).
//! * `json.rs`: reading JSON text columns (`json_text`, `json_num`, `json_is_set`) and the
//!   string pre-check that spares parsing.
//! * `events.rs`: the events relations a query starts from (scope conditions, with or without
//!   the resolved person).
//! * `rollup.rs`: the raw identity columns and the identity join of the pre-grouped
//!   ("rollup") plans of [`super::rollup`].

use crate::store::Dialect;

use super::QueryError;

mod events;
mod functions;
mod json;
mod rollup;

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
