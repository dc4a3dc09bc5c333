//! Reading a [`Config`] from the core's JSON [`Value`], field by field, with errors that name
//! the field's path (`analytics.tracking: unknown field `bath_size`, expected one of ...`,
//! `privacy.anonymize_ip: expected a boolean, got a string`).

use super::{Config, ConfigError, ConsentMode, EventSpec};
use crate::json::Value;
use crate::json::read::{FieldError, Read, Slot, Table, fields, join, problem};

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
    sections(&mut config, value, root)?;
    Ok(config)
}

/// Reads the sections object `value` (`{tracking, events, privacy, consent, delivery}`, found at
/// `root` for error paths) over `c`: what it gives replaces what `c` holds, every section in one
/// pass of the field reader.
pub fn sections(c: &mut Config, value: Value, root: &str) -> Result<(), ConfigError> {
    let (t, p, k, d) = (&mut c.tracking, &mut c.privacy, &mut c.consent, &mut c.delivery);
    let events = &mut c.events;
    let mut event = |name: &str, spec: Value| -> Read<()> {
        let mut s = EventSpec::default();
        fields(
            spec,
            "",
            &["enabled", "properties", "category"],
            &mut [
                Slot::Bool(&mut s.enabled),
                Slot::OptList(&mut s.properties),
                Slot::OptStr(&mut s.category),
            ],
            None,
        )?;
        events.insert(name.to_string(), s);
        Ok(())
    };
    let mut mode = None;
    fields(
        value,
        root,
        &["tracking", "events", "privacy", "consent", "delivery"],
        &mut [
            Slot::Fields(&mut Table(
                &[
                    "enabled",
                    "batch_size",
                    "flush_interval",
                    "max_batch_bytes",
                    "max_queue_size",
                    "max_message_bytes",
                    "session_timeout",
                    "max_session_length",
                    "strict",
                ],
                &mut [
                    Slot::Bool(&mut t.enabled),
                    Slot::Size(&mut t.batch_size),
                    Slot::Number(&mut t.flush_interval),
                    Slot::Size(&mut t.max_batch_bytes),
                    Slot::Size(&mut t.max_queue_size),
                    Slot::Size(&mut t.max_message_bytes),
                    Slot::Number(&mut t.session_timeout),
                    Slot::Number(&mut t.max_session_length),
                    Slot::Bool(&mut t.strict),
                ],
            )),
            Slot::Each(&mut event),
            Slot::Fields(&mut Table(
                &[
                    "anonymize_ip",
                    "hash_user_id",
                    "hash_salt",
                    "gdpr_compliance",
                    "scrub_pii",
                    "pii_patterns",
                    "property_deny_list",
                    "url_param_deny_list",
                ],
                &mut [
                    Slot::Bool(&mut p.anonymize_ip),
                    Slot::Bool(&mut p.hash_user_id),
                    Slot::OptStr(&mut p.hash_salt),
                    Slot::Bool(&mut p.gdpr_compliance),
                    Slot::Bool(&mut p.scrub_pii),
                    Slot::List(&mut p.pii_patterns),
                    Slot::List(&mut p.property_deny_list),
                    Slot::List(&mut p.url_param_deny_list),
                ],
            )),
            Slot::Fields(&mut Table(
                &[
                    "mode",
                    "categories",
                    "respect_gpc",
                    "respect_dnt",
                    "gpc_categories",
                    "rotate_anonymous_id_on_revoke",
                    "max_pending",
                ],
                &mut [
                    Slot::OptStr(&mut mode),
                    Slot::List(&mut k.categories),
                    Slot::Bool(&mut k.respect_gpc),
                    Slot::Bool(&mut k.respect_dnt),
                    Slot::List(&mut k.gpc_categories),
                    Slot::Bool(&mut k.rotate_anonymous_id_on_revoke),
                    Slot::Size(&mut k.max_pending),
                ],
            )),
            Slot::Fields(&mut Table(
                &[
                    "endpoint",
                    "write_key",
                    "max_attempts",
                    "max_age",
                    "backoff_base",
                    "backoff_cap",
                    "max_in_flight",
                    "settings_refresh",
                ],
                &mut [
                    Slot::Str(&mut d.endpoint),
                    Slot::Str(&mut d.write_key),
                    Slot::U32(&mut d.max_attempts),
                    Slot::Number(&mut d.max_age),
                    Slot::Number(&mut d.backoff_base),
                    Slot::Number(&mut d.backoff_cap),
                    Slot::Size(&mut d.max_in_flight),
                    Slot::Number(&mut d.settings_refresh),
                ],
            )),
        ],
        None,
    )?;
    if mode.is_some() {
        k.mode = consent_mode(mode, &join(root, "consent"))?;
    }
    Ok(())
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
