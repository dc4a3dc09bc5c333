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

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{MessageType, Properties};

/// Caller-supplied context, merged into the message's `context`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventContext {
    /// The end user's IP address (truncated when `privacy.anonymize_ip` is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `{url, path, referrer, title, search}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<Properties>,
    /// Any other context keys (`app`, `device`, `campaign`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Properties,
}

/// One call to the event API. Build with [`Event::track`], [`Event::page`], ... and the
/// chainable setters; see the module docs for the identity rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// `track`: the event name (1–200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `page` / `screen`: the page or screen name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `page`: the page's category (Segment's `category` field of page calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_category: Option<String>,
    /// `track` / `page` / `screen` properties.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
    /// `identify` / `group` traits.
    #[serde(default, skip_serializing_if = "Properties::is_empty")]
    pub traits: Properties,
    /// `identify` / `alias`: the user being identified / the new id. Others: explicit user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Explicit anonymous id (makes the event explicit, see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// `group`: the group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `alias`: the previous id (default: the current user id, else the anonymous id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<String>,
    /// The consent category (default: the tracking plan's, else `analytics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default)]
    pub context: EventContext,
    /// When it happened, ms since the epoch (default: the `now` it is enqueued with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrations: Option<Properties>,
    /// A value that could not be converted to JSON (the event is dropped as `invalid`).
    #[serde(skip)]
    pub(crate) invalid: Option<String>,
}

fn to_json(value: impl Serialize) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

impl Event {
    /// An event of `kind` with nothing else set.
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

    /// A `track` call: the user did `event`.
    pub fn track(event: impl Into<String>) -> Event {
        Event {
            event: Some(event.into()),
            ..Event::new(MessageType::Track)
        }
    }

    /// A `page` call (name optional).
    pub fn page(name: Option<&str>) -> Event {
        Event {
            name: name.map(str::to_string),
            ..Event::new(MessageType::Page)
        }
    }

    /// A `screen` call.
    pub fn screen(name: impl Into<String>) -> Event {
        Event {
            name: Some(name.into()),
            ..Event::new(MessageType::Screen)
        }
    }

    /// An `identify` call: links the current anonymous id to `user_id` (and, unless the event
    /// is explicit, makes `user_id` the core's current user).
    pub fn identify(user_id: impl Into<String>) -> Event {
        Event {
            user_id: Some(user_id.into()),
            ..Event::new(MessageType::Identify)
        }
    }

    /// A `group` call: the user belongs to `group_id`.
    pub fn group(group_id: impl Into<String>) -> Event {
        Event {
            group_id: Some(group_id.into()),
            ..Event::new(MessageType::Group)
        }
    }

    /// An `alias` call: `previous_id` (default: the current distinct id) is now `user_id`.
    pub fn alias(user_id: impl Into<String>, previous_id: Option<&str>) -> Event {
        Event {
            user_id: Some(user_id.into()),
            previous_id: previous_id.map(str::to_string),
            ..Event::new(MessageType::Alias)
        }
    }

    /// Sets property `key` (anything `Serialize`; a value that fails to serialize makes the
    /// event `invalid`).
    pub fn property(mut self, key: impl Into<String>, value: impl Serialize) -> Event {
        match to_json(value) {
            Ok(v) => {
                self.properties.insert(key.into(), v);
            }
            Err(e) => self.invalid = Some(format!("property `{}`: {e}", key.into())),
        }
        self
    }

    /// Sets property `key` when `value` is `Some`.
    pub fn property_opt(self, key: impl Into<String>, value: Option<impl Serialize>) -> Event {
        match value {
            Some(v) => self.property(key, v),
            None => self,
        }
    }

    /// Merges a map of properties.
    pub fn properties(mut self, properties: Properties) -> Event {
        self.properties.extend(properties);
        self
    }

    /// Sets trait `key` (identify / group).
    pub fn trait_value(mut self, key: impl Into<String>, value: impl Serialize) -> Event {
        match to_json(value) {
            Ok(v) => {
                self.traits.insert(key.into(), v);
            }
            Err(e) => self.invalid = Some(format!("trait `{}`: {e}", key.into())),
        }
        self
    }

