//! Any query result (JSON) as a table, for `footfall query --format table|csv`.
//!
//! Shapes, in order: `{columns, rows}` (columns as names or `{name}` objects); a list of objects
//! (columns: the union of keys in first-seen order); a list of scalars (one `value` column); an
//! time series (`buckets` with trends' `series` or lifecycle's arrays: a row per bucket, a column
//! per series, trends' totals as a last row); an
//! object holding a list of objects (e.g. funnel `steps`, retention `cohorts`: that list is the
//! table, the object's scalar fields become notes); any other object (`key`, `value` rows with
//! nested objects flattened as `a.b`); a scalar (one `value` cell). In a list of objects, a
//! column of funnel step lists becomes a column per step (its persons) and a column of text lists
//! (a path's `steps`) a column per position (`steps 1`, `steps 2`, …). Other nested lists and
//! objects inside cells are written as compact JSON. Object keys have no order in `serde_json::Value`, so
//! identifying columns (`step`, `name`, `event`, `date`...) come first, the rest alphabetically.
//!
//! # Untrusted text
//!
//! Event names, property values, ids and URLs are sent by anyone holding a (public) write key.
//! * CSV is meant for spreadsheets, which run a cell starting with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return as a formula (CSV/formula injection): such text cells get a leading `'`
//!   (OWASP's mitigation; the `'` is what Excel/LibreOffice/Sheets show as "text"), see
//!   [`spreadsheet_text`]. JSON numbers and text that is a plain number (`-3.5`, `+1e3`) are
//!   written as they are. `footfall query --format json` is untouched (exact data).
//! * Text tables go to terminals: control characters (ESC sequences could rewrite the screen,
//!   the window title or the clipboard) are shown escaped (`\u{1b}`).

use serde_json::{Map, Value};

mod render;
pub use render::{cell, csv_field, spreadsheet_text};

/// Rows of JSON values under named columns, plus scalar notes (`overall_conversion: 0.2`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub notes: Vec<(String, Value)>,
}

/// See the module doc.
pub fn to_table(v: &Value) -> Table {
    match v {
        Value::Object(m) => {
            if let (Some(Value::Array(cols)), Some(Value::Array(rows))) = (m.get("columns"), m.get("rows")) {
                let columns = cols
                    .iter()
                    .map(|c| match c {
                        Value::String(s) => s.clone(),
                        other => other
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| cell(other)),
                    })
                    .collect();
                let rows = rows
                    .iter()
                    .map(|r| r.as_array().cloned().unwrap_or_else(|| vec![r.clone()]))
                    .collect();
                return Table {
                    columns,
                    rows,
                    notes: scalar_notes(m, &["columns", "rows"]),
                };
            }
            if let Some(t) = buckets_table(m) {
                return t;
            }
            if let Some((key, Value::Array(items))) = m.iter().find(|(_, v)| is_object_list(v)) {
                let mut t = objects_table(items);
                t.notes = scalar_notes(m, &[key.as_str()]);
                return t;
            }
            let mut rows = Vec::new();
            flatten("", m, &mut rows);
            Table {
                columns: vec!["key".into(), "value".into()],
                rows,
                notes: Vec::new(),
            }
        }
        Value::Array(items) if is_object_list(v) => objects_table(items),
        Value::Array(items) => Table {
            columns: vec!["value".into()],
            rows: items.iter().map(|i| vec![i.clone()]).collect(),
            notes: Vec::new(),
        },
        scalar => Table {
            columns: vec!["value".into()],
            rows: vec![vec![scalar.clone()]],
            notes: Vec::new(),
        },
    }
}

