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
//! Within a group, a second event with the same (project, messageId) is reported as a duplicate
//! without reaching the store; the store reports the ones committed earlier. If a group fails
//! with an error other than "unavailable" (e.g. one batch the backend refuses), every request of
//! the group gets a retryable 503 and the following batches are committed one by one for a
//! while, so a poisoned request, when retried, fails alone.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

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

/// Handle to the writer task; cheap to clone. The task ends when every handle is dropped.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

impl Committer {
    /// Spawns the writer task. `queue` bounds the number of waiting batches (the intake limit
    /// bounds it too), `max_events` the size of one group.
    pub fn spawn(store: Arc<dyn Store>, metrics: Arc<Metrics>, queue: usize, max_events: usize) -> Committer {
        let (tx, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(writer(rx, store, metrics, max_events.max(1)));
        Committer { tx }
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
        let results = match write_merged(&*store, &metrics, batches).await {
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

/// Merges the batches (dropping in-group duplicates), writes once, and splits the report.
async fn write_merged(
    store: &dyn Store,
    metrics: &Metrics,
    batches: Vec<WriteBatch>,
) -> Result<Vec<CommitOutcome>, CommitError> {
    let mut outcomes = vec![CommitOutcome::default(); batches.len()];
    let mut merged = WriteBatch::default();
    // origin[i] = (batch, index in that batch) of merged.events[i]
    let mut origin = Vec::new();
    for (b, batch) in batches.into_iter().enumerate() {
        origin.extend((0..batch.events.len()).map(|i| (b, i)));
        merged.events.extend(batch.events);
        merged.links.extend(batch.links);
        merged.dead_letters.extend(batch.dead_letters);
    }
    let duplicate: Vec<bool> = {
        let mut seen = HashSet::with_capacity(merged.events.len());
        merged
            .events
            .iter()
            .map(|e| !seen.insert((e.project_id.as_str(), e.message_id.as_str())))
            .collect()
    };
    if duplicate.contains(&true) {
        let events = std::mem::take(&mut merged.events);
        let mut kept_origin = Vec::with_capacity(origin.len());
        for ((event, (b, i)), dup) in events.into_iter().zip(origin).zip(duplicate) {
            if dup {
                outcomes[b].duplicates.push(i);
            } else {
                merged.events.push(event);
                kept_origin.push((b, i));
            }
        }
        origin = kept_origin;
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
