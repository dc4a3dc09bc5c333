//! Step 5: anonymization of the enriched message, per `analytics.privacy`.
//!
//! - `anonymize_ip`: `context.ip` is truncated (IPv4: last octet zeroed; IPv6: last 80 bits
//!   zeroed, keeping the /48) and `context.anonymizeIp = true` tells the collector to truncate
//!   the request address too. An unparseable `context.ip` is removed, and so is any
//!   `context.ip` in a build without the `ip` feature (the browser bundle, see
//!   `pipeline/ip_absent.rs`).
//! - `hash_user_id`: `userId` (and an alias's `previousId` unless it is the anonymous id) becomes
//!   hex HMAC-SHA256(`hash_salt`, id).
//! - `scrub_pii`: see [`super::pii`]; with it, string values matching a custom `pii_patterns`
//!   entry are redacted too ([`super::patterns`]: the host's regex engine, given here as
//!   `patterns`, `None` when no pattern is in force).
//! - `property_deny_list`: keys removed from properties, traits, `context.page` and
//!   `context.traits`.
//! - `url_param_deny_list`: query parameters removed from `url`/`referrer` properties and from
//!   `context.page.url`/`referrer`/`search`; a denied `utm_X` also removes `context.campaign.X`
//!   (see [`super::campaign`]).

use super::patterns::PatternMatcher;
use super::pii;
use crate::config::PrivacyConfig;
use crate::event::EventContext;
use crate::json::Value;
use crate::message::MessageType;
use crate::pipeline::enrich::Stamped;

pub use super::ip::truncate_ip;

type Properties = crate::json::Map;

/// Lowercase hex HMAC-SHA256(`salt`, `id`).
pub fn hash_id(salt: &str, id: &str) -> String {
    super::hash::hex(&super::hash::hmac_sha256(salt.as_bytes(), id.as_bytes()))
}

