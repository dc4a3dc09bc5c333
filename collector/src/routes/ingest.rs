//! Segment-compatible ingestion: `POST /v1/batch` (and `/v1/b`, `/v1/import`), `/v1/track`,
//! `/v1/page`, `/v1/screen`, `/v1/identify`, `/v1/group`, `/v1/alias` (and analytics.js's
//! `/v1/t`, `/v1/p`, `/v1/s`, `/v1/i`, `/v1/g`, `/v1/a`).
//!
//! Per request: intake permit (else 503) → content type → body (size, gzip, time limits) →
//! envelope → write key (HTTP Basic username, else `writeKey` in the body) → project origin
//! check → batch size → the pipeline in [`crate::ingest`]. Refused requests are kept as dead
//! letters; see [`crate::ingest::reject_request`]. CORS (with preflight) follows the union of the
//! projects' `allowed_origins`; a request whose `Origin` its own project does not allow is 403.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use footfall::message::MessageType;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::RouteTable;
use crate::config::Config;
use crate::error::ApiError;
use crate::ingest::validate::Signals;
use crate::ingest::{self, RequestMeta, body, enrich, parse};
use crate::state::{AppState, now_ms};

/// The single-message endpoints: each type's path, and the one analytics.js (Segment's browser
/// library) sends that type to (its initial).
const SINGLE_PATHS: [(MessageType, &str, &str); 6] = [
    (MessageType::Track, "/v1/track", "/v1/t"),
    (MessageType::Page, "/v1/page", "/v1/p"),
    (MessageType::Screen, "/v1/screen", "/v1/s"),
    (MessageType::Identify, "/v1/identify", "/v1/i"),
    (MessageType::Group, "/v1/group", "/v1/g"),
    (MessageType::Alias, "/v1/alias", "/v1/a"),
];

pub fn routes(table: RouteTable) -> RouteTable {
    const POST: &[&str] = &["POST"];
    let single = |kind: MessageType| post(move |s: State<AppState>, r: Request| handle(s, r, Some(kind)));
    let mut table = table
        .add_public(
            "/v1/batch",
            POST,
            post(|s: State<AppState>, r: Request| handle(s, r, None)),
        )
        .add_public(
            "/v1/b",
            POST,
            post(|s: State<AppState>, r: Request| handle(s, r, None)),
        )
        // Segment's legacy name of the batch endpoint, still analytics-ruby's default path.
        .add_public(
            "/v1/import",
            POST,
            post(|s: State<AppState>, r: Request| handle(s, r, None)),
        );
    for (kind, path, short) in SINGLE_PATHS {
        table = table
            .add_public(path, POST, single(kind))
            .add_public(short, POST, single(kind));
    }
    table
}

/// CORS for the routes browsers call (ingestion, `GET /v1/settings`): the origins any project
/// allows ("*" in any project = any).
pub fn cors(config: &Config) -> CorsLayer {
    let origins: HashSet<String> = config
        .projects
        .iter()
        .flat_map(|p| p.allowed_origins.iter().map(|o| o.to_ascii_lowercase()))
        .collect();
    let allow_origin = if origins.contains("*") || config.projects.is_empty() {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|o| origins.contains(&o.to_ascii_lowercase()))
        })
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::CONTENT_ENCODING,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([header::RETRY_AFTER, header::ETAG])
        .max_age(Duration::from_secs(86_400))
}

/// Decrements the in-flight gauge when the request ends, however it ends.
struct InflightGuard<'a>(&'a AppState);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.metrics.inflight.dec();
    }
}

