//! The ingestion pipeline, shared by the HTTP endpoints and `footfall import`.
//!
//! For each raw message, in order: size limit → parse → required fields and usable values →
//! timestamps (skew correction) → consent → suppression (erased persons) → tracking plan →
//! property deny list → user agent (bots) → IP privacy → URL parameters → PII scrubbing → user id
//! hashing → stored row + identity link. The privacy steps follow the project's live settings
//! ([`crate::privacy::settings`], [`crate::privacy::enforce`]). A refused message becomes a dead letter with its
//! reason (redacted for privacy refusals); nothing is dropped silently. Then everything the
//! request produced (events, links, dead letters) is committed in one group commit, and only
//! after the commit does the caller get its [`BatchResponse`].
//!
//! Submodules: [`body`] (reading HTTP bodies), [`parse`] (envelopes and messages), [`dialect`]
//! (Segment dialects normalized before parsing), [`validate`]
//! (checks), [`enrich`] (user agent, IP), [`row`] (stored rows), [`reason`] (refusal codes).

pub mod body;
pub mod dialect;
pub mod enrich;
pub mod parse;
pub mod reason;
pub mod row;
pub mod validate;

use std::net::IpAddr;

use footfall::message::{BatchResponse, Message, RejectedMessage};
use footfall_engine::store::{DeadLetter, WriteBatch};
use serde_json::json;

use self::reason::Reason;
use self::validate::Signals;
use crate::commit::CommitError;
use crate::config::{BotHandling, ProjectConfig};
use crate::error::ApiError;
use crate::privacy::enforce;
use crate::privacy::settings::Effective;
use crate::state::AppState;

/// Dead-letter payloads are cut to this many bytes (the store contract).
pub const MAX_DEAD_LETTER_PAYLOAD: usize = 64 * 1024;

/// What the pipeline needs to know about the request a batch came in.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Server receive time, ms since the epoch.
    pub received_at: i64,
    /// The client address (connection or trusted proxy header); `None` for imports.
    pub client_ip: Option<IpAddr>,
    /// The request's `User-Agent`, used when a message has no `context.userAgent` and the request
    /// came from a browser ([`enrich::is_browser`]).
    pub user_agent: Option<String>,
    pub signals: Signals,
    /// The batch envelope's `sentAt`, for messages without their own.
    pub batch_sent_at: Option<String>,
    /// Correct client clock skew with `sentAt` (on for HTTP, off for imports of history).
    pub correct_skew: bool,
}

/// The outcome of preparing one message.
enum Slot {
    /// Became a row of the batch's events.
    Event,
    Rejected {
        message_id: Option<String>,
        reason: String,
    },
}

