use footfall::Store;
use footfall::store::{PersistedState, StoredMessageRef};

use super::*;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn msg(id: &str, at: u64) -> (String, u64) {
    (id.to_string(), at)
}

fn append(store: &mut KvStore, items: &[(String, u64)]) {
    let json: Vec<String> = items
        .iter()
        .map(|(id, _)| format!(r#"{{"messageId":"{id}"}}"#))
        .collect();
    let refs: Vec<StoredMessageRef<'_>> = items
        .iter()
        .zip(&json)
        .map(|((id, at), j)| StoredMessageRef {
            message_id: id,
            category: "analytics",
            enqueued_at: *at,
            json: j,
        })
        .collect();
    store.append(&refs).unwrap();
}

fn ids(restored: &Restored) -> Vec<&str> {
    restored.messages.iter().map(|m| m.message_id.as_str()).collect()
}

fn closed_store(kv: &MemoryKv) -> (KvStore, StoreHandle) {
    KvStore::new(
        Box::new(kv.clone()),
        None,
        prefix("wk"),
        "t".into(),
        vec![],
        false,
    )
}

fn open_store(kv: &MemoryKv, tab: &str, adopted: &[&str]) -> (KvStore, StoreHandle) {
    let adopted = adopted.iter().map(|s| s.to_string()).collect();
    KvStore::new(
        Box::new(kv.clone()),
        None,
        prefix("wk"),
        tab.into(),
        adopted,
        true,
    )
}

#[test]
fn messages_survive_a_restart_in_order_one_key_each() {
    let kv = MemoryKv::default();
    let (mut a, handle) = open_store(&kv, "t1", &[]);
    a.load().unwrap();
    append(&mut a, &[msg("m1", 10), msg("m2", 10), msg("m3", 11)]);
    assert!(kv.all_keys().is_empty(), "writes wait for the commit");
    assert!(handle.needs_commit());
    handle.commit().unwrap();
    assert_eq!(
        kv.all_keys()
            .iter()
            .filter(|k| k.starts_with("footfall.wk.q.t1."))
            .count(),
        1,
        "one chunk per burst"
    );
    a.remove(&["m2"]).unwrap();
    handle.commit().unwrap();
    assert!(!handle.needs_commit());
    assert_eq!(partitions(&kv, &prefix("wk")), vec!["t1".to_string()]);
    assert_eq!(partition_ages(&kv, &prefix("wk")), vec![("t1".to_string(), 11)]);

    let (mut again, h2) = open_store(&kv, "t1", &[]);
    let restored = again.load().unwrap();
    assert_eq!(ids(&restored), ["m1", "m3"]);
    // New chunks continue after the restored sequence numbers (no overwrite).
    append(&mut again, &[msg("m4", 12)]);
    h2.commit().unwrap();
    assert_eq!(kv.all_keys().iter().filter(|k| k.contains(".q.")).count(), 2);
    // A restored chunk rewritten after a partial removal stays readable.
    again.remove(&["m1"]).unwrap();
    h2.commit().unwrap();
    let (mut third, _) = open_store(&kv, "t1", &[]);
    let restored = third.load().unwrap();
    assert_eq!(ids(&restored), ["m3", "m4"]);
    assert!(restored.warnings.is_empty(), "{:?}", restored.warnings);
    assert_eq!(
        restored.messages[0].json, r#"{"messageId":"m3"}"#,
        "the message JSON round-trips"
    );
}

#[test]
fn a_tab_loads_only_the_partitions_it_owns() {
    let kv = MemoryKv::default();
    let (mut a, ha) = open_store(&kv, "ta", &[]);
    a.load().unwrap();
    append(&mut a, &[msg("a1", 1)]);
    ha.commit().unwrap();
    let (mut b, hb) = open_store(&kv, "tb", &[]);
    assert!(
        b.load().unwrap().messages.is_empty(),
        "tab b must not see tab a's events"
    );
    append(&mut b, &[msg("b1", 2)]);
    hb.commit().unwrap();

    // Tab a died; tab c adopts its partition and also sees nothing of the live tab b.
    let (mut c, hc) = open_store(&kv, "tc", &["ta"]);
    let restored = c.load().unwrap();
    assert_eq!(ids(&restored), ["a1"]);
    c.remove(&["a1"]).unwrap();
    hc.commit().unwrap();
    assert!(
        kv.get("footfall.wk.q.ta.0").is_none(),
        "the adopter removes adopted events once sent"
    );
    let mut parts = partitions(&kv, &prefix("wk"));
    parts.sort();
    assert_eq!(parts, ["tb"]);
}

#[test]
fn a_closed_store_writes_nothing_until_opened() {
    let kv = MemoryKv::default();
    let (mut s, handle) = closed_store(&kv);
    s.load().unwrap();
    let state = PersistedState {
        anonymous_id: Some("anon".into()),
        ..Default::default()
    };
    s.save_state(&state).unwrap();
    append(&mut s, &[msg("n1", 1), msg("n2", 2)]);
    s.remove(&["n1"]).unwrap();
    handle.commit().unwrap();
    assert!(
        kv.all_keys().is_empty(),
        "nothing may be written before consent: {:?}",
        kv.all_keys()
    );
    assert!(!handle.is_open());

    handle.open().unwrap();
    assert!(kv.get("footfall.wk.state").unwrap().contains("anon"));
    let (mut again, _) = open_store(&kv, "t", &[]);
    assert_eq!(ids(&again.load().unwrap()), ["n2"]);
}

#[test]
fn a_stored_consent_choice_opens_the_store_at_load() {
    let kv = MemoryKv::default();
    let mut state = PersistedState::default();
    state.consent.insert("analytics".into(), true);
    kv.set("footfall.wk.state", &state.to_json()).unwrap();
    let (mut s, handle) = closed_store(&kv);
    assert!(!handle.is_open());
    assert!(s.load().unwrap().state.is_some());
    assert!(handle.is_open());
}

#[test]
fn unreadable_records_are_skipped_with_a_warning() {
    let kv = MemoryKv::default();
    kv.set("footfall.wk.state", "{not json").unwrap();
    kv.set("footfall.wk.q.t.0", "garbage").unwrap();
    kv.set("footfall.wk.q.t.1", r#"{"not":"an array"}"#).unwrap();
    let (mut s, _) = open_store(&kv, "t", &[]);
    let restored = s.load().unwrap();
    assert!(restored.state.is_none());
    assert!(restored.messages.is_empty());
    assert_eq!(restored.warnings.len(), 3, "{:?}", restored.warnings);
    assert!(kv.get("footfall.wk.q.t.0").is_none());
}

#[test]
fn chunks_hold_at_most_chunk_messages_and_delivery_removes_whole_keys() {
    let kv = MemoryKv::default();
    let (mut s, handle) = open_store(&kv, "t", &[]);
    s.load().unwrap();
    let items: Vec<(String, u64)> = (0..250).map(|i| msg(&format!("m{i}"), 1)).collect();
    append(&mut s, &items);
    handle.commit().unwrap();
    let chunks = |kv: &MemoryKv| kv.all_keys().iter().filter(|k| k.contains(".q.")).count();
    assert_eq!(chunks(&kv), 250usize.div_ceil(CHUNK_MESSAGES));
    let first: Vec<String> = (0..2 * CHUNK_MESSAGES).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = first.iter().map(String::as_str).collect();
    s.remove(&refs).unwrap();
    handle.commit().unwrap();
    assert_eq!(
        chunks(&kv),
        (250 - 2 * CHUNK_MESSAGES).div_ceil(CHUNK_MESSAGES),
        "two whole keys removed"
    );
    let (mut again, _) = open_store(&kv, "t", &[]);
    let restored = again.load().unwrap();
    assert_eq!(restored.messages.len(), 250 - 2 * CHUNK_MESSAGES);
    assert_eq!(
        restored.messages[0].message_id,
        format!("m{}", 2 * CHUNK_MESSAGES)
    );
}

#[derive(Clone, Default)]
struct JarCookie(Arc<Mutex<Option<String>>>);
impl Cookie for JarCookie {
    fn get(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
    fn set(&self, value: &str) {
        *self.0.lock().unwrap() = Some(value.to_string());
    }
}

#[test]
fn the_cookie_mirrors_the_state_and_wins_at_load() {
    let kv = MemoryKv::default();
    let jar = JarCookie::default();
    let local = PersistedState {
        anonymous_id: Some("local".into()),
        ..Default::default()
    };
    kv.set("footfall.wk.state", &local.to_json()).unwrap();
    let shared = PersistedState {
        anonymous_id: Some("shared".into()),
        ..Default::default()
    };
    jar.set(&shared.to_json());
    let (mut s, _) = KvStore::new(
        Box::new(kv.clone()),
        Some(Box::new(jar.clone())),
        prefix("wk"),
        "t".into(),
        vec![],
        true,
    );
    let restored = s.load().unwrap();
    assert_eq!(restored.state.unwrap().anonymous_id.as_deref(), Some("shared"));
    let next = PersistedState {
        anonymous_id: Some("next".into()),
        ..Default::default()
    };
    s.save_state(&next).unwrap();
    assert!(jar.get().unwrap().contains("next"));
}

#[test]
fn a_tab_never_overwrites_another_tabs_consent_or_login_with_its_stale_copy() {
    let kv = MemoryKv::default();
    let first = PersistedState {
        anonymous_id: Some("anon".into()),
        ..Default::default()
    };
    kv.set("footfall.wk.state", &first.to_json()).unwrap();
    let (mut a, _) = open_store(&kv, "ta", &[]);
    let (mut b, _) = open_store(&kv, "tb", &[]);
    let loaded_a = a.load().unwrap().state.unwrap();
    let loaded_b = b.load().unwrap().state.unwrap();

    // Tab A: the user grants analytics and logs in.
    let mut in_a = loaded_a.clone();
    in_a.consent.insert("analytics".into(), true);
    in_a.user_id = Some("user_1".into());
    a.save_state(&in_a).unwrap();
    // Tab B saves its (stale) copy with only a session change.
    let mut in_b = loaded_b.clone();
    in_b.session = Some(footfall::store::SessionState {
        id: "s_b".into(),
        started_at: 1,
        last_activity: 2,
    });
    b.save_state(&in_b).unwrap();
    let stored = PersistedState::from_json(&kv.get("footfall.wk.state").unwrap()).unwrap();
    assert_eq!(
        stored.consent.get("analytics"),
        Some(&true),
        "A's grant survives B's save"
    );
    assert_eq!(stored.user_id.as_deref(), Some("user_1"));
    assert_eq!(
        stored.session.as_ref().map(|s| s.id.as_str()),
        Some("s_b"),
        "B's own change is kept"
    );

    // B saves again, still stale: still no overwrite. Then B's user denies: B's change wins.
    b.save_state(&in_b).unwrap();
    let mut revoked = in_b.clone();
    revoked.consent.insert("analytics".into(), false);
    b.save_state(&revoked).unwrap();
    let stored = PersistedState::from_json(&kv.get("footfall.wk.state").unwrap()).unwrap();
    assert_eq!(stored.consent.get("analytics"), Some(&false));
    assert_eq!(stored.user_id.as_deref(), Some("user_1"));
}

#[test]
fn a_closed_store_opens_when_another_tab_records_consent_and_keeps_that_choice() {
    let kv = MemoryKv::default();
    let (mut a, ha) = closed_store(&kv);
    let (mut b, hb) = closed_store(&kv);
    a.load().unwrap();
    b.load().unwrap();
    let b_state = PersistedState {
        anonymous_id: Some("anon_b".into()),
        user_id: Some("u".into()),
        ..Default::default()
    };
    b.save_state(&b_state).unwrap();
    hb.open_if_consented_elsewhere().unwrap();
    assert!(!hb.is_open(), "no consent anywhere yet");
    assert!(kv.all_keys().is_empty());

    let mut a_state = PersistedState {
        anonymous_id: Some("anon_a".into()),
        ..Default::default()
    };
    a_state.consent.insert("analytics".into(), true);
    a.save_state(&a_state).unwrap();
    ha.open().unwrap();
    hb.open_if_consented_elsewhere().unwrap();
    assert!(hb.is_open());
    let stored = PersistedState::from_json(&kv.get("footfall.wk.state").unwrap()).unwrap();
    assert_eq!(
        stored.consent.get("analytics"),
        Some(&true),
        "B's held state did not erase A's grant"
    );
    assert_eq!(stored.user_id.as_deref(), Some("u"), "B's own change is kept");
}

#[test]
fn a_running_tab_adopts_a_partition_and_keeps_appending_to_its_own() {
    let kv = MemoryKv::default();
    let (mut dead, hd) = open_store(&kv, "dead", &[]);
    dead.load().unwrap();
    append(&mut dead, &[msg("d1", 5), msg("d2", 6)]);
    hd.commit().unwrap();
    drop(dead);

    let (mut live, hl) = open_store(&kv, "live", &[]);
    assert!(live.load().unwrap().messages.is_empty());
    append(&mut live, &[msg("l1", 7)]);
    let adopted = hl.adopt("dead");
    assert_eq!(ids(&adopted), ["d1", "d2"]);
    assert!(hl.adopt("dead").messages.is_empty(), "adopted once");
    append(&mut live, &[msg("l2", 8)]);
    hl.commit().unwrap();
    let live_chunk = kv.get("footfall.wk.q.live.0").unwrap();
    assert!(live_chunk.contains("l1") && live_chunk.contains("l2") && !live_chunk.contains("d1"));
    // Delivering the adopted events removes the dead tab's key.
    live.remove(&["d1", "d2"]).unwrap();
    hl.commit().unwrap();
    assert_eq!(partitions(&kv, &prefix("wk")), ["live"]);
}

#[test]
fn stored_state_reads_what_another_tab_saved() {
    let kv = MemoryKv::default();
    let (mut a, _) = open_store(&kv, "ta", &[]);
    let (mut b, hb) = open_store(&kv, "tb", &[]);
    a.load().unwrap();
    b.load().unwrap();
    assert_eq!(hb.stored_state(), None);
    let mut state = PersistedState {
        user_id: Some("u".into()),
        ..Default::default()
    };
    state.consent.insert("analytics".into(), false);
    a.save_state(&state).unwrap();
    assert_eq!(hb.stored_state(), Some(state));
    assert_eq!(hb.state_key(), "footfall.wk.state");
}

#[test]
fn settings_are_written_only_once_storage_is_allowed_and_read_at_load() {
    let kv = MemoryKv::default();
    let (mut s, handle) = closed_store(&kv);
    s.load().unwrap();
    s.save_settings(r#"{"fetchedAt":1,"settings":{}}"#).unwrap();
    assert!(
        kv.all_keys().is_empty(),
        "nothing before consent: {:?}",
        kv.all_keys()
    );
    handle.open().unwrap();
    assert_eq!(
        kv.get("footfall.wk.settings").as_deref(),
        Some(r#"{"fetchedAt":1,"settings":{}}"#)
    );
    let (mut again, _) = open_store(&kv, "t2", &[]);
    again.save_settings(r#"{"fetchedAt":2,"settings":{}}"#).unwrap();
    let restored = again.load().unwrap();
    assert_eq!(
        restored.settings.as_deref(),
        Some(r#"{"fetchedAt":2,"settings":{}}"#)
    );
}

#[test]
fn replace_rewrites_a_queued_message_in_its_place() {
    let kv = MemoryKv::default();
    let (mut s, handle) = open_store(&kv, "t", &[]);
    s.load().unwrap();
    append(&mut s, &[msg("a", 1), msg("b", 2), msg("c", 3)]);
    handle.commit().unwrap();
    let json = r#"{"messageId":"b","rewritten":true}"#;
    s.replace(&[StoredMessageRef {
        message_id: "b",
        category: "analytics",
        enqueued_at: 2,
        json,
    }])
    .unwrap();
    handle.commit().unwrap();
    let (mut again, _) = open_store(&kv, "t", &[]);
    let restored = again.load().unwrap();
    assert_eq!(ids(&restored), ["a", "b", "c"]);
    assert_eq!(restored.messages[1].json, json);
}
