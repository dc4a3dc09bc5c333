//! [`Core`]: the SDK state machine a host drives. See the crate docs for the driving loop.
//!
//! This file holds the state, construction/restore, identity, super properties, hooks and
//! stats; `track.rs` runs the pipeline, `consent_api.rs` handles consent changes, `send.rs`
//! batching and delivery outcomes, and `tabs.rs` what a host sharing storage with other
//! instances (browser tabs) needs: adopting another instance's queue and its identity/consent
//! changes.

mod consent_api;
mod send;
mod server_settings;
mod tabs;
mod track;

use std::sync::Arc;

pub use send::OutgoingBatch;

use crate::config::{Config, ConfigError, secs_to_ms};
use crate::consent::ConsentState;
use crate::event::{EventContext, Properties};
use crate::map::NameMap;
use crate::pipeline::enrich::{Defaults, Stamped};
use crate::pipeline::patterns::{NoPatternMatcher, PatternMatcher, Patterns};
use crate::queue::{Entry, Pushed, Queue};
use crate::rng::{Rng, uuid_v4};
use crate::session::SessionRules;
use crate::stats::{DebugLog, DropReason, LogEvent, Stats};
use crate::store::{PersistedState, STATE_SAVE_INTERVAL_MS, Store, StoreError, StoredMessage};

#[cfg(feature = "serde")]
pub use crate::platform::BeforeSend;

/// The library name the native client reports in `context.library`.
pub const LIBRARY_NAME: &str = "footfall-rust";

/// How many warnings [`Stats::warnings`] keeps.
const RECENT_WARNINGS: usize = 20;

/// Config durations converted to milliseconds once.
#[derive(Debug, Clone, Copy)]
struct Limits {
    flush_interval_ms: u64,
    session: SessionRules,
    max_age_ms: u64,
    backoff_base_ms: u64,
    backoff_cap_ms: u64,
    settings_refresh_ms: u64,
}

impl Limits {
    fn new(config: &Config) -> Limits {
        Limits {
            flush_interval_ms: secs_to_ms(config.tracking.flush_interval),
            session: SessionRules {
                timeout_ms: secs_to_ms(config.tracking.session_timeout),
                max_length_ms: secs_to_ms(config.tracking.max_session_length),
            },
            max_age_ms: secs_to_ms(config.delivery.max_age),
            backoff_base_ms: secs_to_ms(config.delivery.backoff_base),
            backoff_cap_ms: secs_to_ms(config.delivery.backoff_cap),
            settings_refresh_ms: secs_to_ms(config.delivery.settings_refresh),
        }
    }
}

/// A batch handed to the host and not yet reported: its id and messages.
type InFlight = (u64, Vec<Entry>);

/// The Footfall core: pipeline, consent, identity, sessions, queue and delivery policy, with no
/// I/O, no threads and no clock. Every method that depends on time takes `now` (ms since the
/// Unix epoch). See the crate docs for how a host drives it.
pub struct Core {
    /// The configuration in force: the local one, or the local one merged with the server's
    /// privacy settings (`server_settings.rs`).
    config: Config,
    /// The configuration as the host gave it (what server settings are merged with).
    local: Config,
    /// The last known server settings and the fetch schedule.
    server: server_settings::ServerState,
    limits: Limits,
    store: Box<dyn Store>,
    rng: Box<dyn Rng>,
    /// The host's regex engine and the custom PII patterns it compiled.
    patterns: Patterns,
    state: PersistedState,
    state_dirty: bool,
    state_saved_at: u64,
    consent: ConsentState,
    /// `context.consent.categoryPreferences` now, and its JSON (`{"categoryPreferences":…}`).
    preferences: NameMap<bool>,
    consent_json: String,
    super_properties: Properties,
    /// Anonymized when set; shared by the messages tracked while it is in force.
    default_context: Arc<Defaults>,
    /// `context.library` name and version for the before-send hooks' typed message (only they
    /// need it apart from its JSON).
    #[cfg(feature = "serde")]
    library: (String, String),
    /// `context.library` as JSON.
    library_json: String,
    pending: Vec<Stamped>,
    queue: Queue,
    in_flight: Vec<InFlight>,
    #[cfg(feature = "serde")]
    hooks: Vec<BeforeSend>,
    log: Option<DebugLog>,
    startup_warnings: Vec<String>,
    stats: Stats,
    next_batch_id: u64,
    retry_at: u64,
    failures: u32,
    split_limit: Option<usize>,
    flush_requested: bool,
    /// Reused serialization buffer.
    scratch: String,
    /// `,"writeKey":"…"` when every batch body carries the write key, else empty.
    key_field: String,
}

