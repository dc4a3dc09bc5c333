//! The [`Registry`] of every project's live settings: the config file's defaults, reloads from
//! the store, and updates (validated, stored, audited, applied at once).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use footfall::settings::PrivacySettings;
use footfall_engine::store::{Store, StoreError};
use serde_json::{Value, json};

use super::{Change, DOC_ID, Effective, KIND, Meta, check, diff, merge_patch, new_salt, parse_settings};
use crate::config::Config;
use crate::state::now_ms;

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
