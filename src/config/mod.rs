//! SDK configuration: the `analytics:` section of `analytics_config.yaml`, as plain Rust types.
//!
//! ```yaml
//! analytics:
//!   tracking: {enabled: true, batch_size: 100, flush_interval: 5}
//!   events:
//!     page_view: {enabled: true, properties: [url, referrer, page_name]}
//!     purchase: {enabled: true, properties: [purchase_id, amount, currency, items]}
//!   privacy: {anonymize_ip: true, hash_user_id: false, gdpr_compliance: true}
//! ```
//!
//! Every section and field is optional and has a documented default; unknown keys are an error
//! that names the key's path (`analytics.tracking: unknown field `bath_size`, expected one of
//! ...`). Durations are seconds (fractions allowed), sizes are bytes. Browser hosts read the
//! same object (the inner `analytics` object, or the whole file shape) from JS; the reader is
//! hand-written over the core's JSON ([`read`]) so it is the same code on every platform, and
//! the YAML parser is only compiled with the `yaml` feature.

mod read;

use crate::json::push_u64;
use crate::map::NameMap;
#[cfg(feature = "serde")]
use serde::Serialize;

/// The whole SDK configuration (the object under `analytics:`).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Config {
    /// Batching, limits, sessions and the tracking plan's strictness.
    pub tracking: TrackingConfig,
    /// The tracking plan: event name → spec. Empty (the default) means no plan.
    pub events: NameMap<EventSpec>,
    /// Anonymization.
    pub privacy: PrivacyConfig,
    /// Consent categories, mode and browser privacy signals.
    pub consent: ConsentConfig,
    /// Where and how batches are delivered.
    pub delivery: DeliveryConfig,
}

/// `analytics.tracking`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct TrackingConfig {
    /// Master switch. Default `true`; `false` drops every event with reason `disabled`.
    pub enabled: bool,
    /// Send a batch once this many messages are queued. Default `100` messages.
    pub batch_size: usize,
    /// Send queued messages at the latest this long after the oldest was enqueued.
    /// Default `5` seconds.
    pub flush_interval: f64,
    /// Send a batch once the queued messages reach this size; no batch body exceeds it.
    /// Default `512000` bytes (500 KB).
    pub max_batch_bytes: usize,
    /// At most this many messages queued (including in flight); when full, the oldest
    /// non-`necessary` message is dropped (`queue_full`). Default `10000` messages.
    pub max_queue_size: usize,
    /// A message larger than this, serialized, is dropped (`too_large`). Default `32768` bytes.
    pub max_message_bytes: usize,
    /// A new session starts after this much inactivity. Default `1800` seconds (30 minutes).
    pub session_timeout: f64,
    /// A new session starts when a session reaches this age. Default `86400` seconds (24 h).
    pub max_session_length: f64,
    /// Tracking plan strictness. Default `false`: properties the plan does not list are removed
    /// and events it does not list pass unchanged. `true`: an event with unlisted properties, or
    /// an event the plan does not list, is dropped (`not_in_plan`).
    pub strict: bool,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig {
            enabled: true,
            batch_size: 100,
            flush_interval: 5.0,
            max_batch_bytes: 500 * 1024,
            max_queue_size: 10_000,
            max_message_bytes: 32 * 1024,
            session_timeout: 30.0 * 60.0,
            max_session_length: 24.0 * 3600.0,
            strict: false,
        }
    }
}

/// One event of the tracking plan (`analytics.events.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct EventSpec {
    /// Default `true`; `false` drops the event (`disabled`).
    pub enabled: bool,
    /// The allowed property names. Default: absent, any property allowed.
    pub properties: Option<Vec<String>>,
    /// The consent category of this event when the caller does not set one. Default: absent
    /// (`analytics`).
    pub category: Option<String>,
}

impl Default for EventSpec {
    fn default() -> Self {
        EventSpec {
            enabled: true,
            properties: None,
            category: None,
        }
    }
}

