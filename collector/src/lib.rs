//! Footfall reference collector: Segment-compatible ingestion with durable acks, exact dedupe
//! and privacy enforcement, as a library ([`app`]`(state) -> Router`) plus the thin `footfall`
//! binary ([`cli`]).
//!
//! # Design
//! * **One pipeline** ([`ingest`]) serves the HTTP endpoints and `footfall import`: parse →
//!   validate → consent → suppression → enrich → privacy → rows. Every refused message gets a
//!   machine-readable reason ([`ingest::reason`]) and a dead-letter row; nothing is dropped
//!   silently.
//! * **Durable acks with group commit** ([`commit`]): requests hand their rows to one writer task
//!   through a bounded channel and answer 2xx only after the commit that holds them. Concurrent
//!   requests share a commit; a bounded number of requests is processed at once and the rest get
//!   503 + `Retry-After`, so intake memory stays bounded under overload.
//! * **Storage** is the engine's [`footfall_engine::store::Store`] trait (DuckDB embedded by
//!   default, PostgreSQL, ClickHouse), opened from a location by [`backend::open`]. Exact dedupe
//!   by (project, messageId) is decided by the store (a primary key on PostgreSQL and
//!   ClickHouse, so it holds across processes; a digest set on the single-process embedded
//!   store). "Committed" means durable in the backend: PostgreSQL's and ClickHouse's commit; on
//!   the embedded store, the fsync of its intake log, which DuckDB loads within a second and
//!   before any read (engine/src/store/duckdb/intake.rs).
//! * **Errors**: [`error::ApiError`], mapped to HTTP status codes in one place.
//! * **Routes** ([`routes`]) are grouped in modules (`ingest`, `admin`, `ops`) registered in a
//!   [`routes::RouteTable`] that also feeds the OpenAPI conformance test.
//! * **Privacy** ([`privacy`]): each project's live privacy settings (config defaults, admin API,
//!   stored in the backend, refreshed by every process; `GET /v1/settings` for SDKs) enforced on
//!   every message; erasure and export by user id or anonymous id, with a suppression list of
//!   fingerprints; retention of events, sessions and identity links; audit log.
//! * **Dashboards** ([`routes::dashboards`]): the engine's dashboards, alerts and query API and
//!   pages, mounted with the collector as their host; the alert scheduler runs in [`server`].

pub mod auth_limit;
pub mod backend;
pub mod backup;
pub mod cli;
pub mod commit;
pub mod config;
pub mod demo;
pub mod error;
pub mod import;
pub mod ingest;
pub mod log_sample;
pub mod metrics;
pub mod privacy;
pub mod routes;
pub mod server;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;

pub use config::Config;
pub use error::ApiError;
pub use routes::app;
pub use state::AppState;

/// Runs one arbitrary input through the body parser and the per-message pipeline, without
/// storage: the fuzz target (`collector/fuzz`) and its seed-corpus test call this. It must never
/// panic, whatever `data` holds.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let limit = config::Limits::default().max_request_bytes;
    let body = if data.starts_with(&[0x1f, 0x8b]) {
        match ingest::body::inflate(data, limit) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        bytes::Bytes::copy_from_slice(data)
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return;
    };
    let now = "2026-11-28T12:00:00.000Z";
    let mut raws: Vec<String> = Vec::new();
    if let Ok(env) = ingest::parse::parse_batch(text) {
        raws.extend(env.messages().into_iter().map(|m| m.into_owned()));
    }
    for kind in [
        footfall::message::MessageType::Track,
        footfall::message::MessageType::Alias,
    ] {
        if let Ok(single) = ingest::parse::parse_single(text, kind) {
            raws.push(single.message);
        }
    }
    raws.push(text.to_string());
    let settings = footfall::settings::PrivacySettings::default();
    let deny = vec!["email".to_string(), "gclid".to_string()];
    let mut plan = footfall::settings::TrackingPlan::default();
    plan.events.insert(
        "purchase".into(),
        footfall::settings::EventPlan {
            enabled: true,
            properties: Some(vec!["amount".into()]),
        },
    );
    for raw in &raws {
        let _ = ingest::parse::sniff_message_id(raw);
        let Ok(parsed) = ingest::parse::parse_message(raw, now) else {
            continue;
        };
        let mut m = parsed.message;
        if ingest::validate::check_fields(&m).is_err() || ingest::validate::has_nul(raw, &m) {
            continue;
        }
        let Ok(times) = ingest::validate::times(
            &m,
            parsed.timestamp_defaulted,
            None,
            1_795_860_000_000,
            true,
            86_400_000,
        ) else {
            continue;
        };
        let _ = ingest::validate::consent_allows(&m, &settings, Default::default());
        let _ = privacy::enforce::apply_plan(&mut m, &plan);
        let _ = privacy::enforce::denied_properties(&m, &deny);
        privacy::enforce::strip_url_params(&mut m, &deny);
        privacy::enforce::scrub_pii(&mut m, &[]);
        privacy::enforce::hash_user_ids(&mut m, "salt");
        let ua = m
            .context
            .user_agent
            .as_deref()
            .map(ingest::enrich::parse_user_agent)
            .unwrap_or_default();
        let Ok(ip) = ingest::row::enforce_ip(&mut m, None, false) else {
            continue;
        };
        let _ = ingest::row::identity_link("p", &m, times.ts);
        let row = ingest::row::build_row("p", m, times, 1_795_860_000_000, &ua, ip);
        for json_text in [&row.properties, &row.traits, &row.context] {
            assert!(
                serde_json::from_str::<serde_json::Value>(json_text).is_ok(),
                "stored JSON must parse"
            );
        }
    }
}
