//! [`PrivacySettings::validate`]: whether settings make sense, the error naming the field.

use super::{MAX_LIST, MAX_RETENTION_DAYS, PrivacySettings, SettingsError};

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Result<(), SettingsError> {
    Err(SettingsError {
        field: field.into(),
        message: message.into(),
    })
}

fn check_names(field: &str, names: &[String]) -> Result<(), SettingsError> {
    if names.len() > MAX_LIST {
        return invalid(field, format!("at most {MAX_LIST} entries"));
    }
    for (i, n) in names.iter().enumerate() {
        if crate::text::blank(n) {
            return invalid(format!("{field}[{i}]"), "must not be empty");
        }
        if n.len() > 200 {
            return invalid(format!("{field}[{i}]"), "at most 200 bytes");
        }
    }
    Ok(())
}

impl PrivacySettings {
    /// Checks the values make sense; the error names the field. (The collector additionally
    /// compiles `pii_patterns`.)
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.store_raw_ip && self.anonymize_ip {
            return invalid(
                "store_raw_ip",
                "cannot be true while anonymize_ip is true (turn anonymize_ip off first)",
            );
        }
        check_names("property_deny_list", &self.property_deny_list)?;
        check_names("url_param_deny_list", &self.url_param_deny_list)?;
        if self.pii_patterns.len() > MAX_LIST {
            return invalid("pii_patterns", format!("at most {MAX_LIST} entries"));
        }
        for (i, p) in self.pii_patterns.iter().enumerate() {
            if p.is_empty() {
                return invalid(format!("pii_patterns[{i}]"), "must not be empty");
            }
        }
        if self.consent_categories.len() > MAX_LIST {
            return invalid("consent_categories", format!("at most {MAX_LIST} entries"));
        }
        for name in self.consent_categories.keys() {
            if crate::text::blank(name) {
                return invalid("consent_categories", "a category name is empty");
            }
            if name == "necessary" {
                return invalid(
                    "consent_categories.necessary",
                    "`necessary` always passes and cannot be given a consent mode",
                );
            }
        }
        let plan = &self.tracking_plan;
        if plan.events.len() > MAX_LIST {
            return invalid("tracking_plan.events", format!("at most {MAX_LIST} events"));
        }
        for (name, spec) in &plan.events {
            if crate::text::blank(name) {
                return invalid("tracking_plan.events", "an event name is empty");
            }
            if let Some(props) = &spec.properties {
                check_names(&format!("tracking_plan.events.{name}.properties"), props)?;
            }
        }
        let r = &self.retention;
        for (field, days) in [
            ("retention.events_days", r.events_days),
            ("retention.sessions_days", r.sessions_days),
            ("retention.users_days", r.users_days),
        ] {
            if days == 0 || days > MAX_RETENTION_DAYS {
                return invalid(field, format!("must be between 1 and {MAX_RETENTION_DAYS} days"));
            }
        }
        Ok(())
    }
}
