//! Reading backend rows into Rust values the same way on every backend.
//!
//! [`crate::store::QueryResult`] already maps each backend's types to JSON (integers as i64,
//! other numbers as f64, booleans as 0/1, arrays as arrays). Here: typed accessors with
//! errors naming the column, and [`round`] — every float in a result is rounded to
//! [`DECIMALS`] places so that summation-order noise between backends never shows.

use serde_json::Value;

use super::QueryError;
use crate::store::QueryResult;

/// Decimal places kept in float results.
pub const DECIMALS: i32 = 6;

/// Rounds to [`DECIMALS`] places (NaN/∞ → None).
pub fn round(x: f64) -> Option<f64> {
    if !x.is_finite() {
        return None;
    }
    let f = 10f64.powi(DECIMALS);
    let r = (x * f).round() / f;
    Some(if r == 0.0 { 0.0 } else { r })
}

/// `a / b` rounded, 0 when `b` is 0.
pub fn rate(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        round(a as f64 / b as f64).unwrap_or(0.0)
    }
}

/// Typed access to one row.
pub struct Row<'a> {
    cols: &'a [String],
    vals: &'a [Value],
}

impl<'a> Row<'a> {
    fn get(&self, i: usize) -> &'a Value {
        self.vals.get(i).unwrap_or(&Value::Null)
    }

    fn name(&self, i: usize) -> &str {
        self.cols.get(i).map(String::as_str).unwrap_or("?")
    }

    /// An integer (NULL → 0). Accepts integral floats and numeric strings (ClickHouse sends
    /// 64-bit integers as strings in some formats).
    pub fn i64(&self, i: usize) -> Result<i64, QueryError> {
        Ok(self.opt_i64(i)?.unwrap_or(0))
    }

    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, QueryError> {
        match self.get(i) {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| self.bad(i, "an integer")),
            Value::String(s) => s.parse().map(Some).map_err(|_| self.bad(i, "an integer")),
            Value::Bool(b) => Ok(Some(*b as i64)),
            _ => Err(self.bad(i, "an integer")),
        }
    }

    pub fn opt_f64(&self, i: usize) -> Result<Option<f64>, QueryError> {
        match self.get(i) {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_f64()),
            Value::String(s) => s.parse().map(Some).map_err(|_| self.bad(i, "a number")),
            _ => Err(self.bad(i, "a number")),
        }
    }

    /// Text (NULL → None). Numbers are rendered as text.
    pub fn opt_str(&self, i: usize) -> Option<String> {
        match self.get(i) {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn str(&self, i: usize) -> String {
        self.opt_str(i).unwrap_or_default()
    }

    /// The raw JSON value.
    pub fn value(&self, i: usize) -> Value {
        self.get(i).clone()
    }

    fn bad(&self, i: usize, what: &str) -> QueryError {
        QueryError::Unexpected(format!(
            "column `{}` = {} is not {what}",
            self.name(i),
            self.get(i)
        ))
    }
}

/// Iterates typed rows of a result.
pub fn rows(r: &QueryResult) -> impl Iterator<Item = Row<'_>> {
    r.rows.iter().map(move |vals| Row {
        cols: &r.columns,
        vals,
    })
}

/// A float value rounded, or null.
pub fn float_json(x: Option<f64>) -> Value {
    match x.and_then(round) {
        Some(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}
