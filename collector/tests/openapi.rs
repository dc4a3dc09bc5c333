//! `collector/openapi.yaml` describes exactly the routes the router serves: every route of the
//! route table (with each method) is in the document, every documented operation is in the
//! table, and the router really answers each of them (not 404/405).

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use footfall_collector::routes::route_table;
use serde_json::Value;
use tower::ServiceExt;

fn document() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).expect("openapi.yaml parses")
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method.as_str()) {
                out.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    out
}

fn served() -> BTreeSet<(String, String)> {
    route_table()
        .into_iter()
        .flat_map(|r| r.methods.iter().map(move |m| (r.path.to_string(), m.to_string())))
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let (doc, table) = (documented(), served());
    let undocumented: Vec<_> = table.difference(&doc).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from collector/openapi.yaml: {undocumented:?}"
    );
    let unserved: Vec<_> = doc.difference(&table).collect();
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");
    assert!(table.len() >= 35);
}

#[tokio::test]
async fn the_router_serves_every_route_of_its_table() {
    let store = footfall_engine::store::open_store(":memory:").unwrap();
    let mut config = common::config(":memory:", "p", "k");
    config.store = None;
    config.example_dirs = vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/browser").into()];
    let state = footfall_collector::AppState::new(config, store).await.unwrap();
    for (path, method) in served() {
        let uri = path
            .replace("{user_id}", "someone")
            .replace("{anonymous_id}", "some-device")
            .replace("{project_id}", "p")
            .replace("{id}", "some-dashboard")
            .replace("{*path}", "index.html");
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let response = footfall_collector::app(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_ne!(response.status(), StatusCode::NOT_FOUND, "{method} {uri}");
        assert_ne!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
    }
    let request = Request::builder().uri("/v1/nope").body(Body::empty()).unwrap();
    let response = footfall_collector::app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "the check can fail");
}

#[test]
fn documented_reasons_and_codes_cover_the_code() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    for code in [
        "invalid_json",
        "too_deep",
        "too_large",
        "missing_field",
        "missing_identity",
        "invalid_type",
        "wrong_type",
        "invalid_field",
        "invalid_timestamp",
        "no_consent",
        "suppressed",
        "not_in_plan",
        "denied_property",
        "invalid_settings",
        "precondition_failed",
        "bot",
        "overloaded",
        "store_unavailable",
        "too_many_messages",
        "origin_not_allowed",
        "invalid_write_key",
        "missing_write_key",
        "all_rejected",
        "conflict",
        "not_implemented",
    ] {
        assert!(text.contains(code), "openapi.yaml does not mention `{code}`");
    }
}
