//! The dashboards' result cache kept warm: stale-while-revalidate (a stale result is served at
//! once and refreshed once, not once per request), the cache warmer (every dashboard of every
//! project), Refresh bypassing the cache, failures never cached, and concurrent requests for a
//! missing result computing it once.
//!
//! Deterministic: time is the `now_ms` of each request (never the clock), and a [`GateStore`]
//! around the in-memory DuckDB store counts queries, can hold them (to prove a response did not
//! wait for one) and can make them fail.

mod dashboard_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dashboard_support::{DAY, PROJECT, store_with_data};
use footfall_engine::dashboard::cache::DataCache;
use footfall_engine::dashboard::data::{DashboardData, DataRequest, dashboard_data_with};
use footfall_engine::dashboard::{CacheWarmer, Dashboard, DashboardStore, parse_dashboards};
use footfall_engine::store::{
    AuditEntry, Dialect, EraseReport, EventRow, QueryResult, Store, StoreError, WriteBatch, WriteReport,
};
use serde_json::Value;
use tokio::sync::watch;

/// Wraps a store: counts queries (started, running at once), holds them while the gate is
/// closed, fails them while `failing`.
struct GateStore {
    inner: Arc<dyn Store>,
    started: AtomicUsize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    failing: AtomicBool,
    open: watch::Sender<bool>,
}

impl GateStore {
    fn new(inner: Arc<dyn Store>) -> Arc<GateStore> {
        Arc::new(GateStore {
            inner,
            started: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            open: watch::channel(true).0,
        })
    }
    fn queries(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
    fn hold(&self) {
        self.open.send_replace(false);
    }
    fn release(&self) {
        self.open.send_replace(true);
    }
}

#[async_trait]
impl Store for GateStore {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteReport, StoreError> {
        self.inner.write(batch).await
    }
    async fn query(&self, sql: &str) -> Result<QueryResult, StoreError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _ = self.open.subscribe().wait_for(|open| *open).await;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let out = if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Query("injected failure".into()))
        } else {
            self.inner.query(sql).await
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        out
    }
    async fn erase_person(&self, p: &str, u: &str) -> Result<EraseReport, StoreError> {
        self.inner.erase_person(p, u).await
    }
    async fn export_person(&self, p: &str, u: &str) -> Result<Vec<EventRow>, StoreError> {
        self.inner.export_person(p, u).await
    }
    async fn delete_events_before(&self, p: &str, c: i64) -> Result<u64, StoreError> {
        self.inner.delete_events_before(p, c).await
    }
    async fn linked_user(&self, p: &str, a: &str) -> Result<Option<String>, StoreError> {
        self.inner.linked_user(p, a).await
    }
    async fn erase_anonymous(&self, p: &str, a: &str) -> Result<EraseReport, StoreError> {
        self.inner.erase_anonymous(p, a).await
    }
    async fn export_anonymous(&self, p: &str, a: &str) -> Result<Vec<EventRow>, StoreError> {
        self.inner.export_anonymous(p, a).await
    }
    async fn clear_sessions_before(&self, p: &str, c: i64) -> Result<u64, StoreError> {
        self.inner.clear_sessions_before(p, c).await
    }
    async fn delete_identities_before(&self, p: &str, c: i64) -> Result<u64, StoreError> {
        self.inner.delete_identities_before(p, c).await
    }
    async fn put_document(&self, k: &str, p: &str, id: &str, body: &Value) -> Result<(), StoreError> {
        self.inner.put_document(k, p, id, body).await
    }
    async fn get_document(&self, k: &str, p: &str, id: &str) -> Result<Option<Value>, StoreError> {
        self.inner.get_document(k, p, id).await
    }
    async fn list_documents(&self, k: &str, p: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.inner.list_documents(k, p).await
    }
    async fn delete_document(&self, k: &str, p: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_document(k, p, id).await
    }
    async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.inner.append_audit(e).await
    }
    async fn list_audit(&self, p: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.list_audit(p, limit).await
    }
}

const TTL: Duration = Duration::from_secs(60);

struct Fixture {
    gate: Arc<GateStore>,
    store: Arc<dyn Store>,
    cache: DataCache,
    dashboard: Dashboard,
    /// Noon of the current UTC day: later instants of the same day resolve to the same ranges.
    noon: i64,
    today: i64,
}

async fn fixture() -> Fixture {
    let (inner, today) = store_with_data().await;
    let gate = GateStore::new(inner);
    let store: Arc<dyn Store> = gate.clone();
    let mut dashboard = parse_dashboards(&dashboard_support::example_yaml())
        .unwrap()
        .remove(0);
    dashboard.id = Some("product-overview".into());
    Fixture {
        gate,
        store,
        cache: DataCache::new(TTL, 1000),
        dashboard,
        noon: today + DAY / 2,
        today,
    }
}

