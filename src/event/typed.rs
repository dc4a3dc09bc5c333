//! The typed product events of the catalogue (exact names and property names are part of the
//! contract): [`TYPED_EVENTS`], their constructors ([`Event::click`], [`Event::purchase`], ...,
//! [`Event::typed`] by name) and `Tracker`, the same API for hosts that take events without
//! `now`.

use super::Event;
#[cfg(feature = "serde")]
use super::Properties;
use super::builders::Part;
use crate::json::{IntoJson, Value};

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

impl Event {
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
