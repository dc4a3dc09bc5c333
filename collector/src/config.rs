//! The collector's configuration: a YAML file, overlaid by environment variables and flags
//! (see [`crate::cli`]), validated once at start.
//!
//! Every option, its default and its unit (also in `collector/README.md`):
//!
//! ```yaml
//! listen: 127.0.0.1:8080        # address to serve HTTP on
//! data: ./footfall-data         # embedded (DuckDB) store directory, used when `store` is unset
//! store: postgres://u@host/db   # or http://host:8123/db (ClickHouse); default: DuckDB in `data`
//! backup_dir: /var/backups/footfall  # where `POST /v1/admin/backup` writes backups (default: <data>/backups)
//! backup_keep: 7                # backups kept after each backup, newest first (default: unset = all)
//! admin_token: s3cret           # `Authorization: Bearer` token of the admin API; unset = admin API off
//! trust_proxy: false            # false | true (= 1 hop) | N hops: take the client IP from X-Forwarded-For
//! tls:                          # HTTPS (unset: plain HTTP, e.g. behind a TLS-terminating proxy)
//!   cert_file: /etc/footfall/cert.pem  # PEM certificate chain, leaf first
//!   key_file: /etc/footfall/key.pem    # PEM private key (PKCS#8, PKCS#1 or SEC1)
//!   reload_secs: 60             # seconds between checks for renewed files (reloaded without restart)
//! suppression_refresh_secs: 30  # seconds between reloads of the erasure suppression list (multi-process)
//! limits:
//!   max_message_bytes: 32768    # bytes per message (Segment: 32 KB)
//!   max_request_bytes: 512000   # bytes per request body, after gzip decompression (Segment: 500 KB)
//!   max_batch_messages: 2500    # messages per batch request
//!   max_inflight_requests: 256  # ingestion requests processed at once; more get 503 + Retry-After
//!   max_commit_events: 20000    # events merged into one group commit
//!   body_timeout_secs: 30       # seconds to receive a request body (408 after)
//!   header_timeout_secs: 30     # seconds to receive a request's headers (connection closed after)
//!   max_clock_ahead_secs: 86400 # seconds an event may lie in the future after skew correction
//!   retry_after_secs: 2         # Retry-After seconds on 503 (overload, storage unavailable)
//!   max_connections: 4000       # connections open at once; more wait in the listen backlog
//!                               # (default: from the open-files limit, see server::connections)
//! retention:
//!   events_days: 365            # days events are kept (per project override below)
//!   interval_secs: 3600         # seconds between runs of the retention job
//! projects:
//!   - id: shop                  # project id (isolates storage and queries)
//!     name: Example Shop        # display name (default: the id)
//!     write_keys: [wk_shop_1]   # public keys SDKs send (HTTP Basic username or `writeKey`)
//!     allowed_origins: ["*"]    # browser origins allowed to send (CORS); "*" = any
//!     retention_days: 365       # overrides retention.events_days for this project
//!     privacy:                  # initial privacy settings (live values: the admin API); every field
//!                               # of footfall::settings::PrivacySettings, e.g.:
//!       anonymize_ip: true      # truncate IPs (IPv4 /24, IPv6 /48)
//!       store_raw_ip: false     # keep full IPs (needs anonymize_ip: false)
//!       hash_user_id: false     # store HMAC-SHA256(hash_salt, userId) instead of userId
//!       hash_salt: s3cret       # required with hash_user_id (same on every collector)
//!       consent_mode: opt_out   # opt_out: no consent info = allowed; opt_in: no consent info = refused
//!       consent_categories: {marketing: opt_in}  # per-category requirement
//!       respect_gpc: true       # `Sec-GPC: 1` turns the request into opt_in
//!       respect_dnt: false      # `DNT: 1` turns the request into opt_in
//!       property_deny_list: [email]   # messages carrying these properties are refused
//!       retention: {events_days: 365, sessions_days: 90, users_days: 3650}
//!       bots: tag               # tag (store with is_bot) | reject (dead-letter with reason `bot`)
//! alerts:
//!   enabled: true               # evaluate alert rules here (one process per fleet)
//!   tick_secs: 30               # seconds between evaluation rounds
//! settings_refresh_secs: 10     # seconds between reloads of the privacy settings (multi-process)
//! example_dirs: []              # directories served at /example/ (first match wins)
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use footfall::settings::{BotHandling, ConsentMode, PrivacySettings};
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
    /// Directory the online backups of the embedded store are written to (`POST /v1/admin/backup`
    /// names a backup, never a path). Default: `<data>/backups`.
    pub backup_dir: Option<PathBuf>,
    /// Retention: after each successful backup, keep this many backups (the newest, by their
    /// manifest's time; at least 1) and delete the older ones in `backup_dir`
    /// ([`crate::backup::catalog`]). Default unset: every backup is kept.
    pub backup_keep: Option<u32>,
    /// Bearer token of the admin API. Unset = the admin API answers 401 to everything.
    pub admin_token: Option<String>,
    /// How many proxy hops to trust for `X-Forwarded-For`. Default 0 (use the connection address).
    pub trust_proxy: TrustProxy,
    /// HTTPS: the certificate and key files (see [`crate::tls`]). Default none: plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Seconds between reloads of the erasure suppression list from storage. Default 30.
    pub suppression_refresh_secs: u64,
    /// Seconds between reloads of the projects' privacy settings from storage (changes made
    /// through another collector take effect here within this bound). Default 10.
    pub settings_refresh_secs: u64,
    /// Directories served at `/example/` (the browser example page and the SDK build), the first
    /// that has a file wins; paths without a file get the first directory's `index.html`.
    /// Default none.
    pub example_dirs: Vec<PathBuf>,
    pub limits: Limits,
    pub retention: Retention,
    pub alerts: Alerts,
    pub projects: Vec<ProjectConfig>,
    /// Set by `footfall serve --demo` (not a file option): the landing page shows the demo's
    /// write key.
    #[serde(skip)]
    pub demo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./footfall-data"),
            store: None,
            backup_dir: None,
            backup_keep: None,
            admin_token: None,
            trust_proxy: TrustProxy::default(),
            tls: None,
            suppression_refresh_secs: 30,
            settings_refresh_secs: 10,
            example_dirs: Vec::new(),
            limits: Limits::default(),
            retention: Retention::default(),
            alerts: Alerts::default(),
            projects: Vec::new(),
            demo: false,
        }
    }
}

