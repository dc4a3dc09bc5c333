//! The pipeline run for each event: validate → plan → consent → enrich → anonymize →
//! before-send → serialize (size limit) → queue + store.

use std::borrow::Cow;

use crate::consent::{ConsentDecision, NECESSARY};
use crate::event::Event;
use crate::message::{DEFAULT_CATEGORY, Message, MessageType};
use crate::pipeline::enrich::{Identity, decorate, stamp};
use crate::pipeline::{anonymize::anonymize, plan::apply_plan, validate::validate};
use crate::queue::{Entry, Pushed};
use crate::rng::uuid_v4;
use crate::session::{Touch, touch};
use crate::stats::{DropReason, LogEvent};
use crate::store::StoredMessageRef;
use crate::wire::Wire;

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
            return self.dropped(
                None,
                DropReason::Consent,
                &format!("consent for `{category}` is denied"),
            );
        }
        let message_id = uuid_v4(&mut *self.rng);
        let timestamp = crate::time::format_rfc3339_ms(at);
        let identity = (!explicit).then(|| Identity {
            anonymous_id: self.state.anonymous_id.as_deref().unwrap_or(""),
            user_id: self.state.user_id.as_deref(),
            session_id: self.state.session.as_ref().map(|s| s.id.as_str()),
        });
        let msg = stamp(
            event,
            message_id,
            timestamp,
            identity,
            &self.default_context,
            &category,
        );
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

    fn hold_for_consent(&mut self, msg: Message) {
        if self.pending.len() >= self.config.consent.max_pending {
            if let Some(old) = self.pending.pop_front() {
                self.dropped(
                    Some(&old.message_id),
                    DropReason::QueueFull,
                    "consent.max_pending reached",
                );
            }
        }
        self.emit(LogEvent::PendingConsent {
            message_id: &msg.message_id,
            category: msg.consent_category(),
        });
        self.pending.push_back(msg);
    }

    /// Steps 4–7 for a message whose category is granted. Without before-send hooks the shared
    /// context (library, consent state, super properties) is not copied into the message but
    /// written straight into its JSON ([`crate::wire::Wire`]); with hooks the message is fully
    /// decorated first so the hooks see everything. Anonymization needs neither: super
    /// properties were anonymized when registered.
    pub(super) fn admit(&mut self, mut msg: Message, now: u64) {
        anonymize(&mut msg, &self.config.privacy);
        if !self.hooks.is_empty() {
            decorate(
                &mut msg,
                &self.library,
                &self.super_properties,
                &self.consent_context,
            );
            for hook in &self.hooks {
                let id = msg.message_id.clone();
                match hook(msg) {
                    Some(m) => msg = m,
                    None => {
                        return self.dropped(
                            Some(&id),
                            DropReason::BeforeSend,
                            "a before_send hook returned None",
                        );
                    }
                }
            }
            if msg.message_id.is_empty() {
                return self.dropped(None, DropReason::Invalid, "a before_send hook cleared messageId");
            }
            if !self.is_granted(msg.consent_category()) {
                let detail = format!(
                    "before_send moved it to `{}`, which is not granted",
                    msg.consent_category()
                );
                return self.dropped(Some(&msg.message_id), DropReason::Consent, &detail);
            }
        }
        msg.sent_at = None;
        self.scratch.clear();
        let wire = Wire {
            msg: &msg,
            library: &self.library,
            consent: &self.consent_context,
            supers: &self.super_properties,
        };
        let json = match serde_json::to_writer(&mut self.scratch, &wire)
            .map(|()| std::str::from_utf8(&self.scratch))
        {
            Ok(Ok(j)) => Box::<str>::from(j),
            Ok(Err(e)) => return self.dropped(Some(&msg.message_id), DropReason::Invalid, &e.to_string()),
            Err(e) => return self.dropped(Some(&msg.message_id), DropReason::Invalid, &e.to_string()),
        };
        if json.len() > self.config.tracking.max_message_bytes {
            let detail = format!(
                "{} bytes, the limit is {}",
                json.len(),
                self.config.tracking.max_message_bytes
            );
            return self.dropped(Some(&msg.message_id), DropReason::TooLarge, &detail);
        }
        let category = self.intern(msg.consent_category());
        let entry = Entry {
            id: msg.message_id.into(),
            category,
            enqueued_at: now,
            attempts: 0,
            json,
        };
        self.enqueue(entry);
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
        let states: serde_json::Map<String, serde_json::Value> = self
            .consent
            .categories()
            .map(|c| (c.to_string(), serde_json::json!(self.consent.decide(c))))
            .collect();
        let signals = self.consent.signals();
        let event = Event::track("consent_updated")
            .category(NECESSARY)
            .property("preferences", &self.consent_context.category_preferences)
            .property("states", states)
            .property("action", action)
            .property("source", source)
            .property("gpc", signals.gpc)
            .property("dnt", signals.dnt);
        self.process(event, now, true);
    }
}
