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

/// A cell as text: strings bare, null empty, everything else as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Text that a spreadsheet would take for a formula, made inert with a leading `'`: text that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return, unless it is a plain decimal number
/// (`-3.5`, `+2`, `-1e-3`: a spreadsheet reads those as numbers, nothing runs).
pub fn spreadsheet_text(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && s.parse::<f64>().is_ok();
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A cell for a terminal: control characters (C0, DEL, C1) escaped as `\u{..}`.
fn terminal_text(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One CSV field (RFC 4180 quoting).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Table {
    /// CSV with a header row, CRLF line ends (notes are not part of a CSV); text cells that a
    /// spreadsheet would run as formulas are neutralized ([`spreadsheet_text`]).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let line =
            |cells: Vec<String>| cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",") + "\r\n";
        out.push_str(&line(
            self.columns
                .iter()
                .map(|c| spreadsheet_text(c).into_owned())
                .collect(),
        ));
        for r in &self.rows {
            out.push_str(&line(
                r.iter()
                    .map(|v| match v {
                        Value::String(s) => spreadsheet_text(s).into_owned(),
                        other => cell(other),
                    })
                    .collect(),
            ));
        }
        out
    }

    /// Aligned columns (numbers right-aligned), then the notes.
    pub fn to_text(&self) -> String {
        let texts: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|v| terminal_text(&cell(v))).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for r in &texts {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .all(|r| r.get(i).is_none_or(|v| v.is_number() || v.is_null()))
            })
            .collect();
        let fmt_row = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let w = widths.get(i).copied().unwrap_or(0);
                    if numeric.get(i).copied().unwrap_or(false) {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string() + "\n"
        };
        let columns: Vec<String> = self.columns.iter().map(|c| terminal_text(c)).collect();
        let mut out = fmt_row(&columns);
        out.push_str(
            &(widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  ")
                + "\n"),
        );
        for r in &texts {
            out.push_str(&fmt_row(r));
        }
        if self.rows.is_empty() {
            out.push_str("(no rows)\n");
        }
        for (k, v) in &self.notes {
            out.push_str(&format!("{}: {}\n", terminal_text(k), terminal_text(&cell(v))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn funnel_breakdowns_read_across_their_steps() {
        let step = |name: &str, persons: u64| json!({"name": name, "persons": persons, "step": 1});
        let funnel = json!({"kind": "funnel", "conversion_rate": 0.1, "steps": [step("view", 30), step("buy", 3)],
            "breakdown": [{"value": "Chrome", "conversion_rate": 0.1, "steps": [step("view", 20), step("buy", 2)]},
                          {"value": "Safari", "conversion_rate": 0.1, "steps": [step("view", 10), step("buy", 1)]}]});
        let t = to_table(&funnel);
        assert_eq!(t.columns, ["value", "conversion_rate", "view", "buy"]);
        assert_eq!(t.rows[1], vec![json!("Safari"), json!(0.1), json!(10), json!(1)]);
    }

    #[test]
    fn paths_read_across_a_column_per_step() {
        let t = to_table(&json!({"kind": "paths", "persons": 9, "paths": [
            {"steps": ["/", "click", "sign_up"], "persons": 5},
            {"steps": ["/docs"], "persons": 4},
        ]}));
        assert_eq!(t.columns, ["persons", "steps 1", "steps 2", "steps 3"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!(5), json!("/"), json!("click"), json!("sign_up")],
                vec![json!(4), json!("/docs"), Value::Null, Value::Null],
            ]
        );
        assert_eq!(
            t.notes,
            vec![
                ("kind".to_string(), json!("paths")),
                ("persons".to_string(), json!(9))
            ]
        );
        // A list of texts in only some rows stays a cell.
        let t = to_table(&json!([{"tags": ["a"]}, {"tags": 1}]));
        assert_eq!(t.columns, ["tags"]);
    }

    #[test]
    fn time_series_are_a_row_per_bucket() {
        let trends = json!({"kind": "trends", "interval": "day", "buckets": ["2026-11-01", "2026-11-02"],
            "series": [{"breakdown": "click", "total": 5, "values": [2, 3]},
                       {"breakdown": null, "total": 1, "values": [1, 0]}]});
        let t = to_table(&trends);
        assert_eq!(t.columns, ["bucket", "click", "series 2"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!("2026-11-01"), json!(2), json!(1)],
                vec![json!("2026-11-02"), json!(3), json!(0)],
                vec![json!("total"), json!(5), json!(1)],
            ]
        );
        assert!(t.notes.contains(&("interval".to_string(), json!("day"))));
        assert_eq!(
            t.to_csv(),
            "bucket,click,series 2\r\n2026-11-01,2,1\r\n2026-11-02,3,0\r\ntotal,5,1\r\n"
        );
        let one = json!({"buckets": ["w1"], "series": [{"breakdown": null, "total": 4, "values": [4]}]});
        assert_eq!(to_table(&one).columns, ["bucket", "value"]);
        let lifecycle =
            json!({"kind": "lifecycle", "buckets": ["a", "b"], "new": [1, 2], "dormant": [-3, -4]});
        let t = to_table(&lifecycle);
        assert_eq!(t.columns, ["bucket", "dormant", "new"]);
        assert_eq!(t.rows[1], vec![json!("b"), json!(-4), json!(2)]);
        assert_eq!(t.rows.len(), 2, "no totals row without totals");
    }

    #[test]
    fn shapes() {
        let t = to_table(&json!({"columns": ["event", "count"], "rows": [["a", 2], ["b,c", 1]]}));
        assert_eq!(t.to_csv(), "event,count\r\na,2\r\n\"b,c\",1\r\n");
        let t = to_table(
            &json!({"steps": [{"name": "a", "persons": 3}, {"name": "b", "persons": 1}], "overall": 0.5}),
        );
        assert_eq!(t.columns, ["name", "persons"]);
        assert_eq!(t.notes, vec![("overall".to_string(), json!(0.5))]);
        let text = t.to_text();
        assert!(
            text.starts_with("name  persons\n----  -------\na           3\n"),
            "{text}"
        );
        assert!(text.ends_with("overall: 0.5\n"));
        let t = to_table(&json!({"a": {"b": 1}, "c": "x"}));
        assert_eq!(
            t.rows,
            vec![vec![json!("a.b"), json!(1)], vec![json!("c"), json!("x")]]
        );
        assert_eq!(to_table(&json!(7)).rows, vec![vec![json!(7)]]);
    }

    #[test]
    fn csv_neutralizes_formulas_and_keeps_numbers() {
        let t = to_table(&json!({
            "columns": ["=HYPERLINK(\"http://x\")", "n"],
            "rows": [
                ["=cmd|' /C calc'!A0", -3.5],
                ["+1+1", 2],
                ["-2+3", -7],
                ["@SUM(A1)", 0],
                ["\tx", 1],
                ["\r=1", 1],
                ["-3.5", 1],
                ["+42", 1],
                ["-1e-3", 1],
                ["-inf", 1],
                ["plain", 1],
                ["a=b", 1],
                [null, true],
            ],
        }));
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "\"'=HYPERLINK(\"\"http://x\"\")\",n");
        assert_eq!(lines[1], "'=cmd|' /C calc'!A0,-3.5");
        assert_eq!(lines[2], "'+1+1,2");
        assert_eq!(lines[3], "'-2+3,-7");
        assert_eq!(lines[4], "'@SUM(A1),0");
        assert_eq!(lines[5], "'\tx,1");
        assert!(
            csv.contains("\r\n\"'\r=1\",1\r\n"),
            "CR cell quoted and neutralized: {csv:?}"
        );
        for kept in ["-3.5,1", "+42,1", "-1e-3,1", "plain,1", "a=b,1", ",true"] {
            assert!(lines.contains(&kept), "{kept} in {csv:?}");
        }
        assert!(lines.contains(&"'-inf,1"), "not a plain number: {csv:?}");
        // The text table (for terminals) and JSON keep the data as it is, but for control characters.
        assert!(t.to_text().contains("=cmd|' /C calc'!A0"));
    }

    #[test]
    fn text_tables_escape_terminal_control_characters() {
        let t = to_table(&json!([{"event": "x\u{1b}]0;owned\u{7}\u{1b}[2J", "count": 1}]));
        let text = t.to_text();
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        assert!(text.contains("x\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{text}");
        let notes = to_table(&json!({"steps": [{"name": "a"}], "note\u{9b}": "v\u{1b}"})).to_text();
        assert!(notes.contains("note\\u{9b}: v\\u{1b}"), "{notes}");
    }
}
