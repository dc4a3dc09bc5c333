//! Bookkeeping shared by the whole state machine: the stats snapshot, persisting the state,
//! removing messages from the store, store failures, the custom PII patterns' compilation,
//! warnings and the debug log.

use super::Core;
use crate::queue::{Entry, Queue};
use crate::stats::{DebugLog, DropReason, LogEvent, Stats};
use crate::store::{STATE_SAVE_INTERVAL_MS, StoreError};

/// How many warnings [`Stats::warnings`] keeps.
pub(super) const RECENT_WARNINGS: usize = 20;

impl Core {
    /// Sets the debug log hook; warnings from startup (restore) are replayed to it at once.
    pub fn set_debug_log(&mut self, log: DebugLog) {
        for w in &self.startup_warnings {
            log(&LogEvent::Warning { detail: w });
        }
        self.startup_warnings.clear();
        self.log = Some(log);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        snapshot(&mut s, self.pending.len(), &self.queue);
        s
    }

    /// [`stats`](Self::stats) as JSON ([`Stats::to_json`]) without copying the counters, with
    /// `store_errors` more store errors (a host's own failed writes).
    pub fn stats_json(&mut self, store_errors: u64) -> String {
        let s = &mut self.stats;
        // The snapshot fields are only ever read through `stats()`, which sets them too.
        snapshot(s, self.pending.len(), &self.queue);
        s.store_errors += store_errors;
        let json = s.to_json();
        s.store_errors -= store_errors;
        json
    }

    /// Messages waiting in the delivery queue and in batches handed out and not yet reported
    /// (`stats().queued`, `stats().in_flight`).
    pub fn queue_counts(&self) -> (usize, usize) {
        (self.queue.waiting(), self.queue.in_flight())
    }

    /// Saves the persisted state now if session activity changed it since the last save
    /// (call on page hide / before exit; it is also done by `poll_batch` every 10 s).
    pub fn persist(&mut self, now: u64) {
        if self.state_dirty {
            self.save_state(now);
        }
    }

    // ----- internals shared by the submodules -----

    pub(super) fn is_granted(&self, category: &str) -> bool {
        self.consent.decide(category) == crate::consent::ConsentDecision::Granted
    }

    pub(super) fn refresh_consent_context(&mut self) {
        self.preferences = self.consent.preferences();
        self.consent_json = crate::wire::consent_json(&self.preferences);
    }

    pub(super) fn save_state(&mut self, now: u64) {
        self.state.consent = self.consent.choices().clone();
        let result = self.store.save_state(&self.state);
        self.state.consent.clear();
        self.state_dirty = false;
        self.state_saved_at = now;
        if let Err(e) = result {
            self.store_failed(&e);
        }
    }

    pub(super) fn save_state_if_due(&mut self, now: u64) {
        if self.state_dirty && now.saturating_sub(self.state_saved_at) >= STATE_SAVE_INTERVAL_MS {
            self.save_state(now);
        }
    }

    /// Removes messages from the store.
    pub(super) fn forget(&mut self, ids: &[Box<str>]) {
        let mut refs = Vec::with_capacity(ids.len());
        for id in ids {
            refs.push(&**id);
        }
        self.forget_refs(&refs);
    }

    /// Removes `entries` from the store.
    pub(super) fn forget_entries(&mut self, entries: &[Entry]) {
        let mut refs = Vec::with_capacity(entries.len());
        for e in entries {
            refs.push(&*e.id);
        }
        self.forget_refs(&refs);
    }

    pub(super) fn forget_refs(&mut self, ids: &[&str]) {
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.store.remove(ids) {
            self.store_failed(&e);
        }
    }

    /// Counts a store failure ([`Stats::store_errors`]) with a warning: the core's own store
    /// calls, and a host's failed writes of its store (e.g. the browser's `localStorage` full or
    /// unavailable). A store that keeps failing (a full disk, a full `localStorage`) would warn
    /// on every write: the warning is given for the 1st, 2nd, 4th, 8th, … failure (the counter
    /// has them all).
    pub fn store_failed(&mut self, e: &StoreError) {
        self.stats.store_errors += 1;
        if self.stats.store_errors.is_power_of_two() {
            self.warn(&e.message());
        }
    }

    /// Compiles the custom PII patterns of the configuration in force if they changed; a
    /// pattern the host's engine refuses is skipped, counted and logged. Returns whether the
    /// patterns in force changed.
    pub(super) fn refresh_patterns(&mut self) -> bool {
        let (skipped, changed) = self.patterns.update(&self.config.privacy);
        self.stats.invalid_patterns += skipped.len() as u64;
        for w in &skipped {
            self.warn(w);
        }
        changed
    }

    pub(super) fn warn(&mut self, detail: &str) {
        if self.stats.warnings.len() == RECENT_WARNINGS {
            self.stats.warnings.remove(0);
        }
        self.stats.warnings.push(detail.to_string());
        match &self.log {
            Some(log) => log(&LogEvent::Warning { detail }),
            // Kept for a debug log set later; bounded like `stats.warnings` (a host that never
            // sets one must not grow it forever).
            None if self.startup_warnings.len() < RECENT_WARNINGS => {
                self.startup_warnings.push(detail.to_string())
            }
            None => {}
        }
    }

    pub(super) fn emit(&self, event: LogEvent<'_>) {
        if let Some(log) = &self.log {
            log(&event);
        }
    }

    pub(super) fn dropped(&mut self, message_id: Option<&str>, reason: DropReason, detail: &str) {
        self.stats.count_drop(reason, 1);
        self.emit(LogEvent::Dropped {
            message_id,
            reason,
            detail,
        });
    }
}

/// The counts a [`Stats`] snapshot reads from the buffers rather than counts as it goes.
fn snapshot(s: &mut Stats, pending: usize, queue: &Queue) {
    s.pending_consent = pending;
    s.queued = queue.waiting();
    s.in_flight = queue.in_flight();
}
