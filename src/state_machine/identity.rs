//! Identity (anonymous id, user id, session, logout) and what enriches every message: super
//! properties, the default context, `context.library` and the before-send hooks.

use std::sync::Arc;

#[cfg(feature = "serde")]
use super::BeforeSend;
use super::Core;
use crate::event::{EventContext, Properties};
use crate::pipeline::enrich::Defaults;
use crate::rng::uuid_v4;

impl Core {
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

    // ----- what enriches every message -----

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
}
