//! Writing a [`Table`]: cells as text, CSV for spreadsheets (formula-safe) and aligned text for
//! terminals (control characters escaped); see the module doc of [`super`].

use serde_json::Value;

use super::Table;

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
