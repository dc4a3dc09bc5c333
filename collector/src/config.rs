//! The collector's configuration: a YAML file, overlaid by environment variables and flags
//! (see [`crate::cli`]), validated once at start.
//!
//! Every option, its default and its unit (also in `collector/README.md`):
//!
//! ```yaml
//! listen: 127.0.0.1:8080        # address to serve HTTP on
//! data: ./footfall-data         # embedded (DuckDB) store directory, used when `store` is unset
//! store: postgres://u@host/db   # or http://host:8123/db (ClickHouse); default: DuckDB in `data`
//! admin_token: s3cret           # `Authorization: Bearer` token of the admin API; unset = admin API off
//! trust_proxy: false            # false | true (= 1 hop) | N hops: take the client IP from X-Forwarded-For
//! suppression_refresh_secs: 30  # seconds between reloads of the erasure suppression list (multi-process)
//! limits:
//!   max_message_bytes: 32768    # bytes per message (Segment: 32 KB)
//!   max_request_bytes: 512000   # bytes per request body, after gzip decompression (Segment: 500 KB)
//!   max_batch_messages: 2500    # messages per batch request
//!   max_inflight_requests: 256  # ingestion requests processed at once; more get 503 + Retry-After
//!   max_commit_events: 20000    # events merged into one group commit
//!   body_timeout_secs: 30       # seconds to receive a request body (408 after)
//!   max_clock_ahead_secs: 86400 # seconds an event may lie in the future after skew correction
//!   retry_after_secs: 2         # Retry-After seconds on 503 (overload, storage unavailable)
//! retention:
//!   events_days: 365            # days events are kept (per project override below)
//!   interval_secs: 3600         # seconds between runs of the retention job
//! projects:
//!   - id: shop                  # project id (isolates storage and queries)
//!     name: Example Shop        # display name (default: the id)
//!     write_keys: [wk_shop_1]   # public keys SDKs send (HTTP Basic username or `writeKey`)
//!     allowed_origins: ["*"]    # browser origins allowed to send (CORS); "*" = any
//!     retention_days: 365       # overrides retention.events_days for this project
//!     privacy:
//!       store_raw_ip: false     # keep full IPs (else IPv4 /24, IPv6 /48)
//!       consent_mode: opt_out   # opt_out: no consent info = allowed; opt_in: no consent info = refused
//!       respect_gpc: true       # `Sec-GPC: 1` turns the request into opt_in
//!       respect_dnt: false      # `DNT: 1` turns the request into opt_in
//!       bots: tag               # tag (store with is_bot) | reject (dead-letter with reason `bot`)
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors in the configuration: each names the offending option.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The whole collector configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to serve HTTP on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Directory of the embedded DuckDB store, used when `store` is unset. Default `./footfall-data`.
    pub data: PathBuf,
    /// Storage location URL (`postgres://...`, `http://host:8123/db`); default: DuckDB in `data`.
    pub store: Option<String>,
    /// Bearer token of the admin API. Unset = the admin API answers 401 to everything.
    pub admin_token: Option<String>,
    /// How many proxy hops to trust for `X-Forwarded-For`. Default 0 (use the connection address).
    pub trust_proxy: TrustProxy,
    /// Seconds between reloads of the erasure suppression list from storage. Default 30.
    pub suppression_refresh_secs: u64,
    pub limits: Limits,
    pub retention: Retention,
    pub projects: Vec<ProjectConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./footfall-data"),
            store: None,
            admin_token: None,
            trust_proxy: TrustProxy::default(),
            suppression_refresh_secs: 30,
            limits: Limits::default(),
            retention: Retention::default(),
            projects: Vec::new(),
        }
    }
}

/// `trust_proxy: false | true | N`: number of reverse-proxy hops whose `X-Forwarded-For` entries
/// are trusted. The client address is the N-th entry from the right (true = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrustProxy {
    Flag(bool),
    Hops(u8),
}

impl Default for TrustProxy {
    fn default() -> Self {
        TrustProxy::Flag(false)
    }
}

impl TrustProxy {
    pub fn hops(self) -> usize {
        match self {
            TrustProxy::Flag(true) => 1,
            TrustProxy::Flag(false) => 0,
            TrustProxy::Hops(n) => n as usize,
        }
    }
}

