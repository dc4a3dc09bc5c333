//! [`PrivacySettings`] as JSON without serde: what SDKs read from `GET /v1/settings` (the browser
//! build has no serde) and persist as the last known settings.
//!
//! The reader is deliberately *lenient about unknown fields* (at any level): a newer collector
//! may add settings, and an SDK that refused the whole document because of one would fall back to
//! its local configuration — less private than what the privacy team set. Fields it knows must
//! have the right type; the error names the field (`retention.events_days: expected a
//! non-negative integer, got a string`). Absent fields take their defaults (see
//! [`PrivacySettings`]). The collector validates settings when they are saved; SDKs do not
//! validate again (no formatting machinery in the browser bundle).

use crate::json::read::{FieldError, Read, Slot, Table, fields, problem};
use crate::json::{Map, Value, push_u64, write_str};
use crate::settings::{BotHandling, ConsentMode, EventPlan, PrivacySettings, Retention, TrackingPlan};

fn mode(text: &str, path: &str) -> Read<ConsentMode> {
    match text {
        "opt_in" => Ok(ConsentMode::OptIn),
        "opt_out" => Ok(ConsentMode::OptOut),
        _ => Err(problem(path, "expected `opt_in` or `opt_out`")),
    }
}

fn mode_str(m: ConsentMode) -> &'static str {
    match m {
        ConsentMode::OptIn => "opt_in",
        ConsentMode::OptOut => "opt_out",
    }
}

impl PrivacySettings {
    /// Reads the JSON of `GET /v1/settings` (see the module docs: unknown fields are ignored).
    pub fn from_json(text: &str) -> Result<PrivacySettings, String> {
        let value = crate::json::parse(text).map_err(|e| e.message())?;
        PrivacySettings::from_value(value).map_err(|e| e.message())
    }

    /// Reads settings from a parsed JSON value (`null` means the defaults), in one pass of the
    /// field reader over the whole document.
    pub fn from_value(value: Value) -> Result<PrivacySettings, FieldError> {
        let mut s = PrivacySettings::default();
        let (mut consent_mode, mut bots) = (None, None);
        let mut ignored = Map::new();
        let categories = &mut s.consent_categories;
        let mut category = |name: &str, m: Value| -> Read<()> {
            categories.insert(name.to_string(), mode(m.as_str().unwrap_or(""), "")?);
            Ok(())
        };
        let (p, r) = (&mut s.tracking_plan, &mut s.retention);
        let events = &mut p.events;
        let mut event = |name: &str, spec: Value| -> Read<()> {
            let mut e = EventPlan::default();
            let mut ignored = Map::new();
            fields(
                spec,
                "",
                &["enabled", "properties"],
                &mut [Slot::Bool(&mut e.enabled), Slot::OptList(&mut e.properties)],
                Some(&mut ignored),
            )?;
            events.insert(name.to_string(), e);
            Ok(())
        };
        fields(
            value,
            "settings",
            &[
                "anonymize_ip",
                "store_raw_ip",
                "hash_user_id",
                "pii_scrubbing",
                "pii_patterns",
                "property_deny_list",
                "url_param_deny_list",
                "consent_mode",
                "consent_categories",
                "respect_gpc",
                "respect_dnt",
                "tracking_plan",
                "retention",
                "bots",
            ],
            &mut [
                Slot::Bool(&mut s.anonymize_ip),
                Slot::Bool(&mut s.store_raw_ip),
                Slot::Bool(&mut s.hash_user_id),
                Slot::Bool(&mut s.pii_scrubbing),
                Slot::List(&mut s.pii_patterns),
                Slot::List(&mut s.property_deny_list),
                Slot::List(&mut s.url_param_deny_list),
                Slot::OptStr(&mut consent_mode),
                Slot::Each(&mut category),
                Slot::Bool(&mut s.respect_gpc),
                Slot::Bool(&mut s.respect_dnt),
                Slot::Fields(&mut Table(
                    &["strict", "events"],
                    &mut [Slot::Bool(&mut p.strict), Slot::Each(&mut event)],
                )),
                Slot::Fields(&mut Table(
                    &["events_days", "sessions_days", "users_days"],
                    &mut [
                        Slot::U32(&mut r.events_days),
                        Slot::U32(&mut r.sessions_days),
                        Slot::U32(&mut r.users_days),
                    ],
                )),
                Slot::OptStr(&mut bots),
            ],
            Some(&mut ignored),
        )?;
        if let Some(m) = consent_mode {
            s.consent_mode = mode(&m, "settings.consent_mode")?;
        }
        s.bots = match bots.as_deref() {
            None | Some("tag") => BotHandling::Tag,
            Some("reject") => BotHandling::Reject,
            Some(_) => return Err(problem("settings.bots", "expected `tag` or `reject`")),
        };
        Ok(s)
    }

