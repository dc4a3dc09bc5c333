//! The Live events page (`/events`) in headless Chromium (playwright-core from
//! collector/tests/ui, Debian's chromium): the stored events newest first, the refused messages
//! with their reasons, a new event showing up without a reload, a row's details, a filter.
//! A screenshot is kept in `artifacts/events-page.png` at the repository root (gitignored).
//!
//! Needs `npm ci --prefix collector/tests/ui` (scripts/install-deps.sh does it) and Chromium.
//! Without them the test is skipped with a loud notice, or fails when FOOTFALL_REQUIRE_BROWSER=1.

mod common;

use std::path::Path;

use common::TestServer;
use serde_json::{Value, json};

fn track(id: &str, device: &str, event: &str, props: Value) -> Value {
    json!({"type": "track", "messageId": id, "anonymousId": device, "event": event, "properties": props})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_page_shows_what_arrives_and_what_was_refused() {
    if !common::browser::browser_available("live events") {
        return;
    }
    let env = common::env(common::Backend::DuckDb).unwrap();
    let (project, key) = ("shop", "wk_events_ui");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, project, key), store).await;
    let batch = json!({"batch": [
        track("e1", "dev-1", "signup", json!({"plan": "free"})),
        track("e2", "dev-1", "search", json!({"q": "<img src=x onerror=alert(1)>"})),
        track("e3", "dev-2", "signup", json!({"plan": "pro"})),
        // A crawler: stored tagged as a bot, shown by default (this page answers "what arrived").
        {"type": "track", "messageId": "e4", "anonymousId": "crawler", "event": "crawl",
         "context": {"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}},
        // No identity: refused (missing_identity), kept as a dead letter.
        {"type": "track", "messageId": "bad1", "event": "orphan"},
    ]});
    let (status, body) = srv.post("/v1/batch", key, &batch).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(4)), "{body}");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let args = json!({"base": srv.url(""), "project": project, "token": common::ADMIN, "key": key,
                      "screenshot": artifacts.join("events-page.png")});
    let page: Value = common::browser::run_page_script("check_events.mjs", args).await;
    assert_eq!(page.get("error"), None, "{page:#}");
    assert_eq!(page["console"], json!([]), "no script errors");
    assert_eq!(page.get("dialog"), None, "no injected script ran");
    assert!(
        !page["urlAfterLoad"].as_str().unwrap().contains("token="),
        "the token leaves the URL"
    );

    // The three stored events, and what they carry, as text.
    let ids: Vec<&str> = page["initial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ["e1", "e2", "e3", "e4"], "{ids:?}");
    let bot = page["initial"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "e4")
        .unwrap();
    assert!(
        bot["cells"][3].as_str().unwrap().ends_with("bot"),
        "marked as a bot: {bot}"
    );
    let e2 = page["initial"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "e2")
        .unwrap();
    assert!(e2["cells"][1].as_str().unwrap().contains("search"), "{e2}");
    assert!(
        e2["cells"][4]
            .as_str()
            .unwrap()
            .contains("<img src=x onerror=alert(1)>"),
        "shown as text: {e2}"
    );

    // The refused message with its reason.
    let refused = page["refused"].as_array().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r[1] == "missing_identity" && r[2] == "bad1"),
        "{refused:?}"
    );

    // A new event shows up without a reload, on top, highlighted, within the 2 s polling (+ slack).
    assert_eq!(page["sendStatus"], 200);
    assert!(
        page["arrivedAfterMs"].as_u64().unwrap() < 10_000,
        "{}",
        page["arrivedAfterMs"]
    );
    assert!(
        page["afterArrival"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("live-"),
        "{}",
        page["afterArrival"]
    );
    assert_eq!(page["afterArrival"].as_array().unwrap().len(), 5);
    assert_eq!(page["newHighlighted"], true);
    assert_eq!(page["detail"]["event"], "arrived_live");
    assert_eq!(page["detail"]["properties"], json!({"plan": "pro"}));
    assert_eq!(page["detail"]["anonymous_id"], "dev-live");
    assert!(page["detail"]["context"].is_object(), "{}", page["detail"]);

    // The filter.
    let filtered: Vec<&str> = page["filtered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(filtered, ["e3", "e1"], "signups only, newest first");
    srv.shutdown().await;
}
