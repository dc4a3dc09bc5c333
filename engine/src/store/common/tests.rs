use super::*;

fn link(anon: &str, user: &str, at: i64) -> IdentityLink {
    IdentityLink {
        project_id: "p".into(),
        anonymous_id: anon.into(),
        user_id: user.into(),
        linked_at: at,
    }
}

#[test]
fn reduce_links_keeps_earliest_then_smallest_user() {
    let out = reduce_links(&[
        link("a", "u2", 5),
        link("a", "u1", 7),
        link("b", "z", 3),
        link("b", "y", 3),
    ]);
    assert_eq!(out, vec![link("a", "u2", 5), link("b", "y", 3)]);
}

#[test]
fn identity_keys_are_sha256_prefixes() {
    // Reference values: Python `struct.unpack('>q', hashlib.sha256(s.encode()).digest()[:8])`,
    // then bit 1 set and bit 0 cleared.
    let reference: [(&str, i64); 4] = [
        ("bob", -9100024591961372966),
        ("", -2039914840885289964),
        ("héllo", 4343819824053979717),
        ("a:x", -1189437735768050955),
    ];
    for (s, h) in reference {
        assert_eq!(id_key(s), (h & -4) | 2, "{s:?}");
        assert_eq!(id_key(s) & 3, 2, "even, never 0: {s:?}");
    }
    assert_ne!(id_key("bob"), id_key("bob "));
}

#[test]
fn raw_identity_key_separates_user_and_anonymous_ids() {
    // A user id's key is odd, an anonymous id's even: the same string as a user id and as
    // an anonymous id gives two raw keys that differ only in bit 0 (the person's key).
    assert_eq!(rid_key(Some("x"), Some("a1")), id_key("x") | 1);
    assert_eq!(rid_key(None, Some("x")), id_key("x"));
    assert_ne!(rid_key(Some("x"), None), rid_key(None, Some("x")));
    assert_eq!(rid_key(Some("x"), None) & -2, rid_key(None, Some("x")));
    // An empty user id is no user id; no id at all is no person.
    assert_eq!(rid_key(Some(""), Some("a1")), id_key("a1"));
    assert_eq!(rid_key(Some(""), Some("")), 0);
    assert_eq!(rid_key(None, None), 0);
}

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_location("postgres://u:secret@h:5/db"),
        "postgres://u:***@h:5/db"
    );
    assert_eq!(
        redact_location("http://h:8123/db?user=a&password=x"),
        "http://h:8123/db?user=a&password=***"
    );
    assert_eq!(redact_location("/var/lib/footfall"), "/var/lib/footfall");
}

#[test]
fn formats_dates_and_timestamps() {
    assert_eq!(date_text(0), "1970-01-01");
    assert_eq!(
        timestamp_text(86_400_000_000 + 1_500_000),
        "1970-01-02 00:00:01.500000"
    );
    assert_eq!(timestamp_text(-1_000_000), "1969-12-31 23:59:59");
}
