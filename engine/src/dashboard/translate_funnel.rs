//! Funnel widgets → the query layer's [`FunnelQuery`] (`get_conversion_funnel`).
//!
//! Steps keep their labels and property filters; `funnel_window` (`14_days`, `2_hours`...; a
//! month counts 30 days, as in the query layer) becomes `window` + `window_unit`; `funnel_mode`
//! the mode; the widget's `filters` apply to every event the funnel reads.

use serde_json::Value;

use super::DashboardError;
use super::data::{FunnelStepData, WidgetResult};
use super::model::{FunnelStep, Widget};
use super::period::{Period, Unit};
use crate::query::funnel::WindowUnit;
use crate::query::{FunnelMode, FunnelQuery, QueryContext, get_conversion_funnel};
use crate::store::Store;

/// The funnel query of a funnel widget over `[from, to)`.
pub fn funnel_query(w: &Widget, from: i64, to: i64) -> Result<FunnelQuery, DashboardError> {
    let steps = w.funnel_steps.iter().map(FunnelStep::to_event_match).collect();
    let mut q = FunnelQuery::new(steps);
    if let Some(m) = &w.funnel_mode {
        q.mode = serde_json::from_value::<FunnelMode>(Value::String(m.clone()))
            .map_err(|_| DashboardError::Invalid(format!("unknown funnel mode `{m}`")))?;
    }
    if let Some(win) = &w.funnel_window {
        let p = Period::parse(win).map_err(DashboardError::Invalid)?;
        q.window = u64::from(p.n);
        q.window_unit = match p.unit {
            Unit::Seconds => WindowUnit::Second,
            Unit::Minutes => WindowUnit::Minute,
            Unit::Hours => WindowUnit::Hour,
            Unit::Days => WindowUnit::Day,
            Unit::Weeks => WindowUnit::Week,
            Unit::Months => WindowUnit::Month,
        };
    }
    super::translate::set_scope!(q, w.filters, from, to);
    Ok(q)
}

/// Runs a funnel widget: steps with persons, conversions and drop-off; overall conversion and
/// time to convert in seconds.
pub async fn run_funnel_widget(
    store: &dyn Store,
    ctx: &QueryContext,
    w: &Widget,
    from: i64,
    to: i64,
) -> Result<WidgetResult, DashboardError> {
    let r = get_conversion_funnel(store, ctx, &funnel_query(w, from, to)?).await?;
    let secs = |v: &Value| v.as_f64().map(|ms| ms / 1000.0);
    Ok(WidgetResult::Funnel {
        steps: r
            .steps
            .iter()
            .map(|s| FunnelStepData {
                name: s.name.clone(),
                event: s.event.clone(),
                persons: s.persons.max(0) as u64,
                conversion_from_start: s.conversion_from_start,
                conversion_from_previous: s.conversion_from_previous,
                drop_off: s.drop_off.max(0) as u64,
            })
            .collect(),
        overall_conversion: r.conversion_rate,
        median_time_to_convert_s: secs(&r.median_time_to_convert_ms),
        avg_time_to_convert_s: secs(&r.avg_time_to_convert_ms),
    })
}
