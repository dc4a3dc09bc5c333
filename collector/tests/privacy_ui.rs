//! The privacy settings page in headless Chromium (playwright-core from collector/tests/ui, Debian's
//! chromium): a privacy team member changes settings on the page → they are saved (store, admin
//! API, `/v1/settings`) → the change is shown in the page's history and the audit log → the next
//! events ingested follow it; the data-subject tools find and erase a person by anonymous id.
//! A screenshot is kept in `artifacts/privacy-page.png` at the repository root (gitignored).
//!
//! Needs `npm ci --prefix collector/tests/ui` (scripts/install-deps.sh does it) and Chromium.
//! Without them the test is skipped with a loud notice, or fails when FOOTFALL_REQUIRE_BROWSER=1.

mod common;

use std::path::Path;

use common::TestServer;
use serde_json::{Value, json};

fn track(id: &str, device: &str, props: Value, consent: bool) -> Value {
    let mut m = common::track(id, "x", "search");
    m.as_object_mut().unwrap().remove("userId");
    m["anonymousId"] = json!(device);
    m["properties"] = props;
    if consent {
        m["context"] = json!({"consent": {"categoryPreferences": {"analytics": true}}});
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_page_changes_settings_and_tools_work() {
    if !common::browser::browser_available("privacy page") {
        return;
    }
    let env = common::env(common::Backend::DuckDb).unwrap();
    let (project, key) = ("shop", "wk_ui");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, project, key), store.clone()).await;

    // Before: opt-out consent and no deny list, so these are stored.
    let before = json!({"batch": [
        track("b1", "dev-1", json!({"email": "ada@example.com"}), false),
        track("b2", "dev-1", json!({"q": "shoes"}), false),
        track("b3", "dev-1", json!({"q": "hats"}), true),
    ]});
    let (status, body) = srv.post("/v1/batch", key, &before).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(3)), "{body}");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("privacy-page.png");
    let args = json!({"base": srv.url(""), "project": project, "token": common::ADMIN, "device": "dev-1",
                      "screenshot": shot});
    let page: Value = common::browser::run_page_script("check_privacy.mjs", args).await;

    // What the page showed.
    assert_eq!(page["console"], json!([]), "no script errors");
    assert!(
        !page["urlAfterLoad"].as_str().unwrap().contains("token="),
        "the token leaves the URL"
    );
    assert_eq!(page["before"]["consent_mode"], "opt_out");
    assert_eq!(page["before"]["deny"], "");
    let helps = page["before"]["helps"].as_array().unwrap();
    assert!(helps.len() >= 15, "every setting has its explanation");
    assert!(
        helps.iter().all(|h| h[1].as_str().unwrap().len() > 20),
        "{helps:?}"
    );
    assert!(
        page["saved"]
            .as_str()
            .unwrap()
            .starts_with("Saved: version 1, 3 changes"),
        "{}",
        page["saved"]
    );
    let entry = &page["history"][0];
    assert!(entry["head"].as_str().unwrap().contains("admin"), "{entry}");
    let changes: Vec<&str> = entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(changes.contains(&"consent_mode: opt_out → opt_in"), "{changes:?}");
    assert!(
        changes.contains(&"property_deny_list: [] → [\"email\",\"phone\"]"),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"retention.events_days: 365 → 200"),
        "{changes:?}"
    );
    assert!(
        page["invalid"]["message"]
            .as_str()
            .unwrap()
            .contains("retention.users_days"),
        "{}",
        page["invalid"]
    );
    assert_eq!(page["invalid"]["highlighted"], json!(["retention.users_days"]));
    assert_eq!(page["found"]["events"], 3, "{}", page["found"]);
    assert!(page["found"]["text"].as_str().unwrap().contains("dev-1"));
    assert_eq!(page["erased"]["events"], 3, "{}", page["erased"]);
    assert!(
        page["dialog"].as_str().unwrap().contains("dev-1"),
        "erasure asks first"
    );
    let actions = page["historyActions"].as_array().unwrap();
    assert!(
        actions.contains(&json!("erase_anonymous_id")) && actions.contains(&json!("export_anonymous_id"))
    );
    assert!(shot.is_file());

    // Saved: the store, the admin API, the audit log and what SDKs fetch agree.
    let (_, view) = common::read(
        srv.admin_get(&format!("/v1/admin/projects/{project}/privacy"))
            .await,
    )
    .await;
    assert_eq!(view["version"], 1, "the invalid save changed nothing");
    assert_eq!(view["settings"]["consent_mode"], "opt_in");
    assert_eq!(view["settings"]["property_deny_list"], json!(["email", "phone"]));
    assert_eq!(view["settings"]["retention"]["events_days"], 200);
    assert_eq!(view["settings"]["retention"]["users_days"], 3650);
    let stored = store
        .get_document("privacy", project, "settings")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["settings"]["consent_mode"], "opt_in");
    let (_, audit) = common::read(srv.admin_get(&format!("/v1/admin/audit?project={project}")).await).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "privacy.update")
    );
    let sdk: Value = srv
        .client
        .get(srv.url("/v1/settings"))
        .basic_auth(key, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sdk["consent_mode"], "opt_in");
    assert_eq!(
        common::event_count(&*store, project).await,
        0,
        "dev-1 was erased from the page"
    );

    // The effect on the next events.
    let after = json!({"batch": [
        track("a1", "dev-2", json!({"q": "shoes"}), false),
        track("a2", "dev-2", json!({"email": "bo@example.com"}), true),
        track("a3", "dev-2", json!({"q": "shoes"}), true),
    ]});
    let (status, body) = srv.post("/v1/batch", key, &after).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1);
    let reasons: Vec<&str> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no_consent", "denied_property"]);
    assert!(common::event(&*store, project, "a3").await.is_some());
    srv.shutdown().await;
}
