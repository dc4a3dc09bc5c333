//! The collector when the machine misbehaves, with the real `footfall` binary and the embedded
//! store: a full disk, corrupt or unusable files at start, SIGTERM under load. The promise under
//! test is the durable ack: a 2xx means stored (and found after a restart); anything the
//! collector cannot store gets a 5xx with `Retry-After`, never a 2xx, a hang or a crash.
//!
//! A full disk is simulated with `RLIMIT_FSIZE` set on the running child by `prlimit(2)` (with
//! `SIGXFSZ` ignored in the child, writes fail with `EFBIG` as they would with `ENOSPC`); a soft
//! limit at or below the hard one needs no privilege.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Process, read_until_closed};
use serde_json::Value;

/// How long any single request may take before the test calls it a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A batch of `n` track messages `{prefix}-m{i}` of user `user`.
fn batch(prefix: &str, n: usize, user: &str) -> (Vec<String>, Value) {
    common::batch(prefix, n, user, "fault")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

async fn post(http: &reqwest::Client, p: &Process, key: &str, body: &Value) -> reqwest::Response {
    common::send_batch(http, &p.url("/v1/batch"), key, body)
        .await
        .expect("the collector answers (no hang, no crash)")
}

/// Ignore `SIGXFSZ` in the child, so a write beyond `RLIMIT_FSIZE` fails with `EFBIG`.
fn ignore_sigxfsz(cmd: &mut Command) {
    // SAFETY: signal(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// Sets the soft `RLIMIT_FSIZE` of `pid` (`None`: back to the hard limit).
fn set_file_size_limit(pid: u32, limit: Option<u64>) -> std::io::Result<()> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to rlimit structs for the duration of the calls.
    unsafe {
        if libc::prlimit(pid as libc::pid_t, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let new = libc::rlimit {
            rlim_cur: limit.map_or(old.rlim_max, |l| l.min(old.rlim_max)),
            rlim_max: old.rlim_max,
        };
        if libc::prlimit(pid as libc::pid_t, libc::RLIMIT_FSIZE, &new, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Collects a child's stderr (a pipe: not subject to the file size limit) in the background.
fn capture_stderr(cmd: &mut Command) {
    cmd.stderr(Stdio::piped());
}

fn drain_stderr(p: &mut Process) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let mut stderr = p.child.stderr.take().expect("stderr piped");
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

/// A collector whose file size limit a test may lower (SIGXFSZ ignored, stderr collected), after
/// five acknowledged batches of 20 events of user `u1`.
struct Limited {
    collector: Process,
    log: Arc<Mutex<String>>,
    pid: u32,
    http: reqwest::Client,
    acked: HashSet<String>,
}

impl Limited {
    async fn start(dir: &Path, name: &str, location: &str, project: &str, key: &str) -> Limited {
        let config = common::config(location, project, key);
        let mut collector = Process::spawn_with(dir, name, &config, |cmd| {
            ignore_sigxfsz(cmd);
            capture_stderr(cmd);
        });
        let log = drain_stderr(&mut collector);
        let pid = collector.child.id();
        let http = client();
        let mut acked = HashSet::new();
        for n in 0..5 {
            let (ids, body) = batch(&format!("before{n}"), 20, "u1");
            assert_eq!(post(&http, &collector, key, &body).await.status(), 200);
            acked.extend(ids);
        }
        Limited {
            collector,
            log,
            pid,
            http,
            acked,
        }
    }
}

/// `GET /v1/admin/users/u1/export`: status and body.
async fn export_u1(http: &reqwest::Client, p: &Process) -> (reqwest::StatusCode, String) {
    let r = http
        .get(p.url("/v1/admin/users/u1/export"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .expect("an export answers");
    (r.status(), r.text().await.unwrap_or_default())
}

/// The disk fills up under a running collector: requests get 503 + Retry-After (not a 2xx, not a
/// hang, not a crash); when space returns, the same process accepts the retries, stores each
/// event once, and every acknowledged event is in the store after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_gets_503_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("full"), common::unique("wk"));
    let l = Limited::start(dir.path(), "full", &data.display().to_string(), &project, &key).await;
    let (collector, log, pid, http, mut acked) = (l.collector, l.log, l.pid, l.http, l.acked);

    if let Err(e) = set_file_size_limit(pid, Some(0)) {
        eprintln!("\n*** SKIPPED: cannot set RLIMIT_FSIZE of the collector (prlimit: {e}) ***\n");
        return;
    }
    // The loader's next round (1 s) finds the acknowledged batches pending and cannot write
    // them into DuckDB either.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let export = http
        .get(collector.url("/v1/admin/users/u1/export"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .expect("a read answers while the disk is full");
    let (status, retry_after) = (export.status(), export.headers().contains_key("retry-after"));
    let answer: Value = export.json().await.unwrap_or(Value::Null);
    assert_eq!(
        status, 503,
        "a read that must load pending writes first: {answer}"
    );
    assert!(retry_after, "503 without Retry-After: {answer}");
    assert_eq!(answer["error"], "store_unavailable", "{answer}");
    // Nothing can be written to any file now: every batch must be refused as retryable.
    let mut refused = Vec::new();
    for n in 0..10 {
        let (ids, body) = batch(&format!("full{n}"), 20, "u1");
        let r = post(&http, &collector, &key, &body).await;
        let status = r.status();
        let retry_after = r.headers().get("retry-after").cloned();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 503, "a batch that cannot be stored gets 503: {answer}");
        assert!(retry_after.is_some(), "503 without Retry-After: {answer}");
        assert_eq!(answer["error"], "store_unavailable", "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("intake log") && message.contains("large"),
            "the message says what failed: {message}"
        );
        refused.push((ids, body));
    }
    // The collector is still alive and serving.
    let health = http.get(collector.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = http.get(collector.url("/ready")).send().await.unwrap();
    let ready_status = ready.status();
    let ready_body: Value = ready.json().await.unwrap_or(Value::Null);
    assert_eq!(
        ready_status, 503,
        "/ready reports that the store cannot take writes: {ready_body}"
    );
    assert_eq!(ready_body["error"], "store_unavailable");

    // Twelve failed requests of one kind are one log line (sampled: at most one a kind per 10 s,
    // with the count held back), not one per request twice over (our line and the trace layer's).
    {
        let log = log.lock().unwrap();
        let failed = log.lines().filter(|l| l.contains("request failed")).count();
        assert!(
            (1..=2).contains(&failed),
            "{failed} 'request failed' lines: {log}"
        );
        assert!(
            !log.contains("response failed"),
            "the trace layer logs 5xx too: {log}"
        );
    }
    let write_errors = common::metric(&collector.url("/metrics"), "footfall_store_write_errors_total").await;
    assert!(
        write_errors >= 10.0,
        "the failed commits are counted: {write_errors}"
    );

    // Space returns: the same process takes the retries, once each.
    set_file_size_limit(pid, None).unwrap();
    for (ids, body) in &refused {
        let r = post(&http, &collector, &key, body).await;
        assert_eq!(r.status(), 200, "ingestion resumes without a restart");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["accepted"], ids.len(), "{answer}");
        acked.extend(ids.iter().cloned());
    }
    let ready = http.get(collector.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "/ready recovers with the store");
    // Reads see everything acknowledged (the loader got going again too).
    let (status, exported) = export_u1(&http, &collector).await;
    assert_eq!(status, 200);
    assert_eq!(exported.lines().count(), acked.len(), "export after recovery");

    let status = collector.terminate();
    assert!(status.success(), "graceful exit after recovery: {status}");
    let log = log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "no panic: {log}");
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    let missing: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "acked but lost: {missing:?}");
    assert_eq!(common::event_count(&*store, &project).await, acked.len() as i64);
}

/// DuckDB's automatic checkpoint fails on a full disk: DuckDB then invalidates the database
/// ("COMMIT succeeded and is durable, but the autocheckpoint failed. Reopen the database instance
/// to recover") and refuses every later call. The store reopens it by itself: when space returns
/// the same process serves reads again (it answered 503 until a restart), and the load whose
/// commit was durable though reported failed is not loaded twice. The database file cannot grow
/// (`RLIMIT_FSIZE` at its size) while the WAL and the intake log still can; a small
/// `checkpoint_threshold` (a setting in the location) makes DuckDB checkpoint soon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_checkpoint_reopens_the_database_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("ckpt"), common::unique("wk"));
    let location = format!("duckdb:{}?checkpoint_threshold=256KB", data.display());
    let l = Limited::start(dir.path(), "ckpt", &location, &project, &key).await;
    let (collector, log, pid, http, mut acked) = (l.collector, l.log, l.pid, l.http, l.acked);
    // Loaded and checkpointed (a read loads what is pending): the file has its size now.
    assert_eq!(export_u1(&http, &collector).await.0, 200);
    let file = data.join("footfall.duckdb");
    let size = std::fs::metadata(&file).unwrap().len();
    if let Err(e) = set_file_size_limit(pid, Some(size)) {
        eprintln!("\n*** SKIPPED: cannot set RLIMIT_FSIZE of the collector (prlimit: {e}) ***\n");
        return;
    }
    // Batches of 50 (~35 KB of WAL per load) until DuckDB's checkpoint has failed (its fatal
    // error is in the log, by the loader or by the reopen).
    let started = std::time::Instant::now();
    let mut n = 0;
    while !log.lock().unwrap().contains("FATAL Error") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no failed checkpoint within 60 s ({n} batches); log:\n{}",
            log.lock().unwrap()
        );
        let (ids, body) = batch(&format!("full{n}"), 50, "u1");
        let r = post(&http, &collector, &key, &body).await;
        if r.status() == 200 {
            acked.extend(ids);
        } else {
            assert_eq!(r.status(), 503, "{:?}", r.text().await);
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Space returns: the same process takes batches and serves reads with everything.
    set_file_size_limit(pid, None).unwrap();
    for n in 0..5 {
        let (ids, body) = batch(&format!("after{n}"), 20, "u1");
        assert_eq!(post(&http, &collector, &key, &body).await.status(), 200);
        acked.extend(ids);
    }
    let (status, exported) = export_u1(&http, &collector).await;
    assert_eq!(status, 200, "reads recover without a restart: {exported}");
    let ids = common::export_message_ids(&exported);
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "a load was stored twice after the reopen"
    );
    assert_eq!(ids.len(), acked.len(), "export after the reopen");
    let ready = http.get(collector.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "/ready recovers with the store");
    let reopens = common::metric(&collector.url("/metrics"), "footfall_store_reopens_total").await;
    assert!(reopens >= 1.0, "the reopen is counted: {reopens}");

    let status = collector.terminate();
    assert!(status.success(), "graceful exit after the reopen: {status}");
    let log = log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "no panic: {log}");
    let reopened: Vec<&str> = log.lines().filter(|l| l.contains("reopened it")).collect();
    assert!(!reopened.is_empty(), "the reopen is logged: {log}");
    eprintln!(
        "{n} batches while the file could not grow; reopens:\n{}",
        reopened.join("\n")
    );
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    let missing: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "acked but lost: {missing:?}");
    assert_eq!(common::event_count(&*store, &project).await, acked.len() as i64);
}

/// The log without its colours.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// The log's lines without time and fields (the start of the message), counted: a reopen loop
/// shows as spam here.
fn log_messages(plain: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for line in plain.lines() {
        let message = line.split_once(' ').map_or("", |(_, m)| m).trim_start();
        *out.entry(message.chars().take(100).collect()).or_default() += 1;
    }
    out
}

/// The sum of a numeric field (`name=N`) over the log's lines.
fn field_sum(plain: &str, name: &str) -> u64 {
    let key = format!(" {name}=");
    plain
        .lines()
        .filter_map(|l| l.split_once(&key)?.1.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A batch of the stress test: 48 track events of `u1`, one of an anonymous id and the identify
/// that links it to `u1` (its events are u1's: exported with them), and one invalid message (a
/// dead letter). Returns the ids of the 50 stored events.
fn stress_batch(prefix: &str) -> (Vec<String>, Value) {
    let (mut ids, mut body) = batch(prefix, 48, "u1");
    let anon = format!("{prefix}-anon");
    let messages = body["batch"].as_array_mut().unwrap();
    let mut anonymous = common::track(&format!("{prefix}-a"), "x", "fault");
    anonymous.as_object_mut().unwrap().remove("userId");
    anonymous["anonymousId"] = Value::from(anon.clone());
    messages.push(anonymous);
    messages.push(serde_json::json!({
        "type": "identify", "messageId": format!("{prefix}-i"), "anonymousId": anon, "userId": "u1",
    }));
    messages.push(serde_json::json!({ "type": "track", "messageId": format!("{prefix}-bad") }));
    ids.extend([format!("{prefix}-a"), format!("{prefix}-i")]);
    (ids, body)
}

/// Answers a stress task may get while the database file cannot grow: served, or refused as
/// retryable. Anything else (a 500, a 400 from a query on the wrong database) fails the test.
fn served_or_retryable(what: &str, status: reqwest::StatusCode, body: &str) {
    assert!(
        status == 200 || status == 503,
        "{what}: {status} {}",
        body.chars().take(400).collect::<String>()
    );
}

/// What the stress tasks saw: events acknowledged, batches refused (to send again), answers.
#[derive(Default)]
struct Stressed {
    acked: HashSet<String>,
    refused: Vec<(Vec<String>, Value)>,
    answers: std::collections::BTreeMap<String, usize>,
}

/// The reopen under load: three clients send batches (with identity links and dead letters), a
/// reader exports, queries dead letters and the audit log and asks /ready, and backups run, while
/// the database file cannot grow for 800 ms out of every 2 s (`checkpoint_threshold=256KB`), so
/// that DuckDB's checkpoints fail again and again and the store keeps reopening the database
/// under them, between loads and backups that go through. Every request answers (the client's
/// timeout is the bound: a hang — e.g. a lock taken in the wrong order — fails), nothing but 200
/// or 503 comes back (a connection of a dead or stand-in instance answering fails), and when
/// space returns the same process serves reads again and holds every acknowledged event exactly
/// once, and one dead letter per acknowledged batch (export, and the file after a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_reopens_under_load_lose_nothing_and_never_hang() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("reopen"), common::unique("wk"));
    let location = format!("duckdb:{}?checkpoint_threshold=256KB", data.display());
    let l = Limited::start(dir.path(), "reopen", &location, &project, &key).await;
    let (collector, log, pid, http) = (l.collector, l.log, l.pid, l.http);
    assert_eq!(export_u1(&http, &collector).await.0, 200);
    let size = std::fs::metadata(data.join("footfall.duckdb")).unwrap().len();
    if let Err(e) = set_file_size_limit(pid, Some(size)) {
        eprintln!("\n*** SKIPPED: cannot set RLIMIT_FSIZE of the collector (prlimit: {e}) ***\n");
        return;
    }
    let seen = Arc::new(Mutex::new(Stressed {
        acked: l.acked,
        ..Stressed::default()
    }));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = collector.url("");
    let count =
        |seen: &Mutex<Stressed>, what: String| *seen.lock().unwrap().answers.entry(what).or_default() += 1;
    let mut tasks = Vec::new();
    for c in 0..3 {
        let (http, base, key, seen, stop) = (
            http.clone(),
            base.clone(),
            key.clone(),
            seen.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (ids, body) = stress_batch(&format!("c{c}-b{n}"));
                let r = common::send_batch(&http, &format!("{base}/v1/batch"), &key, &body)
                    .await
                    .expect("a batch answers (no hang, no crash)");
                let status = r.status();
                served_or_retryable("a batch", status, &r.text().await.unwrap_or_default());
                count(&seen, format!("batch {status}"));
                {
                    let mut s = seen.lock().unwrap();
                    if status == 200 {
                        s.acked.extend(ids);
                    } else {
                        s.refused.push((ids, body));
                    }
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    {
        let (http, base, project, seen, stop) = (
            http.clone(),
            base.clone(),
            project.clone(),
            seen.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for path in [
                    "/v1/admin/users/u1/export".to_string(),
                    format!("/v1/admin/dead_letters?project={project}"),
                    format!("/v1/admin/audit?project={project}"),
                    "/ready".to_string(),
                ] {
                    let r = http
                        .get(format!("{base}{path}"))
                        .bearer_auth(common::ADMIN)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{path} answers (no hang, no crash): {e}"));
                    let status = r.status();
                    served_or_retryable(&path, status, &r.text().await.unwrap_or_default());
                    let name = path.split('?').next().unwrap_or_default().to_string();
                    count(&seen, format!("{name} {status}"));
                }
            }
        }));
    }
    {
        let (http, base, seen, stop) = (http.clone(), base.clone(), seen.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Back to back (two kept), so that reopens meet backups in every phase.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let r = http
                    .post(format!("{base}/v1/admin/backup"))
                    .bearer_auth(common::ADMIN)
                    .json(&serde_json::json!({ "name": format!("stress{n}"), "keep": 2 }))
                    .send()
                    .await
                    .expect("a backup answers (no hang, no crash)");
                let status = r.status();
                served_or_retryable("a backup", status, &r.text().await.unwrap_or_default());
                count(&seen, format!("backup {status}"));
                n += 1;
            }
        }));
    }
    // The file cannot grow for 800 ms, then can for 1.2 s, and so on: checkpoints fail, the
    // store reopens (backing off), loads and backups go through, until the store has reopened a
    // few times (or 20 s: then at least once, asserted below).
    let metrics = collector.url("/metrics");
    let file = data.join("footfall.duckdb");
    let started = std::time::Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(20) {
        let size = std::fs::metadata(&file).unwrap().len();
        set_file_size_limit(pid, Some(size)).unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        set_file_size_limit(pid, None).unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        rounds += 1;
        if rounds >= 4 && common::metric(&metrics, "footfall_store_reopens_total").await >= 3.0 {
            break;
        }
    }
    set_file_size_limit(pid, Some(std::fs::metadata(&file).unwrap().len())).unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a stress task failed");
    }
    let reopens = common::metric(&metrics, "footfall_store_reopens_total").await;

    // Space returns: reads recover without a restart, and the refused batches go in once each
    // (the acknowledged ones sent again are duplicates).
    set_file_size_limit(pid, None).unwrap();
    let mut s = std::mem::take(&mut *seen.lock().unwrap());
    let recovered = std::time::Instant::now();
    let (status, exported) = loop {
        let (status, exported) = export_u1(&http, &collector).await;
        // The store backs off between reopens (8 s at most, engine's REOPEN_RETRY_MAX).
        if status == 200 || recovered.elapsed() > Duration::from_secs(20) {
            break (status, exported);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 200, "reads recover without a restart: {exported}");
    // Each acknowledged batch has one dead letter (they have no dedupe: a batch sent again is
    // a second dead letter).
    let mut dead_letters = s.answers.get("batch 200 OK").copied().unwrap_or(0);
    for (ids, body) in std::mem::take(&mut s.refused) {
        let r = post(&http, &collector, &key, &body).await;
        assert_eq!(r.status(), 200, "a retry after recovery is stored");
        s.acked.extend(ids);
        dead_letters += 1;
    }
    // An acknowledged batch sent again: duplicates (a 200; the export below finds one copy).
    let (_, again) = stress_batch("c0-b0");
    assert_eq!(post(&http, &collector, &key, &again).await.status(), 200);
    dead_letters += 1;
    let (status, exported) = export_u1(&http, &collector).await;
    assert_eq!(status, 200);
    let ids = common::export_message_ids(&exported);
    let distinct: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct.len(), ids.len(), "an event was stored twice");
    let lost: Vec<_> = s.acked.difference(&distinct).take(10).collect();
    assert!(lost.is_empty(), "acknowledged but not exported: {lost:?}");
    assert_eq!(distinct.len(), s.acked.len(), "exported but never acknowledged");
    let ready = http.get(collector.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "/ready recovers with the store");

    let mut collector = collector;
    let status = terminate_within(&mut collector, Duration::from_secs(30), "after the reopens").await;
    assert!(status.success(), "graceful exit after the reopens: {status}");
    let log = log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "no panic: {log}");
    let log = plain(&log);
    let lines = log.lines().count();
    eprintln!(
        "log messages: {:#?}\nrecords loaded by a load reported failed, forgotten at a reopen: {}\n\
         reopens took: {:?}",
        log_messages(&log),
        field_sum(&log, "already_loaded_records"),
        log.lines()
            .filter_map(|l| l.split_once(" elapsed=")?.1.split(' ').next())
            .collect::<Vec<_>>()
    );
    eprintln!(
        "reopens: {reopens}; answers while the file could not grow: {:?}; {} acknowledged; {lines} log lines",
        s.answers,
        s.acked.len()
    );
    assert!(
        reopens >= 1.0,
        "the store reopened the database: {reopens}; log:\n{log}"
    );
    // The store's own lines: a few per reopen, not one per failed call or load.
    let store_lines = log
        .lines()
        .filter(|l| l.contains("footfall_engine::store"))
        .count();
    assert!(
        store_lines <= 40,
        "{store_lines} lines of the store in the log:\n{log}"
    );
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    assert_eq!(
        stored, s.acked,
        "the file after a restart holds exactly what was acknowledged"
    );
    assert_eq!(common::event_count(&*store, &project).await, s.acked.len() as i64);
    assert_eq!(
        common::dead_letters(&*store, &project).await.len(),
        dead_letters,
        "one dead letter per acknowledged batch"
    );
}

