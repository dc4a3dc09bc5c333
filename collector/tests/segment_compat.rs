//! Segment compatibility: what Segment's and RudderStack's real libraries, analytics.js and
//! hand-written HTTP API calls send (bodies and headers as captured from
//! `@segment/analytics-node` 3.1.0, `segment-analytics-python` 2.4.0 and
//! `@rudderstack/rudder-sdk-node` 3.0.13) is stored field by field as it would be from our own
//! SDKs. Each test names the dialect it covers; see `src/ingest/dialect.rs` and the README's
//! "Segment compatibility". The library itself is exercised end to end by
//! `js/test/segment-compat.test.mjs`.

mod common;

use std::io::Write;

use common::TestServer;
use serde_json::{Value, json};

const KEY: &str = "wk_segment";
const PROJECT: &str = "segment";

async fn server() -> TestServer {
    let mut c = common::config(":memory:", PROJECT, KEY);
    c.store = None;
    TestServer::start(c, common::open(":memory:")).await
}

/// The person's stored events (the admin export: one JSON object per event), by messageId.
async fn exported(srv: &TestServer, user_id: &str) -> Vec<Value> {
    let r = srv.admin_get(&format!("/v1/admin/users/{user_id}/export")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    rows.sort_by(|a, b| a["message_id"].as_str().cmp(&b["message_id"].as_str()));
    rows
}

async fn one(srv: &TestServer, user_id: &str, message_id: &str) -> Value {
    exported(srv, user_id)
        .await
        .into_iter()
        .find(|r| r["message_id"] == message_id)
        .unwrap_or_else(|| panic!("{message_id} of {user_id} is stored"))
}

async fn post_raw(
    srv: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut r = srv.client.post(srv.url(path));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    common::read(r.body(body).send().await.unwrap()).await
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
    )
}

fn now_iso() -> String {
    footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis())
}

#[tokio::test]
async fn analytics_node_batches_are_stored_field_by_field() {
    let srv = server().await;
    let sent_at = now_iso();
    // As @segment/analytics-node 3.1.0 sends it: Basic auth AND writeKey in the body, `_metadata`,
    // empty `integrations`, its `context.library`, the batch's `sentAt`, timestamps from Dates.
    let body = json!({
        "batch": [{
            "timestamp": "2026-11-28T10:00:00.123Z", "integrations": {"All": false, "Mixpanel": true},
            "event": "Order Completed", "type": "track",
            "properties": {"nested": {"a": {"b": [1, "two", {"c": null}]}}, "uni": "héllo ✓ 日本 🎉",
                           "n": 42, "f": 2.75, "t": true, "nil": null},
            "context": {"ip": "203.0.113.9", "app": {"name": "shop"}, "traits": {"plan": "pro"},
                        "library": {"name": "@segment/analytics-node", "version": "3.1.0"}},
            "userId": "node_u1", "messageId": "node-next-1-a",
            "_metadata": {"nodeVersion": "v20.20.2", "jsRuntime": "node"}
        }, {
            "timestamp": sent_at, "integrations": {}, "type": "identify", "traits": {"email": "x@y.z"},
            "context": {"library": {"name": "@segment/analytics-node", "version": "3.1.0"}},
            "userId": "node_u1", "anonymousId": "node_a1", "messageId": "node-next-1-b",
            "_metadata": {"nodeVersion": "v20.20.2", "jsRuntime": "node"}
        }],
        "writeKey": KEY,
        "sentAt": sent_at,
    });
    let auth = basic();
    let (status, answer) = post_raw(
        &srv,
        "/v1/batch",
        &[
            ("content-type", "application/json"),
            ("user-agent", "analytics-node-next/latest"),
            ("authorization", &auth),
        ],
        body.to_string(),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"accepted": 2, "rejected": []})));
    let track = one(&srv, "node_u1", "node-next-1-a").await;
    assert_eq!(track["event"], "Order Completed");
    assert_eq!(track["kind"], "track");
    assert_eq!(track["properties"], body["batch"][0]["properties"]);
    assert_eq!(track["original_timestamp"], "2026-11-28T10:00:00.123Z");
    assert_eq!(track["context"]["app"]["name"], "shop");
    assert_eq!(track["context"]["traits"]["plan"], "pro");
    assert_eq!(track["context"]["library"]["name"], "@segment/analytics-node");
    assert_eq!(track["ip"], "203.0.113.0", "context.ip truncated");
    let identify = one(&srv, "node_u1", "node-next-1-b").await;
    assert_eq!(
        (&identify["anonymous_id"], &identify["traits"]["email"]),
        (&json!("node_a1"), &json!("x@y.z"))
    );
    // A server library's own user agent is not the user's device, and not a bot.
    assert_eq!(identify["is_bot"], false);
    assert_eq!(identify["browser"], Value::Null);
    srv.shutdown().await;
}