    /// The settings as the JSON [`PrivacySettings::from_json`] reads (every field written; the
    /// same fields and names as the collector's `/v1/settings`).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let flag = |out: &mut String, key: &str, on: bool| {
            out.push_str(key);
            out.push_str(if on { "true," } else { "false," });
        };
        let list = |out: &mut String, key: &str, items: &[String]| {
            out.push_str(key);
            write_list(out, items);
            out.push(',');
        };
        out.push('{');
        flag(&mut out, "\"anonymize_ip\":", self.anonymize_ip);
        flag(&mut out, "\"store_raw_ip\":", self.store_raw_ip);
        flag(&mut out, "\"hash_user_id\":", self.hash_user_id);
        flag(&mut out, "\"pii_scrubbing\":", self.pii_scrubbing);
        list(&mut out, "\"pii_patterns\":", &self.pii_patterns);
        list(&mut out, "\"property_deny_list\":", &self.property_deny_list);
        list(&mut out, "\"url_param_deny_list\":", &self.url_param_deny_list);
        out.push_str("\"consent_mode\":\"");
        out.push_str(mode_str(self.consent_mode));
        out.push_str("\",\"consent_categories\":{");
        for (i, (category, m)) in self.consent_categories.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, category);
            out.push_str(":\"");
            out.push_str(mode_str(*m));
            out.push('"');
        }
        out.push_str("},");
        flag(&mut out, "\"respect_gpc\":", self.respect_gpc);
        flag(&mut out, "\"respect_dnt\":", self.respect_dnt);
        write_plan(&mut out, &self.tracking_plan);
        write_retention(&mut out, &self.retention);
        out.push_str(",\"bots\":\"");
        out.push_str(match self.bots {
            BotHandling::Tag => "tag",
            BotHandling::Reject => "reject",
        });
        out.push_str("\"}");
        out
    }
}

fn write_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, item);
    }
    out.push(']');
}

fn write_plan(out: &mut String, plan: &TrackingPlan) {
    out.push_str("\"tracking_plan\":{\"strict\":");
    out.push_str(if plan.strict { "true" } else { "false" });
    out.push_str(",\"events\":{");
    for (i, (name, spec)) in plan.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, name);
        out.push_str(":{\"enabled\":");
        out.push_str(if spec.enabled { "true" } else { "false" });
        if let Some(props) = &spec.properties {
            out.push_str(",\"properties\":");
            write_list(out, props);
        }
        out.push('}');
    }
    out.push_str("}},");
}