/// `tls`: serve HTTPS with this certificate (see [`crate::tls`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, the server's certificate first. Required.
    pub cert_file: PathBuf,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1). Required.
    pub key_file: PathBuf,
    /// Seconds between checks whether the two files changed (renewed certificates are then used
    /// for new connections, without a restart). Default 60, at least 1.
    #[serde(default = "TlsConfig::default_reload_secs")]
    pub reload_secs: u64,
}

impl TlsConfig {
    fn default_reload_secs() -> u64 {
        60
    }

    /// The pair with the default reload interval.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            reload_secs: TlsConfig::default_reload_secs(),
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
    /// Seconds allowed to receive a request's headers, counted from the connection's start (or
    /// the end of the previous response on a kept-alive connection); the connection is closed
    /// after, so slow or idle clients cannot hold connections forever. Default 30.
    pub header_timeout_secs: u64,
    /// Seconds an event's (skew-corrected) time may lie ahead of the server clock. Default 86,400.
    pub max_clock_ahead_secs: u64,
    /// `Retry-After` seconds sent with 503 answers. Default 2.
    pub retry_after_secs: u64,
    /// Connections open at once (plain and TLS, idle ones included, the whole process); at the
    /// cap the collector stops accepting, and new connections wait in the kernel's listen
    /// backlog until others close, so a flood of connections cannot take the file descriptors
    /// the store needs. Default (unset): derived from the open-files limit,
    /// [`crate::server::connections::default_max_connections`] (the soft `RLIMIT_NOFILE`, which
    /// the collector raises to the hard limit at start, minus a reserve for the store; at most
    /// 10,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
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
            header_timeout_secs: 30,
            max_clock_ahead_secs: 86_400,
            retry_after_secs: 2,
            max_connections: None,
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
    pub privacy: ProjectPrivacy,
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
            privacy: ProjectPrivacy::default(),
        }
    }

    /// Whether a browser `Origin` may send to this project.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// A project's privacy section: the *initial* values of its privacy settings
/// ([`PrivacySettings`], every field of `GET/PUT /v1/admin/projects/{id}/privacy`, same names
/// and defaults) plus `hash_salt`. Once an admin changes the settings, the stored settings win
/// over this section (see [`crate::privacy::settings`]).
///
/// For compatibility with earlier config files, `store_raw_ip: true` without `anonymize_ip`
/// means `anonymize_ip: false`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectPrivacy {
    pub settings: PrivacySettings,
    /// The HMAC key of `hash_user_id` (required with it: every collector must use the same).
    /// Default unset; the admin API generates one when `hash_user_id` is turned on there.
    pub hash_salt: Option<String>,
    /// Whether the section set `retention.events_days` itself (else the project's
    /// `retention_days` / the global `retention.events_days` apply).
    pub events_days_set: bool,
}

impl std::ops::Deref for ProjectPrivacy {
    type Target = PrivacySettings;
    fn deref(&self) -> &PrivacySettings {
        &self.settings
    }
}

impl std::ops::DerefMut for ProjectPrivacy {
    fn deref_mut(&mut self) -> &mut PrivacySettings {
        &mut self.settings
    }
}

