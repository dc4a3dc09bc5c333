//! `Config::from_yaml` accepts the issue's `analytics_config.yaml` and names unknown keys.

use footfall::{Config, ConsentMode};

const ISSUE_EXAMPLE: &str = r#"
analytics:
  tracking: {enabled: true, batch_size: 100, flush_interval: 5}
  events:
    page_view: {enabled: true, properties: [url, referrer, page_name]}
    purchase: {enabled: true, properties: [purchase_id, amount, currency, items]}
  privacy: {anonymize_ip: true, hash_user_id: false, gdpr_compliance: true}
"#;

#[test]
fn the_issue_example_parses() {
    let c = Config::from_yaml(ISSUE_EXAMPLE).unwrap();
    assert!(c.tracking.enabled);
    assert_eq!(c.tracking.batch_size, 100);
    assert_eq!(c.tracking.flush_interval, 5.0);
    assert_eq!(c.events.len(), 2);
    assert_eq!(
        c.events["purchase"].properties.as_ref().unwrap(),
        &["purchase_id", "amount", "currency", "items"]
    );
    assert!(c.privacy.anonymize_ip && !c.privacy.hash_user_id && c.privacy.gdpr_compliance);
    assert_eq!(
        c.consent_mode(),
        ConsentMode::OptIn,
        "gdpr_compliance implies opt-in"
    );
}

#[test]
fn every_section_can_be_written_out() {
    let yaml = r#"
analytics:
  tracking:
    enabled: true
    batch_size: 50
    flush_interval: 0.5
    max_batch_bytes: 256000
    max_queue_size: 5000
    max_message_bytes: 16384
    session_timeout: 900
    max_session_length: 43200
    strict: true
  events:
    signup_clicked: {properties: [plan], category: marketing}
    legacy_event: {enabled: false}
  privacy:
    anonymize_ip: false
    hash_user_id: true
    hash_salt: "pepper"
    scrub_pii: true
    pii_patterns: ['^secret-\d+$', 'tok_[a-z]+']
    property_deny_list: [password, ssn]
    url_param_deny_list: [gclid, token]
  consent:
    mode: opt_out
    categories: [necessary, analytics, marketing, personalization]
    respect_gpc: true
    respect_dnt: true
    gpc_categories: [marketing, personalization]
    rotate_anonymous_id_on_revoke: true
    max_pending: 200
  delivery:
    endpoint: https://collector.example.com
    write_key: wk_live
    max_attempts: 5
    max_age: 3600
    backoff_base: 0.5
    backoff_cap: 30
    max_in_flight: 2
"#;
    let c = Config::from_yaml(yaml).unwrap();
    assert_eq!(c.tracking.flush_interval, 0.5);
    assert!(c.tracking.strict);
    assert_eq!(c.events["signup_clicked"].category.as_deref(), Some("marketing"));
    assert!(!c.events["legacy_event"].enabled);
    assert_eq!(c.privacy.hash_salt.as_deref(), Some("pepper"));
    assert_eq!(c.privacy.pii_patterns, [r"^secret-\d+$", "tok_[a-z]+"]);
    assert_eq!(c.consent.mode, Some(ConsentMode::OptOut));
    assert_eq!(c.delivery.max_in_flight, 2);
    assert_eq!(c.delivery.endpoint, "https://collector.example.com");
    // Serializing and reading back gives the same config.
    let again = Config::from_json(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(again, c);
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    for (yaml, path, key) in [
        (
            "analytics:\n  tracking: {bacth_size: 10}\n",
            "analytics.tracking",
            "bacth_size",
        ),
        (
            "analytics:\n  privacy: {anonymise_ip: true}\n",
            "analytics.privacy",
            "anonymise_ip",
        ),
        (
            "analytics:\n  events:\n    page_view: {enabled: true, props: [url]}\n",
            "analytics.events.page_view",
            "props",
        ),
        ("analytics:\n  trackin: {}\n", "analytics", "trackin"),
    ] {
        let err = Config::from_yaml(yaml).unwrap_err().to_string();
        assert!(err.starts_with(path), "{err}");
        assert!(err.contains(&format!("unknown field `{key}`")), "{err}");
    }
}

#[test]
fn syntax_and_type_errors_are_clear() {
    let err = Config::from_yaml("analytics: [unclosed").unwrap_err().to_string();
    assert!(err.starts_with("config syntax"), "{err}");
    let err = Config::from_yaml("analytics:\n  tracking: {batch_size: lots}\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("analytics.tracking.batch_size:"), "{err}");
    let err = Config::from_yaml("analytics:\n  privacy: {hash_user_id: true}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("hash_salt"), "{err}");
    let err = Config::from_yaml("analytics:\n  privacy: {pii_patterns: [ok, '']}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("privacy.pii_patterns[1]"), "{err}");
}
