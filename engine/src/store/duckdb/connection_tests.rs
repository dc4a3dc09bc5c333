//! Tests of `connection.rs`: the reopen after a fatal error, its backoff, and the calls while
//! the database is closed.

use super::*;
use crate::store::duckdb::{DB_FILE, DuckDbStore};
use crate::store::{Store, WriteBatch};

/// Events `m{from}`… of project `p` (the intake log tests' rows).
fn events(from: usize, n: usize) -> WriteBatch {
    WriteBatch {
        events: (from..from + n)
            .map(crate::store::duckdb::intake::tests::event)
            .collect(),
        ..WriteBatch::default()
    }
}

async fn count(store: &DuckDbStore) -> Result<i64, StoreError> {
    let r = store.query("SELECT count(*) FROM events").await?;
    Ok(r.rows[0][0].as_i64().unwrap())
}

/// A reopen whose open fails (here: the file is not a database for a while; in production a
/// full disk or another process holding the file) leaves no connection that answers as if
/// it were the database: every call fails as unavailable (a 503) while writes are still
/// logged, and a later call opens the file again and finds everything.
#[tokio::test]
async fn a_failed_reopen_fails_calls_as_unavailable_until_a_retry_opens_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path()).unwrap();
    store.migrate().await.unwrap();
    store.write(events(0, 3)).await.unwrap();
    assert_eq!(count(&store).await.unwrap(), 3);
    let inner = store.inner.clone();
    inner
        .with_settled(|w, _| w.conn.execute_batch("CHECKPOINT").map_err(err))
        .unwrap();
    // The file goes away while the instance is open, and something else is in its place.
    let file = dir.path().canonicalize().unwrap().join(DB_FILE);
    let aside = file.with_extension("aside");
    std::fs::rename(&file, &aside).unwrap();
    std::fs::write(&file, vec![b'x'; 8192]).unwrap();
    {
        let mut w = inner.writer.lock().unwrap();
        let r = inner.reopen(&mut w, &file);
        assert!(
            matches!(r, Err(NotReopened::Failed(_))),
            "the open must fail here: {r:?}"
        );
    }
    for (what, r) in [
        ("ping", store.ping().await.map(|()| 0)),
        ("query", count(&store).await),
        ("audit", store.list_audit(None, 10).await.map(|a| a.len() as i64)),
    ] {
        assert!(
            matches!(&r, Err(StoreError::Unavailable(_))),
            "{what} while the database is closed: {r:?}"
        );
    }
    // Writes are still logged, durably: acknowledged.
    assert_eq!(store.write(events(3, 2)).await.unwrap().inserted, 2);
    assert!(inner.reopens.load(std::sync::atomic::Ordering::Relaxed) == 0);
    // The file is back: the next calls open it again (after the retry interval).
    std::fs::remove_file(&file).unwrap();
    std::fs::rename(&aside, &file).unwrap();
    let started = std::time::Instant::now();
    let n = loop {
        match count(&store).await {
            Ok(n) => break n,
            Err(e) => {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(10),
                    "never reopened: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(n, 5, "every acknowledged write after the reopen");
    assert_eq!(
        store.write(events(0, 5)).await.unwrap().inserted,
        0,
        "dedupe kept"
    );
    store.ping().await.unwrap();
}

/// The reopen runs with the writer and the intake log held: waiting there for a long query
/// or a backup's export would stall every write behind it. It takes every connection of the
/// instance without waiting, or leaves the instance alone (the next failing call retries).
#[test]
fn a_reopen_never_waits_for_a_connection_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path()).unwrap();
    let inner = store.inner.clone();
    let path = inner.path.clone().unwrap();
    let reopen = |inner: &std::sync::Arc<Inner>| {
        let (inner, path) = (inner.clone(), path.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut w = inner.writer.lock().unwrap();
            let _ = tx.send(inner.reopen(&mut w, &path).map_err(|e| format!("{e:?}")));
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the reopen waited for a connection in use (with the writer and the log held)")
    };
    {
        let _query = inner.readers[2].lock().unwrap();
        let r = reopen(&inner);
        assert!(
            matches!(&r, Err(e) if e.contains("Busy")),
            "a query in progress: {r:?}"
        );
    }
    {
        let _backup = inner.instance.read().unwrap();
        let r = reopen(&inner);
        assert!(
            matches!(&r, Err(e) if e.contains("Busy")),
            "a backup in progress: {r:?}"
        );
    }
    assert!(
        !inner.is_closed(),
        "nothing was swapped: the instance is as it was"
    );
    assert!(reopen(&inner).is_ok(), "nothing in use: reopened");
    for r in &inner.readers {
        r.lock()
            .unwrap()
            .execute_batch("SELECT count(*) FROM intake_state")
            .unwrap();
    }
}

#[test]
fn reopens_back_off_while_they_follow_each_other() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut b = Backoff::default();
    assert!(b.ready(t0), "the first reopen runs at once");
    b.attempted(t0);
    assert!(!b.ready(ms(499)) && b.ready(ms(500)));
    b.attempted(ms(500));
    assert!(
        !b.ready(ms(1499)) && b.ready(ms(1500)),
        "1 s after a quick second"
    );
    let mut at = 1500;
    for _ in 0..10 {
        b.attempted(ms(at));
        at += REOPEN_RETRY_MAX.as_millis() as u64;
    }
    assert!(
        b.ready(ms(at)) && !b.ready(ms(at - 1)),
        "at most REOPEN_RETRY_MAX"
    );
    b.attempted(ms(at + 21_000));
    assert!(b.ready(ms(at + 21_500)), "after a calm spell: REOPEN_RETRY again");
}

#[test]
fn fatal_errors_are_told_apart() {
    let fatal = StoreError::Unavailable(
        "duckdb: FATAL Error: Transaction COMMIT succeeded and is durable, but the autocheckpoint failed. \
         Reopen the database instance to recover."
            .into(),
    );
    assert!(is_fatal(&fatal));
    let invalidated = StoreError::Unavailable(
        "duckdb: FATAL Error: Failed: database has been invalidated because of a previous fatal error".into(),
    );
    assert!(is_fatal(&invalidated));
    assert!(!is_fatal(&StoreError::Unavailable(
        "duckdb: IO Error: Could not write file \"x.wal\": No space left on device".into()
    )));
    assert!(!is_fatal(&StoreError::Query(
        "duckdb: FATAL Error in a string literal".into()
    )));
}
