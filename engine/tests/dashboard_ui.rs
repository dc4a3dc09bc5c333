//! The HTML dashboards in headless Chromium (playwright-core, engine/tests/ui/): the live page
//! served by the routes and the static report. The numbers a person sees are compared with the
//! JSON API; screenshots are kept in `artifacts/` (gitignored) at the repository root.
//!
//! Needs `npm ci --prefix engine/tests/ui` (scripts/install-deps.sh does it) and Chromium. Without
//! them the test is skipped with a loud notice, or fails when FOOTFALL_REQUIRE_BROWSER=1.

#[cfg(feature = "http")]
mod dashboard_support;

#[cfg(not(feature = "http"))]
#[test]
#[ignore = "SKIPPED: needs `--features http` (cargo test -p footfall-engine --features http)"]
fn needs_the_http_feature() {}

#[cfg(feature = "http")]
mod browser {
    use std::path::{Path, PathBuf};

    use super::dashboard_support::host::{Host, TOKEN};
    use super::dashboard_support::{PROJECT, example_yaml, store_with_data};
    use footfall_engine::dashboard::cache::DataCache;
    use footfall_engine::dashboard::cli::report_data;
    use footfall_engine::dashboard::http::dashboard_routes;
    use footfall_engine::dashboard::{CacheWarmer, render_static_report};
    use serde_json::{Value, json};

