//! Stored XSS through analytics events, in headless Chromium (playwright-core from
//! collector/tests/ui, Debian's chromium): anyone holding a project's public write key sends
//! events whose names, property keys and values, user ids, page URLs and titles and user agents
//! are markup, `javascript:` URLs, `</script>`, template placeholders, bidi overrides and
//! spreadsheet formulas; an admin builds a dashboard over them (hostile name and description
//! too). The landing page, the privacy page (with its data-subject tool on the hostile person and
//! the audit history), the dashboards index, the live dashboard (every "Data" view opened, a CSV
//! downloaded) and the static report are opened: no injected script runs (`window.__pwned`, which
//! every payload sets, stays unset; no `alert` dialog), no element or event handler is injected,
//! no `javascript:` link exists, and the hostile text is shown as text. Everything runs twice:
//! with the pages' Content-Security-Policy, and with it bypassed (so the escaping alone is
//! tested); a canary handler injected through innerHTML proves the checks see a script that runs,
//! and that the CSP refuses it.
//!
//! Needs `npm ci --prefix collector/tests/ui` (scripts/install-deps.sh does it) and Chromium.
//! Without them the test is skipped with a loud notice, or fails when FOOTFALL_REQUIRE_BROWSER=1.

mod common;

use std::path::Path;

use common::{ADMIN, TestServer};
use serde_json::{Value, json};

const IMG: &str = r#"<img src=x onerror="window.__pwned='img';alert('img')">"#;
const SVG: &str = r#""><svg onload="window.__pwned='svg';alert('svg')">"#;
const SCRIPT: &str = r#"</script><script>window.__pwned='script';alert('script')</script>"#;
const JS_URL: &str = "javascript:window.__pwned='url';alert('url')//";
const ATTR: &str = r#"' onmouseover='window.__pwned=1' x='"#;
const TEMPLATE: &str = "{{js}}{{css}}{{config}}";
/// A right-to-left override left open: without isolation it reverses the text after it.
const BIDI: &str = "\u{202E}evil 9";
const FORMULA: &str = r#"=HYPERLINK("http://evil.example","x")"#;
const CMD: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
/// Text that is a number: a spreadsheet reads it as one, so the CSV keeps it as it is.
const NUMBER: &str = "-3.5";
const USER: &str = r#"<img src=x onerror="window.__pwned='user'">"#;
const ERASED: &str = r#"<svg onload="window.__pwned='erased'">"#;

/// One hostile event: `payload` as the event name, a property value and a property key, the
/// page title, in the user agent; the page URL a `javascript:` URL.
fn event(i: usize, payload: &str) -> Value {
    let mut props = json!({"payload": payload, "n": "-3.5"});
    props[payload] = json!(1);
    json!({
        "type": "track",
        "messageId": format!("hostile-{i}"),
        "userId": USER,
        "anonymousId": format!("anon-{i}"),
        "event": payload,
        "timestamp": footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis() - 60_000),
        "properties": props,
        "context": {
            "page": {"url": JS_URL, "title": payload, "path": payload, "referrer": JS_URL},
            "userAgent": format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 {payload}"),
        },
    })
}

fn dashboard() -> Value {
    json!({
        "id": "hostile",
        "name": format!("{IMG}{SVG}"),
        "description": format!("{SCRIPT}{BIDI}"),
        "widgets": [
            {"widget_id": "tbl", "type": "table", "title": IMG,
             "dimensions": ["event", "properties.payload"], "metrics": ["count"],
             "columns": [SVG, "payload", "n"]},
            {"widget_id": "pages", "type": "table", "title": "pages",
             "dimensions": ["context.page.url", "context.page.title"], "metrics": ["count"]},
            {"widget_id": "people", "type": "table", "title": "people",
             "dimensions": ["user_id", "context.userAgent"], "metrics": ["count"]},
            {"widget_id": "bars", "type": "chart", "chart_type": "bar", "title": SVG,
             "dimensions": ["properties.payload"], "metrics": ["count"]},
            {"widget_id": "lines", "type": "chart", "chart_type": "line", "title": SCRIPT,
             "dimensions": ["day", "properties.payload"], "metrics": ["count"]},
            {"widget_id": "events", "type": "chart", "chart_type": "bar", "title": JS_URL,
             "dimensions": ["event"], "metrics": ["count"]},
            {"widget_id": "funnel", "type": "funnel", "title": BIDI,
             "funnel_steps": [{"name": IMG, "event_type": IMG}, {"name": SVG, "event_type": SVG}]},
            {"widget_id": "tile", "type": "metric", "title": TEMPLATE, "metrics": ["count"]},
        ],
    })
}