impl Core {
    /// Builds a core for `config` and restores what `store` persisted (identity, session,
    /// consent choices, queued messages). Restored messages whose category is no longer granted,
    /// or that are older than `delivery.max_age`, are dropped and removed from the store.
    /// Store problems become warnings ([`Stats::warnings`], replayed to the debug log when it is
    /// set); only an invalid config is an error.
    ///
    /// Custom PII patterns (`privacy.pii_patterns`, also from the server's settings) need a
    /// regex engine: this core has none and leaves them to the collector (with a warning); hosts
    /// that have one use [`Core::with_pattern_matcher`].
    pub fn new(
        config: Config,
        store: Box<dyn Store>,
        rng: Box<dyn Rng>,
        now: u64,
    ) -> Result<Core, ConfigError> {
        Core::with_pattern_matcher(config, store, rng, Box::new(NoPatternMatcher), now)
    }

    /// [`Core::new`] with the host's regex engine for the custom PII patterns
    /// (`privacy.pii_patterns` and the server's `pii_patterns`, applied with `scrub_pii`; see
    /// [`crate::pipeline::patterns`]). They are compiled now and whenever the configuration in
    /// force changes them.
    pub fn with_pattern_matcher(
        config: Config,
        store: Box<dyn Store>,
        rng: Box<dyn Rng>,
        matcher: Box<dyn PatternMatcher>,
        now: u64,
    ) -> Result<Core, ConfigError> {
        config.validate()?;
        let limits = Limits::new(&config);
        let consent = ConsentState::new(&config, NameMap::new());
        let version = env!("CARGO_PKG_VERSION");
        let mut core = Core {
            limits,
            store,
            rng,
            patterns: Patterns::new(matcher),
            state: PersistedState::default(),
            state_dirty: false,
            state_saved_at: now,
            preferences: NameMap::new(),
            consent_json: String::new(),
            consent,
            super_properties: Properties::new(),
            // (`Defaults::new` rather than `Arc::default()`: the same empty defaults, one
            // constructor less in the browser bundle.)
            default_context: Arc::new(Defaults::new(EventContext::default())),
            #[cfg(feature = "serde")]
            library: (LIBRARY_NAME.to_string(), version.to_string()),
            library_json: crate::wire::library_json(LIBRARY_NAME, version),
            pending: Vec::new(),
            queue: Queue::default(),
            in_flight: Vec::new(),
            #[cfg(feature = "serde")]
            hooks: Vec::new(),
            log: None,
            startup_warnings: Vec::new(),
            stats: Stats::default(),
            next_batch_id: 1,
            retry_at: 0,
            failures: 0,
            split_limit: None,
            flush_requested: false,
            scratch: String::with_capacity(1024),
            key_field: String::new(),
            local: config.clone(),
            server: server_settings::ServerState::default(),
            config,
        };
        core.refresh_patterns();
        core.restore(now);
        Ok(core)
    }

    fn restore(&mut self, now: u64) {
        let restored = match self.store.load() {
            Ok(r) => r,
            Err(e) => {
                self.store_failed(&e);
                Default::default()
            }
        };
        for w in &restored.warnings {
            self.warn(w);
        }
        self.state = restored.state.unwrap_or_default();
        let fresh = self.state.anonymous_id.as_deref().is_none_or(str::is_empty);
        if fresh {
            self.state.anonymous_id = Some(uuid_v4(&mut *self.rng));
        }
        self.consent = ConsentState::new(&self.config, std::mem::take(&mut self.state.consent));
        // The last known server settings apply before anything else happens.
        if let Some(record) = &restored.settings {
            self.restore_settings(record, now);
        }
        self.refresh_consent_context();
        self.refresh_settings_allowed();
        if fresh {
            self.save_state(now);
        }
        let recheck = self.server.settings.is_some();
        self.admit_stored(restored.messages, now);
        if recheck {
            // Persisted before the settings they must now obey, perhaps.
            self.recheck_queue();
        }
    }

