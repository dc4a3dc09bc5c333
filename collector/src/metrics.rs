//! Prometheus metrics (`GET /metrics`, OpenMetrics text, which Prometheus reads):
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `footfall_messages_received_total` | counter | messages in accepted-for-processing requests |
//! | `footfall_messages_accepted_total` | counter | messages acknowledged (stored or duplicates) |
//! | `footfall_messages_rejected_total{reason}` | counter | messages refused, by reason |
//! | `footfall_messages_deduplicated_total` | counter | accepted messages that were already stored |
//! | `footfall_requests_rejected_total{reason}` | counter | whole requests refused (4xx) or shed (503), by code |
//! | `footfall_dead_letters_total` | counter | rows written to the dead-letter table |
//! | `footfall_store_write_seconds` | histogram | latency of one group commit |
//! | `footfall_commit_group_events` | histogram | events per group commit |
//! | `footfall_store_write_errors_total` | counter | failed group commits |
//! | `footfall_inflight_requests` | gauge | ingestion requests being processed |
//! | `footfall_store_damaged_log_bytes` | gauge | bytes of the embedded store's intake log found damaged and skipped at open (may have held acknowledged events; alert on > 0) |
//! | `footfall_store_reopens_total` | counter | times the embedded store reopened its DuckDB database after DuckDB declared it unusable (a checkpoint that failed on a full disk; alert on increase: free disk space) |
//! | `footfall_backup_last_success_timestamp_seconds` | gauge | when the last backup completed (0: none since start; alert when too old) |
//! | `footfall_backups_failed_total` | counter | backups that failed while being written |
//! | `footfall_store_backlog_events` | gauge | events acknowledged and durable but not yet moved into the store's tables (the embedded store's intake log; 0 for PostgreSQL/ClickHouse), read at scrape time |
//! | `footfall_connections_open` | gauge | connections open (plain and TLS, idle ones included; the whole process) |
//! | `footfall_connections_max` | gauge | the cap `limits.max_connections` in effect |
//! | `footfall_connections_limit_reached_total` | counter | times the accept loop found `limits.max_connections` connections open and paused (new connections wait in the listen backlog; alert on increase) |
//! | `footfall_privacy_changes_total{kind}` | counter | changes the privacy settings made to accepted messages: `plan_properties_removed`, `url_params_removed`, `pii_redacted` (values), `user_id_hashed` (messages) |

use std::sync::LazyLock;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

pub struct Metrics {
    registry: Registry,
    pub received: Counter,
    pub accepted: Counter,
    pub rejected: Family<ReasonLabel, Counter>,
    pub deduplicated: Counter,
    pub requests_rejected: Family<ReasonLabel, Counter>,
    pub dead_letters: Counter,
    pub store_write_seconds: Histogram,
    pub commit_group_events: Histogram,
    pub store_write_errors: Counter,
    pub inflight: Gauge<i64, AtomicI64>,
    pub store_backlog: Gauge<i64, AtomicI64>,
    pub store_damaged_log_bytes: Gauge<i64, AtomicI64>,
    pub store_reopens: Counter,
    pub backup_last_success: Gauge<i64, AtomicI64>,
    pub backups_failed: Counter,
    pub privacy_changes: Family<KindLabel, Counter>,
    /// The process's connection metrics ([`connections`]), registered here too.
    pub connections: &'static ConnectionMetrics,
}

/// The connection metrics: per process, like the file descriptors they are about, so that the
/// stand-in served before the state (and its `Metrics`) exists counts too (see
/// [`crate::server::connections`]).
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    /// `footfall_connections_open`: connections whose task is running.
    pub open: Gauge<i64, AtomicI64>,
    /// `footfall_connections_max`: the cap in effect.
    pub max: Gauge<i64, AtomicI64>,
    /// `footfall_connections_limit_reached_total`: times an accept loop paused at the cap.
    pub limit_reached: Counter,
}

