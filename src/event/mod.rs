//! [`Event`]: what callers hand to the pipeline, with builders and the typed product events.
//!
//! An `Event` is the caller's intent (`track("purchase", {...})`); the pipeline turns it into a
//! wire [`Message`](crate::Message) with ids, timestamps and context. JS hosts can deserialize it
//! from an object in the same camelCase shape (`{"type":"track","event":"x","properties":{}}`).
//!
//! # Identity: stateful or explicit
//! By default an event belongs to the core's current identity (anonymous id, identified user,
//! session) — the browser model. An event that sets `userId` or `anonymousId` itself is
//! *explicit* (the server model: one process, many users): only the given ids are used, it gets
//! no session id and never changes the core's identity. The exceptions are `identify` and
//! `alias`, whose `userId` is their subject: they update the core's identity unless
//! `anonymousId` is also set explicitly.
//!
//! # Layout
//! The model (this file: [`Event`], [`EventContext`], [`Properties`]), the builders
//! (`builders.rs`: [`Event::track`], [`Event::identify`], ... and the chainable setters), the
//! typed product events (`typed.rs`: [`TYPED_EVENTS`], [`Event::click`], [`Event::typed`], ...,
//! and the `Tracker` trait of hosts without `now`) and reading a JS-shaped object
//! (`from_json.rs`: [`Event::from_json`]).

mod builders;
mod from_json;
#[cfg(test)]
mod tests;
mod typed;

use crate::message::MessageType;

pub use crate::json::Map as Properties;
#[cfg(feature = "serde")]
pub use typed::Tracker;
pub use typed::{TYPED_EVENTS, Typed};

/// Caller-supplied context, merged into the message's `context`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventContext {
    /// The end user's IP address (truncated when `privacy.anonymize_ip` is on).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub locale: Option<String>,
    /// `{url, path, referrer, title, search}`.
    pub page: Option<Properties>,
    /// Any other context keys (`app`, `device`, `campaign`, ...), kept verbatim.
    pub extra: Properties,
}

/// One call to the event API. Build with [`Event::track`], [`Event::page`], ... and the
/// chainable setters (or from a JS-shaped object with [`Event::from_json`]); see the module docs
/// for the identity rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: MessageType,
    /// `track`: the event name (1–200 characters).
    pub event: Option<String>,
    /// `page` / `screen`: the page or screen name.
    pub name: Option<String>,
    /// `page`: the page's category (Segment's `category` field of page calls).
    pub page_category: Option<String>,
    /// `track` / `page` / `screen` properties.
    pub properties: Properties,
    /// `identify` / `group` traits.
    pub traits: Properties,
    /// `identify` / `alias`: the user being identified / the new id. Others: explicit user id.
    pub user_id: Option<String>,
    /// Explicit anonymous id (makes the event explicit, see the module docs).
    pub anonymous_id: Option<String>,
    /// `group`: the group id.
    pub group_id: Option<String>,
    /// `alias`: the previous id (default: the current user id, else the anonymous id).
    pub previous_id: Option<String>,
    /// The consent category (default: the tracking plan's, else `analytics`).
    pub category: Option<String>,
    pub context: EventContext,
    /// When it happened, ms since the epoch (default: the `now` it is enqueued with).
    pub timestamp: Option<u64>,
    pub integrations: Option<Properties>,
    /// A value that could not be converted to JSON (the event is dropped as `invalid`).
    pub(crate) invalid: Option<String>,
}

impl Event {
    /// An event of `kind` with nothing else set.
    #[inline(never)] // the other constructors call it (one copy of a large initializer)
    pub fn new(kind: MessageType) -> Event {
        Event {
            kind,
            event: None,
            name: None,
            page_category: None,
            properties: Properties::new(),
            traits: Properties::new(),
            user_id: None,
            anonymous_id: None,
            group_id: None,
            previous_id: None,
            category: None,
            context: EventContext::default(),
            timestamp: None,
            integrations: None,
            invalid: None,
        }
    }

    /// Whether this event carries its own identity (see the module docs).
    pub fn is_explicit(&self) -> bool {
        match self.kind {
            MessageType::Identify | MessageType::Alias => self.anonymous_id.is_some(),
            _ => self.user_id.is_some() || self.anonymous_id.is_some(),
        }
    }
}