/// `analytics.privacy`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct PrivacyConfig {
    /// Truncate `context.ip` (IPv4 last octet, IPv6 last 80 bits) and set
    /// `context.anonymizeIp` so the collector truncates the request address too. Default `true`.
    pub anonymize_ip: bool,
    /// Replace `userId` with hex HMAC-SHA256(`hash_salt`, userId). Default `false`.
    pub hash_user_id: bool,
    /// The HMAC key for `hash_user_id` (required when it is on). Default: absent.
    pub hash_salt: Option<String>,
    /// When `consent.mode` is not set: `true` means `opt_in`, `false` means `opt_out`.
    /// Default `false`.
    pub gdpr_compliance: bool,
    /// Redact property and trait values that look like emails, phone numbers or Luhn-valid card
    /// numbers, or match one of `pii_patterns` (replaced by `"[redacted]"`). Default `false`.
    pub scrub_pii: bool,
    /// Extra PII patterns: regular expressions, applied when `scrub_pii` is on; a string value
    /// (any depth of properties, traits, `context.page`, `context.traits`) matching one anywhere
    /// is redacted (anchor with `^…$` for whole values). Matched by the host's engine (Rust's
    /// `regex` natively, JavaScript's `RegExp` in the browser: keep to their common syntax, see
    /// [`crate::pipeline::patterns`]); a pattern that does not compile is skipped with a warning.
    /// At most 1000 patterns of at most 1000 bytes. Default: empty.
    pub pii_patterns: Vec<String>,
    /// Property and trait names removed from every message (case-insensitive, any depth).
    /// Default: empty.
    pub property_deny_list: Vec<String>,
    /// Query parameters removed from page URLs (`url`, `referrer`, `context.page.url`/`search`/
    /// `referrer`; case-insensitive). Default: common ad click ids (`gclid`, `fbclid`, ...).
    pub url_param_deny_list: Vec<String>,
}

/// Longest accepted `privacy.pii_patterns` entry, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1000;

/// The default `privacy.url_param_deny_list`: ad-platform click identifiers.
pub const DEFAULT_URL_PARAM_DENY_LIST: [&str; 15] = [
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "igshid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "epik",
];

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            anonymize_ip: true,
            hash_user_id: false,
            hash_salt: None,
            gdpr_compliance: false,
            scrub_pii: false,
            pii_patterns: Vec::new(),
            property_deny_list: Vec::new(),
            url_param_deny_list: crate::text::owned(&DEFAULT_URL_PARAM_DENY_LIST),
        }
    }
}

/// `opt_in`: nothing but `necessary` leaves before a grant. `opt_out`: everything is granted
/// until denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
pub enum ConsentMode {
    OptIn,
    OptOut,
}

/// `analytics.consent`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct ConsentConfig {
    /// Default: absent, which means `opt_in` when `privacy.gdpr_compliance` is true and
    /// `opt_out` otherwise.
    pub mode: Option<ConsentMode>,
    /// The known categories, listed in `context.consent`. `necessary` is always granted; events
    /// may use categories not listed here. Default `[necessary, analytics, marketing]`.
    pub categories: Vec<String>,
    /// Honour Global Privacy Control when the host reports it: the `gpc_categories` are denied.
    /// Default `true`.
    pub respect_gpc: bool,
    /// Honour Do Not Track when the host reports it: every category but `necessary` is denied.
    /// Default `false`.
    pub respect_dnt: bool,
    /// The categories a GPC signal denies. Default `[marketing]`.
    pub gpc_categories: Vec<String>,
    /// On `revoke`, also start over with a new anonymous id (and session). Default `false`.
    pub rotate_anonymous_id_on_revoke: bool,
    /// At most this many events wait in memory for a consent decision; beyond, the oldest is
    /// dropped (`queue_full`). Default `1000` events.
    pub max_pending: usize,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            mode: None,
            categories: crate::text::owned(&["necessary", "analytics", "marketing"]),
            respect_gpc: true,
            respect_dnt: false,
            gpc_categories: vec!["marketing".to_string()],
            rotate_anonymous_id_on_revoke: false,
            max_pending: 1000,
        }
    }
}

/// `analytics.delivery`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct DeliveryConfig {
    /// The collector's base URL; batches go to `{endpoint}/v1/batch`.
    /// Default `http://localhost:8080`.
    pub endpoint: String,
    /// Sent as the HTTP Basic username (empty password). Default: empty.
    pub write_key: String,
    /// A message is dropped (`retries_exhausted`) after this many failed attempts. Default `10`.
    pub max_attempts: u32,
    /// A message is dropped (`expired`) when still undelivered this long after it was enqueued.
    /// Default `43200` seconds (12 h).
    pub max_age: f64,
    /// Backoff base: the n-th consecutive failure waits a random time in
    /// `0..=min(backoff_cap, backoff_base * 2^(n-1))` (full jitter). Default `1` second.
    pub backoff_base: f64,
    /// Backoff cap. Default `60` seconds.
    pub backoff_cap: f64,
    /// At most this many batches in flight at once. Default `1`.
    pub max_in_flight: usize,
    /// How often the privacy team's settings are fetched from `{endpoint}/v1/settings` (hosts
    /// also fetch once at start; a failed fetch is retried sooner, with backoff). `0` turns
    /// fetching off (the last persisted settings still apply). Default `300` seconds (5 min).
    pub settings_refresh: f64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            endpoint: "http://localhost:8080".to_string(),
            write_key: String::new(),
            max_attempts: 10,
            max_age: 12.0 * 3600.0,
            backoff_base: 1.0,
            backoff_cap: 60.0,
            max_in_flight: 1,
            settings_refresh: 300.0,
        }
    }
}