/// What `footfall serve` did with a data directory: started (and serves), or refused.
enum Start {
    Serving(Process),
    Refused { code: Option<i32>, stderr: String },
}

/// Starts `footfall serve` on `data` and waits until it serves or exits (never longer than 60 s:
/// a hang fails the test). Also returns its log (`RUST_LOG=info`).
fn start(dir: &Path, name: &str, data: &Path, project: &str, key: &str) -> (Start, Arc<Mutex<String>>) {
    let config = common::config(&data.display().to_string(), project, key);
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, serde_norway::to_string(&config).unwrap()).unwrap();
    let mut child = Command::new(common::binary())
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env_remove("FOOTFALL_DATA")
        .env_remove("FOOTFALL_STORE")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn footfall");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(Result::ok));
        for _ in lines {}
    });
    let mut process = Process {
        child,
        addr: "127.0.0.1:1".parse().unwrap(),
    };
    let log = drain_stderr(&mut process);
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("footfall serve neither served nor exited within 60 s");
    let Some(line) = first else {
        let status = process.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200)); // the stderr thread reads the rest
        let stderr = log.lock().unwrap().clone();
        return (
            Start::Refused {
                code: status.code(),
                stderr,
            },
            log,
        );
    };
    process.addr = line.rsplit("http://").next().unwrap().trim().parse().unwrap();
    (Start::Serving(process), log)
}

