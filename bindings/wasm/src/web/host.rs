//! The host loop: drives the core with `Date.now()`, one `setTimeout` (gloo-timers) for the
//! core's next wakeup, `fetch` for batches, `sendBeacon` on page hide.
//!
//! - After every call that can make a batch due (track, consent change, report), the timer is
//!   set to the core's `next_wakeup` (kept when an earlier one is already set). Sending never
//!   happens inside `track()`: at most a 0 ms timer is set.
//! - Batches go out with `fetch` as `text/plain` with the write key in the body (a CORS-simple
//!   request: no preflight), `keepalive` when small enough to outlive the page, and the outcome
//!   (status, `Retry-After`, body, or network error) is reported to the core, which decides.
//! - On page hide (`visibilitychange` → hidden, `pagehide`) everything queued leaves in
//!   ≤ 64 KB `sendBeacon` chunks — unless the browser is offline or the last delivery failed:
//!   then the events stay persisted for the next page (a beacon's outcome is invisible, so it
//!   is only used when delivery is likely).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use footfall::{Core, Delivery, OutgoingBatch};
use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use super::env::{self, post};
use crate::kv_store::StoreHandle;

/// Largest body for `sendBeacon` / `fetch(keepalive)` (the browsers' 64 KiB in-flight quota).
pub const BEACON_BYTES: usize = 64 * 1024;

pub struct Host {
    pub core: RefCell<Core>,
    url: String,
    /// `,"writeKey":"…"`, spliced into `poll_batch` bodies (see `with_write_key`).
    key_field: String,
    store: Option<StoreHandle>,
    timer: RefCell<Option<(u64, Timeout)>>,
    in_flight: Cell<usize>,
    last_failed: Cell<bool>,
    waiters: RefCell<Vec<js_sys::Function>>,
    stopped: Cell<bool>,
    me: RefCell<Weak<Host>>,
    /// A store commit is queued as a microtask (see `kv_store`: writes are behind).
    commit_queued: Cell<bool>,
    commit_task: RefCell<Option<Closure<dyn FnMut(JsValue)>>>,
    /// Failed `localStorage` writes (quota, disabled storage); added to `stats().storeErrors`.
    pub commit_errors: Cell<u64>,
}

impl Host {
    pub fn new(core: Core, store: Option<StoreHandle>) -> Rc<Host> {
        let url = core.batch_url();
        let key = serde_json::to_string(&core.config().delivery.write_key).unwrap_or_default();
        let host = Rc::new(Host {
            core: RefCell::new(core),
            url,
            key_field: String::from(",\"writeKey\":") + &key,
            store,
            timer: RefCell::new(None),
            in_flight: Cell::new(0),
            last_failed: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
            me: RefCell::new(Weak::new()),
            commit_queued: Cell::new(false),
            commit_task: RefCell::new(None),
            commit_errors: Cell::new(0),
        });
        *host.me.borrow_mut() = Rc::downgrade(&host);
        let weak = Rc::downgrade(&host);
        *host.commit_task.borrow_mut() = Some(Closure::new(move |_: JsValue| {
            if let Some(h) = weak.upgrade() {
                h.commit_now();
            }
        }));
        host
    }

    /// Queues a store commit in a microtask: it runs right after the page's current script, so a
    /// burst of calls costs one `localStorage` write.
    fn queue_commit(&self) {
        let Some(store) = &self.store else { return };
        if self.commit_queued.get() || !store.needs_commit() {
            return;
        }
        self.commit_queued.set(true);
        if let Some(task) = self.commit_task.borrow().as_ref() {
            let _ = js_sys::Promise::resolve(&JsValue::UNDEFINED).then(task);
        }
    }

    /// Writes pending store changes now.
    pub fn commit_now(&self) {
        self.commit_queued.set(false);
        if let Some(store) = &self.store {
            if store.commit().is_err() {
                self.commit_errors.set(self.commit_errors.get() + 1);
            }
        }
    }

    fn rc(&self) -> Option<Rc<Host>> {
        self.me.borrow().upgrade()
    }

    /// Storage becomes allowed (a consent grant): write what the store held back.
    pub fn open_store(&self) {
        if let Some(store) = &self.store {
            if !store.is_open() {
                let _ = store.open();
            }
        }
    }

    /// A `storage` event: another tab may have recorded consent (see `kv_store`).
    pub fn on_storage_changed(&self) {
        if let Some(store) = &self.store {
            if store.open_if_consented_elsewhere().is_err() {
                self.commit_errors.set(self.commit_errors.get() + 1);
            }
        }
    }

    pub fn store_open(&self) -> bool {
        self.store.as_ref().is_some_and(StoreHandle::is_open)
    }