/// Request and intake limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes per message (serialized JSON). Default 32,768 (Segment's 32 KB).
    pub max_message_bytes: usize,
    /// Bytes per request body, after gzip decompression. Default 512,000 (Segment's 500 KB).
    pub max_request_bytes: usize,
    /// Messages per batch request. Default 2,500.
    pub max_batch_messages: usize,
    /// Ingestion requests processed concurrently; beyond it requests get 503 + Retry-After, so
    /// intake memory stays below about `max_inflight_requests × max_request_bytes × 3`. Default 256.
    pub max_inflight_requests: usize,
    /// Events merged into one group commit. Default 20,000.
    pub max_commit_events: usize,
    /// Seconds allowed to receive a request body; 408 after. Default 30.
    pub body_timeout_secs: u64,
    /// Seconds an event's (skew-corrected) time may lie ahead of the server clock. Default 86,400.
    pub max_clock_ahead_secs: u64,
    /// `Retry-After` seconds sent with 503 answers. Default 2.
    pub retry_after_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 32 * 1024,
            max_request_bytes: 500 * 1024,
            max_batch_messages: 2500,
            max_inflight_requests: 256,
            max_commit_events: 20_000,
            body_timeout_secs: 30,
            max_clock_ahead_secs: 86_400,
            retry_after_secs: 2,
        }
    }
}

/// Data retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days events are kept. Default 365.
    pub events_days: u32,
    /// Seconds between runs of the retention job. Default 3,600.
    pub interval_secs: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_days: 365,
            interval_secs: 3600,
        }
    }
}

/// One project: its write keys, browser origins and privacy settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub write_keys: Vec<String>,
    /// Browser origins allowed to send events (`Origin` header). Default `["*"]` (any).
    #[serde(default = "any_origin")]
    pub allowed_origins: Vec<String>,
    /// Days events of this project are kept; default `retention.events_days`.
    #[serde(default)]
    pub retention_days: Option<u32>,
    #[serde(default)]
    pub privacy: Privacy,
}

fn any_origin() -> Vec<String> {
    vec!["*".to_string()]
}

impl ProjectConfig {
    /// A project with one write key, any origin and default privacy settings.
    pub fn new(id: &str, write_key: &str) -> Self {
        ProjectConfig {
            id: id.to_string(),
            name: None,
            write_keys: vec![write_key.to_string()],
            allowed_origins: any_origin(),
            retention_days: None,
            privacy: Privacy::default(),
        }
    }

    /// Whether a browser `Origin` may send to this project.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// What the collector enforces on every message of a project, whatever the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Store full IP addresses. Default false: IPv4 loses its last octet, IPv6 its last 80 bits.
    /// A message with `context.anonymizeIp: true` is truncated even when this is on.
    pub store_raw_ip: bool,
    /// What a message without `context.consent` means. Default `opt_out` (allowed).
    pub consent_mode: ConsentMode,
    /// Treat `Sec-GPC: 1` requests as opt-in (only explicitly granted categories). Default true.
    pub respect_gpc: bool,
    /// Treat `DNT: 1` requests as opt-in. Default false.
    pub respect_dnt: bool,
    /// What to do with messages from bots (by user agent). Default `tag`.
    pub bots: BotHandling,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy {
            store_raw_ip: false,
            consent_mode: ConsentMode::OptOut,
            respect_gpc: true,
            respect_dnt: false,
            bots: BotHandling::Tag,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// Messages without consent information are allowed; an explicit denial refuses them.
    OptOut,
    /// Only messages whose consent information grants their category are allowed.
    OptIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotHandling {
    /// Store bot events with `is_bot = true` (excluded from analytics by default).
    Tag,
    /// Refuse them with reason `bot` (kept in the dead-letter table).
    Reject,
}

impl Config {
    /// Parses a YAML config file (unknown keys are errors naming the key).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a YAML config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text, path)
    }

    /// Checks what serde cannot: unique ids and keys, non-zero limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let mut ids = HashSet::new();
        let mut keys = HashSet::new();
        for p in &self.projects {
            if p.id.is_empty() || p.id.len() > 100 {
                return bad(format!("projects[].id `{}` must be 1-100 characters", p.id));
            }
            if !ids.insert(p.id.as_str()) {
                return bad(format!("projects: duplicate id `{}`", p.id));
            }
            if p.write_keys.is_empty() {
                return bad(format!(
                    "projects[{}].write_keys: at least one write key is required",
                    p.id
                ));
            }
            for k in &p.write_keys {
                if k.is_empty() {
                    return bad(format!("projects[{}].write_keys: empty key", p.id));
                }
                if !keys.insert(k.as_str()) {
                    return bad(format!("projects[{}].write_keys: key used by two projects", p.id));
                }
                if self.admin_token.as_deref() == Some(k) {
                    return bad(format!(
                        "projects[{}].write_keys: a write key must not be the admin token",
                        p.id
                    ));
                }
            }
        }
        if self.admin_token.as_deref() == Some("") {
            return bad("admin_token must not be empty".into());
        }
        let l = &self.limits;
        for (name, v) in [
            ("limits.max_message_bytes", l.max_message_bytes),
            ("limits.max_request_bytes", l.max_request_bytes),
            ("limits.max_batch_messages", l.max_batch_messages),
            ("limits.max_inflight_requests", l.max_inflight_requests),
            ("limits.max_commit_events", l.max_commit_events),
        ] {
            if v == 0 {
                return bad(format!("{name} must be greater than 0"));
            }
        }
        if self.retention.interval_secs == 0 || self.suppression_refresh_secs == 0 {
            return bad("retention.interval_secs and suppression_refresh_secs must be greater than 0".into());
        }
        Ok(())
    }

