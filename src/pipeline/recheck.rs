//! Re-checking a message already queued (serialized) against the configuration in force now —
//! what the core does to its queue when the privacy team's settings change, so that nothing
//! already queued leaves the SDK violating the new settings.
//!
//! Per message (consent is the core's part: a message whose category is no longer granted is
//! purged with reason `consent` before this runs):
//!
//! 1. the tracking plan (`track` messages; the core's own `consent_updated` audit events are
//!    exempt, as at track time): a disabled event is dropped (`disabled`), an unlisted event or
//!    property under `strict` drops the message (`not_in_plan`), properties a lax plan does not
//!    list are removed. Unlike at track time the plan sees the super properties merged into the
//!    message — as the collector does when it enforces the same plan;
//! 2. the anonymize step again ([`super::anonymize`]'s rules on the JSON): `context.ip`
//!    truncated and `context.anonymizeIp` set, `userId` (and an alias's `previousId`) hashed when
//!    `hash_user_id` is on — ids that already are 64 lowercase hex characters are taken as hashed,
//!    as the collector does —, denied properties and URL parameters removed and PII redacted
//!    (including values matching the custom `pii_patterns`) in `properties`, `traits`,
//!    `context.page` and `context.traits`.
//!
//! Every rule only takes away, and applying it twice changes nothing, so re-checking under
//! settings that did not tighten leaves the message byte for byte as it was.

use super::Rejected;
use super::anonymize::{anonymize_properties, hash_id, truncate_ip};
use super::patterns::PatternMatcher;
use super::plan::apply_plan;
use crate::config::Config;
use crate::consent::NECESSARY;
use crate::event::Event;
use crate::json::{Map, Value};

/// What re-checking did to a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// It complies as it is.
    Keep,
    /// It complies after these changes: its new JSON.
    Rewrite(String),
    /// It may not be sent at all.
    Drop(Rejected),
}

/// Whether `id` looks like the output of `hash_id` (64 lowercase hex characters).
pub fn is_hashed(id: &str) -> bool {
    id.len() == 64
        && id
            .as_bytes()
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn object<'a>(map: &'a mut Map, key: &str) -> Option<&'a mut Map> {
    match map.get_mut(key) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn hash_field(map: &mut Map, key: &str, salt: &str) {
    if let Some(Value::String(id)) = map.get_mut(key) {
        if !is_hashed(id) {
            *id = hash_id(salt, id);
        }
    }
}