/// `url` without the query parameters named in `deny` (case-insensitive). Works on absolute
/// URLs, paths and bare `?a=b` search strings; the fragment is kept.
pub fn strip_query_params(url: &str, deny: &[String]) -> Option<String> {
    let (before_fragment, fragment) = match crate::text::find_byte(url, b'#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let q = crate::text::find_byte(before_fragment, b'?')?;
    let (base, query) = (&before_fragment[..q], &before_fragment[q + 1..]);
    let denied = |pair: &str| {
        let key = crate::text::split_byte(pair, b'=').map_or(pair, |(k, _)| k);
        deny.iter().any(|d| d.eq_ignore_ascii_case(key))
    };
    if !crate::text::pieces(query, b'&').any(denied) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    let mut sep = '?';
    for pair in crate::text::pieces(query, b'&').filter(|p| !p.is_empty() && !denied(p)) {
        out.push(sep);
        out.push_str(pair);
        sep = '&';
    }
    out.push_str(fragment);
    Some(out)
}

fn strip_url_fields(map: &mut Properties, keys: &[&str], deny: &[String]) {
    for key in keys {
        if let Some(Value::String(url)) = map.get_mut(key) {
            if let Some(clean) = strip_query_params(url, deny) {
                *url = clean;
            }
        }
    }
}

/// Removes keys named in `deny` (case-insensitive) from `map` and every nested object.
pub fn remove_denied_keys(map: &mut Properties, deny: &[String]) {
    map.retain(|k, _| !deny.iter().any(|d| d.eq_ignore_ascii_case(k)));
    for value in map.values_mut() {
        remove_denied_in_value(value, deny);
    }
}

fn remove_denied_in_value(value: &mut Value, deny: &[String]) {
    match value {
        Value::Object(map) => remove_denied_keys(map, deny),
        Value::Array(items) => items.iter_mut().for_each(|v| remove_denied_in_value(v, deny)),
        _ => {}
    }
}

fn scrub_map(map: &mut Properties, patterns: Option<&dyn PatternMatcher>) {
    for value in map.values_mut() {
        pii::scrub_with(value, patterns);
    }
}

/// Applies every enabled anonymization to `msg` (its own fields; the shared default context was
/// anonymized with [`anonymize_context`] when the host set it).
pub fn anonymize(msg: &mut Stamped, privacy: &PrivacyConfig, patterns: Option<&dyn PatternMatcher>) {
    msg.anonymize_ip = privacy.anonymize_ip;
    let e = &mut msg.event;
    if privacy.hash_user_id {
        let salt = privacy.hash_salt.as_deref().unwrap_or("");
        if let Some(user_id) = &e.user_id {
            e.user_id = Some(hash_id(salt, user_id));
        }
        if e.kind == MessageType::Alias {
            if let Some(prev) = &e.previous_id {
                if e.anonymous_id.as_ref() != Some(prev) {
                    e.previous_id = Some(hash_id(salt, prev));
                }
            }
        }
    }
    anonymize_context(&mut e.context, privacy, patterns);
    anonymize_properties(&mut e.properties, privacy, patterns);
    anonymize_properties(&mut e.traits, privacy, patterns);
}

/// The context rules: `ip` truncated (or removed when it is not an address) and the property
/// rules applied to the `page` object, to `traits` (where Segment's libraries put user traits;
/// the collector checks them too) and to `campaign` (whose `X` also goes when `utm_X` is a denied
/// URL parameter; an emptied campaign is removed).
pub fn anonymize_context(
    ctx: &mut EventContext,
    privacy: &PrivacyConfig,
    patterns: Option<&dyn PatternMatcher>,
) {
    if privacy.anonymize_ip {
        if let Some(ip) = ctx.ip.take() {
            ctx.ip = truncate_ip(&ip);
        }
    }
    if let Some(page) = ctx.page.as_mut() {
        anonymize_properties(page, privacy, patterns);
    }
    if let Some(Value::Object(traits)) = ctx.extra.get_mut("traits") {
        anonymize_properties(traits, privacy, patterns);
    }
    super::campaign::anonymize(&mut ctx.extra, privacy, patterns);
}

/// The property rules (deny list, URL parameters, PII scrubbing with the custom `patterns` in
/// force) for one map. The core also applies this to super properties when they are
/// registered, so merging them into a message later gives the same result as anonymizing after
/// the merge.
pub fn anonymize_properties(
    map: &mut Properties,
    privacy: &PrivacyConfig,
    patterns: Option<&dyn PatternMatcher>,
) {
    if map.is_empty() {
        return;
    }
    if !privacy.property_deny_list.is_empty() {
        remove_denied_keys(map, &privacy.property_deny_list);
    }
    if !privacy.url_param_deny_list.is_empty() {
        strip_url_fields(map, &["url", "referrer", "search"], &privacy.url_param_deny_list);
    }
    if privacy.scrub_pii {
        scrub_map(map, patterns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::pipeline::enrich::stamp;
    use std::sync::Arc;

    #[cfg(feature = "ip")]
    #[test]
    fn truncates_ipv4_and_ipv6() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(
            truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::")
        );
        assert_eq!(truncate_ip("::1").as_deref(), Some("::"));
        assert_eq!(truncate_ip("not-an-ip"), None);
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hash_id("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn strips_denied_query_params_only() {
        let deny: Vec<String> = vec!["gclid".into(), "fbclid".into()];
        assert_eq!(
            strip_query_params("https://x.com/p?a=1&gclid=abc&b=2#top", &deny).as_deref(),
            Some("https://x.com/p?a=1&b=2#top")
        );
        assert_eq!(strip_query_params("/p?FBCLID=z", &deny).as_deref(), Some("/p"));
        assert_eq!(
            strip_query_params("?gclid=1&utm_source=x", &deny).as_deref(),
            Some("?utm_source=x")
        );
        assert_eq!(strip_query_params("https://x.com/p?a=1", &deny), None);
        assert_eq!(strip_query_params("https://x.com/#?gclid=1", &deny), None);
    }

    fn message() -> Stamped {
        let props = crate::json::parse(
            r#"{"url": "https://shop.example/?gclid=X&plan=pro", "password": "hunter2",
                "nested": {"Password": "x", "email": "ada@example.com"}}"#,
        )
        .unwrap();
        let page = crate::json::parse(r#"{"search": "?fbclid=1&q=shoes"}"#).unwrap();
        let mut e = Event::track("t")
            .user_id("user_42")
            .anonymous_id("anon")
            .ip("198.51.100.23")
            .properties(props.as_object().unwrap().clone());
        e.context.page = page.as_object().cloned();
        stamp(e, "m".into(), 0, None, &Arc::default(), "analytics")
    }

    #[test]
    fn anonymize_applies_each_enabled_rule() {
        let privacy = PrivacyConfig {
            hash_user_id: true,
            hash_salt: Some("pepper".into()),
            scrub_pii: true,
            property_deny_list: vec!["password".into()],
            ..PrivacyConfig::default()
        };
        let mut m = message();
        anonymize(&mut m, &privacy, None);
        let e = &m.event;
        assert_eq!(e.context.ip.as_deref(), Some("198.51.100.0"));
        assert!(m.anonymize_ip);
        assert_eq!(e.user_id.as_deref(), Some(hash_id("pepper", "user_42").as_str()));
        assert_eq!(e.anonymous_id.as_deref(), Some("anon"));
        let props = &e.properties;
        assert_eq!(props["url"], "https://shop.example/?plan=pro");
        assert!(!props.contains_key("password"));
        assert_eq!(props["nested"].to_json(), r#"{"email":"[redacted]"}"#);
        assert_eq!(e.context.page.as_ref().unwrap()["search"], "?q=shoes");
    }

    #[test]
    fn nothing_changes_when_everything_is_off() {
        let privacy = PrivacyConfig {
            anonymize_ip: false,
            url_param_deny_list: vec![],
            ..Default::default()
        };
        let mut m = message();
        anonymize(&mut m, &privacy, None);
        assert_eq!(m.event, message().event);
    }

    #[test]
    fn alias_previous_id_is_hashed_unless_it_is_the_anonymous_id() {
        let privacy = PrivacyConfig {
            hash_user_id: true,
            hash_salt: Some("s".into()),
            ..Default::default()
        };
        let alias = |previous: &str, anon: Option<&str>| {
            let mut e = Event::alias("new", Some(previous));
            e.anonymous_id = anon.map(str::to_string);
            let mut m = stamp(e, "m".into(), 0, None, &Arc::default(), "analytics");
            anonymize(&mut m, &privacy, None);
            m.event.previous_id.unwrap()
        };
        assert_eq!(alias("old_user", None), hash_id("s", "old_user"));
        assert_eq!(alias("anon", Some("anon")), "anon");
    }
}
