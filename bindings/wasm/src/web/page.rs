//! What the page looks like: `{url, path, referrer, search, title}` (read by the JS side on load
//! and on every navigation, with the query's decoded `params`, which become the page's
//! `campaign`, see [`footfall::pipeline::campaign`]), the user agent and locale — the default
//! context of every message — and the page view events built from it.

use footfall::json::{Value, parse};
use footfall::pipeline::campaign;
use footfall::{Event, EventContext, Properties};

/// The `url` of a page's `{url, path, referrer, search, title}`.
fn url(info: &Properties) -> &str {
    info.get("url").and_then(Value::as_str).unwrap_or("")
}

/// Copies into `properties` the members of `from` it does not have (one loop for the page's
/// properties and a typed event's extra ones).
pub fn add_missing(properties: &mut Properties, from: &Properties) {
    for (k, v) in from {
        if !properties.contains_key(k) {
            properties.insert(k.clone(), v.clone());
        }
    }
}

/// The current page.
pub struct PageState {
    pub info: Properties,
    /// `context.campaign` (empty: none).
    campaign: Properties,
    user_agent: Option<String>,
    locale: Option<String>,
}

impl PageState {
    /// From the page's `{url, path, referrer, search, title, params}`.
    pub fn new(info: Properties, user_agent: Option<String>, locale: Option<String>) -> PageState {
        let mut page = PageState {
            info: Properties::new(),
            campaign: Properties::new(),
            user_agent,
            locale,
        };
        page.set(info);
        page
    }

    /// The page's info without its `params`, which give the campaign.
    fn set(&mut self, mut info: Properties) {
        self.campaign = match info.remove("params") {
            Some(Value::Object(params)) => campaign::from_params(&params),
            _ => Properties::new(),
        };
        self.info = info;
    }

    /// `url`.
    pub fn url(&self) -> &str {
        url(&self.info)
    }

    /// Moves to the page `{url, path, referrer, search, title, params}` (JSON), in the same browser;
    /// `false` (and nothing changes) when its URL is this page's.
    pub fn navigate(&mut self, page_json: &str) -> bool {
        let info = match parse(page_json) {
            Ok(Value::Object(map)) => map,
            _ => Properties::new(),
        };
        if url(&info) == self.url() {
            return false;
        }
        self.set(info);
        true
    }

    /// The context every message gets: user agent, locale, this page and its campaign.
    pub fn context(&self) -> EventContext {
        let mut extra = Properties::new();
        if !self.campaign.is_empty() {
            extra.insert("campaign".to_string(), Value::Object(self.campaign.clone()));
        }
        EventContext {
            user_agent: self.user_agent.clone(),
            locale: self.locale.clone(),
            page: Some(self.info.clone()),
            extra,
            ..EventContext::default()
        }
    }

    /// Fills a `page` event's properties with the page's (the caller's win).
    pub fn fill(&self, event: &mut Event) {
        add_missing(&mut event.properties, &self.info);
    }

    /// A `page` call for this page.
    pub fn page_view(&self) -> Event {
        let mut event = Event::page(None);
        self.fill(&mut event);
        event
    }
}