/// A batch turned into rows, links and dead letters, ready to commit.
pub struct Prepared {
    pub batch: WriteBatch,
    slots: Vec<Slot>,
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

/// RFC 3339 UTC with milliseconds (the wire format of timestamps).
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs every message of a batch through the pipeline (no I/O).
pub fn prepare(state: &AppState, project: &ProjectConfig, meta: &RequestMeta, raws: &[&str]) -> Prepared {
    let now_iso = iso(meta.received_at);
    let privacy = state.privacy.get(&project.id);
    let mut batch = WriteBatch::default();
    let mut slots = Vec::with_capacity(raws.len());
    for raw in raws {
        match prepare_one(state, project, &privacy, meta, raw, &now_iso, &mut batch) {
            Ok(()) => slots.push(Slot::Event),
            Err((reason, message)) => {
                let message_id = match &message {
                    Some(m) => Some(m.message_id.clone()),
                    None => parse::sniff_message_id(raw),
                };
                let payload = if reason.redacts_payload() {
                    redacted(message.as_deref(), &reason)
                } else {
                    truncate_utf8(raw, MAX_DEAD_LETTER_PAYLOAD).to_string()
                };
                let code = reason.code().into_owned();
                batch.dead_letters.push(DeadLetter {
                    project_id: Some(project.id.clone()),
                    received_at: meta.received_at,
                    reason: code.clone(),
                    message_id: message_id.clone(),
                    payload,
                });
                slots.push(Slot::Rejected {
                    message_id,
                    reason: code,
                });
            }
        }
    }
    Prepared { batch, slots }
}

/// What a privacy refusal keeps: enough to count and trace it, nothing about the person.
fn redacted(m: Option<&Message>, reason: &Reason) -> String {
    let Some(m) = m else {
        return json!({ "redacted": reason.code() }).to_string();
    };
    let mut v = json!({
        "type": m.kind.as_str(),
        "event": m.event,
        "messageId": m.message_id,
        "category": m.consent_category(),
        "redacted": reason.code(),
    });
    if let Some(detail) = reason.detail() {
        v["detail"] = detail;
    }
    v.to_string()
}

/// Why a message was refused, with the message when it could be parsed (boxed: it is large).
type Refusal = (Reason, Option<Box<Message>>);

#[allow(clippy::too_many_arguments)]
fn prepare_one(
    state: &AppState,
    project: &ProjectConfig,
    privacy: &Effective,
    meta: &RequestMeta,
    raw: &str,
    now_iso: &str,
    batch: &mut WriteBatch,
) -> Result<(), Refusal> {
    let limits = &state.config.limits;
    if raw.len() > limits.max_message_bytes {
        return Err((Reason::TooLarge, None));
    }
    let parsed = parse::parse_message(raw, now_iso).map_err(|r| (r, None))?;
    let mut m = parsed.message;
    macro_rules! check {
        ($result:expr) => {
            match $result {
                Ok(v) => v,
                Err(reason) => return Err((reason, Some(Box::new(m)))),
            }
        };
    }
    check!(validate::check_fields(&m));
    if validate::has_nul(raw, &m) {
        return Err((Reason::InvalidField("nul_character"), Some(Box::new(m))));
    }
    let max_ahead = i64::try_from(limits.max_clock_ahead_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let times = check!(validate::times(
        &m,
        parsed.timestamp_defaulted,
        meta.batch_sent_at.as_deref(),
        meta.received_at,
        meta.correct_skew,
        max_ahead,
    ));
    let settings = &privacy.settings;
    if !validate::consent_allows(&m, settings, meta.signals) {
        return Err((Reason::NoConsent, Some(Box::new(m))));
    }
    let ids = [
        m.user_id.as_deref(),
        m.anonymous_id.as_deref(),
        m.previous_id.as_deref(),
    ];
    if state
        .suppression
        .contains_any(&project.id, ids.into_iter().flatten())
    {
        return Err((Reason::Suppressed, Some(Box::new(m))));
    }
    let metrics = &state.metrics;
    let trimmed = check!(enforce::apply_plan(&mut m, &settings.tracking_plan));
    metrics.privacy_change("plan_properties_removed", trimmed);
    let denied = enforce::denied_properties(&m, &settings.property_deny_list);
    if !denied.is_empty() {
        return Err((Reason::DeniedProperty(denied), Some(Box::new(m))));
    }
    let ua = match (m.context.user_agent.as_deref(), meta.user_agent.as_deref()) {
        (Some(ua), _) => state.ua.get(ua),
        (None, Some(ua)) if enrich::is_browser(ua) => state.ua.get(ua),
        _ => Default::default(),
    };
    if ua.is_bot && settings.bots == BotHandling::Reject {
        return Err((Reason::Bot, Some(Box::new(m))));
    }
    let keep_raw_ip = settings.store_raw_ip && !settings.anonymize_ip;
    let ip = check!(row::enforce_ip(&mut m, meta.client_ip, keep_raw_ip));
    let stripped = enforce::strip_url_params(&mut m, &settings.url_param_deny_list);
    metrics.privacy_change("url_params_removed", stripped);
    if settings.pii_scrubbing {
        let redacted = enforce::scrub_pii(&mut m, &privacy.patterns);
        metrics.privacy_change("pii_redacted", redacted);
    }
    if let Some(salt) = privacy.hash_salt() {
        let hashed = enforce::hash_user_ids(&mut m, salt);
        metrics.privacy_change("user_id_hashed", usize::from(hashed));
    }
    if let Some(link) = row::identity_link(&project.id, &m, times.ts) {
        batch.links.push(link);
    }
    batch
        .events
        .push(row::build_row(&project.id, m, times, meta.received_at, &ua, ip));
    Ok(())
}

/// The answer to a batch, and how many of its accepted messages were already stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    pub response: BatchResponse,
    pub duplicates: usize,
}

/// Prepares, commits and answers a batch for `project`: the whole pipeline of one request.
/// Every message is accounted for in the answer; if none was accepted the answer is
/// [`ApiError::AllRejected`] (400) — after the dead letters are committed.
pub async fn ingest(
    state: &AppState,
    project: &ProjectConfig,
    meta: &RequestMeta,
    raws: &[&str],
) -> Result<Ingested, ApiError> {
    let metrics = &state.metrics;
    metrics.received.inc_by(raws.len() as u64);
    let outcome = {
        let _gate = state.gate.read().await;
        let prepared = prepare(state, project, meta, raws);
        let Prepared { batch, slots } = prepared;
        let dead_letters = batch.dead_letters.len();
        let outcome = state
            .committer
            .commit(batch)
            .await
            .map_err(|e| commit_error(state, e))?;
        metrics.dead_letters.inc_by(dead_letters as u64);
        (slots, outcome)
    };
    let (slots, outcome) = outcome;
    let mut response = BatchResponse::default();
    for (index, slot) in slots.into_iter().enumerate() {
        match slot {
            Slot::Event => response.accepted += 1,
            Slot::Rejected { message_id, reason } => {
                metrics.reject(&reason);
                response.rejected.push(RejectedMessage {
                    index,
                    message_id,
                    reason,
                });
            }
        }
    }
    metrics.accepted.inc_by(response.accepted as u64);
    metrics.deduplicated.inc_by(outcome.duplicates.len() as u64);
    if response.accepted == 0 && !response.rejected.is_empty() {
        return Err(ApiError::AllRejected(response));
    }
    Ok(Ingested {
        response,
        duplicates: outcome.duplicates.len(),
    })
}

fn commit_error(state: &AppState, e: CommitError) -> ApiError {
    let retry_after = state.config.limits.retry_after_secs;
    match e {
        CommitError::Failed(message) => ApiError::Store(message),
        other => ApiError::StoreUnavailable {
            message: other.to_string(),
            retry_after,
        },
    }
}

/// Records a refused request: counts it and keeps its body as a dead letter (reason = the error
/// code). Returns the error to answer with — or 503 when the dead letter could not be committed,
/// so the client retries and the refusal is recorded later.
pub async fn reject_request(
    state: &AppState,
    project_id: Option<&str>,
    received_at: i64,
    error: ApiError,
    body: &[u8],
) -> ApiError {
    state.metrics.reject_request(error.code());
    if !error.is_request_rejection() {
        return error;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_DEAD_LETTER_PAYLOAD)]);
    let payload = truncate_utf8(&text, MAX_DEAD_LETTER_PAYLOAD).to_string();
    let batch = WriteBatch {
        dead_letters: vec![DeadLetter {
            project_id: project_id.map(str::to_string),
            received_at,
            reason: error.code().to_string(),
            message_id: None,
            payload,
        }],
        ..WriteBatch::default()
    };
    match state.committer.commit(batch).await {
        Ok(_) => {
            state.metrics.dead_letters.inc();
            error
        }
        Err(e) => commit_error(state, e),
    }
}
