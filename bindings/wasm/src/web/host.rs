//! The host's decisions: when batches go, how they go, and what a page event means for the
//! core. The JS side of the package (`js/src/host.ts`) owns the timer, `fetch`, the listeners
//! and the Web Locks, and calls in here; everything that is policy stays in Rust:
//!
//! - after every call that can make a batch due, the caller gets the delay until the core's next
//!   wakeup (`-1`: none) and sets its one timer; sending never happens inside `track()`;
//! - [`Host::next`] hands out the batches that are due (the write key is in every body: batches
//!   go as CORS-simple `text/plain` without an `Authorization` header, so no preflight); the JS
//!   side POSTs them (`keepalive` when ≤ 64 KB) and reports the outcome with
//!   [`Host::delivered`] / [`Host::failed`]; the core decides what it means;
//! - on page hide (`visibilitychange` → hidden, `pagehide`) everything queued leaves in
//!   ≤ 64 KB `sendBeacon` chunks — unless the browser is offline or the last delivery failed:
//!   then the events stay persisted for the next page (a beacon's outcome is invisible, so it is
//!   only used when delivery is likely); a chunk the browser refuses goes out by `fetch`;
//! - the privacy team's settings: when the core says a fetch is due, the JS side GETs
//!   `{endpoint}/v1/settings?writeKey=…` (no custom header, so no preflight; `cache: no-cache`
//!   lets the browser's HTTP cache revalidate with `If-None-Match` itself and turn a 304 into
//!   the cached body, whose `ETag` the core recognizes) and hands the answer to the core;
//! - `online` makes the next attempt immediate ([`footfall::Core::retry_now`]); a `storage` event
//!   for the shared state hands it to the core ([`footfall::Core::sync_state`]); an orphaned
//!   partition whose lock this tab obtained is adopted ([`footfall::Core::restore_messages`]).

use footfall::settings_fetch::SettingsResponse;
use footfall::{Core, Delivery, Event, MessageType};

use super::env;
use super::page::PageState;
use crate::kv_store::StoreHandle;

/// Largest body for `sendBeacon` / `fetch(keepalive)` (the browsers' 64 KiB in-flight quota).
pub const BEACON_BYTES: usize = 64 * 1024;

pub struct Host {
    pub core: Core,
    pub store: Option<StoreHandle>,
    pub page: PageState,
    pub auto_page_views: bool,
    url: String,
    last_failed: bool,
    stopped: bool,
    /// Page-hide chunks the browser's beacon queue refused, for `fetch`.
    outbox: Vec<(u64, Vec<u8>)>,
    /// The id of the batch [`Host::next`] returned last, and whether it may go with
    /// `keepalive` (≤ 64 KB: it can outlive the page).
    pub last_batch: u64,
    pub last_keepalive: bool,
}

