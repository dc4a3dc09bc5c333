//! Decoding rows of a [`QueryResult`] (events, audit entries, documents) and backend values as
//! JSON (floats, wide integers, decimals, dates, timestamps).

use serde_json::Value;

use crate::store::{AuditEntry, EventRow, QueryResult, StoreError};

/// Column list of `events` in canonical order (the order of [`EventRow`]'s fields).
pub const EVENT_COLUMNS: &str = "project_id, message_id, type, event, ts, received_at, sent_at, \
    original_timestamp, anonymous_id, user_id, session_id, group_id, browser, os, device_type, is_bot, ip, \
    properties, traits, context";

/// Column list of `audit_log` in [`AuditEntry`] order.
pub const AUDIT_COLUMNS: &str = "id, project_id, \"at\", actor, action, target, details";

/// The first column of every row that holds text there, in row order.
pub fn first_column_texts(r: QueryResult) -> impl Iterator<Item = String> {
    r.rows
        .into_iter()
        .filter_map(|row| row.into_iter().next()?.as_str().map(str::to_string))
}

/// The first column of the first row, as text.
pub fn first_text(r: QueryResult) -> Option<String> {
    r.rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next()?.as_str().map(str::to_string))
}

fn col<'a>(row: &'a [Value], i: usize, what: &str) -> Result<&'a Value, StoreError> {
    row.get(i)
        .ok_or_else(|| StoreError::Query(format!("{what}: missing column {i}")))
}

fn text(row: &[Value], i: usize, what: &str) -> Result<String, StoreError> {
    match col(row, i, what)? {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

fn opt_text(row: &[Value], i: usize, what: &str) -> Result<Option<String>, StoreError> {
    match col(row, i, what)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Ok(Some(other.to_string())),
    }
}

fn opt_int(row: &[Value], i: usize, what: &str) -> Result<Option<i64>, StoreError> {
    match col(row, i, what)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| StoreError::Query(format!("{what}: column {i} is not an integer: {n}"))),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Query(format!("{what}: column {i} is not an integer: {s:?}"))),
        other => Err(StoreError::Query(format!(
            "{what}: column {i} is not an integer: {other}"
        ))),
    }
}

fn int(row: &[Value], i: usize, what: &str) -> Result<i64, StoreError> {
    opt_int(row, i, what)?.ok_or_else(|| StoreError::Query(format!("{what}: column {i} is null")))
}

/// Decodes a row selected with [`EVENT_COLUMNS`].
pub fn event_from_values(row: &[Value]) -> Result<EventRow, StoreError> {
    const W: &str = "events row";
    Ok(EventRow {
        project_id: text(row, 0, W)?,
        message_id: text(row, 1, W)?,
        kind: text(row, 2, W)?,
        event: text(row, 3, W)?,
        ts: int(row, 4, W)?,
        received_at: int(row, 5, W)?,
        sent_at: opt_int(row, 6, W)?,
        original_timestamp: opt_text(row, 7, W)?,
        anonymous_id: opt_text(row, 8, W)?,
        user_id: opt_text(row, 9, W)?,
        session_id: opt_text(row, 10, W)?,
        group_id: opt_text(row, 11, W)?,
        browser: opt_text(row, 12, W)?,
        os: opt_text(row, 13, W)?,
        device_type: opt_text(row, 14, W)?,
        is_bot: int(row, 15, W)? != 0,
        ip: opt_text(row, 16, W)?,
        properties: text(row, 17, W)?,
        traits: text(row, 18, W)?,
        context: text(row, 19, W)?,
    })
}

/// Decodes a row selected with [`AUDIT_COLUMNS`].
pub fn audit_from_values(row: &[Value]) -> Result<AuditEntry, StoreError> {
    const W: &str = "audit_log row";
    Ok(AuditEntry {
        id: text(row, 0, W)?,
        project_id: opt_text(row, 1, W)?,
        at: int(row, 2, W)?,
        actor: text(row, 3, W)?,
        action: text(row, 4, W)?,
        target: text(row, 5, W)?,
        details: parse_json(&text(row, 6, W)?, W)?,
    })
}

/// Parses a stored JSON text column.
pub fn parse_json(s: &str, what: &str) -> Result<Value, StoreError> {
    if s.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(s).map_err(|e| StoreError::Query(format!("{what}: stored JSON is invalid: {e}")))
}

/// A float as a JSON value (NaN and infinities, which JSON cannot hold, become null).
pub fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A 128-bit integer as a JSON integer when it fits in i64, else as a float.
pub fn wide_int_value(v: i128) -> Value {
    i64::try_from(v)
        .map(Value::from)
        .unwrap_or_else(|_| float_value(v as f64))
}

/// A decimal's text (`-12.50`, `3`) as a JSON integer when its scale is 0, else a float.
pub fn decimal_text_value(s: &str, scale: u32) -> Value {
    if let (0, Ok(i)) = (scale, s.parse::<i64>()) {
        return Value::from(i);
    }
    s.parse::<f64>()
        .map(float_value)
        .unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn date_text(days_since_epoch: i64) -> String {
    chrono::DateTime::from_timestamp(days_since_epoch * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| days_since_epoch.to_string())
}

/// Microseconds since 1970-01-01 UTC as `YYYY-MM-DD HH:MM:SS`, with `.ffffff` when not whole.
pub fn timestamp_text(micros_since_epoch: i64) -> String {
    let secs = micros_since_epoch.div_euclid(1_000_000);
    let micros = micros_since_epoch.rem_euclid(1_000_000);
    match chrono::DateTime::from_timestamp(secs, (micros * 1000) as u32) {
        Some(d) if micros == 0 => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(d) => d.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => micros_since_epoch.to_string(),
    }
}

/// The body of a `DOC_GET` result, if any.
pub fn document_from(r: QueryResult) -> Result<Option<Value>, StoreError> {
    match r.rows.first().and_then(|row| row.first()) {
        Some(Value::String(body)) => parse_json(body, "documents.body").map(Some),
        _ => Ok(None),
    }
}

/// (id, body) pairs from a `DOC_LIST` result, in bytewise id order.
pub fn documents_from(r: QueryResult) -> Result<Vec<(String, Value)>, StoreError> {
    let mut docs = r
        .rows
        .into_iter()
        .map(|row| {
            let mut it = row.into_iter();
            let id = it
                .next()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let body = it
                .next()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            Ok((id, parse_json(&body, "documents.body")?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    docs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(docs)
}
