//! Group commit: one writer task turns the write batches of many concurrent requests into one
//! durable [`Store::write`].
//!
//! Requests send a [`WriteBatch`] through a bounded channel and await the outcome of the commit
//! that contains it, so a 2xx is only ever sent after the data is committed. The writer takes the
//! first waiting batch, adds whatever else is already queued (up to `max_events` events), writes
//! once and answers every request. There is no timer: the batches that queue up while a write is
//! running form the next group, so group size adapts to load and an idle collector commits
//! immediately.
//!
//! Duplicates are the store's to report, both those committed earlier and later copies within
//! the merged group (every backend reports in-batch copies; see `engine/src/store/mod.rs`), so
//! the group is handed over without a dedupe pass of its own; the report is split per request.
//!
//! The outcome of the last commit is kept ([`Committer::write_failure`]): while the store refuses
//! writes as unavailable (a full disk, a lost database), `/ready` says so, for at most
//! [`WRITE_FAILURE_WINDOW`] after the last failure (then a load balancer sends again and the next
//! commit tells), and until a commit succeeds.
//!
//! When a write fails as "unavailable", the batches queued behind it are answered with the same
//! error at once rather than written as the next group: while the database hangs, each write
//! waits for the store's timeout (`timeout=`, see `footfall_engine::store::Timeouts`), and a
//! request must not wait for two of them. Every request thus gets its answer (503 +
//! Retry-After) within about one store timeout.
//!
//! If a group fails with an error other than "unavailable" (e.g. one batch the backend refuses),
//! every request of the group gets a retryable 503 and the following batches are committed one
//! by one for a while, so a poisoned request, when retried, fails alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use footfall_engine::store::{Store, StoreError, WriteBatch, WriteReport};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// Why a commit failed (cloneable: one failed group answers many requests).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Failed(String),
    /// The group this batch was committed with failed (possibly because of another batch);
    /// retrying is safe and will commit it alone.
    #[error("the commit group failed ({0}); retry")]
    GroupFailed(String),
    #[error("the commit writer has stopped")]
    Stopped,
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => CommitError::Unavailable(m),
            other => CommitError::Failed(other.to_string()),
        }
    }
}

/// What one request's commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Indexes into the request's `WriteBatch::events` that were already stored.
    pub duplicates: Vec<usize>,
}

struct Job {
    batch: WriteBatch,
    reply: oneshot::Sender<Result<CommitOutcome, CommitError>>,
}

/// How long after a commit failed as "storage unavailable" `/ready` reports it (unless a commit
/// succeeds first): 10 s.
pub const WRITE_FAILURE_WINDOW: Duration = Duration::from_secs(10);

/// The last commit that failed as "storage unavailable" (when and why), cleared by a success.
#[derive(Default)]
struct LastFailure(Mutex<Option<(Instant, String)>>);

impl LastFailure {
    fn record<T>(&self, result: &Result<T, CommitError>) {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_) => *last = None,
            Err(CommitError::Unavailable(m)) => *last = Some((Instant::now(), m.clone())),
            Err(_) => {}
        }
    }

    fn current(&self) -> Option<String> {
        let last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < WRITE_FAILURE_WINDOW)
            .map(|(_, m)| m.clone())
    }
}

/// Handle to the writer task; cheap to clone. The task ends when every handle is dropped.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
    last_failure: Arc<LastFailure>,
}

impl Committer {
    /// Spawns the writer task. `queue` bounds the number of waiting batches (the intake limit
    /// bounds it too), `max_events` the size of one group.
    pub fn spawn(store: Arc<dyn Store>, metrics: Arc<Metrics>, queue: usize, max_events: usize) -> Committer {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let last_failure = Arc::new(LastFailure::default());
        tokio::spawn(writer(
            rx,
            store,
            metrics,
            max_events.max(1),
            last_failure.clone(),
        ));
        Committer { tx, last_failure }
    }

    /// Why the store refused the last commit as unavailable, if it did within
    /// [`WRITE_FAILURE_WINDOW`] and no commit succeeded since.
    pub fn write_failure(&self) -> Option<String> {
        self.last_failure.current()
    }

    /// Commits `batch` (in a group with others) and waits until it is durable.
    pub async fn commit(&self, batch: WriteBatch) -> Result<CommitOutcome, CommitError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { batch, reply })
            .await
            .map_err(|_| CommitError::Stopped)?;
        rx.await.map_err(|_| CommitError::Stopped)?
    }

    /// Batches waiting for the writer (not counting the group being written).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

fn job_size(b: &WriteBatch) -> usize {
    b.events.len() + b.links.len() + b.dead_letters.len()
}