/// Re-checks the message `json` (consent category `category`) against `config`, with the
/// custom PII `patterns` in force (`None`: none; see [`super::patterns`]).
pub fn recheck(
    json: &str,
    category: &str,
    config: &Config,
    patterns: Option<&dyn PatternMatcher>,
) -> Recheck {
    let Ok(Value::Object(mut m)) = crate::json::parse(json) else {
        return Recheck::Keep; // the core wrote it: always an object
    };
    let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
    let (track, alias) = (kind == "track", kind == "alias");
    let name = m.get("event").and_then(Value::as_str).unwrap_or("").to_string();
    let audit = category == NECESSARY && name == "consent_updated";
    if track && !audit && !config.events.is_empty() {
        let mut event = Event::track(name);
        let checked = match object(&mut m, "properties") {
            Some(p) => {
                event.properties = std::mem::take(p);
                let checked = apply_plan(&mut event, &config.events, config.tracking.strict);
                *p = event.properties; // in place: the members keep their order
                checked
            }
            None => apply_plan(&mut event, &config.events, config.tracking.strict),
        };
        if let Err(r) = checked {
            return Recheck::Drop(r);
        }
    }
    let p = &config.privacy;
    if p.hash_user_id {
        let salt = p.hash_salt.as_deref().unwrap_or("");
        hash_field(&mut m, "userId", salt);
        let text = |m: &Map, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        if alias && text(&m, "previousId") != text(&m, "anonymousId") {
            hash_field(&mut m, "previousId", salt);
        }
    }
    for key in &["properties", "traits"] {
        if let Some(map) = object(&mut m, key) {
            anonymize_properties(map, p, patterns);
        }
    }
    if let Some(ctx) = object(&mut m, "context") {
        if p.anonymize_ip {
            let short = ctx.get("ip").map(|ip| ip.as_str().and_then(truncate_ip));
            match (short, ctx.get_mut("ip")) {
                (Some(Some(short)), Some(ip)) => *ip = Value::String(short),
                (Some(None), _) => drop(ctx.remove("ip")), // not an address
                _ => {}
            }
            if ctx.get("anonymizeIp").and_then(Value::as_bool) != Some(true) {
                ctx.insert("anonymizeIp".into(), Value::Bool(true));
            }
        }
        for key in &["page", "traits"] {
            if let Some(map) = object(ctx, key) {
                anonymize_properties(map, p, patterns);
            }
        }
    }
    let out = Value::Object(m).to_json();
    if out == json {
        Recheck::Keep
    } else {
        Recheck::Rewrite(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::DropReason;

    fn config(json: &str) -> Config {
        Config::from_json(json).unwrap()
    }

    const MSG: &str = r#"{"type":"track","messageId":"m1","anonymousId":"a","userId":"user_42","timestamp":"2026-11-28T10:00:00.000Z","event":"buy","properties":{"amount":5,"email":"ada@example.com","url":"https://x.com/?gclid=1&q=2","coupon":"c"},"context":{"library":{"name":"footfall-rust","version":"0"},"ip":"203.0.113.9","page":{"url":"https://x.com/p?fbclid=3","email":"x"},"traits":{"Email":"y","plan":"pro"}}}"#;

    #[test]
    fn a_message_that_complies_is_kept_byte_for_byte() {
        let open = config(r#"{"privacy":{"anonymize_ip":false,"url_param_deny_list":[]}}"#);
        assert_eq!(recheck(MSG, "analytics", &open, None), Recheck::Keep);
    }

    #[test]
    fn anonymize_rules_apply_to_the_json() {
        let strict = config(
            r#"{"privacy":{"anonymize_ip":true,"property_deny_list":["email"],"hash_user_id":true,"hash_salt":"s","scrub_pii":true}}"#,
        );
        let Recheck::Rewrite(out) = recheck(MSG, "analytics", &strict, None) else {
            panic!("expected a rewrite")
        };
        let v = crate::json::parse(&out).unwrap();
        let props = v.get("properties").unwrap();
        assert!(props.get("email").is_none());
        assert_eq!(props.get("url").unwrap().as_str(), Some("https://x.com/?q=2"));
        let ctx = v.get("context").unwrap();
        assert_eq!(ctx.get("ip").unwrap().as_str(), Some("203.0.113.0"));
        assert_eq!(ctx.get("anonymizeIp").unwrap().as_bool(), Some(true));
        assert_eq!(ctx.get("page").unwrap().to_json(), r#"{"url":"https://x.com/p"}"#);
        assert_eq!(ctx.get("traits").unwrap().to_json(), r#"{"plan":"pro"}"#);
        let hashed = hash_id("s", "user_42");
        assert_eq!(v.get("userId").unwrap().as_str(), Some(hashed.as_str()));
        assert_eq!(
            recheck(&out, "analytics", &strict, None),
            Recheck::Keep,
            "idempotent: no double hashing"
        );
    }

    #[test]
    fn the_plan_drops_or_trims_queued_track_messages() {
        let lax = config(r#"{"events":{"buy":{"properties":["amount","email","url"]}}}"#);
        let Recheck::Rewrite(out) = recheck(MSG, "analytics", &lax, None) else {
            panic!("coupon is not in the plan")
        };
        assert!(!out.contains("coupon") && out.contains("\"amount\":5"));
        let strict = config(r#"{"tracking":{"strict":true},"events":{"buy":{"properties":["amount"]}}}"#);
        let Recheck::Drop(r) = recheck(MSG, "analytics", &strict, None) else {
            panic!("strict")
        };
        assert_eq!(r.reason, DropReason::NotInPlan);
        let disabled = config(r#"{"events":{"buy":{"enabled":false}}}"#);
        assert!(
            matches!(recheck(MSG, "analytics", &disabled, None), Recheck::Drop(r) if r.reason == DropReason::Disabled)
        );
        let audit = MSG.replace("\"event\":\"buy\"", "\"event\":\"consent_updated\"");
        let other = config(
            r#"{"tracking":{"strict":true},"events":{"buy":{}},"privacy":{"anonymize_ip":false,"url_param_deny_list":[]}}"#,
        );
        assert_eq!(
            recheck(&audit, "necessary", &other, None),
            Recheck::Keep,
            "the audit trail is exempt"
        );
    }
}