    /// Retention of a project's events, in days.
    pub fn retention_days(&self, project: &ProjectConfig) -> u32 {
        project.retention_days.unwrap_or(self.retention.events_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file_and_defaults_the_rest() {
        let yaml = "listen: 0.0.0.0:9000\nadmin_token: t\ntrust_proxy: 2\nlimits: {max_batch_messages: 10}\n\
                    projects:\n  - id: shop\n    write_keys: [k1]\n    privacy: {consent_mode: opt_in, bots: reject}\n";
        let c = Config::from_yaml(yaml, Path::new("c.yaml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.trust_proxy.hops(), 2);
        assert_eq!(c.limits.max_batch_messages, 10);
        assert_eq!(c.limits.max_message_bytes, 32768);
        assert_eq!(c.projects[0].allowed_origins, vec!["*"]);
        assert_eq!(c.projects[0].privacy.consent_mode, ConsentMode::OptIn);
        assert_eq!(c.projects[0].privacy.bots, BotHandling::Reject);
        assert!(c.projects[0].privacy.respect_gpc);
        assert_eq!(c.retention_days(&c.projects[0]), 365);
    }

    #[test]
    fn trust_proxy_accepts_bool() {
        let c = Config::from_yaml("trust_proxy: true\n", Path::new("c")).unwrap();
        assert_eq!(c.trust_proxy.hops(), 1);
        assert_eq!(Config::default().trust_proxy.hops(), 0);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_yaml("limits: {max_batch: 3}\n", Path::new("c.yaml")).unwrap_err();
        assert!(err.to_string().contains("max_batch"), "{err}");
    }

    #[test]
    fn validation_names_the_problem() {
        let mut c = Config {
            projects: vec![ProjectConfig::new("a", "k"), ProjectConfig::new("b", "k")],
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("two projects"));
        c.projects[1] = ProjectConfig::new("a", "k2");
        assert!(c.validate().unwrap_err().to_string().contains("duplicate id"));
        c.projects.pop();
        c.admin_token = Some("k".into());
        assert!(c.validate().unwrap_err().to_string().contains("admin token"));
        c.admin_token = None;
        c.limits.max_inflight_requests = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("max_inflight_requests")
        );
    }

    #[test]
    fn origins() {
        let mut p = ProjectConfig::new("a", "k");
        assert!(p.allows_origin("https://x.example"));
        p.allowed_origins = vec!["https://shop.example.com".into()];
        assert!(p.allows_origin("https://SHOP.example.com"));
        assert!(!p.allows_origin("https://evil.example"));
    }
}
