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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use footfall::settings::{PrivacySettings, SettingsError};
use footfall_engine::store::{Store, StoreError};
use regex::Regex;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::state::now_ms;

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

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The body or the resulting settings are invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// `If-Match` names another version.
    #[error("the settings changed since they were read (If-Match {0} does not match); reload and retry")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One changed field of an update: its JSON path and values (as the audit log records them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// RFC 7386 JSON Merge Patch of `patch` onto `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The changed leaves between two JSON documents (objects are walked; anything else is a leaf).
pub fn diff(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if old != new => out.push(Change {
            field: path.to_string(),
            old: old.clone(),
            new: new.clone(),
        }),
        _ => {}
    }
}

/// The live settings of every configured project.
pub struct Registry {
    live: RwLock<HashMap<String, Arc<Effective>>>,
    /// Config-file defaults: (settings, salt) per project.
    defaults: HashMap<String, (PrivacySettings, Option<String>)>,
    /// Serializes this process's updates (read-modify-write of the document).
    updating: tokio::sync::Mutex<()>,
}

impl Registry {
    /// The config file's values for every project (validated by [`Config::validate`]).
    pub fn from_config(config: &Config) -> Registry {
        let mut defaults = HashMap::new();
        let mut live = HashMap::new();
        for p in &config.projects {
            let settings = config.initial_settings(p);
            let salt = p.privacy.hash_salt.clone();
            match Effective::new(settings.clone(), salt.clone(), Meta::default()) {
                Ok(e) => {
                    live.insert(p.id.clone(), Arc::new(e));
                }
                Err(e) => {
                    tracing::error!(project = %p.id, error = %e, "invalid privacy settings in the config")
                }
            }
            defaults.insert(p.id.clone(), (settings, salt));
        }
        Registry {
            live: RwLock::new(live),
            defaults,
            updating: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings in force for `project` (the defaults for a project unknown to the config).
    pub fn get(&self, project: &str) -> Arc<Effective> {
        if let Some(e) = self.live.read().unwrap_or_else(|e| e.into_inner()).get(project) {
            return e.clone();
        }
        let fallback = Effective::new(PrivacySettings::default(), None, Meta::default());
        Arc::new(fallback.expect("the default settings are valid"))
    }

    fn set(&self, project: &str, e: Effective) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(project.to_string(), Arc::new(e));
    }

    /// What the store holds for `project`, compiled; `None` without a document.
    async fn load_one(&self, store: &dyn Store, project: &str) -> Result<Option<Effective>, StoreError> {
        let Some(doc) = store.get_document(KIND, project, DOC_ID).await? else {
            return Ok(None);
        };
        let settings = match parse_settings(doc.get("settings").cloned().unwrap_or(Value::Null)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(project, error = %e, "stored privacy settings are unreadable; keeping the previous ones");
                return Err(StoreError::Query(format!("privacy settings of {project}: {e}")));
            }
        };
        let meta = Meta {
            version: doc.get("version").and_then(Value::as_u64).unwrap_or(1),
            updated_at: doc.get("updated_at").and_then(Value::as_i64),
            updated_by: doc.get("updated_by").and_then(Value::as_str).map(str::to_string),
        };
        let salt = doc.get("hash_salt").and_then(Value::as_str).map(str::to_string);
        Effective::new(settings, salt, meta)
            .map(Some)
            .map_err(|e| StoreError::Query(format!("privacy settings of {project}: {e}")))
    }

