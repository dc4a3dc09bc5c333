//! [`Core`]: the SDK state machine a host drives. See the crate docs for the driving loop.
//!
//! # Layout
//! This file holds the state, construction and restore, the configuration in force and the
//! collector's URLs; `identity.rs` identity and what enriches every message (super properties,
//! default context, library, hooks); `write_key.rs` the write key in the batch body or as HTTP
//! Basic `Authorization`; `bookkeeping.rs` stats, persistence of the state, store removals,
//! warnings and the debug log (the internals every other file uses). `track.rs` runs the
//! pipeline, `consent_api.rs` handles consent changes, `send.rs` batching and delivery outcomes,
//! `server_settings.rs` fetching the privacy team's settings and `settings_in_force.rs` making
//! everything obey them, and `tabs.rs` what a host sharing storage with other instances
//! (browser tabs) needs: adopting another instance's queue and its identity/consent changes.

mod bookkeeping;
mod consent_api;
mod identity;
mod send;
mod server_settings;
mod settings_in_force;
mod tabs;
mod track;
mod write_key;

use std::sync::Arc;

pub use send::OutgoingBatch;
pub use write_key::basic_auth;

use crate::config::{Config, ConfigError, secs_to_ms};
use crate::consent::ConsentState;
use crate::event::{EventContext, Properties};
use crate::map::NameMap;
use crate::pipeline::enrich::{Defaults, Stamped};
use crate::pipeline::patterns::{NoPatternMatcher, PatternMatcher, Patterns};
use crate::queue::{Entry, Pushed, Queue};
use crate::rng::{Rng, uuid_v4};
use crate::session::SessionRules;
use crate::stats::{DebugLog, DropReason, Stats};
use crate::store::{PersistedState, Store, StoredMessage};

#[cfg(feature = "serde")]
pub use crate::platform::BeforeSend;

/// The library name the native client reports in `context.library`.
pub const LIBRARY_NAME: &str = "footfall-rust";

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

    // ----- the configuration in force and the collector's URLs -----

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
}

#[cfg(test)]
mod tests;
