//! Alerts against a local webhook receiver (axum on 127.0.0.1:0): a rule fires when its
//! condition holds and not when it does not, notifies once per firing, writes the audit log,
//! retries a failed webhook, and reports resolution.

mod dashboard_support;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use dashboard_support::{DAY, PROJECT, store_with_data};
use footfall_engine::dashboard::{AlertOutcome, AlertStore, evaluate_alerts};
use footfall_engine::query::{EventsQuery, Filter, Metric, QueryContext, query_events};
use footfall_engine::store::Store;
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: `/hook` answers 200, `/fail` 500; both record the bodies.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    async fn ok(State(g): State<Received>, Json(v): Json<Value>) -> StatusCode {
        g.lock().unwrap().push(v);
        StatusCode::OK
    }
    async fn fail(State(g): State<Received>, Json(v): Json<Value>) -> StatusCode {
        g.lock().unwrap().push(json!({"failed": v}));
        StatusCode::INTERNAL_SERVER_ERROR
    }
    let app = axum::Router::new()
        .route("/hook", post(ok))
        .route("/fail/{secret}", post(fail))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

async fn purchases(store: &dyn Store, now: i64, from: &str, to: &str) -> i64 {
    let mut q = EventsQuery::new(&[], vec![Metric::count()]);
    q.filters = Some(Filter::eq("event", "purchase"));
    q.from = Some(from.into());
    q.to = Some(to.into());
    query_events(store, &QueryContext::at(PROJECT, now), &q)
        .await
        .unwrap()
        .rows[0][0]
        .as_i64()
        .unwrap()
}

fn outcome<'a>(all: &'a [AlertOutcome], id: &str) -> &'a AlertOutcome {
    all.iter().find(|o| o.alert_id == id).unwrap()
}

