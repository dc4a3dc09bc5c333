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

mod from_json;

use crate::json::{IntoJson, Value};
use crate::message::MessageType;

pub use crate::json::Map as Properties;

/// A typed product event of the catalogue: its name, and the properties its positional
/// arguments fill, in order (a name ending in `?` is optional: left out when absent).
pub type Typed = (&'static str, &'static [&'static str]);

const PAGE_VIEW: Typed = ("page_view", &["url", "referrer?", "page_name?"]);
const CLICK: Typed = ("click", &["element_id", "element_type", "element_text?"]);
const SUBMIT: Typed = ("submit", &["form_name"]);
const SIGN_UP: Typed = ("sign_up", &[]);
const SIGN_IN: Typed = ("sign_in", &[]);
const SIGN_OUT: Typed = ("sign_out", &[]);
const FEATURE_USED: Typed = ("feature_used", &["feature_name", "feature_version?"]);
const PURCHASE: Typed = ("purchase", &["purchase_id", "amount", "currency", "items"]);
const ERROR: Typed = ("error", &["error_type", "error_message", "stack_trace?"]);

/// The typed product events (exact names and property names are part of the contract): the
/// table behind [`Event::typed`], [`Event::click`], [`Event::purchase`], ...
pub const TYPED_EVENTS: [Typed; 9] = [
    PAGE_VIEW,
    CLICK,
    SUBMIT,
    SIGN_UP,
    SIGN_IN,
    SIGN_OUT,
    FEATURE_USED,
    PURCHASE,
    ERROR,
];

/// An optional string argument as JSON (`null` when absent).
fn opt(value: Option<&str>) -> Value {
    value.map_or(Value::Null, Value::from)
}

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

/// Where a builder value goes.
#[derive(Clone, Copy)]
enum Part {
    Properties,
    Traits,
    Context,
}

/// `what` `key`: `problem` — the detail of an event made invalid by a value.
fn invalid(what: &str, key: &str, problem: &str) -> String {
    crate::json::cat(&[what, " `", key, "`: ", problem])
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
    fn put(&mut self, part: Part, key: String, value: Result<Value, String>) {
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

    // --- the typed product events (exact names and property names are part of the contract) ---

    /// `page_view {url, referrer, page_name}`.
    pub fn page_view(url: &str, referrer: Option<&str>, page_name: Option<&str>) -> Event {
        Event::catalogued(PAGE_VIEW, vec![url.into(), opt(referrer), opt(page_name)])
    }

    /// `click {element_id, element_type, element_text}`.
    pub fn click(element_id: &str, element_type: &str, element_text: Option<&str>) -> Event {
        let args = vec![element_id.into(), element_type.into(), opt(element_text)];
        Event::catalogued(CLICK, args)
    }

    /// `submit {form_name}`.
    pub fn submit(form_name: &str) -> Event {
        Event::catalogued(SUBMIT, vec![form_name.into()])
    }

    /// `sign_up`.
    pub fn sign_up() -> Event {
        Event::catalogued(SIGN_UP, Vec::new())
    }

    /// `sign_in`.
    pub fn sign_in() -> Event {
        Event::catalogued(SIGN_IN, Vec::new())
    }

    /// `sign_out`.
    pub fn sign_out() -> Event {
        Event::catalogued(SIGN_OUT, Vec::new())
    }

    /// `feature_used {feature_name, feature_version}`.
    pub fn feature_used(feature_name: &str, feature_version: Option<&str>) -> Event {
        Event::catalogued(FEATURE_USED, vec![feature_name.into(), opt(feature_version)])
    }

    /// `purchase {purchase_id, amount, currency, items}`; `amount` is a number and `items` a list
    /// (anything [`IntoJson`]: `49.9` and `json!([...])` with the `serde` feature).
    pub fn purchase(purchase_id: &str, amount: impl IntoJson, currency: &str, items: impl IntoJson) -> Event {
        let args = vec![purchase_id.into(), Value::Null, currency.into(), Value::Null];
        let mut e = Event::catalogued(PURCHASE, args);
        // Converted like any builder value (a failure marks the event invalid), in place.
        e.put(Part::Properties, "amount".into(), amount.into_json());
        e.put(Part::Properties, "items".into(), items.into_json());
        e
    }

    /// `error {error_type, error_message, stack_trace}`.
    pub fn error(error_type: &str, error_message: &str, stack_trace: Option<&str>) -> Event {
        let args = vec![error_type.into(), error_message.into(), opt(stack_trace)];
        Event::catalogued(ERROR, args)
    }

    /// A typed product event by name (`"click"`, `"purchase"`, ... — see [`TYPED_EVENTS`]) from
    /// its positional arguments, as JSON values: each fills the property at its place in the
    /// catalogue; an absent argument (`null` or missing) leaves an optional property out and
    /// sets a required one to `null`. `None` for a name not in the catalogue. (The browser's
    /// `trackClick`, `trackPurchase`, ... come through here.)
    pub fn typed(kind: &str, args: Vec<Value>) -> Option<Event> {
        for entry in &TYPED_EVENTS {
            if entry.0 == kind {
                return Some(Event::catalogued(*entry, args));
            }
        }
        None
    }

    /// One constructor for every typed product event (a table and one loop rather than a
    /// builder chain per event, which moved the whole `Event` at every step).
    fn catalogued((name, properties): Typed, mut args: Vec<Value>) -> Event {
        let mut e = Event::track(name);
        // The arguments taken by index rather than through `into_iter`: less code in the bundle.
        for (i, property) in properties.iter().enumerate() {
            let value = args.get_mut(i).map(std::mem::take).unwrap_or_default();
            match property.strip_suffix("?") {
                Some(_) if value.is_null() => {}
                Some(optional) => {
                    e.properties.insert(optional.to_string(), value);
                }
                None => {
                    e.properties.insert(property.to_string(), value);
                }
            }
        }
        e
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
#[cfg(feature = "serde")]
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
    fn track_purchase(&self, purchase_id: &str, amount: f64, currency: &str, items: Vec<serde_json::Value>) {
        self.track(Event::purchase(purchase_id, amount, currency, items))
    }
    /// `error {error_type, error_message, stack_trace}`.
    fn track_error(&self, error_type: &str, error_message: &str, stack_trace: Option<&str>) {
        self.track(Event::error(error_type, error_message, stack_trace))
    }
    /// A `page` call.
    fn page(&self, name: Option<&str>, properties: impl Into<Properties>) {
        self.track(Event::page(name).properties(properties))
    }
    /// A `screen` call.
    fn screen(&self, name: &str, properties: impl Into<Properties>) {
        self.track(Event::screen(name).properties(properties))
    }
    /// An `identify` call.
    fn identify(&self, user_id: &str, traits: impl Into<Properties>) {
        self.track(Event::identify(user_id).traits(traits))
    }
    /// A `group` call.
    fn group(&self, group_id: &str, traits: impl Into<Properties>) {
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
    use crate::json::parse;

    #[test]
    fn typed_events_have_exact_names_and_properties() {
        let items = parse(r#"[{"sku": "a"}]"#).unwrap();
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
                Event::purchase("o1", Value::from(95u32), "EUR", items),
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
            let keys: Vec<&str> = event.properties.keys().map(String::as_str).collect();
            assert_eq!(keys, props, "{name}: in the documented order");
        }
        assert!(
            !Event::page_view("u", None, None)
                .properties
                .contains_key("referrer")
        );
    }

    #[test]
    fn typed_by_name_fills_the_catalogue_from_positional_arguments() {
        let args = vec![Value::from("buy"), Value::from("button"), Value::Null];
        let click = Event::typed("click", args).unwrap();
        assert_eq!(
            click,
            Event::click("buy", "button", None),
            "the same event either way"
        );
        assert!(
            !click.properties.contains_key("element_text"),
            "optional and absent: left out"
        );
        let short = Event::typed("submit", Vec::new()).unwrap();
        assert_eq!(
            short.properties["form_name"],
            Value::Null,
            "required and absent: null"
        );
        let extra = Event::typed("sign_up", vec![Value::from("ignored")]).unwrap();
        assert!(extra.properties.is_empty());
        for (name, _) in TYPED_EVENTS {
            assert_eq!(
                Event::typed(name, Vec::new()).unwrap().event.as_deref(),
                Some(name)
            );
        }
        assert!(Event::typed("clik", Vec::new()).is_none());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn the_native_builder_takes_anything_serialize() {
        let e = Event::purchase("o1", 9.5, "EUR", serde_json::json!([{"sku": "a"}]))
            .property("count", 3u8)
            .trait_value("tags", vec!["a", "b"]);
        assert_eq!(e.properties["amount"].as_number().unwrap().as_str(), "9.5");
        assert_eq!(e.properties["items"][0]["sku"], "a");
        assert_eq!(e.properties["count"].as_u64(), Some(3));
        assert_eq!(e.traits["tags"].to_json(), r#"["a","b"]"#);
    }

    #[test]
    fn explicit_identity_rules() {
        assert!(!Event::track("a").is_explicit());
        assert!(Event::track("a").user_id("u").is_explicit());
        assert!(!Event::identify("u").is_explicit());
        assert!(Event::identify("u").anonymous_id("a").is_explicit());
        assert!(!Event::alias("u", None).is_explicit());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn unserializable_values_mark_the_event_invalid() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 2);
        let e = Event::track("a").property("bad", map);
        assert!(e.invalid.as_deref().unwrap().contains("bad"));
    }
}
