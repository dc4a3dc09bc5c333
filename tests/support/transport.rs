//! [`FakeCollector`]: an in-memory [`Transport`] for the robustness tests. It records every
//! attempt's messageIds and answers per its current [`Mode`]: accept (200), fail with a status,
//! or hang (the request never gets an answer, like a collector that stopped responding). The
//! ids of accepted batches are what "the collector's point of view" means in these tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use footfall::delivery::Delivery;
use footfall::native::{BoxFuture, Transport};
use footfall::testing::{ManualClock, SeededRng};
use footfall::{Batch, Client, ClientBuilder};

/// Every client gets its own seed (the same seed twice would generate the same messageIds).
static SEED: AtomicU64 = AtomicU64::new(1);

/// A client on virtual time (`clock`) that sends to `collector`, configured with `config`.
pub fn builder(
    collector: &Arc<FakeCollector>,
    clock: &ManualClock,
    config: serde_json::Value,
) -> ClientBuilder {
    Client::builder("wk_test")
        .config(footfall::Config::from_value(config).unwrap())
        .transport(collector.clone())
        .clock(Arc::new(clock.clone()))
        .rng(Box::new(SeededRng::new(SEED.fetch_add(1, Ordering::Relaxed))))
}

/// How the fake collector answers from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Fail(u16),
    Hang,
}

struct State {
    mode: Mode,
    attempts: Vec<Vec<String>>,
    accepted: Vec<(String, serde_json::Value)>,
    /// The raw body of every accepted batch, as sent.
    bodies: Vec<Vec<u8>>,
}

pub struct FakeCollector {
    state: Mutex<State>,
}

impl FakeCollector {
    pub fn new(mode: Mode) -> Arc<FakeCollector> {
        Arc::new(FakeCollector {
            state: Mutex::new(State {
                mode,
                attempts: Vec::new(),
                accepted: Vec::new(),
                bodies: Vec::new(),
            }),
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// The messageIds of every attempt, in order.
    pub fn attempts(&self) -> Vec<Vec<String>> {
        self.state.lock().unwrap().attempts.clone()
    }

    /// The messageIds of every accepted message, in order of arrival.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .accepted
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Every accepted message (messageId, wire JSON), in order of arrival.
    /// The `i` property of every accepted event, in arrival order (see [`event`]).
    pub fn seqs(&self) -> Vec<u64> {
        self.accepted()
            .iter()
            .map(|(_, m)| m["properties"]["i"].as_u64().unwrap())
            .collect()
    }

    pub fn accepted(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// The raw body (uncompressed JSON bytes) of every accepted batch, in order of arrival.
    pub fn accepted_bodies(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().bodies.clone()
    }

    /// Polls (real time, at most 20 s) until at least `n` attempts were made; panics otherwise.
    pub fn wait_for_attempts(&self, n: usize) {
        let start = std::time::Instant::now();
        while self.attempts().len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "expected {n} attempts, got {:?}",
                self.attempts()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Transport for FakeCollector {
    fn send(&self, body: Vec<u8>) -> BoxFuture<Delivery> {
        let batch: Batch = serde_json::from_slice(&body).expect("a valid batch body");
        let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let ids: Vec<String> = batch.batch.iter().map(|m| m.message_id.clone()).collect();
        let mut state = self.state.lock().unwrap();
        state.attempts.push(ids.clone());
        match state.mode {
            Mode::Accept => {
                for (id, m) in ids.into_iter().zip(raw["batch"].as_array().unwrap().iter()) {
                    state.accepted.push((id, m.clone()));
                }
                state.bodies.push(body);
                Box::pin(async { Delivery::status(200) })
            }
            Mode::Fail(status) => Box::pin(async move { Delivery::status(status) }),
            Mode::Hang => Box::pin(std::future::pending()),
        }
    }
}

/// Polls `f` (real time, at most 20 s) until it returns `Some`; panics with `what` otherwise.
pub fn poll_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
