//! Persisted formats, version 1: the embedded store's intake log and database as footfall 0.1.0
//! left them after a crash (the golden fixture in `engine/tests/fixtures/persisted/v1/intake/`,
//! see the README there) are read by this version — every acknowledged event, identity link and
//! dead letter is in the store once after the load — also when a newer version added what this
//! one does not know (the rollback direction). A change that breaks these tests needs a
//! migration and a `v2` fixture, never an edit of `v1`.
//!
//! The fixture: `database/` is DuckDB's `EXPORT DATABASE` (schema version 2, `intake_state` with
//! `loaded_seq` 1, the events of write 1), imported here into a new database file (a DuckDB file
//! is large and tied to DuckDB's storage version); `intake/` holds the log segments: write 1's
//! (already loaded: a crash before its segment was deleted; replay must skip it) and writes 2
//! and 3 (acknowledged, never loaded). `write_intake_v1_fixture` (ignored) is the generator,
//! kept for the next version's fixture; it writes to `$FOOTFALL_FIXTURE_OUT`, never over an
//! existing dir.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use footfall_engine::store::{DeadLetter, DuckDbStore, EventRow, IdentityLink, Store, WriteBatch};
use serde_json::{Value, json};

const CHILD: &str = "FOOTFALL_PERSISTED_V1_CHILD";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/persisted/v1/intake")
}

fn event(project: &str, id: &str, event: &str, ts: i64, properties: Value) -> EventRow {
    EventRow {
        project_id: project.into(),
        message_id: id.into(),
        kind: "track".into(),
        event: event.into(),
        ts,
        received_at: ts + 250,
        sent_at: Some(ts + 200),
        original_timestamp: Some("2025-11-28T10:00:00.000Z".into()),
        anonymous_id: Some("anon-ü-1".into()),
        user_id: (id.ends_with('2')).then(|| "user-ü-42".into()),
        session_id: Some("s_1764324000000_b3e8ba5a".into()),
        group_id: None,
        browser: Some("Firefox".into()),
        os: Some("Linux".into()),
        device_type: Some("desktop".into()),
        is_bot: id.ends_with('3'),
        ip: Some("203.0.113.0".into()),
        properties: properties.to_string(),
        traits: "{}".into(),
        context: json!({"library": {"name": "footfall-js", "version": "0.1.0"}, "locale": "de-CH"})
            .to_string(),
    }
}

