//! Step 4: from an [`Event`] to a [`Stamped`] message.
//!
//! Split in two because consent sits in between: [`stamp`] captures *what happened, when and to
//! whom* at track time (message id, timestamp, identity, session, caller context, and the default
//! context in force then), so an event that waits for consent keeps its original facts; what the
//! SDK knows when the message is finally let through (library, super properties, consent state)
//! is added when it is written (`wire.rs`), straight into its JSON.
//!
//! The default context (the browser's user agent, locale and current page) is shared, not copied:
//! each message holds a reference to the defaults in force when it was tracked. It is anonymized
//! once, when the host sets it, exactly as the message's own context is per message.

use std::sync::Arc;

use crate::event::{Event, EventContext};
use crate::message::{DEFAULT_CATEGORY, MessageType};

/// The core's identity at track time, for events that do not carry their own.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub anonymous_id: &'a str,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

/// The default context in force (anonymized), with its JSON pre-rendered: every message that
/// does not set these fields itself gets the same bytes, so they are escaped once, not per
/// message.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub context: EventContext,
    /// `,"page":{…},"userAgent":"…","locale":"…"` (the fields the context has).
    pub head_json: String,
    /// `,"k":v,…`: the context's other keys.
    pub extra_json: String,
}

impl Defaults {
    pub fn new(context: EventContext) -> Defaults {
        let mut head = String::new();
        if let Some(page) = &context.page {
            head.push_str(",\"page\":{");
            crate::json::write_members(&mut head, page, true);
            head.push('}');
        }
        for &(key, value) in &[("userAgent", &context.user_agent), ("locale", &context.locale)] {
            if let Some(v) = value {
                head.push_str(",\"");
                head.push_str(key);
                head.push_str("\":");
                crate::json::write_str(&mut head, v);
            }
        }
        let mut extra = String::new();
        crate::json::write_members(&mut extra, &context.extra, false);
        Defaults {
            context,
            head_json: head,
            extra_json: extra,
        }
    }
}

/// A message between track time and serialization: the caller's event with its facts fixed.
///
/// `event.timestamp` is set, `event.anonymous_id`/`user_id` are the message's, `event.category`
/// is the resolved consent category (`None` = `analytics`), and `event.context` holds the
/// caller's own context (and the default IP, if it had none); `defaults` fills in what else it
/// leaves out.
#[derive(Debug, Clone)]
pub struct Stamped {
    /// `messageId`.
    pub id: String,
    pub session_id: Option<String>,
    pub event: Event,
    /// The default context in force at track time (already anonymized).
    pub defaults: Arc<Defaults>,
    /// `context.anonymizeIp`: set by the anonymize step.
    pub anonymize_ip: bool,
}

impl Stamped {
    /// The consent category (`context.category`, default `analytics`).
    pub fn category(&self) -> &str {
        self.event.category.as_deref().unwrap_or(DEFAULT_CATEGORY)
    }

    /// When it happened, ms since the epoch.
    pub fn at(&self) -> u64 {
        self.event.timestamp.unwrap_or(0)
    }

    /// Whether the message carries `properties` on the wire (track, page, screen).
    pub fn has_properties(&self) -> bool {
        matches!(
            self.event.kind,
            MessageType::Track | MessageType::Page | MessageType::Screen
        )
    }

    /// Whether the message carries `traits` on the wire (identify and group, when not empty).
    pub fn has_traits(&self) -> bool {
        matches!(self.event.kind, MessageType::Identify | MessageType::Group) && !self.event.traits.is_empty()
    }
}

/// Builds the message for `event` at `at`. `identity` is `None` for explicit events (their own
/// ids are used). `category` is the resolved consent category.
pub fn stamp(
    mut event: Event,
    message_id: String,
    at: u64,
    identity: Option<Identity<'_>>,
    defaults: &Arc<Defaults>,
    category: &str,
) -> Stamped {
    let mut session_id = None;
    if let Some(who) = identity {
        event.anonymous_id = Some(who.anonymous_id.to_string());
        let own = match event.kind {
            MessageType::Identify | MessageType::Alias => event.user_id.take(),
            _ => None,
        };
        event.user_id = own.or_else(|| who.user_id.map(str::to_string));
        session_id = who.session_id.map(str::to_string);
    }
    // An IP is resolved now, not at writing: an own address that anonymization removes must not
    // fall back to the default one.
    if event.context.ip.is_none() {
        event.context.ip.clone_from(&defaults.context.ip);
    }
    event.timestamp = Some(at);
    event.category = (category != DEFAULT_CATEGORY).then(|| category.to_string());
    event.invalid = None;
    Stamped {
        id: message_id,
        session_id,
        event,
        defaults: defaults.clone(),
        anonymize_ip: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Map, Value};

    fn defaults() -> Arc<Defaults> {
        let mut extra = Map::new();
        extra.insert("app".into(), Value::from("shop"));
        Arc::new(Defaults::new(EventContext {
            user_agent: Some("UA".into()),
            locale: Some("de-DE".into()),
            extra,
            ..Default::default()
        }))
    }

    const WHO: Identity<'static> = Identity {
        anonymous_id: "anon",
        user_id: Some("u1"),
        session_id: Some("s_1"),
    };

    #[test]
    fn stateful_events_get_the_core_identity_and_session() {
        let e = Event::track("clicked").property("a", 1u8).locale("en-US");
        let m = stamp(e, "m1".into(), 7, Some(WHO), &defaults(), "analytics");
        assert_eq!(m.event.anonymous_id.as_deref(), Some("anon"));
        assert_eq!(m.event.user_id.as_deref(), Some("u1"));
        assert_eq!(m.session_id.as_deref(), Some("s_1"));
        assert_eq!(m.event.context.locale.as_deref(), Some("en-US"));
        assert_eq!(m.defaults.context.user_agent.as_deref(), Some("UA"));
        assert_eq!(m.defaults.head_json, r#","userAgent":"UA","locale":"de-DE""#);
        assert_eq!(m.defaults.extra_json, r#","app":"shop""#);
        assert_eq!(m.event.category, None, "analytics is the default and left out");
        assert_eq!((m.at(), m.category()), (7, "analytics"));
    }

    #[test]
    fn explicit_events_use_only_their_ids() {
        let e = Event::track("x").user_id("server_user");
        let m = stamp(e, "m".into(), 0, None, &defaults(), "marketing");
        assert_eq!(m.event.user_id.as_deref(), Some("server_user"));
        assert_eq!(m.event.anonymous_id, None);
        assert_eq!(m.session_id, None);
        assert_eq!(m.category(), "marketing");
    }

    #[test]
    fn identify_uses_its_subject_as_user_id() {
        let e = Event::identify("new_user").trait_value("plan", "pro");
        let m = stamp(e, "m".into(), 0, Some(WHO), &defaults(), "analytics");
        assert_eq!(m.event.user_id.as_deref(), Some("new_user"));
        assert!(m.has_traits() && !m.has_properties());
        let e = Event::track("t").user_id("ignored_for_stateful");
        let m = stamp(e, "m".into(), 0, Some(WHO), &defaults(), "analytics");
        assert_eq!(m.event.user_id.as_deref(), Some("u1"));
    }
}
