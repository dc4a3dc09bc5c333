//! Computing a dashboard's data: each widget's effective range, its result through the query
//! layer ([`translate::run_widget`]), and the host's [`DataCache`] (see the module docs of
//! [`super`]).

use std::sync::Arc;

use super::{DashboardData, DashboardMeta, DataRequest, WidgetData};
use crate::dashboard::DashboardError;
use crate::dashboard::cache::{DataCache, Lookup, RefreshClaim};
use crate::dashboard::model::{Dashboard, Widget, WidgetKind};
use crate::dashboard::period::{DateRange, ms_to_rfc3339};
use crate::dashboard::translate::{self, Pace};
use crate::query::QueryContext;
use crate::store::Store;

/// The data of every widget of `dashboard` at the current time.
pub async fn dashboard_data(
    store: &dyn Store,
    project: &str,
    dashboard: &Dashboard,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<DashboardData, DashboardError> {
    dashboard_data_at(
        store,
        project,
        dashboard,
        from,
        to,
        chrono::Utc::now().timestamp_millis(),
    )
    .await
}

/// [`dashboard_data`] with an explicit `now` (ms) for relative dates: deterministic in tests.
/// Fails only when the request's range is invalid; widget failures go in their `error`.
pub async fn dashboard_data_at(
    store: &dyn Store,
    project: &str,
    dashboard: &Dashboard,
    from: Option<&str>,
    to: Option<&str>,
    now_ms: i64,
) -> Result<DashboardData, DashboardError> {
    let req = DataRequest {
        from,
        to,
        now_ms,
        widget: None,
        cache: None,
        refresh: false,
    };
    collect(store, None, project, dashboard, &req).await
}

/// The general form of [`dashboard_data`], with the host's cache; `NotFound` when `req.widget`
/// names no widget. The store is shared because a stale cached result is served at once while
/// a background task (holding the store) recomputes it: see [`DataCache`].
pub async fn dashboard_data_with(
    store: &Arc<dyn Store>,
    project: &str,
    dashboard: &Dashboard,
    req: &DataRequest<'_>,
) -> Result<DashboardData, DashboardError> {
    collect(store.as_ref(), Some(store), project, dashboard, req).await
}

/// The widgets' data; the cache is used only with a `shared` store (for background refreshes).
async fn collect(
    store: &dyn Store,
    shared: Option<&Arc<dyn Store>>,
    project: &str,
    dashboard: &Dashboard,
    req: &DataRequest<'_>,
) -> Result<DashboardData, DashboardError> {
    let now_ms = req.now_ms;
    let tz = dashboard.time_zone.as_deref();
    let requested = request_range(req.from, req.to, now_ms, tz)?;
    let ctx = &dashboard_context(project, dashboard, now_ms);
    let dashboard_id = dashboard.id.clone().unwrap_or_default();
    let selected: Vec<(usize, &Widget)> = dashboard
        .widgets
        .iter()
        .enumerate()
        .filter(|(i, w)| req.widget.is_none_or(|id| widget_id(*i, w) == id))
        .collect();
    if let (Some(id), true) = (req.widget, selected.is_empty()) {
        return Err(DashboardError::NotFound {
            kind: "widget",
            id: format!("{dashboard_id}/{id}"),
        });
    }
    let dashboard_id = &dashboard_id;
    // Every widget at once: the store runs queries concurrently where it can (DuckDB: a pool of
    // reader connections).
    let jobs = selected.into_iter().map(|(index, w)| async move {
        let range = widget_range(dashboard, w, requested, now_ms);
        let (Some(cache), Some(shared), Ok((from, to))) = (req.cache, shared, &range) else {
            return widget_data(store, ctx, index, w, range, Pace::Concurrent).await;
        };
        let key = widget_key(project, dashboard_id, w, *from, *to);
        if !req.refresh {
            match cache.lookup(&key, now_ms) {
                Lookup::Fresh { data, computed_at } => return served(data, index, computed_at, false),
                Lookup::Stale {
                    data,
                    computed_at,
                    refresh,
                } => {
                    if let Some(claim) = refresh {
                        let (store, cache, ctx, w) = (shared.clone(), cache.clone(), ctx.clone(), w.clone());
                        let range = (*from, *to);
                        tokio::spawn(async move {
                            let _permit = cache.background_permit().await;
                            let key = claim.key().to_string();
                            let _ = compute_into(
                                store.as_ref(),
                                &cache,
                                key,
                                Some(claim),
                                &ctx,
                                index,
                                &w,
                                range,
                            )
                            .await;
                        });
                    }
                    return served(data, index, computed_at, true);
                }
                Lookup::Miss => {}
            }
        }
        // One inline computation per key: a request that waited for another's reuses its result.
        let slot = if req.refresh {
            None
        } else {
            Some(cache.compute_slot(&key).await)
        };
        if slot.is_some()
            && let Some((data, computed_at)) = cache.fresh(&key, now_ms)
        {
            return served(data, index, computed_at, false);
        }
        let data = widget_data(store, ctx, index, w, range, Pace::Concurrent).await;
        if data.error.is_none() {
            cache.put(key, now_ms, data.clone());
        }
        drop(slot);
        data
    });
    let widgets = futures::future::join_all(jobs).await;
    Ok(DashboardData {
        dashboard: DashboardMeta {
            id: dashboard.id.clone().unwrap_or_default(),
            name: dashboard.name.clone(),
            description: dashboard.description.clone(),
        },
        from: requested.map(|r| ms_to_rfc3339(r.0)),
        to: requested.map(|r| ms_to_rfc3339(r.1)),
        generated_at: ms_to_rfc3339(now_ms),
        widgets,
    })
}

/// The query context of a dashboard's widgets at `now_ms`.
pub(crate) fn dashboard_context(project: &str, dashboard: &Dashboard, now_ms: i64) -> QueryContext {
    let mut ctx = QueryContext::at(project, now_ms);
    ctx.time_zone = dashboard.time_zone.clone();
    ctx
}

/// A widget's effective range: the request's (unless the widget's own is `fixed`), else the
/// widget's own, else the dashboard's, else the last 30 days.
pub(crate) fn widget_range(
    dashboard: &Dashboard,
    w: &Widget,
    requested: Option<(i64, i64)>,
    now_ms: i64,
) -> Result<(i64, i64), String> {
    let own = w.own_range();
    match (requested, &own) {
        (Some(r), own) if !own.as_ref().is_some_and(|o| o.fixed) => Ok(r),
        _ => own
            .or_else(|| dashboard.date_range.clone())
            .unwrap_or_else(DateRange::last_30_days)
            .resolve(now_ms, dashboard.time_zone.as_deref()),
    }
}

/// The cache key of a widget's result over `[from, to)`.
pub(crate) fn widget_key(project: &str, dashboard_id: &str, w: &Widget, from: i64, to: i64) -> String {
    DataCache::key(
        project,
        dashboard_id,
        &serde_json::to_string(w).unwrap_or_default(),
        from,
        to,
    )
}

/// A cached result as served for widget `index`.
fn served(mut data: WidgetData, index: usize, computed_at: i64, stale: bool) -> WidgetData {
    data.index = index;
    data.cached = true;
    data.stale = stale;
    data.computed_at = Some(ms_to_rfc3339(computed_at));
    data
}

/// Computes a widget in the background (its queries one at a time, as of `ctx.now_ms`) and stores the result under `key` when it succeeded;
/// a failure is not cached (a stale entry stays) and returns the widget's error. The `claim` of a
/// stale entry's refresh, if any, ends with the call.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn compute_into(
    store: &dyn Store,
    cache: &DataCache,
    key: String,
    claim: Option<RefreshClaim>,
    ctx: &QueryContext,
    index: usize,
    w: &Widget,
    range: (i64, i64),
) -> Result<(), String> {
    let data = widget_data(store, ctx, index, w, Ok(range), Pace::Sequential).await;
    let out = match &data.error {
        Some(e) => Err(e.clone()),
        None => {
            cache.put(key, ctx.now_ms, data);
            Ok(())
        }
    };
    drop(claim);
    out
}

