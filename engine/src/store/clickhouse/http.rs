//! The HTTP interface: one POST per statement (settings and credentials as URL parameters),
//! string literals escaped by [`lit`] (ClickHouse 18.16 has no query parameters), answers
//! classified into [`StoreError`]s, and `JSONCompact` results normalized by column type.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClickHouseStore;
use crate::store::{QueryResult, StoreError, common};

/// A ClickHouse string literal: `'…'` with `\` and `'` escaped.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

pub(super) fn list(items: &[String]) -> String {
    items.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

/// ClickHouse error codes that mean "overloaded or not reachable right now" (→ 503 + retry):
/// timeouts (159, 209, 210), too many queries or connections (202, 203), memory (241), a
/// read-only table (242), too many parts (252), unknown status of an insert (319), system errors
/// (425), a full disk (243 NOT_ENOUGH_SPACE), and a query cancelled or aborted by a shutdown
/// (236 ABORTED, 394 QUERY_WAS_CANCELLED).
const TRANSIENT_CODES: &[u32] = &[159, 202, 203, 209, 210, 236, 241, 242, 243, 252, 319, 394, 425];

/// The error of a non-2xx answer: `Unavailable` for a 5xx without a code or with a
/// [`TRANSIENT_CODES`] one (`Code: 243. DB::Exception: ...`), else `Query`.
pub(super) fn server_error(status: reqwest::StatusCode, text: &str) -> StoreError {
    let code = text
        .strip_prefix("Code: ")
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse::<u32>().ok());
    let msg = format!("clickhouse ({status}): {}", text.trim());
    if status.is_server_error() && code.is_none_or(|c| TRANSIENT_CODES.contains(&c)) {
        StoreError::Unavailable(msg)
    } else {
        StoreError::Query(msg)
    }
}

fn http_err(e: reqwest::Error) -> StoreError {
    StoreError::Unavailable(format!("clickhouse: {e}"))
}

/// JSONEachRow body: one JSON object per line.
pub(super) fn json_rows<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Vec<u8> {
    let mut body = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut body, &row).expect("serializing plain structs cannot fail");
        body.push(b'\n');
    }
    body
}

#[derive(Deserialize)]
struct Compact {
    meta: Vec<Meta>,
    data: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

/// `Name(inner)` → `inner`.
fn unwrap_type<'a>(ty: &'a str, name: &str) -> Option<&'a str> {
    ty.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// Splits `A, B(C, D), E` at top-level commas.
fn split_types(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

/// Normalizes a JSONCompact value by its ClickHouse type (see "Query results" in store/mod.rs).
pub(super) fn ch_value(ty: &str, v: Value) -> Value {
    let ty = ty.trim();
    if v.is_null() {
        return Value::Null;
    }
    if let Some(inner) = unwrap_type(ty, "Nullable").or_else(|| unwrap_type(ty, "LowCardinality")) {
        return ch_value(inner, v);
    }
    if let Some(inner) = unwrap_type(ty, "Array") {
        return match v {
            Value::Array(items) => Value::Array(items.into_iter().map(|x| ch_value(inner, x)).collect()),
            other => other,
        };
    }
    if let Some(inner) = unwrap_type(ty, "Tuple") {
        let types = split_types(inner);
        return match v {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| ch_value(types.get(i).copied().unwrap_or(""), x))
                    .collect(),
            ),
            other => other,
        };
    }
    let text = match &v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if ty.starts_with("Int") || ty.starts_with("UInt") {
        return text.parse::<i128>().map(common::wide_int_value).unwrap_or(v);
    }
    if ty.starts_with("Float") {
        return text
            .parse::<f64>()
            .map(common::float_value)
            .unwrap_or(Value::Null);
    }
    if ty.starts_with("Decimal") {
        let scale = ty
            .rsplit([',', '('])
            .next()
            .and_then(|s| s.trim_end_matches(')').trim().parse::<u32>().ok())
            .unwrap_or(1);
        return common::decimal_text_value(&text, scale);
    }
    match (ty, v) {
        ("Bool", Value::Bool(b)) => Value::from(b as i64),
        (_, v) => v,
    }
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten();
        if let Some(Ok(b)) = escaped.map(|hex| u8::from_str_radix(hex, 16)) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ClickHouseStore {
    /// POSTs `body`; `params` are extra URL parameters (settings, `query=` for inserts). The
    /// whole exchange (connect, send, answer) is bounded by `timeout`; reqwest's timeout is an
    /// `Unavailable` like any transport error.
    pub(super) async fn post(
        &self,
        params: &[(&str, &str)],
        body: Vec<u8>,
        in_database: bool,
        timeout: Duration,
    ) -> Result<String, StoreError> {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            if in_database {
                q.append_pair("database", &self.database);
            }
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        let response = self
            .http
            .post(url)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(http_err)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http_err)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        Err(server_error(status, &text))
    }

    pub(super) async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.post(&[], sql.as_bytes().to_vec(), true, self.timeouts.operation)
            .await
            .map(|_| ())
    }

    pub(super) async fn insert(&self, table_and_columns: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let query = format!("INSERT INTO {table_and_columns} FORMAT JSONEachRow");
        self.post(&[("query", &query)], body, true, self.timeouts.operation)
            .await
            .map(|_| ())
    }

    /// A read bounded by the operation timeout.
    pub(super) async fn select(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.select_within(sql, self.timeouts.operation).await
    }

    pub(super) async fn select_within(
        &self,
        sql: &str,
        timeout: Duration,
    ) -> Result<QueryResult, StoreError> {
        let params = [("default_format", "JSONCompact"), ("readonly", "2")];
        let text = self.post(&params, sql.as_bytes().to_vec(), true, timeout).await?;
        let parsed: Compact = serde_json::from_str(&text)
            .map_err(|e| StoreError::Query(format!("clickhouse: unreadable result ({e}) for: {sql}")))?;
        let rows = parsed
            .data
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&parsed.meta)
                    .map(|(v, m)| ch_value(&m.ty, v))
                    .collect()
            })
            .collect();
        Ok(QueryResult {
            columns: parsed.meta.into_iter().map(|m| m.name).collect(),
            rows,
        })
    }

    pub(super) async fn count(&self, sql: &str) -> Result<u64, StoreError> {
        let r = self.select(sql).await?;
        Ok(r.rows
            .first()
            .and_then(|row| row.first())
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }
}
