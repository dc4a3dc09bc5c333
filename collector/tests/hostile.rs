//! A corpus of malformed and hostile requests against a real collector on each backend: invalid
//! JSON and UTF-8, wrong types, oversized bodies, gzip bombs, 10,000-deep nesting, SQL-looking and
//! script-tag strings, NUL characters, far-future timestamps. Every one must get a 4xx that names
//! the problem — never a crash or a 5xx — and leave nothing behind but dead letters. Valid
//! messages that merely *contain* SQL or markup are data: stored verbatim, tables intact.

mod common;

use std::io::Write;

use common::{Env, TestServer};
use serde_json::{Value, json};

enum Body {
    Json(Value),
    Raw(Vec<u8>),
    Gzip(Vec<u8>),
}

struct Case {
    name: &'static str,
    path: &'static str,
    key: Option<String>,
    body: Body,
    /// Expected error code or per-message reason (checked when given).
    expect: Option<&'static str>,
}

fn deep(n: usize) -> String {
    "[".repeat(n) + &"]".repeat(n)
}

fn msg(extra: Value) -> Value {
    let mut m = json!({"type": "track", "messageId": uuid::Uuid::new_v4().to_string(), "userId": "u", "event": "e",
                       "timestamp": "2026-11-28T10:00:00.000Z"});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

fn corpus(key: &str) -> Vec<Case> {
    let k = || Some(key.to_string());
    let batch = |m: Value| Body::Json(json!({"batch": [m]}));
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b'['; 64_000_000]).unwrap();
        e.finish().unwrap()
    };
    let mut cases = vec![
        Case { name: "truncated json", path: "/v1/batch", key: k(), body: Body::Raw(b"{\"batch\": [".to_vec()), expect: Some("invalid_json") },
        Case { name: "empty body", path: "/v1/batch", key: k(), body: Body::Raw(Vec::new()), expect: Some("invalid_json") },
        Case { name: "not utf-8", path: "/v1/batch", key: k(), body: Body::Raw(b"\xff\xfe{\"batch\":[]}".to_vec()), expect: Some("invalid_json") },
        Case {
            name: "not utf-8 inside a string",
            path: "/v1/batch",
            key: k(),
            body: Body::Raw(b"{\"batch\":[{\"type\":\"track\",\"event\":\"\xc3\x28\"}]}".to_vec()),
            expect: Some("invalid_json"),
        },
        Case { name: "lone surrogate", path: "/v1/batch", key: k(), body: Body::Raw(br#"{"batch":[{"type":"track","messageId":"m","userId":"\ud800","event":"e"}]}"#.to_vec()), expect: None },
        Case { name: "null body", path: "/v1/batch", key: k(), body: Body::Json(Value::Null), expect: Some("invalid_body") },
        Case { name: "batch is a string", path: "/v1/batch", key: k(), body: Body::Json(json!({"batch": "x"})), expect: Some("invalid_body") },
        Case { name: "messageId is a number", path: "/v1/batch", key: k(), body: batch(msg(json!({"messageId": 5}))), expect: Some("wrong_type:messageId") },
        Case { name: "properties is a string", path: "/v1/batch", key: k(), body: batch(msg(json!({"properties": "x"}))), expect: Some("wrong_type:properties") },
        Case { name: "timestamp is a number", path: "/v1/batch", key: k(), body: batch(msg(json!({"timestamp": 1}))), expect: Some("wrong_type:timestamp") },
        Case { name: "consent is a list", path: "/v1/batch", key: k(), body: batch(msg(json!({"context": {"consent": {"categoryPreferences": [true]}}}))), expect: Some("wrong_type:context.consent.categoryPreferences") },
        Case { name: "huge number", path: "/v1/batch", key: k(), body: Body::Raw(br#"{"batch":[{"type":"track","messageId":"m","userId":"u","event":"e","timestamp":"2026-11-28T10:00:00Z","properties":{"n":1e400}}]}"#.to_vec()), expect: None },
        Case { name: "oversized body", path: "/v1/batch", key: k(), body: Body::Json(json!({"batch": [msg(json!({}))], "pad": "x".repeat(600_000)})), expect: Some("too_large") },
        Case { name: "oversized message", path: "/v1/batch", key: k(), body: batch(msg(json!({"properties": {"p": "x".repeat(40_000)}}))), expect: Some("too_large") },
        Case { name: "too many messages", path: "/v1/batch", key: k(), body: Body::Json(json!({"batch": vec![json!({}); 2600]})), expect: Some("too_many_messages") },
        Case { name: "gzip bomb", path: "/v1/batch", key: k(), body: Body::Gzip(bomb), expect: Some("too_large") },
        Case { name: "corrupt gzip", path: "/v1/batch", key: k(), body: Body::Gzip(b"\x1f\x8bnot really".to_vec()), expect: Some("invalid_gzip") },
        Case { name: "10,000-deep body", path: "/v1/batch", key: k(), body: Body::Raw(deep(10_000).into_bytes()), expect: None },
        Case { name: "10,000-deep message", path: "/v1/batch", key: k(), body: Body::Raw(format!(r#"{{"batch":[{{"type":"track","messageId":"m","userId":"u","event":"e","properties":{{"a":{}}}}}]}}"#, deep(10_000)).into_bytes()), expect: Some("too_deep") },
        Case { name: "10,000-deep single", path: "/v1/track", key: k(), body: Body::Raw(format!(r#"{{"event":"e","properties":{{"a":{}}}}}"#, deep(10_000)).into_bytes()), expect: Some("too_deep") },
        Case { name: "10,000-deep object", path: "/v1/batch", key: k(), body: Body::Raw(format!(r#"{{"batch":[{}1{}]}}"#, "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes()), expect: None },
        Case { name: "sql in write key", path: "/v1/batch", key: Some("' OR '1'='1' --".into()), body: batch(msg(json!({}))), expect: Some("invalid_write_key") },
        Case { name: "sql in body write key", path: "/v1/batch", key: None, body: Body::Json(json!({"batch": [msg(json!({}))], "writeKey": "x'); DROP TABLE events; --"})), expect: Some("invalid_write_key") },
        Case { name: "sql as type", path: "/v1/batch", key: k(), body: batch(msg(json!({"type": "track'; DROP TABLE events; --"}))), expect: Some("invalid_type") },
        Case { name: "script as type", path: "/v1/batch", key: k(), body: batch(msg(json!({"type": "<script>alert(1)</script>"}))), expect: Some("invalid_type") },
        Case { name: "sql with missing event", path: "/v1/batch", key: k(), body: batch(json!({"type": "track", "messageId": "1; DELETE FROM events", "userId": "u'--"})), expect: Some("missing_field:event") },
        Case { name: "script event name too long", path: "/v1/batch", key: k(), body: batch(msg(json!({"event": "<script>alert(document.cookie)</script>".repeat(10)}))), expect: Some("invalid_field:event") },
        Case { name: "nul character", path: "/v1/batch", key: k(), body: batch(msg(json!({"event": "a\u{0}b"}))), expect: Some("invalid_field:nul_character") },
        Case { name: "nul in a property", path: "/v1/batch", key: k(), body: batch(msg(json!({"properties": {"x": ["\u{0}"]}}))), expect: Some("invalid_field:nul_character") },
        Case { name: "far-future timestamp", path: "/v1/batch", key: k(), body: batch(msg(json!({"timestamp": "9999-12-31T23:59:59.999Z"}))), expect: Some("invalid_timestamp") },
        Case { name: "out-of-range year", path: "/v1/batch", key: k(), body: batch(msg(json!({"timestamp": "+275760-09-13T00:00:00.000Z"}))), expect: Some("invalid_timestamp") },
        Case { name: "far-past timestamp", path: "/v1/batch", key: k(), body: batch(msg(json!({"timestamp": "0001-01-01T00:00:00Z"}))), expect: Some("invalid_timestamp") },
        Case { name: "skew beyond range", path: "/v1/batch", key: k(), body: batch(msg(json!({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}))), expect: Some("invalid_timestamp") },
        Case { name: "huge message id", path: "/v1/batch", key: k(), body: batch(msg(json!({"messageId": "m".repeat(300)}))), expect: Some("invalid_field:messageId") },
        Case { name: "duplicate keys", path: "/v1/batch", key: k(), body: Body::Raw(br#"{"batch":[{"type":"track","type":"page","messageId":"m","userId":"u","event":"e"}]}"#.to_vec()), expect: None },
        Case { name: "bad ip", path: "/v1/batch", key: k(), body: batch(msg(json!({"context": {"ip": "999.1.1.1; DROP"}}))), expect: Some("invalid_field:context.ip") },
        Case { name: "empty batch", path: "/v1/batch", key: k(), body: Body::Json(json!({"batch": []})), expect: Some("empty_batch") },
    ];
    for kind in ["track", "page", "identify", "group", "alias"] {
        let path: &'static str = Box::leak(format!("/v1/{kind}").into_boxed_str());
        cases.push(Case {
            name: "empty single message",
            path,
            key: k(),
            body: Body::Json(json!({})),
            expect: None,
        });
    }
    cases
}

async fn hostile_corpus_gets_4xx_and_stores_nothing(env: Env) {
    let project = common::unique("hostile");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;
    let cases = corpus(&key);
    let total = cases.len();
    let mut attributed = 0;
    for case in cases {
        let mut req = srv.client.post(srv.url(case.path));
        if let Some(k) = &case.key {
            req = req.basic_auth(k, Some(""));
        }
        req = match case.body {
            Body::Json(v) => req.json(&v),
            Body::Raw(b) => req.header("content-type", "application/json").body(b),
            Body::Gzip(b) => req.header("content-encoding", "gzip").body(b),
        };
        let (status, body) =
            common::read(req.send().await.unwrap_or_else(|e| panic!("{}: {e}", case.name))).await;
        assert!(
            (400..500).contains(&status),
            "{}: status {status} {body}",
            case.name
        );
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no error code in {body}", case.name));
        let reason = body["rejected"][0]["reason"].as_str();
        if let Some(expected) = case.expect {
            assert!(
                error == expected || reason == Some(expected),
                "{}: got {status} {body}, expected {expected}",
                case.name
            );
        }
        if error != "invalid_write_key" {
            attributed += 1;
        }
    }
    let (status, _) = common::read(srv.client.get(srv.url("/health")).send().await.unwrap()).await;
    assert_eq!(status, 200, "still serving");
    assert_eq!(
        common::event_count(&*store, &project).await,
        0,
        "nothing of the corpus is stored as events"
    );
    let d = store.dialect();
    let identities = format!(
        "SELECT count(*) FROM identities WHERE project_id = {}",
        common::sql_str(d, &project)
    );
    assert_eq!(common::count(&*store, &identities).await, 0);
    let letters = common::dead_letters(&*store, &project).await;
    assert!(
        letters.len() >= attributed,
        "every refusal is kept: {} of {attributed} ({total} cases)",
        letters.len()
    );
    assert!(
        letters.iter().all(|l| l.2.len() <= 64 * 1024),
        "dead-letter payloads are capped at 64 KB"
    );
    srv.shutdown().await;
}

async fn sql_and_markup_in_valid_messages_are_data(env: Env) {
    let project = common::unique("data");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;
    let sql = "'; DROP TABLE events; --";
    let markup = "<script>alert('x')</script>\\' \" ` $$ \\\\";
    let m = msg(
        json!({"messageId": "it's-fine", "userId": sql, "event": markup, "properties": {sql: markup, "n": "\\u0000"}}),
    );
    let (status, body) = srv.post("/v1/batch", &key, &json!({"batch": [m]})).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(1)), "{body}");
    let row = common::event(&*store, &project, "it's-fine")
        .await
        .expect("stored");
    assert_eq!(row["user_id"], sql);
    assert_eq!(row["event"], markup);
    let props: Value = serde_json::from_str(row["properties"].as_str().unwrap()).unwrap();
    assert_eq!(props[sql], markup);
    assert_eq!(props["n"], "\\u0000", "an escaped backslash-u is text, not a NUL");
    assert_eq!(
        common::event_count(&*store, &project).await,
        1,
        "the events table is intact"
    );
    srv.shutdown().await;
}

mod corpus {
    use super::*;
    per_backend!(super::hostile_corpus_gets_4xx_and_stores_nothing);
}

mod data_not_code {
    use super::*;
    per_backend!(super::sql_and_markup_in_valid_messages_are_data);
}
