//! The HTTP routes (feature `http`) driven through the router: auth, dashboards CRUD (JSON and
//! YAML), data, HTML pages, alerts and the query API.

#[cfg(feature = "http")]
mod dashboard_support;

#[cfg(not(feature = "http"))]
#[test]
#[ignore = "SKIPPED: needs `--features http` (cargo test -p footfall-engine --features http)"]
fn needs_the_http_feature() {}

#[cfg(feature = "http")]
mod routes {
    use super::dashboard_support::host::Host;
    use super::dashboard_support::{example_yaml, store_with_data};
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use footfall_engine::dashboard::http::dashboard_routes;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        body: Option<(&str, String)>,
        auth: bool,
    ) -> (StatusCode, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if auth {
            req = req.header(header::AUTHORIZATION, "Bearer secret");
        }
        let body = match body {
            Some((ct, b)) => {
                req = req.header(header::CONTENT_TYPE, ct);
                Body::from(b)
            }
            None => Body::empty(),
        };
        let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn json_of(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    #[tokio::test]
    async fn routes() {
        let (store, _) = store_with_data().await;
        let app: Router = dashboard_routes().with_state(Host::new(store));

        // Auth is the host's.
        assert_eq!(
            call(&app, "GET", "/v1/dashboards", None, false).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(&app, "GET", "/v1/dashboards/x/data", None, false).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(
                &app,
                "POST",
                "/v1/query",
                Some(("application/json", "{}".into())),
                false
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );

        // A dashboards file as YAML creates every dashboard in it.
        let (s, body) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/yaml", example_yaml())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        assert_eq!(json_of(&body)["dashboards"][0]["id"], json!("product-overview"));
        let (s, body) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/yaml", example_yaml())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");
        assert!(
            json_of(&body)["error"]
                .as_str()
                .unwrap()
                .contains("already exists")
        );

        // One dashboard as JSON; validation errors are 400 with the widget and field named.
        let one = json!({"name": "Mini", "widgets": [{"type": "metric", "title": "Events"}]}).to_string();
        let (s, body) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/json", one)),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let bad = json!({"name": "Bad", "widgets": [{"type": "gauge", "title": "G"}]}).to_string();
        let (s, body) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/json", bad)),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let msg = json_of(&body)["error"].as_str().unwrap().to_string();
        assert!(
            msg.contains("widgets[0] (\"G\")") && msg.contains("`type`") && msg.contains("gauge"),
            "{msg}"
        );
        let (s, _) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/json", "{not json".into())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        let (s, body) = call(&app, "GET", "/v1/dashboards", None, true).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<String> = json_of(&body)["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["mini", "product-overview"]);

        let (s, body) = call(&app, "GET", "/v1/dashboards/mini", None, true).await;
        assert_eq!(
            (s, json_of(&body)["name"].clone()),
            (StatusCode::OK, json!("Mini"))
        );
        let put = json!({"name": "Mini 2", "widgets": []}).to_string();
        let (s, body) = call(
            &app,
            "PUT",
            "/v1/dashboards/mini",
            Some(("application/json", put.clone())),
            true,
        )
        .await;
        assert_eq!(
            (s, json_of(&body)["name"].clone()),
            (StatusCode::OK, json!("Mini 2"))
        );
        assert_eq!(
            call(
                &app,
                "PUT",
                "/v1/dashboards/nope",
                Some(("application/json", put)),
                true
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&app, "DELETE", "/v1/dashboards/mini", None, true).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&app, "GET", "/v1/dashboards/mini", None, true).await.0,
            StatusCode::NOT_FOUND
        );

        // Data, with and without a range; a bad range is a 400.
        let (s, body) = call(&app, "GET", "/v1/dashboards/product-overview/data", None, true).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let data = json_of(&body);
        let example = footfall_engine::dashboard::example_dashboards();
        assert_eq!(
            data["widgets"].as_array().unwrap().len(),
            example[0].widgets.len()
        );
        assert!(
            data["widgets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["error"].is_null()),
            "{data:#}"
        );
        let (s, body) = call(
            &app,
            "GET",
            "/v1/dashboards/product-overview/data?from=7_days_ago&to=today",
            None,
            true,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(json_of(&body)["from"].is_string());
        let (s, body) = call(
            &app,
            "GET",
            "/v1/dashboards/product-overview/data?from=soon",
            None,
            true,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            call(&app, "GET", "/v1/dashboards/nope/data", None, true).await.0,
            StatusCode::NOT_FOUND
        );

        // HTML pages are shells without data: served without a token.
        let (s, html) = call(&app, "GET", "/dashboards/product-overview", None, false).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("\"dashboardId\":\"product-overview\"") && !html.contains("<svg"));
        let (s, html) = call(&app, "GET", "/dashboards", None, false).await;
        assert!(s == StatusCode::OK && html.contains("\"mode\":\"index\""));

        // Alerts CRUD and state.
        let rule =
            json!({"name": "Errors", "condition": "> 10", "webhook": "http://127.0.0.1:9/x"}).to_string();
        let (s, body) = call(&app, "POST", "/v1/alerts", Some(("application/json", rule)), true).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let (s, body) = call(&app, "GET", "/v1/alerts", None, true).await;
        assert_eq!(
            (s, json_of(&body)["alerts"][0]["id"].clone()),
            (StatusCode::OK, json!("errors"))
        );
        let (s, body) = call(&app, "GET", "/v1/alerts/errors/state", None, true).await;
        assert_eq!(
            (s, json_of(&body)["firing"].clone()),
            (StatusCode::OK, json!(false))
        );
        let bad = json!({"name": "E", "condition": "lots", "webhook": "http://x.example"}).to_string();
        let (s, body) = call(&app, "POST", "/v1/alerts", Some(("application/json", bad)), true).await;
        assert!(
            s == StatusCode::BAD_REQUEST && body.contains("condition"),
            "{body}"
        );
        assert_eq!(
            call(&app, "DELETE", "/v1/alerts/errors", None, true).await.0,
            StatusCode::NO_CONTENT
        );
        let (s, body) = call(&app, "POST", "/v1/alerts/evaluate", None, true).await;
        assert_eq!(
            (s, json_of(&body)["outcomes"].clone()),
            (StatusCode::OK, json!([]))
        );

        // The query API runs any spec; the range can come from the URL.
        let spec = json!({"kind": "events", "dimensions": ["event"], "metrics": ["count"], "order_by": ["event ASC"], "limit": 3});
        let (s, body) = call(
            &app,
            "POST",
            "/v1/query?from=30_days_ago&to=today",
            Some(("application/json", spec.to_string())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let out = json_of(&body);
        assert_eq!(out["kind"], json!("events"));
        assert_eq!(out["rows"].as_array().unwrap().len(), 3);
        let yaml = "kind: funnel\nsteps: [page_view, sign_up]\n";
        let (s, body) = call(
            &app,
            "POST",
            "/v1/query",
            Some(("application/yaml", yaml.into())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(json_of(&body)["steps"][1]["persons"], json!(16));
        let (s, body) = call(
            &app,
            "POST",
            "/v1/query",
            Some(("application/json", json!({"kind": "horoscope"}).to_string())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains("horoscope"), "{body}");
    }

    #[tokio::test]
    async fn widget_requests_and_the_cache() {
        let (store, _) = store_with_data().await;
        let cache = std::sync::Arc::new(footfall_engine::dashboard::cache::DataCache::default());
        let app: Router = dashboard_routes().with_state(Host {
            store,
            cache: Some(cache.clone()),
        });
        let (s, _) = call(
            &app,
            "POST",
            "/v1/dashboards",
            Some(("application/yaml", example_yaml())),
            true,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let uri = "/v1/dashboards/product-overview/data";

        // One widget at a time, as the live page loads them.
        let (s, body) = call(&app, "GET", &format!("{uri}?widget=top_events"), None, true).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let one = json_of(&body);
        assert_eq!(one["widgets"].as_array().unwrap().len(), 1);
        assert_eq!(
            (
                one["widgets"][0]["id"].clone(),
                one["widgets"][0]["index"].clone()
            ),
            (json!("top_events"), json!(4))
        );
        assert!(one["widgets"][0].get("cached").is_none());
        assert_eq!(
            call(&app, "GET", &format!("{uri}?widget=nope"), None, true)
                .await
                .0,
            StatusCode::NOT_FOUND
        );

        // The same request again is served from the cache, with the same numbers; refresh=1 is not.
        let (_, again) = call(&app, "GET", &format!("{uri}?widget=top_events"), None, true).await;
        let again = json_of(&again);
        assert_eq!(again["widgets"][0]["cached"], json!(true));
        assert_eq!(again["widgets"][0]["result"], one["widgets"][0]["result"]);
        let (_, fresh) = call(
            &app,
            "GET",
            &format!("{uri}?widget=top_events&refresh=1"),
            None,
            true,
        )
        .await;
        assert!(json_of(&fresh)["widgets"][0].get("cached").is_none());
        // Another range is another entry.
        let (_, other) = call(
            &app,
            "GET",
            &format!("{uri}?widget=top_events&from=7_days_ago"),
            None,
            true,
        )
        .await;
        assert!(json_of(&other)["widgets"][0].get("cached").is_none());
        assert_eq!(cache.len(), 2);
    }
}