/// Starts a collector on a new data directory in `dir`, gets `batches` batches of 10
/// acknowledged and kills it with SIGKILL at once, until a segment of the intake log holds
/// `min_records` of them or more (the loader moves them into DuckDB within a second, and a read
/// at start may take the first ones earlier). Returns the data directory and the batches.
async fn acked_in_log(
    dir: &Path,
    project: &str,
    key: &str,
    batches: usize,
    min_records: usize,
) -> (PathBuf, Vec<Vec<String>>) {
    for attempt in 0..5 {
        let data = dir.join(format!("data{attempt}"));
        let config = common::config(&data.display().to_string(), project, key);
        let collector = Process::spawn(dir, &format!("before{attempt}"), &config);
        let http = client();
        let mut acked = Vec::new();
        for n in 0..batches {
            let (ids, body) = batch(&format!("b{n}"), 10, "u1");
            assert_eq!(post(&http, &collector, key, &body).await.status(), 200);
            acked.push(ids);
        }
        collector.kill9();
        let in_log = segments(&data)
            .iter()
            .map(|p| record_offsets(&std::fs::read(p).unwrap()).len())
            .max()
            .unwrap_or(0);
        if in_log >= min_records {
            return (data, acked);
        }
        eprintln!("attempt {attempt}: the loader took the batches before the kill; again");
    }
    panic!("the acknowledged batches never stayed in the intake log");
}

