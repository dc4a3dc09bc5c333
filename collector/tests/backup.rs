//! Online backup and offline restore of the embedded store, with the real binary: a backup taken
//! while a client keeps sending holds every event acknowledged before the backup call, and the
//! restored data directory serves every event, identity link, dead letter, dashboard, alert,
//! privacy setting and audit entry of the backup. The API only lets a caller name a backup (400
//! for paths), needs the admin token (401), and answers 501 on PostgreSQL. Retention (`--keep`,
//! `backup_keep`) deletes only the oldest of our backups, by their manifest's time, and leaves
//! everything else in `backup_dir` alone; the listing shows the backups newest first.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::{ADMIN, Process};
use footfall_collector::config::{Config, ProjectConfig};
use serde_json::{Value, json};

const PROJECT: &str = "shop";
const KEY: &str = "wk_backup";

fn duckdb_config(data: &Path) -> Config {
    let mut config = Config {
        data: data.to_path_buf(),
        admin_token: Some(ADMIN.to_string()),
        projects: vec![ProjectConfig::new(PROJECT, KEY)],
        ..Config::default()
    };
    config.alerts.enabled = false;
    config
}

/// A batch of `n` track events with ids `{prefix}-{i}`.
fn batch(prefix: &str, n: usize) -> (Vec<String>, Value) {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let messages: Vec<Value> = ids
        .iter()
        .map(|id| common::track(id, &format!("user-{}", id.len() % 7), "clicked"))
        .collect();
    (ids, json!({ "batch": messages }))
}

async fn send(client: &reqwest::Client, server: &Process, body: &Value) -> u16 {
    client
        .post(server.url("/v1/batch"))
        .basic_auth(KEY, Some(""))
        .json(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn admin(client: &reqwest::Client, method: &str, url: String, body: Option<Value>) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), url).bearer_auth(ADMIN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    common::read(req.send().await.unwrap()).await
}

