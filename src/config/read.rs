//! Reading a [`Config`] from the core's JSON [`Value`], field by field, with errors that name
//! the field's path (`analytics.tracking: unknown field `bath_size`, expected one of ...`,
//! `privacy.anonymize_ip: expected a boolean, got a string`).

use super::{Config, ConfigError, ConsentMode, EventSpec};
use crate::json::Value;
use crate::json::read::{FieldError, Read, Slot, any_object, fields, join, problem};

impl From<FieldError> for ConfigError {
    fn from(e: FieldError) -> ConfigError {
        ConfigError::Field {
            path: if e.path.is_empty() {
                "config".into()
            } else {
                e.path
            },
            message: e.problem,
        }
    }
}

/// The whole configuration: `{"analytics": {...}}`, the bare `{...}`, or `null` (defaults).
pub fn config(value: Value) -> Result<Config, ConfigError> {
    let (value, root) = match value {
        Value::Object(mut map) if map.len() == 1 && map.contains_key("analytics") => {
            (map.remove("analytics").unwrap_or_default(), "analytics")
        }
        other => (other, ""),
    };
    let mut config = Config::default();
    let (mut tracking, mut events, mut privacy, mut consent, mut delivery) = Default::default();
    fields(
        value,
        root,
        &mut [
            ("tracking", Slot::Any(&mut tracking)),
            ("events", Slot::Any(&mut events)),
            ("privacy", Slot::Any(&mut privacy)),
            ("consent", Slot::Any(&mut consent)),
            ("delivery", Slot::Any(&mut delivery)),
        ],
        None,
    )?;
    let c = &mut config;
    let t = &mut c.tracking;
    fields(
        tracking,
        &join(root, "tracking"),
        &mut [
            ("enabled", Slot::Bool(&mut t.enabled)),
            ("batch_size", Slot::Size(&mut t.batch_size)),
            ("flush_interval", Slot::Number(&mut t.flush_interval)),
            ("max_batch_bytes", Slot::Size(&mut t.max_batch_bytes)),
            ("max_queue_size", Slot::Size(&mut t.max_queue_size)),
            ("max_message_bytes", Slot::Size(&mut t.max_message_bytes)),
            ("session_timeout", Slot::Number(&mut t.session_timeout)),
            ("max_session_length", Slot::Number(&mut t.max_session_length)),
            ("strict", Slot::Bool(&mut t.strict)),
        ],
        None,
    )?;
    let path = join(root, "events");
    for (name, spec) in any_object(events, &path)? {
        let mut s = EventSpec::default();
        fields(
            spec,
            &join(&path, &name),
            &mut [
                ("enabled", Slot::Bool(&mut s.enabled)),
                ("properties", Slot::OptList(&mut s.properties)),
                ("category", Slot::OptStr(&mut s.category)),
            ],
            None,
        )?;
        c.events.insert(name, s);
    }
    let p = &mut c.privacy;
    fields(
        privacy,
        &join(root, "privacy"),
        &mut [
            ("anonymize_ip", Slot::Bool(&mut p.anonymize_ip)),
            ("hash_user_id", Slot::Bool(&mut p.hash_user_id)),
            ("hash_salt", Slot::OptStr(&mut p.hash_salt)),
            ("gdpr_compliance", Slot::Bool(&mut p.gdpr_compliance)),
            ("scrub_pii", Slot::Bool(&mut p.scrub_pii)),
            ("pii_patterns", Slot::List(&mut p.pii_patterns)),
            ("property_deny_list", Slot::List(&mut p.property_deny_list)),
            ("url_param_deny_list", Slot::List(&mut p.url_param_deny_list)),
        ],
        None,
    )?;
    let path = join(root, "consent");
    let k = &mut c.consent;
    let mut mode = None;
    fields(
        consent,
        &path,
        &mut [
            ("mode", Slot::OptStr(&mut mode)),
            ("categories", Slot::List(&mut k.categories)),
            ("respect_gpc", Slot::Bool(&mut k.respect_gpc)),
            ("respect_dnt", Slot::Bool(&mut k.respect_dnt)),
            ("gpc_categories", Slot::List(&mut k.gpc_categories)),
            (
                "rotate_anonymous_id_on_revoke",
                Slot::Bool(&mut k.rotate_anonymous_id_on_revoke),
            ),
            ("max_pending", Slot::Size(&mut k.max_pending)),
        ],
        None,
    )?;
    k.mode = consent_mode(mode, &path)?;
    let d = &mut c.delivery;
    fields(
        delivery,
        &join(root, "delivery"),
        &mut [
            ("endpoint", Slot::Str(&mut d.endpoint)),
            ("write_key", Slot::Str(&mut d.write_key)),
            ("max_attempts", Slot::U32(&mut d.max_attempts)),
            ("max_age", Slot::Number(&mut d.max_age)),
            ("backoff_base", Slot::Number(&mut d.backoff_base)),
            ("backoff_cap", Slot::Number(&mut d.backoff_cap)),
            ("max_in_flight", Slot::Size(&mut d.max_in_flight)),
            ("settings_refresh", Slot::Number(&mut d.settings_refresh)),
        ],
        None,
    )?;
    Ok(config)
}

fn consent_mode(mode: Option<String>, path: &str) -> Read<Option<ConsentMode>> {
    Ok(match mode.as_deref() {
        None => None,
        Some("opt_in") => Some(ConsentMode::OptIn),
        Some("opt_out") => Some(ConsentMode::OptOut),
        Some(other) => {
            let m = crate::json::cat(&["unknown mode `", other, "`, expected `opt_in` or `opt_out`"]);
            return Err(problem(&join(path, "mode"), &m));
        }
    })
}
