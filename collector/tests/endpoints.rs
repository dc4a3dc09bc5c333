//! Every ingestion and operations endpoint through a real socket, on each backend (DuckDB always;
//! PostgreSQL and ClickHouse when their URLs are set).

mod common;

use std::io::Write;

use common::{Env, TestServer, fixture, fixture_batch, with_fresh_ids};
use footfall_collector::ingest::validate::parse_ms;
use serde_json::{Value, json};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn flag(v: &Value) -> bool {
    v.as_bool().unwrap_or_else(|| v.as_i64() == Some(1))
}

fn obj(text: &Value) -> Value {
    serde_json::from_str(text.as_str().unwrap()).unwrap()
}

async fn ingestion_endpoints(env: Env) {
    let project = common::unique("ep");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;

    // /v1/batch: the golden batch, every message type.
    let messages = with_fresh_ids(fixture_batch());
    let ids: Vec<String> = messages
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_string())
        .collect();
    let body = json!({"batch": messages, "sentAt": "2026-11-28T11:00:00.300Z"});
    let (status, answer) = srv.post("/v1/batch", &key, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"accepted": 6, "rejected": []}));
    assert_eq!(common::event_count(&*store, &project).await, 6);

    let names: Vec<String> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(
                common::event(&*store, &project, id).await.unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        v
    };
    assert_eq!(
        names,
        [
            "page_view",
            "$identify",
            "$alias",
            "purchase",
            "$group",
            "screen_view"
        ]
    );

    // The track message: enrichment, privacy, skew correction.
    let track = common::event(&*store, &project, &ids[3]).await.unwrap();
    assert_eq!(track["type"], "track");
    assert_eq!(track["user_id"], "user_42");
    assert_eq!(track["browser"], "Chrome");
    assert_eq!(track["os"], "Linux");
    assert_eq!(track["device_type"], "desktop");
    assert!(!flag(&track["is_bot"]));
    assert_eq!(track["ip"], "203.0.113.0");
    assert_eq!(track["session_id"], "s_1764324930123");
    assert_eq!(obj(&track["properties"])["amount"], 49.9);
    assert_eq!(obj(&track["context"])["locale"], "en-US");
    assert_eq!(track["original_timestamp"], "2026-11-28T10:15:30.123Z");
    let received = track["received_at"].as_i64().unwrap();
    assert_eq!(
        track["ts"].as_i64().unwrap(),
        received - 877,
        "ts = receivedAt - (sentAt - timestamp)"
    );
    assert_eq!(track["sent_at"].as_i64(), parse_ms("2026-11-28T10:15:31.000Z"));
    // The page message: its name is kept in properties, Safari on macOS.
    let page = common::event(&*store, &project, &ids[0]).await.unwrap();
    assert_eq!(obj(&page["properties"])["name"], "Pricing");
    assert_eq!(page["browser"], "Safari");
    assert_eq!(page["device_type"], "desktop");
    assert!(
        page["ip"].as_str().unwrap().ends_with(".0"),
        "the connection address is truncated: {}",
        page["ip"]
    );
    // identify and alias link the anonymous id to the user.
    assert_eq!(
        common::linked_user(&*store, &project, "8d3e9f0a-1b2c-4d3e-9f4a-5b6c7d8e9f01")
            .await
            .as_deref(),
        Some("user_42")
    );

    // Sending the same batch again stores nothing new (exact dedupe), and says accepted.
    let (status, answer) = srv.post("/v1/batch", &key, &body).await;
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(6)));
    assert_eq!(common::event_count(&*store, &project).await, 6);

    // /v1/b: a beacon — text/plain, gzip, writeKey in the body.
    let beacon = json!({"batch": with_fresh_ids(fixture_batch()), "writeKey": key});
    let r = srv
        .client
        .post(srv.url("/v1/b"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("content-encoding", "gzip")
        .body(gzip(beacon.to_string().as_bytes()))
        .send()
        .await
        .unwrap();
    let (status, answer) = common::read(r).await;
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(6)), "{answer}");
    assert_eq!(common::event_count(&*store, &project).await, 12);

    // The single-message endpoints; `type` comes from the path.
    for kind in ["track", "page", "screen", "identify", "group", "alias"] {
        let mut m = fixture(kind);
        m.as_object_mut().unwrap().remove("type");
        m["messageId"] = json!(uuid::Uuid::new_v4().to_string());
        let (status, answer) = srv.post(&format!("/v1/{kind}"), &key, &m).await;
        assert_eq!(
            (status, answer.clone()),
            (200, json!({"accepted": 1, "rejected": []})),
            "/v1/{kind}"
        );
        let row = common::event(&*store, &project, m["messageId"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(row["type"], kind);
    }
    assert_eq!(common::event_count(&*store, &project).await, 18);

    // A message whose type contradicts the endpoint is refused.
    let mut m = fixture("track");
    m["messageId"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, answer) = srv.post("/v1/page", &key, &m).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_body")),
        "{answer}"
    );

    // Auth.
    let (status, answer) = srv.post("/v1/batch", "nope", &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_write_key"))
    );
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, answer) = common::read(r).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("missing_write_key"))
    );
    srv.shutdown().await;
}

