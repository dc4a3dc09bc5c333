//! An in-memory cache of widget results with stale-while-revalidate, so opening a dashboard is
//! instant however large the store (the PostHog/Amplitude model: results are kept warm).
//!
//! * **Key**: project, dashboard id, the widget's own definition (an edited widget misses) and its
//!   resolved range in ms (relative ranges such as `30_days_ago`..`today` resolve to the same
//!   instants all day long).
//! * **Fresh** (younger than `ttl`, default 60 s): served as is.
//! * **Stale** (older than `ttl`, younger than `max_stale`, default 24 h): still served at once,
//!   marked `stale` with its `computed_at`, and the first request that sees it claims the one
//!   background refresh ([`RefreshClaim`]); later requests serve the same stale result without
//!   starting another until that refresh ends (it replaces the entry, or on failure releases the
//!   claim so a later request may retry). Entries older than `max_stale` are dropped: the request
//!   computes inline.
//! * **Missing** (never computed, or dropped): the request computes inline, one computation per
//!   key at a time ([`DataCache::compute_slot`]): a second request for a key being computed (two
//!   viewers opening a cold dashboard, or a viewer and the warmer) waits for that computation
//!   and is served its result from the cache instead of running the same queries again; when it
//!   failed (nothing cached), the waiter computes itself.
//! * Only successful results are stored; at most `max_entries` (default 1,000), the oldest evicted
//!   first. The page's Refresh button bypasses the cache (and refills it).
//! * **Background work** (refreshes and the [`super::warm::CacheWarmer`]) runs one widget at a
//!   time: each takes the cache's single background permit ([`DataCache::background_permit`]),
//!   so at most one background query competes with ingestion and interactive queries.
//!
//! The host owns the cache (see `http::DashboardHost::data_cache`), so nothing is global; it is
//! cheap to clone (clones share the entries), which lets refresh tasks and the warmer hold it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, Semaphore, SemaphorePermit};

use super::data::WidgetData;

/// Default time a result is fresh.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Default age beyond which a stale result is no longer served.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// Default number of entries.
pub const DEFAULT_MAX_ENTRIES: usize = 1000;

#[derive(Clone)]
pub struct DataCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl_ms: i64,
    max_stale_ms: i64,
    max_entries: usize,
    entries: Mutex<HashMap<String, Entry>>,
    /// One permit: background work runs one widget at a time.
    background: Semaphore,
    next_claim: AtomicU64,
    refreshes_started: AtomicU64,
    /// The lock of each key being computed inline (see [`DataCache::compute_slot`]); an entry
    /// lives while some request holds or waits for it.
    computing: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

struct Entry {
    computed_at: i64,
    data: WidgetData,
    /// The claim of the refresh in progress, if any.
    refreshing: Option<u64>,
}

/// What the cache holds for a key at a given time.
pub enum Lookup {
    /// Younger than the TTL.
    Fresh {
        data: WidgetData,
        computed_at: i64,
    },
    /// Past the TTL but still served. `refresh` is `Some` for the one caller that must start the
    /// background refresh (none while a refresh is in progress).
    Stale {
        data: WidgetData,
        computed_at: i64,
        refresh: Option<RefreshClaim>,
    },
    Miss,
}

/// The right (and duty) to refresh one stale entry. Storing a new result ends it; dropping it
/// without one (the refresh failed) releases it so a later request may retry.
pub struct RefreshClaim {
    cache: DataCache,
    key: String,
    id: u64,
}

impl RefreshClaim {
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for RefreshClaim {
    fn drop(&mut self) {
        let mut map = self.cache.lock();
        if let Some(e) = map.get_mut(&self.key).filter(|e| e.refreshing == Some(self.id)) {
            e.refreshing = None;
        }
    }
}

/// The right to compute one missing key inline; see [`DataCache::compute_slot`].
pub struct ComputeSlot {
    cache: DataCache,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for ComputeSlot {
    fn drop(&mut self) {
        // Release first, then forget the key's lock unless someone else holds or waits for it
        // (every clone is made under the map's mutex, so the count cannot grow meanwhile).
        drop(self.guard.take());
        let mut computing = self.cache.computing_locks();
        if computing
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            computing.remove(&self.key);
        }
    }
}

impl Default for DataCache {
    fn default() -> Self {
        DataCache::new(DEFAULT_TTL, DEFAULT_MAX_ENTRIES)
    }
}

impl DataCache {
    /// A cache keeping results fresh for `ttl` and serving them stale for up to
    /// [`DEFAULT_MAX_STALE`].
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        DataCache::with_max_stale(ttl, DEFAULT_MAX_STALE, max_entries)
    }

