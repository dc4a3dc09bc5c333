//! The write path (see "Write path" in the module doc): one transaction of column-array
//! inserts, retried on a deadlock or serialization failure.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{PostgresStore, pg_err, pool_err};
use crate::store::common::{self, EVENT_COLUMNS};
use crate::store::{EventRow, IdentityLink, StoreError, WriteBatch, WriteReport, sql};

/// Attempts of a write that hits a deadlock or serialization failure.
const WRITE_ATTEMPTS: usize = 5;

fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

impl PostgresStore {
    /// [`Store::write`](crate::store::Store::write), without the timeout around it.
    pub(super) async fn write_batch(&self, batch: &WriteBatch) -> Result<WriteReport, StoreError> {
        let (firsts, mut duplicates) = common::split_in_batch_duplicates(&batch.events);
        let mut order = firsts.clone();
        order.sort_by(|&a, &b| {
            let (a, b) = (&batch.events[a], &batch.events[b]);
            (&a.project_id, &a.message_id).cmp(&(&b.project_id, &b.message_id))
        });
        let links = common::reduce_links(&batch.links);
        if order.is_empty() && links.is_empty() && batch.dead_letters.is_empty() {
            return Ok(WriteReport {
                inserted: 0,
                duplicates,
            });
        }
        let mut attempt = 0;
        let inserted = loop {
            attempt += 1;
            match self.write_once(batch, &order, &links).await {
                Ok(keys) => break keys,
                Err(WriteFailure::Pg(e)) if is_retryable(&e) && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!("postgres: write attempt {attempt} failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                }
                Err(WriteFailure::Pg(e)) => return Err(pg_err(e)),
                Err(WriteFailure::Other(e)) => return Err(e),
            }
        };
        if inserted.len() < firsts.len() {
            let keys: std::collections::HashSet<(String, String)> = inserted.iter().cloned().collect();
            duplicates.extend(firsts.iter().copied().filter(|&i| {
                let e = &batch.events[i];
                !keys.contains(&(e.project_id.clone(), e.message_id.clone()))
            }));
            duplicates.sort_unstable();
        }
        Ok(WriteReport {
            inserted: inserted.len(),
            duplicates,
        })
    }

    async fn write_once(
        &self,
        batch: &WriteBatch,
        order: &[usize],
        links: &[IdentityLink],
    ) -> Result<Vec<(String, String)>, WriteFailure> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| WriteFailure::Other(pool_err(e)))?;
        let tx = client.transaction().await?;
        let mut inserted = Vec::new();
        if !order.is_empty() {
            let ev = |i: &usize| &batch.events[*i];
            let text = |f: fn(&EventRow) -> &str| order.iter().map(|i| f(ev(i))).collect::<Vec<&str>>();
            let opt = |f: fn(&EventRow) -> Option<&str>| {
                order.iter().map(|i| f(ev(i))).collect::<Vec<Option<&str>>>()
            };
            let (project, message, kind, event) = (
                text(|e| &e.project_id),
                text(|e| &e.message_id),
                text(|e| &e.kind),
                text(|e| &e.event),
            );
            let ts: Vec<i64> = order.iter().map(|i| ev(i).ts).collect();
            let received: Vec<i64> = order.iter().map(|i| ev(i).received_at).collect();
            let sent: Vec<Option<i64>> = order.iter().map(|i| ev(i).sent_at).collect();
            let original = opt(|e| e.original_timestamp.as_deref());
            let (anon, user, session, group) = (
                opt(|e| e.anonymous_id.as_deref()),
                opt(|e| e.user_id.as_deref()),
                opt(|e| e.session_id.as_deref()),
                opt(|e| e.group_id.as_deref()),
            );
            let (browser, os, device) = (
                opt(|e| e.browser.as_deref()),
                opt(|e| e.os.as_deref()),
                opt(|e| e.device_type.as_deref()),
            );
            let bot: Vec<bool> = order.iter().map(|i| ev(i).is_bot).collect();
            let ip = opt(|e| e.ip.as_deref());
            let (props, traits, context) =
                (text(|e| &e.properties), text(|e| &e.traits), text(|e| &e.context));
            let stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO events ({EVENT_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
                     $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[], \
                     $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
                     $16::bool[], $17::text[], $18::text[], $19::text[], $20::text[]) \
                     ON CONFLICT (project_id, message_id) DO NOTHING RETURNING project_id, message_id"
                ))
                .await?;
            let params: [&(dyn ToSql + Sync); 20] = [
                &project, &message, &kind, &event, &ts, &received, &sent, &original, &anon, &user, &session,
                &group, &browser, &os, &device, &bot, &ip, &props, &traits, &context,
            ];
            for row in tx.query(&stmt, &params).await? {
                inserted.push((row.get(0), row.get(1)));
            }
        }
        if !links.is_empty() {
            let col = |f: fn(&IdentityLink) -> &str| links.iter().map(f).collect::<Vec<&str>>();
            let (project, anon, user) = (
                col(|l| &l.project_id),
                col(|l| &l.anonymous_id),
                col(|l| &l.user_id),
            );
            let at: Vec<i64> = links.iter().map(|l| l.linked_at).collect();
            let stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO identities (project_id, anonymous_id, user_id, linked_at) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]){}",
                    sql::link_upsert_conflict("")
                ))
                .await?;
            tx.execute(&stmt, &[&project, &anon, &user, &at]).await?;
        }
        if !batch.dead_letters.is_empty() {
            let d = &batch.dead_letters;
            let project: Vec<Option<&str>> = d.iter().map(|x| x.project_id.as_deref()).collect();
            let received: Vec<i64> = d.iter().map(|x| x.received_at).collect();
            let reason: Vec<&str> = d.iter().map(|x| x.reason.as_str()).collect();
            let message: Vec<Option<&str>> = d.iter().map(|x| x.message_id.as_deref()).collect();
            let payload: Vec<&str> = d.iter().map(|x| x.payload.as_str()).collect();
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO dead_letters (project_id, received_at, reason, message_id, payload) \
                     SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[])",
                )
                .await?;
            tx.execute(&stmt, &[&project, &received, &reason, &message, &payload])
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

/// Why one write attempt failed: a PostgreSQL error (maybe retryable) or anything else.
enum WriteFailure {
    Pg(tokio_postgres::Error),
    Other(StoreError),
}

impl From<tokio_postgres::Error> for WriteFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        WriteFailure::Pg(e)
    }
}
