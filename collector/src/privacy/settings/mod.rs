//! The privacy control plane: each project's live privacy settings
//! ([`footfall::settings::PrivacySettings`]), where they are kept, how they change and how every
//! collector process learns about a change.
//!
//! * **Defaults** come from the config file (`projects[].privacy`, see
//!   [`crate::config::ProjectPrivacy`]).
//! * **Live values** are one `privacy` document per project in the store (id `settings`), written
//!   by `PUT /v1/admin/projects/{id}/privacy` ([`Registry::update`]): the body is the settings or
//!   any part of them, applied as a JSON Merge Patch (RFC 7386: objects merge, other values
//!   replace, `null` resets a field to its default), then validated as a whole; errors name the
//!   field. Once a document exists it wins over the config file.
//! * **Every process** keeps the compiled settings ([`Effective`]) in memory, reloads them every
//!   `settings_refresh_secs` (default 10 s) and applies a change it made itself at once. So a
//!   change takes effect everywhere within one refresh interval, without restart.
//! * **Audit**: every change appends a `privacy.update` entry: who, when, and per changed field
//!   its old and new value (the salt is never written, only that it changed).
//! * **The salt** of `hash_user_id` lives in the same document and never leaves the collector
//!   through `/v1/settings`. Turning `hash_user_id` on through the API generates one (256 random
//!   bits) unless one exists or the request sets it; with a config file, `hash_salt` is required.
//!
//! # Layout
//!
//! This file holds the parsing, checks and compiled form ([`Effective`]) of one project's
//! settings; `registry.rs` holds the [`Registry`] of every project (load, reload, update with
//! its audit) and `patch.rs` the JSON Merge Patch and the field-by-field [`diff`] an update
//! records.

use footfall::settings::{PrivacySettings, SettingsError};
use regex::Regex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod patch;
mod registry;
#[cfg(test)]
mod tests;

pub use patch::{Change, diff, merge_patch};
pub use registry::{Registry, UpdateError};

/// Document kind and id of a project's settings.
pub const KIND: &str = "privacy";
pub const DOC_ID: &str = "settings";
/// Longest accepted custom PII pattern (bytes of the regular expression).
pub const MAX_PATTERN_BYTES: usize = 1000;

/// Reads settings from JSON; the error names the field (`retention.events_days: invalid type`).
pub fn parse_settings(value: Value) -> Result<PrivacySettings, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// Compiles the custom PII patterns (size-limited: a pattern cannot make matching slow).
fn compile_patterns(patterns: &[String]) -> Result<Vec<Regex>, SettingsError> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let field = format!("pii_patterns[{i}]");
            if p.len() > MAX_PATTERN_BYTES {
                return Err(SettingsError {
                    field,
                    message: format!("at most {MAX_PATTERN_BYTES} bytes"),
                });
            }
            regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| SettingsError {
                    field,
                    message: format!("not a valid regular expression: {e}"),
                })
        })
        .collect()
}

/// The core's validation plus what only the server can check (the patterns compile).
pub fn check(settings: &PrivacySettings) -> Result<(), SettingsError> {
    settings.validate()?;
    compile_patterns(&settings.pii_patterns).map(|_| ())
}

/// A project's settings in force, compiled for the ingestion pipeline.
#[derive(Debug)]
pub struct Effective {
    pub settings: PrivacySettings,
    /// The `hash_user_id` key, when one exists.
    pub salt: Option<String>,
    /// 0 while the config file's values apply; the document's version after changes.
    pub version: u64,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
    /// `GET /v1/settings`'s body and its entity tag.
    pub public_json: String,
    pub etag: String,
    /// The custom PII patterns, compiled.
    pub patterns: Vec<Regex>,
}

impl Effective {
    fn new(settings: PrivacySettings, salt: Option<String>, meta: Meta) -> Result<Effective, SettingsError> {
        let patterns = compile_patterns(&settings.pii_patterns)?;
        let public_json = serde_json::to_string(&settings).unwrap_or_else(|_| "{}".into());
        let etag = format!("\"{}\"", &hex(&Sha256::digest(public_json.as_bytes()))[..32]);
        Ok(Effective {
            settings,
            salt,
            version: meta.version,
            updated_at: meta.updated_at,
            updated_by: meta.updated_by,
            public_json,
            etag,
            patterns,
        })
    }

    /// Whether the messages' user ids are hashed (on, with a salt).
    pub fn hash_salt(&self) -> Option<&str> {
        self.salt
            .as_deref()
            .filter(|s| self.settings.hash_user_id && !s.is_empty())
    }

    /// What the admin API shows (the salt only when `reveal_salt`).
    pub fn admin_view(&self, project: &str, reveal_salt: bool) -> Value {
        let mut v = json!({
            "project": project,
            "version": self.version,
            "source": if self.version == 0 { "config" } else { "store" },
            "updated_at": self.updated_at.map(crate::ingest::iso),
            "updated_by": self.updated_by,
            "hash_salt_set": self.salt.is_some(),
            "etag": self.etag,
            "settings": self.settings,
        });
        if reveal_salt {
            v["hash_salt"] = json!(self.salt);
        }
        v
    }
}

#[derive(Debug, Default)]
struct Meta {
    version: u64,
    updated_at: Option<i64>,
    updated_by: Option<String>,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random salt: 256 bits from the OS generator, hex.
pub fn new_salt() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    hex(&Sha256::digest(
        [a.as_bytes().as_slice(), b.as_bytes().as_slice()].concat(),
    ))
}