/// A widget's id: its `widget_id`, else `w{index}`.
pub fn widget_id(index: usize, w: &Widget) -> String {
    w.widget_id.clone().unwrap_or_else(|| format!("w{index}"))
}

/// The request's range when it gave `from` and/or `to` (a missing end defaults: `from` to
/// `30_days_ago`, `to` to `today`).
pub fn request_range(
    from: Option<&str>,
    to: Option<&str>,
    now_ms: i64,
    time_zone: Option<&str>,
) -> Result<Option<(i64, i64)>, DashboardError> {
    let from = from.map(str::trim).filter(|s| !s.is_empty());
    let to = to.map(str::trim).filter(|s| !s.is_empty());
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let r = DateRange {
        from: from.unwrap_or("30_days_ago").to_string(),
        to: to.unwrap_or("today").to_string(),
        fixed: false,
    };
    r.resolve(now_ms, time_zone)
        .map(Some)
        .map_err(DashboardError::Invalid)
}

async fn widget_data(
    store: &dyn Store,
    ctx: &QueryContext,
    index: usize,
    w: &Widget,
    range: Result<(i64, i64), String>,
    pace: Pace,
) -> WidgetData {
    let mut out = WidgetData {
        index,
        id: widget_id(index, w),
        title: w.title.clone(),
        kind: w.kind,
        chart_type: (w.kind == WidgetKind::Chart).then(|| w.effective_chart_type()),
        fixed_range: w.own_range().is_some_and(|r| r.fixed),
        from: String::new(),
        to: String::new(),
        result: None,
        error: None,
        cached: false,
        stale: false,
        computed_at: None,
    };
    let (from, to) = match range {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.from = ms_to_rfc3339(from);
    out.to = ms_to_rfc3339(to);
    match translate::run_widget(store, ctx, w, from, to, pace).await {
        Ok(r) => out.result = Some(r),
        Err(e) => {
            tracing::warn!(project = ctx.project_id, widget = out.id, error = %e, "dashboard widget failed");
            out.error = Some(e.to_string());
        }
    }
    out
}

/// `change` and `change_pct` of a value against its previous value.
pub fn trend_numbers(value: Option<f64>, previous: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (value, previous) {
        (Some(v), Some(p)) => (Some(v - p), (p != 0.0).then(|| (v - p) / p.abs() * 100.0)),
        _ => (None, None),
    }
}