/// Runs the binary with `args`; returns (success, stdout, stderr).
async fn footfall(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(common::binary())
        .args(args)
        .env_remove("FOOTFALL_URL")
        .env_remove("FOOTFALL_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `footfall restore --from FROM --data DATA`.
async fn restore(from: &Path, data: &Path) -> (bool, String, String) {
    footfall(&[
        "restore",
        "--from",
        from.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
    .await
}

/// What the restored collector must serve as the original did.
async fn documents(client: &reqwest::Client, server: &Process) -> (Value, Value, Value, Value) {
    let (s1, dashboards) = admin(client, "GET", server.url("/v1/dashboards"), None).await;
    let (s2, alerts) = admin(client, "GET", server.url("/v1/alerts"), None).await;
    let (s3, privacy) = admin(
        client,
        "GET",
        server.url(&format!("/v1/admin/projects/{PROJECT}/privacy")),
        None,
    )
    .await;
    let (s4, dead) = admin(client, "GET", server.url("/v1/admin/dead_letters"), None).await;
    assert_eq!(
        (s1, s2, s3, s4),
        (200, 200, 200, 200),
        "{dashboards} {alerts} {privacy} {dead}"
    );
    (dashboards, alerts, privacy["settings"].clone(), dead)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_ingesting_restores_into_a_collector_that_serves_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Process::spawn(dir.path(), "original", &duckdb_config(&data));
    let client = reqwest::Client::new();

    // Everything the restore must bring back: events, an identity link, a dead letter, a
    // dashboard, an alert, a privacy setting and their audit entries.
    let mut acked: Vec<(Instant, Vec<String>)> = Vec::new();
    for round in 0..10 {
        let (ids, body) = batch(&format!("seed{round}"), 50);
        assert_eq!(send(&client, &server, &body).await, 200);
        acked.push((Instant::now(), ids));
    }
    let identify = json!({"batch": [{"type": "identify", "messageId": "identify-1", "anonymousId": "anon-1",
                                     "userId": "user-linked", "traits": {"plan": "pro"}}]});
    assert_eq!(send(&client, &server, &identify).await, 200);
    acked.push((Instant::now(), vec!["identify-1".to_string()]));
    let refused = json!({"batch": [{"type": "track", "messageId": "no-event", "userId": "u"},
                                   {"type": "track", "messageId": "ok-1", "userId": "u", "event": "fine"}]});
    assert_eq!(send(&client, &server, &refused).await, 200);
    acked.push((Instant::now(), vec!["ok-1".to_string()]));
    let r = client
        .post(server.url("/v1/dashboards"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/yaml")
        .body(footfall_engine::dashboard::EXAMPLE_DASHBOARDS_YAML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let rule = json!({"id": "any-click", "name": "Any click", "filters": {"event_type": "clicked"},
                      "condition": "> 0", "window": "30_days", "interval": "15_minutes",
                      "webhook": "http://127.0.0.1:9/hook"});
    let (status, body) = admin(&client, "POST", server.url("/v1/alerts"), Some(rule)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = admin(
        &client,
        "PUT",
        server.url(&format!("/v1/admin/projects/{PROJECT}/privacy")),
        Some(json!({"property_deny_list": ["email"], "respect_dnt": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = documents(&client, &server).await;
    assert_eq!(
        before.3["dead_letters"].as_array().map(Vec::len),
        Some(1),
        "{}",
        before.3
    );

    // A client keeps sending while the CLI takes the backup.
    let sent = Arc::new(Mutex::new(acked));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let (client, sent, stop, url) = (
            client.clone(),
            sent.clone(),
            stop.clone(),
            server.url("/v1/batch"),
        );
        tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (ids, body) = batch(&format!("live{round}"), 20);
                let ok = client
                    .post(&url)
                    .basic_auth(KEY, Some(""))
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    sent.lock().unwrap().push((Instant::now(), ids));
                }
                round += 1;
            }
            round
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let copy = dir.path().join("copy");
    let url = format!("http://{}", server.addr);
    let started = Instant::now();
    let (ok, stdout, stderr) = footfall(&[
        "backup",
        "--url",
        &url,
        "--admin-token",
        ADMIN,
        "--name",
        "nightly",
        "--out",
        copy.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "footfall backup failed: {stderr}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = sender.await.unwrap();
    assert!(
        rounds > 2,
        "the client kept sending during the backup ({rounds} batches)"
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    let manifest = &answer["manifest"];
    assert_eq!(manifest["name"], "nightly");
    assert!(manifest["schema_version"].as_i64() >= Some(2), "{manifest}");
    assert_eq!(manifest["collector_version"], env!("CARGO_PKG_VERSION"));
    // The server wrote it under its backup_dir (default: <data>/backups), complete.
    let on_server = Path::new(answer["path"].as_str().unwrap());
    assert_eq!(
        on_server,
        data.canonicalize().unwrap().join("backups").join("nightly")
    );
    assert!(on_server.join("manifest.json").is_file() && copy.join("manifest.json").is_file());
    let (status, audit) = admin(&client, "GET", server.url("/v1/admin/audit"), None).await;
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "backup" && e["target"] == "backup:nightly"),
        "{audit}"
    );
    let metrics_url = server.url("/metrics");
    let last = common::metric(&metrics_url, "footfall_backup_last_success_timestamp_seconds").await as i64;
    let age = chrono::Utc::now().timestamp() - last;
    assert!(
        (0..600).contains(&age),
        "the last backup's time is in /metrics ({age} s ago)"
    );
    assert_eq!(
        common::metric(&metrics_url, "footfall_backups_failed_total").await,
        0.0
    );
    assert_eq!(server.terminate().code(), Some(0));

    // Restore refuses a data directory that is not empty (let alone in use).
    let (ok, _, stderr) = restore(&copy, &data).await;
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    let restored = dir.path().join("restored");
    let (ok, stdout, stderr) = restore(&copy, &restored).await;
    assert!(ok, "footfall restore failed: {stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["events"], manifest["events"]);

    // The restored directory serves what the original served at the backup.
    let served = Process::spawn(dir.path(), "restored", &duckdb_config(&restored));
    let after = documents(&client, &served).await;
    assert_eq!(after.0, before.0, "dashboards");
    assert_eq!(after.1, before.1, "alerts");
    assert_eq!(after.2, before.2, "privacy settings");
    assert_eq!(after.3, before.3, "dead letters");
    let (status, audit) = admin(&client, "GET", served.url("/v1/admin/audit"), None).await;
    assert_eq!(status, 200);
    let restored_audit: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // The backup's own audit entry is written after its snapshot: the restore's names it.
    for action in ["privacy.update", "restore"] {
        assert!(restored_audit.contains(&action), "{action}: {audit}");
    }
    // The restored collector takes new events.
    let (_, body) = batch("after-restore", 1);
    assert_eq!(send(&client, &served, &body).await, 200);
    assert_eq!(served.terminate().code(), Some(0));

    let store = common::open(restored.to_str().unwrap());
    let ids = common::message_ids(&*store, PROJECT).await;
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let before_backup: HashSet<&String> = sent
        .iter()
        .filter(|(at, _)| *at < started)
        .flat_map(|(_, ids)| ids)
        .collect();
    let all: HashSet<&String> = sent.iter().flat_map(|(_, ids)| ids).collect();
    let missing: Vec<_> = before_backup.iter().filter(|id| !ids.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "{} events acknowledged before the backup are not restored, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let unknown: Vec<_> = ids
        .iter()
        .filter(|id| !all.contains(id) && !id.starts_with("after-restore"))
        .collect();
    assert!(
        unknown.is_empty(),
        "{} restored events nobody sent, e.g. {:?}",
        unknown.len(),
        &unknown[..unknown.len().min(5)]
    );
    assert_eq!(
        ids.len() as u64,
        manifest["events"].as_u64().unwrap() + 1,
        "the manifest counts the backup's events"
    );
    assert_eq!(
        common::linked_user(&*store, PROJECT, "anon-1").await.as_deref(),
        Some("user-linked")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_takes_a_name_never_a_path_and_needs_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = duckdb_config(&data);
    let backups = dir.path().join("elsewhere");
    config.backup_dir = Some(backups.clone());
    let server = Process::spawn(dir.path(), "names", &config);
    let client = reqwest::Client::new();
    let url = server.url("/v1/admin/backup");

    let r = client
        .post(&url)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client.post(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(r.status(), 401, "a write key is no admin token");
    for bad in ["..", "../escape", "a/b", "/tmp/x", ".hidden", "a\\b", ""] {
        let (status, body) = admin(&client, "POST", url.clone(), Some(json!({ "name": bad }))).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"], "bad_request");
    }
    assert!(!backups.exists(), "a refused request wrote nothing");
    assert!(!dir.path().join("escape").exists());

    // No body: a generated name, under the configured backup_dir.
    let (status, body) = admin(&client, "POST", url.clone(), None).await;
    assert_eq!(status, 200, "{body}");
    let name = body["manifest"]["name"].as_str().unwrap();
    assert!(name.starts_with("footfall-"), "{name}");
    assert!(backups.join(name).join("manifest.json").is_file());
    assert_eq!(body["manifest"]["events"], 0);
    // A name in use is refused, and the backup there left alone.
    let (status, body) = admin(&client, "POST", url.clone(), Some(json!({ "name": name }))).await;
    assert_eq!(status, 409, "{body}");
    assert!(backups.join(name).join("manifest.json").is_file());
    // The CLI says why it failed.
    let base = format!("http://{}", server.addr);
    let (ok, _, stderr) = footfall(&["backup", "--url", &base, "--admin-token", "wrong"]).await;
    assert!(!ok && stderr.contains("401"), "{stderr}");
    assert_eq!(server.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_answers_501_pointing_at_pg_dump() {
    let Some(env) = common::env(common::Backend::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&env.location, &common::unique("backup"), KEY);
    let server = Process::spawn(dir.path(), "pg", &config);
    let client = reqwest::Client::new();
    let (status, body) = admin(&client, "POST", server.url("/v1/admin/backup"), None).await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["error"], "not_implemented");
    assert!(body["message"].as_str().unwrap().contains("pg_dump"), "{body}");
    let (status, body) = admin(&client, "GET", server.url("/v1/admin/backups"), None).await;
    assert_eq!(status, 501, "{body}");
    assert!(body["message"].as_str().unwrap().contains("pg_dump"), "{body}");
    assert_eq!(server.terminate().code(), Some(0));
}

/// `footfall backup --url U --admin-token T ARGS...` against `server`.
async fn cli_backup(server: &Process, command: &str, args: &[&str]) -> (bool, String, String) {
    let url = format!("http://{}", server.addr);
    let mut all = vec![command, "--url", &url, "--admin-token", ADMIN];
    all.extend_from_slice(args);
    footfall(&all).await
}

/// Sends `n` more events and waits until they are acknowledged.
async fn ingest(client: &reqwest::Client, server: &Process, prefix: &str, n: usize) {
    let (_, body) = batch(prefix, n);
    assert_eq!(send(client, server, &body).await, 200);
}

/// `POST /v1/admin/backup` with `body`, which must succeed; its answer.
async fn take(client: &reqwest::Client, server: &Process, body: Value) -> Value {
    let (status, answer) = admin(client, "POST", server.url("/v1/admin/backup"), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn names(list: &Value) -> Vec<&str> {
    list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_deletes_the_oldest_backups_only_and_the_listing_shows_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    // Not ours: a foreign directory, a directory whose manifest is broken, a file.
    std::fs::create_dir_all(backups.join("photos")).unwrap();
    std::fs::write(backups.join("photos").join("cat.jpg"), b"meow").unwrap();
    std::fs::create_dir_all(backups.join("broken")).unwrap();
    std::fs::write(
        backups.join("broken").join("manifest.json"),
        b"{\"format\": 1, oops",
    )
    .unwrap();
    std::fs::write(backups.join("README.txt"), b"ours too").unwrap();
    let mut config = duckdb_config(&dir.path().join("data"));
    config.backup_dir = Some(backups.clone());
    let server = Process::spawn(dir.path(), "keep", &config);
    let client = reqwest::Client::new();

    // Names sort against time: retention must go by the manifest's time, not by name.
    ingest(&client, &server, "one", 5).await;
    let body = take(&client, &server, json!({"name": "c-first"})).await;
    assert_eq!(body["retention"], Value::Null, "no backup_keep: nothing deleted");
    ingest(&client, &server, "two", 5).await;
    let body = take(&client, &server, json!({"name": "b-second"})).await;
    assert_eq!(body["retention"], Value::Null);
    assert!(
        backups.join("c-first").is_dir(),
        "backup_keep unset keeps every backup"
    );
    ingest(&client, &server, "three", 5).await;
    let (ok, stdout, stderr) = cli_backup(&server, "backup", &["--name", "a-third", "--keep", "2"]).await;
    assert!(ok, "footfall backup --keep 2 failed: {stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    let retention = &answer["retention"];
    assert_eq!(retention["keep"], 2, "{answer}");
    assert_eq!(
        retention["counted"], 3,
        "the foreign and broken directories are not counted: {answer}"
    );
    assert_eq!(retention["deleted"][0]["name"], "c-first", "{answer}");
    assert_eq!(retention["deleted"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(retention["failed"], json!([]));
    assert!(!backups.join("c-first").exists() && !backups.join(".c-first.deleting").exists());
    for kept in ["b-second", "a-third"] {
        assert!(backups.join(kept).join("manifest.json").is_file(), "{kept}");
    }
    assert!(
        backups.join("photos").join("cat.jpg").is_file(),
        "foreign directory left alone"
    );
    assert!(
        backups.join("broken").join("manifest.json").is_file(),
        "broken backup left alone"
    );
    assert!(backups.join("README.txt").is_file());
    let (status, audit) = admin(&client, "GET", server.url("/v1/admin/audit"), None).await;
    assert_eq!(status, 200);
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "backup:a-third")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(entry["details"]["deleted"], json!(["c-first"]), "{entry}");
    assert_eq!(entry["details"]["keep"], 2, "{entry}");

    // The listing: newest first, with their event counts; the rest is named, not counted.
    let (status, list) = admin(&client, "GET", server.url("/v1/admin/backups"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), ["a-third", "b-second"], "{list}");
    let events: Vec<u64> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["events"].as_u64().unwrap())
        .collect();
    assert_eq!(events, [15, 10], "{list}");
    for b in list["backups"].as_array().unwrap() {
        assert!(b["bytes"].as_u64().unwrap() > 0, "{b}");
        assert!(b["schema_version"].as_i64().unwrap() >= 2, "{b}");
        assert!(b["created_at"].as_str().unwrap().ends_with('Z'), "{b}");
    }
    let ignored: Vec<&str> = list["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(ignored, ["README.txt", "broken", "photos"], "{list}");
    let r = client.get(server.url("/v1/admin/backups")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (ok, stdout, stderr) = cli_backup(&server, "backups", &["--format", "json"]).await;
    assert!(ok, "{stderr}");
    let cli_list: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(cli_list["backups"], list["backups"]);
    let (ok, table, stderr) = cli_backup(&server, "backups", &[]).await;
    assert!(ok, "{stderr}");
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("name") && rows[0].contains("events"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("a-third") && rows[2].contains(" 15 "),
        "{table}"
    );
    assert!(
        rows[3].starts_with("b-second") && rows[3].contains(" 10 "),
        "{table}"
    );
    assert!(table.contains("not a backup, left alone: broken"), "{table}");
    assert!(!table.contains("c-first"), "{table}");
    let (ok, _, stderr) = footfall(&[
        "backups",
        "--url",
        &format!("http://{}", server.addr),
        "--admin-token",
        "wrong",
    ])
    .await;
    assert!(!ok && stderr.contains("401"), "{stderr}");
    assert_eq!(server.terminate().code(), Some(0));

    // The kept backups restore, with their own event counts.
    for (name, events) in [("b-second", 10), ("a-third", 15)] {
        let restored = dir.path().join(format!("restored-{name}"));
        let (ok, stdout, stderr) = restore(&backups.join(name), &restored).await;
        assert!(ok, "restore {name}: {stderr}");
        let summary: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary["events"], events, "{summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_must_be_at_least_one_and_backup_keep_applies_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let mut config = duckdb_config(&dir.path().join("data"));
    config.backup_dir = Some(backups.clone());
    config.backup_keep = Some(1);
    let server = Process::spawn(dir.path(), "keep-one", &config);
    let client = reqwest::Client::new();
    let url = server.url("/v1/admin/backup");

    for keep in [json!(0), json!(-1), json!(5_000_000_000_i64)] {
        let (status, body) = admin(
            &client,
            "POST",
            url.clone(),
            Some(json!({"name": "x", "keep": keep})),
        )
        .await;
        assert_eq!(status, 400, "{keep}: {body}");
        assert!(body["message"].as_str().unwrap().contains("keep"), "{body}");
    }
    for keep in ["0", "-1", "many"] {
        let out = tokio::process::Command::new(common::binary())
            .args([
                "backup",
                "--url",
                &format!("http://{}", server.addr),
                "--admin-token",
                ADMIN,
            ])
            .args(["--keep", keep])
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--keep {keep}: {stderr}");
        assert!(stderr.contains("--keep"), "--keep {keep}: {stderr}");
    }
    assert!(!backups.exists(), "a refused request wrote nothing");

    // The config's backup_keep applies when the call names no keep.
    let body = take(&client, &server, json!({"name": "first"})).await;
    assert_eq!(body["retention"]["deleted"], json!([]), "{body}");
    let body = take(&client, &server, json!({"name": "second"})).await;
    assert_eq!(body["retention"]["keep"], 1, "{body}");
    assert_eq!(body["retention"]["deleted"][0]["name"], "first", "{body}");
    let (status, list) = admin(&client, "GET", server.url("/v1/admin/backups"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), ["second"]);
    assert_eq!(list["keep"], 1);
    // --keep overrides it for one call.
    let (ok, _, stderr) = cli_backup(&server, "backup", &["--name", "third", "--keep", "2"]).await;
    assert!(ok, "{stderr}");
    let (_, list) = admin(&client, "GET", server.url("/v1/admin/backups"), None).await;
    assert_eq!(names(&list), ["third", "second"]);
    assert_eq!(server.terminate().code(), Some(0));

    // backup_keep: 0 in the config is refused at start, naming the option.
    config.backup_keep = Some(0);
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("backup_keep"), "{err}");
    let err = Config::from_yaml("backup_keep: -1\n", Path::new("f.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("backup_keep"), "{err}");
}