    /// Merges a map of traits.
    pub fn traits(mut self, traits: Properties) -> Event {
        self.traits.extend(traits);
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
    pub fn context_value(mut self, key: impl Into<String>, value: impl Serialize) -> Event {
        match to_json(value) {
            Ok(v) => {
                self.context.extra.insert(key.into(), v);
            }
            Err(e) => self.invalid = Some(format!("context `{}`: {e}", key.into())),
        }
        self
    }

    /// `integrations.<name> = enabled`.
    pub fn integration(mut self, name: impl Into<String>, enabled: bool) -> Event {
        self.integrations
            .get_or_insert_with(Properties::new)
            .insert(name.into(), Value::Bool(enabled));
        self
    }

    // --- the typed product events (exact names and property names are part of the contract) ---

    /// `page_view {url, referrer, page_name}`.
    pub fn page_view(url: &str, referrer: Option<&str>, page_name: Option<&str>) -> Event {
        Event::track("page_view")
            .property("url", url)
            .property_opt("referrer", referrer)
            .property_opt("page_name", page_name)
    }

    /// `click {element_id, element_type, element_text}`.
    pub fn click(element_id: &str, element_type: &str, element_text: Option<&str>) -> Event {
        Event::track("click")
            .property("element_id", element_id)
            .property("element_type", element_type)
            .property_opt("element_text", element_text)
    }

    /// `submit {form_name}`.
    pub fn submit(form_name: &str) -> Event {
        Event::track("submit").property("form_name", form_name)
    }

    /// `sign_up`.
    pub fn sign_up() -> Event {
        Event::track("sign_up")
    }

    /// `sign_in`.
    pub fn sign_in() -> Event {
        Event::track("sign_in")
    }

    /// `sign_out`.
    pub fn sign_out() -> Event {
        Event::track("sign_out")
    }

    /// `feature_used {feature_name, feature_version}`.
    pub fn feature_used(feature_name: &str, feature_version: Option<&str>) -> Event {
        Event::track("feature_used")
            .property("feature_name", feature_name)
            .property_opt("feature_version", feature_version)
    }

    /// `purchase {purchase_id, amount, currency, items}`; `items` is any serializable list.
    pub fn purchase(purchase_id: &str, amount: f64, currency: &str, items: impl Serialize) -> Event {
        Event::track("purchase")
            .property("purchase_id", purchase_id)
            .property("amount", amount)
            .property("currency", currency)
            .property("items", items)
    }

    /// `error {error_type, error_message, stack_trace}`.
    pub fn error(error_type: &str, error_message: &str, stack_trace: Option<&str>) -> Event {
        Event::track("error")
            .property("error_type", error_type)
            .property("error_message", error_message)
            .property_opt("stack_trace", stack_trace)
    }

    /// Whether this event carries its own identity (see the module docs).
    pub fn is_explicit(&self) -> bool {
        match self.kind {
            MessageType::Identify | MessageType::Alias => self.anonymous_id.is_some(),
            _ => self.user_id.is_some() || self.anonymous_id.is_some(),
        }
    }
}

/// The event API of a host that accepts events without `now` (the native [`crate::Client`]
/// and its blocking facade): `track` plus the typed product events.
pub trait Tracker {
    /// Sends an event through the pipeline; never fails, never blocks.
    fn track(&self, event: Event);