fn write_retention(out: &mut String, r: &Retention) {
    out.push_str("\"retention\":{\"events_days\":");
    push_u64(out, u64::from(r.events_days));
    out.push_str(",\"sessions_days\":");
    push_u64(out, u64::from(r.sessions_days));
    out.push_str(",\"users_days\":");
    push_u64(out, u64::from(r.users_days));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_and_ignores_unknown_ones() {
        let text = r#"{"anonymize_ip": false, "store_raw_ip": true, "hash_user_id": true,
            "pii_scrubbing": true, "pii_patterns": ["x+"], "property_deny_list": ["email"],
            "url_param_deny_list": ["gclid"], "consent_mode": "opt_in",
            "consent_categories": {"marketing": "opt_in", "support": "opt_out"},
            "respect_gpc": false, "respect_dnt": true,
            "tracking_plan": {"strict": true, "events": {"buy": {"enabled": true, "properties": ["amount"]},
                                                         "old": {"enabled": false, "since": 2}}},
            "retention": {"events_days": 30, "sessions_days": 7, "users_days": 90, "audit_days": 1},
            "bots": "reject", "a_future_setting": {"x": 1}}"#;
        let s = PrivacySettings::from_json(text).unwrap();
        assert!(!s.anonymize_ip && s.store_raw_ip && s.hash_user_id && s.pii_scrubbing);
        assert_eq!(s.pii_patterns, ["x+"]);
        assert_eq!(s.property_deny_list, ["email"]);
        assert_eq!(s.url_param_deny_list, ["gclid"]);
        assert_eq!(s.consent_mode, ConsentMode::OptIn);
        assert_eq!(s.consent_for("marketing"), ConsentMode::OptIn);
        assert_eq!(s.consent_for("support"), ConsentMode::OptOut);
        assert!(!s.respect_gpc && s.respect_dnt);
        assert!(s.tracking_plan.strict);
        assert_eq!(s.tracking_plan.outcome("buy", &["amount"]), Some(vec!["amount"]));
        assert_eq!(s.tracking_plan.outcome("old", &[]), None);
        assert_eq!(s.retention.events_days, 30);
        assert_eq!(s.bots, BotHandling::Reject);
        assert_eq!(PrivacySettings::from_json(&s.to_json()).unwrap(), s, "round trip");
    }

    #[test]
    fn absent_fields_are_defaults_and_bad_types_name_the_field() {
        assert_eq!(
            PrivacySettings::from_json("{}").unwrap(),
            PrivacySettings::default()
        );
        assert_eq!(
            PrivacySettings::from_json("null").unwrap(),
            PrivacySettings::default()
        );
        let d = PrivacySettings::default();
        assert_eq!(PrivacySettings::from_json(&d.to_json()).unwrap(), d);
        let err = |t: &str| PrivacySettings::from_json(t).unwrap_err();
        assert_eq!(
            err(r#"{"retention": {"events_days": "x"}}"#),
            "settings.retention.events_days: expected a non-negative integer, got a string"
        );
        assert!(err(r#"{"consent_mode": "sometimes"}"#).starts_with("settings.consent_mode"));
        assert!(err(r#"{"consent_categories": {"ads": 1}}"#).starts_with("settings.consent_categories.ads"));
        assert!(
            err(r#"{"tracking_plan": {"events": {"e": {"enabled": 1}}}}"#)
                .starts_with("settings.tracking_plan.events.e.enabled")
        );
        assert!(err(r#"{"bots": "block"}"#).starts_with("settings.bots"));
        assert!(err("[1]").starts_with("settings: expected an object"));
        assert!(err("{").contains("EOF") || !err("{").is_empty());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn matches_the_serde_form_the_collector_serves() {
        let mut s = PrivacySettings {
            property_deny_list: vec!["email".into(), "quote\"d".into()],
            consent_mode: ConsentMode::OptIn,
            ..PrivacySettings::default()
        };
        s.consent_categories.insert("ads".into(), ConsentMode::OptIn);
        s.tracking_plan.events.insert(
            "buy".into(),
            EventPlan {
                enabled: true,
                properties: Some(vec!["amount".into()]),
            },
        );
        s.tracking_plan.events.insert("any".into(), EventPlan::default());
        let served = serde_json::to_string(&s).unwrap();
        assert_eq!(PrivacySettings::from_json(&served).unwrap(), s);
        let ours: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(ours, serde_json::to_value(&s).unwrap());
    }
}