impl Fixture {
    async fn open_at(&self, now_ms: i64, refresh: bool) -> DashboardData {
        let req = DataRequest {
            from: None,
            to: None,
            now_ms,
            widget: None,
            cache: Some(&self.cache),
            refresh,
        };
        dashboard_data_with(&self.store, PROJECT, &self.dashboard, &req)
            .await
            .unwrap()
    }

    /// Waits until a request at `now_ms` is served wholly fresh from the cache (the background
    /// refreshes have ended). Requests made meanwhile start no refresh of their own (the
    /// refreshes in progress hold their claims).
    async fn until_fresh(&self, now_ms: i64) -> DashboardData {
        for _ in 0..3000 {
            let d = self.open_at(now_ms, false).await;
            if d.widgets.iter().all(|w| w.cached && !w.stale) {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the background refreshes never ended");
    }
}

fn results(d: &DashboardData) -> Vec<Value> {
    d.widgets
        .iter()
        .map(|w| serde_json::to_value(&w.result).unwrap())
        .collect()
}

fn rfc3339(ms: i64) -> String {
    footfall_engine::dashboard::period::ms_to_rfc3339(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_results_are_served_at_once_and_refreshed_once() {
    let f = fixture().await;
    let n = f.dashboard.widgets.len();
    let t0 = f.noon;
    let first = f.open_at(t0, false).await;
    assert!(first.widgets.iter().all(|w| w.error.is_none() && !w.cached));
    let per_open = f.gate.queries();
    assert!(per_open >= n, "every widget queried ({per_open} queries)");

    // Within the TTL: fresh from the cache, no query, computed at t0.
    let fresh = f.open_at(t0 + 30_000, false).await;
    assert_eq!(f.gate.queries(), per_open);
    assert!(fresh.widgets.iter().all(|w| w.cached && !w.stale));
    assert!(fresh.widgets.iter().all(|w| w.computed_at == Some(rfc3339(t0))));
    assert_eq!(results(&fresh), results(&first));

    // A new purchase lands; then the TTL passes. With every query held, three requests are still
    // answered (so none waited for a query): stale, the old numbers, computed at t0.
    let mut batch = WriteBatch::default();
    let late = dashboard_support::dataset(PROJECT, f.today)
        .events
        .into_iter()
        .find(|e| e.event == "purchase")
        .unwrap();
    batch.events.push(footfall_engine::store::EventRow {
        message_id: "late-purchase".into(),
        ts: f.today - DAY + 3_600_000,
        properties: r#"{"currency":"EUR","amount":1000}"#.into(),
        ..late
    });
    f.store.write(batch).await.unwrap();
    f.gate.hold();
    let t1 = t0 + 2 * TTL.as_millis() as i64;
    for _ in 0..3 {
        let stale = f.open_at(t1, false).await;
        assert!(
            stale.widgets.iter().all(|w| w.cached && w.stale),
            "{:?}",
            stale.widgets
        );
        assert!(stale.widgets.iter().all(|w| w.computed_at == Some(rfc3339(t0))));
        assert_eq!(results(&stale), results(&first));
    }
    assert_eq!(
        f.cache.refreshes_started(),
        n as u64,
        "one refresh per widget, not per request"
    );
    // Background refreshes run one widget (and one query) at a time.
    assert!(
        f.gate.queries() - per_open <= 1,
        "one background query at a time while held"
    );

    f.gate.release();
    let refreshed = f.until_fresh(t1).await;
    assert_eq!(f.cache.refreshes_started(), n as u64);
    assert_eq!(
        f.gate.queries(),
        2 * per_open,
        "the refreshes cost exactly one recomputation of every widget"
    );
    assert!(
        refreshed
            .widgets
            .iter()
            .all(|w| w.computed_at == Some(rfc3339(t1)))
    );
    let revenue = |d: &DashboardData| serde_json::to_value(&d.widgets[2].result).unwrap()["value"].clone();
    assert_eq!(
        revenue(&refreshed).as_f64().unwrap(),
        revenue(&first).as_f64().unwrap() + 1000.0,
        "the refresh recomputed the revenue with the late purchase"
    );
}

/// Opens the dashboard at `now_ms` in a task and returns once that request holds every widget's
/// compute slot (its queries held by the gate).
async fn computing_in_background(f: &Arc<Fixture>, now_ms: i64) -> tokio::task::JoinHandle<DashboardData> {
    let n = f.dashboard.widgets.len();
    let task = tokio::spawn({
        let f = f.clone();
        async move { f.open_at(now_ms, false).await }
    });
    for _ in 0..3000 {
        if f.cache.computing() == n {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the request never held every widget's compute slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_missing_result_compute_it_once() {
    let f = Arc::new(fixture().await);
    let n = f.dashboard.widgets.len();
    let t0 = f.noon;
    // Two viewers open the cold dashboard at once while every query is held: the first holds
    // each widget's compute slot, the second waits for it instead of querying.
    f.gate.hold();
    let first = computing_in_background(&f, t0).await;
    let second = tokio::spawn({
        let f = f.clone();
        async move { f.open_at(t0 + 10, false).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let held = f.gate.queries();
    f.gate.release();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert!(first.widgets.iter().all(|w| w.error.is_none() && !w.cached));
    assert!(
        second
            .widgets
            .iter()
            .all(|w| w.cached && !w.stale && w.computed_at == Some(rfc3339(t0))),
        "the second request is served the first one's results: {:?}",
        second.widgets
    );
    assert_eq!(results(&first), results(&second));
    let once = f.gate.queries();
    assert!(
        once >= held && held >= n,
        "the held queries were the first request's ({held})"
    );
    assert_eq!(
        f.cache.computing(),
        0,
        "the slots are gone once nobody holds them"
    );

    // One computation's worth of queries: what a forced recomputation of every widget costs.
    f.open_at(t0 + 20, true).await;
    assert_eq!(
        f.gate.queries() - once,
        once,
        "the dashboard was computed once, not twice"
    );

    // A viewer and the warmer: the warmer waits for the viewer's computation and reuses it.
    let f2 = fixture().await;
    DashboardStore::new(f2.store.as_ref(), PROJECT)
        .upsert_all(std::slice::from_ref(&f2.dashboard))
        .await
        .unwrap();
    let f2 = Arc::new(f2);
    f2.gate.hold();
    let viewer = computing_in_background(&f2, t0).await;
    let warmer = CacheWarmer::new(f2.store.clone(), f2.cache.clone(), vec![PROJECT.into()]);
    let warming = tokio::spawn(async move { warmer.warm_once(t0 + 10).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    f2.gate.release();
    viewer.await.unwrap();
    let report = warming.await.unwrap();
    assert_eq!((report.computed, report.skipped), (0, n), "{report:?}");
    let both = f2.gate.queries();
    f2.open_at(t0 + 20, true).await;
    assert_eq!(
        f2.gate.queries() - both,
        both,
        "the warmer ran no query of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_bypasses_fresh_and_stale_entries() {
    let f = fixture().await;
    let t0 = f.noon;
    f.open_at(t0, false).await;
    let per_open = f.gate.queries();

    let forced = f.open_at(t0 + 1_000, true).await;
    assert!(
        forced
            .widgets
            .iter()
            .all(|w| !w.cached && w.computed_at.is_none())
    );
    assert_eq!(f.gate.queries(), 2 * per_open, "refresh recomputes every widget");
    // ...and refills the cache with the new time.
    let after = f.open_at(t0 + 2_000, false).await;
    assert!(
        after
            .widgets
            .iter()
            .all(|w| w.computed_at == Some(rfc3339(t0 + 1_000)))
    );

    // A stale entry is not served to a refresh either, and no background refresh starts.
    let t1 = t0 + 1_000 + 2 * TTL.as_millis() as i64;
    let forced = f.open_at(t1, true).await;
    assert!(forced.widgets.iter().all(|w| !w.cached && !w.stale));
    assert_eq!(f.gate.queries(), 3 * per_open);
    assert_eq!(f.cache.refreshes_started(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_not_cached_and_a_failed_refresh_keeps_the_stale_result() {
    let f = fixture().await;
    let t0 = f.noon;
    let n = f.dashboard.widgets.len();
    f.gate.failing.store(true, Ordering::SeqCst);
    let failed = f.open_at(t0, false).await;
    assert!(failed.widgets.iter().all(|w| w.error.is_some() && !w.cached));
    assert!(f.cache.is_empty(), "errors are not cached");
    let q = f.gate.queries();
    let again = f.open_at(t0 + 1_000, false).await;
    assert!(again.widgets.iter().all(|w| w.error.is_some() && !w.cached));
    assert!(
        f.gate.queries() > q,
        "a failed widget is recomputed by the next request"
    );

    f.gate.failing.store(false, Ordering::SeqCst);
    let ok = f.open_at(t0 + 2_000, false).await;
    assert!(ok.widgets.iter().all(|w| w.error.is_none() && !w.cached));
    assert_eq!(f.cache.len(), n);

    // The refresh of a stale entry fails: the stale result stays served, and the claim is
    // released so a later request retries.
    f.gate.failing.store(true, Ordering::SeqCst);
    let t1 = t0 + 2_000 + 2 * TTL.as_millis() as i64;
    let stale = f.open_at(t1, false).await;
    assert!(stale.widgets.iter().all(|w| w.stale && w.error.is_none()));
    assert_eq!(f.cache.refreshes_started(), n as u64);
    let mut retried = false;
    for _ in 0..3000 {
        let d = f.open_at(t1, false).await;
        assert!(
            d.widgets.iter().all(|w| w.stale && w.error.is_none()),
            "still the stale result"
        );
        assert_eq!(results(&d), results(&ok));
        if f.cache.refreshes_started() > n as u64 {
            retried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(retried, "a failed refresh releases its claim");
    f.gate.failing.store(false, Ordering::SeqCst);
    let d = f.until_fresh(t1).await;
    assert!(d.widgets.iter().all(|w| w.error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warmer_fills_the_cache_for_every_dashboard_of_every_project() {
    let f = fixture().await;
    let second = parse_dashboards(
        "dashboards:\n  - id: second\n    name: Second\n    date_range: {from: 7_days_ago, to: today}\n    widgets:\n      - {type: metric, title: Events}\n      - {type: table, title: By browser, dimensions: [browser], metrics: [count]}\n",
    )
    .unwrap();
    let mut all = vec![f.dashboard.clone()];
    all.extend(second.clone());
    DashboardStore::new(f.store.as_ref(), PROJECT)
        .upsert_all(&all)
        .await
        .unwrap();
    // A second project with the same data and a dashboard of its own.
    f.store
        .write(dashboard_support::dataset("other", f.today))
        .await
        .unwrap();
    DashboardStore::new(f.store.as_ref(), "other")
        .upsert_all(&second)
        .await
        .unwrap();
    let widgets = all.iter().map(|d| d.widgets.len()).sum::<usize>() + second[0].widgets.len();

    let warmer = CacheWarmer::new(
        f.store.clone(),
        f.cache.clone(),
        vec![PROJECT.into(), "other".into(), "no-dashboards".into()],
    );
    let t0 = f.noon;
    let report = warmer.warm_once(t0).await;
    assert_eq!(report.dashboards, 3);
    assert_eq!(report.computed, widgets);
    assert_eq!((report.skipped, report.failed), (0, 0));
    assert_eq!(f.cache.len(), widgets);
    assert_eq!(
        f.gate.max_running.load(Ordering::SeqCst),
        1,
        "one query at a time"
    );

    // Every dashboard now opens from the cache without a query, with the warmer's numbers.
    let q = f.gate.queries();
    for (project, d) in [(PROJECT, &all[0]), (PROJECT, &all[1]), ("other", &second[0])] {
        let req = DataRequest {
            from: None,
            to: None,
            now_ms: t0 + 5_000,
            widget: None,
            cache: Some(&f.cache),
            refresh: false,
        };
        let data = dashboard_data_with(&f.store, project, d, &req).await.unwrap();
        assert!(
            data.widgets
                .iter()
                .all(|w| w.cached && !w.stale && w.error.is_none())
        );
        assert!(data.widgets.iter().all(|w| w.computed_at == Some(rfc3339(t0))));
    }
    assert_eq!(f.gate.queries(), q, "no query when opening a warmed dashboard");
    let uncached = footfall_engine::dashboard::data::dashboard_data_at(
        f.store.as_ref(),
        PROJECT,
        &all[0],
        None,
        None,
        t0 + 5_000,
    )
    .await
    .unwrap();
    let warmed = f.open_at(t0 + 5_000, false).await;
    assert_eq!(
        results(&warmed),
        results(&uncached),
        "the warmer computed the same numbers"
    );

    // A second pass within the TTL skips everything; after it, it recomputes everything.
    let q = f.gate.queries();
    let again = warmer.warm_once(t0 + 10_000).await;
    assert_eq!((again.computed, again.skipped), (0, widgets));
    assert_eq!(f.gate.queries(), q);
    let later = warmer.warm_once(t0 + 2 * TTL.as_millis() as i64).await;
    assert_eq!((later.computed, later.skipped, later.failed), (widgets, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warmer_counts_failures_and_caches_nothing_of_them() {
    let f = fixture().await;
    DashboardStore::new(f.store.as_ref(), PROJECT)
        .upsert_all(std::slice::from_ref(&f.dashboard))
        .await
        .unwrap();
    f.gate.failing.store(true, Ordering::SeqCst);
    let warmer = CacheWarmer::new(f.store.clone(), f.cache.clone(), vec![PROJECT.into()]);
    let report = warmer.warm_once(f.noon).await;
    assert_eq!(report.failed, f.dashboard.widgets.len());
    assert_eq!(report.computed, 0);
    assert!(f.cache.is_empty());
}
