//! The project's privacy settings applied to each incoming message, whatever the client (our
//! SDKs, Segment's libraries, curl). Pure functions, called by the ingestion pipeline in this
//! order after consent and suppression (see [`crate::ingest`]):
//!
//! | step | setting | a violation is | why |
//! |---|---|---|---|
//! | [`apply_plan`] | `tracking_plan` | **refused** `not_in_plan` (disabled event; with `strict`, an unlisted event or property) / unlisted properties **removed** (not strict) | the SDKs do exactly this before sending |
//! | [`denied_properties`] | `property_deny_list` | **refused** `denied_property` | the SDKs remove these before sending, so a message still carrying one comes from a client that ignores the privacy team's settings: it is kept out of the data and made visible (dead letter without the denied values, metric by reason) rather than silently repaired |
//! | bots | `bots` | `reject`: refused `bot`; `tag`: stored with `is_bot` | |
//! | IP | `anonymize_ip`, `store_raw_ip` | truncated | |
//! | [`strip_url_params`] | `url_param_deny_list` | parameters **removed** from `url`, `referrer`, `search` of `properties` and `context.page`, and a denied `utm_X`'s `X` from `context.campaign` | full URLs are what every client sends (Segment's analytics.js too); refusing them would refuse most page views |
//! | [`scrub_pii`] | `pii_scrubbing`, `pii_patterns` | values **redacted** (`"[redacted]"`) in `properties`, `traits`, `context.page`, `context.traits`, `context.campaign` | as the SDKs do |
//! | [`hash_user_ids`] | `hash_user_id` | `userId` (and an alias's `previousId` unless it is the anonymous id) replaced by hex HMAC-SHA256(salt, id) — the core's `hash_id`, so SDK-hashed and collector-hashed ids agree | an id that already is 64 lowercase hex characters is taken as hashed by an SDK and kept |
//!
//! Deny lists and PII scrubbing look at `properties`, `traits`, `context.page`, `context.traits`
//! (where Segment's libraries put user traits) and `context.campaign` (UTM parameters, as
//! analytics.js and our browser SDK send them), at any depth.

use footfall::message::{Message, MessageType, Properties};
use footfall::pipeline::anonymize::{hash_id, strip_query_params};
use footfall::pipeline::campaign;
use footfall::pipeline::pii::{REDACTED, looks_like_pii, luhn_valid};
use footfall::settings::TrackingPlan;
use regex::Regex;
use serde_json::Value;

use crate::ingest::reason::Reason;

/// At most this many denied names are listed in a refusal.
const MAX_LISTED: usize = 10;

/// The tracking plan on a `track` message: refused, or its properties the plan does not allow
/// removed (returns how many).
pub fn apply_plan(m: &mut Message, plan: &TrackingPlan) -> Result<usize, Reason> {
    if m.kind != MessageType::Track || plan.events.is_empty() {
        return Ok(0);
    }
    let event = m.event.as_deref().unwrap_or_default();
    let keys: Vec<&str> = m
        .properties
        .iter()
        .flat_map(|p| p.keys().map(String::as_str))
        .collect();
    match plan.outcome(event, &keys) {
        None => {
            let detail = match plan.events.get(event) {
                None => format!("event `{event}` is not in the tracking plan"),
                Some(spec) if !spec.enabled => format!("event `{event}` is disabled by the tracking plan"),
                Some(spec) => {
                    let allowed = spec.properties.as_deref().unwrap_or_default();
                    let extra = keys
                        .iter()
                        .find(|k| !allowed.iter().any(|a| a == *k))
                        .unwrap_or(&"?");
                    format!("property `{extra}` of `{event}` is not in the tracking plan")
                }
            };
            Err(Reason::NotInPlan(detail))
        }
        Some(kept) if kept.len() == keys.len() => Ok(0),
        Some(kept) => {
            let kept: Vec<String> = kept.into_iter().map(str::to_string).collect();
            let props = m.properties.as_mut().expect("has keys");
            let before = props.len();
            props.retain(|k, _| kept.contains(k));
            Ok(before - props.len())
        }
    }
}

/// The maps deny lists and scrubbing look at (see the module docs).
fn maps_mut(m: &mut Message) -> impl Iterator<Item = &mut Properties> {
    let (mut context_traits, mut campaign) = (None, None);
    for (key, value) in m.context.extra.iter_mut() {
        match (key.as_str(), value) {
            ("traits", Value::Object(map)) => context_traits = Some(map),
            ("campaign", Value::Object(map)) => campaign = Some(map),
            _ => {}
        }
    }
    [
        m.properties.as_mut(),
        m.traits.as_mut(),
        m.context.page.as_mut(),
        context_traits,
        campaign,
    ]
    .into_iter()
    .flatten()
}

