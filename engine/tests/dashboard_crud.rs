//! Dashboards and alert rules stored as documents: create, list, get, update, delete, with
//! validation on every write. DuckDB in memory.

mod dashboard_support;

use footfall_engine::dashboard::alert::AlertState;
use footfall_engine::dashboard::crud::{ALERT_STATE_KIND, load_alert_state, save_alert_state};
use footfall_engine::dashboard::{AlertStore, DashboardError, DashboardStore, parse_dashboards};
use footfall_engine::store::{DuckDbStore, Store};
use serde_json::json;

async fn empty_store() -> DuckDbStore {
    let s = DuckDbStore::open_in_memory().unwrap();
    s.migrate().await.unwrap();
    s
}

#[tokio::test]
async fn dashboard_lifecycle() {
    let store = empty_store().await;
    let ds = DashboardStore::new(&store, "p1");
    assert!(ds.list().await.unwrap().is_empty());

    let body = json!({"name": "Growth & Retention", "widgets": [{"type": "metric", "title": "Users"}]});
    let created = ds.create_from_body(&body).await.unwrap();
    assert_eq!(created.id.as_deref(), Some("growth-retention"));
    let again = ds.create_from_body(&body).await.unwrap();
    assert_eq!(
        again.id.as_deref(),
        Some("growth-retention-2"),
        "same name: a fresh id, nothing overwritten"
    );

    let example = parse_dashboards(&dashboard_support::example_yaml())
        .unwrap()
        .remove(0);
    ds.create(example.clone()).await.unwrap();
    match ds.create(example.clone()).await {
        Err(DashboardError::Conflict {
            kind: "dashboard",
            id,
        }) => assert_eq!(id, "product-overview"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let ids: Vec<String> = ds
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id.unwrap())
        .collect();
    assert_eq!(
        ids,
        ["growth-retention", "growth-retention-2", "product-overview"]
    );
    assert_eq!(ds.get("product-overview").await.unwrap(), example);

    // Projects are isolated.
    assert!(DashboardStore::new(&store, "p2").list().await.unwrap().is_empty());
    assert!(matches!(
        DashboardStore::new(&store, "p2").get("product-overview").await,
        Err(DashboardError::NotFound { .. })
    ));

    // Update: validated, id from the path, a different id in the body refused.
    let updated = ds
        .update_from_body(
            "growth-retention",
            &json!({"name": "Growth", "widgets": [{"type": "table", "title": "T", "dimensions": ["event"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(updated.id.as_deref(), Some("growth-retention"));
    assert_eq!(ds.get("growth-retention").await.unwrap().name, "Growth");
    let err = ds
        .update_from_body(
            "growth-retention",
            &json!({"id": "other", "name": "X", "widgets": []}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("differs"), "{err}");
    assert!(matches!(
        ds.update_from_body("nope", &json!({"name": "X", "widgets": []}))
            .await,
        Err(DashboardError::NotFound { .. })
    ));

    // Validation on write: nothing stored, the message names widget and field.
    let bad = json!({"name": "Bad", "widgets": [{"type": "chart", "title": "Views", "dimensions": ["day"], "metrics": ["total"]}]});
    let err = ds.create_from_body(&bad).await.unwrap_err().to_string();
    assert!(
        err.contains("widgets[0] (\"Views\")") && err.contains("metrics[0]") && err.contains("total"),
        "{err}"
    );
    let err = ds.update_from_body("growth-retention", &bad).await.unwrap_err();
    assert!(matches!(err, DashboardError::Invalid(_)));
    assert_eq!(
        ds.get("growth-retention").await.unwrap().name,
        "Growth",
        "a refused update changes nothing"
    );
    assert_eq!(ds.list().await.unwrap().len(), 3);

    // Delete.
    ds.delete("growth-retention-2").await.unwrap();
    assert!(matches!(
        ds.delete("growth-retention-2").await,
        Err(DashboardError::NotFound { .. })
    ));
    assert_eq!(ds.list().await.unwrap().len(), 2);

    // Bulk upsert of a file (what `serve --demo` does) replaces same-id dashboards.
    let mut all = parse_dashboards(&dashboard_support::example_yaml()).unwrap();
    all[0].description = Some("changed".into());
    ds.upsert_all(&all).await.unwrap();
    assert_eq!(
        ds.get("product-overview").await.unwrap().description.as_deref(),
        Some("changed")
    );
}

#[tokio::test]
async fn alert_lifecycle() {
    let store = empty_store().await;
    let alerts = AlertStore::new(&store, "p1");
    let rule = json!({
        "name": "Purchases dropped", "filters": {"event_type": "purchase"}, "condition": "change < -20%",
        "window": "1_hours", "interval": "5_minutes", "webhook": "https://hooks.example.com/x"
    });
    let created = alerts.create_from_body(&rule).await.unwrap();
    assert_eq!(created.id.as_deref(), Some("purchases-dropped"));
    assert!(created.enabled);
    assert_eq!(created.condition.to_string(), "change < -20%");
    let stored = serde_json::to_value(alerts.get("purchases-dropped").await.unwrap()).unwrap();
    assert_eq!(stored["interval"], json!("5_minutes"));
    assert_eq!(stored["metric"], json!({"type": "count"}));

    for (patch, want) in [
        (json!({"condition": "above 3"}), "condition"),
        (json!({"webhook": "ftp://x"}), "webhook"),
        (json!({"window": "3_eons"}), "window"),
        (json!({"metric": {"type": "sum"}}), "needs a field"),
        (json!({"filters": {"start_date": "today"}}), "window"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let mut body = rule.clone();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        let err = alerts.create_from_body(&body).await.unwrap_err().to_string();
        assert!(err.contains(want), "{patch}: {err}");
    }
    assert_eq!(alerts.list().await.unwrap().len(), 1);

    let mut changed = rule.clone();
    changed["enabled"] = json!(false);
    assert!(
        !alerts
            .update_from_body("purchases-dropped", &changed)
            .await
            .unwrap()
            .enabled
    );

    // Deleting a rule deletes its evaluator state too.
    save_alert_state(
        &store,
        "p1",
        "purchases-dropped",
        &AlertState {
            firing: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        load_alert_state(&store, "p1", "purchases-dropped")
            .await
            .unwrap()
            .firing
    );
    alerts.delete("purchases-dropped").await.unwrap();
    assert!(
        store
            .get_document(ALERT_STATE_KIND, "p1", "purchases-dropped")
            .await
            .unwrap()
            .is_none()
    );
    assert!(alerts.list().await.unwrap().is_empty());
}