async fn audit_actions(store: &dyn Store) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = store
        .list_audit(Some(PROJECT), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.target))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn alerts_fire_only_when_their_condition_holds() {
    let (store, today) = store_with_data().await;
    let (base, got) = receiver().await;
    let now = today + 12 * 3_600_000;
    let window_start = chrono::DateTime::from_timestamp_millis(now - 30 * DAY)
        .unwrap()
        .to_rfc3339();
    let n = purchases(store.as_ref(), now, &window_start, "now").await;
    assert!(n > 5, "the dataset has purchases in the last 30 days ({n})");

    let alerts = AlertStore::new(store.as_ref(), PROJECT);
    let rule = |name: &str, cond: String, hook: &str| {
        json!({"name": name, "filters": {"event_type": "purchase"}, "condition": cond, "window": "30_days",
               "interval": "15_minutes", "webhook": format!("{base}{hook}"), "notify_resolved": true})
    };
    alerts
        .create_from_body(&rule("Many purchases", format!("> {}", n - 1), "/hook"))
        .await
        .unwrap();
    alerts
        .create_from_body(&rule("Too many purchases", format!("> {n}"), "/hook"))
        .await
        .unwrap();
    alerts
        .create_from_body(&rule("Broken hook", format!(">= {n}"), "/fail/T0-s3cret-token"))
        .await
        .unwrap();
    let mut off = rule("Disabled", "> 0".into(), "/hook");
    off["enabled"] = json!(false);
    alerts.create_from_body(&off).await.unwrap();

    let round1 = evaluate_alerts(store.as_ref(), PROJECT, now).await.unwrap();
    let fired = outcome(&round1, "many-purchases");
    assert!(fired.evaluated && fired.firing && fired.notified, "{fired:?}");
    assert_eq!(fired.value, Some(n as f64));
    let quiet = outcome(&round1, "too-many-purchases");
    assert!(quiet.evaluated && !quiet.firing && !quiet.notified, "{quiet:?}");
    let broken = outcome(&round1, "broken-hook");
    assert!(
        broken.firing && !broken.notified && broken.error.as_deref().unwrap().contains("500"),
        "{broken:?}"
    );
    // The error (logged, shown by the admin API) names the host, never the webhook's secret path.
    let error = broken.error.as_deref().unwrap();
    assert!(
        error.contains("127.0.0.1") && !error.contains("s3cret"),
        "{error}"
    );
    assert!(!outcome(&round1, "disabled").evaluated);

    {
        let bodies = got.lock().unwrap();
        let ok: Vec<&Value> = bodies.iter().filter(|b| b.get("failed").is_none()).collect();
        assert_eq!(ok.len(), 1, "exactly one notification: {bodies:?}");
        let b = ok[0];
        assert_eq!(b["status"], json!("firing"));
        assert_eq!(b["alert"]["id"], json!("many-purchases"));
        assert_eq!(b["value"], json!(n as f64));
        assert_eq!(b["project"], json!(PROJECT));
        assert!(b["message"].as_str().unwrap().contains(&format!("> {}", n - 1)));
        assert_eq!(bodies.iter().filter(|b| b.get("failed").is_some()).count(), 1);
    }
    assert_eq!(
        audit_actions(store.as_ref()).await,
        [
            ("alert.fired".to_string(), "alert:many-purchases".to_string()),
            (
                "alert.webhook_failed".to_string(),
                "alert:broken-hook".to_string()
            ),
        ]
    );

    // One minute later nothing is due; 20 minutes later the firing rule is evaluated again but
    // does not notify twice, and the broken hook is retried.
    let round2 = evaluate_alerts(store.as_ref(), PROJECT, now + 60_000)
        .await
        .unwrap();
    assert!(round2.iter().all(|o| !o.evaluated));
    let round3 = evaluate_alerts(store.as_ref(), PROJECT, now + 20 * 60_000)
        .await
        .unwrap();
    assert!(outcome(&round3, "many-purchases").firing && !outcome(&round3, "many-purchases").notified);
    assert_eq!(
        got.lock()
            .unwrap()
            .iter()
            .filter(|b| b.get("failed").is_some())
            .count(),
        2,
        "retried"
    );
    assert_eq!(
        got.lock()
            .unwrap()
            .iter()
            .filter(|b| b.get("failed").is_none())
            .count(),
        1
    );

    // 60 days later the window holds no purchase: the firing rule resolves (and says so).
    let later = now + 60 * DAY;
    let round4 = evaluate_alerts(store.as_ref(), PROJECT, later).await.unwrap();
    let r = outcome(&round4, "many-purchases");
    assert!(
        r.evaluated && !r.firing && r.notified && r.value == Some(0.0),
        "{r:?}"
    );
    let last = got.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["status"], json!("resolved"));
    assert!(
        audit_actions(store.as_ref())
            .await
            .contains(&("alert.resolved".into(), "alert:many-purchases".into()))
    );
    let state: Value = store
        .get_document("alert_state", PROJECT, "many-purchases")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["firing"], json!(false));
    assert_eq!(state["last_fired_at"], json!(now));
}

#[tokio::test]
async fn change_conditions_compare_with_the_previous_window() {
    let (store, today) = store_with_data().await;
    let (base, got) = receiver().await;
    let now = today + 12 * 3_600_000;
    let iso = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
    let cur = purchases(store.as_ref(), now, &iso(now - 7 * DAY), &iso(now)).await;
    let prev = purchases(store.as_ref(), now, &iso(now - 14 * DAY), &iso(now - 7 * DAY)).await;
    assert_ne!(cur, prev, "the dataset must make the two weeks differ");
    let diff = cur - prev;
    let alerts = AlertStore::new(store.as_ref(), PROJECT);
    for (name, cond) in [
        ("holds", format!("change >= {diff}")),
        ("fails", format!("change > {diff}")),
    ] {
        alerts
            .create_from_body(
                &json!({"name": name, "filters": {"event_type": "purchase"}, "condition": cond,
                                      "window": "7_days", "webhook": format!("{base}/hook")}),
            )
            .await
            .unwrap();
    }
    let out = evaluate_alerts(store.as_ref(), PROJECT, now).await.unwrap();
    let h = outcome(&out, "holds");
    assert_eq!((h.value, h.previous_value), (Some(cur as f64), Some(prev as f64)));
    assert!(h.firing && h.notified);
    assert!(!outcome(&out, "fails").firing);
    let bodies = got.lock().unwrap();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["change"], json!(diff as f64));
    assert_eq!(bodies[0]["previous_value"], json!(prev as f64));
}
