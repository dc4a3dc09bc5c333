//! `Footfall.load(options)`: the browser options object, split into host options and the core's
//! [`Config`].
//!
//! The object carries the same sections as the native `analytics_config.yaml` (`tracking`,
//! `events`, `privacy`, `consent`, `delivery`, snake_case inside, read and validated by the core —
//! unknown keys are errors naming the key), either at the top level or under `analytics`, plus
//! the browser host's own camelCase options:
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
//! persistent queue's hard cap) unless set. The options are read with the core's JSON reader
//! (no serde in the browser bundle).

use footfall::Config;
use footfall::json::read::{Slot, fields};
use footfall::json::{Map, Value, parse};

/// The browser's default `tracking.max_queue_size` (events kept in `localStorage` at most).
pub const BROWSER_MAX_QUEUE: usize = 1000;

/// Where the queue and identity live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    LocalStorage,
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

/// Parsed options: the host's and the core's.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: HostOptions,
    pub config: Config,
}

/// A bad options object; the message names the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError(pub String);

fn bad(parts: &[&str]) -> OptionsError {
    OptionsError(footfall::json::cat(parts))
}

/// Parses the options object (as JSON text). `origin` is the page's origin, the default endpoint.
/// The configuration's values are checked by [`Config::validate`] (the core's constructor runs
/// it), not here.
pub fn parse_options(json: &str, origin: Option<&str>) -> Result<Options, OptionsError> {
    let value = parse(json).map_err(|e| bad(&["options: ", &e.message()]))?;
    let (mut write_key, mut endpoint, mut persistence) = (None, None, None);
    let mut host = HostOptions {
        write_key: String::new(),
        auto_page_views: true,
        autocapture: false,
        persistence: Persistence::LocalStorage,
        cookie_domain: None,
        debug: false,
    };
    let (mut analytics, mut sections) = (Value::Null, Map::new());
    fields(
        value,
        "options",
        &[
            "writeKey",
            "endpoint",
            "autoPageViews",
            "autocapture",
            "persistence",
            "cookieDomain",
            "debug",
            "analytics",
        ],
        &mut [
            Slot::OptStr(&mut write_key),
            Slot::OptStr(&mut endpoint),
            Slot::Bool(&mut host.auto_page_views),
            Slot::Bool(&mut host.autocapture),
            Slot::OptStr(&mut persistence),
            Slot::OptStr(&mut host.cookie_domain),
            Slot::Bool(&mut host.debug),
            Slot::Any(&mut analytics),
        ],
        // The config sections (`tracking`, ...): the core's reader checks them.
        Some(&mut sections),
    )
    .map_err(|e| OptionsError(e.message()))?;
    host.write_key =
        write_key.ok_or_else(|| bad(&["options.writeKey is required (the project's write key)"]))?;
    if footfall::text::blank(&host.write_key) {
        return Err(bad(&["options.writeKey must not be empty"]));
    }
    host.persistence = match persistence.as_deref() {
        None | Some("localStorage") => Persistence::LocalStorage,
        Some("memory") => Persistence::Memory,
        Some(other) => {
            return Err(bad(&[
                "options.persistence: unknown value `",
                other,
                "`, expected `localStorage` or `memory`",
            ]));
        }
    };
    let nested = !analytics.is_null();
    if nested && !sections.is_empty() {
        return Err(bad(&[
            "options: give the config sections either at the top level or under `analytics`",
        ]));
    }
    // The core's reader over the browser's defaults; under `analytics` the error paths say
    // `analytics.tracking`.
    let mut config = Config::default();
    config.tracking.max_queue_size = BROWSER_MAX_QUEUE;
    let read = if nested {
        config.read_sections(analytics, "analytics")
    } else {
        config.read_sections(Value::Object(sections), "")
    };
    read.map_err(|e| bad(&["options: ", &e.message()]))?;
    config.delivery.write_key = host.write_key.clone();
    if let Some(endpoint) = endpoint.as_deref().or(origin) {
        config.delivery.endpoint = endpoint.to_string();
    }
    // Validated by the core's constructor (`Core::with_pattern_matcher`), whose error `start`
    // reports as `options: …` like the ones above: one validation, not two.
    Ok(Options { host, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn minimal_options_get_browser_defaults() {
        let o = parse_options(r#"{"writeKey":"wk"}"#, Some("https://shop.example")).unwrap();
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
        let top = parse_options(
            r#"{"writeKey":"k","endpoint":"http://c","consent":{"mode":"opt_in"},
                "tracking":{"batch_size":5,"max_queue_size":50},
                "events":{"purchase":{"properties":["amount"]}}}"#,
            None,
        )
        .unwrap();
        let wrapped = parse_options(
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
        // As `start` reports them: reading errors, then the core's validation.
        let err = |json: &str| match parse_options(json, None) {
            Err(e) => e.0,
            Ok(o) => String::from("options: ") + &o.config.validate().unwrap_err().message(),
        };
        assert!(err("{}").contains("writeKey is required"));
        assert!(err(r#"{"writeKey":" "}"#).contains("writeKey must not be empty"));
        assert!(
            err(r#"{"writeKey":"k","autoPageView":false}"#).contains("`autoPageView`"),
            "{}",
            err(r#"{"writeKey":"k","autoPageView":false}"#)
        );
        assert!(err(r#"{"writeKey":"k","tracking":{"bath_size":1}}"#).contains("unknown field `bath_size`"));
        assert!(err(r#"{"writeKey":"k","tracking":{"batch_size":0}}"#).contains("tracking.batch_size"));
        assert!(err(r#"{"writeKey":"k","persistence":"disk"}"#).contains("disk"));
        assert!(err(r#"{"writeKey":"k","tracking":3}"#).contains("tracking: expected an object"));
        assert!(err(r#"{"writeKey":"k","debug":"yes"}"#).contains("options.debug: expected a boolean"));
        assert!(err(r#"{"writeKey":"k","tracking":{},"analytics":{}}"#).contains("either at the top level"));
        assert!(err(r#"{"writeKey":"k","analytics":{"privacy":{"x":1}}}"#).contains("analytics.privacy"));
    }
}