/// The process's [`ConnectionMetrics`].
pub fn connections() -> &'static ConnectionMetrics {
    static CONNECTIONS: LazyLock<ConnectionMetrics> = LazyLock::new(ConnectionMetrics::default);
    &CONNECTIONS
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            received: Counter::default(),
            accepted: Counter::default(),
            rejected: Family::default(),
            deduplicated: Counter::default(),
            requests_rejected: Family::default(),
            dead_letters: Counter::default(),
            store_write_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            commit_group_events: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            store_write_errors: Counter::default(),
            inflight: Gauge::default(),
            store_backlog: Gauge::default(),
            store_damaged_log_bytes: Gauge::default(),
            store_reopens: Counter::default(),
            backup_last_success: Gauge::default(),
            backups_failed: Counter::default(),
            privacy_changes: Family::default(),
            connections: connections(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "footfall_messages_received",
            "Messages received in processed requests",
            m.received.clone(),
        );
        r.register(
            "footfall_messages_accepted",
            "Messages acknowledged (stored or duplicates)",
            m.accepted.clone(),
        );
        r.register(
            "footfall_messages_rejected",
            "Messages refused, by reason",
            m.rejected.clone(),
        );
        r.register(
            "footfall_messages_deduplicated",
            "Accepted messages already stored",
            m.deduplicated.clone(),
        );
        r.register(
            "footfall_requests_rejected",
            "Whole requests refused or shed, by code",
            m.requests_rejected.clone(),
        );
        r.register(
            "footfall_dead_letters",
            "Rows written to the dead-letter table",
            m.dead_letters.clone(),
        );
        r.register(
            "footfall_store_write_seconds",
            "Latency of one group commit",
            m.store_write_seconds.clone(),
        );
        r.register(
            "footfall_commit_group_events",
            "Events per group commit",
            m.commit_group_events.clone(),
        );
        r.register(
            "footfall_store_write_errors",
            "Failed group commits",
            m.store_write_errors.clone(),
        );
        r.register(
            "footfall_inflight_requests",
            "Ingestion requests being processed",
            m.inflight.clone(),
        );
        r.register(
            "footfall_store_backlog_events",
            "Events acknowledged but not yet moved into the store's tables (the embedded store's intake log)",
            m.store_backlog.clone(),
        );
        r.register(
            "footfall_store_damaged_log_bytes",
            "Bytes of the embedded store's intake log found damaged and skipped when it was opened (they may have held acknowledged events; the log names file and offset)",
            m.store_damaged_log_bytes.clone(),
        );
        r.register(
            "footfall_store_reopens",
            "Times the embedded store reopened its DuckDB database after DuckDB declared it unusable (e.g. a checkpoint that failed on a full disk)",
            m.store_reopens.clone(),
        );
        r.register(
            "footfall_backup_last_success_timestamp_seconds",
            "When the last backup of the embedded store completed (Unix seconds; 0: none since start)",
            m.backup_last_success.clone(),
        );
        r.register(
            "footfall_backups_failed",
            "Backups that failed while being written (not refused names or backends)",
            m.backups_failed.clone(),
        );
        r.register(
            "footfall_privacy_changes",
            "Changes the privacy settings made to accepted messages, by kind",
            m.privacy_changes.clone(),
        );
        r.register(
            "footfall_connections_open",
            "Connections open (plain and TLS, idle ones included) in the whole process",
            m.connections.open.clone(),
        );
        r.register(
            "footfall_connections_max",
            "The cap on open connections in effect (limits.max_connections)",
            m.connections.max.clone(),
        );
        r.register(
            "footfall_connections_limit_reached",
            "Times the accept loop found limits.max_connections connections open and paused (new connections wait in the listen backlog)",
            m.connections.limit_reached.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts `n` changes of `kind` made by the privacy settings (nothing when 0).
    pub fn privacy_change(&self, kind: &str, n: usize) {
        if n > 0 {
            self.privacy_changes
                .get_or_create(&KindLabel {
                    kind: kind.to_string(),
                })
                .inc_by(n as u64);
        }
    }

    pub fn reject_request(&self, code: &str) {
        self.requests_rejected
            .get_or_create(&ReasonLabel {
                reason: code.to_string(),
            })
            .inc();
    }

    pub fn observe_commit(&self, seconds: f64, events: usize, ok: bool) {
        self.store_write_seconds.observe(seconds);
        self.commit_group_events.observe(events as f64);
        if !ok {
            self.store_write_errors.inc();
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_reason() {
        let m = Metrics::new();
        m.received.inc_by(3);
        m.reject("no_consent");
        m.reject("no_consent");
        m.observe_commit(0.01, 10, true);
        let text = m.render();
        assert!(text.contains("footfall_messages_received_total 3"), "{text}");
        assert!(
            text.contains("footfall_messages_rejected_total{reason=\"no_consent\"} 2"),
            "{text}"
        );
        assert!(text.contains("footfall_store_write_seconds_count 1"), "{text}");
        assert!(text.contains("footfall_inflight_requests 0"), "{text}");
        assert!(text.contains("footfall_store_backlog_events 0"), "{text}");
        assert!(text.contains("footfall_connections_open "), "{text}");
        assert!(
            text.contains("footfall_connections_limit_reached_total "),
            "{text}"
        );
    }
}
