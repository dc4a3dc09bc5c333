//! Write throughput per backend (a report, not a test: no timed assertions).
//!
//! ```sh
//! eval "$(scripts/services.sh start)"   # optional: adds PostgreSQL and ClickHouse
//! cargo test --release -p footfall-engine --test store_throughput -- --ignored --nocapture
//! ```
//!
//! Writes batches of `FOOTFALL_BENCH_BATCH` (default 5,000) realistic events, as the collector's
//! group commit does, `FOOTFALL_BENCH_BATCHES` times (default 100) into a fresh store, then the
//! same batches again (all duplicates). 500,000 events of ~600 bytes pass the store's 256 MB
//! checkpoint threshold, so a checkpoint's cost is included. The peer in the same run is the
//! ceiling of the embedded engine: DuckDB's Appender into a table without any key (no dedupe, no
//! duplicate report), with the same checkpoint threshold.

mod store_support;

use std::time::Instant;

use footfall_engine::store::{EventRow, WriteBatch};
use store_support::{Backend, Kind, event};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic event: UUID-like message id, identity, UA fields, ~300 bytes of JSON.
fn realistic(i: usize) -> EventRow {
    let mut e = event(
        "bench",
        &format!(
            "{:08x}-{:04x}-4{:03x}-a000-{:012x}",
            i * 2654435761 % (1 << 32),
            i % 65536,
            i % 4096,
            i
        ),
        1_700_000_000_000 + i as i64,
    );
    e.event = ["page_view", "Signed Up", "Button Clicked", "Order Completed"][i % 4].into();
    e.anonymous_id = Some(format!("anon-{:08}", i / 7));
    e.user_id = i.is_multiple_of(3).then(|| format!("user-{:06}", i / 21));
    e.session_id = Some(format!("sess-{:08}", i / 20));
    e.browser = Some("Chrome".into());
    e.os = Some("Mac OS X".into());
    e.device_type = Some("desktop".into());
    e.ip = Some("203.0.113.0".into());
    e.sent_at = Some(e.ts + 40);
    e.original_timestamp = Some("2023-11-14T22:13:20.000Z".into());
    e.properties = format!(
        r#"{{"path":"/pricing","plan":"pro","price":{},"referrer":"https://example.com/blog/post-{}"}}"#,
        i % 100,
        i % 50
    );
    e.context = r#"{"library":{"name":"footfall","version":"0.1.0"},"locale":"en-US","page":{"url":"https://app.example.com/pricing","title":"Pricing"},"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"}"#.into();
    e
}

fn rate(rows: usize, secs: f64) -> String {
    format!("{:>10.0}", rows as f64 / secs)
}

/// The ceiling: DuckDB's Appender into a key-less table, one transaction per batch, with the
/// store's checkpoint threshold.
fn appender_ceiling(batches: &[Vec<EventRow>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let conn = duckdb::Connection::open(dir.path().join("peer.duckdb")).unwrap();
    conn.execute_batch(
        "SET checkpoint_threshold = '256MB'; CREATE TABLE events (project_id TEXT, message_id TEXT, type TEXT, event TEXT, ts BIGINT, received_at BIGINT, \
         sent_at BIGINT, original_timestamp TEXT, anonymous_id TEXT, user_id TEXT, session_id TEXT, group_id TEXT, \
         browser TEXT, os TEXT, device_type TEXT, is_bot BOOLEAN, ip TEXT, properties TEXT, traits TEXT, context TEXT)",
    )
    .unwrap();
    let mut conn = conn;
    let start = Instant::now();
    for batch in batches {
        let tx = conn.transaction().unwrap();
        {
            let mut app = tx.appender("events").unwrap();
            for e in batch {
                app.append_row(duckdb::params![
                    e.project_id,
                    e.message_id,
                    e.kind,
                    e.event,
                    e.ts,
                    e.received_at,
                    e.sent_at,
                    e.original_timestamp,
                    e.anonymous_id,
                    e.user_id,
                    e.session_id,
                    e.group_id,
                    e.browser,
                    e.os,
                    e.device_type,
                    e.is_bot,
                    e.ip,
                    e.properties,
                    e.traits,
                    e.context
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput report: cargo test --release -p footfall-engine --test store_throughput -- --ignored --nocapture"]
async fn write_throughput_per_backend() {
    let batch_size = env_usize("FOOTFALL_BENCH_BATCH", 5_000);
    let n_batches = env_usize("FOOTFALL_BENCH_BATCHES", 100);
    let batches: Vec<Vec<EventRow>> = (0..n_batches)
        .map(|b| (0..batch_size).map(|i| realistic(b * batch_size + i)).collect())
        .collect();
    let total = batch_size * n_batches;
    println!(
        "\nstore write throughput: {n_batches} batches x {batch_size} events (rows/s, higher is better)"
    );
    println!("{:<34} {:>10} {:>10} {:>8}", "backend", "new", "dups", "vs peer");
    let ceiling = total as f64 / appender_ceiling(&batches);
    println!(
        "{:<34} {:>10.0} {:>10} {:>8}",
        "peer: DuckDB Appender, no key", ceiling, "-", "1.00"
    );
    for kind in [Kind::DuckDb, Kind::Postgres, Kind::ClickHouse] {
        let Some(b) = Backend::start(kind, "throughput").await else {
            continue;
        };
        // Owned batches are built before the clock starts (the collector hands over its own).
        let owned = || {
            batches
                .iter()
                .map(|b| WriteBatch {
                    events: b.clone(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        let round = owned();
        let start = Instant::now();
        for batch in round {
            let r = b.store.write(batch).await.unwrap();
            assert_eq!(r.inserted, batch_size);
        }
        let fresh = start.elapsed().as_secs_f64();
        let round = owned();
        let start = Instant::now();
        for batch in round {
            let r = b.store.write(batch).await.unwrap();
            assert_eq!(r.duplicates.len(), batch_size);
        }
        let dups = start.elapsed().as_secs_f64();
        println!(
            "{:<34} {} {} {:>8.2}",
            format!("{kind:?} Store::write"),
            rate(total, fresh),
            rate(total, dups),
            total as f64 / fresh / ceiling
        );
        b.cleanup().await;
    }
}