#[tokio::test]
async fn an_absent_message_id_is_assigned_and_a_retry_is_stored_once() {
    let srv = server().await;
    // Segment's HTTP API docs: messageId is "implicit" (assigned by Segment).
    let timed = json!({"userId": "curl_u", "event": "Signed Up", "timestamp": "2026-11-28T10:00:00Z"});
    for _ in 0..2 {
        let (status, answer) = srv.post("/v1/track", KEY, &timed).await;
        assert_eq!((status, answer), (200, json!({"accepted": 1, "rejected": []})));
    }
    let untimed = json!({"batch": [{"type": "track", "userId": "curl_u", "event": "Clicked"}]});
    for _ in 0..2 {
        assert_eq!(srv.post("/v1/batch", KEY, &untimed).await.0, 200);
    }
    let rows = exported(&srv, "curl_u").await;
    let signed: Vec<&Value> = rows.iter().filter(|r| r["event"] == "Signed Up").collect();
    assert_eq!(signed.len(), 1, "same timed message twice = one event: {rows:?}");
    assert!(signed[0]["message_id"].as_str().unwrap().starts_with("api-"));
    let clicked: Vec<&Value> = rows.iter().filter(|r| r["event"] == "Clicked").collect();
    assert_eq!(
        clicked.len(),
        2,
        "without a timestamp each request is a new event"
    );
    assert_ne!(clicked[0]["message_id"], clicked[1]["message_id"]);
    assert_eq!(clicked[0]["original_timestamp"], Value::Null);
    srv.shutdown().await;
}