impl Host {
    pub fn new(mut core: Core, store: Option<StoreHandle>, page: PageState, auto_page_views: bool) -> Host {
        core.set_write_key_in_body(true);
        core.set_default_context(page.context());
        Host {
            url: core.batch_url(),
            core,
            store,
            page,
            auto_page_views,
            last_failed: false,
            stopped: false,
            outbox: Vec::new(),
            last_batch: 0,
            last_keepalive: true,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Milliseconds until the JS side should call [`Host::next`], or `-1` for "not until the
    /// next call in".
    pub fn wakeup(&self, now: u64) -> f64 {
        if self.stopped {
            return -1.0;
        }
        if !self.outbox.is_empty() {
            return 0.0;
        }
        self.core
            .next_wakeup(now)
            .map_or(-1.0, |at| at.saturating_sub(now) as f64)
    }

    /// Sends `event` through the pipeline (a `page` event gets the page's properties).
    pub fn track(&mut self, mut event: Event, now: u64) -> f64 {
        if event.kind == MessageType::Page {
            self.page.fill(&mut event);
        }
        self.core.track(event, now);
        self.wakeup(now)
    }

    /// The body of the next batch to send now, if any ([`Host::last_batch`] is its id), as
    /// UTF-8 bytes (handed to `fetch` as they are: no decoding into a JS string and encoding
    /// back).
    pub fn next(&mut self, now: u64) -> Option<Vec<u8>> {
        if self.stopped {
            return None;
        }
        let (id, body) = match self.outbox.pop() {
            Some(out) => out,
            None => {
                let batch = self.core.poll_batch(now)?;
                (batch.id, batch.body)
            }
        };
        self.last_batch = id;
        self.last_keepalive = body.len() <= BEACON_BYTES;
        Some(body)
    }

    /// A batch got an HTTP answer.
    pub fn delivered(
        &mut self,
        id: u64,
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
        now: u64,
    ) -> f64 {
        self.last_failed = !(200..=499).contains(&status) || status == 429;
        let delivery = Delivery::Http {
            status,
            retry_after,
            body,
        };
        self.core.report(id, delivery, now);
        self.wakeup(now)
    }

    /// A batch got no answer (offline, DNS, CORS, aborted).
    pub fn failed(&mut self, id: u64, detail: String, now: u64) -> f64 {
        self.last_failed = true;
        self.core.report(id, Delivery::NetworkError { detail }, now);
        self.wakeup(now)
    }

    /// The page is being hidden or unloaded (see the module docs).
    pub fn hide(&mut self, online: bool, now: u64) {
        if self.stopped {
            return;
        }
        if !online || self.last_failed {
            self.core.persist(now);
        } else {
            // Walked by reference (no owning iterator over the batches in the bundle).
            let mut batches = self.core.flush_all(now, BEACON_BYTES, false);
            for b in &mut batches {
                // The bytes go out as a `text/plain` Blob (glue.js): CORS-simple.
                if env::beacon(&self.url, &b.body) {
                    self.core.report(b.id, Delivery::Beacon { queued: true }, now);
                } else {
                    // The beacon queue is full: a keepalive fetch still has a chance, and its
                    // outcome is reported if the page lives on (else the events stay persisted).
                    self.outbox.push((b.id, std::mem::take(&mut b.body)));
                }
            }
        }
        self.commit();
    }

    /// The settings fetch got an answer: `status` LF `ETag` LF body (status `0`: no answer).
    pub fn settings_answer(&mut self, answer: &str, now: u64) {
        let (status, rest) = super::lines(answer);
        let (etag, body) = super::lines(rest);
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let response = match super::number(status) {
            status @ 1..=999 => SettingsResponse::http(status as u16, text(etag), text(body)),
            _ => SettingsResponse::Failed {
                detail: "network error".into(),
            },
        };
        self.core.report_settings(response, now);
    }

    /// The browser is back online: try again now.
    pub fn online(&mut self, now: u64) -> f64 {
        self.last_failed = false;
        self.core.retry_now();
        self.wakeup(now)
    }

    /// The page's URL may have changed (SPA navigation): new default context and, when it did
    /// and `autoPageViews` is on, a page view.
    pub fn navigate(&mut self, page_json: &str, now: u64) -> f64 {
        if !self.page.navigate(page_json) {
            return self.wakeup(now);
        }
        self.core.set_default_context(self.page.context());
        if self.auto_page_views {
            self.core.track(self.page.page_view(), now);
        }
        self.wakeup(now)
    }

    /// Another tab changed the shared state: its identity and consent apply here now, and its
    /// consent allows storage here too.
    pub fn sync(&mut self, now: u64) -> f64 {
        if let Some(store) = &self.store {
            if let Some(state) = store.stored_state() {
                self.core.sync_state(state, now);
            }
            if let Err(e) = store.open_if_consented_elsewhere() {
                self.core.store_failed(&e);
            }
        }
        self.wakeup(now)
    }

    /// The page came back from the back/forward cache (`pageshow` with `persisted`): the user
    /// sees it again, so with `autoPageViews` it is a page view (as PostHog and GA4 count it).
    /// Timers and delivery simply go on (the JS side's timer survives the cache).
    pub fn shown(&mut self, now: u64) -> f64 {
        if self.auto_page_views {
            self.core.track(self.page.page_view(), now);
        }
        self.wakeup(now)
    }

    /// This tab obtained the lock of `tab`'s partition (that tab is gone): its events are ours.
    pub fn adopt(&mut self, tab: &str, now: u64) -> f64 {
        if let Some(store) = &self.store {
            let restored = store.adopt(tab);
            let any = !restored.messages.is_empty();
            self.core.restore_messages(restored.messages, now);
            if any {
                // A dead tab's events have waited already (and were adopted a second late on
                // purpose): they go now, not a `flush_interval` after they were tracked.
                self.core.flush();
            }
        }
        self.wakeup(now)
    }

    /// A consent grant allows storage: write what the store held back.
    pub fn open_store(&mut self) {
        if let Some(store) = &self.store {
            if let Err(e) = store.open() {
                self.core.store_failed(&e);
            }
        }
    }

    /// Writes pending store changes (the JS side calls this in a microtask after the calls that
    /// change the queue, so a burst of calls costs one `localStorage` write).
    pub fn commit(&mut self) {
        if let Some(store) = &self.store {
            // Quota exceeded (the site's other data fills the storage), storage cleared or
            // disabled: the events stay queued in memory and are delivered; counted in
            // `stats().storeErrors` with a warning.
            if let Err(e) = store.commit() {
                self.core.store_failed(&e);
            }
        }
    }

    /// Whether a `flush()` waiting for delivery may resolve: nothing in flight, and the queue
    /// empty or delivery failing (the events stay queued and are retried).
    pub fn settled(&self) -> bool {
        let (queued, in_flight) = self.core.queue_counts();
        in_flight == 0 && self.outbox.is_empty() && (queued == 0 || self.last_failed || self.stopped)
    }

    /// Stops sending; what is queued stays persisted.
    pub fn stop(&mut self, now: u64) {
        self.core.persist(now);
        self.commit();
        self.stopped = true;
    }
}
