//! End to end: the native SDK (`footfall::Client`, gzip batches with the write key as HTTP Basic
//! username) → a real collector on 127.0.0.1 → the store, on each backend.

mod common;

use std::time::Duration;

use common::{Env, TestServer};
use footfall::event::Event;
use footfall::native::Client;
use serde_json::json;

async fn native_sdk_to_store(env: Env) {
    let project = common::unique("sdk");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;

    let client = Client::builder(key.as_str())
        .endpoint(format!("http://{}", srv.addr))
        .build()
        .expect("client");
    client.grant_all();
    client.track(Event::page_view(
        "https://shop.example.com/pricing",
        Some("https://www.example.org/"),
        Some("Pricing"),
    ));
    client.track(Event::sign_up());
    client.track(Event::identify("user_e2e").trait_value("plan", "pro"));
    client.track(Event::purchase(
        "ord_1",
        49.9,
        "EUR",
        json!([{"sku": "a", "quantity": 1}]),
    ));
    client.track(Event::feature_used("search", Some("2")));
    assert_eq!(client.flush().await, 0, "everything delivered");
    let report = client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.unsent, 0);

    let d = store.dialect();
    let sql = format!(
        "SELECT event, user_id, anonymous_id, message_id FROM {} WHERE project_id = {} ORDER BY ts, message_id",
        footfall_engine::store::events_relation(d),
        common::sql_str(d, &project)
    );
    let rows = common::rows(&*store, &sql).await;
    let events: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    for expected in ["page_view", "sign_up", "$identify", "purchase", "feature_used"] {
        assert!(events.contains(&expected), "{expected} missing from {events:?}");
    }
    let anonymous = rows[0][2]
        .as_str()
        .expect("the SDK sends its anonymous id")
        .to_string();
    let purchase = rows.iter().find(|r| r[0] == "purchase").unwrap();
    assert_eq!(purchase[1], "user_e2e");
    assert_eq!(
        common::linked_user(&*store, &project, &anonymous)
            .await
            .as_deref(),
        Some("user_e2e")
    );
    let row = common::event(&*store, &project, purchase[3].as_str().unwrap())
        .await
        .unwrap();
    let properties: serde_json::Value = serde_json::from_str(row["properties"].as_str().unwrap()).unwrap();
    assert_eq!(properties["amount"], 49.9);
    let context: serde_json::Value = serde_json::from_str(row["context"].as_str().unwrap()).unwrap();
    assert!(context["library"]["name"].is_string(), "{context}");
    assert_eq!(
        srv.state
            .metrics
            .render()
            .lines()
            .find(|l| l.starts_with("footfall_messages_rejected_total")),
        None,
        "nothing refused"
    );
    srv.shutdown().await;
}

mod sdk {
    use super::*;
    per_backend!(super::native_sdk_to_store);
}
