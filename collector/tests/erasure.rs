//! Right to be forgotten and right of access through the admin API, on each backend: after
//! `DELETE /v1/admin/users/{id}` no export, query or table holds the person's events or ids
//! (user id and every linked anonymous id), later events are refused as `suppressed`, and the
//! audit log records who did what with counts.

mod common;

use common::{Env, TestServer};
use serde_json::{Value, json};

fn msg(kind: &str, id: &str, anon: Option<&str>, user: Option<&str>, extra: Value) -> Value {
    let mut m = json!({
        "type": kind,
        "messageId": id,
        "timestamp": footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis() - 60_000),
    });
    if let Some(a) = anon {
        m["anonymousId"] = json!(a);
    }
    if let Some(u) = user {
        m["userId"] = json!(u);
    }
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

async fn erasure_leaves_nothing_behind(env: Env) {
    let project = common::unique("er");
    let key = common::unique("wk");
    let store = common::open(&env.location);
    let srv = TestServer::start(common::config(&env.location, &project, &key), store.clone()).await;
    let (user, anon_a, anon_b, other) = (
        common::unique("ada"),
        common::unique("anonA"),
        common::unique("anonB"),
        common::unique("bob"),
    );
    let ids = [user.clone(), anon_a.clone(), anon_b.clone()];

    let batch = json!({"batch": [
        msg("page", "e1", Some(&anon_a), None, json!({"name": "Home", "properties": {"path": "/"}})),
        msg("track", "e2", Some(&anon_a), None, json!({"event": "sign_up"})),
        msg("identify", "e3", Some(&anon_a), Some(&user), json!({"traits": {"email": format!("{user}@example.com")}})),
        msg("track", "e4", None, Some(&user), json!({"event": "purchase", "properties": {"amount": 5}})),
        msg("alias", "e5", Some(&anon_b), Some(&user), json!({"previousId": anon_b})),
        msg("track", "e6", Some(&anon_b), None, json!({"event": "feature_used"})),
        msg("track", "o1", Some("someone-else"), Some(&other), json!({"event": "purchase"})),
        // refused messages that mention the person: kept as dead letters until the erasure
        msg("track", "bad1", None, Some(&user), json!({"event": "x", "timestamp": "not a time"})),
        msg("track", "bad2", Some(&anon_a), None, json!({"event": "x", "context": {"consent": {"categoryPreferences": {}}}})),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &batch).await;
    assert_eq!((status, body["accepted"].as_u64()), (200, Some(7)), "{body}");
    assert_eq!(
        common::linked_user(&*store, &project, &anon_a).await.as_deref(),
        Some(user.as_str())
    );
    assert_eq!(
        common::linked_user(&*store, &project, &anon_b).await.as_deref(),
        Some(user.as_str())
    );

    // Right of access: every event of the person, across their anonymous ids.
    let r = srv.admin_get(&format!("/v1/admin/users/{user}/export")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let exported: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut got: Vec<&str> = exported
        .iter()
        .map(|e| e["message_id"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["e1", "e2", "e3", "e4", "e5", "e6"]);
    assert_eq!(
        exported.iter().find(|e| e["message_id"] == "e4").unwrap()["properties"]["amount"],
        5,
        "JSON columns as objects"
    );

    // Erase.
    let r = srv
        .client
        .delete(srv.url(&format!("/v1/admin/users/{user}")))
        .bearer_auth(common::ADMIN)
        .header("x-footfall-actor", "alice")
        .send()
        .await
        .unwrap();
    let (status, summary) = common::read(r).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["events_deleted"], 6);
    assert_eq!(summary["identity_links_deleted"], 2);
    let mut erased: Vec<String> = summary["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    erased.sort();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(erased, expected);

    // Nothing left: export, event queries, and every table of the project.
    let r = srv.admin_get(&format!("/v1/admin/users/{user}/export")).await;
    assert_eq!(r.text().await.unwrap(), "");
    assert_eq!(
        common::event_count(&*store, &project).await,
        1,
        "only the other person's event remains"
    );
    assert!(common::event(&*store, &project, "o1").await.is_some());
    let d = store.dialect();
    for table in ["events", "identities", "dead_letters", "documents", "audit_log"] {
        let sql = format!(
            "SELECT * FROM {table} WHERE project_id = {}",
            common::sql_str(d, &project)
        );
        let dump = serde_json::to_string(&common::rows(&*store, &sql).await).unwrap();
        for id in &ids {
            assert!(!dump.contains(id.as_str()), "{table} still holds {id}: {dump}");
        }
    }

    // Later events of any of the person's ids are refused, and kept without the ids.
    let again = json!({"batch": [
        msg("track", "late1", None, Some(&user), json!({"event": "comeback"})),
        msg("track", "late2", Some(&anon_b), None, json!({"event": "comeback"})),
        msg("track", "late3", Some("fresh-visitor"), None, json!({"event": "hello"})),
    ]});
    let (status, body) = srv.post("/v1/batch", &key, &again).await;
    assert_eq!(status, 200);
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["reason"], "suppressed");
    assert_eq!(body["rejected"][1]["reason"], "suppressed");
    let letters = serde_json::to_string(&common::dead_letters(&*store, &project).await).unwrap();
    for id in &ids {
        assert!(
            !letters.contains(id.as_str()),
            "suppressed dead letters hold no ids"
        );
    }

    // A second collector on the same server backend (another process in production) loads the
    // suppression list too. (An embedded DuckDB file belongs to one process.)
    if env.backend != common::Backend::DuckDb {
        let second = TestServer::start(
            common::config(&env.location, &project, &key),
            common::open(&env.location),
        )
        .await;
        let late = json!({"batch": [msg("track", "late4", None, Some(&user), json!({"event": "x"}))]});
        let (status, body) = second.post("/v1/batch", &key, &late).await;
        assert_eq!(
            (status, body["rejected"][0]["reason"].as_str()),
            (400, Some("suppressed"))
        );
        second.shutdown().await;
    }

    // The audit log: who, what, counts — and no ids in clear.
    let (status, audit) =
        common::read(srv.admin_get(&format!("/v1/admin/audit?project={project}")).await).await;
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    let erase = entries
        .iter()
        .find(|e| e["action"] == "erase_user")
        .expect("erase audited");
    assert_eq!(erase["actor"], "admin:alice");
    assert_eq!(erase["details"]["events_deleted"], 6);
    assert!(erase["target"].as_str().unwrap().starts_with("user:"));
    assert_eq!(entries.iter().filter(|e| e["action"] == "export_user").count(), 2);
    assert!(
        entries[0]["at"].as_i64() >= entries[entries.len() - 1]["at"].as_i64(),
        "newest first"
    );
    srv.shutdown().await;
}

mod erasure {
    use super::*;
    per_backend!(super::erasure_leaves_nothing_behind);
}