    fn ui_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
    }

    fn artifacts() -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Whether the browser rig is installed; otherwise a loud skip (or a failure when required).
    fn browser_available() -> bool {
        let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let missing = if !ui_dir().join("node_modules/playwright-core").is_dir() {
            Some("engine/tests/ui/node_modules is missing (run: npm ci --prefix engine/tests/ui)".to_string())
        } else if !Path::new(&chromium).exists() {
            Some(format!("{chromium} is missing (apt-get install chromium)"))
        } else {
            None
        };
        match missing {
            None => true,
            Some(why) if std::env::var("FOOTFALL_REQUIRE_BROWSER").as_deref() == Ok("1") => {
                panic!("FOOTFALL_REQUIRE_BROWSER=1 but {why}")
            }
            Some(why) => {
                // Written to stderr directly: the test harness captures `eprintln!` of passing tests.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!!!!!!! dashboard browser test SKIPPED: {why} !!!!!!!!!!\n"
                );
                false
            }
        }
    }

    fn run_browser(args: Value) -> Value {
        let out = std::process::Command::new("node")
            .arg(ui_dir().join("check_dashboard.mjs"))
            .arg(args.to_string())
            .current_dir(ui_dir())
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "browser check failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// What the page shows for a number (en-US grouping, at most 2 decimals; null as an en dash).
    fn fmt(v: &Value) -> String {
        let Some(x) = v.as_f64() else {
            return match v {
                Value::Null => "–".into(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
        };
        let r = (x * 100.0).round() / 100.0;
        let neg = r < 0.0;
        let s = format!("{:.2}", r.abs());
        let (int, frac) = s.split_once('.').unwrap();
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let frac = frac.trim_end_matches('0');
        format!(
            "{}{grouped}{}{frac}",
            if neg { "-" } else { "" },
            if frac.is_empty() { "" } else { "." }
        )
    }

    fn pct(f: f64) -> String {
        format!("{:.1}%", f * 100.0)
    }

    /// Widgets of the example dashboard (the product team's, examples/dashboards.yaml).
    fn example_widgets() -> usize {
        footfall_engine::dashboard::example_dashboards()[0].widgets.len()
    }

    fn rows_shown(rows: &Value) -> Vec<Vec<String>> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(fmt).collect())
            .collect()
    }

    /// Compares one displayed dashboard (`shown`) with its API data, widget by widget.
    fn compare(shown: &Value, api: &Value) -> usize {
        let mut checked = 0;
        for w in api["widgets"].as_array().unwrap() {
            let id = w["id"].as_str().unwrap();
            let d = shown["widgets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == w["id"])
                .unwrap_or_else(|| panic!("{id} not shown"));
            assert!(d["error"].is_null(), "{id} shows an error: {}", d["error"]);
            assert_eq!(d["title"], w["title"], "{id}");
            let r = &w["result"];
            match r["kind"].as_str().unwrap() {
                "number" => {
                    assert_eq!(d["metric"].as_str().unwrap(), fmt(&r["value"]), "{id}");
                    if let Some(c) = r["trend"]["change_pct"].as_f64() {
                        let t = d["trend"].as_str().unwrap();
                        assert!(
                            t.contains(&format!("{}{:.1}%", if c > 0.0 { "+" } else { "" }, c)),
                            "{id}: {t} vs {c}"
                        );
                        assert!(
                            t.contains(&format!("vs {}", fmt(&r["trend"]["previous"]))),
                            "{id}: {t}"
                        );
                    }
                    checked += 1;
                }
                "table" => {
                    let key = if w["type"] == "table" || w["type"] == "paths" {
                        "table"
                    } else {
                        "data"
                    };
                    assert_eq!(
                        d[key]
                            .as_array()
                            .map(|_| rows_shown(&d[key]))
                            .unwrap_or_default()
                            .len(),
                        r["rows"].as_array().unwrap().len()
                    );
                    let shown_rows: Vec<Vec<String>> = d[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| {
                            r.as_array()
                                .unwrap()
                                .iter()
                                .map(|c| c.as_str().unwrap().to_string())
                                .collect()
                        })
                        .collect();
                    assert_eq!(shown_rows, rows_shown(&r["rows"]), "{id}");
                    if w["type"] == "chart" && !r["rows"].as_array().unwrap().is_empty() {
                        assert!(
                            d["marks"].as_u64().unwrap() > 0,
                            "{id}: the chart draws its values"
                        );
                    }
                    checked += 1;
                }
                "funnel" => {
                    let steps = r["steps"].as_array().unwrap();
                    let shown_steps = d["steps"].as_array().unwrap();
                    assert_eq!(shown_steps.len(), steps.len(), "{id}");
                    for (i, (s, x)) in steps.iter().zip(shown_steps).enumerate() {
                        assert_eq!(
                            x["persons"].as_str().unwrap(),
                            fmt(&s["persons"]),
                            "{id} step {i}"
                        );
                        assert!(
                            x["label"]
                                .as_str()
                                .unwrap()
                                .ends_with(s["name"].as_str().unwrap())
                        );
                        if i > 0 {
                            let meta = x["meta"].as_str().unwrap();
                            assert!(
                                meta.contains(&pct(s["conversion_from_start"].as_f64().unwrap())),
                                "{id}: {meta}"
                            );
                            assert!(
                                meta.contains(&pct(s["conversion_from_previous"].as_f64().unwrap())),
                                "{id}: {meta}"
                            );
                        }
                    }
                    let summary = d["summary"].as_str().unwrap();
                    assert!(
                        summary.contains(&pct(r["overall_conversion"].as_f64().unwrap())),
                        "{summary}"
                    );
                    checked += 1;
                }
                other => panic!("unknown result kind {other}"),
            }
        }
        checked
    }

    fn expected_csv(w: &Value) -> String {
        let r = &w["result"];
        let cell = |v: &Value| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut out = r["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| cell(&c["name"]))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n";
        for row in r["rows"].as_array().unwrap() {
            out += &(row
                .as_array()
                .unwrap()
                .iter()
                .map(cell)
                .collect::<Vec<_>>()
                .join(",")
                + "\r\n");
        }
        out
    }

    /// The example dashboard's data from the API (`q`: the query string, with its `?`).
    async fn data_api(base: String, q: &str) -> Value {
        let url = format!("{base}/v1/dashboards/product-overview/data{q}");
        reqwest::Client::new()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    }

    /// The dataset with the example dashboards stored.
    async fn store_with_example() -> std::sync::Arc<dyn footfall_engine::store::Store> {
        let (store, _) = store_with_data().await;
        let ds = footfall_engine::dashboard::parse_dashboards(&example_yaml()).unwrap();
        footfall_engine::dashboard::DashboardStore::new(store.as_ref(), PROJECT)
            .upsert_all(&ds)
            .await
            .unwrap();
        store
    }

    /// The routes on a loopback port: the base URL and the server task.
    async fn serve(host: Host) -> (String, tokio::task::JoinHandle<()>) {
        let app = dashboard_routes().with_state(host);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        (
            base,
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dashboards_in_headless_chromium() {
        if !browser_available() {
            return;
        }
        let store = store_with_example().await;
        let (base, server) = serve(Host::new(store.clone())).await;
        let api = |q: &'static str| data_api(base.clone(), q);

        // The live page: numbers as the API gives them, CSV export, then a 7-day range.
        let shot = artifacts().join("dashboard-live.png");
        let args = json!({"url": format!("{base}/dashboards/product-overview"), "token": TOKEN,
                          "screenshot": shot, "csvWidget": "top_events", "preset": "7_days_ago"});
        let page = tokio::task::spawn_blocking(move || run_browser(args))
            .await
            .unwrap();
        assert_eq!(page["console_errors"], json!([]), "the page logs no errors");
        assert_eq!(page["title"], json!("Product overview · Footfall"));
        assert!(
            !page["url"].as_str().unwrap().contains("token"),
            "the token leaves the URL"
        );
        let data = api("").await;
        assert_eq!(compare(&page["before"][0], &data), example_widgets());
        let top = data["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == "top_events")
            .unwrap();
        assert_eq!(page["csv"]["name"], json!("product-overview-top_events.csv"));
        assert_eq!(page["csv"]["text"].as_str().unwrap(), expected_csv(top));
        assert!(
            page["after_url"]
                .as_str()
                .unwrap()
                .contains("from=7_days_ago&to=today")
        );
        let data7 = api("?from=7_days_ago&to=today").await;
        assert_eq!(compare(&page["after"][0], &data7), example_widgets());
        assert_ne!(
            data7["widgets"][1]["result"]["value"], data["widgets"][1]["result"]["value"],
            "the range changed the numbers"
        );
        let dau = page["after"][0]["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == "dau")
            .unwrap();
        assert!(dau["range"].as_str().unwrap().contains("fixed range"));
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 10_000,
            "screenshot written"
        );
        eprintln!(
            "live dashboard loaded in {} ms (screenshot {})",
            page["load_ms"],
            shot.display()
        );

        // The index lists the dashboard.
        let base2 = base.clone();
        let index = tokio::task::spawn_blocking(move || {
            run_browser(json!({"url": format!("{base2}/dashboards"), "token": TOKEN}))
        })
        .await
        .unwrap();
        assert_eq!(index["console_errors"], json!([]));
        assert_eq!(
            index["links"],
            json!([{"text": "Product overview", "href": "/dashboards/product-overview"}])
        );

        // Without a token the page asks for one instead of failing silently.
        let base2 = base.clone();
        let login = tokio::task::spawn_blocking(move || {
            run_browser(json!({"url": format!("{base2}/dashboards/product-overview"), "expectLogin": true}))
        })
        .await
        .unwrap();
        assert_eq!(login["login_form"], json!(true));

        // The static report: data embedded, opened from a file.
        let reports = report_data(store.as_ref(), PROJECT, &example_yaml(), None, None)
            .await
            .unwrap();
        let path = artifacts().join("dashboard-report.html");
        std::fs::write(&path, render_static_report("Product overview", &reports)).unwrap();
        let shot = artifacts().join("dashboard-report.png");
        let args = json!({"url": format!("file://{}", path.display()), "screenshot": shot});
        let report = tokio::task::spawn_blocking(move || run_browser(args))
            .await
            .unwrap();
        assert_eq!(report["console_errors"], json!([]));
        assert_eq!(
            compare(&report["before"][0], &serde_json::to_value(&reports[0]).unwrap()),
            example_widgets()
        );
        server.abort();
    }

    /// Stale-while-revalidate as a person sees it: results computed 90 s ago (past the cache's
    /// 60 s TTL) are shown at once, marked "refreshing" with their age, with the numbers of the
    /// API; the page then picks up the refreshed results by itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stale_results_in_headless_chromium() {
        if !browser_available() {
            return;
        }
        // Relative ranges must resolve alike 90 s ago and now: not just after midnight UTC.
        let since_midnight = super::dashboard_support::now_ms().rem_euclid(super::dashboard_support::DAY);
        if since_midnight < 120_000 {
            tokio::time::sleep(std::time::Duration::from_millis(
                (120_000 - since_midnight) as u64,
            ))
            .await;
        }
        let store = store_with_example().await;
        let cache = std::sync::Arc::new(DataCache::default());
        let warmer = CacheWarmer::new(store.clone(), (*cache).clone(), vec![PROJECT.into()]);
        let report = warmer
            .warm_once(super::dashboard_support::now_ms() - 90_000)
            .await;
        assert_eq!((report.computed, report.failed), (example_widgets(), 0));
        let host = Host {
            store: store.clone(),
            cache: Some(cache.clone()),
        };
        let (base, server) = serve(host).await;

        let shot = artifacts().join("dashboard-stale.png");
        let args = json!({"url": format!("{base}/dashboards/product-overview"), "token": TOKEN,
                          "screenshot": shot, "waitFresh": true});
        let page = tokio::task::spawn_blocking(move || run_browser(args))
            .await
            .unwrap();
        assert_eq!(page["console_errors"], json!([]));
        let n = example_widgets();
        assert_eq!(
            page["stale_at_load"],
            json!(n.to_string()),
            "every widget was served stale"
        );
        let status = page["status"].as_str().unwrap();
        assert!(
            status.contains(&format!("{n} cached ({n} refreshing)")),
            "{status}"
        );
        // The refreshed results (the data did not change: the same numbers as the stale ones).
        let data = data_api(base.clone(), "").await;
        assert!(
            data["widgets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["cached"] == json!(true) && w.get("stale").is_none()),
            "refreshed in the background: {data}"
        );
        assert_eq!(compare(&page["before"][0], &data), example_widgets());
        assert_eq!(compare(&page["fresh"][0], &data), example_widgets());
        for w in page["before"][0]["widgets"].as_array().unwrap() {
            let c = w["computed"].as_str().unwrap_or_default();
            assert!(
                c.starts_with("computed ") && c.ends_with(" ago · refreshing") && w["stale"] == json!("true"),
                "{w}"
            );
        }
        for w in page["fresh"][0]["widgets"].as_array().unwrap() {
            let c = w["computed"].as_str().unwrap_or_default();
            assert!(c.ends_with(" s ago") && w["stale"] == json!("false"), "{w}");
        }
        server.abort();
    }
}
