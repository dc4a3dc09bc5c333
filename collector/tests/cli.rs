//! The `footfall` command line through the built binary: `import` (NDJSON and .gz, same
//! validation, dedupe and identity as HTTP), `export`/`erase` by user id and by anonymous id,
//! `serve --demo` (seeded events, example dashboards, landing page, example page), `query` and
//! `dashboard render` (on `--data` and `--store`).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

fn footfall(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(common::binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("FOOTFALL_DATA")
        .env_remove("FOOTFALL_STORE")
        .env_remove("FOOTFALL_CONFIG")
        .output()
        .expect("run footfall");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `footfall import --quiet` into project `shop`; its JSON summary.
fn import(data: &str, files: &[&Path]) -> Value {
    let mut args = vec!["import", "--data", data, "--project", "shop", "--quiet"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (ok, out, err) = footfall(&args);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn ts(minutes_ago: i64) -> String {
    footfall_collector::ingest::iso(chrono::Utc::now().timestamp_millis() - minutes_ago * 60_000)
}

fn write_ndjson(path: &Path, lines: &[Value], gzip: bool) {
    let mut text = String::new();
    for l in lines {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        std::fs::write(path, e.finish().unwrap()).unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn import_export_erase() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = vec![
        json!({"type": "page", "messageId": "i1", "anonymousId": "anon-1", "timestamp": ts(50), "name": "Home"}),
        json!({"type": "identify", "messageId": "i2", "anonymousId": "anon-1", "userId": "user_42", "timestamp": ts(40), "traits": {"plan": "pro"}}),
        json!({"type": "track", "messageId": "i3", "userId": "user_42", "event": "purchase", "timestamp": ts(30), "sentAt": ts(-600), "properties": {"amount": 3}}),
        json!({"type": "track", "messageId": "i4", "userId": "someone", "event": "signup", "timestamp": ts(20)}),
        json!({"type": "track", "messageId": "bad", "userId": "someone"}),
    ];
    let plain = dir.path().join("a.ndjson");
    write_ndjson(&plain, &first, false);
    // A line that is not JSON, one that is not UTF-8, and a blank line.
    let mut f = std::fs::OpenOptions::new().append(true).open(&plain).unwrap();
    f.write_all(b"not json\n\xff\xfe\n\n").unwrap();
    let second = vec![
        first[2].clone(),
        json!({"type": "track", "messageId": "g1", "anonymousId": "anon-1", "event": "feature_used", "timestamp": ts(10)}),
    ];
    let gz = dir.path().join("b.ndjson.gz");
    write_ndjson(&gz, &second, true);

    let summary = import(data, &[&plain, &gz]);
    assert_eq!(summary["messages"], 9);
    assert_eq!(summary["accepted"], 6);
    assert_eq!(summary["already_stored"], 1, "i3 twice: stored once");
    assert_eq!(summary["rejected"], 3);
    assert_eq!(
        summary["rejected_by_reason"],
        json!({"invalid_json": 2, "missing_field:event": 1})
    );

    let again = import(data, &[&gz]);
    assert_eq!(
        (again["accepted"].as_u64(), again["already_stored"].as_u64()),
        (Some(2), Some(2))
    );

    let (ok, out, err) = footfall(&["export", "--data", data, "--project", "shop", "--user", "user_42"]);
    assert!(ok, "{err}");
    let exported: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = exported
        .iter()
        .map(|e| e["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["i1", "i2", "i3", "g1"],
        "oldest first, the anonymous history included"
    );
    assert_eq!(
        exported[2]["ts"].as_i64(),
        footfall_collector::ingest::validate::parse_ms(first[2]["timestamp"].as_str().unwrap()),
        "imports keep timestamps (no skew correction)"
    );

    let out_file = dir.path().join("export.ndjson");
    let (ok, _, err) = footfall(&[
        "export",
        "--data",
        data,
        "--project",
        "shop",
        "--user",
        "user_42",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap().lines().count(), 4);
    // A cookie id names its linked user's whole person.
    let (ok, out, err) = footfall(&[
        "export",
        "--data",
        data,
        "--project",
        "shop",
        "--anonymous-id",
        "anon-1",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    // An unlinked one names just its own events.
    let lonely = dir.path().join("lonely.ndjson");
    write_ndjson(
        &lonely,
        &[
            json!({"type": "track", "messageId": "l1", "anonymousId": "anon-9", "event": "search", "timestamp": ts(5)}),
        ],
        false,
    );
    import(data, &[&lonely]);
    let (ok, out, err) = footfall(&[
        "erase",
        "--data",
        data,
        "--project",
        "shop",
        "--anonymous-id",
        "anon-9",
    ]);
    assert!(ok, "{err}");
    let erased: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            erased["by"].as_str(),
            erased["events_deleted"].as_u64(),
            erased["user_id"].is_null()
        ),
        (Some("anonymous_id"), Some(1), true),
        "{erased}"
    );

    let (ok, out, err) = footfall(&["erase", "--data", data, "--project", "shop", "--user", "user_42"]);
    assert!(ok, "{err}");
    let erased: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(erased["events_deleted"], 4);
    assert_eq!(erased["identity_links_deleted"], 1);
    let (_, out, _) = footfall(&["export", "--data", data, "--project", "shop", "--user", "user_42"]);
    assert_eq!(out, "");
    // Importing the person again is refused: suppressed.
    let third = import(data, &[&plain]);
    assert_eq!(third["rejected_by_reason"]["suppressed"], 3, "{third}");

    // Errors are reported, not panics.
    let (ok, _, err) = footfall(&["import", "--data", data, "--quiet", "/nonexistent.ndjson"]);
    assert!(!ok);
    assert!(err.contains("cannot read /nonexistent.ndjson"), "{err}");
    let (ok, _, err) = footfall(&["serve", "--config", "/nonexistent.yaml"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.yaml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_seeds_a_populated_project() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sdk = dir.path().join("sdk");
    std::fs::create_dir(&sdk).unwrap();
    std::fs::write(sdk.join("footfall.js"), "export const Footfall = {};").unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/browser");
    let mut child = std::process::Command::new(common::binary())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            common::ADMIN,
            "--example-dir",
            example,
            "--example-dir",
        ])
        .arg(&sdk)
        .arg("--data")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reap = KillOnPanic(child.id(), false);
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit("http://").next().unwrap().to_string();
    let second = lines.next().unwrap().unwrap();
    assert!(second.contains("write key `demo`"), "{second}");
    // The printed dashboards and privacy links carry the admin token (URL-encoded, in the
    // fragment the pages read once).
    let printed: Vec<String> = (0..4).map(|_| lines.next().unwrap().unwrap()).collect();
    assert_eq!(printed[0], format!("footfall: admin token `{}`", common::ADMIN));
    for (line, (name, page)) in printed[1..].iter().zip([
        ("dashboards", "dashboards"),
        ("privacy", "privacy"),
        ("live events", "events"),
    ]) {
        let prefix = format!("footfall: {name} http://{addr}/{page}#token=");
        let token = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line}"));
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)),
            "the token is URL-encoded: {line}"
        );
        assert_eq!(
            percent_encoding::percent_decode_str(token).decode_utf8().unwrap(),
            common::ADMIN
        );
    }
    // The example page's link: the demo write key, and UTM parameters (its events show a campaign).
    let example = lines.next().unwrap().unwrap();
    assert_eq!(
        example,
        format!(
            "footfall: example page http://{addr}/example/?writeKey=demo&utm_source=footfall&utm_medium=terminal&utm_campaign=demo"
        )
    );
    std::thread::spawn(move || for _ in lines {});
    let http = reqwest::Client::new();
    let projects: Value = http
        .get(format!("http://{addr}/v1/admin/projects"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(projects["projects"][0]["id"], "demo");
    // The example dashboards are installed, and their pages and data answer.
    let dashboards: Value = http
        .get(format!("http://{addr}/v1/dashboards"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dashboards["dashboards"][0]["id"], "product-overview");
    let r = http
        .get(format!("http://{addr}/v1/dashboards/product-overview/data"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let data_json: Value = r.json().await.unwrap();
    assert!(
        data_json["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("error").is_none()),
        "{data_json}"
    );
    for page in [
        "/",
        "/dashboards/product-overview",
        "/privacy",
        "/example/",
        "/example/footfall.js",
    ] {
        let r = http.get(format!("http://{addr}{page}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
    }
    let home = http
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Demo mode") && home.contains("<code>demo</code>"));
    let r = http
        .post(format!("http://{addr}/v1/track"))
        .basic_auth("demo", Some(""))
        .json(&common::track("live-1", "u", "e"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    reap.1 = true;
    let store = common::open(data.to_str().unwrap());
    let events = common::event_count(&*store, "demo").await;
    assert!(events > 2000, "{events} demo events");
    let d = store.dialect();
    let persons = common::count(
        &*store,
        "SELECT count(DISTINCT user_id) FROM events WHERE project_id = 'demo'",
    )
    .await;
    assert!(persons > 50, "{persons} identified persons");
    let kinds = common::count(
        &*store,
        "SELECT count(DISTINCT event) FROM events WHERE project_id = 'demo'",
    )
    .await;
    assert!(kinds >= 8, "{kinds} event names");
    let bots = common::count(
        &*store,
        "SELECT count(*) FROM events WHERE project_id = 'demo' AND is_bot",
    )
    .await;
    assert!(bots > 0);
    let links = format!(
        "SELECT count(*) FROM identities WHERE project_id = {}",
        common::sql_str(d, "demo")
    );
    assert!(common::count(&*store, &links).await > 50);
}

/// `footfall query` and `footfall dashboard render` on the embedded store (`--data`) and, when
/// available, PostgreSQL and ClickHouse (`--store URL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_dashboard_render_on_every_backend() {
    for backend in [
        common::Backend::DuckDb,
        common::Backend::Postgres,
        common::Backend::ClickHouse,
    ] {
        let Some(env) = common::env(backend) else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let project = common::unique("cliq");
        let location: Vec<&str> = match backend {
            common::Backend::DuckDb => vec!["--data", &env.location],
            _ => vec!["--store", &env.location],
        };
        let events = vec![
            json!({"type": "track", "messageId": "q1", "userId": "ada", "event": "purchase", "timestamp": ts(30), "properties": {"amount": 5}}),
            json!({"type": "track", "messageId": "q2", "userId": "bob", "event": "purchase", "timestamp": ts(20), "properties": {"amount": 7}}),
            json!({"type": "track", "messageId": "q3", "userId": "bob", "event": "signup", "timestamp": ts(10)}),
        ];
        let file = dir.path().join("e.ndjson");
        write_ndjson(&file, &events, false);
        let with = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            v.extend(location.iter().map(|s| s.to_string()));
            v.extend(["--project".to_string(), project.clone()]);
            v
        };
        let run = |args: Vec<String>| footfall(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let (ok, _, err) = run(with(&["import", "--quiet", file.to_str().unwrap()]));
        assert!(ok, "{backend:?}: {err}");

        let spec = dir.path().join("by_event.yaml");
        std::fs::write(
            &spec,
            "kind: events\ndimensions: [event]\nmetrics: [count]\norder_by: [count DESC]\n",
        )
        .unwrap();
        let (ok, out, err) = run(with(&["query", spec.to_str().unwrap(), "--format", "csv"]));
        assert!(ok, "{backend:?}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, ["event,count", "purchase,2", "signup,1"], "{backend:?}");
        let from = ts(25);
        let (ok, out, err) = run(with(&[
            "query",
            spec.to_str().unwrap(),
            "--format",
            "json",
            "--from",
            &from,
        ]));
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["rows"],
            json!([["purchase", 1], ["signup", 1]]),
            "{backend:?}: --from overrides: {v}"
        );
        let (ok, out, _) = run(with(&["query", spec.to_str().unwrap(), "--format", "table"]));
        assert!(ok && out.contains("purchase") && out.contains("event"), "{out}");

        let dashboards = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dashboards.yaml");
        let report = dir.path().join("report.html");
        let (ok, _, err) = run(with(&[
            "dashboard",
            "render",
            dashboards,
            "--out",
            report.to_str().unwrap(),
        ]));
        assert!(ok, "{backend:?}: {err}");
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(
            html.contains("Product overview") && html.contains("\"mode\":\"static\""),
            "{backend:?}"
        );
        assert!(!html.contains("<script src"), "self-contained");

        // A widget that fails when computed (its range ends before it starts): the report is
        // still written, the failure is warned about, and the exit status says so.
        let failing = dir.path().join("failing.yaml");
        std::fs::write(
            &failing,
            "dashboards:\n  - id: t\n    name: T\n    widgets:\n      - {widget_id: fine, type: metric, title: Fine, metrics: [{type: count}]}\n      \
             - {widget_id: backwards, type: metric, title: Backwards, metrics: [{type: count}], date_range: {from: 2026-12-01, to: 2026-01-01}}\n",
        )
        .unwrap();
        let bad = dir.path().join("bad.html");
        let (ok, _, err) = run(with(&[
            "dashboard",
            "render",
            failing.to_str().unwrap(),
            "--out",
            bad.to_str().unwrap(),
        ]));
        assert!(!ok, "{backend:?}: widget errors fail the command");
        assert!(
            err.contains("warning: t/backwards (Backwards)") && err.contains("starts after it ends"),
            "{err}"
        );
        assert!(err.contains("1 widget(s) failed"), "{err}");
        assert!(
            std::fs::read_to_string(&bad).unwrap().contains("Fine"),
            "the report is written anyway"
        );
        let (ok, _, err) = run(with(&[
            "dashboard",
            "render",
            dashboards,
            "--out",
            bad.to_str().unwrap(),
            "--from",
            "soonish",
        ]));
        assert!(!ok && err.contains("soonish"), "{err}");

        // Errors name what is wrong.
        std::fs::write(&spec, "kind: events\nmetrics: [total]\n").unwrap();
        let (ok, _, err) = run(with(&["query", spec.to_str().unwrap()]));
        assert!(!ok && err.contains("total"), "{err}");
    }
}

/// `footfall export-events`: every event of the range across pages (1,000 a page), once each,
/// as NDJSON and as CSV (one header, JSON cells), bots only with `--include-bots`.
#[test]
fn export_events_pages_through_a_range_as_ndjson_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut lines: Vec<Value> = (0..2_500)
        .map(|i| {
            json!({"type": "track", "messageId": format!("x{i:04}"), "anonymousId": format!("a{}", i % 7),
                   "event": "e", "timestamp": ts(60 + i % 100), "properties": {"i": i, "note": "a,\"b\"\nc"}})
        })
        .collect();
    lines.push(
        json!({"type": "track", "messageId": "bot", "anonymousId": "b", "event": "e", "timestamp": ts(5),
                      "context": {"userAgent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}}),
    );
    let file = dir.path().join("events.ndjson");
    write_ndjson(&file, &lines, false);
    assert_eq!(import(data, &[&file])["accepted"], 2_501);

    let out = dir.path().join("all.ndjson");
    let (ok, _, err) = footfall(&[
        "export-events",
        "--data",
        data,
        "--project",
        "shop",
        "--from",
        "7_days_ago",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("exported 2500 events"), "{err}");
    let rows: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = rows.iter().map(|r| r["message_id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2_500, "every event once");
    let r = rows.iter().find(|r| r["message_id"] == "x0042").unwrap();
    assert_eq!(r["properties"], json!({"i": 42, "note": "a,\"b\"\nc"}));
    assert_eq!(r["type"], "track");

    let (ok, _, err) = footfall(&[
        "export-events",
        "--data",
        data,
        "--project",
        "shop",
        "--include-bots",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok && err.contains("exported 2501 events"), "{err}");

    let (ok, csv, err) = footfall(&[
        "export-events",
        "--data",
        data,
        "--project",
        "shop",
        "--format",
        "csv",
    ]);
    assert!(ok, "{err}");
    let header = csv.split("\r\n").next().unwrap();
    assert!(header.starts_with("event,person,"), "{header}");
    assert_eq!(csv.matches("message_id").count(), 1, "one header");
    assert_eq!(
        csv.matches("\"{\"\"i\"\":").count(),
        2_500,
        "properties as quoted JSON cells"
    );
    let (ok, empty, err) = footfall(&[
        "export-events",
        "--data",
        data,
        "--project",
        "shop",
        "--format",
        "csv",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-02",
    ]);
    assert!(ok && err.contains("exported 0 events"), "{err}");
    assert_eq!(
        empty,
        format!("{header}\r\n"),
        "an empty range: the same header alone"
    );
}

/// Kills process `.0` when dropped unless `.1` says it was stopped: a failing assertion must not
/// leave a server running after the test.
struct KillOnPanic(u32, bool);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if !self.1 {
            let _ = Command::new("kill").args(["-9", &self.0.to_string()]).status();
        }
    }
}

/// `footfall serve` on PostgreSQL logs where it stores ("collector ready … store=…") without the
/// location's password (it was logged in clear at every start), and builds the index Live events
/// reads in the background (`Store::start_maintenance`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_hides_the_password_and_builds_the_arrival_index() {
    let Some(env) = common::env(common::Backend::Postgres) else {
        return;
    };
    // The test server trusts loopback: a password in the URL is accepted and never checked.
    let (scheme, rest) = env.location.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    // A schema of its own: the index must be built by this process.
    let schema = common::unique("pw").replace('-', "_");
    let sep = if host.contains('?') { '&' } else { '?' };
    let location = format!("{scheme}://{user}:s3cret-pw-42@{host}{sep}schema={schema}");
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&location, &common::unique("pw"), &common::unique("wk"));
    let p = common::Process::spawn_with(dir.path(), "pw", &config, |cmd| {
        cmd.env("RUST_LOG", "info");
    });
    let store = common::open(&location);
    let valid = "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = 'events_project_received' AND n.nspname = current_schema() AND i.indisvalid";
    let started = std::time::Instant::now();
    while common::count(&*store, valid).await < 1 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no index after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("pw.log")).unwrap();
    drop(p);
    let ready = log
        .lines()
        .find(|l| l.contains("collector ready"))
        .unwrap_or_else(|| panic!("no 'collector ready' line: {log}"));
    assert!(ready.contains(&format!("{user}:***@")), "{ready}");
    assert!(!log.contains("s3cret-pw-42"), "the password is in the log: {log}");
}

/// Read-only commands do not load the embedded store's dedupe set (a digest per stored event:
/// seconds and memory on a big store, and only writes need it); a command that writes does.
#[test]
fn read_only_commands_skip_the_dedupe_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("e.ndjson");
    let events = vec![
        json!({"type": "track", "messageId": "k1", "userId": "ada", "event": "purchase", "timestamp": ts(3)}),
    ];
    write_ndjson(&file, &events, false);
    let run = |args: &[&str]| {
        let out = Command::new(common::binary())
            .args(args)
            .args(["--data", data.to_str().unwrap(), "--project", "p"])
            .env("RUST_LOG", "info")
            .env_remove("FOOTFALL_DATA")
            .env_remove("FOOTFALL_STORE")
            .env_remove("FOOTFALL_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let imported = run(&["import", "--quiet", file.to_str().unwrap()]);
    assert!(
        imported.contains("dedupe keys loaded"),
        "a write loads it: {imported}"
    );
    let spec = dir.path().join("q.yaml");
    std::fs::write(&spec, "kind: events\ndimensions: [event]\nmetrics: [count]\n").unwrap();
    let queried = run(&["query", spec.to_str().unwrap(), "--format", "csv"]);
    assert!(
        !queried.contains("dedupe keys loaded"),
        "a query loaded it: {queried}"
    );
    let exported = run(&["export-events", "--format", "csv"]);
    assert!(
        !exported.contains("dedupe keys loaded"),
        "an export loaded it: {exported}"
    );
}

/// Reading a project that has no events (typically `--project` left out) warns on stderr and
/// names the projects that have events; a project with events reads without a warning.
#[test]
fn reading_a_project_without_events_warns_and_names_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("e.ndjson");
    let events = vec![
        json!({"type": "track", "messageId": "w1", "userId": "ada", "event": "purchase", "timestamp": ts(3)}),
        json!({"type": "track", "messageId": "w2", "userId": "bob", "event": "purchase", "timestamp": ts(2)}),
    ];
    write_ndjson(&file, &events, false);
    let spec = dir.path().join("q.yaml");
    std::fs::write(&spec, "kind: events\nmetrics: [count]\n").unwrap();
    let store = ["--data", data.to_str().unwrap()];
    let (ok, _, err) = footfall(&[&["query", spec.to_str().unwrap()][..], &store].concat());
    assert!(ok, "{err}");
    assert!(err.contains("the store holds no events yet"), "{err}");
    let (ok, _, err) = footfall(
        &[
            &["import", "--quiet", "--project", "shop", file.to_str().unwrap()][..],
            &store,
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let (ok, out, err) =
        footfall(&[&["query", spec.to_str().unwrap(), "--format", "csv"][..], &store].concat());
    assert!(ok, "{err}");
    assert!(out.contains('0'), "zeros for `default`: {out}");
    assert!(
        err.contains("project `default` has no events")
            && err.contains("shop (2)")
            && err.contains("--project"),
        "{err}"
    );
    let (ok, _, err) = footfall(&[&["export-events", "--project", "shp"][..], &store].concat());
    assert!(ok && err.contains("project `shp` has no events"), "{err}");
    let (ok, out, err) = footfall(
        &[
            &[
                "query",
                spec.to_str().unwrap(),
                "--project",
                "shop",
                "--format",
                "csv",
            ][..],
            &store,
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(out.contains('2'), "{out}");
}

/// A command on a data directory that `footfall serve` is using is refused with a message that
/// says what to do (it was DuckDB's "Could not set lock on file"); the directory's lock also
/// covers the moments when the store reopens its database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_use_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = common::config(
        &data.display().to_string(),
        &common::unique("busy"),
        &common::unique("wk"),
    );
    let serving = common::Process::spawn(dir.path(), "busy", &config);
    let spec = dir.path().join("q.yaml");
    std::fs::write(&spec, "kind: events\nmetrics: [count]\n").unwrap();
    let (ok, _, err) = footfall(&["query", spec.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    assert!(!ok, "a second process opened the data directory");
    assert!(
        err.contains("is in use by another process") && err.contains("admin API"),
        "{err}"
    );
    drop(serving);
    let (ok, _, err) = footfall(&["query", spec.to_str().unwrap(), "--data", data.to_str().unwrap()]);
    assert!(ok, "free again once serve is gone: {err}");
}