impl ProjectPrivacy {
    /// Reads the section from JSON (`hash_salt` plus the settings' fields); errors name the field.
    pub fn from_value(value: serde_json::Value) -> Result<ProjectPrivacy, String> {
        let serde_json::Value::Object(mut map) = value else {
            return Err("expected a map of privacy settings".into());
        };
        let hash_salt = match map.remove("hash_salt") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(_) => return Err("hash_salt: expected a string".into()),
        };
        if map.get("store_raw_ip") == Some(&serde_json::Value::Bool(true))
            && !map.contains_key("anonymize_ip")
        {
            map.insert("anonymize_ip".into(), serde_json::Value::Bool(false));
        }
        let events_days_set = map.get("retention").and_then(|r| r.get("events_days")).is_some();
        let settings = crate::privacy::settings::parse_settings(serde_json::Value::Object(map))?;
        Ok(ProjectPrivacy {
            settings,
            hash_salt,
            events_days_set,
        })
    }

    /// The section as JSON (the settings' fields plus `hash_salt` when set; `events_days` only
    /// when the section set it, so a written config reads back the same).
    pub fn to_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.settings).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            if let Some(salt) = &self.hash_salt {
                map.insert("hash_salt".into(), salt.clone().into());
            }
            if !self.events_days_set
                && let Some(serde_json::Value::Object(r)) = map.get_mut("retention")
            {
                r.remove("events_days");
            }
        }
        v
    }
}

impl Serialize for ProjectPrivacy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ProjectPrivacy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        ProjectPrivacy::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// Alerts (the dashboards' alert rules, evaluated in the background).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// Evaluate alert rules in this process. Default true. Several collectors sharing one store
    /// would each notify: turn it on in exactly one process of a fleet.
    pub enabled: bool,
    /// Seconds between evaluation rounds (a rule is still evaluated only as often as its own
    /// `interval`). Default 30.
    pub tick_secs: u64,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            enabled: true,
            tick_secs: 30,
        }
    }
}

impl Config {
    /// Where backups go: `backup_dir`, else `backups` in the embedded store's directory (`data`,
    /// or the directory `store` names).
    pub fn backup_dir(&self) -> PathBuf {
        if let Some(dir) = &self.backup_dir {
            return dir.clone();
        }
        let data = match self.store.as_deref().map(str::trim) {
            Some(s) if !s.contains("://") && s != "noop" && !s.ends_with(":memory:") => {
                PathBuf::from(s.strip_prefix("duckdb:").unwrap_or(s))
            }
            _ => self.data.clone(),
        };
        data.join("backups")
    }

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
        if self.backup_keep == Some(0) {
            return bad("backup_keep must be at least 1 (leave it unset to keep every backup)".into());
        }
        if self.admin_token.as_deref() == Some("") {
            return bad("admin_token must not be empty".into());
        }
        if self.tls.as_ref().is_some_and(|t| t.reload_secs == 0) {
            return bad("tls.reload_secs must be at least 1".into());
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
        if l.max_connections == Some(0) {
            return bad(
                "limits.max_connections must be greater than 0 (unset: derived from the open-files limit)"
                    .into(),
            );
        }
        if self.retention.interval_secs == 0
            || self.suppression_refresh_secs == 0
            || self.settings_refresh_secs == 0
            || self.alerts.tick_secs == 0
        {
            return bad(
                "retention.interval_secs, suppression_refresh_secs, settings_refresh_secs and \
                 alerts.tick_secs must be greater than 0"
                    .into(),
            );
        }
        for p in &self.projects {
            let settings = self.initial_settings(p);
            if let Err(e) = crate::privacy::settings::check(&settings) {
                return bad(format!("projects[{}].privacy.{e}", p.id));
            }
            if settings.hash_user_id && p.privacy.hash_salt.as_deref().is_none_or(str::is_empty) {
                return bad(format!(
                    "projects[{}].privacy.hash_salt is required when hash_user_id is true \
                     (every collector must hash with the same salt)",
                    p.id
                ));
            }
        }
        Ok(())
    }

    /// Retention of a project's events, in days, as configured (the live value is in the
    /// project's privacy settings).
    pub fn retention_days(&self, project: &ProjectConfig) -> u32 {
        if project.privacy.events_days_set {
            return project.privacy.retention.events_days;
        }
        project.retention_days.unwrap_or(self.retention.events_days)
    }

    /// A project's privacy settings as this file defines them (the defaults until an admin
    /// changes them): its `privacy` section with `retention.events_days` from
    /// [`Config::retention_days`].
    pub fn initial_settings(&self, project: &ProjectConfig) -> PrivacySettings {
        let mut settings = project.privacy.settings.clone();
        settings.retention.events_days = self.retention_days(project);
        settings
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
        assert!(c.projects[0].privacy.anonymize_ip);
        assert_eq!(c.retention_days(&c.projects[0]), 365);
        assert_eq!(c.initial_settings(&c.projects[0]).retention.users_days, 3650);
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
    fn max_connections_is_optional_and_positive() {
        assert_eq!(Config::default().limits.max_connections, None);
        let c = Config::from_yaml("limits: {max_connections: 500}\n", Path::new("c")).unwrap();
        assert_eq!(c.limits.max_connections, Some(500));
        c.validate().unwrap();
        let c = Config::from_yaml("limits: {max_connections: 0}\n", Path::new("c")).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("max_connections"));
        // Unset stays unset when the config is written back (the default follows the limit).
        let yaml = serde_norway::to_string(&Config::default()).unwrap();
        assert!(!yaml.contains("max_connections"), "{yaml}");
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