    /// `max_stale` (at least `ttl`) is the age beyond which an entry is no longer served;
    /// `max_stale == ttl` disables stale-while-revalidate.
    pub fn with_max_stale(ttl: Duration, max_stale: Duration, max_entries: usize) -> Self {
        let ttl_ms = ttl.as_millis() as i64;
        DataCache {
            inner: Arc::new(Inner {
                ttl_ms,
                max_stale_ms: (max_stale.as_millis() as i64).max(ttl_ms),
                max_entries: max_entries.max(1),
                entries: Mutex::default(),
                background: Semaphore::new(1),
                next_claim: AtomicU64::new(1),
                refreshes_started: AtomicU64::new(0),
                computing: Mutex::default(),
            }),
        }
    }

    /// The key of a widget's result.
    pub fn key(project: &str, dashboard_id: &str, widget_json: &str, from: i64, to: i64) -> String {
        format!("{project}\u{1f}{dashboard_id}\u{1f}{widget_json}\u{1f}{from}\u{1f}{to}")
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry of `key` at `now_ms`; a stale entry not being refreshed is claimed for refresh
    /// by this call. An entry "from the future" (the caller's clock is behind) counts as fresh.
    pub fn lookup(&self, key: &str, now_ms: i64) -> Lookup {
        let mut map = self.lock();
        let Some(e) = map.get_mut(key) else {
            return Lookup::Miss;
        };
        let age = now_ms - e.computed_at;
        if age < self.inner.ttl_ms {
            return Lookup::Fresh {
                data: e.data.clone(),
                computed_at: e.computed_at,
            };
        }
        if age >= self.inner.max_stale_ms {
            map.remove(key);
            return Lookup::Miss;
        }
        let refresh = e.refreshing.is_none().then(|| {
            let id = self.inner.next_claim.fetch_add(1, Ordering::Relaxed);
            e.refreshing = Some(id);
            self.inner.refreshes_started.fetch_add(1, Ordering::Relaxed);
            RefreshClaim {
                cache: self.clone(),
                key: key.to_string(),
                id,
            }
        });
        Lookup::Stale {
            data: e.data.clone(),
            computed_at: e.computed_at,
            refresh,
        }
    }

    /// A fresh result (younger than the TTL at `now_ms`), never a stale one.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<WidgetData> {
        self.fresh(key, now_ms).map(|(data, _)| data)
    }

    /// A fresh result and the time it was computed at.
    pub fn fresh(&self, key: &str, now_ms: i64) -> Option<(WidgetData, i64)> {
        let map = self.lock();
        map.get(key)
            .filter(|e| now_ms - e.computed_at < self.inner.ttl_ms)
            .map(|e| (e.data.clone(), e.computed_at))
    }

    /// Waits until no other holder computes `key`, then holds it until the slot is dropped.
    /// Whoever computes a missing result inline holds the slot while it does, and after getting
    /// it checks [`DataCache::fresh`] first: a computation that ended while it waited is reused.
    pub async fn compute_slot(&self, key: &str) -> ComputeSlot {
        let lock = {
            let mut computing = self.computing_locks();
            computing.entry(key.to_string()).or_default().clone()
        };
        ComputeSlot {
            guard: Some(lock.lock_owned().await),
            cache: self.clone(),
            key: key.to_string(),
        }
    }

    /// Number of keys being computed inline or waited for (0 when idle: slots clean up after
    /// themselves).
    pub fn computing(&self) -> usize {
        self.computing_locks().len()
    }

    fn computing_locks(&self) -> MutexGuard<'_, HashMap<String, Arc<AsyncMutex<()>>>> {
        self.inner.computing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` holds a fresh result at `now_ms`.
    pub fn is_fresh(&self, key: &str, now_ms: i64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores a result computed at `computed_at_ms` (ends any refresh in progress for the key),
    /// unless the key already holds a newer one. Drops entries past `max_stale`, then the oldest
    /// while the cache is full.
    pub fn put(&self, key: String, computed_at_ms: i64, data: WidgetData) {
        let max_stale = self.inner.max_stale_ms;
        let mut map = self.lock();
        if map.get(&key).is_some_and(|e| e.computed_at > computed_at_ms) {
            return; // a newer result landed meanwhile (a Refresh during a background refresh)
        }
        map.retain(|_, e| computed_at_ms - e.computed_at < max_stale);
        while map.len() >= self.inner.max_entries && !map.contains_key(&key) {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.computed_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(
            key,
            Entry {
                computed_at: computed_at_ms,
                data,
                refreshing: None,
            },
        );
    }

    /// The permit background work holds while it computes one widget (one at a time).
    pub async fn background_permit(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed.
        self.inner
            .background
            .acquire()
            .await
            .expect("the background semaphore is never closed")
    }

    /// Number of background refreshes claimed so far (stale entries seen).
    pub fn refreshes_started(&self) -> u64 {
        self.inner.refreshes_started.load(Ordering::Relaxed)
    }

    /// The time-to-live of a fresh entry.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.inner.ttl_ms as u64)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
