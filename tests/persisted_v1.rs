//! Persisted formats, version 1: a data dir written by footfall 0.1.0 (the golden fixture in
//! `tests/fixtures/persisted/v1/native/`, see the README there) is read by this version — every
//! queued event delivered once with its messageId and its JSON byte-for-byte, identity, session,
//! consent choices and the last known privacy settings restored — also when a newer version
//! added what this one does not know (the rollback direction). A change that breaks these tests
//! needs a migration and a `v2` fixture, never an edit of `v1`.
//!
//! `write_native_v1_fixture` (ignored) is the generator the fixture was made with, kept for the
//! next version's fixture: it writes to `$FOOTFALL_FIXTURE_OUT` and never over an existing dir.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use footfall::delivery::Delivery;
use footfall::native::{BoxFuture, FileStore, Transport};
use footfall::settings_fetch::{SettingsRequest, SettingsResponse};
use footfall::store::{Store, StoredMessage};
use footfall::testing::{ManualClock, SeededRng};
use footfall::{BlockingClient, DropReason, Event};
use serde_json::{Value, json};
use support::transport::{FakeCollector, Mode, builder, poll_until};

/// The configuration the fixture was written with (and is read with).
fn config() -> Value {
    json!({"consent": {"mode": "opt_in", "categories": ["necessary", "analytics", "marketing"]}})
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/persisted/v1/native")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What the fixture holds (`expected.json`, written with it).
struct Expected {
    messages: Vec<StoredMessage>,
    anonymous_id: String,
    user_id: String,
    session_id: String,
    last_activity: u64,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    Expected {
        messages: serde_json::from_value(v["messages"].clone()).unwrap(),
        anonymous_id: v["anonymousId"].as_str().unwrap().into(),
        user_id: v["userId"].as_str().unwrap().into(),
        session_id: v["sessionId"].as_str().unwrap().into(),
        last_activity: v["lastActivity"].as_u64().unwrap(),
    }
}

/// Batch bodies with each message's spliced `"sentAt":"…",` taken out: what remains of a
/// message is its stored JSON, byte-for-byte.
fn without_sent_at(bodies: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for body in bodies {
        let text = std::str::from_utf8(body).unwrap();
        let mut rest = text;
        const FIELD: &str = "\"sentAt\":\"";
        while let Some(i) = rest.find(FIELD) {
            let after = &rest[i + FIELD.len()..];
            // A 24-character RFC 3339 time and its quote; a message's is followed by a comma.
            if after.as_bytes().get(25) == Some(&b',') {
                out.push_str(&rest[..i]);
                rest = &after[26..];
            } else {
                out.push_str(&rest[..i + FIELD.len()]);
                rest = after;
            }
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// Opens a copy of the fixture (changed by `edit`) with a client, and checks that every queued
/// event of the fixture is delivered once, byte-for-byte, and that identity, session, consent
/// and the privacy settings are restored; `extra`: the messageIds `edit` added. Returns the
/// collector, the data dir, what the fixture holds and the client.
fn deliver_fixture(
    edit: impl FnOnce(&Path),
    extra: &[&str],
) -> (Arc<FakeCollector>, tempfile::TempDir, Expected, BlockingClient) {
    let expected = expected();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir().join("data"), tmp.path());
    edit(tmp.path());
    let clock = ManualClock::new(expected.last_activity + 60_000);
    let collector = FakeCollector::new(Mode::Accept);
    let client =
        BlockingClient::from_builder(builder(&collector, &clock, config()).data_dir(tmp.path())).unwrap();
    let stats = client.stats();
    assert_eq!(
        stats.restored as usize,
        expected.messages.len() + extra.len(),
        "{stats:?}"
    );
    assert_eq!(stats.store_errors, 0, "{stats:?}");
    assert_eq!(client.flush(), 0, "everything delivered");
    let ids = collector.accepted_ids();
    let mut want: Vec<&str> = expected.messages.iter().map(|m| m.message_id.as_str()).collect();
    want.extend(extra);
    assert_eq!(ids.len(), want.len(), "each once: {ids:?}");
    assert_eq!(
        ids.iter().map(String::as_str).collect::<HashSet<_>>(),
        want.iter().copied().collect::<HashSet<_>>()
    );
    let sent = without_sent_at(&collector.accepted_bodies());
    for m in &expected.messages {
        assert!(
            sent.contains(&m.json),
            "message {} not delivered byte-for-byte:\n{}\nin\n{sent}",
            m.message_id,
            m.json
        );
    }
    assert!(
        !tmp.path().join("slot-1").exists(),
        "the abandoned slot was adopted"
    );
    (collector, tmp, expected, client)
}

/// After the restored queue: new events carry the restored identity, session and consent, and
/// obey the restored privacy settings.
fn check_restored_state(collector: &FakeCollector, expected: &Expected, client: &BlockingClient) {
    let before = collector.accepted().len();
    client.track(
        Event::track("after upgrade")
            .property("secret", 1)
            .property("k", "v"),
    );
    client.track(Event::track("campaign").category("marketing"));
    assert_eq!(client.flush(), 0);
    let accepted = collector.accepted();
    assert_eq!(
        accepted.len(),
        before + 1,
        "the marketing event is denied: {accepted:?}"
    );
    let (_, m) = accepted.last().unwrap();
    assert_eq!(m["event"], "after upgrade");
    assert_eq!(m["anonymousId"], expected.anonymous_id.as_str());
    assert_eq!(m["userId"], expected.user_id.as_str());
    assert_eq!(m["context"]["sessionId"], expected.session_id.as_str(), "{m}");
    assert_eq!(
        m["context"]["consent"]["categoryPreferences"],
        json!({"necessary": true, "analytics": true, "marketing": false}),
        "{m}"
    );
    assert_eq!(
        m["properties"],
        json!({"k": "v"}),
        "the restored privacy settings deny `secret`"
    );
    assert_eq!(client.stats().dropped(DropReason::Consent), 1);
    let settings = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(client.privacy_settings())
        .expect("settings restored");
    assert_eq!(settings.property_deny_list, ["secret"]);
}

#[test]
fn a_v1_data_dir_is_delivered_whole_with_its_identity_consent_and_settings() {
    let (collector, _dir, expected, client) = deliver_fixture(|_| {}, &[]);
    check_restored_state(&collector, &expected, &client);
}

/// The layout of one queue.log record (see `native/file_store/log.rs`).
fn record(payload: &[u8]) -> Vec<u8> {
    let mut out = b"FFQ1".to_vec();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_v1_data_dir_with_a_newer_versions_additions_loses_nothing() {
    let future_id = "future-0000-0000-0000-000000000001";
    let future_json = format!(
        r#"{{"type":"track","event":"from the future","messageId":"{future_id}","anonymousId":"a","timestamp":"2025-11-28T10:00:00.000Z","properties":{{"ü":1}},"futureField":{{"x":[1,2]}}}}"#
    );
    let (collector, _dir, expected, client) = deliver_fixture(
        |dir| {
            // Unknown fields in the state (top level and session) and in the settings record.
            let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
            let state = state.replacen("{", r#"{"v":2,"devices":["x"],"#, 1);
            let state = state.replacen(r#""session":{"#, r#""session":{"future":{"a":1},"#, 1);
            std::fs::write(dir.join("state.json"), state).unwrap();
            let settings = std::fs::read_to_string(dir.join("settings")).unwrap();
            let settings = settings.replacen(
                r#""property_deny_list""#,
                r#""future_setting":{"on":true},"property_deny_list""#,
                1,
            );
            assert!(settings.contains("future_setting"));
            std::fs::write(dir.join("settings"), settings).unwrap();
            // A record type this version does not know (skipped), then a message with a field it
            // does not know (sent as is), and files it does not know (left alone).
            let mut log = std::fs::read(dir.join("queue.log")).unwrap();
            log.extend(record(b"\x07{\"checkpoint\":42}"));
            std::fs::write(dir.join("queue.log"), log).unwrap();
            let mut add = vec![1u8];
            add.extend_from_slice(&expected().last_activity.to_le_bytes());
            for s in [future_id, "analytics"] {
                add.extend_from_slice(&(s.len() as u16).to_le_bytes());
                add.extend_from_slice(s.as_bytes());
            }
            add.extend_from_slice(future_json.as_bytes());
            let mut slot_log = std::fs::read(dir.join("slot-1/queue.log")).unwrap();
            slot_log.extend(record(&add));
            std::fs::write(dir.join("slot-1/queue.log"), slot_log).unwrap();
            std::fs::write(dir.join("journal.v2"), "newer").unwrap();
        },
        &[future_id],
    );
    // deliver_fixture checked the fixture's messages; the newer one came through too, as is.
    let sent = without_sent_at(&collector.accepted_bodies());
    assert!(sent.contains(&future_json), "{sent}");
    check_restored_state(&collector, &expected, &client);
}

/// The transport the fixture was written with: the first batch is accepted (so the log holds
/// removes too), later ones fail; settings are served.
struct GenTransport {
    accept: AtomicBool,
}

impl Transport for GenTransport {
    fn send(&self, _body: Vec<u8>) -> BoxFuture<Delivery> {
        let status = if self.accept.load(Ordering::SeqCst) {
            200
        } else {
            503
        };
        Box::pin(async move { Delivery::status(status) })
    }
    fn fetch_settings(&self, _request: SettingsRequest) -> Option<BoxFuture<SettingsResponse>> {
        Some(Box::pin(async {
            SettingsResponse::Fetched {
                body: r#"{"property_deny_list":["secret"]}"#.into(),
                etag: Some("\"v1-settings\"".into()),
            }
        }))
    }
}

/// Writes the v1 native fixture (run once, with today's code):
/// `FOOTFALL_FIXTURE_OUT=/tmp/native cargo test -p footfall --test persisted_v1 -- --ignored`.
#[test]
#[ignore = "generator of tests/fixtures/persisted/v1/native; run by hand for a new version"]
fn write_native_v1_fixture() {
    let out = PathBuf::from(std::env::var("FOOTFALL_FIXTURE_OUT").expect("FOOTFALL_FIXTURE_OUT"));
    assert!(
        !out.exists(),
        "{} exists: fixtures are never overwritten",
        out.display()
    );
    let data = out.join("data");
    let t0 = 1_764_324_000_000;
    let clock = ManualClock::new(t0);
    let transport = Arc::new(GenTransport {
        accept: AtomicBool::new(true),
    });
    let client = |seed: u64| {
        BlockingClient::from_builder(
            footfall::Client::builder("wk_test")
                .config(footfall::Config::from_value(config()).unwrap())
                .transport(transport.clone())
                .clock(Arc::new(clock.clone()))
                .rng(Box::new(SeededRng::new(seed)))
                .data_dir(&data),
        )
        .unwrap()
    };
    let a = client(101);
    a.grant(&["analytics"]);
    a.deny(&["marketing"]);
    a.track(Event::identify("user-ü-42").trait_value("name", "Zoë Ærøskøbing"));
    a.track(Event::track("delivered before the upgrade"));
    assert_eq!(a.flush(), 0);
    transport.accept.store(false, Ordering::SeqCst);
    clock.advance(1_000);
    a.track(
        Event::track("Bestellung abgeschlossen")
            .property("städte", json!(["Zürich", "東京", "Kraków"]))
            .property("emoji", "🙂👍🏽")
            .property("escapes", "\"quoted\" \\ back\nslash\ttab \u{1} \u{2028}")
            .property("price", 12.5)
            .property("qty", 3)
            .property("big", 9_007_199_254_740_993u64)
            .property("neg", -0.000_1)
            .property("nested", json!({"a": {"b": [true, false, null, 1e300]}})),
    );
    let blob: String = "Größe-漢字-🙂 ".repeat(700);
    a.track(Event::track("large upload").property("blob", blob));
    a.track(Event::page(Some("Startseite")).property("url", "https://shop.example/ä?q=ß"));
    a.track(Event::track("consent banner shown").category("necessary"));
    a.track(Event::track("campaign").category("marketing")); // denied: never stored
    clock.advance(1_000);
    assert_eq!(a.flush(), 4, "the collector fails: all queued");
    // A second client on the same data dir (another worker process) gets slot-1.
    let b = client(202);
    b.track(Event::track("from worker 2").property("€", "€"));
    clock.advance(1_000);
    assert_eq!(b.flush(), 1);
    assert!(data.join("slot-1/queue.log").is_file());
    drop(a);
    drop(b);
    poll_until("both clients to release the data dir", || {
        clock.advance(5_000);
        (!support::lock_held(&data) && !support::lock_held(&data.join("slot-1"))).then_some(())
    });
    // What the fixture holds, read by today's store from a copy (loading compacts and adopts).
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&data, tmp.path());
    let restored = FileStore::open(tmp.path()).unwrap().load().unwrap();
    assert!(restored.warnings.is_empty(), "{:?}", restored.warnings);
    let state = restored.state.unwrap();
    let session = state.session.unwrap();
    let expected = json!({
        "messages": restored.messages,
        "anonymousId": state.anonymous_id,
        "userId": state.user_id,
        "sessionId": session.id,
        "lastActivity": session.last_activity,
    });
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
