//! Two collector processes (the real binary) on one PostgreSQL, and on one ClickHouse, receive
//! the same messages concurrently: exactly one copy of each is stored (read through the
//! dedupe-safe relation, see `engine/src/store/mod.rs`). An embedded DuckDB file belongs to one
//! process, so DuckDB is not part of this test.

mod common;

use std::collections::HashMap;

use common::{Backend, Env, Process};
use serde_json::{Value, json};

const BATCHES: usize = 40;
const BATCH: usize = 50;

async fn same_messages_to_two_processes(env: Env) {
    let dir = tempfile::tempdir().unwrap();
    let project = common::unique("multi");
    let key = common::unique("wk");
    let config = common::config(&env.location, &project, &key);
    let a = Process::spawn(dir.path(), "a", &config);
    let b = Process::spawn(dir.path(), "b", &config);
    let batches: Vec<Value> = (0..BATCHES)
        .map(|n| json!({"batch": (0..BATCH).map(|i| common::track(&format!("b{n}-m{i}"), "u", "dup")).collect::<Vec<_>>()}))
        .collect();
    let mut tasks = Vec::new();
    // Each process gets every batch, from four concurrent clients, in opposite orders.
    for (process, reverse) in [(a.url("/v1/batch"), false), (b.url("/v1/batch"), true)] {
        for lane in 0..4 {
            let (url, key) = (process.clone(), key.clone());
            let mut mine: Vec<Value> = batches.iter().skip(lane).step_by(4).cloned().collect();
            if reverse {
                mine.reverse();
            }
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                for body in mine {
                    let r = common::send_batch(&http, &url, &key, &body).await.unwrap();
                    assert_eq!(r.status(), 200);
                    let answer: Value = r.json().await.unwrap();
                    assert_eq!(answer["accepted"], BATCH);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(a.terminate().success());
    assert!(b.terminate().success());

    let store = common::open(&env.location);
    assert_eq!(
        common::event_count(&*store, &project).await,
        (BATCHES * BATCH) as i64
    );
    let d = store.dialect();
    let sql = format!(
        "SELECT message_id, count(*) FROM {} WHERE project_id = {} GROUP BY message_id",
        footfall_engine::store::events_relation(d),
        common::sql_str(d, &project)
    );
    let copies: HashMap<String, i64> = common::rows(&*store, &sql)
        .await
        .into_iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(copies.len(), BATCHES * BATCH);
    assert!(copies.values().all(|&c| c == 1), "a message was stored twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    common::run_on(Backend::Postgres, same_messages_to_two_processes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse() {
    common::run_on(Backend::ClickHouse, same_messages_to_two_processes).await;
}