    /// Sets the timer for the core's next wakeup (keeps an earlier one).
    pub fn schedule(&self, now: u64) {
        if self.stopped.get() {
            return;
        }
        self.queue_commit();
        let next = self.core.borrow().next_wakeup(now);
        let mut timer = self.timer.borrow_mut();
        let Some(at) = next else {
            *timer = None;
            return;
        };
        if timer.as_ref().is_some_and(|(t, _)| *t <= at) {
            return;
        }
        let me = self.me.borrow().clone();
        let delay = at.saturating_sub(now).min(i32::MAX as u64) as u32;
        let timeout = Timeout::new(delay, move || {
            if let Some(host) = me.upgrade() {
                // Dropping a running wasm-bindgen closure is safe: its glue frees it on return.
                let spent = host.timer.borrow_mut().take();
                host.pump();
                drop(spent);
            }
        });
        *timer = Some((at, timeout));
    }

    /// Sends every batch that is due, then re-arms the timer.
    pub fn pump(&self) {
        if self.stopped.get() {
            return;
        }
        let now = env::now_ms();
        loop {
            let batch = self.core.borrow_mut().poll_batch(now);
            match batch {
                Some(b) => self.send(b),
                None => break,
            }
        }
        self.schedule(now);
        self.settle();
    }

    /// Until the core can be told to put the key in every body: `{…}` → `{…,"writeKey":"…"}`.
    fn with_write_key(&self, body: Vec<u8>) -> String {
        let mut text = String::from_utf8(body).unwrap_or_default();
        // `poll_batch` bodies never carry the key (only `flush_all` ones, which skip this).
        if text.ends_with('}') {
            text.pop();
            text.push_str(&self.key_field);
            text.push('}');
        }
        text
    }

    fn send(&self, batch: OutgoingBatch) {
        let body = self.with_write_key(batch.body);
        self.send_text(batch.id, body);
    }

    fn send_text(&self, id: u64, body: String) {
        let Some(host) = self.rc() else { return };
        self.in_flight.set(self.in_flight.get() + 1);
        let keepalive = body.len() <= BEACON_BYTES;
        let request = post(&self.url, &body, keepalive);
        spawn_local(async move {
            let delivery = match JsFuture::from(request).await {
                Ok(answer) => {
                    let a = js_sys::Array::from(&answer);
                    let status = a.get(0).as_f64().unwrap_or(0.0) as u16;
                    Delivery::Http {
                        status,
                        retry_after: a.get(1).as_string(),
                        body: a.get(2).as_string(),
                    }
                }
                Err(e) => Delivery::NetworkError {
                    detail: e
                        .dyn_ref::<js_sys::Error>()
                        .map_or_else(|| "fetch failed".into(), |e| String::from(e.message())),
                },
            };
            let failed = !matches!(
                delivery,
                Delivery::Http {
                    status: 200..=499,
                    ..
                }
            ) || matches!(delivery, Delivery::Http { status: 429, .. });
            host.last_failed.set(failed);
            host.in_flight.set(host.in_flight.get().saturating_sub(1));
            host.core.borrow_mut().report(id, delivery, env::now_ms());
            host.pump();
        });
    }

    /// The page is being hidden or unloaded: send what is queued by beacon (see module docs).
    pub fn flush_on_hide(&self) {
        if self.stopped.get() {
            return;
        }
        let now = env::now_ms();
        if !env::online() || self.last_failed.get() {
            self.core.borrow_mut().persist(now);
            self.commit_now();
            return;
        }
        let batches = self.core.borrow_mut().flush_all(now, BEACON_BYTES, true);
        for b in batches {
            let body = String::from_utf8(b.body).unwrap_or_default();
            if env::send_beacon(&self.url, &body) {
                self.core
                    .borrow_mut()
                    .report(b.id, Delivery::Beacon { queued: true }, now);
            } else {
                // The beacon queue is full: a keepalive fetch still has a chance, and its outcome
                // is reported if the page lives on (else the events stay persisted).
                self.send_text(b.id, body);
            }
        }
        self.commit_now();
        self.schedule(now);
    }

    /// The browser came back online: try again now.
    pub fn on_online(&self) {
        self.last_failed.set(false);
        self.pump();
    }

    /// `flush()`: resolves once nothing is in flight and the queue is empty or backing off.
    pub fn flush(&self) -> js_sys::Promise {
        self.core.borrow_mut().flush();
        self.pump();
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            self.waiters.borrow_mut().push(resolve);
        });
        self.settle();
        promise
    }

    fn settle(&self) {
        if self.waiters.borrow().is_empty() || self.in_flight.get() > 0 {
            return;
        }
        let queued = self.core.borrow().stats().queued;
        if queued == 0 || self.last_failed.get() || self.stopped.get() {
            for resolve in self.waiters.borrow_mut().drain(..) {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    }

    /// Stops timers and sending (listeners are removed by the owner).
    pub fn stop(&self) {
        self.commit_now();
        self.stopped.set(true);
        self.timer.borrow_mut().take();
        self.settle();
    }
}