/// A time series result (`buckets` plus values per bucket: trends' `series`, lifecycle's
/// `new`/`returning`/…) as one row per bucket and one column per series, the layout a spreadsheet
/// charts; trends' per-series totals as a last `total` row. `None` when `m` is not one.
fn buckets_table(m: &Map<String, Value>) -> Option<Table> {
    let buckets = m.get("buckets")?.as_array()?;
    let n = buckets.len();
    let mut columns = vec!["bucket".to_string()];
    let mut values: Vec<&Vec<Value>> = Vec::new();
    let mut totals: Vec<Value> = Vec::new();
    for (k, v) in m {
        if let Value::Array(a) = v
            && k != "buckets"
            && a.len() == n
            && a.iter().all(|x| !x.is_array() && !x.is_object())
        {
            columns.push(k.clone());
            values.push(a);
            totals.push(Value::Null);
        }
    }
    let series = m.get("series").and_then(Value::as_array);
    for (i, s) in series.into_iter().flatten().enumerate() {
        let Some(a) = s.get("values").and_then(Value::as_array).filter(|a| a.len() == n) else {
            continue;
        };
        let label = ["breakdown", "name", "event", "label"]
            .iter()
            .find_map(|k| s.get(*k).filter(|v| !v.is_null()).map(cell))
            .unwrap_or_else(|| {
                if series.is_some_and(|all| all.len() == 1) {
                    "value".to_string()
                } else {
                    format!("series {}", i + 1)
                }
            });
        columns.push(label);
        values.push(a);
        totals.push(s.get("total").cloned().unwrap_or(Value::Null));
    }
    if values.is_empty() {
        return None;
    }
    let mut rows: Vec<Vec<Value>> = (0..n)
        .map(|i| {
            std::iter::once(buckets[i].clone())
                .chain(values.iter().map(|a| a[i].clone()))
                .collect()
        })
        .collect();
    if totals.iter().any(|t| !t.is_null()) {
        rows.push(
            std::iter::once(Value::String("total".into()))
                .chain(totals)
                .collect(),
        );
    }
    Some(Table {
        columns,
        rows,
        notes: scalar_notes(m, &["buckets"]),
    })
}

fn is_object_list(v: &Value) -> bool {
    matches!(v, Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object))
}

/// Columns shown first, in this order, when a result's rows are JSON objects.
const PREFERRED: &[&str] = &[
    "step",
    "name",
    "event",
    "feature",
    "date",
    "bucket",
    "cohort",
    "cohort_start",
    "period",
    "breakdown",
    "value",
    "person",
    "persons",
    "users",
    "active_persons",
    "count",
];

fn objects_table(items: &[Value]) -> Table {
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        for k in item.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    // JSON objects carry no field order (serde_json sorts keys): identifying columns first.
    columns.sort_by_key(|c| PREFERRED.iter().position(|p| p == c).unwrap_or(PREFERRED.len()));
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| item.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    let mut t = Table {
        columns,
        rows,
        notes: Vec::new(),
    };
    expand_step_lists(&mut t);
    expand_text_lists(&mut t);
    t
}

/// A column whose cells are lists of text (a path's `steps`) becomes one column per position,
/// `steps 1`, `steps 2`, … (empty beyond a shorter list): a spreadsheet can then filter and
/// pivot by step, which a JSON cell does not allow.
fn expand_text_lists(t: &mut Table) {
    let is_texts = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    };
    while let Some(c) = (0..t.columns.len()).find(|&c| t.rows.iter().all(|r| is_texts(&r[c]))) {
        let n = t
            .rows
            .iter()
            .filter_map(|r| r[c].as_array().map(Vec::len))
            .max()
            .unwrap_or(0);
        for r in &mut t.rows {
            let list = r.remove(c);
            let cells = (0..n).map(|i| list.get(i).cloned().unwrap_or(Value::Null));
            r.splice(c..c, cells);
        }
        let name = t.columns[c].clone();
        t.columns.splice(c..=c, (1..=n).map(|i| format!("{name} {i}")));
    }
}

/// A column whose cells are lists of funnel steps (`[{name, persons, …}]`, a funnel's
/// `breakdown` rows) becomes one column per step with its `persons`: a row per breakdown value
/// that reads across, instead of the steps as a JSON cell.
fn expand_step_lists(t: &mut Table) {
    let is_steps = |v: &Value| {
        v.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|s| s.get("name").is_some_and(Value::is_string) && s.get("persons").is_some())
        })
    };
    let Some(c) = (0..t.columns.len()).find(|&c| {
        t.rows.iter().all(|r| r[c].is_null() || is_steps(&r[c])) && t.rows.iter().any(|r| is_steps(&r[c]))
    }) else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    for r in &t.rows {
        for s in r[c].as_array().into_iter().flatten() {
            let name = cell(&s["name"]);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    for r in &mut t.rows {
        let steps = r.remove(c);
        let persons = |name: &str| {
            steps
                .as_array()
                .and_then(|a| a.iter().find(|s| cell(&s["name"]) == name))
                .map_or(Value::Null, |s| s["persons"].clone())
        };
        let cells: Vec<Value> = names.iter().map(|n| persons(n)).collect();
        r.splice(c..c, cells);
    }
    t.columns.splice(c..=c, names);
}

fn scalar_notes(m: &Map<String, Value>, skip: &[&str]) -> Vec<(String, Value)> {
    m.iter()
        .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_array() && !v.is_object())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn flatten(prefix: &str, m: &Map<String, Value>, out: &mut Vec<Vec<Value>>) {
    for (k, v) in m {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(&key, inner, out),
            other => out.push(vec![Value::String(key), other.clone()]),
        }
    }
}

#[cfg(test)]
mod tests;
