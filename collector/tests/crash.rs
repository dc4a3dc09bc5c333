//! Zero loss under crash, with the real `footfall` binary: a load run is cut by `kill -9`
//! midway; every messageId that received a 2xx is in the store afterwards; after a restart,
//! re-sending everything (acked or not) creates no duplicate; SIGTERM then stops the collector
//! gracefully (exit 0) with every acknowledged message stored.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Env, Process};
use serde_json::{Value, json};
use tokio::sync::Mutex;

const CLIENTS: usize = 8;
const BATCH: usize = 50;
/// Acknowledged batches after which the collector is killed.
const KILL_AFTER_ACKS: usize = 60;
/// Upper bound of batches per client (the run stops by itself).
const MAX_BATCHES_PER_CLIENT: usize = 400;

/// A batch sent: its messageIds and its body.
type Sent = (Vec<String>, Value);

fn batch(client: usize, n: usize) -> Sent {
    let ids: Vec<String> = (0..BATCH).map(|i| format!("c{client}-b{n}-m{i}")).collect();
    let messages: Vec<Value> = ids
        .iter()
        .map(|id| common::track(id, &format!("user-{client}"), "load"))
        .collect();
    (ids, json!({"batch": messages}))
}

async fn kill9_loses_nothing_acked(env: Env) {
    let dir = tempfile::tempdir().unwrap();
    let project = common::unique("crash");
    let key = common::unique("wk");
    let config = common::config(&env.location, &project, &key);
    let collector = Process::spawn(dir.path(), "first", &config);
    let url = collector.url("/v1/batch");

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (url, key, acked, sent, acks, killed) = (
            url.clone(),
            key.clone(),
            acked.clone(),
            sent.clone(),
            acks.clone(),
            killed.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 0..MAX_BATCHES_PER_CLIENT {
                let (ids, body) = batch(c, n);
                sent.lock().await.push((ids.clone(), body.clone()));
                match common::send_batch(&http, &url, &key, &body).await {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().await.extend(ids);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {} before the crash", r.status()),
                    Err(_) if killed.load(Ordering::SeqCst) => return,
                    Err(e) => panic!("request failed before the crash: {e}"),
                }
            }
        }));
    }
    while acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    killed.store(true, Ordering::SeqCst);
    collector.kill9();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().await.clone();
    let sent = sent.lock().await.clone();
    assert!(acked.len() >= KILL_AFTER_ACKS * BATCH);

    // Every acknowledged message survived the crash.
    {
        let store = common::open(&env.location);
        store.migrate().await.unwrap();
        let stored = common::message_ids(&*store, &project).await;
        let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "{} acked messages lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        let all_sent: HashSet<&String> = sent.iter().flat_map(|(ids, _)| ids).collect();
        assert!(stored.iter().all(|id| all_sent.contains(id)));
        eprintln!(
            "crash test ({:?}): {} acked, {} stored before restart",
            env.backend,
            acked.len(),
            stored.len()
        );
    }

    // Restart and re-send everything: no duplicates, all stored.
    let collector = Process::spawn(dir.path(), "second", &config);
    let http = reqwest::Client::new();
    for (_, body) in &sent {
        let r = http
            .post(collector.url("/v1/batch"))
            .basic_auth(&key, Some(""))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let status = collector.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    if std::path::Path::new(&env.location).is_dir() {
        // The embedded store was closed on the way out: its intake log loaded into the database
        // file and checkpointed (the file alone is complete; the next open replays nothing).
        let data = std::path::Path::new(&env.location);
        let left: Vec<_> = std::fs::read_dir(data.join("intake"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "intake log left after a graceful shutdown: {left:?}"
        );
        let wal = std::fs::metadata(data.join("footfall.duckdb.wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        assert_eq!(wal, 0, "DuckDB WAL not checkpointed at shutdown");
    }
    let store = common::open(&env.location);
    let unique: HashSet<&String> = sent.iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(common::event_count(&*store, &project).await, unique.len() as i64);
    let d = store.dialect();
    let distinct = format!(
        "SELECT count(DISTINCT message_id) FROM {} WHERE project_id = {}",
        footfall_engine::store::events_relation(d),
        common::sql_str(d, &project)
    );
    assert_eq!(common::count(&*store, &distinct).await, unique.len() as i64);
}

mod crash {
    use super::*;
    per_backend!(super::kill9_loses_nothing_acked);
}
