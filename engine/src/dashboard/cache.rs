//! A small in-memory cache of widget results, so reopening a dashboard is instant.
//!
//! Keyed by project, dashboard id, the widget's own definition (an edited widget misses) and its
//! resolved range in ms (relative ranges such as `30_days_ago`..`today` resolve to the same
//! instants all day long). Entries live `ttl` (default 60 s): fresh events show up within a
//! minute, and the page's Refresh button bypasses the cache. Only successful results are kept;
//! at most `max_entries` (default 1,000), the oldest evicted first. The host owns the cache
//! (see `http::DashboardHost::data_cache`), so nothing is global.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::data::WidgetData;

pub struct DataCache {
    ttl_ms: i64,
    max_entries: usize,
    entries: Mutex<HashMap<String, (i64, WidgetData)>>,
}

impl Default for DataCache {
    fn default() -> Self {
        DataCache::new(Duration::from_secs(60), 1000)
    }
}

impl DataCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        DataCache {
            ttl_ms: ttl.as_millis() as i64,
            max_entries: max_entries.max(1),
            entries: Mutex::default(),
        }
    }

    /// The key of a widget's result.
    pub fn key(project: &str, dashboard_id: &str, widget_json: &str, from: i64, to: i64) -> String {
        format!("{project}\u{1f}{dashboard_id}\u{1f}{widget_json}\u{1f}{from}\u{1f}{to}")
    }

    /// A result stored less than the TTL before `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<WidgetData> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| now_ms - at < self.ttl_ms && now_ms >= *at)
            .map(|(_, d)| d.clone())
    }

    pub fn put(&self, key: String, now_ms: i64, data: WidgetData) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (at, _)| now_ms - *at < self.ttl_ms);
        while map.len() >= self.max_entries {
            let Some(oldest) = map.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(key, (now_ms, data));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