    /// `page_view {url, referrer, page_name}`.
    fn track_page_view(&self, url: &str, referrer: Option<&str>, page_name: Option<&str>) {
        self.track(Event::page_view(url, referrer, page_name))
    }
    /// `click {element_id, element_type, element_text}`.
    fn track_click(&self, element_id: &str, element_type: &str, element_text: Option<&str>) {
        self.track(Event::click(element_id, element_type, element_text))
    }
    /// `submit {form_name}`.
    fn track_submit(&self, form_name: &str) {
        self.track(Event::submit(form_name))
    }
    /// `sign_up`.
    fn track_sign_up(&self) {
        self.track(Event::sign_up())
    }
    /// `sign_in`.
    fn track_sign_in(&self) {
        self.track(Event::sign_in())
    }
    /// `sign_out`.
    fn track_sign_out(&self) {
        self.track(Event::sign_out())
    }
    /// `feature_used {feature_name, feature_version}`.
    fn track_feature_used(&self, feature_name: &str, feature_version: Option<&str>) {
        self.track(Event::feature_used(feature_name, feature_version))
    }
    /// `purchase {purchase_id, amount, currency, items}`.
    fn track_purchase(&self, purchase_id: &str, amount: f64, currency: &str, items: Vec<Value>) {
        self.track(Event::purchase(purchase_id, amount, currency, items))
    }
    /// `error {error_type, error_message, stack_trace}`.
    fn track_error(&self, error_type: &str, error_message: &str, stack_trace: Option<&str>) {
        self.track(Event::error(error_type, error_message, stack_trace))
    }
    /// A `page` call.
    fn page(&self, name: Option<&str>, properties: Properties) {
        self.track(Event::page(name).properties(properties))
    }
    /// A `screen` call.
    fn screen(&self, name: &str, properties: Properties) {
        self.track(Event::screen(name).properties(properties))
    }
    /// An `identify` call.
    fn identify(&self, user_id: &str, traits: Properties) {
        self.track(Event::identify(user_id).traits(traits))
    }
    /// A `group` call.
    fn group(&self, group_id: &str, traits: Properties) {
        self.track(Event::group(group_id).traits(traits))
    }
    /// An `alias` call.
    fn alias(&self, user_id: &str, previous_id: Option<&str>) {
        self.track(Event::alias(user_id, previous_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_events_have_exact_names_and_properties() {
        let cases = [
            (
                Event::page_view("https://x/", Some("https://r/"), Some("Home")),
                "page_view",
                vec!["url", "referrer", "page_name"],
            ),
            (
                Event::click("buy", "button", Some("Buy")),
                "click",
                vec!["element_id", "element_type", "element_text"],
            ),
            (Event::submit("signup"), "submit", vec!["form_name"]),
            (Event::sign_up(), "sign_up", vec![]),
            (Event::sign_in(), "sign_in", vec![]),
            (Event::sign_out(), "sign_out", vec![]),
            (
                Event::feature_used("export", Some("2")),
                "feature_used",
                vec!["feature_name", "feature_version"],
            ),
            (
                Event::purchase("o1", 9.5, "EUR", json!([{"sku": "a"}])),
                "purchase",
                vec!["purchase_id", "amount", "currency", "items"],
            ),
            (
                Event::error("TypeError", "x is undefined", Some("at f()")),
                "error",
                vec!["error_type", "error_message", "stack_trace"],
            ),
        ];
        for (event, name, props) in cases {
            assert_eq!(event.kind, MessageType::Track);
            assert_eq!(event.event.as_deref(), Some(name));
            let mut keys: Vec<&str> = event.properties.keys().map(String::as_str).collect();
            let mut want = props.clone();
            keys.sort();
            want.sort();
            assert_eq!(keys, want, "{name}");
        }
        assert_eq!(
            Event::purchase("o1", 9.5, "EUR", Vec::<u8>::new()).properties["amount"],
            json!(9.5)
        );
        assert!(
            !Event::page_view("u", None, None)
                .properties
                .contains_key("referrer")
        );
    }

    #[test]
    fn explicit_identity_rules() {
        assert!(!Event::track("a").is_explicit());
        assert!(Event::track("a").user_id("u").is_explicit());
        assert!(!Event::identify("u").is_explicit());
        assert!(Event::identify("u").anonymous_id("a").is_explicit());
        assert!(!Event::alias("u", None).is_explicit());
    }

    #[test]
    fn unserializable_values_mark_the_event_invalid() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 2);
        let e = Event::track("a").property("bad", map);
        assert!(e.invalid.as_deref().unwrap().contains("bad"));
    }

    #[test]
    fn deserializes_from_a_js_shaped_object() {
        let e: Event = serde_json::from_value(json!({
            "type": "track", "event": "clicked", "properties": {"a": 1}, "category": "marketing",
            "context": {"userAgent": "UA", "campaign": {"source": "x"}}, "timestamp": 5
        }))
        .unwrap();
        assert_eq!(e.event.as_deref(), Some("clicked"));
        assert_eq!(e.context.user_agent.as_deref(), Some("UA"));
        assert_eq!(e.context.extra["campaign"]["source"], "x");
        assert!(serde_json::from_value::<Event>(json!({"type": "track", "evnt": "x"})).is_err());
    }
}