/// After a group fails, this many following batches are committed one by one, so that a batch
/// the backend refuses (retried by its client) fails alone.
const ISOLATE_AFTER_FAILURE: usize = 256;

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    max_events: usize,
    last_failure: Arc<LastFailure>,
) {
    let mut isolate = 0usize;
    while let Some(first) = rx.recv().await {
        let mut size = job_size(&first.batch);
        let mut jobs = vec![first];
        while size < max_events && isolate == 0 {
            match rx.try_recv() {
                Ok(job) => {
                    size += job_size(&job.batch);
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        isolate = isolate.saturating_sub(1);
        let group = jobs.len();
        let batches: Vec<WriteBatch> = jobs.iter_mut().map(|j| std::mem::take(&mut j.batch)).collect();
        let written = write_merged(&*store, &metrics, batches).await;
        last_failure.record(&written);
        if let Err(e @ CommitError::Unavailable(_)) = &written {
            // The batches that queued up behind the failed write have waited as long as it did
            // (up to the store's timeout when the database hangs): they get the same answer now
            // instead of a second wait, so every answer comes within about one store timeout.
            while let Ok(job) = rx.try_recv() {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
        let results = match written {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(CommitError::Failed(e)) if group > 1 => {
                tracing::warn!(error = %e, group, "group commit failed; committing the next batches one by one");
                isolate = ISOLATE_AFTER_FAILURE;
                vec![Err(CommitError::GroupFailed(e)); group]
            }
            Err(e) => vec![Err(e); group],
        };
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// Merges the batches, writes once, and splits the store's report (which includes the copies
/// of a message within the group) per batch.
async fn write_merged(
    store: &dyn Store,
    metrics: &Metrics,
    batches: Vec<WriteBatch>,
) -> Result<Vec<CommitOutcome>, CommitError> {
    let mut outcomes = vec![CommitOutcome::default(); batches.len()];
    let mut merged = WriteBatch {
        events: Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum()),
        ..WriteBatch::default()
    };
    // origin[i] = (batch, index in that batch) of merged.events[i]
    let mut origin = Vec::with_capacity(merged.events.capacity());
    for (b, batch) in batches.into_iter().enumerate() {
        origin.extend((0..batch.events.len()).map(|i| (b, i)));
        merged.events.extend(batch.events);
        merged.links.extend(batch.links);
        merged.dead_letters.extend(batch.dead_letters);
    }
    if job_size(&merged) == 0 {
        return Ok(outcomes);
    }
    let events = merged.events.len();
    let started = Instant::now();
    let result = store.write(merged).await;
    metrics.observe_commit(started.elapsed().as_secs_f64(), events, result.is_ok());
    let report: WriteReport = result?;
    for d in report.duplicates {
        if let Some(&(b, i)) = origin.get(d) {
            outcomes[b].duplicates.push(i);
        }
    }
    for o in &mut outcomes {
        o.duplicates.sort_unstable();
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use footfall::message::Message;
    use footfall_engine::store::{DuckDbStore, EventRow, open_store};

    use super::*;
    use crate::ingest::enrich::UaInfo;
    use crate::ingest::row::build_row;
    use crate::ingest::validate::Times;

    /// The golden track message as the pipeline stores it, under another message id.
    fn row(message_id: &str) -> EventRow {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/track.json");
        let mut m: Message = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        m.message_id = message_id.into();
        let times = Times {
            ts: 1,
            sent_at: None,
            original_timestamp: None,
        };
        build_row("p", m, times, 1, &UaInfo::default(), None)
    }

    fn batch(ids: &[&str]) -> WriteBatch {
        WriteBatch {
            events: ids.iter().map(|id| row(id)).collect(),
            ..WriteBatch::default()
        }
    }

    fn dups(outcomes: Vec<CommitOutcome>) -> Vec<Vec<usize>> {
        outcomes.into_iter().map(|o| o.duplicates).collect()
    }

    async fn stored(store: &dyn Store) -> Vec<serde_json::Value> {
        let r = store
            .query("SELECT message_id FROM events ORDER BY message_id")
            .await
            .unwrap();
        r.rows.into_iter().map(|mut row| row.remove(0)).collect()
    }

    /// The group is deduplicated by the store: copies within one request, across the requests of
    /// one group, across groups, and after a restart each reach the request that sent them.
    #[tokio::test]
    async fn duplicates_are_reported_to_their_request() {
        let metrics = Metrics::new();
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path()).unwrap();
        store.migrate().await.unwrap();
        let group = vec![
            batch(&["m1", "m2", "m1"]),
            batch(&["m3", "m2"]),
            batch(&["m1", "m4"]),
        ];
        let outcomes = write_merged(&store, &metrics, group).await.unwrap();
        assert_eq!(dups(outcomes), vec![vec![2], vec![1], vec![0]]);
        let again = vec![batch(&["m5", "m4"]), batch(&["m2", "m5"])];
        let outcomes = write_merged(&store, &metrics, again).await.unwrap();
        assert_eq!(dups(outcomes), vec![vec![1], vec![0, 1]], "across groups");
        drop(store);

        let store = open_store(&dir.path().display().to_string()).unwrap();
        let after_restart = vec![batch(&["m6", "m3"]), batch(&["m1", "m6", "m7"])];
        let outcomes = write_merged(&*store, &metrics, after_restart).await.unwrap();
        assert_eq!(dups(outcomes), vec![vec![1], vec![0, 1]], "across restarts");
        let ids: Vec<String> = (1..=7).map(|i| format!("m{i}")).collect();
        assert_eq!(
            stored(&*store).await,
            ids.iter().map(|s| json(s)).collect::<Vec<_>>()
        );
    }

    /// `/ready`'s view of the last commit: an outage is reported until a commit succeeds or the
    /// window passes; a refused batch (not an outage) changes nothing.
    #[test]
    fn the_last_write_failure_is_reported_for_a_while() {
        let last = LastFailure::default();
        assert_eq!(last.current(), None);
        last.record::<()>(&Err(CommitError::Unavailable("disk full".into())));
        assert_eq!(last.current().as_deref(), Some("disk full"));
        last.record::<()>(&Err(CommitError::Failed("bad batch".into())));
        assert_eq!(last.current().as_deref(), Some("disk full"));
        last.record(&Ok(()));
        assert_eq!(last.current(), None);
        last.record::<()>(&Err(CommitError::Unavailable("disk full".into())));
        last.0.lock().unwrap().as_mut().unwrap().0 -= WRITE_FAILURE_WINDOW;
        assert_eq!(last.current(), None, "reported no longer than the window");
    }

    /// A write that fails as unavailable answers the batches that queued up behind it as well,
    /// without writing them (they waited as long as it did); the next batch is written again.
    #[tokio::test]
    async fn batches_queued_behind_an_unavailable_write_share_its_answer() {
        use crate::testing::{ControlledStore, WriteMode};
        let inner: Arc<dyn Store> = Arc::new(DuckDbStore::open_in_memory().unwrap());
        inner.migrate().await.unwrap();
        let store = ControlledStore::new(inner);
        store.set_mode(WriteMode::Unavailable);
        store.hold();
        let committer = Committer::spawn(store.clone(), Arc::new(Metrics::new()), 64, 250);
        let send = |id: &str| {
            let (committer, id) = (committer.clone(), id.to_string());
            tokio::spawn(async move { committer.commit(batch(&[&id])).await })
        };
        let first = send("a");
        store.wait_writes_started(1).await;
        let queued: Vec<_> = ["q1", "q2", "q3"].into_iter().map(send).collect();
        while committer.queued() < 3 {
            tokio::task::yield_now().await;
        }
        store.release();
        assert!(matches!(first.await.unwrap(), Err(CommitError::Unavailable(_))));
        for q in queued {
            assert!(matches!(q.await.unwrap(), Err(CommitError::Unavailable(_))));
        }
        assert_eq!(
            store.writes_started(),
            1,
            "the queued batches were answered, not written"
        );
        store.set_mode(WriteMode::Pass);
        committer.commit(batch(&["b"])).await.unwrap();
        assert_eq!(store.writes_started(), 2);
        assert_eq!(stored(&*store).await, vec![json("b")]);
    }

    fn json(s: &str) -> serde_json::Value {
        serde_json::Value::String(s.into())
    }

    /// Concurrent requests through the committer: every copy but one is reported, whichever
    /// group the copies land in.
    #[tokio::test]
    async fn concurrent_requests_store_one_copy() {
        let store: Arc<dyn Store> = Arc::new(DuckDbStore::open_in_memory().unwrap());
        store.migrate().await.unwrap();
        let committer = Committer::spawn(store.clone(), Arc::new(Metrics::new()), 64, 250);
        let mut tasks = Vec::new();
        for r in 0..40 {
            let committer = committer.clone();
            // Requests r and r + 20 send the same ten messages.
            let ids: Vec<String> = (0..10).map(|i| format!("m{}-{i}", r % 20)).collect();
            tasks.push(tokio::spawn(async move {
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                committer.commit(batch(&refs)).await.unwrap().duplicates.len()
            }));
        }
        let mut duplicates = 0;
        for t in tasks {
            duplicates += t.await.unwrap();
        }
        assert_eq!(duplicates, 200);
        assert_eq!(stored(&*store).await.len(), 200);
    }
}
