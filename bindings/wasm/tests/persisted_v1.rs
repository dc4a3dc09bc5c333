//! Persisted formats, version 1, at the core level: the `localStorage` snapshot footfall 0.1.0
//! wrote in Chromium (tests/fixtures/persisted/v1/browser, see the README there; the browser
//! half is js/test/persisted-v1.test.mjs) restored through this version's `KvStore` into a core
//! in a new tab that adopts both dead tabs' partitions: every queued message is sent once,
//! byte-for-byte as stored, identity and consent restored; unknown fields a newer version
//! added are ignored (the rollback direction). Runs natively (`cargo test -p footfall-wasm`)
//! and on wasm32 (the fixture is compiled in).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use footfall::json::{Value, parse};
use footfall::testing::SeededRng;
use footfall::{ConsentDecision, Core, Delivery, Event};
use footfall_wasm::kv_store::{Kv, KvStore, MemoryKv, StoreHandle, partitions, prefix};
use footfall_wasm::options;

const SNAPSHOT: &str = include_str!("../../../tests/fixtures/persisted/v1/browser/localStorage.json");
const EXPECTED: &str = include_str!("../../../tests/fixtures/persisted/v1/browser/expected.json");
/// Long after the snapshot was written (2026-11-29): `max_age` is raised by the options.
const NOW: u64 = 1_900_000_000_000;
const OPTIONS: &str = r#"{"writeKey":"wk_test","consent":{"mode":"opt_in"},"delivery":{"max_age":1e10}}"#;

fn kv_of(snapshot: &str) -> MemoryKv {
    let kv = MemoryKv::default();
    for (key, value) in parse(snapshot).unwrap().as_object().unwrap() {
        kv.set(key, value.as_str().unwrap()).unwrap();
    }
    kv
}

fn expected_ids() -> Vec<String> {
    let expected = parse(EXPECTED).unwrap();
    let ids = expected["messageIds"].as_array().unwrap();
    ids.iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// A new tab's core on `kv` that adopts every partition found (their tabs are gone), as the
/// host does at startup.
fn new_tab(kv: &MemoryKv) -> (Core, StoreHandle) {
    let config = options::parse_options(OPTIONS, Some("https://shop.example"))
        .unwrap()
        .config;
    let dead = partitions(kv, &prefix("wk_test"));
    assert_eq!(dead.len(), 2, "two tabs' partitions");
    let (store, handle) = KvStore::new(
        Box::new(kv.clone()),
        None,
        prefix("wk_test"),
        "new-tab".into(),
        dead,
        false,
    );
    let core = Core::new(config, Box::new(store), Box::new(SeededRng::new(7)), NOW).unwrap();
    (core, handle)
}

/// Sends everything queued; returns each message's JSON as sent, without its `sentAt`.
fn send_all(core: &mut Core) -> Vec<String> {
    core.flush();
    let mut sent = Vec::new();
    while let Some(batch) = core.poll_batch(NOW) {
        let body = parse(std::str::from_utf8(&batch.body).unwrap()).unwrap();
        for m in body["batch"].as_array().unwrap() {
            let mut m = m.clone();
            if let Value::Object(fields) = &mut m {
                assert!(fields.remove("sentAt").is_some());
            }
            sent.push(m.to_json());
        }
        core.report(batch.id, Delivery::status(200), NOW);
    }
    sent
}

fn id_of(json: &str) -> String {
    parse(json).unwrap()["messageId"].as_str().unwrap().to_string()
}

/// Restores `snapshot`, checks identity and consent, and returns the messages sent.
fn restore(snapshot: &str) -> Vec<String> {
    let kv = kv_of(snapshot);
    let (mut core, handle) = new_tab(&kv);
    let expected = parse(EXPECTED).unwrap();
    assert_eq!(core.anonymous_id(), expected["anonymousId"].as_str().unwrap());
    assert_eq!(core.user_id(), expected["userId"].as_str());
    assert_eq!(core.consent_decision("analytics"), ConsentDecision::Granted);
    assert_eq!(core.consent_decision("marketing"), ConsentDecision::Denied);
    let sent = send_all(&mut core);
    let mut ids: Vec<String> = sent.iter().map(|m| id_of(m)).collect();
    let mut want = expected_ids();
    ids.sort();
    want.sort();
    assert_eq!(ids, want, "every queued message once");
    // New events: the restored identity and privacy settings (`secret` is denied).
    core.track(
        Event::track("after upgrade")
            .property("secret", 1)
            .property("k", "v"),
        NOW,
    );
    let fresh = send_all(&mut core);
    assert_eq!(fresh.len(), 1);
    let fresh = parse(&fresh[0]).unwrap();
    assert_eq!(fresh["anonymousId"].as_str(), expected["anonymousId"].as_str());
    assert_eq!(fresh["properties"].to_json(), r#"{"k":"v"}"#);
    handle.commit().unwrap();
    assert!(
        kv.all_keys().iter().all(|k| !k.contains(".q.")),
        "nothing left queued"
    );
    sent
}

#[test]
fn a_v1_snapshot_is_sent_whole_byte_for_byte() {
    let sent = restore(SNAPSHOT);
    // Byte-for-byte: each message as sent is the text stored in its chunk.
    let chunks: String = kv_of(SNAPSHOT)
        .all_keys()
        .iter()
        .filter(|k| k.contains(".q."))
        .map(|k| kv_of(SNAPSHOT).get(k).unwrap())
        .collect();
    for m in &sent {
        assert!(
            chunks.contains(&format!("\"message\":{m}}}")),
            "not as stored: {m}"
        );
    }
}

#[test]
fn a_v1_snapshot_with_a_newer_versions_fields_loses_nothing() {
    // Unknown fields in the state (top level, session), in every chunk item and in every
    // message: ignored where they are the store's, sent as is where they are the message's.
    let snapshot = SNAPSHOT
        .replace(
            r#"{\"anonymousId\":"#,
            r#"{\"v\":2,\"devices\":[1],\"anonymousId\":"#,
        )
        .replace(r#"\"session\":{"#, r#"\"session\":{\"future\":{},"#)
        .replace(r#"\"enqueuedAt\":"#, r#"\"attempts\":3,\"enqueuedAt\":"#)
        .replace(r#"\"message\":{"#, r#"\"message\":{\"futureField\":[1],"#);
    assert!(snapshot.contains(r#"\"v\":2"#) && snapshot.contains("future\\\":{}"));
    let n = expected_ids().len();
    assert_eq!(snapshot.matches("futureField").count(), n);
    let sent = restore(&snapshot);
    assert_eq!(
        sent.iter().filter(|m| m.contains(r#""futureField":[1]"#)).count(),
        n
    );
}