/// The three writes of the fixture, in order (log seq 1, 2, 3).
fn writes() -> Vec<WriteBatch> {
    let t = 1_764_324_000_000;
    let link = |anon: &str, user: &str| IdentityLink {
        project_id: "p1".into(),
        anonymous_id: anon.into(),
        user_id: user.into(),
        linked_at: t,
    };
    vec![
        WriteBatch {
            events: vec![
                event(
                    "p1",
                    "m-001",
                    "Bestellung abgeschlossen",
                    t,
                    json!({"städte": ["Zürich", "東京"], "price": 12.5}),
                ),
                event(
                    "p1",
                    "m-002",
                    "page_view",
                    t + 1,
                    json!({"url": "https://shop.example/ä?q=ß"}),
                ),
            ],
            links: vec![link("anon-ü-1", "user-ü-42")],
            dead_letters: Vec::new(),
        },
        WriteBatch {
            events: vec![
                event(
                    "p1",
                    "m-011",
                    "large upload",
                    t + 10,
                    json!({"blob": "Größe-漢字-🙂 ".repeat(300)}),
                ),
                event(
                    "p2",
                    "m-012",
                    "emoji 🙂👍🏽",
                    t + 11,
                    json!({"escapes": "\"q\" \\ \n\t\u{1}", "big": 9_007_199_254_740_993u64}),
                ),
                event("p2", "m-013", "bot visit", t + 12, json!({})),
            ],
            links: Vec::new(),
            dead_letters: Vec::new(),
        },
        WriteBatch {
            events: vec![event(
                "p1",
                "m-021",
                "$identify",
                t + 20,
                json!({"nested": {"a": [true, null, 1e300]}}),
            )],
            links: vec![link("anon-ü-2", "user-ü-42")],
            dead_letters: vec![DeadLetter {
                project_id: Some("p1".into()),
                received_at: t + 21,
                reason: "invalid: `event` is required".into(),
                message_id: Some("m-bad".into()),
                payload: r#"{"type":"track","messageId":"m-bad","properties":{"ü":1}}"#.into(),
            }],
        },
    ]
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir.join("intake")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A new database in `dir` from the fixture's export, and the fixture's intake log.
fn restore_fixture(dir: &Path) {
    let db = duckdb::Connection::open(dir.join("footfall.duckdb")).unwrap();
    let export = fixture_dir().join("database");
    let sql = |name: &str| std::fs::read_to_string(export.join(name)).unwrap();
    db.execute_batch(&sql("schema.sql")).unwrap();
    // load.sql names the CSV files by the path they were exported to.
    let load = sql("load.sql").replace("'database/", &format!("'{}/", export.display()));
    db.execute_batch(&load).unwrap();
    drop(db);
    copy_files(&fixture_dir().join("intake"), &dir.join("intake"));
}

async fn rows(store: &DuckDbStore, sql: &str) -> Vec<Vec<Value>> {
    store.query(sql).await.unwrap().rows
}

/// The columns of `events` an [`EventRow`] fills, in its order.
const COLUMNS: &str = "project_id, message_id, type, event, ts, received_at, sent_at, original_timestamp, \
     anonymous_id, user_id, session_id, group_id, browser, os, device_type, is_bot::INTEGER, ip, \
     properties, traits, context";

/// Every event, link and dead letter of the fixture's writes is in the store once, as written.
async fn assert_everything_loaded_once(store: &DuckDbStore) {
    let stored = rows(store, &format!("SELECT {COLUMNS} FROM events")).await;
    let by_id: HashMap<String, &Vec<Value>> = stored
        .iter()
        .map(|r| (r[1].as_str().unwrap().to_string(), r))
        .collect();
    let all: Vec<EventRow> = writes().into_iter().flat_map(|w| w.events).collect();
    assert_eq!(stored.len(), all.len(), "each event once: {stored:?}");
    for e in &all {
        let r = by_id
            .get(&e.message_id)
            .unwrap_or_else(|| panic!("{} missing", e.message_id));
        // Every column as written (the JSON texts byte-for-byte).
        let want = json!([
            e.project_id,
            e.message_id,
            e.kind,
            e.event,
            e.ts,
            e.received_at,
            e.sent_at,
            e.original_timestamp,
            e.anonymous_id,
            e.user_id,
            e.session_id,
            e.group_id,
            e.browser,
            e.os,
            e.device_type,
            i64::from(e.is_bot),
            e.ip,
            e.properties,
            e.traits,
            e.context
        ]);
        assert_eq!(r.len(), want.as_array().unwrap().len());
        let names = COLUMNS.split(", ");
        for ((got, want), name) in r.iter().zip(want.as_array().unwrap()).zip(names) {
            assert_eq!(got, want, "{}: {name}", e.message_id);
        }
    }
    let links = rows(
        store,
        "SELECT anonymous_id, user_id FROM identities ORDER BY anonymous_id",
    )
    .await;
    assert_eq!(
        links,
        vec![
            vec![json!("anon-ü-1"), json!("user-ü-42")],
            vec![json!("anon-ü-2"), json!("user-ü-42")]
        ]
    );
    let dead = rows(store, "SELECT message_id, reason, payload FROM dead_letters").await;
    let d = &writes()[2].dead_letters[0];
    assert_eq!(
        dead,
        vec![vec![json!("m-bad"), json!(d.reason), json!(d.payload)]]
    );
    let state = rows(store, "SELECT loaded_seq FROM intake_state").await;
    assert_eq!(state, vec![vec![json!(3)]]);
}

#[tokio::test]
async fn a_v1_intake_log_and_database_load_every_acknowledged_event_once() {
    let dir = tempfile::tempdir().unwrap();
    restore_fixture(dir.path());
    assert_eq!(
        segments(dir.path()).len(),
        2,
        "write 1's loaded segment and writes 2-3's"
    );
    let store = DuckDbStore::open(dir.path()).unwrap();
    store.migrate().await.unwrap();
    assert_everything_loaded_once(&store).await;
    let version = rows(&store, "SELECT max(version) FROM schema_version").await;
    assert_eq!(version, vec![vec![json!(2)]]);
    assert!(segments(dir.path()).is_empty(), "loaded segments are deleted");
    // The dedupe set knows every replayed event.
    let again = store.write(writes().remove(1)).await.unwrap();
    assert_eq!((again.inserted, again.duplicates.len()), (0, 3));
}

/// An intake record as this version writes it (see `store/duckdb/intake.rs`), with `extra`
/// bytes after the payload, as a newer version that appends a section would write it.
fn record(seq: u64, events: &[EventRow], extra: &[u8]) -> Vec<u8> {
    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    fn put_opt(b: &mut Vec<u8>, s: &Option<String>) {
        match s {
            Some(s) => {
                b.push(1);
                put_str(b, s);
            }
            None => b.push(0),
        }
    }
    let mut body = seq.to_le_bytes().to_vec();
    body.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for e in events {
        for s in [&e.project_id, &e.message_id, &e.kind, &e.event] {
            put_str(&mut body, s);
        }
        body.extend_from_slice(&e.ts.to_le_bytes());
        body.extend_from_slice(&e.received_at.to_le_bytes());
        match e.sent_at {
            Some(v) => {
                body.push(1);
                body.extend_from_slice(&v.to_le_bytes());
            }
            None => body.push(0),
        }
        for s in [
            &e.original_timestamp,
            &e.anonymous_id,
            &e.user_id,
            &e.session_id,
            &e.group_id,
            &e.browser,
            &e.os,
            &e.device_type,
        ] {
            put_opt(&mut body, s);
        }
        body.push(e.is_bot as u8);
        put_opt(&mut body, &e.ip);
        for s in [&e.properties, &e.traits, &e.context] {
            put_str(&mut body, s);
        }
    }
    body.extend_from_slice(&0u32.to_le_bytes()); // links
    body.extend_from_slice(&0u32.to_le_bytes()); // dead letters
    body.extend_from_slice(extra);
    let mut out = b"FFI1".to_vec();
    out.extend_from_slice(&((body.len() - 8) as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend(body);
    out
}

#[tokio::test]
async fn a_v1_store_with_a_newer_versions_additions_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    restore_fixture(dir.path());
    // The newer version migrated the schema (a column and a table this version does not know)…
    let db = duckdb::Connection::open(dir.path().join("footfall.duckdb")).unwrap();
    db.execute_batch(
        "ALTER TABLE events ADD COLUMN country TEXT; ALTER TABLE identities ADD COLUMN source TEXT;
         CREATE TABLE future_things (id INTEGER); INSERT INTO schema_version VALUES (3, 0);",
    )
    .unwrap();
    drop(db);
    // …and logged a write whose record carries a section after the payload.
    let newer = event(
        "p1",
        "m-031",
        "from the future",
        1_764_324_100_000,
        json!({"ü": 1}),
    );
    let segment = dir.path().join("intake").join(format!("{:020}.log", 4));
    std::fs::write(
        &segment,
        record(4, std::slice::from_ref(&newer), b"\x01\x02future section"),
    )
    .unwrap();

    let store = DuckDbStore::open(dir.path()).unwrap();
    store.migrate().await.unwrap();
    let version = rows(&store, "SELECT max(version) FROM schema_version").await;
    assert_eq!(version, vec![vec![json!(3)]], "a newer schema is left as it is");
    let got = rows(&store, "SELECT properties FROM events WHERE message_id = 'm-031'").await;
    assert_eq!(
        got,
        vec![vec![json!(newer.properties)]],
        "the newer record is loaded"
    );
    let count = rows(&store, "SELECT count(*) FROM events").await;
    assert_eq!(count, vec![vec![json!(7)]]);
    assert!(segments(dir.path()).is_empty());
}

/// The crash halves of the generator, run in child processes: `a` logs write 1 and exits before
/// the loader ran; `load` opens the store (which loads the log) and exits; `bc` logs writes 2
/// and 3 and exits before the loader ran.
#[tokio::test]
#[ignore = "a child of write_intake_v1_fixture; does nothing on its own"]
async fn intake_v1_child() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let (step, dir) = spec.split_once(':').unwrap();
    let store = DuckDbStore::open(dir).unwrap();
    store.migrate().await.unwrap();
    let mut writes = writes();
    match step {
        "a" => {
            store.write(writes.remove(0)).await.unwrap();
        }
        "load" => {
            let n = rows(&store, "SELECT count(*) FROM events").await;
            assert_eq!(n, vec![vec![json!(2)]]);
            drop(store);
            std::thread::sleep(std::time::Duration::from_millis(200));
            println!("acknowledged");
            return;
        }
        _ => {
            for w in writes.drain(1..) {
                store.write(w).await.unwrap();
            }
        }
    }
    println!("acknowledged");
    // No destructor runs: the loader (LOAD_INTERVAL 1 s) has not moved the writes yet.
    std::process::exit(0);
}

fn run_child(step: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "intake_v1_child", "--ignored", "--nocapture"])
        .env(CHILD, format!("{step}:{}", dir.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("acknowledged"),
        "child {step} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes the v1 intake fixture (run once, with today's code):
/// `FOOTFALL_FIXTURE_OUT=/tmp/intake cargo test -p footfall-engine --test persisted_v1 -- --ignored --exact write_intake_v1_fixture`.
#[tokio::test]
#[ignore = "generator of engine/tests/fixtures/persisted/v1/intake; run by hand for a new version"]
async fn write_intake_v1_fixture() {
    let out = PathBuf::from(std::env::var("FOOTFALL_FIXTURE_OUT").expect("FOOTFALL_FIXTURE_OUT"));
    assert!(
        !out.exists(),
        "{} exists: fixtures are never overwritten",
        out.display()
    );
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    run_child("a", dir);
    let first = segments(dir);
    assert_eq!(
        first.len(),
        1,
        "write 1 unloaded (rerun if the machine stalled the child)"
    );
    let first_bytes = std::fs::read(&first[0]).unwrap();
    run_child("load", dir);
    assert!(segments(dir).is_empty(), "write 1 loaded");
    run_child("bc", dir);
    assert_eq!(segments(dir).len(), 1, "writes 2 and 3 unloaded, in one segment");
    // A crash after write 1's load committed, before its segment was deleted.
    std::fs::write(&first[0], first_bytes).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    copy_files(&dir.join("intake"), &out.join("intake"));
    // The database as the crash left it (its WAL replayed), exported.
    let db = duckdb::Connection::open(dir.join("footfall.duckdb")).unwrap();
    let export = out.join("database");
    db.execute_batch(&format!("EXPORT DATABASE '{}' (FORMAT csv)", export.display()))
        .unwrap();
    // load.sql names the files by absolute path: made relative (`restore_fixture` resolves it).
    let load = std::fs::read_to_string(export.join("load.sql")).unwrap();
    let load = load.replace(&format!("'{}/", export.display()), "'database/");
    std::fs::write(export.join("load.sql"), load).unwrap();
}
