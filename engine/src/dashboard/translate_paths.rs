//! Paths widgets → the query layer's [`PathsQuery`] (`get_paths`).
//!
//! `paths_start` (an event with property filters, like a funnel step; default any event) or
//! `paths_end` (paths that lead there), `paths_steps` (default 4), `paths_node` (a dashboard field name, default `event`) and `limit`
//! (default [`PATHS_LIMIT`]) become the query's `start`, `steps`, `node` and `limit`; the widget's
//! `filters` apply to every event the paths read. The result is a table: a column per step
//! (`Step 1`, `Step 2`, … — empty after a path's end) and `persons`, a row per path, most
//! persons first.

use super::DashboardError;
use super::data::{Column, ColumnRole, WidgetResult};
use super::filters::Field;
use super::model::{FunnelStep, Widget};
use crate::query::{EventMatch, PathsQuery, QueryContext, get_paths};
use crate::store::Store;

/// Paths a widget shows when it sets no `limit`.
pub const PATHS_LIMIT: usize = 10;

/// The paths query of a paths widget over `[from, to)`.
pub fn paths_query(w: &Widget, from: i64, to: i64) -> Result<PathsQuery, DashboardError> {
    let start = w
        .paths_start
        .as_ref()
        .map_or_else(|| EventMatch::named("*"), FunnelStep::to_event_match);
    let mut q = PathsQuery::new(start, w.paths_steps.map_or(4, |n| n as usize));
    q.end = w.paths_end.as_ref().map(FunnelStep::to_event_match);
    if let Some(node) = &w.paths_node {
        q.node = Field::parse(node).map_err(DashboardError::Invalid)?.canonical();
    }
    q.limit = w.limit.map_or(PATHS_LIMIT, |l| l as usize);
    super::translate::set_scope!(q, w.filters, from, to);
    Ok(q)
}

/// Runs a paths widget: a row per path (its steps in time order, then its persons).
pub async fn run_paths_widget(
    store: &dyn Store,
    ctx: &QueryContext,
    w: &Widget,
    from: i64,
    to: i64,
) -> Result<WidgetResult, DashboardError> {
    let q = paths_query(w, from, to)?;
    let r = get_paths(store, ctx, &q).await?;
    let column = |name: String, role| Column {
        label: name.clone(),
        name,
        role,
        time: None,
    };
    let mut columns: Vec<Column> = (1..=q.steps)
        .map(|k| column(format!("Step {k}"), ColumnRole::Dimension))
        .collect();
    columns.push(column("persons".into(), ColumnRole::Metric));
    let rows = r
        .paths
        .into_iter()
        .map(|p| {
            let mut row: Vec<serde_json::Value> = (0..q.steps)
                .map(|k| {
                    p.steps
                        .get(k)
                        .map_or(serde_json::Value::Null, |s| s.as_str().into())
                })
                .collect();
            row.push(p.persons.into());
            row
        })
        .collect();
    Ok(WidgetResult::Table { columns, rows })
}