/// The configuration could not be read or is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not YAML / JSON at all.
    Syntax(String),
    /// A key is unknown or a value has the wrong type; `path` names where (`analytics.tracking`).
    Field { path: String, message: String },
    /// Values that do not go together.
    Invalid(String),
}

impl ConfigError {
    /// The error as one line (what `Display` shows): `config syntax: ...`,
    /// `<path>: <message>` or `invalid config: ...`.
    pub fn message(&self) -> String {
        let (head, rest) = match self {
            ConfigError::Syntax(m) => ("config syntax: ", m.as_str()),
            ConfigError::Field { path, message } => {
                let mut s = path.clone();
                s.push_str(": ");
                s.push_str(message);
                return s;
            }
            ConfigError::Invalid(m) => ("invalid config: ", m.as_str()),
        };
        String::from(head) + rest
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ConfigError {}

/// Seconds (config) → milliseconds (core).
pub(crate) fn secs_to_ms(secs: f64) -> u64 {
    (secs * 1000.0).round() as u64
}

impl Config {
    /// Reads `analytics_config.yaml` (a document with an `analytics:` root; a bare config object
    /// is accepted too). Unknown keys are errors naming the key. The result is validated.
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let value: serde_json::Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Config::from_value(value)
    }

    /// Reads the same shape as `Config::from_yaml` from JSON text.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let value = crate::json::parse(text).map_err(|e| ConfigError::Syntax(e.message()))?;
        Config::from_value(value)
    }

    /// Reads a JSON value (the core's [`crate::json::Value`], or with the `serde` feature a
    /// `serde_json::Value`): `{"analytics": {...}}` or the bare `{...}`; `null` means defaults.
    /// The result is validated.
    pub fn from_value(value: impl Into<crate::json::Value>) -> Result<Config, ConfigError> {
        let config = read::config(value.into())?;
        config.validate()?;
        Ok(config)
    }

    /// Reads the sections object `value` (`{tracking, events, privacy, consent, delivery}`, the
    /// inside of `analytics`; `null` reads as `{}`) over this configuration: what it gives
    /// replaces what `self` holds, so a host starts from its own defaults. `root` is where
    /// `value` sits, for error paths (`""`, `"analytics"`). Not validated: call
    /// [`Config::validate`] once the host has set what it sets.
    pub fn read_sections(&mut self, value: crate::json::Value, root: &str) -> Result<(), ConfigError> {
        read::sections(self, value, root)
    }

    /// The consent mode in effect (`consent.mode`, else derived from `privacy.gdpr_compliance`).
    pub fn consent_mode(&self) -> ConsentMode {
        self.consent.mode.unwrap_or(if self.privacy.gdpr_compliance {
            ConsentMode::OptIn
        } else {
            ConsentMode::OptOut
        })
    }