async fn handle(State(state): State<AppState>, request: Request, single: Option<MessageType>) -> Response {
    let Ok(_permit) = state.intake.try_acquire() else {
        state.metrics.reject_request("overloaded");
        return ApiError::Overloaded {
            retry_after: state.config.limits.retry_after_secs,
        }
        .into_response();
    };
    state.metrics.inflight.inc();
    let _inflight = InflightGuard(&state);
    match receive(&state, request, single).await {
        Ok(response) => Json(response).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The write key sent as HTTP Basic username.
pub(crate) fn basic_auth_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_string())
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    state: &AppState,
    request: Request,
    single: Option<MessageType>,
) -> Result<footfall::message::BatchResponse, ApiError> {
    let received_at = now_ms();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let header_key = basic_auth_user(headers);
    let header_project = header_key
        .as_deref()
        .and_then(|k| state.project_by_key(k))
        .map(|p| p.id.as_str());
    let limits = &state.config.limits;

    if let Err(e) = body::check_content_type(headers) {
        return Err(ingest::reject_request(state, header_project, received_at, e, b"").await);
    }
    let timeout = Duration::from_secs(limits.body_timeout_secs);
    let bytes = match body::read_body(headers, body, limits.max_request_bytes, timeout).await {
        Ok(b) => b,
        Err(e) => return Err(ingest::reject_request(state, header_project, received_at, e, b"").await),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let e = ApiError::InvalidJson("the body is not valid UTF-8".into());
        return Err(ingest::reject_request(state, header_project, received_at, e, &bytes).await);
    };

    let messages: Vec<Cow<str>>;
    let (body_key, batch_sent_at): (Option<String>, Option<String>) = match single {
        None => match parse::parse_batch(text) {
            Ok(env) => {
                messages = env.messages();
                (env.write_key, env.sent_at)
            }
            Err(e) => {
                return Err(ingest::reject_request(state, header_project, received_at, e, &bytes).await);
            }
        },
        Some(kind) => match parse::parse_single(text, kind) {
            Ok(s) => {
                messages = vec![Cow::Owned(s.message)];
                (s.write_key, None)
            }
            Err(e) => {
                return Err(ingest::reject_request(state, header_project, received_at, e, &bytes).await);
            }
        },
    };
    let raws: Vec<&str> = messages.iter().map(|m| m.as_ref()).collect();

    let project = match header_key.or(body_key) {
        None => {
            return Err(
                ingest::reject_request(state, None, received_at, ApiError::MissingWriteKey, &bytes).await,
            );
        }
        Some(key) => match state.project_by_key(&key) {
            Some(p) => p,
            None => {
                return Err(ingest::reject_request(
                    state,
                    None,
                    received_at,
                    ApiError::InvalidWriteKey,
                    &bytes,
                )
                .await);
            }
        },
    };
    if let Some(origin) = header_str(headers, "origin")
        && !project.allows_origin(origin)
    {
        let e = ApiError::OriginNotAllowed(origin.chars().take(200).collect());
        return Err(ingest::reject_request(state, Some(&project.id), received_at, e, &bytes).await);
    }
    if raws.is_empty() {
        return Err(ingest::reject_request(
            state,
            Some(&project.id),
            received_at,
            ApiError::EmptyBatch,
            &bytes,
        )
        .await);
    }
    if raws.len() > limits.max_batch_messages {
        let e = ApiError::TooManyMessages {
            count: raws.len(),
            limit: limits.max_batch_messages,
        };
        return Err(ingest::reject_request(state, Some(&project.id), received_at, e, &bytes).await);
    }

    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let meta = RequestMeta {
        received_at,
        client_ip: enrich::client_ip(headers, peer, state.config.trust_proxy.hops()),
        user_agent: header_str(headers, "user-agent").map(str::to_string),
        signals: Signals {
            gpc: header_str(headers, "sec-gpc").is_some_and(|v| v.trim() == "1"),
            dnt: header_str(headers, "dnt").is_some_and(|v| v.trim() == "1"),
        },
        batch_sent_at,
        correct_skew: true,
    };
    Ok(ingest::ingest(state, project, &meta, &raws).await?.response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_auth_user(&h), None);
        // "wk_1:" in base64
        h.insert(header::AUTHORIZATION, "Basic d2tfMTo=".parse().unwrap());
        assert_eq!(basic_auth_user(&h).as_deref(), Some("wk_1"));
        // "wk_1" without the colon (Segment's docs: works for backward compatibility)
        h.insert(header::AUTHORIZATION, "Basic d2tfMQ==".parse().unwrap());
        assert_eq!(basic_auth_user(&h).as_deref(), Some("wk_1"));
        h.insert(header::AUTHORIZATION, "Bearer wk_1".parse().unwrap());
        assert_eq!(basic_auth_user(&h), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_auth_user(&h), None);
    }
}
