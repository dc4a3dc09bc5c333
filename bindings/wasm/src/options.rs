//! `Footfall.load(options)`: the browser options object, split into host options and the core's
//! [`Config`].
//!
//! The object carries the same sections as the native `analytics_config.yaml` (`tracking`,
//! `events`, `privacy`, `consent`, `delivery`, snake_case inside, validated by the core — unknown
//! keys are errors naming the key), either at the top level or under `analytics`, plus the
//! browser host's own camelCase options:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `writeKey` | required | the project's write key (sent as `writeKey` in the body) |
//! | `endpoint` | the page's origin | collector base URL; batches go to `{endpoint}/v1/batch` |
//! | `autoPageViews` | `true` | a `page` call on load and on every SPA navigation |
//! | `autocapture` | `false` | `track` clicks on elements with `data-footfall-event` |
//! | `persistence` | `"localStorage"` | `"memory"`: nothing is ever stored |
//! | `cookieDomain` | none | also keep identity in a first-party cookie for this domain (e.g. `.example.com`) |
//! | `debug` | `false` | log every pipeline step and drop to the console |
//!
//! Browser defaults that differ from the core's: `tracking.max_queue_size` is 1,000 events (the
//! persistent queue's hard cap) unless set.

use std::collections::BTreeMap;

use footfall::Config;
use footfall::config::{ConsentConfig, DeliveryConfig, EventSpec, PrivacyConfig, TrackingConfig};
use serde::Deserialize;

/// The browser's default `tracking.max_queue_size` (events kept in `localStorage` at most).
pub const BROWSER_MAX_QUEUE: usize = 1000;

/// Where the queue and identity live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Persistence {
    #[serde(rename = "localStorage")]
    LocalStorage,
    #[serde(rename = "memory")]
    Memory,
}

/// The host's own options (everything but the config sections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    pub write_key: String,
    pub auto_page_views: bool,
    pub autocapture: bool,
    pub persistence: Persistence,
    pub cookie_domain: Option<String>,
    pub debug: bool,
}

/// The options object as written. Parsed in one pass straight from the JSON text (one serde
/// deserializer for every config type keeps the wasm small).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawOptions {
    write_key: Option<String>,
    endpoint: Option<String>,
    auto_page_views: Option<bool>,
    autocapture: Option<bool>,
    persistence: Option<Persistence>,
    cookie_domain: Option<String>,
    debug: Option<bool>,
    analytics: Option<Config>,
    tracking: Option<TrackingConfig>,
    events: Option<BTreeMap<String, EventSpec>>,
    privacy: Option<PrivacyConfig>,
    consent: Option<ConsentConfig>,
    delivery: Option<DeliveryConfig>,
}

/// Only what is needed to tell whether `tracking.max_queue_size` was given.
#[derive(Deserialize)]
struct Peek {
    analytics: Option<PeekAnalytics>,
    tracking: Option<PeekTracking>,
}

#[derive(Deserialize)]
struct PeekAnalytics {
    tracking: Option<PeekTracking>,
}

#[derive(Deserialize)]
struct PeekTracking {
    max_queue_size: Option<serde::de::IgnoredAny>,
}

/// Parsed options: the host's and the core's.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: HostOptions,
    pub config: Config,
}

/// A bad options object; the message names the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError(pub String);

fn bad(message: impl Into<String>) -> OptionsError {
    OptionsError(message.into())
}