async fn rejections_are_answered_and_kept(env: Env) {
    let project = common::unique("rj");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;

    let ok = common::track("ok-1", "u1", "signup");
    let mut denied = common::track("denied-1", "secret-user", "ad_click");
    denied["context"] = json!({"category": "marketing", "consent": {"categoryPreferences": {"analytics": true, "marketing": false}}});
    let mut no_event = common::track("noevent-1", "u1", "x");
    no_event.as_object_mut().unwrap().remove("event");
    let mut future = common::track("future-1", "u1", "x");
    future["timestamp"] = json!("2999-01-01T00:00:00.000Z");
    let mut huge = common::track("huge-1", "u1", "x");
    huge["properties"] = json!({"blob": "x".repeat(40_000)});
    let body = json!({"batch": [ok, denied, no_event, future, huge, 7]});
    let (status, answer) = srv.post("/v1/batch", &key, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let reasons: Vec<(u64, Value, String)> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["messageId"].clone(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (1, json!("denied-1"), "no_consent".to_string()),
            (2, json!("noevent-1"), "missing_field:event".to_string()),
            (3, json!("future-1"), "invalid_timestamp".to_string()),
            (4, json!("huge-1"), "too_large".to_string()),
            (5, Value::Null, "wrong_type:message".to_string()),
        ]
    );
    assert_eq!(common::event_count(&*store, &project).await, 1);
    let letters = common::dead_letters(&*store, &project).await;
    let mut letter_reasons: Vec<&str> = letters.iter().map(|l| l.0.as_str()).collect();
    letter_reasons.sort();
    assert_eq!(
        letter_reasons,
        [
            "invalid_timestamp",
            "missing_field:event",
            "no_consent",
            "too_large",
            "wrong_type:message"
        ]
    );
    let consent_letter = letters.iter().find(|l| l.0 == "no_consent").unwrap();
    assert_eq!(consent_letter.1.as_deref(), Some("denied-1"));
    assert!(
        !consent_letter.2.contains("secret-user"),
        "privacy refusals keep no personal data: {}",
        consent_letter.2
    );
    assert!(
        letters
            .iter()
            .find(|l| l.0 == "missing_field:event")
            .unwrap()
            .2
            .contains("noevent-1")
    );

    // Nothing valid: 400 with the list, still kept.
    let (status, answer) = srv
        .post("/v1/batch", &key, &json!({"batch": [{"type": "track"}]}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "all_rejected");
    assert_eq!(
        answer["rejected"][0]["reason"], "missing_field:event",
        "an absent messageId is assigned (Segment's HTTP API); the missing event is the reason"
    );
    // An unparseable body: 400, the body kept as a dead letter of the project named by the key.
    let r = srv
        .client
        .post(srv.url("/v1/batch"))
        .basic_auth(&key, Some(""))
        .body("{\"batch\": [")
        .send()
        .await
        .unwrap();
    let (status, answer) = common::read(r).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_json")));
    let letters = common::dead_letters(&*store, &project).await;
    assert_eq!(letters.len(), 7);
    assert!(
        letters
            .iter()
            .any(|l| l.0 == "invalid_json" && l.2 == "{\"batch\": [")
    );
    // The admin API lists them, newest first.
    let r = srv
        .admin_get(&format!("/v1/admin/dead_letters?project={project}&limit=3"))
        .await;
    let (status, answer) = common::read(r).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["dead_letters"].as_array().unwrap().len(), 3);
    assert_eq!(answer["dead_letters"][0]["reason"], "invalid_json");
    assert_eq!(common::event_count(&*store, &project).await, 1);
    srv.shutdown().await;
}

async fn operations_endpoints(env: Env) {
    let project = common::unique("ops");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;
    let (status, body) = common::read(srv.client.get(srv.url("/health")).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, body) = common::read(srv.client.get(srv.url("/ready")).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"status": "ready"})));

    let batch =
        json!({"batch": [common::track("m1", "u", "a"), common::track("m2", "u", "b"), {"type": "nope"}]});
    srv.post("/v1/batch", &key, &batch).await;
    srv.post("/v1/batch", &key, &batch).await;
    let r = srv.client.get(srv.url("/metrics")).send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics")
    );
    let text = r.text().await.unwrap();
    for line in [
        "footfall_messages_received_total 6",
        "footfall_messages_accepted_total 4",
        "footfall_messages_deduplicated_total 2",
        "footfall_messages_rejected_total{reason=\"invalid_type\"} 2",
        "footfall_dead_letters_total 2",
        "footfall_inflight_requests 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
    assert!(text.contains("footfall_store_write_seconds_bucket"));
    srv.shutdown().await;
}

mod ingestion {
    use super::*;
    per_backend!(super::ingestion_endpoints);
}

mod rejections {
    use super::*;
    per_backend!(super::rejections_are_answered_and_kept);
}

mod operations {
    use super::*;
    per_backend!(super::operations_endpoints);
}