fn maps(m: &Message) -> impl Iterator<Item = &Properties> {
    let object = |key| match m.context.extra.get(key) {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    [
        m.properties.as_ref(),
        m.traits.as_ref(),
        m.context.page.as_ref(),
        object("traits"),
        object("campaign"),
    ]
    .into_iter()
    .flatten()
}

fn collect_denied(map: &Properties, deny: &[String], found: &mut Vec<String>) {
    for (k, v) in map {
        if deny.iter().any(|d| d.eq_ignore_ascii_case(k)) && !found.contains(k) && found.len() < MAX_LISTED {
            found.push(k.clone());
        }
        collect_denied_in(v, deny, found);
    }
}

fn collect_denied_in(v: &Value, deny: &[String], found: &mut Vec<String>) {
    match v {
        Value::Object(map) => collect_denied(map, deny, found),
        Value::Array(items) => items.iter().for_each(|i| collect_denied_in(i, deny, found)),
        _ => {}
    }
}

/// The property / trait names of the message on the deny list (case-insensitive, any depth).
pub fn denied_properties(m: &Message, deny: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    if !deny.is_empty() {
        for map in maps(m) {
            collect_denied(map, deny, &mut found);
        }
    }
    found
}

/// Removes denied query parameters from `url`, `referrer` and `search` of `properties` and
/// `context.page`, and the `context.campaign` keys they give (`utm_term` → `term`, see
/// [`campaign::key_denied`]; an emptied campaign is removed); returns how many values changed.
pub fn strip_url_params(m: &mut Message, deny: &[String]) -> usize {
    if deny.is_empty() {
        return 0;
    }
    let mut changed = 0;
    if let Some(Value::Object(c)) = m.context.extra.get_mut("campaign") {
        let before = c.len();
        c.retain(|key, _| !campaign::key_denied(key, deny));
        changed += before - c.len();
        if c.is_empty() {
            m.context.extra.remove("campaign");
        }
    }
    for map in [m.properties.as_mut(), m.context.page.as_mut()]
        .into_iter()
        .flatten()
    {
        for key in ["url", "referrer", "search"] {
            if let Some(Value::String(url)) = map.get_mut(key)
                && let Some(clean) = strip_query_params(url, deny)
            {
                *url = clean;
                changed += 1;
            }
        }
    }
    changed
}

fn scrub_value(v: &mut Value, patterns: &[Regex]) -> usize {
    match v {
        Value::String(s) if looks_like_pii(s) || patterns.iter().any(|p| p.is_match(s)) => {
            *v = Value::String(REDACTED.to_string());
            1
        }
        // Integers written with 13–19 digits that pass the Luhn check (card numbers), as the core.
        Value::Number(n) if n.is_u64() => {
            let text = n.to_string();
            if (13..=19).contains(&text.len()) && luhn_valid(text.as_bytes()) {
                *v = Value::String(REDACTED.to_string());
                1
            } else {
                0
            }
        }
        Value::Array(items) => items.iter_mut().map(|i| scrub_value(i, patterns)).sum(),
        Value::Object(map) => map.values_mut().map(|i| scrub_value(i, patterns)).sum(),
        _ => 0,
    }
}

/// Redacts values that look like PII (the core's detector: emails, phone and card numbers) or
/// match a custom pattern; returns how many.
pub fn scrub_pii(m: &mut Message, patterns: &[Regex]) -> usize {
    maps_mut(m)
        .map(|map| map.values_mut().map(|v| scrub_value(v, patterns)).sum::<usize>())
        .sum()
}

/// Whether `id` looks hashed already (64 lowercase hex characters, what `hash_id` returns).
pub fn is_hashed(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `id` as stored under `hash_user_id` with `salt`.
pub fn hashed(salt: &str, id: &str) -> String {
    if is_hashed(id) {
        id.to_string()
    } else {
        hash_id(salt, id)
    }
}

/// Hashes `userId` and an alias's `previousId` (unless it is the anonymous id); returns whether
/// anything changed.
pub fn hash_user_ids(m: &mut Message, salt: &str) -> bool {
    let mut changed = false;
    if let Some(id) = m.user_id.as_mut()
        && !is_hashed(id)
    {
        *id = hash_id(salt, id);
        changed = true;
    }
    if m.kind == MessageType::Alias
        && m.previous_id != m.anonymous_id
        && let Some(prev) = m.previous_id.as_mut()
        && !is_hashed(prev)
    {
        *prev = hash_id(salt, prev);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use footfall::settings::EventPlan;
    use serde_json::json;

    fn msg(v: Value) -> Message {
        serde_json::from_value(v).unwrap()
    }

    fn track(props: Value) -> Message {
        msg(
            json!({"type": "track", "messageId": "m", "userId": "u", "event": "buy",
                   "timestamp": "2026-11-28T10:00:00.000Z", "properties": props}),
        )
    }

    #[test]
    fn plans_refuse_or_trim() {
        let mut plan = TrackingPlan::default();
        plan.events.insert(
            "buy".into(),
            EventPlan {
                enabled: true,
                properties: Some(vec!["amount".into()]),
            },
        );
        let mut m = track(json!({"amount": 3, "email": "x"}));
        assert_eq!(apply_plan(&mut m, &plan), Ok(1));
        assert_eq!(m.properties.unwrap().keys().collect::<Vec<_>>(), ["amount"]);
        plan.strict = true;
        let mut m = track(json!({"amount": 3, "email": "x"}));
        assert_eq!(
            apply_plan(&mut m, &plan).unwrap_err().code(),
            "not_in_plan",
            "strict: an unlisted property refuses the event"
        );
        let mut m = track(json!({}));
        m.event = Some("other".into());
        assert_eq!(
            apply_plan(&mut m, &plan),
            Err(Reason::NotInPlan(
                "event `other` is not in the tracking plan".into()
            ))
        );
        let mut page = msg(
            json!({"type": "page", "messageId": "p", "anonymousId": "a", "timestamp": "2026-11-28T10:00:00.000Z"}),
        );
        assert_eq!(
            apply_plan(&mut page, &plan),
            Ok(0),
            "plans apply to track messages"
        );
    }

    #[test]
    fn deny_lists_find_names_at_any_depth() {
        let mut m = track(json!({"a": {"EMAIL": "x"}, "list": [{"phone": 1}]}));
        m.context.extra.insert("traits".into(), json!({"email": "y"}));
        let deny = vec!["email".to_string(), "phone".to_string()];
        assert_eq!(denied_properties(&m, &deny), ["EMAIL", "phone", "email"]);
        assert!(denied_properties(&m, &["other".to_string()]).is_empty());
    }

    #[test]
    fn campaigns_from_other_clients_obey_the_rules() {
        // A campaign as analytics.js sends it: a denied utm_ parameter's key goes, PII scrubbing
        // sees its values, the property deny list its keys.
        let mut m = track(json!({}));
        m.context.extra.insert(
            "campaign".into(),
            json!({"source": "mail", "term": "shoes", "content": "ada@example.com"}),
        );
        assert_eq!(strip_url_params(&mut m, &["UTM_TERM".to_string()]), 1);
        assert_eq!(scrub_pii(&mut m, &[]), 1);
        assert_eq!(
            m.context.extra["campaign"],
            json!({"source": "mail", "content": REDACTED})
        );
        assert_eq!(denied_properties(&m, &["Source".to_string()]), ["source"]);
        m.context
            .extra
            .insert("campaign".into(), json!({"name": "spring"}));
        assert_eq!(strip_url_params(&mut m, &["utm_campaign".to_string()]), 1);
        assert!(
            !m.context.extra.contains_key("campaign"),
            "an emptied campaign is removed"
        );
    }

    #[test]
    fn urls_pii_and_hashing() {
        let mut m = track(
            json!({"url": "https://s.example/?gclid=1&q=2", "note": "mail ada@example.com",
                                 "card": 4111111111111111u64, "code": "secret-42", "n": 42}),
        );
        m.context.page = Some(serde_json::from_value(json!({"search": "?fbclid=9"})).unwrap());
        let deny = vec!["gclid".to_string(), "FBCLID".to_string()];
        assert_eq!(strip_url_params(&mut m, &deny), 2);
        assert_eq!(m.properties.as_ref().unwrap()["url"], "https://s.example/?q=2");
        assert_eq!(m.context.page.as_ref().unwrap()["search"], "");
        let patterns = vec![Regex::new(r"^secret-\d+$").unwrap()];
        assert_eq!(scrub_pii(&mut m, &patterns), 3);
        let p = m.properties.as_ref().unwrap();
        assert_eq!(
            (p["note"].as_str(), p["card"].as_str(), p["code"].as_str()),
            (Some(REDACTED), Some(REDACTED), Some(REDACTED))
        );
        assert_eq!(p["n"], 42);
        assert!(hash_user_ids(&mut m, "salt"));
        assert_eq!(m.user_id.as_deref(), Some(hash_id("salt", "u").as_str()));
        assert!(!hash_user_ids(&mut m, "salt"), "a hashed id is not hashed again");
        let mut alias = msg(
            json!({"type": "alias", "messageId": "a", "userId": "u", "previousId": "anon",
                                   "anonymousId": "anon", "timestamp": "2026-11-28T10:00:00.000Z"}),
        );
        hash_user_ids(&mut alias, "salt");
        assert_eq!(
            alias.previous_id.as_deref(),
            Some("anon"),
            "the anonymous id stays"
        );
    }
}
