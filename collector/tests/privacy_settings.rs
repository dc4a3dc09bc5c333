//! The privacy control plane: the admin API (`GET/PUT /v1/admin/projects/{id}/privacy`:
//! validation naming the field, merge patches, If-Match, audit with old and new values, the
//! salt), `GET /v1/settings` (write-key auth, ETag/304, CORS), and on every backend: enforcement
//! of the settings on raw HTTP clients through a real socket, retention settings driving the
//! retention job, erasure/export by hashed user id and by anonymous id, and a change made
//! through one collector reaching another within its refresh interval.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use common::{Env, TestServer};
use footfall::pipeline::anonymize::hash_id;
use footfall_collector::config::{Config, ProjectConfig};
use footfall_collector::{AppState, app, server};
use footfall_engine::store::open_store;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "wk_priv";

/// A response through the router: status, headers, JSON body (Null when not JSON).
struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

async fn send(state: &AppState, req: Request<Body>) -> Reply {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn admin(method: &str, uri: &str, body: Option<Value>) -> axum::http::request::Builder {
    let _ = body;
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", common::ADMIN))
        .header("x-footfall-actor", "alice")
        .header(header::CONTENT_TYPE, "application/json")
}

async fn put(state: &AppState, project: &str, body: &str) -> Reply {
    let req = admin("PUT", &format!("/v1/admin/projects/{project}/privacy"), None)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(state, req).await
}

async fn get(state: &AppState, uri: &str) -> Reply {
    send(state, admin("GET", uri, None).body(Body::empty()).unwrap()).await
}

fn project(id: &str, key: &str) -> ProjectConfig {
    let mut p = ProjectConfig::new(id, key);
    p.retention_days = Some(30);
    p.privacy.respect_dnt = true;
    p
}

async fn memory_state() -> AppState {
    let mut c = common::config(":memory:", "shop", KEY);
    c.store = None;
    c.projects = vec![project("shop", KEY)];
    AppState::new(c, open_store(":memory:").unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_reads_changes_validates_and_audits() {
    let state = memory_state().await;
    let unauth = Request::get("/v1/admin/projects/shop/privacy")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, unauth).await.status, 401);
    assert_eq!(get(&state, "/v1/admin/projects/nope/privacy").await.status, 404);

    // The config file's values are the initial settings.
    let r = get(&state, "/v1/admin/projects/shop/privacy").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["version"].as_u64(), r.body["source"].as_str()),
        (Some(0), Some("config"))
    );
    let s = &r.body["settings"];
    assert_eq!(s["respect_dnt"], true, "from projects[].privacy");
    assert_eq!(
        s["retention"],
        json!({"events_days": 30, "sessions_days": 90, "users_days": 3650})
    );
    assert_eq!(
        (s["anonymize_ip"].as_bool(), s["consent_mode"].as_str()),
        (Some(true), Some("opt_out"))
    );
    assert_eq!(s["url_param_deny_list"][0], "gclid");
    let first_etag = r.headers[header::ETAG].to_str().unwrap().to_string();

    // A partial change (JSON Merge Patch), audited field by field with old and new values.
    let r = put(
        &state,
        "shop",
        r#"{"consent_mode": "opt_in", "property_deny_list": ["email"], "retention": {"users_days": 400}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["version"].as_u64(), r.body["source"].as_str()),
        (Some(1), Some("store"))
    );
    assert_eq!(r.body["updated_by"], "admin:alice");
    let changes: Vec<(String, Value, Value)> = r.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().to_string(),
                c["old"].clone(),
                c["new"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("consent_mode".to_string(), json!("opt_out"), json!("opt_in")),
            ("property_deny_list".to_string(), json!([]), json!(["email"])),
            ("retention.users_days".to_string(), json!(3650), json!(400)),
        ]
    );
    assert_eq!(
        r.body["settings"]["retention"]["events_days"], 30,
        "untouched fields stay"
    );
    let etag = r.headers[header::ETAG].to_str().unwrap().to_string();
    assert_ne!(etag, first_etag);
    let audit = get(&state, "/v1/admin/audit?project=shop").await.body;
    let entry = &audit["entries"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["actor"].as_str()),
        (Some("privacy.update"), Some("admin:alice"))
    );
    assert_eq!(
        entry["details"]["changes"][0],
        json!({"field": "consent_mode", "old": "opt_out", "new": "opt_in"})
    );
    assert!(entry["at"].as_i64().unwrap() > 0);

    // Invalid settings: 400 naming the field, and nothing changes.
    for (body, field) in [
        (r#"{"retention": {"events_days": 0}}"#, "retention.events_days"),
        (
            r#"{"retention": {"events_days": "soon"}}"#,
            "retention.events_days",
        ),
        (r#"{"anonymise_ip": true}"#, "anonymise_ip"),
        (r#"{"consent_mode": "maybe"}"#, "consent_mode"),
        (r#"{"pii_patterns": ["ok", "("]}"#, "pii_patterns[1]"),
        (r#"{"store_raw_ip": true}"#, "store_raw_ip"),
        (r#"{"property_deny_list": ["", "x"]}"#, "property_deny_list[0]"),
        (
            r#"{"consent_categories": {"necessary": "opt_in"}}"#,
            "consent_categories.necessary",
        ),
        (
            r#"{"tracking_plan": {"events": {"buy": {"properties": "amount"}}}}"#,
            "tracking_plan.events.buy.properties",
        ),
        (r#"{"hash_salt": "short"}"#, "hash_salt"),
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
    ] {
        let r = put(&state, "shop", body).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_settings")),
            "{body}: {}",
            r.text
        );
        assert!(
            r.body["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            r.body["message"]
        );
    }
    assert_eq!(
        get(&state, "/v1/admin/projects/shop/privacy").await.body["version"],
        1
    );
    assert_eq!(
        get(&state, "/v1/admin/audit?project=shop").await.body["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // If-Match guards concurrent edits.
    let stale = admin("PUT", "/v1/admin/projects/shop/privacy", None)
        .header(header::IF_MATCH, &first_etag)
        .body(Body::from(r#"{"respect_dnt": false}"#))
        .unwrap();
    let r = send(&state, stale).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (412, Some("precondition_failed"))
    );
    // A list of tags matches when one does (RFC 9110).
    let listed = format!("{first_etag}, {etag}");
    let fresh = admin("PUT", "/v1/admin/projects/shop/privacy", None)
        .header(header::IF_MATCH, &listed)
        .body(Body::from(
            r#"{"respect_dnt": false, "property_deny_list": null}"#,
        ))
        .unwrap();
    let r = send(&state, fresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["settings"]["property_deny_list"],
        json!([]),
        "null resets to the default"
    );
    let r = put(&state, "shop", r#"{"respect_dnt": false}"#).await;
    assert_eq!(
        (
            r.body["version"].as_u64(),
            r.body["changes"].as_array().map(Vec::len)
        ),
        (Some(2), Some(0)),
        "no change, no version"
    );

    // hash_user_id: a salt is generated, shown only on request, never in the audit log or to SDKs.
    let r = put(&state, "shop", r#"{"hash_user_id": true}"#).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["hash_salt_set"], true);
    assert!(r.body.get("hash_salt").is_none());
    let salt = get(&state, "/v1/admin/projects/shop/privacy?reveal_salt=1")
        .await
        .body["hash_salt"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(salt.len(), 64);
    let audit = get(&state, "/v1/admin/audit?project=shop").await;
    assert!(!audit.text.contains(&salt), "the salt is never audited");
    assert!(audit.text.contains("\"hash_salt\"") && audit.text.contains("(set)"));
    let public = send(
        &state,
        Request::get(format!("/v1/settings?writeKey={KEY}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        !public.text.contains(&salt) && !public.text.contains("salt"),
        "{}",
        public.text
    );
    // An admin may set the salt (e.g. the one native SDKs hash with).
    let r = put(&state, "shop", r#"{"hash_salt": "a-shared-salt-0123456789"}"#).await;
    assert_eq!(r.body["changes"][0]["field"], "hash_salt");
    assert_eq!(
        state.privacy.get("shop").hash_salt(),
        Some("a-shared-salt-0123456789")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_enforces_a_change_on_the_next_request() {
    let state = memory_state().await;
    let batch = |tag: &str| {
        let granted = json!({"consent": {"categoryPreferences": {"analytics": true}}});
        let mut a = common::track(&format!("{tag}-a"), "u", "e");
        a["properties"] = json!({"email": "u@example.com"});
        a["context"] = granted.clone();
        let b = common::track(&format!("{tag}-b"), "u", "e");
        let mut c = common::track(&format!("{tag}-c"), "u", "e");
        c["context"] = granted;
        Request::post("/v1/batch")
            .header(header::AUTHORIZATION, "Basic d2tfcHJpdjo=") // "wk_priv:"
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"batch": [a, b, c]}).to_string()))
            .unwrap()
    };
    let r = send(&state, batch("before")).await;
    assert_eq!(
        (r.status, r.body["accepted"].as_u64()),
        (200, Some(3)),
        "{}",
        r.text
    );
    assert_eq!(
        put(
            &state,
            "shop",
            r#"{"property_deny_list": ["EMAIL"], "consent_mode": "opt_in"}"#
        )
        .await
        .status,
        200
    );
    let r = send(&state, batch("after")).await;
    assert_eq!(r.body["accepted"], 1, "{}", r.text);
    let reasons = common::rejections(&r.body);
    assert_eq!(reasons, [(0, "denied_property"), (1, "no_consent")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_settings_endpoint_auth_etag_and_cors() {
    let mut c = common::config(":memory:", "shop", KEY);
    c.store = None;
    c.projects = vec![project("shop", KEY), ProjectConfig::new("site", "wk_site")];
    c.projects[1].allowed_origins = vec!["https://site.example".into()];
    let state = AppState::new(c, open_store(":memory:").unwrap()).await.unwrap();
    let plain = |uri: &str| Request::get(uri.to_string());

    let r = send(&state, plain("/v1/settings").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("missing_write_key"))
    );
    let r = send(
        &state,
        plain("/v1/settings?writeKey=nope").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_write_key"))
    );
    let r = send(
        &state,
        plain("/v1/settings")
            .header(header::AUTHORIZATION, format!("Bearer {}", common::ADMIN))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401, "the admin token is not a write key");

    // HTTP Basic (the SDKs) and ?writeKey= (clients without headers) give the same settings.
    let basic = send(
        &state,
        plain("/v1/settings")
            .header(header::AUTHORIZATION, "Basic d2tfcHJpdjo=")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(basic.status, 200);
    assert_eq!(basic.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(basic.headers[header::CACHE_CONTROL], "no-cache");
    let etag = basic.headers[header::ETAG].to_str().unwrap().to_string();
    let admin_view = get(&state, "/v1/admin/projects/shop/privacy").await;
    assert_eq!(
        basic.body, admin_view.body["settings"],
        "the settings, nothing else"
    );
    assert!(basic.text.len() < 1024, "small: {} bytes", basic.text.len());
    let by_query = send(
        &state,
        plain(&format!("/v1/settings?writeKey={KEY}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((by_query.status, &by_query.body), (200, &basic.body));
    let site = send(
        &state,
        plain("/v1/settings?writeKey=wk_site")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        site.body["respect_dnt"], false,
        "each key gets its own project's settings"
    );

    // If-None-Match → 304 while unchanged, 200 with a new ETag after a change.
    let revalidate = |tag: &str| {
        plain(&format!("/v1/settings?writeKey={KEY}"))
            .header(header::IF_NONE_MATCH, tag)
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&state, revalidate(&etag)).await;
    assert_eq!((r.status, r.text.as_str()), (304, ""));
    assert_eq!(r.headers[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(send(&state, revalidate("\"other\"")).await.status, 200);
    assert_eq!(
        put(&state, "shop", r#"{"consent_mode": "opt_in"}"#).await.status,
        200
    );
    let r = send(&state, revalidate(&etag)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["consent_mode"], "opt_in", "takes effect without restart");
    assert_ne!(r.headers[header::ETAG].to_str().unwrap(), etag);

    // CORS like ingestion: preflight (If-None-Match is not a simple header), exposed ETag, and
    // an origin the project does not allow is refused.
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/v1/settings?writeKey=wk_site")
        .header(header::ORIGIN, "https://site.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "if-none-match")
        .body(Body::empty())
        .unwrap();
    let r = send(&state, preflight).await;
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://site.example"
    );
    assert!(
        r.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert!(
        r.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("if-none-match")
    );
    let r = send(
        &state,
        plain("/v1/settings?writeKey=wk_site")
            .header(header::ORIGIN, "https://site.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("etag")
    );
    let r = send(
        &state,
        plain("/v1/settings?writeKey=wk_site")
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("origin_not_allowed"))
    );
}

// ---- per backend -----------------------------------------------------------------------------

fn config_on(env: &Env, project: &str, key: &str) -> Config {
    let mut c = common::config(&env.location, project, key);
    c.settings_refresh_secs = 1;
    c
}

async fn admin_put(srv: &TestServer, project: &str, body: Value) -> Value {
    srv.put_privacy(project, None, &body).await
}

fn msg(kind: &str, id: &str, user: Option<&str>, extra: Value) -> Value {
    let mut m = json!({"type": kind, "messageId": id, "anonymousId": format!("anon-{id}"),
                       "timestamp": footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis() - 1000)});
    if let Some(u) = user {
        m["userId"] = json!(u);
    }
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

fn props(row: &serde_json::Map<String, Value>, col: &str) -> Value {
    serde_json::from_str(row[col].as_str().unwrap()).unwrap()
}

/// What a raw HTTP client (no SDK, no consent information) gets: the collector applies every
/// setting itself.
async fn raw_clients_are_held_to_the_settings(env: Env) {
    let project = common::unique("enf");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(config_on(&env, &project, &key), store.clone()).await;
    let changed = admin_put(
        &srv,
        &project,
        json!({
            "consent_categories": {"marketing": "opt_in"},
            "property_deny_list": ["email"],
            "url_param_deny_list": ["gclid"],
            "pii_scrubbing": true,
            "pii_patterns": ["^secret-\\d+$"],
            "hash_user_id": true,
            "bots": "reject",
            "tracking_plan": {"events": {
                "purchase": {"properties": ["amount", "currency", "note", "url"]},
                "old_event": {"enabled": false},
            }},
        }),
    )
    .await;
    assert_eq!(
        changed["changes"].as_array().unwrap().len(),
        10,
        "9 settings and the salt: {changed}"
    );
    let salt = srv.state.privacy.get(&project).hash_salt().unwrap().to_string();
    let pre_hashed = hash_id(&salt, "bob");
    let batch = json!({"batch": [
        msg("track", "m0", Some("ada"), json!({"event": "purchase", "properties": {
            "amount": 5, "currency": "EUR", "coupon": "X1", "note": "call +1 (555) 123-4567",
            "url": "https://shop.example/buy?gclid=abc&ref=news"}})),
        msg("track", "m1", Some("ada"), json!({"event": "signup", "properties": {"Email": "ada@example.com"}})),
        msg("identify", "m2", Some("ada"), json!({"traits": {"profile": {"email": "ada@example.com"}}})),
        msg("track", "m3", Some("ada"), json!({"event": "old_event"})),
        msg("track", "m4", Some("ada"), json!({"event": "promo_clicked", "context": {"category": "marketing"}})),
        msg("track", "m5", Some("ada"), json!({"event": "promo_clicked", "context": {"category": "marketing",
            "consent": {"categoryPreferences": {"marketing": true}}}})),
        msg("page", "m6", None, json!({"name": "Home", "properties": {"url": "https://shop.example/?gclid=1&q=2"},
            "context": {"page": {"url": "https://shop.example/?GCLID=1", "search": "?gclid=1"}}})),
        msg("track", "m7", None, json!({"event": "search", "context": {"userAgent":
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}})),
        msg("track", "m8", Some(&pre_hashed), json!({"event": "search", "properties": {"code": "secret-42", "q": "shoes"}})),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &batch).await;
    assert_eq!(status, 200, "{body}");
    let reasons = common::rejections(&body);
    assert_eq!(
        reasons,
        [
            (1, "denied_property"),
            (2, "denied_property"),
            (3, "not_in_plan"),
            (4, "no_consent"),
            (7, "bot")
        ],
        "{body}"
    );
    assert_eq!(body["accepted"], 4);

    let s = &*store;
    let m0 = common::event(s, &project, "m0").await.unwrap();
    let p = props(&m0, "properties");
    assert_eq!(p.get("coupon"), None, "not in the plan: removed");
    assert_eq!(p["note"], "[redacted]", "PII scrubbed");
    assert_eq!(p["url"], "https://shop.example/buy?ref=news", "click id removed");
    assert_eq!(
        (p["amount"].as_i64(), p["currency"].as_str()),
        (Some(5), Some("EUR"))
    );
    assert_eq!(
        m0["user_id"].as_str(),
        Some(hash_id(&salt, "ada").as_str()),
        "the core's hash_id"
    );
    let m6 = common::event(s, &project, "m6").await.unwrap();
    assert_eq!(props(&m6, "properties")["url"], "https://shop.example/?q=2");
    let ctx = props(&m6, "context");
    assert_eq!(
        (ctx["page"]["url"].as_str(), ctx["page"]["search"].as_str()),
        (Some("https://shop.example/"), Some(""))
    );
    let m8 = common::event(s, &project, "m8").await.unwrap();
    assert_eq!(
        m8["user_id"].as_str(),
        Some(pre_hashed.as_str()),
        "an SDK-hashed id is not hashed again"
    );
    assert_eq!(props(&m8, "properties")["code"], "[redacted]", "custom pattern");
    assert_eq!(props(&m8, "properties")["q"], "shoes");
    assert!(
        common::event(s, &project, "m5").await.is_some(),
        "explicit consent passes"
    );

    // Every refusal is a dead letter; privacy refusals keep no ids and no values.
    let dead = common::dead_letters(s, &project).await;
    let mut dead_reasons: Vec<&str> = dead.iter().map(|d| d.0.as_str()).collect();
    dead_reasons.sort();
    assert_eq!(
        dead_reasons,
        [
            "bot",
            "denied_property",
            "denied_property",
            "no_consent",
            "not_in_plan"
        ]
    );
    for (reason, _, payload) in &dead {
        if reason != "bot" {
            assert!(!payload.contains("ada"), "{reason}: {payload}");
        }
    }
    let denied = dead.iter().find(|d| d.1.as_deref() == Some("m1")).unwrap();
    let v: Value = serde_json::from_str(&denied.2).unwrap();
    assert_eq!(
        (v["redacted"].as_str(), &v["detail"]),
        (Some("denied_property"), &json!(["Email"]))
    );
    let plan = dead.iter().find(|d| d.1.as_deref() == Some("m3")).unwrap();
    assert!(plan.2.contains("disabled by the tracking plan"), "{}", plan.2);
    let metrics = srv.state.metrics.render();
    for line in [
        "footfall_messages_rejected_total{reason=\"denied_property\"} 2",
        "footfall_privacy_changes_total{kind=\"pii_redacted\"} 2",
        "footfall_privacy_changes_total{kind=\"plan_properties_removed\"} 1",
        "footfall_privacy_changes_total{kind=\"url_params_removed\"} 4",
        "footfall_privacy_changes_total{kind=\"user_id_hashed\"} 2",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }

    // Tighter: opt-in consent and a strict plan; GPC honoured, DNT not (respect_dnt off).
    admin_put(
        &srv,
        &project,
        json!({"consent_mode": "opt_in", "tracking_plan": {"strict": true}}),
    )
    .await;
    let granted = json!({"consent": {"categoryPreferences": {"analytics": true}}});
    let batch = json!({"batch": [
        msg("track", "s0", Some("cy"), json!({"event": "purchase", "properties": {"amount": 1}})),
        msg("track", "s1", Some("cy"), json!({"event": "purchase", "properties": {"amount": 1}, "context": granted})),
        msg("track", "s2", Some("cy"), json!({"event": "purchase", "properties": {"amount": 1, "coupon": "X"}, "context": granted})),
        msg("track", "s3", Some("cy"), json!({"event": "search", "context": granted})),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &batch).await;
    assert_eq!(status, 200, "{body}");
    let reasons: Vec<&str> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no_consent", "not_in_plan", "not_in_plan"], "{body}");
    admin_put(&srv, &project, json!({"consent_mode": "opt_out"})).await;
    let signal = |name: &'static str, id: &str| {
        let req = srv
            .client
            .post(srv.url("/v1/track"))
            .basic_auth(&key, Some(""))
            .header(name, "1")
            .json(&msg(
                "track",
                id,
                Some("cy"),
                json!({"event": "purchase", "properties": {"amount": 2}}),
            ));
        async move { common::read(req.send().await.unwrap()).await }
    };
    assert_eq!(
        signal("sec-gpc", "g1").await.1["error"],
        "all_rejected",
        "GPC: opt-in for this request"
    );
    assert_eq!(signal("dnt", "d1").await.0, 200, "DNT not respected by default");

    // IP handling follows the live settings too.
    let with_ip = |id: &str, anonymize: Option<bool>| {
        let mut m = msg(
            "track",
            id,
            None,
            json!({"event": "purchase", "properties": {"amount": 1},
            "context": {"ip": "203.0.113.77", "consent": {"categoryPreferences": {"analytics": true}}}}),
        );
        if let Some(a) = anonymize {
            m["context"]["anonymizeIp"] = json!(a);
        }
        m
    };
    srv.post("/v1/batch", &key, &json!({"batch": [with_ip("ip1", None)]}))
        .await;
    admin_put(
        &srv,
        &project,
        json!({"anonymize_ip": false, "store_raw_ip": true}),
    )
    .await;
    srv.post(
        "/v1/batch",
        &key,
        &json!({"batch": [with_ip("ip2", None), with_ip("ip3", Some(true))]}),
    )
    .await;
    let ip = |id: &'static str| {
        let s = store.clone();
        let p = project.clone();
        async move { common::event(&*s, &p, id).await.unwrap()["ip"].clone() }
    };
    assert_eq!(ip("ip1").await, "203.0.113.0");
    assert_eq!(ip("ip2").await, "203.0.113.77");
    assert_eq!(
        ip("ip3").await,
        "203.0.113.0",
        "the message asked for anonymization"
    );

    // Data-subject rights find hashed ids by the original one (also once hashing is off again).
    admin_put(&srv, &project, json!({"hash_user_id": false})).await;
    let r = srv
        .admin_get(&format!("/v1/admin/users/ada/export?project={project}"))
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.lines().count() >= 2 && text.contains("\"m0\"") && text.contains("\"m5\""),
        "{text}"
    );
    let r = srv
        .client
        .delete(srv.url(&format!("/v1/admin/users/ada?project={project}")))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    let (status, erased) = common::read(r).await;
    assert_eq!(status, 200, "{erased}");
    assert!(erased["events_deleted"].as_u64().unwrap() >= 2, "{erased}");
    assert!(
        erased["ids"]
            .as_array()
            .unwrap()
            .contains(&json!(hash_id(&salt, "ada"))),
        "{erased}"
    );
    let again = json!({"batch": [msg("track", "late", Some("ada"), json!({"event": "purchase", "properties": {"amount": 1}}))]});
    let (_, body) = srv.post("/v1/batch", &key, &again).await;
    assert_eq!(body["rejected"][0]["reason"], "suppressed", "{body}");
    srv.shutdown().await;
}

/// The retention job follows each project's live retention settings on every backend.
async fn retention_settings_drive_the_job(env: Env) {
    let project = common::unique("ret");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(config_on(&env, &project, &key), store.clone()).await;
    admin_put(
        &srv,
        &project,
        json!({"retention": {"events_days": 30, "sessions_days": 7, "users_days": 10}}),
    )
    .await;
    let now = chrono::Utc::now().timestamp_millis();
    let days_ago = |d: i64| footfall_collector::ingest::iso(now - d * 86_400_000);
    let at = |m: Value, d: i64| {
        let mut m = m;
        m["timestamp"] = json!(days_ago(d));
        m["context"]["sessionId"] = json!(format!("s-{d}"));
        m
    };
    let batch = json!({"batch": [
        at(msg("track", "old", Some("u1"), json!({"event": "e"})), 40),
        at(msg("track", "mid", Some("u1"), json!({"event": "e"})), 20),
        at(msg("identify", "link-old", Some("u2"), json!({})), 20),
        at(msg("identify", "link-new", Some("u3"), json!({})), 1),
        at(msg("track", "new", Some("u1"), json!({"event": "e"})), 1),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &batch).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(5)), "{body}");
    let s = &*store;
    assert!(
        !props(&common::event(s, &project, "new").await.unwrap(), "context")
            .as_object()
            .unwrap()
            .contains_key("sessionId"),
        "the session id is stored in its column only"
    );

    let runs = footfall_collector::privacy::run_retention(&srv.state, now)
        .await
        .unwrap();
    let run = runs.iter().find(|r| r.project == project).unwrap();
    assert_eq!(
        (
            run.events_deleted,
            run.sessions_cleared,
            run.identity_links_deleted
        ),
        (1, 2, 1),
        "{run:?}"
    );
    assert!(
        common::event(s, &project, "old").await.is_none(),
        "events: 30 days"
    );
    let mid = common::event(s, &project, "mid").await.unwrap();
    assert!(mid["session_id"].is_null(), "sessions: 7 days");
    assert_eq!(mid["user_id"], "u1", "the event itself stays");
    assert_eq!(
        common::event(s, &project, "new").await.unwrap()["session_id"],
        "s-1"
    );
    assert_eq!(
        common::linked_user(s, &project, "anon-link-old").await,
        None,
        "users: 10 days"
    );
    assert_eq!(
        common::linked_user(s, &project, "anon-link-new").await.as_deref(),
        Some("u3")
    );
    let (_, audit) = common::read(srv.admin_get(&format!("/v1/admin/audit?project={project}")).await).await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["action"], "retention");
    assert_eq!(
        (
            entry["details"]["events_deleted"].as_u64(),
            entry["details"]["sessions_cleared"].as_u64(),
            entry["details"]["identity_links_deleted"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );

    // A shorter retention set through the API applies at the next run (no restart).
    admin_put(&srv, &project, json!({"retention": {"events_days": 5}})).await;
    let runs = footfall_collector::privacy::run_retention(&srv.state, now)
        .await
        .unwrap();
    assert_eq!(
        runs.iter().find(|r| r.project == project).unwrap().events_deleted,
        2
    );
    assert!(common::event(s, &project, "mid").await.is_none());
    assert!(common::event(s, &project, "new").await.is_some());
    srv.shutdown().await;
}

/// Erase and export by anonymous id (cookie/device id) through the admin API.
async fn data_subject_tools_by_anonymous_id(env: Env) {
    let project = common::unique("dsr");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(config_on(&env, &project, &key), store.clone()).await;
    let device = common::unique("device");
    let lonely = common::unique("lonely");
    let mut a = msg("track", "a1", None, json!({"event": "viewed"}));
    a["anonymousId"] = json!(device);
    let mut b = msg("identify", "a2", Some("zoe"), json!({}));
    b["anonymousId"] = json!(device);
    let mut c = msg("track", "a3", Some("zoe"), json!({"event": "bought"}));
    c["anonymousId"] = json!(common::unique("other-device"));
    let mut d = msg("track", "a4", None, json!({"event": "viewed"}));
    d["anonymousId"] = json!(lonely);
    let (status, _) = srv.post("/v1/batch", &key, &json!({"batch": [a, b, c, d]})).await;
    assert_eq!(status, 200);
    let export = |id: String| {
        let url = srv.url(&format!("/v1/admin/anonymous_ids/{id}/export?project={project}"));
        let client = srv.client.clone();
        async move {
            let text = client
                .get(url)
                .bearer_auth(common::ADMIN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let mut ids = common::export_message_ids(&text);
            ids.sort();
            ids
        }
    };
    assert_eq!(
        export(device.clone()).await,
        ["a1", "a2", "a3"],
        "the linked user's whole person"
    );
    assert_eq!(export(lonely.clone()).await, ["a4"]);
    let erase = |id: String| {
        let url = srv.url(&format!("/v1/admin/anonymous_ids/{id}?project={project}"));
        let client = srv.client.clone();
        async move {
            common::read(
                client
                    .delete(url)
                    .bearer_auth(common::ADMIN)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, s) = erase(lonely.clone()).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (
            s["by"].as_str(),
            s["events_deleted"].as_u64(),
            s["user_id"].is_null()
        ),
        (Some("anonymous_id"), Some(1), true)
    );
    let (_, s) = erase(device.clone()).await;
    assert_eq!(
        (
            s["user_id"].as_str(),
            s["events_deleted"].as_u64(),
            s["identity_links_deleted"].as_u64()
        ),
        (Some("zoe"), Some(3), Some(1)),
        "{s}"
    );
    assert_eq!(common::event_count(&*store, &project).await, 0);
    let (_, audit) = common::read(srv.admin_get(&format!("/v1/admin/audit?project={project}")).await).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "erase_anonymous_id",
            "erase_anonymous_id",
            "export_anonymous_id",
            "export_anonymous_id"
        ]
    );
    assert!(
        !audit.to_string().contains(&device),
        "the audit log names people by fingerprint only"
    );
    // Later events of the erased device are refused.
    let mut late = msg("track", "late", None, json!({"event": "viewed"}));
    late["anonymousId"] = json!(device);
    let (_, body) = srv.post("/v1/batch", &key, &json!({"batch": [late]})).await;
    assert_eq!(body["rejected"][0]["reason"], "suppressed");
    srv.shutdown().await;
}

/// Two collectors on one backend: a change through the first reaches the second within its
/// refresh interval (its periodic job, `settings_refresh_secs: 1`), without restart.
async fn changes_reach_every_collector(env: Env) {
    let project = common::unique("multi");
    let key = common::unique("wk");
    let first = TestServer::start(config_on(&env, &project, &key), common::open(&env.location)).await;
    let second_state = AppState::new(config_on(&env, &project, &key), common::open(&env.location))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(second_state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let settings = |base: String| {
        let key = key.clone();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{base}/v1/settings"))
                .basic_auth(key, Some(""))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(settings(second.clone()).await["consent_mode"], "opt_out");
    admin_put(
        &first,
        &project,
        json!({"consent_mode": "opt_in", "property_deny_list": ["email"]}),
    )
    .await;
    // Within one refresh interval (polled; the test harness bounds the wait).
    while settings(second.clone()).await["consent_mode"] != "opt_in" {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …and the second collector enforces it.
    let m = msg(
        "track",
        "x1",
        Some("u"),
        json!({"event": "e", "properties": {"email": "u@example.com"},
        "context": {"consent": {"categoryPreferences": {"analytics": true}}}}),
    );
    let r = reqwest::Client::new()
        .post(format!("{second}/v1/batch"))
        .basic_auth(&key, Some(""))
        .json(&json!({"batch": [m]}))
        .send()
        .await
        .unwrap();
    let (_, body) = common::read(r).await;
    assert_eq!(body["rejected"][0]["reason"], "denied_property", "{body}");
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    first.shutdown().await;
}

mod enforcement {
    use super::*;
    per_backend!(super::raw_clients_are_held_to_the_settings);
}

mod retention {
    use super::*;
    per_backend!(super::retention_settings_drive_the_job);
}

mod data_subjects {
    use super::*;
    per_backend!(super::data_subject_tools_by_anonymous_id);
}

mod propagation {
    use super::*;
    per_backend!(super::changes_reach_every_collector);
}

#[test]
fn config_files_give_the_initial_settings() {
    use std::path::Path;
    let yaml = "projects:\n  - id: a\n    write_keys: [k]\n    retention_days: 12\n    privacy:\n      store_raw_ip: true\n      consent_categories: {marketing: opt_in}\n      property_deny_list: [email]\n";
    let c = Config::from_yaml(yaml, Path::new("c.yaml")).unwrap();
    c.validate().unwrap();
    let s = c.initial_settings(&c.projects[0]);
    assert!(
        !s.anonymize_ip && s.store_raw_ip,
        "legacy store_raw_ip turns anonymization off"
    );
    assert_eq!(s.retention.events_days, 12);
    assert_eq!(s.property_deny_list, ["email"]);
    let err = Config::from_yaml(
        "projects:\n  - id: a\n    write_keys: [k]\n    privacy: {anonymise_ip: true}\n",
        Path::new("c.yaml"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("anonymise_ip"), "{err}");
    let c = Config::from_yaml(
        "projects:\n  - id: a\n    write_keys: [k]\n    privacy: {hash_user_id: true}\n",
        Path::new("c.yaml"),
    )
    .unwrap();
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("hash_salt is required")
    );
    let c = Config::from_yaml(
        "projects:\n  - id: a\n    write_keys: [k]\n    privacy: {retention: {events_days: 0}}\n",
        Path::new("c.yaml"),
    )
    .unwrap();
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("projects[a].privacy.retention.events_days")
    );
    // Round trip (the process tests write configs as YAML).
    let mut c = Config::default();
    let mut p = ProjectConfig::new("a", "k");
    p.privacy.hash_user_id = true;
    p.privacy.hash_salt = Some("0123456789abcdef".into());
    c.projects.push(p);
    let back = Config::from_yaml(&serde_norway::to_string(&c).unwrap(), Path::new("c.yaml")).unwrap();
    assert_eq!(back.projects[0].privacy, c.projects[0].privacy);
}