    /// Checks that the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let t = &self.tracking;
        let d = &self.delivery;
        for &(name, secs) in &[
            ("tracking.flush_interval", t.flush_interval),
            ("tracking.session_timeout", t.session_timeout),
            ("tracking.max_session_length", t.max_session_length),
            ("delivery.max_age", d.max_age),
            ("delivery.backoff_base", d.backoff_base),
            ("delivery.backoff_cap", d.backoff_cap),
            ("delivery.settings_refresh", d.settings_refresh),
        ] {
            if !secs.is_finite() || secs < 0.0 {
                return bad(String::from(name) + " must be a non-negative number of seconds");
            }
        }
        for &(name, n) in &[
            ("tracking.batch_size", t.batch_size),
            ("tracking.max_queue_size", t.max_queue_size),
            ("tracking.max_message_bytes", t.max_message_bytes),
            ("delivery.max_in_flight", d.max_in_flight),
            ("delivery.max_attempts", d.max_attempts as usize),
        ] {
            if n == 0 {
                return bad(String::from(name) + " must be at least 1");
            }
        }
        if t.max_batch_bytes < t.max_message_bytes + 128 {
            let mut m = String::from("tracking.max_batch_bytes (");
            push_u64(&mut m, t.max_batch_bytes as u64);
            m.push_str(") must exceed tracking.max_message_bytes (");
            push_u64(&mut m, t.max_message_bytes as u64);
            m.push_str(") by at least 128");
            return bad(m);
        }
        if d.backoff_base > d.backoff_cap {
            return bad("delivery.backoff_base must not exceed delivery.backoff_cap".into());
        }
        if self.privacy.hash_user_id && self.privacy.hash_salt.as_deref().is_none_or(str::is_empty) {
            return bad("privacy.hash_salt is required when privacy.hash_user_id is true".into());
        }
        let patterns = &self.privacy.pii_patterns;
        if patterns.len() > crate::settings::MAX_LIST {
            return bad("privacy.pii_patterns: at most 1000 patterns".into());
        }
        for (i, p) in patterns.iter().enumerate() {
            let problem = if p.is_empty() {
                "] must not be empty"
            } else if p.len() > MAX_PATTERN_BYTES {
                "] must be at most 1000 bytes"
            } else {
                continue;
            };
            let mut m = String::from("privacy.pii_patterns[");
            push_u64(&mut m, i as u64);
            m.push_str(problem);
            return bad(m);
        }
        if self.events.keys().any(String::is_empty) {
            return bad("events: an event name is empty".into());
        }
        let k = &self.consent;
        if k.categories.iter().any(String::is_empty) || k.gpc_categories.iter().any(String::is_empty) {
            return bad("consent: category names must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let c = Config::default();
        assert_eq!(c.tracking.batch_size, 100);
        assert_eq!(secs_to_ms(c.tracking.flush_interval), 5_000);
        assert_eq!(c.tracking.max_batch_bytes, 512_000);
        assert_eq!(c.tracking.max_queue_size, 10_000);
        assert_eq!(c.tracking.max_message_bytes, 32_768);
        assert_eq!(secs_to_ms(c.tracking.session_timeout), 1_800_000);
        assert_eq!(secs_to_ms(c.delivery.max_age), 43_200_000);
        assert_eq!(secs_to_ms(c.delivery.settings_refresh), 300_000);
        assert!(c.consent.respect_gpc && !c.consent.respect_dnt);
        assert_eq!(c.consent_mode(), ConsentMode::OptOut);
        c.validate().unwrap();
    }

    #[test]
    fn json_accepts_wrapped_bare_and_null() {
        let wrapped = Config::from_json(r#"{"analytics":{"tracking":{"batch_size":7}}}"#).unwrap();
        let bare = Config::from_json(r#"{"tracking":{"batch_size":7}}"#).unwrap();
        assert_eq!(wrapped, bare);
        assert_eq!(bare.tracking.batch_size, 7);
        assert_eq!(Config::from_json("null").unwrap(), Config::default());
        assert_eq!(
            Config::from_json(r#"{"analytics":null}"#).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_name_their_path() {
        let err = Config::from_json(r#"{"analytics":{"tracking":{"bath_size":7}}}"#).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("analytics.tracking"), "{text}");
        assert!(text.contains("unknown field `bath_size`"), "{text}");
        let err = Config::from_json(r#"{"analytics":{"events":{"x":{"propertes":[]}}}}"#).unwrap_err();
        assert!(err.to_string().contains("analytics.events.x") && err.to_string().contains("propertes"));
        let err = Config::from_json(r#"{"colour":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn wrong_types_name_their_path() {
        let err = Config::from_json(r#"{"privacy":{"anonymize_ip":"yes"}}"#).unwrap_err();
        assert!(err.to_string().starts_with("privacy.anonymize_ip:"), "{err}");
    }

    #[test]
    fn validation_catches_inconsistent_values() {
        let err = Config::from_json(r#"{"privacy":{"hash_user_id":true}}"#).unwrap_err();
        assert!(err.to_string().contains("hash_salt"));
        assert!(Config::from_json(r#"{"tracking":{"batch_size":0}}"#).is_err());
        assert!(Config::from_json(r#"{"tracking":{"flush_interval":-1}}"#).is_err());
        assert!(Config::from_json(r#"{"tracking":{"max_batch_bytes":1000}}"#).is_err());
        assert!(Config::from_json(r#"{"delivery":{"backoff_base":100}}"#).is_err());
        let err = Config::from_json(r#"{"privacy":{"pii_patterns":["ok",""]}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: privacy.pii_patterns[1] must not be empty"
        );
        let long = "x".repeat(1001);
        let err = Config::from_json(&format!(r#"{{"privacy":{{"pii_patterns":["{long}"]}}}}"#)).unwrap_err();
        assert!(
            err.to_string()
                .contains("privacy.pii_patterns[0] must be at most"),
            "{err}"
        );
        let err = Config::from_json(r#"{"privacy":{"pii_patterns":"^x$"}}"#).unwrap_err();
        assert!(err.to_string().starts_with("privacy.pii_patterns:"), "{err}");
        let ok = Config::from_json(r#"{"privacy":{"scrub_pii":true,"pii_patterns":["^secret-\\d+$"]}}"#);
        assert_eq!(ok.unwrap().privacy.pii_patterns, [r"^secret-\d+$"]);
        assert!(
            Config::default().privacy.pii_patterns.is_empty(),
            "documented default"
        );
        let gdpr = Config::from_json(r#"{"privacy":{"gdpr_compliance":true}}"#).unwrap();
        assert_eq!(gdpr.consent_mode(), ConsentMode::OptIn);
    }
}
