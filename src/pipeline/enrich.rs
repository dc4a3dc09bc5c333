//! Step 4: from an [`Event`] to a wire [`Message`].
//!
//! Split in two because consent sits in between: [`stamp`] captures *what happened, when and to
//! whom* at track time (message id, timestamp, identity, session, caller and default context),
//! so an event that waits for consent keeps its original facts; [`decorate`] adds what the SDK
//! knows when the message is finally let through (library, super properties, consent state).

use crate::event::{Event, EventContext};
use crate::message::{ConsentContext, DEFAULT_CATEGORY, Library, Message, MessageType, Properties};

/// The core's identity at track time, for events that do not carry their own.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub anonymous_id: &'a str,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

fn merge_missing(target: &mut Properties, defaults: &Properties) {
    for (k, v) in defaults {
        if !target.contains_key(k) {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Builds the message for `event`. `identity` is `None` for explicit events (their own ids are
/// used). `category` is the resolved consent category.
pub fn stamp(
    event: Event,
    message_id: String,
    timestamp: String,
    identity: Option<Identity<'_>>,
    defaults: &EventContext,
    category: &str,
) -> Message {
    let mut msg = Message::new(event.kind, message_id, timestamp);
    match identity {
        Some(who) => {
            msg.anonymous_id = Some(who.anonymous_id.to_string());
            msg.user_id = match event.kind {
                MessageType::Identify | MessageType::Alias => {
                    event.user_id.or(who.user_id.map(str::to_string))
                }
                _ => who.user_id.map(str::to_string),
            };
            msg.context.session_id = who.session_id.map(str::to_string);
        }
        None => {
            msg.anonymous_id = event.anonymous_id;
            msg.user_id = event.user_id;
        }
    }
    msg.event = event.event;
    msg.name = event.name;
    msg.category = event.page_category;
    match event.kind {
        MessageType::Track | MessageType::Page | MessageType::Screen => {
            msg.properties = Some(event.properties)
        }
        MessageType::Identify | MessageType::Group => {
            msg.traits = (!event.traits.is_empty()).then_some(event.traits);
        }
        MessageType::Alias => {}
    }
    msg.group_id = event.group_id;
    msg.previous_id = event.previous_id;
    msg.integrations = event.integrations;

    let ctx = event.context;
    msg.context.category = (category != DEFAULT_CATEGORY).then(|| category.to_string());
    msg.context.ip = ctx.ip.or_else(|| defaults.ip.clone());
    msg.context.user_agent = ctx.user_agent.or_else(|| defaults.user_agent.clone());
    msg.context.locale = ctx.locale.or_else(|| defaults.locale.clone());
    msg.context.page = ctx.page.or_else(|| defaults.page.clone());
    msg.context.extra = ctx.extra;
    merge_missing(&mut msg.context.extra, &defaults.extra);
    msg
}

/// Adds the library, super properties (never overriding the event's own) and consent state.
pub fn decorate(
    msg: &mut Message,
    library: &Library,
    super_properties: &Properties,
    consent: &ConsentContext,
) {
    msg.context.library = Some(library.clone());
    if let Some(props) = msg.properties.as_mut() {
        merge_missing(props, super_properties);
    }
    msg.context.consent = Some(consent.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> EventContext {
        EventContext {
            user_agent: Some("UA".into()),
            locale: Some("de-DE".into()),
            extra: json!({"app": {"name": "shop"}}).as_object().cloned().unwrap(),
            ..Default::default()
        }
    }

    const WHO: Identity<'static> = Identity {
        anonymous_id: "anon",
        user_id: Some("u1"),
        session_id: Some("s_1"),
    };

    #[test]
    fn stateful_events_get_the_core_identity_and_session() {
        let e = Event::track("clicked").property("a", 1).locale("en-US");
        let m = stamp(e, "m1".into(), "t".into(), Some(WHO), &defaults(), "analytics");
        assert_eq!(m.anonymous_id.as_deref(), Some("anon"));
        assert_eq!(m.user_id.as_deref(), Some("u1"));
        assert_eq!(m.context.session_id.as_deref(), Some("s_1"));
        assert_eq!(
            m.context.locale.as_deref(),
            Some("en-US"),
            "the event's context wins"
        );
        assert_eq!(m.context.user_agent.as_deref(), Some("UA"));
        assert_eq!(m.context.extra["app"]["name"], "shop");
        assert_eq!(m.context.category, None, "analytics is the default and left out");
        m.check_shape().unwrap();
    }

    #[test]
    fn explicit_events_use_only_their_ids() {
        let e = Event::track("x").user_id("server_user");
        let m = stamp(
            e,
            "m".into(),
            "t".into(),
            None,
            &EventContext::default(),
            "marketing",
        );
        assert_eq!(m.user_id.as_deref(), Some("server_user"));
        assert_eq!(m.anonymous_id, None);
        assert_eq!(m.context.session_id, None);
        assert_eq!(m.context.category.as_deref(), Some("marketing"));
    }

    #[test]
    fn identify_uses_its_subject_as_user_id() {
        let e = Event::identify("new_user").trait_value("plan", "pro");
        let m = stamp(
            e,
            "m".into(),
            "t".into(),
            Some(WHO),
            &EventContext::default(),
            "analytics",
        );
        assert_eq!(m.user_id.as_deref(), Some("new_user"));
        assert_eq!(m.traits.unwrap()["plan"], "pro");
        assert_eq!(m.properties, None);
    }

    #[test]
    fn decorate_adds_library_super_properties_and_consent() {
        let mut m = stamp(
            Event::track("x").property("plan", "event"),
            "m".into(),
            "t".into(),
            Some(WHO),
            &EventContext::default(),
            "analytics",
        );
        let supers = json!({"plan": "super", "app_version": "1.2"})
            .as_object()
            .cloned()
            .unwrap();
        let lib = Library {
            name: "footfall-rust".into(),
            version: "0.1.0".into(),
        };
        let consent = ConsentContext {
            category_preferences: [("analytics".to_string(), true)].into(),
        };
        decorate(&mut m, &lib, &supers, &consent);
        let props = m.properties.as_ref().unwrap();
        assert_eq!(props["plan"], "event");
        assert_eq!(props["app_version"], "1.2");
        assert_eq!(m.context.library, Some(lib));
        assert_eq!(m.context.consent, Some(consent));
    }
}
