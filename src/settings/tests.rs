use super::*;
use crate::config::{Config, EventSpec};

fn plan(strict: bool, events: &[(&str, bool, Option<&[&str]>)]) -> TrackingPlan {
    TrackingPlan {
        strict,
        events: events
            .iter()
            .map(|(n, enabled, props)| {
                let properties = props.map(|p| p.iter().map(|s| s.to_string()).collect());
                (
                    n.to_string(),
                    EventPlan {
                        enabled: *enabled,
                        properties,
                    },
                )
            })
            .collect(),
    }
}

#[test]
fn plan_outcomes() {
    let p = plan(false, &[("buy", true, Some(&["amount"])), ("old", false, None)]);
    assert_eq!(p.outcome("buy", &["amount", "email"]), Some(vec!["amount"]));
    assert_eq!(p.outcome("old", &[]), None);
    assert_eq!(p.outcome("other", &["x"]), Some(vec!["x"]));
    let strict = TrackingPlan { strict: true, ..p };
    assert_eq!(strict.outcome("buy", &["amount", "email"]), None);
    assert_eq!(strict.outcome("buy", &["amount"]), Some(vec!["amount"]));
    assert_eq!(strict.outcome("other", &[]), None);
    assert_eq!(
        plan(true, &[]).outcome("any", &["x"]),
        Some(vec!["x"]),
        "no plan, no strictness"
    );
}

#[test]
fn merge_takes_the_stricter_side() {
    let server = PrivacySettings {
        property_deny_list: vec!["Email".into()],
        consent_mode: ConsentMode::OptIn,
        tracking_plan: plan(true, &[("buy", true, Some(&["amount", "currency"]))]),
        retention: Retention {
            events_days: 30,
            ..Retention::default()
        },
        ..PrivacySettings::default()
    };
    let mut local = PrivacySettings {
        anonymize_ip: false,
        store_raw_ip: true,
        property_deny_list: vec!["email".into(), "phone".into()],
        tracking_plan: plan(
            false,
            &[("buy", true, Some(&["amount", "coupon"])), ("view", true, None)],
        ),
        ..PrivacySettings::default()
    };
    local
        .consent_categories
        .insert("marketing".into(), ConsentMode::OptIn);
    let m = merge(&server, &local);
    assert!(m.anonymize_ip && !m.store_raw_ip);
    assert_eq!(m.property_deny_list, vec!["Email", "phone"]);
    assert_eq!(m.consent_mode, ConsentMode::OptIn);
    assert_eq!(m.retention.events_days, 30);
    assert!(m.tracking_plan.strict);
    assert_eq!(m.tracking_plan.outcome("buy", &["amount"]), Some(vec!["amount"]));
    assert_eq!(m.tracking_plan.outcome("buy", &["currency"]), None);
    assert_eq!(
        m.tracking_plan.outcome("view", &[]),
        None,
        "only local lists it; server is strict"
    );
    assert!(m.is_at_least_as_private_as(&server) && m.is_at_least_as_private_as(&local));
    assert!(!local.is_at_least_as_private_as(&server), "the order can say no");
    m.validate().unwrap();
}

#[test]
fn validation_names_the_field() {
    let s = PrivacySettings {
        store_raw_ip: true,
        ..PrivacySettings::default()
    };
    assert_eq!(s.validate().unwrap_err().field, "store_raw_ip");
    let s = PrivacySettings {
        property_deny_list: vec!["a".into(), " ".into()],
        ..PrivacySettings::default()
    };
    assert_eq!(s.validate().unwrap_err().field, "property_deny_list[1]");
    let mut s = PrivacySettings::default();
    s.retention.users_days = 0;
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "retention.users_days: must be between 1 and 36500 days"
    );
    let mut s = PrivacySettings::default();
    s.consent_categories
        .insert("necessary".into(), ConsentMode::OptIn);
    assert_eq!(s.validate().unwrap_err().field, "consent_categories.necessary");
    PrivacySettings::default().validate().unwrap();
}

#[test]
fn config_round_trip_keeps_local_categories() {
    let mut config = Config::default();
    config.events.insert(
        "buy".into(),
        EventSpec {
            category: Some("marketing".into()),
            ..EventSpec::default()
        },
    );
    let server = PrivacySettings {
        hash_user_id: true,
        tracking_plan: plan(false, &[("buy", true, Some(&["amount"]))]),
        ..PrivacySettings::default()
    };
    let mut applied = config.clone();
    server.merge_into(&mut applied);
    assert_eq!(applied.events["buy"].category.as_deref(), Some("marketing"));
    assert_eq!(applied.events["buy"].properties, Some(vec!["amount".to_string()]));
    assert!(
        !applied.privacy.hash_user_id,
        "no local salt: the collector hashes"
    );
    applied.validate().unwrap();
}