/// Parses the options object (as JSON text). `origin` is the page's origin, the default endpoint.
pub fn parse(json: &str, origin: Option<&str>) -> Result<Options, OptionsError> {
    let raw: RawOptions = serde_json::from_str(json).map_err(|e| bad(format!("options: {e}")))?;
    let write_key = raw
        .write_key
        .ok_or_else(|| bad("options.writeKey is required (the project's write key)"))?;
    if write_key.trim().is_empty() {
        return Err(bad("options.writeKey must not be empty"));
    }
    let sections_given = raw.tracking.is_some()
        || raw.events.is_some()
        || raw.privacy.is_some()
        || raw.consent.is_some()
        || raw.delivery.is_some();
    let mut config = match raw.analytics {
        Some(_) if sections_given => {
            return Err(bad(
                "options: give the config sections either at the top level or under `analytics`",
            ));
        }
        Some(config) => config,
        None => Config {
            tracking: raw.tracking.unwrap_or_default(),
            events: raw.events.unwrap_or_default(),
            privacy: raw.privacy.unwrap_or_default(),
            consent: raw.consent.unwrap_or_default(),
            delivery: raw.delivery.unwrap_or_default(),
        },
    };
    let peek: Option<Peek> = serde_json::from_str(json).ok();
    let queue_given = peek.is_some_and(|p| {
        p.tracking
            .or(p.analytics.and_then(|a| a.tracking))
            .is_some_and(|t| t.max_queue_size.is_some())
    });
    if !queue_given {
        config.tracking.max_queue_size = BROWSER_MAX_QUEUE;
    }
    config.delivery.write_key = write_key.clone();
    if let Some(endpoint) = raw.endpoint.as_deref().or(origin) {
        config.delivery.endpoint = endpoint.to_string();
    }
    config.validate().map_err(|e| bad(format!("options: {e}")))?;
    let host = HostOptions {
        write_key,
        auto_page_views: raw.auto_page_views.unwrap_or(true),
        autocapture: raw.autocapture.unwrap_or(false),
        persistence: raw.persistence.unwrap_or(Persistence::LocalStorage),
        cookie_domain: raw.cookie_domain,
        debug: raw.debug.unwrap_or(false),
    };
    Ok(Options { host, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn minimal_options_get_browser_defaults() {
        let o = parse(r#"{"writeKey":"wk"}"#, Some("https://shop.example")).unwrap();
        assert_eq!(o.host.write_key, "wk");
        assert!(o.host.auto_page_views && !o.host.autocapture && !o.host.debug);
        assert_eq!(o.host.persistence, Persistence::LocalStorage);
        assert_eq!(o.config.delivery.write_key, "wk");
        assert_eq!(o.config.delivery.endpoint, "https://shop.example");
        assert_eq!(o.config.tracking.max_queue_size, BROWSER_MAX_QUEUE);
        assert_eq!(o.config.tracking.batch_size, 100);
    }

    #[test]
    fn sections_at_top_level_or_under_analytics_are_the_core_config() {
        let top = parse(
            r#"{"writeKey":"k","endpoint":"http://c","consent":{"mode":"opt_in"},
                "tracking":{"batch_size":5,"max_queue_size":50},
                "events":{"purchase":{"properties":["amount"]}}}"#,
            None,
        )
        .unwrap();
        let wrapped = parse(
            r#"{"writeKey":"k","endpoint":"http://c","analytics":{"consent":{"mode":"opt_in"},
                "tracking":{"batch_size":5,"max_queue_size":50},
                "events":{"purchase":{"properties":["amount"]}}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(top.config, wrapped.config);
        assert_eq!(top.config.consent_mode(), footfall::ConsentMode::OptIn);
        assert_eq!(top.config.tracking.max_queue_size, 50);
        assert_eq!(top.config.delivery.endpoint, "http://c");
        assert!(top.config.events.contains_key("purchase"));
    }

    #[test]
    fn errors_name_the_option() {
        let err = |json: &str| parse(json, None).unwrap_err().0;
        assert!(err("{}").contains("writeKey is required"));
        assert!(err(r#"{"writeKey":" "}"#).contains("writeKey must not be empty"));
        assert!(err(r#"{"writeKey":"k","autoPageView":false}"#).contains("autoPageView"));
        assert!(err(r#"{"writeKey":"k","tracking":{"bath_size":1}}"#).contains("unknown field `bath_size`"));
        assert!(err(r#"{"writeKey":"k","tracking":{"batch_size":0}}"#).contains("tracking.batch_size"));
        assert!(err(r#"{"writeKey":"k","persistence":"disk"}"#).contains("disk"));
        assert!(err(r#"{"writeKey":"k","tracking":3}"#).contains("TrackingConfig"));
        assert!(err(r#"{"writeKey":"k","tracking":{},"analytics":{}}"#).contains("either at the top level"));
    }
}