    /// Queues persisted messages (restored at startup, or adopted from another instance's
    /// storage): those whose category is no longer granted, or older than `delivery.max_age`,
    /// are dropped and removed from the store; the rest count as `restored`. They are not
    /// appended to the store again (it already holds them).
    fn admit_stored(&mut self, messages: Vec<StoredMessage>, now: u64) {
        let mut gone = Vec::new();
        for stored in messages {
            let entry = Entry::from_stored(stored);
            let reason = if !self.is_granted(&entry.category) {
                Some(DropReason::Consent)
            } else if now.saturating_sub(entry.enqueued_at) > self.limits.max_age_ms {
                Some(DropReason::Expired)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.dropped(Some(&entry.id), reason, "restored from the store");
                gone.push(entry.id);
                continue;
            }
            self.stats.restored += 1;
            match self.queue.push(entry, self.config.tracking.max_queue_size) {
                Pushed::Queued => {}
                Pushed::Evicted(old) | Pushed::Refused(old) => {
                    self.dropped(
                        Some(&old.id),
                        DropReason::QueueFull,
                        "restored queue over max_queue_size",
                    );
                    gone.push(old.id);
                }
            }
        }
        self.forget(&gone);
    }

    // ----- identity -----

    /// The current anonymous id (a UUID v4, persisted).
    pub fn anonymous_id(&self) -> &str {
        self.state.anonymous_id.as_deref().unwrap_or("")
    }

    /// The identified user id, if any (raw; `hash_user_id` applies only on the wire).
    pub fn user_id(&self) -> Option<&str> {
        self.state.user_id.as_deref()
    }

    /// The current session id, if a session is live at `now`.
    pub fn session_id(&self, now: u64) -> Option<&str> {
        self.state
            .session
            .as_ref()
            .filter(|s| crate::session::is_live(s, now, self.limits.session))
            .map(|s| s.id.as_str())
    }

    /// Logout: a new anonymous id, no user id, no session. Queued messages are kept (they
    /// belong to the previous identity and are still delivered).
    pub fn reset(&mut self, now: u64) {
        self.state.anonymous_id = Some(uuid_v4(&mut *self.rng));
        self.state.user_id = None;
        self.state.session = None;
        self.save_state(now);
    }

    // ----- configuration of the pipeline -----

    /// Registers super properties, added to every `track`/`page`/`screen` message (the event's
    /// own properties win). The privacy rules for properties (deny list, URL parameters, PII
    /// scrubbing) apply to them here, once. Kept in memory: hosts register them at startup.
    /// Takes a [`Properties`] map (or, with the `serde` feature, a `serde_json` map).
    pub fn register(&mut self, properties: impl Into<Properties>) {
        let mut properties = properties.into();
        let privacy = &self.config.privacy;
        crate::pipeline::anonymize::anonymize_properties(
            &mut properties,
            privacy,
            self.patterns.get(privacy),
        );
        for (k, v) in properties {
            self.super_properties.insert(k, v);
        }
    }

    /// Removes one super property.
    pub fn unregister(&mut self, key: &str) {
        self.super_properties.remove(key);
    }

    /// The registered super properties.
    pub fn super_properties(&self) -> &Properties {
        &self.super_properties
    }

    /// Context merged into every message (the event's own context wins): the browser's
    /// `userAgent`, `locale`, current `page` and its `campaign` ([`crate::pipeline::campaign`]),
    /// an `app` object, ... Anonymized here, once (IP,
    /// page URL parameters, deny list, PII), like a message's own context. Messages already
    /// tracked keep the context that was in force when they were tracked.
    pub fn set_default_context(&mut self, mut context: EventContext) {
        let privacy = &self.config.privacy;
        crate::pipeline::anonymize::anonymize_context(&mut context, privacy, self.patterns.get(privacy));
        self.default_context = Arc::new(Defaults::new(context));
    }

    /// `context.library` (default `footfall-rust` and this crate's version).
    pub fn set_library(&mut self, name: &str, version: &str) {
        #[cfg(feature = "serde")]
        {
            self.library = (name.to_string(), version.to_string());
        }
        self.library_json = crate::wire::library_json(name, version);
    }

    /// Adds a `before_send` hook; hooks run in the order added, after anonymization, and see
    /// the decorated wire [`crate::Message`] (feature `serde`).
    #[cfg(feature = "serde")]
    pub fn add_before_send(&mut self, hook: BeforeSend) {
        self.hooks.push(hook);
    }

