//! Shared by the dashboard tests: a small hand-made dataset relative to today, the example
//! dashboards file, and an in-memory DuckDB store holding the dataset.
#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;

use footfall_engine::store::{DuckDbStore, EventRow, IdentityLink, Store, WriteBatch};
use serde_json::json;

pub const PROJECT: &str = "test";
pub const DAY: i64 = 86_400_000;

/// The example dashboards file of the repository.
pub fn example_yaml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dashboards.yaml");
    std::fs::read_to_string(path).expect("examples/dashboards.yaml")
}

/// Start of the current UTC day (ms).
pub fn today_start(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(DAY)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn row(
    project: &str,
    kind: &str,
    event: &str,
    ts: i64,
    anon: &str,
    user: Option<&str>,
    i: usize,
) -> EventRow {
    let browsers = ["Chrome", "Firefox", "Safari"];
    let oses = ["Windows", "macOS", "iOS", "Android"];
    EventRow {
        project_id: project.into(),
        message_id: String::new(),
        kind: kind.into(),
        event: event.into(),
        ts,
        received_at: ts + 50,
        sent_at: Some(ts + 10),
        original_timestamp: None,
        anonymous_id: Some(anon.into()),
        user_id: user.map(str::to_string),
        session_id: Some(format!("s-{i}-{}", ts / DAY)),
        group_id: None,
        browser: Some(browsers[i % 3].into()),
        os: Some(oses[i % 4].into()),
        device_type: Some(if i % 4 >= 2 { "mobile" } else { "desktop" }.into()),
        is_bot: false,
        ip: None,
        properties: "{}".into(),
        traits: "{}".into(),
        context: "{}".into(),
    }
}

/// The dataset: 40 visitors, each arriving on a past day (1..=27 days ago) — two in three from
/// a campaign (`context.campaign` of the landing page view: google/cpc, newsletter/email) — through home →
/// pricing → click "Start free" → submit → sign_up (dropping at each step by `i % 5`), signed-up users
/// coming back every other day to use features and every third day to buy; a few bot page views.
/// All events lie between 10:00 and 13:00 UTC of past days, so day boundaries never cut through
/// them. `today` is the start of the current UTC day.
pub fn dataset(project: &str, today: i64) -> WriteBatch {
    let mut b = WriteBatch::default();
    let mut n = 0usize;
    let mut push = |b: &mut WriteBatch, mut e: EventRow, props: serde_json::Value| {
        n += 1;
        e.message_id = format!("m{n}");
        e.properties = props.to_string();
        b.events.push(e);
    };
    for i in 0..40usize {
        let anon = format!("anon-{i}");
        let user = format!("user-{i}");
        let d0 = 1 + (i as i64 * 7) % 27;
        let t0 = today - d0 * DAY + 10 * 3_600_000 + i as i64 * 60_000;
        let r = |kind: &str, ev: &str, dt_min: i64, u: Option<&str>| {
            row(project, kind, ev, t0 + dt_min * 60_000, &anon, u, i)
        };
        push(&mut b, r("page", "page_view", 0, None), json!({"path": "/"}));
        // Two visitors in three land from a campaign (what the browser SDK sends for UTM links).
        let campaign = [Some(("google", "cpc")), Some(("newsletter", "email")), None][i % 3];
        if let (Some((source, medium)), Some(landing)) = (campaign, b.events.last_mut()) {
            landing.context = json!({"campaign": {"source": source, "medium": medium}}).to_string();
        }
        push(
            &mut b,
            r("page", "page_view", 5, None),
            json!({"path": "/pricing"}),
        );
        let stage = i % 5;
        if stage >= 1 {
            push(
                &mut b,
                r("track", "click", 6, None),
                json!({"element_id": "cta-signup"}),
            );
        }
        if stage >= 2 {
            push(
                &mut b,
                r("track", "submit", 8, None),
                json!({"form_name": "signup"}),
            );
        }
        if stage >= 3 {
            push(
                &mut b,
                r("track", "sign_up", 10, Some(&user)),
                json!({"plan": if i.is_multiple_of(2) { "free" } else { "pro" }}),
            );
            push(&mut b, r("identify", "$identify", 10, Some(&user)), json!({}));
            b.links.push(IdentityLink {
                project_id: project.into(),
                anonymous_id: anon.clone(),
                user_id: user.clone(),
                linked_at: t0 + 10 * 60_000,
            });
            let features = ["search", "export", "share"];
            let currencies = ["EUR", "USD", "GBP"];
            let mut d = d0 - 1;
            while d >= 1 {
                let t = today - d * DAY + 11 * 3_600_000 + i as i64 * 60_000;
                let rr = |kind: &str, ev: &str, dt_min: i64| {
                    row(project, kind, ev, t + dt_min * 60_000, &anon, Some(&user), i)
                };
                push(&mut b, rr("page", "page_view", 0), json!({"path": "/app"}));
                push(
                    &mut b,
                    rr("track", "feature_used", 2),
                    json!({"feature_name": features[(i + d as usize) % 3]}),
                );
                if d % 3 == 0 {
                    push(
                        &mut b,
                        rr("track", "purchase", 4),
                        json!({"currency": currencies[i % 3], "amount": 10 + i as i64}),
                    );
                }
                d -= 2;
            }
        }
    }
    for k in 0..5i64 {
        let mut e = row(
            project,
            "page",
            "page_view",
            today - (k + 1) * DAY + 12 * 3_600_000,
            "bot",
            None,
            0,
        );
        e.is_bot = true;
        push(&mut b, e, json!({"path": "/"}));
    }
    b
}

/// An in-memory DuckDB store holding [`dataset`] for [`PROJECT`], and `today` (start of the
/// current UTC day).
pub async fn store_with_data() -> (Arc<dyn Store>, i64) {
    let store: Arc<dyn Store> = Arc::new(DuckDbStore::open_in_memory().expect("in-memory DuckDB"));
    store.migrate().await.expect("migrate");
    let today = today_start(now_ms());
    fill(store.as_ref(), today).await;
    (store, today)
}

pub async fn fill(store: &dyn Store, today: i64) {
    let report = store.write(dataset(PROJECT, today)).await.expect("write dataset");
    assert!(report.duplicates.is_empty());
}

/// A collector-like host for the HTTP routes: admin token `secret`, one project.
#[cfg(feature = "http")]
pub mod host {
    use std::sync::Arc;

    use axum::http::request::Parts;
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use footfall_engine::dashboard::cache::DataCache;
    use footfall_engine::dashboard::http::DashboardHost;
    use footfall_engine::store::Store;

    pub const TOKEN: &str = "secret";

    #[derive(Clone)]
    pub struct Host {
        pub store: Arc<dyn Store>,
        pub cache: Option<Arc<DataCache>>,
    }

    impl Host {
        pub fn new(store: Arc<dyn Store>) -> Host {
            Host { store, cache: None }
        }
    }

    impl DashboardHost for Host {
        fn store(&self) -> Arc<dyn Store> {
            self.store.clone()
        }
        fn data_cache(&self) -> Option<&DataCache> {
            self.cache.as_deref()
        }
        fn authorize(&self, parts: &Parts) -> Result<String, Response> {
            match parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            {
                Some(v) if v == format!("Bearer {TOKEN}") => Ok(super::PROJECT.to_string()),
                Some(_) => Err((StatusCode::FORBIDDEN, "bad token").into_response()),
                None => Err((StatusCode::UNAUTHORIZED, "admin token required").into_response()),
            }
        }
    }
}
