//! Reading a configuration file, checking what serde cannot, and the values derived from the
//! options.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, PrivacySettings, ProjectConfig};

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
