//! Serializing an enriched message without copying the shared context into it.
//!
//! Every message carries the same `context.library`, `context.consent` and super properties.
//! Cloning them into each [`Message`] costs a dozen allocations per event; [`Wire`] instead
//! serializes a message *as if* they had been set, reading them from the core. The output is
//! the same JSON object that serializing the decorated message gives (keys may come in a
//! different order). Message fields are destructured exhaustively, so a field added to the wire
//! format fails to compile here until it is serialized too.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::message::{ConsentContext, Context, Library, Message, Properties};

/// `msg` with `library`/`consent` filled in where it has none, and `supers` merged into its
/// properties (its own keys win).
pub struct Wire<'a> {
    pub msg: &'a Message,
    pub library: &'a Library,
    pub consent: &'a ConsentContext,
    pub supers: &'a Properties,
}

struct Merged<'a> {
    own: &'a Properties,
    supers: &'a Properties,
}

impl Serialize for Merged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.own {
            map.serialize_entry(k, v)?;
        }
        for (k, v) in self.supers.iter().filter(|(k, _)| !self.own.contains_key(*k)) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct WireContext<'a> {
    ctx: &'a Context,
    library: &'a Library,
    consent: &'a ConsentContext,
}

fn entry<M: SerializeMap, T: Serialize>(map: &mut M, key: &str, value: &Option<T>) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

impl Serialize for WireContext<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Context {
            library,
            session_id,
            consent,
            category,
            page,
            user_agent,
            locale,
            ip,
            anonymize_ip,
            extra,
        } = self.ctx;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("library", library.as_ref().unwrap_or(self.library))?;
        entry(&mut map, "sessionId", session_id)?;
        map.serialize_entry("consent", consent.as_ref().unwrap_or(self.consent))?;
        entry(&mut map, "category", category)?;
        entry(&mut map, "page", page)?;
        entry(&mut map, "userAgent", user_agent)?;
        entry(&mut map, "locale", locale)?;
        entry(&mut map, "ip", ip)?;
        entry(&mut map, "anonymizeIp", anonymize_ip)?;
        for (k, v) in extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Message {
            kind,
            message_id,
            anonymous_id,
            user_id,
            timestamp,
            sent_at,
            event,
            name,
            category,
            properties,
            traits,
            group_id,
            previous_id,
            context,
            integrations,
        } = self.msg;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        map.serialize_entry("messageId", message_id)?;
        entry(&mut map, "anonymousId", anonymous_id)?;
        entry(&mut map, "userId", user_id)?;
        map.serialize_entry("timestamp", timestamp)?;
        entry(&mut map, "sentAt", sent_at)?;
        entry(&mut map, "event", event)?;
        entry(&mut map, "name", name)?;
        entry(&mut map, "category", category)?;
        if let Some(own) = properties {
            map.serialize_entry(
                "properties",
                &Merged {
                    own,
                    supers: self.supers,
                },
            )?;
        }
        entry(&mut map, "traits", traits)?;
        entry(&mut map, "groupId", group_id)?;
        entry(&mut map, "previousId", previous_id)?;
        map.serialize_entry(
            "context",
            &WireContext {
                ctx: context,
                library: self.library,
                consent: self.consent,
            },
        )?;
        entry(&mut map, "integrations", integrations)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::message::MessageType;
    use crate::pipeline::enrich::{Identity, decorate, stamp};
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Properties {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn equals_serializing_the_decorated_message() {
        let library = Library {
            name: "footfall-rust".into(),
            version: "9".into(),
        };
        let consent = ConsentContext {
            category_preferences: [("analytics".into(), true)].into(),
        };
        let supers = obj(json!({"app": "x", "plan": "super"}));
        let who = Identity {
            anonymous_id: "a",
            user_id: Some("u"),
            session_id: Some("s"),
        };
        let defaults = crate::event::EventContext {
            locale: Some("de".into()),
            ..Default::default()
        };
        let events = [
            Event::track("t")
                .property("plan", "own")
                .ip("1.2.3.0")
                .context_value("app", json!({"v": 1})),
            Event::page(Some("Home")).page_category("docs"),
            Event::identify("u2").trait_value("email", "x@y.io"),
            Event::group("g").integration("All", false),
            Event::alias("u3", Some("u")),
            Event::new(MessageType::Screen),
        ];
        for (i, event) in events.into_iter().enumerate() {
            let mut msg = stamp(
                event,
                format!("m{i}"),
                "t".into(),
                Some(who),
                &defaults,
                "marketing",
            );
            msg.context.anonymize_ip = Some(true);
            let fast = serde_json::to_value(Wire {
                msg: &msg,
                library: &library,
                consent: &consent,
                supers: &supers,
            })
            .unwrap();
            decorate(&mut msg, &library, &supers, &consent);
            assert_eq!(fast, serde_json::to_value(&msg).unwrap(), "event {i}");
            // A decorated message serializes the same through Wire (nothing is added twice).
            let again = Wire {
                msg: &msg,
                library: &library,
                consent: &consent,
                supers: &supers,
            };
            assert_eq!(serde_json::to_value(again).unwrap(), fast);
        }
    }
}
