use super::log::{HEADER, MAGIC};
use super::*;
use crate::store::StoredMessage;

fn msg(id: &str) -> StoredMessage {
    StoredMessage {
        message_id: id.into(),
        category: "analytics".into(),
        enqueued_at: 42,
        json: format!(r#"{{"type":"track","messageId":"{id}"}}"#),
    }
}

fn append(store: &mut FileStore, ids: &[&str]) {
    let owned: Vec<StoredMessage> = ids.iter().map(|i| msg(i)).collect();
    let refs: Vec<StoredMessageRef<'_>> = owned.iter().map(StoredMessage::borrowed).collect();
    store.append(&refs).unwrap();
}

fn ids(r: &Restored) -> Vec<&str> {
    r.messages.iter().map(|m| m.message_id.as_str()).collect()
}

#[test]
fn round_trips_state_and_queue_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = FileStore::open(dir.path()).unwrap();
    assert_eq!(s.load().unwrap(), Restored::default());
    let state = PersistedState {
        anonymous_id: Some("a".into()),
        ..Default::default()
    };
    s.save_state(&state).unwrap();
    append(&mut s, &["1", "2", "3"]);
    s.remove(&["2"]).unwrap();
    drop(s);
    let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(restored.state, Some(state));
    assert_eq!(ids(&restored), ["1", "3"]);
    assert_eq!(restored.messages[0], msg("1"));
    assert!(restored.warnings.is_empty());
}

#[test]
fn torn_tail_and_corrupt_middle_are_skipped_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = FileStore::open(dir.path()).unwrap();
    s.load().unwrap();
    append(&mut s, &["1", "2", "3"]);
    drop(s);
    let path = dir.path().join("queue.log");
    let mut bytes = fs::read(&path).unwrap();
    let second = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .nth(1)
        .unwrap()
        .0;
    bytes[second + HEADER + 5] ^= 0xff; // corrupt record 2's payload
    bytes.extend_from_slice(b"FFQ1\x40\x00\x00\x00"); // a torn header at the end
    fs::write(&path, &bytes).unwrap();
    let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(ids(&restored), ["1", "3"]);
    assert_eq!(restored.warnings.len(), 2, "{:?}", restored.warnings);
    // Loading compacted the log: the next load is clean.
    let again = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(ids(&again), ["1", "3"]);
    assert!(again.warnings.is_empty());
}

#[test]
fn garbage_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("queue.log"),
        b"\x00\x01FFQ1FFQ1\xff\xff\xff\xffgarbage",
    )
    .unwrap();
    fs::write(dir.path().join("state.json"), b"{not json").unwrap();
    let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert!(restored.messages.is_empty() && restored.state.is_none());
    assert!(restored.warnings.iter().any(|w| w.contains("state.json")));
}

#[test]
fn compacts_when_removes_dominate() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = FileStore::open(dir.path()).unwrap();
    s.load().unwrap();
    let ids_owned: Vec<String> = (0..1_500).map(|i| i.to_string()).collect();
    let id_refs: Vec<&str> = ids_owned.iter().map(String::as_str).collect();
    append(&mut s, &id_refs);
    let before = fs::metadata(dir.path().join("queue.log")).unwrap().len();
    s.remove(&id_refs[..1_400]).unwrap();
    let after = fs::metadata(dir.path().join("queue.log")).unwrap().len();
    assert!(after < before / 5, "{before} -> {after}");
    append(&mut s, &["new"]);
    drop(s);
    let restored = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(restored.messages.len(), 101);
    assert_eq!(restored.messages.last().unwrap().message_id, "new");
}