    /// Reloads every project's settings from the store (changes made by other processes).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let projects: Vec<String> = self.defaults.keys().cloned().collect();
        let mut first_error = None;
        for p in projects {
            let loaded = match self.load_one(store, &p).await {
                Ok(loaded) => loaded,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            match loaded {
                Some(e) => {
                    let current = self.get(&p).version;
                    if e.version != current {
                        tracing::info!(project = %p, version = e.version, "privacy settings loaded");
                    }
                    self.set(&p, e);
                }
                None => {
                    // No document (or it was deleted): the config file's values.
                    if self.get(&p).version != 0 {
                        let (settings, salt) = self.defaults[&p].clone();
                        if let Ok(e) = Effective::new(settings, salt, Meta::default()) {
                            self.set(&p, e);
                        }
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Applies `patch` (a JSON Merge Patch of the settings, optionally with `hash_salt`) to the
    /// project's current settings, validates, stores, audits and applies the result. `if_match`:
    /// the entity tag the client read (`*` or absent: any).
    pub async fn update(
        &self,
        store: &dyn Store,
        project: &str,
        patch: Value,
        actor: &str,
        if_match: Option<&str>,
    ) -> Result<(Arc<Effective>, Vec<Change>), UpdateError> {
        let Value::Object(mut patch) = patch else {
            return Err(UpdateError::Invalid(
                "the body must be a JSON object of settings".into(),
            ));
        };
        let salt_patch = patch.remove("hash_salt");
        let _serial = self.updating.lock().await;
        let current = match self.load_one(store, project).await? {
            Some(e) => e,
            None => {
                let (settings, salt) = self.defaults.get(project).cloned().unwrap_or_default();
                Effective::new(settings, salt, Meta::default())
                    .map_err(|e| UpdateError::Invalid(e.to_string()))?
            }
        };
        // A list of tags, or `*` (RFC 9110): any one matching lets the update through.
        if let Some(tags) = if_match.map(str::trim)
            && !tags
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t == current.etag)
        {
            return Err(UpdateError::Conflict(tags.to_string()));
        }
        let old_json = serde_json::to_value(&current.settings).unwrap_or_default();
        let mut new_json = old_json.clone();
        merge_patch(&mut new_json, &Value::Object(patch));
        let settings = parse_settings(new_json).map_err(UpdateError::Invalid)?;
        check(&settings).map_err(|e| UpdateError::Invalid(e.to_string()))?;
        let salt = match salt_patch {
            None => current.salt.clone(),
            Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() >= 16 && s.len() <= 256 => Some(s),
            Some(_) => {
                return Err(UpdateError::Invalid(
                    "hash_salt: expected a string of 16 to 256 characters (or null to remove it)".into(),
                ));
            }
        };
        let salt = match salt {
            None if settings.hash_user_id => Some(new_salt()),
            other => other,
        };
        let mut changes = Vec::new();
        diff(
            "",
            &old_json,
            &serde_json::to_value(&settings).unwrap_or_default(),
            &mut changes,
        );
        if salt != current.salt {
            let shown = |s: &Option<String>| json!(if s.is_some() { "(set)" } else { "(none)" });
            changes.push(Change {
                field: "hash_salt".into(),
                old: shown(&current.salt),
                new: shown(&salt),
            });
        }
        if changes.is_empty() {
            return Ok((Arc::new(current), changes));
        }
        let at = now_ms();
        let meta = Meta {
            version: current.version + 1,
            updated_at: Some(at),
            updated_by: Some(actor.to_string()),
        };
        let doc = json!({
            "settings": settings,
            "hash_salt": salt,
            "version": meta.version,
            "updated_at": at,
            "updated_by": actor,
        });
        let effective =
            Effective::new(settings, salt, meta).map_err(|e| UpdateError::Invalid(e.to_string()))?;
        store.put_document(KIND, project, DOC_ID, &doc).await?;
        let entry = footfall_engine::store::AuditEntry {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: Some(project.to_string()),
            at,
            actor: actor.to_string(),
            action: "privacy.update".into(),
            target: "privacy_settings".into(),
            details: json!({ "version": effective.version, "changes": changes }),
        };
        store.append_audit(&entry).await?;
        tracing::info!(
            project,
            actor,
            version = effective.version,
            changed = changes.len(),
            "privacy settings changed"
        );
        self.set(project, effective);
        Ok((self.get(project), changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [2, 3], "f": "x"}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [2, 3], "f": "x"}));
    }

    #[test]
    fn diff_lists_changed_leaves() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"a": true, "r": {"x": 1, "y": 2}, "l": ["p"]}),
            &json!({"a": true, "r": {"x": 1, "y": 3}, "l": ["p", "q"]}),
            &mut out,
        );
        let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["l", "r.y"]);
        assert_eq!(out[1].old, json!(2));
        assert_eq!(out[1].new, json!(3));
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse_settings(json!({"retention": {"events_days": "soon"}})).unwrap_err();
        assert!(e.starts_with("retention.events_days:"), "{e}");
        let e = parse_settings(json!({"anonymise_ip": true})).unwrap_err();
        assert!(e.contains("anonymise_ip"), "{e}");
        let e = check(&PrivacySettings {
            pii_patterns: vec!["ok".into(), "(".into()],
            ..PrivacySettings::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "pii_patterns[1]");
    }

    #[test]
    fn etags_follow_the_public_json() {
        let a = Effective::new(PrivacySettings::default(), None, Meta::default()).unwrap();
        let b = Effective::new(PrivacySettings::default(), Some("salt".into()), Meta::default()).unwrap();
        assert_eq!(a.etag, b.etag, "the salt is not part of the public settings");
        assert!(!a.public_json.contains("salt"));
        let c = Effective::new(
            PrivacySettings {
                respect_dnt: true,
                ..PrivacySettings::default()
            },
            None,
            Meta::default(),
        )
        .unwrap();
        assert_ne!(a.etag, c.etag);
        assert!(new_salt().len() == 64 && new_salt() != new_salt());
    }
}
