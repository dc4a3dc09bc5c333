//! A flood of connections against the real `footfall` binary with a small open-files limit
//! (`RLIMIT_NOFILE` set in the child before exec): the collector caps its connections
//! (`limits.max_connections`, by default derived from the limit) so the store keeps the file
//! descriptors it needs. Every batch is acknowledged (possibly after waiting in the listen
//! backlog for idle connections to time out), every acknowledged event is stored, and nothing
//! fails with "Too many open files". Connections in their TLS handshake, and those of the
//! stand-in served while the database is unreachable at start, count against the cap too.
//!
//! `FOOTFALL_TEST_CONNECTION_CAP=off` runs the same test with the cap out of the way
//! (`max_connections: 1000000`), which shows what it prevents: the test then fails (accept
//! fails with `EMFILE`, the intake log cannot open its next segment and batches get 503).

mod common;

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Process, read_until_closed};
use tokio::net::TcpStream;

/// The child's open-files limit: soft (raised by the collector at start) and hard.
const NOFILE_SOFT: u64 = 96;
const NOFILE_HARD: u64 = 128;
/// Idle connections the flood keeps open (or waiting in the backlog): twice the hard limit.
const FLOOD: usize = 256;
/// How long the flood lasts.
const FLOOD_FOR: Duration = Duration::from_secs(6);
/// Longest any request may take: the flood's connections ahead of it in the backlog time out
/// `FLOOD / cap` rounds of the header timeout later.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn cap_off() -> bool {
    std::env::var("FOOTFALL_TEST_CONNECTION_CAP").is_ok_and(|v| v == "off")
}

/// Sets the child's `RLIMIT_NOFILE` before it execs.
fn limit_open_files(cmd: &mut Command, soft: u64, hard: u64) {
    // SAFETY: setrlimit(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Keeps `n` idle connections to `addr` open (reopening those the collector closes) until
/// `stop`; returns how many it opened in all.
async fn flood(addr: std::net::SocketAddr, n: usize, stop: tokio::time::Instant) -> usize {
    let mut open: Vec<TcpStream> = Vec::new();
    let mut opened = 0;
    while tokio::time::Instant::now() < stop {
        let mut buf = [0u8; 64];
        open.retain(|s| match s.try_read(&mut buf) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        });
        while open.len() < n {
            match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    open.push(s);
                    opened += 1;
                }
                // The backlog is full (SYNs dropped): try again at the next round.
                _ => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    opened
}

/// Sends batches on `http` until `stop`; every one must be acknowledged. Returns the ids.
async fn send_batches(
    http: reqwest::Client,
    url: String,
    key: String,
    prefix: &'static str,
    stop: tokio::time::Instant,
    failures: Arc<Mutex<Vec<String>>>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while tokio::time::Instant::now() < stop {
        n += 1;
        let (ids, body) = common::batch(&format!("{prefix}{n}"), 20, "u1", "flood");
        match common::send_batch(&http, &url, &key, &body).await {
            Ok(r) if r.status() == 200 => acked.extend(ids),
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                failures
                    .lock()
                    .unwrap()
                    .push(format!("{prefix} batch {n}: {status} {text}"));
            }
            Err(e) => failures.lock().unwrap().push(format!("{prefix} batch {n}: {e}")),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    acked
}

/// More idle connections than the open-files limit allows, kept up for seconds: a client on a
/// connection opened before the flood and clients opening new ones during it are all
/// acknowledged, every acknowledged event is stored, the store answers reads afterwards, the
/// cap shows in `/metrics`, and "Too many open files" appears nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_is_capped_and_batches_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (project, key) = (common::unique("flood"), common::unique("wk"));
    let mut config = common::config(&data.display().to_string(), &project, &key);
    config.limits.header_timeout_secs = 2;
    if cap_off() {
        config.limits.max_connections = Some(1_000_000);
    }
    let collector = Process::spawn_with(dir.path(), "flood", &config, |cmd| {
        limit_open_files(cmd, NOFILE_SOFT, NOFILE_HARD);
        cmd.env("RUST_LOG", "info");
    });
    let addr = collector.addr;
    let url = collector.url("/v1/batch");
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();

    // A client whose connection was accepted before the flood (kept alive between batches).
    let kept = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let (ids, body) = common::batch("warmup", 5, "u1", "flood");
    let first = common::send_batch(&kept, &url, &key, &body).await.unwrap();
    assert_eq!(first.status(), 200);
    let mut acked: HashSet<String> = ids.into_iter().collect();

    let stop = tokio::time::Instant::now() + FLOOD_FOR;
    let flooding = tokio::spawn(flood(addr, FLOOD, stop));
    // Let the flood fill the collector's connections (or, without the cap, its descriptors).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept_alive = tokio::spawn(send_batches(
        kept,
        url.clone(),
        key.clone(),
        "kept",
        stop,
        failures.clone(),
    ));
    // Clients that connect anew for each batch: they wait in the listen backlog.
    let fresh = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let fresh = tokio::spawn(send_batches(
        fresh,
        url.clone(),
        key.clone(),
        "fresh",
        stop,
        failures.clone(),
    ));
    let opened = flooding.await.unwrap();
    acked.extend(kept_alive.await.unwrap());
    acked.extend(fresh.await.unwrap());
    eprintln!(
        "flood: {opened} connections opened; {} events acknowledged",
        acked.len()
    );

    let failures = failures.lock().unwrap().clone();
    let log = std::fs::read_to_string(dir.path().join("flood.log")).unwrap();
    assert!(
        failures.is_empty(),
        "batches not acknowledged during the flood: {failures:#?}\nlog tail:\n{}",
        tail(&log)
    );
    assert!(
        opened > FLOOD,
        "the flood outlived the header timeout: connections were closed and reopened ({opened})"
    );
    assert!(acked.len() > 5 + 2 * 20, "batches went through during the flood");

    // The store works afterwards: a read sees every acknowledged event.
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let export = http
        .get(collector.url("/v1/admin/users/u1/export"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let exported: HashSet<String> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(exported, acked, "export after the flood");

    // The cap, derived from the raised limit (128 - 64 reserved), showed in the metrics.
    let metrics = collector.url("/metrics");
    if !cap_off() {
        assert_eq!(common::metric(&metrics, "footfall_connections_max").await, 64.0);
    }
    assert!(common::metric(&metrics, "footfall_connections_limit_reached_total").await >= 1.0);
    assert!(
        common::metric(&metrics, "footfall_connections_open").await < 10.0,
        "the flood's connections are no longer counted"
    );

    let status = collector.terminate();
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(dir.path().join("flood.log")).unwrap();
    assert!(
        log.contains("raised the soft open-files limit"),
        "the soft limit is raised to the hard one at start:\n{}",
        tail(&log)
    );
    assert!(
        !log.contains("Too many open files"),
        "descriptors ran out:\n{}",
        tail(&log)
    );
    let store = common::open(&data.display().to_string());
    let stored = common::message_ids(&*store, &project).await;
    assert_eq!(stored, acked, "every acknowledged event is stored, once");
}

/// The log's last lines whose text matters (warnings, errors).
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("INFO"))
        .collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Opens `cap` connections to `addr` that send nothing, then one more that sends `request`:
