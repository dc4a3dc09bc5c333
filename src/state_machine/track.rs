//! The pipeline run for each event: validate → plan → consent → enrich → anonymize →
//! before-send → serialize (size limit) → queue + store.

use std::borrow::Cow;

use crate::consent::{ConsentDecision, NECESSARY};
use crate::event::Event;
use crate::json::{Map, Value};
use crate::message::{DEFAULT_CATEGORY, MessageType};
use crate::pipeline::enrich::{Identity, Stamped, stamp};
use crate::pipeline::{anonymize::anonymize, plan::apply_plan, validate::validate};
use crate::queue::{Entry, Pushed};
use crate::rng::uuid_v4;
use crate::session::{Touch, touch};
use crate::stats::{DropReason, LogEvent};
use crate::store::StoredMessageRef;
use crate::wire::{Shared, write_message};

use super::Core;

impl Core {
    /// Sends `event` through the pipeline at `now`. Never fails and never panics: an event that
    /// does not make it is counted in [`crate::Stats::dropped`] with its reason and logged.
    /// `identify` and `alias` events update the core's identity unless they are explicit (see
    /// [`Event`]).
    pub fn track(&mut self, event: Event, now: u64) {
        self.process(event, now, false);
    }

    pub(super) fn process(&mut self, mut event: Event, now: u64, internal: bool) {
        if !self.config.tracking.enabled {
            return self.dropped(None, DropReason::Disabled, "tracking.enabled is false");
        }
        if let Err(r) = validate(&event) {
            return self.dropped(None, r.reason, &r.detail);
        }
        if !internal {
            if let Err(r) = apply_plan(&mut event, &self.config.events, self.config.tracking.strict) {
                return self.dropped(None, r.reason, &r.detail);
            }
        }
        let category: Cow<'static, str> = event
            .category
            .take()
            .map_or(Cow::Borrowed(DEFAULT_CATEGORY), Cow::Owned);
        let at = event.timestamp.unwrap_or(now);
        let explicit = event.is_explicit();
        if !explicit {
            self.apply_identity_effects(&mut event, at);
        }
        let decision = self.consent.decide(&category);
        if decision == ConsentDecision::Denied {
            let detail = crate::json::cat(&["consent for `", &category, "` is denied"]);
            return self.dropped(None, DropReason::Consent, &detail);
        }
        let message_id = uuid_v4(&mut *self.rng);
        let identity = (!explicit).then(|| Identity {
            anonymous_id: self.state.anonymous_id.as_deref().unwrap_or(""),
            user_id: self.state.user_id.as_deref(),
            session_id: self.state.session.as_ref().map(|s| s.id.as_str()),
        });
        let msg = stamp(event, message_id, at, identity, &self.default_context, &category);
        if decision == ConsentDecision::Pending {
            self.hold_for_consent(msg);
        } else {
            self.admit(msg, now);
        }
    }

    /// Stateful `identify`/`alias` change the current user; every stateful event extends the
    /// session.
    fn apply_identity_effects(&mut self, event: &mut Event, at: u64) {
        let mut changed = false;
        if event.kind == MessageType::Alias && event.previous_id.is_none() {
            event.previous_id = self
                .state
                .user_id
                .clone()
                .or_else(|| self.state.anonymous_id.clone());
        }
        if matches!(event.kind, MessageType::Identify | MessageType::Alias) {
            if let Some(user) = &event.user_id {
                if self.state.user_id.as_ref() != Some(user) {
                    self.state.user_id = Some(user.clone());
                    changed = true;
                }
            }
        }
        let rules = self.limits.session;
        if touch(&mut self.state.session, at, rules, &mut *self.rng) == Touch::Started {
            changed = true;
        }
        if changed {
            self.save_state(at);
        } else {
            self.state_dirty = true;
            self.save_state_if_due(at);
        }
    }

    fn hold_for_consent(&mut self, msg: Stamped) {
        if self.pending.len() >= self.config.consent.max_pending && !self.pending.is_empty() {
            let old = self.pending.remove(0);
            self.dropped(
                Some(&old.id),
                DropReason::QueueFull,
                "consent.max_pending reached",
            );
        }
        self.emit(LogEvent::PendingConsent {
            message_id: &msg.id,
            category: msg.category(),
        });
        self.pending.push(msg);
    }

    /// Steps 5–7 for a message whose category is granted: anonymize, before-send hooks (if
    /// any), serialize with the shared context written in place ([`crate::wire`]), size limit,
    /// queue. Super properties and the default context were anonymized when set.
    pub(super) fn admit(&mut self, mut msg: Stamped, now: u64) {
        anonymize(
            &mut msg,
            &self.config.privacy,
            self.patterns.get(&self.config.privacy),
        );
        self.scratch.clear();
        #[cfg(feature = "serde")]
        if !self.hooks.is_empty() {
            let Some((json, id, category)) = self.run_hooks(msg) else {
                return;
            };
            self.scratch = json;
            return self.enqueue_json(id, category.into(), now, None);
        }
        let shared = Shared {
            library: &self.library_json,
            consent: &self.consent_json,
            supers: &self.super_properties,
        };
        let sent_at = write_message(&mut self.scratch, &msg, &shared);
        let category = msg.category().into();
        self.enqueue_json(msg.id, category, now, Some(sent_at));
    }