/// The intake log's segments, in order.
fn segments(data: &Path) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = std::fs::read_dir(data.join("intake"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    s.retain(|p| p.extension().is_some_and(|x| x == "log"));
    s.sort();
    s
}

/// Byte offsets of the records of a segment (header: magic, length, CRC, seq; then payload).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 20 <= bytes.len() && &bytes[at..at + 4] == b"FFI1" {
        out.push(at);
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += 20 + len;
    }
    out
}

fn expect_serving(start: Start) -> Process {
    match start {
        Start::Serving(p) => p,
        Start::Refused { code, stderr } => panic!("refused to start ({code:?}): {stderr}"),
    }
}

/// Asserts a clean refusal: a non-zero exit that is not a panic, a message naming `names`.
fn expect_refused(start: Start, names: &Path) -> String {
    match start {
        Start::Serving(_) => panic!("started on an unusable data directory ({})", names.display()),
        Start::Refused { code, stderr } => {
            assert!(
                code.is_some_and(|c| c != 0 && c != 101),
                "exit code {code:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "a panic, not a message: {stderr}");
            assert!(
                stderr.contains(&names.display().to_string()),
                "the message names {}: {stderr}",
                names.display()
            );
            stderr
        }
    }
}

/// A crash in the middle of an append leaves a torn record at the end of the log: the collector
/// starts, keeps every acknowledged write and says in its log what it cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_intake_log_tail_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (project, key) = (common::unique("torn"), common::unique("wk"));
    let (data, acked) = acked_in_log(dir.path(), &project, &key, 3, 1).await;
    let acked = acked.concat();
    let last = segments(&data)
        .pop()
        .expect("the acked writes are in the intake log");
    // Half a record: a header that promises more than follows.
    let mut torn = b"FFI1".to_vec();
    torn.extend_from_slice(&5000u32.to_le_bytes());
    torn.extend_from_slice(&[0xAB; 300]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all_at_end(&torn);

    let (started, log) = start(dir.path(), "after", &data, &project, &key);
    let collector = expect_serving(started);
    assert_eq!(
        common::metric(&collector.url("/metrics"), "footfall_store_damaged_log_bytes").await,
        0.0,
        "a torn tail was never acknowledged"
    );
    let status = collector.terminate();
    let log = log.lock().unwrap().clone();
    assert!(status.success(), "{status}: {log}");
    let name = last.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        log.lines().any(|l| l.contains(&name) && l.contains("torn")),
        "the log names the segment and what was cut: {log}"
    );
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    assert!(acked.iter().all(|id| stored.contains(id)), "acked events lost");
    assert_eq!(stored.len(), acked.len());
}

