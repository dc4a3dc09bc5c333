//! What the `footfall` binary's `query` and `dashboard render` subcommands call. Both take any
//! [`Store`] (the embedded `--data DIR` store or `--store URL`), so the collector only parses
//! flags, opens the store and writes the output.
//!
//! * [`run_query_file`]: `footfall query SPEC.{json,yaml} [--from --to] [--format json|table|csv]`.
//! * [`render_report_file`]: `footfall dashboard render dashboards.yaml --out report.html`.

use std::path::Path;

use serde_json::Value;

use super::DashboardError;
use super::data::{DashboardData, dashboard_data};
use super::html::render_static_report;
use super::parse::parse_dashboards;
use super::tabulate::to_table;
use crate::store::Store;

/// Output format of `footfall query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Pretty-printed JSON (default).
    #[default]
    Json,
    /// Aligned text columns for a terminal.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(OutputFormat::Json),
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            other => Err(format!("unknown format `{other}`, expected json, table or csv")),
        }
    }
}

fn read(path: &Path) -> Result<String, DashboardError> {
    std::fs::read_to_string(path)
        .map_err(|e| DashboardError::Io(format!("cannot read {}: {e}", path.display())))
}

/// Parses a spec file: JSON when it ends in `.json`, else YAML (which also reads JSON).
pub fn parse_spec_text(text: &str, is_json: bool) -> Result<Value, DashboardError> {
    if is_json {
        serde_json::from_str(text)
            .map_err(|e| DashboardError::Invalid(format!("spec is not valid JSON: {e}")))
    } else {
        serde_norway::from_str(text)
            .map_err(|e| DashboardError::Invalid(format!("spec is not valid YAML: {e}")))
    }
}

/// Runs the query spec in `path` on `store` and formats the result.
pub async fn run_query_file(
    store: &dyn Store,
    project: &str,
    path: &Path,
    from: Option<&str>,
    to: Option<&str>,
    format: OutputFormat,
) -> Result<String, DashboardError> {
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let spec = parse_spec_text(&read(path)?, is_json)?;
    let result = run_query_value(store, project, &spec, from, to).await?;
    Ok(format_value(&result, format))
}

/// Runs any query spec (JSON value) with an optional range override; the result as JSON.
/// This is also the body of `POST /v1/query`.
pub async fn run_query_value(
    store: &dyn Store,
    project: &str,
    spec: &Value,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Value, DashboardError> {
    super::query_api::run_spec(store, &crate::query::QueryContext::new(project), spec, from, to).await
}

/// Formats a query result (any JSON shape, see [`to_table`]) as json, table or csv.
pub fn format_value(v: &Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
            s.push('\n');
            s
        }
        OutputFormat::Table => to_table(v).to_text(),
        OutputFormat::Csv => to_table(v).to_csv(),
    }
}

/// The data of every dashboard of a dashboards file.
pub async fn report_data(
    store: &dyn Store,
    project: &str,
    yaml: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<DashboardData>, DashboardError> {
    let dashboards = parse_dashboards(yaml)?;
    let mut out = Vec::with_capacity(dashboards.len());
    for d in &dashboards {
        out.push(dashboard_data(store, project, d, from, to).await?);
    }
    Ok(out)
}

/// A rendered static report and the widgets that failed in it.
#[derive(Debug, Clone)]
pub struct RenderedReport {
    pub html: String,
    /// `dashboard/widget (title): error` per failed widget: the CLI prints them as warnings and
    /// exits non-zero when there are any (the report is still written, failures shown in place).
    pub widget_errors: Vec<String>,
}

/// The static HTML report of the dashboards file at `path` (the caller writes `html` to `--out`).
pub async fn render_report_file(
    store: &dyn Store,
    project: &str,
    path: &Path,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<RenderedReport, DashboardError> {
    let reports = report_data(store, project, &read(path)?, from, to).await?;
    let title = match reports.as_slice() {
        [one] => one.dashboard.name.clone(),
        _ => "Footfall report".to_string(),
    };
    Ok(RenderedReport {
        html: render_static_report(&title, &reports),
        widget_errors: report_errors(&reports),
    })
}

/// Widgets of reports that failed, as `dashboard/widget (title): error` lines.
pub fn report_errors(reports: &[DashboardData]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| {
            r.widgets.iter().filter_map(move |w| {
                w.error
                    .as_ref()
                    .map(|e| format!("{}/{} ({}): {e}", r.dashboard.id, w.id, w.title))
            })
        })
        .collect()
}