    /// Queues the message JSON in `self.scratch` (size limit, queue, store); `sent_at` is where
    /// `sentAt` goes when known.
    fn enqueue_json(&mut self, id: String, category: Box<str>, now: u64, sent_at: Option<usize>) {
        let limit = self.config.tracking.max_message_bytes;
        if self.scratch.len() > limit {
            let mut detail = String::new();
            crate::json::push_u64(&mut detail, self.scratch.len() as u64);
            detail.push_str(" bytes, the limit is ");
            crate::json::push_u64(&mut detail, limit as u64);
            return self.dropped(Some(&id), DropReason::TooLarge, &detail);
        }
        let entry = Entry::new(
            id.into(),
            category,
            now,
            Box::from(self.scratch.as_str()),
            sent_at,
        );
        self.enqueue(entry);
    }

    /// Runs the before-send hooks on the decorated wire message; returns its JSON, id and
    /// consent category, or `None` when a hook dropped it (counted) or moved it to a category
    /// that is not granted.
    #[cfg(feature = "serde")]
    fn run_hooks(&mut self, msg: Stamped) -> Option<(String, String, String)> {
        let mut msg = crate::wire::to_message(
            msg,
            (&self.library.0, &self.library.1),
            &self.preferences,
            &self.super_properties,
        );
        for hook in &self.hooks {
            let id = msg.message_id.clone();
            match hook(msg) {
                Some(m) => msg = m,
                None => {
                    self.dropped(
                        Some(&id),
                        DropReason::BeforeSend,
                        "a before_send hook returned None",
                    );
                    return None;
                }
            }
        }
        if msg.message_id.is_empty() {
            self.dropped(None, DropReason::Invalid, "a before_send hook cleared messageId");
            return None;
        }
        if !self.is_granted(msg.consent_category()) {
            let detail = crate::json::cat(&[
                "before_send moved it to `",
                msg.consent_category(),
                "`, which is not granted",
            ]);
            self.dropped(Some(&msg.message_id), DropReason::Consent, &detail);
            return None;
        }
        msg.sent_at = None;
        match serde_json::to_string(&msg) {
            Ok(json) => Some((json, msg.message_id.clone(), msg.consent_category().to_string())),
            Err(e) => {
                self.dropped(Some(&msg.message_id), DropReason::Invalid, &e.to_string());
                None
            }
        }
    }

    fn enqueue(&mut self, entry: Entry) {
        match self.queue.push(entry, self.config.tracking.max_queue_size) {
            Pushed::Queued => {}
            Pushed::Evicted(old) => {
                self.dropped(
                    Some(&old.id),
                    DropReason::QueueFull,
                    "evicted: tracking.max_queue_size reached",
                );
                self.forget(&[old.id]);
            }
            Pushed::Refused(new) => {
                return self.dropped(
                    Some(&new.id),
                    DropReason::QueueFull,
                    "tracking.max_queue_size reached",
                );
            }
        }
        self.stats.enqueued += 1;
        let Some(e) = self.queue.last() else { return };
        if let Some(log) = &self.log {
            log(&LogEvent::Enqueued {
                message_id: &e.id,
                category: &e.category,
            });
        }
        let record = StoredMessageRef {
            message_id: &e.id,
            category: &e.category,
            enqueued_at: e.enqueued_at,
            json: &e.json,
        };
        if let Err(err) = self.store.append(&[record]) {
            self.store_failed(&err);
        }
    }

    /// The audit trail: a `consent_updated` track event in the `necessary` category.
    pub(super) fn emit_consent_updated(&mut self, action: &str, source: &str, now: u64) {
        let mut states = Map::new();
        for c in &self.consent.categories() {
            states.insert(c.to_string(), Value::from(self.consent.decide(c).as_str()));
        }
        let mut preferences = Map::new();
        for (k, v) in self.preferences.iter() {
            preferences.insert(k.clone(), Value::Bool(*v));
        }
        let signals = self.consent.signals();
        let mut event = Event::track("consent_updated").category(NECESSARY);
        let p = &mut event.properties;
        p.insert("preferences".into(), Value::Object(preferences));
        p.insert("states".into(), Value::Object(states));
        p.insert("action".into(), Value::from(action));
        p.insert("source".into(), Value::from(source));
        p.insert("gpc".into(), Value::Bool(signals.gpc));
        p.insert("dnt".into(), Value::Bool(signals.dnt));
        self.process(event, now, true);
    }
}
