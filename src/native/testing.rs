//! [`MemoryTransport`]: a scripted [`Transport`] that records every body it is given.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::{BoxFuture, Transport};
use crate::delivery::Delivery;
use crate::message::Batch;

struct Inner {
    script: VecDeque<Delivery>,
    fallback: Delivery,
    bodies: Vec<Vec<u8>>,
}

/// Answers each send with the next scripted [`Delivery`] (then with the fallback, default
/// HTTP 200) and records the bodies.
pub struct MemoryTransport {
    inner: Mutex<Inner>,
    arrived: Notify,
}

impl MemoryTransport {
    pub fn new() -> Arc<MemoryTransport> {
        Arc::new(MemoryTransport {
            inner: Mutex::new(Inner {
                script: VecDeque::new(),
                fallback: Delivery::status(200),
                bodies: Vec::new(),
            }),
            arrived: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next send gets `delivery` (scripted answers are used in order).
    pub fn then(&self, delivery: Delivery) {
        self.lock().script.push_back(delivery);
    }

    /// What sends get when the script is used up.
    pub fn set_fallback(&self, delivery: Delivery) {
        self.lock().fallback = delivery;
    }

    /// Every body sent so far, parsed.
    pub fn batches(&self) -> Vec<Batch> {
        self.lock()
            .bodies
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect()
    }

    /// How many sends happened.
    pub fn sends(&self) -> usize {
        self.lock().bodies.len()
    }

    /// Waits (real time, at most `timeout`) until at least `n` sends happened.
    pub async fn wait_for_sends(&self, n: usize, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if self.sends() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

impl Transport for MemoryTransport {
    fn send(&self, body: Vec<u8>) -> BoxFuture<Delivery> {
        let delivery = {
            let mut inner = self.lock();
            inner.bodies.push(body);
            let fallback = inner.fallback.clone();
            inner.script.pop_front().unwrap_or(fallback)
        };
        self.arrived.notify_waiters();
        Box::pin(async move { delivery })
    }
}
