//! Property tests of `footfall::settings::merge`: for any server settings and any local SDK
//! configuration, the merged settings are never less private than either (the order is
//! `PrivacySettings::is_at_least_as_private_as`, defined field by field in `src/settings/`),
//! merging them into the local configuration in place (`merge_into`) gives exactly the merged
//! settings and never loosens it, and a local configuration with no opinion leaves the server's
//! settings as they are.

use footfall::config::{Config, ConsentMode as LocalMode, EventSpec};
use footfall::settings::{
    BotHandling, ConsentMode, EventPlan, PrivacySettings, Retention, TrackingPlan, merge,
};
use proptest::prelude::*;

/// Small vocabularies, so both sides often name the same things (in different cases).
const NAMES: &[&str] = &["email", "Email", "phone", "ssn", "plan", "amount"];
const PARAMS: &[&str] = &["gclid", "GCLID", "fbclid", "utm_source", "ref"];
const CATEGORIES: &[&str] = &["analytics", "marketing", "ads", "support"];
const EVENTS: &[&str] = &["purchase", "signup", "page_view", "search"];
const PROPS: &[&str] = &["amount", "currency", "email", "query", "plan"];

fn names(vocab: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(vocab, 0..=vocab.len())
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn mode() -> impl Strategy<Value = ConsentMode> {
    prop_oneof![Just(ConsentMode::OptOut), Just(ConsentMode::OptIn)]
}

fn event_plan() -> impl Strategy<Value = EventPlan> {
    (any::<bool>(), proptest::option::of(names(PROPS)))
        .prop_map(|(enabled, properties)| EventPlan { enabled, properties })
}

fn plan() -> impl Strategy<Value = TrackingPlan> {
    (
        any::<bool>(),
        proptest::collection::vec((proptest::sample::select(EVENTS), event_plan()), 0..4),
    )
        .prop_map(|(strict, events)| TrackingPlan {
            strict,
            events: events.into_iter().map(|(n, p)| (n.to_string(), p)).collect(),
        })
}

prop_compose! {
    fn settings()(
        anonymize_ip in any::<bool>(),
        raw in any::<bool>(),
        hash_user_id in any::<bool>(),
        pii_scrubbing in any::<bool>(),
        pii_patterns in names(&[r"\d{9}", r"secret-\w+", "x+"]),
        property_deny_list in names(NAMES),
        url_param_deny_list in names(PARAMS),
        consent_mode in mode(),
        categories in proptest::collection::vec((proptest::sample::select(CATEGORIES), mode()), 0..4),
        respect_gpc in any::<bool>(),
        respect_dnt in any::<bool>(),
        tracking_plan in plan(),
        days in (1u32..400, 1u32..400, 1u32..4000),
        reject_bots in any::<bool>(),
    ) -> PrivacySettings {
        PrivacySettings {
            anonymize_ip,
            store_raw_ip: raw && !anonymize_ip,
            hash_user_id,
            pii_scrubbing,
            pii_patterns,
            property_deny_list,
            url_param_deny_list,
            consent_mode,
            consent_categories: categories.into_iter().map(|(c, m)| (c.to_string(), m)).collect(),
            respect_gpc,
            respect_dnt,
            tracking_plan,
            retention: Retention { events_days: days.0, sessions_days: days.1, users_days: days.2 },
            bots: if reject_bots { BotHandling::Reject } else { BotHandling::Tag },
        }
    }
}

prop_compose! {
    /// An SDK configuration as a page or service might write it.
    fn local_config()(
        anonymize_ip in any::<bool>(),
        salt in proptest::option::of("[a-z]{1,8}"),
        hash in any::<bool>(),
        scrub_pii in any::<bool>(),
        patterns in proptest::collection::vec(proptest::sample::select(&["^a$", "b", "c+"][..]), 0..3),
        deny in names(NAMES),
        params in names(PARAMS),
        gdpr in any::<bool>(),
        mode in proptest::option::of(prop_oneof![Just(LocalMode::OptIn), Just(LocalMode::OptOut)]),
        gpc in any::<bool>(),
        dnt in any::<bool>(),
        strict in any::<bool>(),
        events in proptest::collection::vec(
            (proptest::sample::select(EVENTS), event_plan(), proptest::option::of(proptest::sample::select(CATEGORIES))),
            0..4,
        ),
    ) -> Config {
        let mut c = Config::default();
        c.privacy.anonymize_ip = anonymize_ip;
        c.privacy.hash_user_id = hash && salt.is_some();
        c.privacy.hash_salt = salt;
        c.privacy.scrub_pii = scrub_pii;
        c.privacy.pii_patterns = patterns.into_iter().map(str::to_string).collect();
        c.privacy.property_deny_list = deny;
        c.privacy.url_param_deny_list = params;
        c.privacy.gdpr_compliance = gdpr;
        c.consent.mode = mode;
        c.consent.respect_gpc = gpc;
        c.consent.respect_dnt = dnt;
        c.tracking.strict = strict;
        for (name, plan, category) in events {
            let spec = EventSpec {
                enabled: plan.enabled,
                properties: plan.properties,
                category: category.map(str::to_string),
            };
            c.events.insert(name.to_string(), spec);
        }
        c
    }
}

fn equivalent(a: &PrivacySettings, b: &PrivacySettings) -> bool {
    a.is_at_least_as_private_as(b) && b.is_at_least_as_private_as(a)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn merged_is_never_less_private_than_either_side(server in settings(), local in local_config()) {
        let local_settings = PrivacySettings::from_config(&local);
        let merged = merge(&server, &local_settings);
        prop_assert!(merged.is_at_least_as_private_as(&server), "less private than the server: {merged:#?}");
        prop_assert!(merged.is_at_least_as_private_as(&local_settings), "less private than local: {merged:#?}");
        prop_assert!(merged.validate().is_ok() || server.validate().is_err(), "{:?}", merged.validate());
    }

    #[test]
    fn merging_two_server_settings_is_never_less_private(a in settings(), b in settings()) {
        let m = merge(&a, &b);
        prop_assert!(m.is_at_least_as_private_as(&a) && m.is_at_least_as_private_as(&b));
        prop_assert!(equivalent(&merge(&a, &a), &a), "merging with itself changes nothing");
    }

    #[test]
    fn applying_never_loosens_the_local_config(server in settings(), local in local_config()) {
        let before = PrivacySettings::from_config(&local);
        let merged = merge(&server, &before);
        let mut applied = local.clone();
        let modes = server.merge_into(&mut applied);
        let after = PrivacySettings::from_config(&applied);
        prop_assert!(after.is_at_least_as_private_as(&before));
        // What the core can express is exactly the merged value.
        prop_assert_eq!(after.anonymize_ip, merged.anonymize_ip);
        prop_assert_eq!(after.pii_scrubbing, merged.pii_scrubbing);
        prop_assert_eq!(&after.pii_patterns, &merged.pii_patterns);
        prop_assert_eq!(&after.property_deny_list, &merged.property_deny_list);
        prop_assert_eq!(&after.url_param_deny_list, &merged.url_param_deny_list);
        prop_assert_eq!(after.consent_mode, merged.consent_mode);
        prop_assert_eq!((after.respect_gpc, after.respect_dnt), (merged.respect_gpc, merged.respect_dnt));
        prop_assert_eq!(&after.tracking_plan, &merged.tracking_plan);
        prop_assert_eq!(after.hash_user_id, merged.hash_user_id && local.privacy.hash_salt.is_some());
        prop_assert_eq!(&modes, &merged.consent_categories);
        for (name, spec) in &applied.events {
            let kept = local.events.get(name).and_then(|l| l.category.as_ref());
            prop_assert_eq!(spec.category.as_ref(), kept, "a local event's category is kept");
        }
        if local.validate().is_ok() {
            prop_assert!(applied.validate().is_ok(), "{:?}", applied.validate());
        }
    }

    #[test]
    fn a_local_config_without_opinions_leaves_the_server_settings(server in settings()) {
        let mut open = Config::default();
        open.privacy.anonymize_ip = false;
        open.privacy.url_param_deny_list.clear();
        open.consent.mode = Some(LocalMode::OptOut);
        open.consent.respect_gpc = false;
        let merged = merge(&server, &PrivacySettings::from_config(&open));
        prop_assert!(equivalent(&merged, &server), "{merged:#?}\nvs\n{server:#?}");
    }

    #[test]
    fn loosening_the_merged_result_is_detected(server in settings(), local in local_config()) {
        let merged = merge(&server, &PrivacySettings::from_config(&local));
        if let Some(first) = server.property_deny_list.first() {
            let mut loose = merged.clone();
            loose.property_deny_list.retain(|n| !n.eq_ignore_ascii_case(first));
            prop_assert!(!loose.is_at_least_as_private_as(&server));
        }
        if server.consent_mode == ConsentMode::OptIn {
            let mut loose = merged.clone();
            loose.consent_mode = ConsentMode::OptOut;
            loose.consent_categories = Default::default();
            prop_assert!(!loose.is_at_least_as_private_as(&server));
        }
        if server.tracking_plan.events.values().any(|e| !e.enabled) {
            let mut loose = merged.clone();
            loose.tracking_plan = TrackingPlan::default();
            prop_assert!(!loose.is_at_least_as_private_as(&server));
        }
    }
}

#[test]
fn the_issue_example_a_page_cannot_loosen_the_privacy_team() {
    // The privacy team: anonymize IPs, never store `email`, opt-in consent.
    let server = PrivacySettings {
        property_deny_list: vec!["email".into()],
        consent_mode: ConsentMode::OptIn,
        ..PrivacySettings::default()
    };
    // A page that wants raw IPs, lists `email` in its plan and runs opt-out.
    let mut page = Config::default();
    page.privacy.anonymize_ip = false;
    page.consent.mode = Some(LocalMode::OptOut);
    page.events.insert(
        "signup".into(),
        EventSpec {
            properties: Some(vec!["email".into(), "plan".into()]),
            ..EventSpec::default()
        },
    );
    let mut effective = page.clone();
    server.merge_into(&mut effective);
    assert!(effective.privacy.anonymize_ip);
    assert_eq!(effective.consent_mode(), LocalMode::OptIn);
    assert!(effective.privacy.property_deny_list.iter().any(|n| n == "email"));
    assert_eq!(
        effective.events["signup"].properties.as_deref(),
        Some(&["email".to_string(), "plan".to_string()][..]),
        "the plan still lists it; the deny list (applied after the plan) removes it"
    );
}