/// A record damaged in the middle of the log (a bad sector, a bit flip): the records after it
/// are recovered, and the loss is logged as an error naming the file — not a silent cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_record_mid_log_keeps_the_records_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (project, key) = (common::unique("rot"), common::unique("wk"));
    let (data, batches) = acked_in_log(dir.path(), &project, &key, 6, 2).await;
    let (path, mut bytes, offsets) = segments(&data)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let offsets = record_offsets(&bytes);
            (p, bytes, offsets)
        })
        .find(|(_, _, o)| o.len() >= 2)
        .expect("a segment with two records or more");
    // Flip a byte in the payload of its first record.
    bytes[offsets[0] + 40] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    let (started, log) = start(dir.path(), "after", &data, &project, &key);
    let collector = expect_serving(started);
    let damaged = common::metric(&collector.url("/metrics"), "footfall_store_damaged_log_bytes").await;
    assert!(
        damaged > 0.0,
        "the loss shows in /metrics (an operator can alert on it)"
    );
    let status = collector.terminate();
    let log = log.lock().unwrap().clone();
    assert!(status.success(), "{status}: {log}");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains(&name) && l.contains("corrupt")),
        "the loss is logged as an error naming the segment: {log}"
    );
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    let lost: Vec<&Vec<String>> = batches
        .iter()
        .filter(|ids| !ids.iter().all(|id| stored.contains(id)))
        .collect();
    assert_eq!(lost.len(), 1, "only the damaged record is lost: {lost:?}");
    assert!(lost[0].iter().all(|id| !stored.contains(id)));
    assert_eq!(stored.len(), 50);
}