/// it must not be served (nothing read, not closed) while the silent ones are open, and must be
/// once the header timeout cut them off. Returns what it then read.
async fn served_only_after_the_silent_ones(addr: std::net::SocketAddr, cap: usize, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut silent = Vec::new();
    for _ in 0..cap {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    extra.write_all(request).await.unwrap();
    let (early, closed) = read_until_closed(&mut extra, Duration::from_millis(1500)).await;
    assert!(
        early.is_empty() && !closed,
        "served while {cap} silent connections held the cap: {early:?}"
    );
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(15)).await;
    assert!(
        closed,
        "served once the silent ones were cut off (read {answer:?})"
    );
    for s in &mut silent {
        assert!(
            read_until_closed(s, Duration::from_secs(1)).await.1,
            "cut off by the header timeout"
        );
    }
    answer
}

/// HTTPS: connections still in their TLS handshake count against the cap, so with
/// `max_connections: 3` taken by clients that never say hello, a fourth connection is not served
/// (its plain HTTP would be refused at once) until those are cut off by the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_in_progress_count_against_the_cap() {
    use footfall_collector::config::TlsConfig;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let (project, key) = (common::unique("tls"), common::unique("wk"));
    let mut config = common::config(&data.display().to_string(), &project, &key);
    config.tls = Some(TlsConfig::new(cert_file, key_file));
    config.limits.header_timeout_secs = 3;
    config.limits.max_connections = Some(3);
    let collector = Process::spawn(dir.path(), "tls", &config);
    served_only_after_the_silent_ones(collector.addr, 3, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(collector.terminate().success());
}

/// The stand-in served while the database is unreachable at start counts too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_waiting_for_the_database_is_capped_too() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the database refuses connections, the collector waits for it.
    let mut config = common::config("postgres://footfall@127.0.0.1:1/footfall", "p", "wk");
    config.limits.header_timeout_secs = 3;
    config.limits.max_connections = Some(2);
    let collector = Process::spawn(dir.path(), "standin", &config);
    let answer =
        served_only_after_the_silent_ones(collector.addr, 2, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(collector.terminate().success());
}
