use std::path::Path;

use super::*;

#[test]
fn parses_a_full_file_and_defaults_the_rest() {
    let yaml = "listen: 0.0.0.0:9000\nadmin_token: t\ntrust_proxy: 2\nlimits: {max_batch_messages: 10}\n\
                projects:\n  - id: shop\n    write_keys: [k1]\n    privacy: {consent_mode: opt_in, bots: reject}\n";
    let c = Config::from_yaml(yaml, Path::new("c.yaml")).unwrap();
    c.validate().unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.trust_proxy.hops(), 2);
    assert_eq!(c.limits.max_batch_messages, 10);
    assert_eq!(c.limits.max_message_bytes, 32768);
    assert_eq!(c.projects[0].allowed_origins, vec!["*"]);
    assert_eq!(c.projects[0].privacy.consent_mode, ConsentMode::OptIn);
    assert_eq!(c.projects[0].privacy.bots, BotHandling::Reject);
    assert!(c.projects[0].privacy.respect_gpc);
    assert!(c.projects[0].privacy.anonymize_ip);
    assert_eq!(c.retention_days(&c.projects[0]), 365);
    assert_eq!(c.initial_settings(&c.projects[0]).retention.users_days, 3650);
}

#[test]
fn trust_proxy_accepts_bool() {
    let c = Config::from_yaml("trust_proxy: true\n", Path::new("c")).unwrap();
    assert_eq!(c.trust_proxy.hops(), 1);
    assert_eq!(Config::default().trust_proxy.hops(), 0);
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_yaml("limits: {max_batch: 3}\n", Path::new("c.yaml")).unwrap_err();
    assert!(err.to_string().contains("max_batch"), "{err}");
}

#[test]
fn validation_names_the_problem() {
    let mut c = Config {
        projects: vec![ProjectConfig::new("a", "k"), ProjectConfig::new("b", "k")],
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().to_string().contains("two projects"));
    c.projects[1] = ProjectConfig::new("a", "k2");
    assert!(c.validate().unwrap_err().to_string().contains("duplicate id"));
    c.projects.pop();
    c.admin_token = Some("k".into());
    assert!(c.validate().unwrap_err().to_string().contains("admin token"));
    c.admin_token = None;
    c.limits.max_inflight_requests = 0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("max_inflight_requests")
    );
}

#[test]
fn max_connections_is_optional_and_positive() {
    assert_eq!(Config::default().limits.max_connections, None);
    let c = Config::from_yaml("limits: {max_connections: 500}\n", Path::new("c")).unwrap();
    assert_eq!(c.limits.max_connections, Some(500));
    c.validate().unwrap();
    let c = Config::from_yaml("limits: {max_connections: 0}\n", Path::new("c")).unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("max_connections"));
    // Unset stays unset when the config is written back (the default follows the limit).
    let yaml = serde_norway::to_string(&Config::default()).unwrap();
    assert!(!yaml.contains("max_connections"), "{yaml}");
}

#[test]
fn origins() {
    let mut p = ProjectConfig::new("a", "k");
    assert!(p.allows_origin("https://x.example"));
    p.allowed_origins = vec!["https://shop.example.com".into()];
    assert!(p.allows_origin("https://SHOP.example.com"));
    assert!(!p.allows_origin("https://evil.example"));
}