trait AppendAll {
    fn write_all_at_end(self, bytes: &[u8]);
}

impl AppendAll for std::fs::File {
    fn write_all_at_end(mut self, bytes: &[u8]) {
        use std::io::Write;
        self.write_all(bytes).unwrap();
        self.sync_all().unwrap();
    }
}

/// Files that cannot be a database, a data directory that cannot be one: a clean refusal that
/// names the file (exit code 1, no panic), not a start that would lose or refuse every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_data_directories_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (project, key) = (common::unique("bad"), common::unique("wk"));

    // A DuckDB file of garbage.
    let data = dir.path().join("garbage");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("footfall.duckdb");
    std::fs::write(&db, vec![0x5Au8; 64 * 1024]).unwrap();
    expect_refused(start(dir.path(), "garbage", &data, &project, &key).0, &db);

    // The data directory is a file.
    let data = dir.path().join("a-file");
    std::fs::write(&data, b"not a directory").unwrap();
    expect_refused(start(dir.path(), "file", &data, &project, &key).0, &data);

    // The intake log's directory is a file.
    let data = dir.path().join("intake-file");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("intake"), b"not a directory").unwrap();
    expect_refused(
        start(dir.path(), "intake", &data, &project, &key).0,
        &data.join("intake"),
    );

    // An unwritable data directory (root writes anyway: checked only as another user).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!(
            "\n*** SKIPPED (unwritable data directory): running as root, permissions do not apply ***\n"
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        let data = dir.path().join("read-only");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
        expect_refused(start(dir.path(), "readonly", &data, &project, &key).0, &data);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