/// The CSV lines of the hostile table widget, as cells (RFC 4180, CRLF).
fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    let mut rows = vec![vec![String::new()]];
    let (mut quoted, mut chars) = (false, csv.chars().peekable());
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                row.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(String::new()),
            ('\r', false) if chars.peek() == Some(&'\n') => {
                chars.next();
                rows.push(vec![String::new()]);
            }
            (c, _) => row.last_mut().unwrap().push(c),
        }
    }
    rows.pop();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_event_data_is_shown_as_text_everywhere() {
    if !common::browser::browser_available("hostile data") {
        return;
    }
    let env = common::env(common::Backend::DuckDb).unwrap();
    let (project, key) = ("shop", "wk_hostile");
    let store = common::open(&env.location);
    let mut config = common::config(&env.location, project, key);
    config.projects[0].name = Some(IMG.to_string());
    let srv = TestServer::start(config, store.clone()).await;

    let payloads = [
        IMG, SVG, SCRIPT, JS_URL, ATTR, TEMPLATE, BIDI, FORMULA, CMD, NUMBER,
    ];
    let batch: Vec<Value> = payloads.iter().enumerate().map(|(i, p)| event(i, p)).collect();
    let (status, body) = srv.post("/v1/batch", key, &json!({ "batch": batch })).await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (200, Some(payloads.len() as u64)),
        "{body}"
    );

    // A hostile dashboard through the admin API, and an erasure (of a hostile id) by a hostile
    // actor, whom the audit history shows.
    let r = srv
        .client
        .post(srv.url("/v1/dashboards"))
        .bearer_auth(ADMIN)
        .json(&dashboard())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = srv
        .client
        .delete(srv.url(&format!(
            "/v1/admin/users/{}",
            percent_encoding::utf8_percent_encode(ERASED, percent_encoding::NON_ALPHANUMERIC)
        )))
        .bearer_auth(ADMIN)
        .header("x-footfall-actor", IMG)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Every widget has data (the hostile rows are really there to be drawn).
    let (status, data) = common::read(srv.admin_get("/v1/dashboards/hostile/data").await).await;
    assert_eq!(status, 200, "{data}");
    for w in data["widgets"].as_array().unwrap() {
        assert!(w["error"].is_null(), "{w}");
    }
    let table = &data["widgets"][0]["result"]["rows"];
    assert_eq!(table.as_array().unwrap().len(), payloads.len(), "{table}");

    // The static report (`footfall dashboard render`) of the same dashboard.
    let yaml = json!({"dashboards": [dashboard()]}).to_string();
    let reports = footfall_engine::dashboard::cli::report_data(store.as_ref(), project, &yaml, None, None)
        .await
        .unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let report = artifacts.join("hostile-report.html");
    std::fs::write(
        &report,
        footfall_engine::dashboard::render_static_report(IMG, &reports),
    )
    .unwrap();

    let pages = json!([
        {"name": "home", "kind": "home", "url": srv.url("/")},
        {"name": "privacy", "kind": "privacy", "url": srv.url(&format!("/privacy?project={project}"))},
        {"name": "index", "kind": "index", "url": srv.url("/dashboards")},
        {"name": "dashboard", "kind": "dashboard", "url": srv.url("/dashboards/hostile")},
        {"name": "events", "kind": "events", "url": srv.url(&format!("/events?project={project}"))},
        {"name": "static", "kind": "static", "url": format!("file://{}", report.display())},
    ]);
    for bypass_csp in [false, true] {
        let args = json!({"pages": pages, "token": ADMIN, "csvWidget": "tbl", "dsrId": USER,
                          "bypassCSP": bypass_csp, "frameUrl": srv.url("/privacy")});
        let out = common::browser::run_page_script("check_hostile.mjs", args).await;
        let mode = if bypass_csp { "without CSP" } else { "with CSP" };
        for (name, p) in out["pages"].as_object().unwrap() {
            let at = format!("{name} ({mode})");
            assert_eq!(p["pwned"], Value::Null, "{at}: an injected script ran");
            assert_eq!(p["dialogs"], json!([]), "{at}: an injected script ran");
            assert_eq!(p["injected"], json!([]), "{at}");
            assert_eq!(p["handlers"], json!([]), "{at}: event-handler attributes");
            assert_eq!(p["js_links"], json!([]), "{at}");
            assert_eq!(
                p["violations"],
                json!([]),
                "{at}: the page's own code breaks the CSP"
            );
            let console: Vec<&Value> = p["console"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| !m.as_str().unwrap().starts_with("Failed to load resource"))
                .collect();
            assert!(console.is_empty(), "{at}: {console:?}");
            assert_eq!(p["styled"], json!(true), "{at}: the stylesheet applies");
            let scripts = if name == "home" { 1 } else { 2 };
            assert_eq!(p["scripts"], json!(scripts), "{at}: config + the page's script");
            // The canary: seen when it runs, refused by the CSP.
            if bypass_csp {
                assert_eq!(
                    p["canary_ran"],
                    json!(true),
                    "{at}: the checks see injected scripts"
                );
            } else {
                assert_eq!(
                    p["canary_ran"],
                    json!(false),
                    "{at}: the CSP refuses injected handlers"
                );
                assert_eq!(p["canary_refused"], json!(true), "{at}");
                if name != "static" {
                    let csp = p["csp"].as_str().unwrap_or_else(|| panic!("{at}: no CSP header"));
                    assert!(csp.contains("frame-ancestors 'none'"), "{at}: {csp}");
                }
            }
            // The admin token given in the URL fragment leaves the URL (replaced, not pushed: not
            // in the tab's history either).
            assert!(
                !p["url"].as_str().unwrap().contains("token"),
                "{at}: {}",
                p["url"]
            );
            if name != "home" {
                assert!(
                    ["true", "1"].contains(&p["loaded"].as_str().unwrap_or("")),
                    "{at}: {}",
                    p["text"]
                );
            }
        }
        if !bypass_csp {
            // Framed by another page: Chromium refuses to render it (no clickable erase button).
            let framed = &out["framed"];
            assert_eq!(framed["erase_button"], json!(false), "{framed}");
            assert!(
                framed["url"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("chrome-error://"),
                "{framed}"
            );
        }
        let text = |name: &str| out["pages"][name]["text"].as_str().unwrap().to_string();
        // The hostile text is displayed as text.
        assert!(text("home").contains(IMG), "{}", text("home"));
        assert!(
            text("index").contains(&format!("{IMG}{SVG}")),
            "{}",
            text("index")
        );
        let events = text("events");
        for shown in [IMG, SVG, SCRIPT, JS_URL, TEMPLATE, FORMULA, USER] {
            assert!(
                events.contains(shown),
                "live events ({mode}) shows {shown}: {events}"
            );
        }
        assert!(
            out["pages"]["events"]["details"].as_u64().unwrap() > 0,
            "rows expanded"
        );
        let dash = text("dashboard");
        for shown in [IMG, SVG, SCRIPT, JS_URL, TEMPLATE, FORMULA, CMD, "evil", USER] {
            assert!(dash.contains(shown), "dashboard ({mode}) shows {shown}: {dash}");
        }
        let dashboard = &out["pages"]["dashboard"];
        assert_eq!(dashboard["title"], json!(format!("{IMG}{SVG} · Footfall")));
        let stat = text("static");
        for shown in [IMG, SVG, SCRIPT, JS_URL, TEMPLATE, FORMULA, CMD, USER] {
            assert!(stat.contains(shown), "static report ({mode}) shows {shown}");
        }
        // The funnel's bars and the legend keep their inline styles (set through the CSSOM).
        let widths = dashboard["funnel_widths"].as_array().unwrap();
        assert_eq!(widths.first(), Some(&json!("100%")), "{widths:?}");
        assert!(
            widths.iter().all(|w| w.as_str().unwrap().ends_with('%')),
            "{widths:?}"
        );
        let colors = dashboard["legend_colors"].as_array().unwrap();
        assert!(colors.len() >= payloads.len(), "{colors:?}");
        assert!(colors.iter().all(|c| c != "rgba(0, 0, 0, 0)"), "{colors:?}");
        // Tooltips isolate the hostile label from the number after it.
        let tips = dashboard["tooltips"].as_array().unwrap();
        assert!(
            tips.iter().any(|t| t
                .as_str()
                .unwrap()
                .contains(&format!("\u{2068}{BIDI}\u{2069}: 1"))),
            "{tips:?}"
        );
        // Privacy page: the person's events and ids as text, counts in visual order, the
        // erasure by a hostile actor of a hostile id in the history.
        let privacy = &out["pages"]["privacy"];
        let dsr = privacy["dsr"].as_str().unwrap();
        for shown in [USER, IMG, SVG, SCRIPT, JS_URL, FORMULA, "anon-0"] {
            assert!(dsr.contains(shown), "data-subject tool shows {shown}: {dsr}");
        }
        let order = privacy["counts_in_order"].as_array().unwrap();
        assert_eq!(order.len(), payloads.len(), "{privacy}");
        assert!(
            order.iter().all(|o| o == true),
            "bidi reordered a count: {order:?}"
        );
        let history = text("privacy");
        assert!(history.contains(&format!("admin:{IMG}")), "{history}");

        // CSV from the live page and from the report file: formulas neutralized, numbers kept.
        for name in ["dashboard", "static"] {
            let csv = out["pages"][name]["csv"].as_str().unwrap();
            let rows = csv_rows(csv);
            let events: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
            assert!(events.contains(&format!("'{FORMULA}").as_str()), "{csv}");
            assert!(events.contains(&format!("'{CMD}").as_str()), "{csv}");
            assert!(events.contains(&IMG), "{csv}");
            assert!(events.contains(&NUMBER), "{csv}");
            assert!(
                !events
                    .iter()
                    .any(|e| e.starts_with(['=', '+', '-', '@']) && *e != NUMBER),
                "{csv}"
            );
            // The count column stays numeric.
            assert!(rows[1..].iter().all(|r| r[2] == "1"), "{csv}");
        }
    }
    srv.shutdown().await;
}
