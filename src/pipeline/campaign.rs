//! Part of step 4 (enrich): `context.campaign` from the page's UTM parameters, as Segment's
//! analytics.js does, so marketing attribution works without any code on the page.
//!
//! A page loaded as `/?utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale` gives
//! every message tracked while that page is current
//! `"campaign": {"source": "newsletter", "medium": "email", "name": "spring sale"}`: each
//! `utm_X` query parameter becomes `X` (`utm_campaign` becomes `name`). The browser host reads
//! the page's parameters with the browser's own URL parser (`URLSearchParams`: percent-decoding,
//! `+` as a space, the last of a repeated parameter) and hands them to [`from_params`]; it puts
//! the result in the default context it sets. Rules, each a choice where analytics.js is loose:
//! - only parameters that *start* with `utm_` (lowercase, like Google Analytics) count, and
//!   `utm_` alone does not;
//! - empty values are left out (an empty `source` would be a breakdown group of its own);
//! - a `campaign` the caller puts in an event's context wins (an event's own context always
//!   wins over the default one).
//!
//! The campaign is derived before anonymization ([`super::anonymize::anonymize_context`] runs
//! when the default context is set), which treats it like the page: the property deny list and
//! PII scrubbing apply to its decoded values (an e-mail address in `utm_content`, where e-mail
//! tools put it, is caught only once decoded), and a `utm_X` in `privacy.url_param_deny_list`
//! removes `X` ([`anonymize`]).

use super::patterns::PatternMatcher;
use crate::config::PrivacyConfig;
use crate::event::Properties;
use crate::json::Value;

/// The campaign key of a query parameter: `utm_source` → `source`, `utm_campaign` → `name`;
/// `None` for any other parameter.
pub fn key_of(param: &str) -> Option<&str> {
    let key = param.strip_prefix("utm_").filter(|k| !k.is_empty())?;
    Some(if key == "campaign" { "name" } else { key })
}

/// The campaign of a page's decoded query parameters (`{"utm_source": "news", "q": "x"}`).
/// Empty when it has no `utm_` parameter with a text value.
pub fn from_params(params: &Properties) -> Properties {
    let mut campaign = Properties::new();
    for (param, value) in params {
        if let (Some(key), Some(value)) = (key_of(param), value.as_str().filter(|v| !v.is_empty())) {
            campaign.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    campaign
}

/// The privacy rules for the `campaign` of a context's other keys (`extra`): the keys of denied
/// URL parameters removed, then the property rules; an emptied campaign is removed. Out of line:
/// each caller of [`super::anonymize::anonymize_context`] would get its own copy.
#[inline(never)]
pub fn anonymize(extra: &mut Properties, privacy: &PrivacyConfig, patterns: Option<&dyn PatternMatcher>) {
    if let Some(Value::Object(campaign)) = extra.get_mut("campaign") {
        remove_denied(campaign, &privacy.url_param_deny_list);
        super::anonymize::anonymize_properties(campaign, privacy, patterns);
        if campaign.is_empty() {
            extra.remove("campaign");
        }
    }
}

/// Removes from `campaign` the keys of the denied parameters (see [`key_denied`]).
pub fn remove_denied(campaign: &mut Properties, deny: &[String]) {
    campaign.retain(|key, _| !key_denied(key, deny));
}

/// Whether the campaign key `key` comes from a parameter in `deny` (`utm_term` denies `term`,
/// `utm_campaign` denies `name`; compared case-insensitively, like the URL parameters
/// themselves). The collector applies the same rule to the campaigns other clients send.
pub fn key_denied(key: &str, deny: &[String]) -> bool {
    deny.iter().any(|param| {
        let (prefix, p) = param.as_bytes().split_at(param.len().min(4));
        let p: &[u8] = if p.eq_ignore_ascii_case(b"campaign") {
            b"name"
        } else {
            p
        };
        prefix.eq_ignore_ascii_case(b"utm_") && !p.is_empty() && p.eq_ignore_ascii_case(key.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn obj(json: &str) -> Properties {
        match parse(json) {
            Ok(Value::Object(map)) => map,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn maps_utm_parameters_like_analytics_js() {
        let c = from_params(&obj(
            r#"{"utm_source":"newsletter","utm_medium":"e-mail","utm_campaign":"spring sale","utm_term":"shoes",
                "utm_content":"hero banner","utm_id":"42","ref":"x"}"#,
        ));
        assert_eq!(
            c,
            obj(
                r#"{"source":"newsletter","medium":"e-mail","name":"spring sale","term":"shoes",
                    "content":"hero banner","id":"42"}"#
            )
        );
    }

    #[test]
    fn ignores_other_parameters_and_empty_or_non_text_values() {
        assert!(from_params(&Properties::new()).is_empty());
        let none = r#"{"a":"1","autm_source":"x","utm_":"y","UTM_SOURCE":"z","utm_medium":"","utm_term":7}"#;
        assert!(from_params(&obj(none)).is_empty());
        assert_eq!(key_of("utm_campaign"), Some("name"));
        assert_eq!(key_of("utm_source"), Some("source"));
        assert_eq!(key_of("utm_"), None);
        assert_eq!(key_of("source"), None);
    }

    #[test]
    fn the_privacy_rules_apply_and_an_emptied_campaign_goes() {
        let privacy = crate::config::PrivacyConfig {
            scrub_pii: true,
            url_param_deny_list: crate::text::owned(&["utm_term"]),
            ..Default::default()
        };
        let mut extra =
            obj(r#"{"campaign":{"source":"a","term":"b","content":"jane@example.com"},"app":{}}"#);
        anonymize(&mut extra, &privacy, None);
        assert_eq!(
            extra,
            obj(r#"{"campaign":{"source":"a","content":"[redacted]"},"app":{}}"#)
        );
        let mut extra = obj(r#"{"campaign":{"term":"b"}}"#);
        anonymize(&mut extra, &privacy, None);
        assert!(extra.is_empty());
    }

    #[test]
    fn denied_parameters_remove_their_keys() {
        let mut c = obj(r#"{"source":"a","name":"b","term":"c","content":"d"}"#);
        let deny = crate::text::owned(&["UTM_Term", "utm_campaign", "gclid", "utm_", "term"]);
        remove_denied(&mut c, &deny);
        assert_eq!(c, obj(r#"{"source":"a","content":"d"}"#));
    }
}