/// A zero-length database file (a crash while DuckDB created it): refused by name (DuckDB
/// does not take it for a new database), with the file to remove in the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_length_database_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (project, key) = (common::unique("zero"), common::unique("wk"));
    let data = dir.path().join("zero");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("footfall.duckdb");
    std::fs::write(&db, b"").unwrap();
    let stderr = expect_refused(start(dir.path(), "zero", &data, &project, &key).0, &db);
    assert!(stderr.contains("not a valid DuckDB database file"), "{stderr}");
}

/// A garbage tail on DuckDB's WAL (a crash while DuckDB appended to it): DuckDB replays what
/// checks out; every acknowledged event is there after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_wal_tail_loses_nothing_acked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("wal"), common::unique("wk"));
    let config = common::config(&data.display().to_string(), &project, &key);
    let collector = Process::spawn(dir.path(), "before", &config);
    let http = client();
    let mut acked = Vec::new();
    for n in 0..3 {
        let (ids, body) = batch(&format!("b{n}"), 10, "u1");
        assert_eq!(post(&http, &collector, &key, &body).await.status(), 200);
        acked.extend(ids);
    }
    // The loader moves the log into DuckDB within 1 s: then the events are in its WAL.
    let wal = data.join("footfall.duckdb.wal");
    for _ in 0..100 {
        if segments(&data).is_empty() && wal.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        segments(&data).is_empty() && wal.exists(),
        "loaded into DuckDB's WAL"
    );
    collector.kill9();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&wal)
        .unwrap()
        .write_all_at_end(&[0x77; 777]);
    let collector = expect_serving(start(dir.path(), "after", &data, &project, &key).0);
    assert!(collector.terminate().success());
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    assert!(acked.iter().all(|id| stored.contains(id)), "acked events lost");
    assert_eq!(stored.len(), acked.len());
}

/// Connects, sends `head`, then one byte of `drip` every 100 ms in the background until the
/// server closes the connection (or 30 s pass). Returns the reading half.
async fn slow_client(
    addr: std::net::SocketAddr,
    head: &str,
    drip: &'static [u8],
) -> tokio::net::tcp::OwnedReadHalf {
    use tokio::io::AsyncWriteExt;
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = s.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    tokio::spawn(async move {
        for i in 0..300 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(&[drip[i % drip.len()]]).await.is_err() {
                break;
            }
        }
    });
    read
}