    /// Sets the debug log hook; warnings from startup (restore) are replayed to it at once.
    pub fn set_debug_log(&mut self, log: DebugLog) {
        for w in &self.startup_warnings {
            log(&LogEvent::Warning { detail: w });
        }
        self.startup_warnings.clear();
        self.log = Some(log);
    }

    /// The configuration in force: the local configuration merged with the last known server
    /// privacy settings (the local one as given when there are none; see
    /// [`Core::local_config`]).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration as the host gave it to [`Core::new`].
    pub fn local_config(&self) -> &Config {
        &self.local
    }

    /// The URL batches are POSTed to: `{delivery.endpoint}/v1/batch`.
    pub fn batch_url(&self) -> String {
        self.endpoint_url("/v1/batch")
    }

    /// `{delivery.endpoint}{path}`, the endpoint without its trailing slashes.
    pub(super) fn endpoint_url(&self, path: &str) -> String {
        let mut base = self.config.delivery.endpoint.as_str();
        while let Some(b) = base.strip_suffix("/") {
            base = b;
        }
        String::from(base) + path
    }

    /// Whether every batch body carries the write key (`"writeKey":"…"`), for hosts whose
    /// transport cannot set the `Authorization` header: the browser sends CORS-simple
    /// `text/plain` requests (an `Authorization` header would force a preflight). Default off
    /// (the native client sends HTTP Basic); [`Core::flush_all`] can also ask for it per call.
    /// Size limits account for the key.
    pub fn set_write_key_in_body(&mut self, on: bool) {
        self.key_field = if on {
            crate::queue::write_key_field(&self.config.delivery.write_key)
        } else {
            String::new()
        };
    }

    /// The `Authorization` header value: HTTP Basic with the write key as username and an empty
    /// password.
    pub fn authorization(&self) -> String {
        basic_auth(&self.config.delivery.write_key)
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

    fn is_granted(&self, category: &str) -> bool {
        self.consent.decide(category) == crate::consent::ConsentDecision::Granted
    }

    fn refresh_consent_context(&mut self) {
        self.preferences = self.consent.preferences();
        self.consent_json = crate::wire::consent_json(&self.preferences);
    }

    fn save_state(&mut self, now: u64) {
        self.state.consent = self.consent.choices().clone();
        let result = self.store.save_state(&self.state);
        self.state.consent.clear();
        self.state_dirty = false;
        self.state_saved_at = now;
        if let Err(e) = result {
            self.store_failed(&e);
        }
    }

    fn save_state_if_due(&mut self, now: u64) {
        if self.state_dirty && now.saturating_sub(self.state_saved_at) >= STATE_SAVE_INTERVAL_MS {
            self.save_state(now);
        }
    }

    /// Removes messages from the store.
    fn forget(&mut self, ids: &[Box<str>]) {
        let mut refs = Vec::with_capacity(ids.len());
        for id in ids {
            refs.push(&**id);
        }
        self.forget_refs(&refs);
    }

    /// Removes `entries` from the store.
    fn forget_entries(&mut self, entries: &[Entry]) {
        let mut refs = Vec::with_capacity(entries.len());
        for e in entries {
            refs.push(&*e.id);
        }
        self.forget_refs(&refs);
    }

    fn forget_refs(&mut self, ids: &[&str]) {
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
    fn refresh_patterns(&mut self) -> bool {
        let (skipped, changed) = self.patterns.update(&self.config.privacy);
        self.stats.invalid_patterns += skipped.len() as u64;
        for w in &skipped {
            self.warn(w);
        }
        changed
    }

    fn warn(&mut self, detail: &str) {
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

    fn emit(&self, event: LogEvent<'_>) {
        if let Some(log) = &self.log {
            log(&event);
        }
    }

    fn dropped(&mut self, message_id: Option<&str>, reason: DropReason, detail: &str) {
        self.stats.count_drop(reason, 1);
        self.emit(LogEvent::Dropped {
            message_id,
            reason,
            detail,
        });
    }
}

/// `Basic base64(write_key + ":")`.
pub fn basic_auth(write_key: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = String::from(write_key) + ":";
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The counts a [`Stats`] snapshot reads from the buffers rather than counts as it goes.
fn snapshot(s: &mut Stats, pending: usize, queue: &Queue) {
    s.pending_consent = pending;
    s.queued = queue.waiting();
    s.in_flight = queue.in_flight();
}

#[cfg(test)]
mod tests;