#[tokio::test]
async fn type_casing_numeric_ids_nulls_and_partial_library() {
    let srv = server().await;
    let batch = json!({"batch": [
        {"type": "Track", "messageId": "case-1", "userId": "case_u", "event": "e"},
        {"type": "IDENTIFY", "messageId": "case-2", "userId": 12345, "anonymousId": 678, "traits": {"a": 1}},
        {"type": "track", "messageId": "case-3", "userId": "case_u", "event": "e", "context": null,
         "timestamp": null, "properties": null},
        {"type": "track", "messageId": "case-4", "userId": "case_u", "event": "e",
         "context": {"library": {"name": "my-script"}}},
        {"type": "group", "messageId": "case-5", "userId": "case_u", "groupId": 99},
    ]});
    let (status, answer) = srv.post("/v1/batch", KEY, &batch).await;
    assert_eq!((status, answer), (200, json!({"accepted": 5, "rejected": []})));
    assert_eq!(one(&srv, "case_u", "case-1").await["kind"], "track");
    let identify = one(&srv, "12345", "case-2").await;
    assert_eq!(
        (&identify["kind"], &identify["anonymous_id"]),
        (&json!("identify"), &json!("678"))
    );
    assert_eq!(one(&srv, "case_u", "case-3").await["context"], json!({}));
    assert_eq!(
        one(&srv, "case_u", "case-4").await["context"]["library"],
        json!({"name": "my-script", "version": ""})
    );
    assert_eq!(one(&srv, "case_u", "case-5").await["group_id"], "99");
    // The single-message endpoints take any case of their own type, and still refuse another.
    let (status, _) = srv
        .post(
            "/v1/track",
            KEY,
            &json!({"type": "Track", "messageId": "case-6", "userId": "case_u", "event": "e"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = srv
        .post(
            "/v1/track",
            KEY,
            &json!({"type": "Page", "messageId": "case-7", "userId": "case_u"}),
        )
        .await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_body")));
    assert!(answer["message"].as_str().unwrap().contains("type"), "{answer}");
    // What stays refused, with the field named.
    let bad = json!({"batch": [
        {"type": "track", "messageId": "bad-1", "userId": true, "event": "e"},
        {"type": "track", "messageId": "bad-2", "userId": "u", "event": "e", "timestamp": 1764324000000u64},
        {"type": "track", "messageId": 7, "userId": "u", "event": "e"},
    ]});
    let (status, answer) = srv.post("/v1/batch", KEY, &bad).await;
    assert_eq!(status, 400);
    assert_eq!(
        common::rejections(&answer),
        [
            (0, "wrong_type:userId"),
            (1, "wrong_type:timestamp"),
            (2, "wrong_type:messageId")
        ]
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn iso_8601_timestamps_with_offsets_without_millis_or_offset() {
    let srv = server().await;
    let batch = json!({"batch": [
        {"type": "track", "messageId": "ts-1", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28T12:00:00+02:00"},
        {"type": "track", "messageId": "ts-2", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28T10:00:00Z"},
        {"type": "track", "messageId": "ts-3", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28T10:00:00"},
        {"type": "track", "messageId": "ts-4", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28 10:00:00.000"},
        {"type": "track", "messageId": "ts-5", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28T09:00:00.000000-01:00"},
        {"type": "track", "messageId": "ts-6", "userId": "ts_u", "event": "e", "timestamp": "2026-11-28"},
        {"type": "track", "messageId": "ts-7", "userId": "ts_u", "event": "e", "timestamp": "28/11/2026"},
    ]});
    let (status, answer) = srv.post("/v1/batch", KEY, &batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(common::rejections(&answer), [(6, "invalid_timestamp")]);
    let ten = footfall_collector::ingest::validate::parse_ms("2026-11-28T10:00:00.000Z").unwrap();
    for id in ["ts-1", "ts-2", "ts-3", "ts-4", "ts-5"] {
        assert_eq!(one(&srv, "ts_u", id).await["ts"], ten, "{id}");
    }
    assert_eq!(one(&srv, "ts_u", "ts-6").await["ts"], ten - 10 * 3_600_000);
    assert_eq!(
        one(&srv, "ts_u", "ts-1").await["original_timestamp"],
        "2026-11-28T12:00:00+02:00"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn rudderstack_gzip_form_body_and_original_timestamp() {
    let srv = server().await;
    // As @rudderstack/rudder-sdk-node 3.0.13 sends it: gzip JSON labelled
    // application/x-www-form-urlencoded (axios), `originalTimestamp` instead of `timestamp`,
    // `channel`, a batch-level `timestamp`.
    let body = json!({
        "batch": [{
            "anonymousId": "rs_a", "event": "RS Anon", "messageId": "rs-anon", "type": "track",
            "context": {"library": {"name": "analytics-node", "version": "3.0.13"}}, "channel": "server",
            "_metadata": {"nodeVersion": "20.20.2"},
            "originalTimestamp": "2026-11-28T10:00:00.000Z", "sentAt": "2026-11-28T10:00:02.000Z"
        }],
        "timestamp": "2026-11-28T10:00:02.000Z", "sentAt": "2026-11-28T10:00:02.000Z"
    });
    let auth = basic();
    let (status, answer) = post_raw(
        &srv,
        "/v1/batch",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-encoding", "gzip"),
            ("user-agent", "analytics-node/3.0.13"),
            ("authorization", &auth),
        ],
        gzip(body.to_string().as_bytes()),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"accepted": 1, "rejected": []})));
    let r = srv.admin_get("/v1/admin/anonymous_ids/rs_a/export").await;
    let row: Value = serde_json::from_str(r.text().await.unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(row["original_timestamp"], "2026-11-28T10:00:00.000Z");
    let received = row["received_at"].as_i64().unwrap();
    assert_eq!(
        row["ts"].as_i64().unwrap(),
        received - 2000,
        "originalTimestamp is the event time, skew-corrected with sentAt"
    );
    // A body that really is form-encoded is refused as JSON it is not.
    let (status, answer) = post_raw(
        &srv,
        "/v1/track",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &auth),
        ],
        "event=e&userId=u",
    )
    .await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_json")));
    srv.shutdown().await;
}

#[tokio::test]
async fn analytics_js_short_paths_with_the_write_key_in_a_text_body() {
    let srv = server().await;
    let ts = now_iso();
    let calls = [
        ("/v1/t", json!({"event": "Clicked", "type": "track"})),
        (
            "/v1/p",
            json!({"name": "Home", "type": "page", "properties": {"path": "/"}}),
        ),
        ("/v1/s", json!({"name": "Main", "type": "screen"})),
        ("/v1/i", json!({"traits": {"plan": "pro"}, "type": "identify"})),
        ("/v1/g", json!({"groupId": "org", "type": "group"})),
        ("/v1/a", json!({"previousId": "ajs_old", "type": "alias"})),
    ];
    for (i, (path, mut m)) in calls.into_iter().enumerate() {
        m["userId"] = json!("ajs_u");
        m["messageId"] = json!(format!("ajs-{i}"));
        m["timestamp"] = json!(ts);
        m["writeKey"] = json!(KEY);
        m["context"] = json!({"userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                              "library": {"name": "analytics.js", "version": "next-1.70.0"}});
        let (status, answer) = post_raw(&srv, path, &[("content-type", "text/plain")], m.to_string()).await;
        assert_eq!(
            (status, &answer),
            (200, &json!({"accepted": 1, "rejected": []})),
            "{path}"
        );
    }
    let rows = exported(&srv, "ajs_u").await;
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["track", "page", "screen", "identify", "group", "alias"]);
    assert_eq!(rows[0]["browser"], "Chrome");
    assert_eq!(rows[1]["properties"], json!({"name": "Home", "path": "/"}));
    srv.shutdown().await;
}

#[tokio::test]
async fn analytics_ruby_posts_to_v1_import() {
    let srv = server().await;
    // analytics-ruby's default path is Segment's legacy `/v1/import` (same body as /v1/batch).
    let body = json!({
        "batch": [{"type": "track", "messageId": "rb-1", "userId": "rb_u", "event": "Ruby Event",
                   "timestamp": "2026-11-28T10:00:00.000Z", "properties": {"k": "v"},
                   "context": {"library": {"name": "analytics-ruby", "version": "2.4.0"}}}],
        "sentAt": "2026-11-28T10:00:00.500Z",
    });
    let (status, answer) = srv.post("/v1/import", KEY, &body).await;
    assert_eq!((status, answer), (200, json!({"accepted": 1, "rejected": []})));
    let row = one(&srv, "rb_u", "rb-1").await;
    assert_eq!(
        (&row["event"], &row["properties"]),
        (&json!("Ruby Event"), &json!({"k": "v"}))
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn batch_level_context_and_integrations_apply_to_every_message() {
    let srv = server().await;
    let body = json!({
        "batch": [
            {"type": "track", "messageId": "bc-1", "userId": "bc_u", "event": "e", "context": {"locale": "de-DE"}},
            {"type": "track", "messageId": "bc-2", "userId": "bc_u", "event": "e"},
        ],
        "context": {"device": {"type": "phone", "name": "Apple iPhone 6"}, "locale": "fr-FR"},
        "integrations": {"All": false},
    });
    let (status, answer) = srv.post("/v1/batch", KEY, &body).await;
    assert_eq!((status, answer), (200, json!({"accepted": 2, "rejected": []})));
    let first = one(&srv, "bc_u", "bc-1").await;
    assert_eq!(
        first["context"]["locale"], "de-DE",
        "the message's own context wins"
    );
    assert_eq!(first["context"]["device"]["name"], "Apple iPhone 6");
    let second = one(&srv, "bc_u", "bc-2").await;
    assert_eq!(second["context"]["locale"], "fr-FR");
    // A batch-level context of the wrong type: 400 naming it.
    let (status, answer) = srv
        .post("/v1/batch", KEY, &json!({"batch": [], "context": "x"}))
        .await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_body")));
    assert!(
        answer["message"].as_str().unwrap().contains("`context`"),
        "{answer}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn the_request_user_agent_describes_the_user_only_when_it_is_a_browser() {
    let srv = server().await;
    let send = |ua: &'static str, id: &'static str, context: Value| {
        let m = json!({"type": "track", "messageId": id, "userId": "ua_u", "event": "e", "context": context});
        let srv = &srv;
        async move {
            let auth = basic();
            post_raw(
                srv,
                "/v1/batch",
                &[
                    ("content-type", "application/json"),
                    ("user-agent", ua),
                    ("authorization", &auth),
                ],
                json!({"batch": [m]}).to_string(),
            )
            .await
        }
    };
    assert_eq!(send("curl/8.5.0", "ua-1", json!({})).await.0, 200);
    assert_eq!(send("python-requests/2.32.3", "ua-2", json!({})).await.0, 200);
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    assert_eq!(send(chrome, "ua-3", json!({})).await.0, 200);
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    assert_eq!(
        send("curl/8.5.0", "ua-4", json!({"userAgent": googlebot}))
            .await
            .0,
        200
    );
    assert_eq!(send(googlebot, "ua-5", json!({})).await.0, 200);
    for id in ["ua-1", "ua-2"] {
        let row = one(&srv, "ua_u", id).await;
        assert_eq!(
            (&row["is_bot"], &row["browser"], &row["device_type"]),
            (&json!(false), &Value::Null, &Value::Null),
            "{id}: a server-side sender's user agent is not the user's"
        );
    }
    let row = one(&srv, "ua_u", "ua-3").await;
    assert_eq!(
        (&row["browser"], &row["is_bot"]),
        (&json!("Chrome"), &json!(false))
    );
    for id in ["ua-4", "ua-5"] {
        let row = one(&srv, "ua_u", id).await;
        assert_eq!(
            row["is_bot"], true,
            "{id}: a crawler (context.userAgent or browser request)"
        );
    }
    srv.shutdown().await;
}
