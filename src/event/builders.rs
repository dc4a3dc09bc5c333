//! The builders of [`Event`]: one constructor per message type and the chainable setters,
//! every value stored through one `put` (see [`IntoJson`]).

use super::{Event, Properties};
use crate::json::{IntoJson, Value};
use crate::message::MessageType;

/// Where a builder value goes.
#[derive(Clone, Copy)]
pub(super) enum Part {
    Properties,
    Traits,
    Context,
}

/// `what` `key`: `problem` — the detail of an event made invalid by a value.
fn invalid(what: &str, key: &str, problem: &str) -> String {
    crate::json::cat(&[what, " `", key, "`: ", problem])
}

impl Event {
    /// A `track` call: the user did `event`.
    pub fn track(event: impl Into<String>) -> Event {
        let mut e = Event::new(MessageType::Track);
        e.event = Some(event.into());
        e
    }

    /// A `page` call (name optional).
    pub fn page(name: Option<&str>) -> Event {
        let mut e = Event::new(MessageType::Page);
        e.name = name.map(str::to_string);
        e
    }

    /// A `screen` call.
    pub fn screen(name: impl Into<String>) -> Event {
        let mut e = Event::new(MessageType::Screen);
        e.name = Some(name.into());
        e
    }

    /// An `identify` call: links the current anonymous id to `user_id` (and, unless the event
    /// is explicit, makes `user_id` the core's current user).
    pub fn identify(user_id: impl Into<String>) -> Event {
        let mut e = Event::new(MessageType::Identify);
        e.user_id = Some(user_id.into());
        e
    }

    /// A `group` call: the user belongs to `group_id`.
    pub fn group(group_id: impl Into<String>) -> Event {
        let mut e = Event::new(MessageType::Group);
        e.group_id = Some(group_id.into());
        e
    }

    /// An `alias` call: `previous_id` (default: the current distinct id) is now `user_id`.
    pub fn alias(user_id: impl Into<String>, previous_id: Option<&str>) -> Event {
        let mut e = Event::new(MessageType::Alias);
        e.user_id = Some(user_id.into());
        e.previous_id = previous_id.map(str::to_string);
        e
    }

    /// Sets property `key` (see [`IntoJson`]: with the `serde` feature anything `Serialize`; a
    /// value that fails to convert makes the event `invalid`).
    pub fn property(mut self, key: impl Into<String>, value: impl IntoJson) -> Event {
        self.put(Part::Properties, key.into(), value.into_json());
        self
    }

    /// Sets property `key` when `value` is `Some`.
    pub fn property_opt(self, key: impl Into<String>, value: Option<impl IntoJson>) -> Event {
        match value {
            Some(v) => self.property(key, v),
            None => self,
        }
    }

    /// Merges a map of properties (a [`Properties`] map, or with the `serde` feature a
    /// `serde_json` map).
    pub fn properties(mut self, properties: impl Into<Properties>) -> Event {
        self.properties.extend(properties.into());
        self
    }

    /// Sets trait `key` (identify / group).
    pub fn trait_value(mut self, key: impl Into<String>, value: impl IntoJson) -> Event {
        self.put(Part::Traits, key.into(), value.into_json());
        self
    }

    /// Merges a map of traits.
    pub fn traits(mut self, traits: impl Into<Properties>) -> Event {
        self.traits.extend(traits.into());
        self
    }

    /// The consent category (`necessary`, `analytics`, `marketing` or custom).
    pub fn category(mut self, category: impl Into<String>) -> Event {
        self.category = Some(category.into());
        self
    }

    /// Explicit user id (server style; for `identify`/`alias` this is the subject).
    pub fn user_id(mut self, user_id: impl Into<String>) -> Event {
        self.user_id = Some(user_id.into());
        self
    }

    /// Explicit anonymous id (server style).
    pub fn anonymous_id(mut self, anonymous_id: impl Into<String>) -> Event {
        self.anonymous_id = Some(anonymous_id.into());
        self
    }

    /// When it happened (ms since the epoch).
    pub fn timestamp(mut self, ms: u64) -> Event {
        self.timestamp = Some(ms);
        self
    }

    /// The page's category (`page` calls).
    pub fn page_category(mut self, category: impl Into<String>) -> Event {
        self.page_category = Some(category.into());
        self
    }

    /// The end user's IP address (`context.ip`).
    pub fn ip(mut self, ip: impl Into<String>) -> Event {
        self.context.ip = Some(ip.into());
        self
    }

    /// `context.userAgent`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Event {
        self.context.user_agent = Some(user_agent.into());
        self
    }

    /// `context.locale`.
    pub fn locale(mut self, locale: impl Into<String>) -> Event {
        self.context.locale = Some(locale.into());
        self
    }

    /// Any other `context` key.
    pub fn context_value(mut self, key: impl Into<String>, value: impl IntoJson) -> Event {
        self.put(Part::Context, key.into(), value.into_json());
        self
    }

    /// Stores a converted builder value (one copy for every builder method and value type).
    #[inline(never)]
    pub(super) fn put(&mut self, part: Part, key: String, value: Result<Value, String>) {
        let (map, what) = match part {
            Part::Properties => (&mut self.properties, "property"),
            Part::Traits => (&mut self.traits, "trait"),
            Part::Context => (&mut self.context.extra, "context"),
        };
        match value {
            Ok(v) => {
                map.insert(key, v);
            }
            Err(e) => self.invalid = Some(invalid(what, &key, &e)),
        }
    }

    /// `integrations.<name> = enabled`.
    pub fn integration(mut self, name: impl Into<String>, enabled: bool) -> Event {
        self.integrations
            .get_or_insert_with(Properties::new)
            .insert(name.into(), Value::Bool(enabled));
        self
    }
}
