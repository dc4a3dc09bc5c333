//! [`BlockingClient`]: the [`Client`] for programs without async. Same worker thread; the
//! waiting calls (`flush`, `sync`, `shutdown`, `stats`) block the calling thread on a channel.
//! Prefer [`Client`] inside async tasks: called there they block that executor thread (they
//! never panic or deadlock, the worker has its own thread); everything else never blocks.

use std::ops::Deref;
use std::time::Duration;

use super::client::{Client, ClientBuilder, ClientError, Command, ShutdownReport};
use crate::event::{Event, Tracker};
use crate::stats::Stats;

/// A [`Client`] with blocking `flush`, `sync`, `shutdown` and `stats`; derefs to the [`Client`] for
/// everything else (track, consent, identity).
#[derive(Clone)]
pub struct BlockingClient {
    client: Client,
}

impl BlockingClient {
    /// Builds the client from a [`ClientBuilder`].
    pub fn from_builder(builder: ClientBuilder) -> Result<BlockingClient, ClientError> {
        Ok(BlockingClient {
            client: builder.build()?,
        })
    }

    /// Wraps an existing client (they share the worker).
    pub fn from_client(client: Client) -> BlockingClient {
        BlockingClient { client }
    }

    /// See [`Client::flush`].
    pub fn flush(&self) -> usize {
        self.client.request_blocking(Command::Flush).unwrap_or(0)
    }

    /// See [`Client::sync`].
    pub fn sync(&self) -> bool {
        self.client.request_blocking(Command::Sync).is_some()
    }

    /// See [`Client::shutdown`].
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.client.mark_closed();
        let deadline_ms = self.client.now_ms().saturating_add(timeout.as_millis() as u64);
        self.client
            .request_blocking(|reply| Command::Shutdown { deadline_ms, reply })
            .unwrap_or(ShutdownReport {
                sent: self.client.final_stats().sent,
                unsent: 0,
                persisted: false,
            })
    }

    /// See [`Client::stats`].
    pub fn stats(&self) -> Stats {
        let stats = self
            .client
            .request_blocking(Command::Stats)
            .unwrap_or_else(|| self.client.final_stats());
        self.client.with_handle_drops(stats)
    }
}

impl Deref for BlockingClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Tracker for BlockingClient {
    fn track(&self, event: Event) {
        self.client.track(event);
    }
}