fn basic(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

/// Clients that send slowly forever (headers or body), hold many idle connections, or send more
/// than their Content-Length: each is answered (408 / 400) or cut off within the configured
/// timeouts, and the collector keeps serving everyone else meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_greedy_clients_are_cut_off_and_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("slow"), common::unique("wk"));
    let mut config = common::config(&data.display().to_string(), &project, &key);
    config.limits.body_timeout_secs = 3;
    config.limits.header_timeout_secs = 3;
    let collector = Process::spawn(dir.path(), "slow", &config);
    let addr = collector.addr;
    let auth = basic(&key);

    // A body that trickles in forever: 408 after body_timeout_secs.
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"batch\": ["
    );
    let mut slow_body = slow_client(addr, &head, b" ").await;
    // Headers that trickle in forever: cut off after header_timeout_secs.
    let mut slow_headers =
        slow_client(addr, "POST /v1/batch HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n").await;
    // Many connections that send nothing at all.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // A body larger than its Content-Length announces: the request is what was announced.
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut req = format!(
            "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        )
        .into_bytes();
        req.extend(std::iter::repeat_n(b'[', 2_000_000));
        let _ = s.write_all(&req).await;
        let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(
            closed,
            "the connection is closed after the bytes that are no request"
        );
    }

    // Meanwhile everyone else is served.
    let http = client();
    let (ids, body) = batch("others", 10, "u1");
    assert_eq!(post(&http, &collector, &key, &body).await.status(), 200);
    let (answer, closed) = read_until_closed(&mut slow_body, Duration::from_millis(1)).await;
    assert!(
        answer.is_empty() && !closed,
        "served while the slow client is still being waited for"
    );

    let (answer, closed) = read_until_closed(&mut slow_body, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "slow body: {answer:?}");
    assert!(answer.contains("body_timeout"), "{answer}");
    let _ = closed;
    let (answer, closed) = read_until_closed(&mut slow_headers, Duration::from_secs(10)).await;
    assert!(closed, "slow headers: the connection is cut off (got {answer:?})");
    for s in &mut idle {
        let (_, closed) = read_until_closed(s, Duration::from_secs(10)).await;
        assert!(closed, "an idle connection that sends no request is closed");
    }
    assert_eq!(
        post(&http, &collector, &key, &body).await.status(),
        200,
        "still serving"
    );
    drop(ids);

    // A slow client does not hold up shutdown beyond its timeouts.
    let _slow = slow_client(addr, &head, b" ").await;
    let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut collector = collector;
    // The slow body's 408 comes after 3 s: shutdown waits for that, not longer.
    let status = terminate_within(&mut collector, Duration::from_secs(10), "slow clients").await;
    assert!(status.success(), "{status}");
}

/// Sends SIGTERM to `p` and waits for its exit; panics (`what`) if it takes longer than `limit`.
async fn terminate_within(p: &mut Process, limit: Duration, what: &str) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(p.child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    tokio::time::timeout(limit, async {
        loop {
            if let Some(status) = p.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no exit within {limit:?} of SIGTERM"))
}

/// SIGTERM while clients are sending: every 2xx'd event is stored; a request in flight either
/// finishes with 2xx or fails (503 with Retry-After, or a connection error) — never a 2xx for a
/// lost event — and the collector exits 0 promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing_acked() {
    const CLIENTS: usize = 6;
    const TERM_AFTER_ACKS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("term"), common::unique("wk"));
    let config = common::config(&data.display().to_string(), &project, &key);
    let mut collector = Process::spawn(dir.path(), "term", &config);
    let url = collector.url("/v1/batch");
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (url, key, acked, sent, acks) = (
            url.clone(),
            key.clone(),
            acked.clone(),
            sent.clone(),
            acks.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = client();
            for n in 0..2_000 {
                let (ids, body) = batch(&format!("c{c}-b{n}"), 50, &format!("u{c}"));
                sent.lock().unwrap().extend(ids.iter().cloned());
                match common::send_batch(&http, &url, &key, &body).await {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().extend(ids);
                        acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok(r) if r.status() == 503 => {
                        assert!(r.headers().contains_key("retry-after"), "503 without Retry-After");
                    }
                    Ok(r) => panic!("unexpected status {} during shutdown", r.status()),
                    // The listener is closed: the collector has stopped accepting.
                    Err(_) => return,
                }
            }
            panic!("the collector never stopped");
        }));
    }
    while acks.load(std::sync::atomic::Ordering::SeqCst) < TERM_AFTER_ACKS {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let status = terminate_within(&mut collector, Duration::from_secs(30), "under load").await;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    let missing: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acked events lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(stored.iter().all(|id| sent.contains(id)));
    eprintln!(
        "SIGTERM under load: {} acked, {} stored, {} sent",
        acked.len(),
        stored.len(),
        sent.len()
    );
}

/// SIGTERM the moment the address is announced is a graceful shutdown (exit 0), not death by
/// the signal's default action (the handler used to be installed only later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_start_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("early"), common::unique("wk"));
    let config = common::config(&data.display().to_string(), &project, &key);
    for round in 0..5 {
        let collector = Process::spawn(dir.path(), &format!("early{round}"), &config);
        let status = collector.terminate();
        assert!(status.success(), "round {round}: {status}");
    }
}
