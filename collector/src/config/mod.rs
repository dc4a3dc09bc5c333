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
//!
//! # Layout
//! * this file: [`Config`] and its sections, each with its defaults;
//! * `project.rs`: [`ProjectConfig`] and its privacy section, [`ProjectPrivacy`];
//! * `load.rs`: reading the YAML file, [`Config::validate`] and the values derived from the
//!   options (backup directory, a project's retention and initial privacy settings).

use std::net::SocketAddr;
use std::path::PathBuf;

pub use footfall::settings::{BotHandling, ConsentMode, PrivacySettings};
use serde::{Deserialize, Serialize};

mod load;
mod project;
#[cfg(test)]
mod tests;

pub use project::{ProjectConfig, ProjectPrivacy};

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
