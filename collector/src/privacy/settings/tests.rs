use super::*;

#[test]
fn merge_patch_follows_rfc_7386() {
    let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
    merge_patch(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [2, 3], "f": "x"}));
    assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [2, 3], "f": "x"}));
}

#[test]
fn diff_lists_changed_leaves() {
    let mut out = Vec::new();
    diff(
        "",
        &json!({"a": true, "r": {"x": 1, "y": 2}, "l": ["p"]}),
        &json!({"a": true, "r": {"x": 1, "y": 3}, "l": ["p", "q"]}),
        &mut out,
    );
    let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["l", "r.y"]);
    assert_eq!(out[1].old, json!(2));
    assert_eq!(out[1].new, json!(3));
}

#[test]
fn parse_errors_name_the_field() {
    let e = parse_settings(json!({"retention": {"events_days": "soon"}})).unwrap_err();
    assert!(e.starts_with("retention.events_days:"), "{e}");
    let e = parse_settings(json!({"anonymise_ip": true})).unwrap_err();
    assert!(e.contains("anonymise_ip"), "{e}");
    let e = check(&PrivacySettings {
        pii_patterns: vec!["ok".into(), "(".into()],
        ..PrivacySettings::default()
    })
    .unwrap_err();
    assert_eq!(e.field, "pii_patterns[1]");
}

#[test]
fn etags_follow_the_public_json() {
    let a = Effective::new(PrivacySettings::default(), None, Meta::default()).unwrap();
    let b = Effective::new(PrivacySettings::default(), Some("salt".into()), Meta::default()).unwrap();
    assert_eq!(a.etag, b.etag, "the salt is not part of the public settings");
    assert!(!a.public_json.contains("salt"));
    let c = Effective::new(
        PrivacySettings {
            respect_dnt: true,
            ..PrivacySettings::default()
        },
        None,
        Meta::default(),
    )
    .unwrap();
    assert_ne!(a.etag, c.etag);
    assert!(new_salt().len() == 64 && new_salt() != new_salt());
}
