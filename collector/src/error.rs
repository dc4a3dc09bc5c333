//! The collector's HTTP errors: one enum, mapped to status codes in one place
//! ([`ApiError::status`]).
//!
//! Every error answers with a JSON body `{"error": "<code>", "message": "<text>"}`; the codes are
//! stable and documented in `collector/openapi.yaml`. 503 answers carry `Retry-After`. A batch in
//! which every message was refused answers 400 with the per-message list added to the body
//! (`accepted`, `rejected`), so a Segment-format client can read it as a batch response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use footfall::message::BatchResponse;
use footfall_engine::store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    // --- the request as a whole (4xx) ---
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("request body nests deeper than 128 levels")]
    TooDeep,
    #[error("request body has the wrong shape: {0}")]
    InvalidBody(String),
    #[error("the batch holds no messages")]
    EmptyBatch,
    #[error("every message of the batch was rejected")]
    AllRejected(BatchResponse),
    #[error("no write key: send it as the HTTP Basic username or as `writeKey` in the body")]
    MissingWriteKey,
    #[error("unknown write key")]
    InvalidWriteKey,
    #[error("origin `{0}` may not send to this project")]
    OriginNotAllowed(String),
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the batch holds {count} messages; the limit is {limit}")]
    TooManyMessages { count: usize, limit: usize },
    #[error("unsupported content type `{0}`: send application/json or text/plain")]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding `{0}`: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("request body is not valid gzip")]
    InvalidGzip,
    #[error("request body not received within {0} seconds")]
    BodyTimeout(u64),
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    // --- admin API ---
    #[error("missing or wrong admin token (send `Authorization: Bearer <admin token>`)")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown project `{0}`")]
    UnknownProject(String),
    #[error("several projects are configured: name one with `?project=ID`")]
    ProjectRequired,
    #[error("not found")]
    NotFound,
    /// Privacy settings that are not acceptable; the message names the field.
    #[error("invalid privacy settings: {0}")]
    InvalidSettings(String),
    /// `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Too many failed admin-token attempts from this address (see `auth_limit`).
    #[error("too many failed admin-token attempts from this address; retry later")]
    TooManyAttempts { retry_after: u64 },
    /// The resource exists already (e.g. a backup name in use).
    #[error("{0}")]
    Conflict(String),
    // --- the server (5xx) ---
    #[error("the collector is at capacity; retry later")]
    Overloaded { retry_after: u64 },
    #[error("storage unavailable: {message}")]
    StoreUnavailable { message: String, retry_after: u64 },
    #[error("storage error: {0}")]
    Store(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The feature does not exist for this configuration (e.g. online backup of PostgreSQL).
    #[error("{0}")]
    NotImplemented(String),
}

impl ApiError {
    /// The one mapping from errors to HTTP status codes.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_) | TooDeep | InvalidBody(_) | EmptyBatch | AllRejected(_) | InvalidGzip
            | BadRequest(_) | ProjectRequired | InvalidSettings(_) => StatusCode::BAD_REQUEST,
            PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Conflict(_) => StatusCode::CONFLICT,
            MissingWriteKey | InvalidWriteKey | Unauthorized => StatusCode::UNAUTHORIZED,
            OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            UnknownProject(_) | NotFound => StatusCode::NOT_FOUND,
            BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            BodyTooLarge { .. } | TooManyMessages { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) | UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyRead(_) => StatusCode::BAD_REQUEST,
            Overloaded { .. } | StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Store(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The stable machine-readable code of the error (also the dead-letter reason of a refused
    /// request).
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            TooDeep => "too_deep",
            InvalidBody(_) => "invalid_body",
            EmptyBatch => "empty_batch",
            AllRejected(_) => "all_rejected",
            MissingWriteKey => "missing_write_key",
            InvalidWriteKey => "invalid_write_key",
            OriginNotAllowed(_) => "origin_not_allowed",
            BodyTooLarge { .. } => "too_large",
            TooManyMessages { .. } => "too_many_messages",
            UnsupportedMediaType(_) => "unsupported_media_type",
            UnsupportedEncoding(_) => "unsupported_encoding",
            InvalidGzip => "invalid_gzip",
            BodyTimeout(_) => "body_timeout",
            BodyRead(_) => "body_read_error",
            Unauthorized => "unauthorized",
            BadRequest(_) => "bad_request",
            UnknownProject(_) => "unknown_project",
            ProjectRequired => "project_required",
            NotFound => "not_found",
            InvalidSettings(_) => "invalid_settings",
            PreconditionFailed(_) => "precondition_failed",
            TooManyAttempts { .. } => "too_many_attempts",
            Conflict(_) => "conflict",
            Overloaded { .. } => "overloaded",
            StoreUnavailable { .. } => "store_unavailable",
            Store(_) => "store_error",
            Internal(_) => "internal",
            NotImplemented(_) => "not_implemented",
        }
    }

    /// Whether this refuses a request that deserves a dead letter (its payload was bad), as
    /// opposed to the server being unable to take it (503) or an admin-API error.
    pub fn is_request_rejection(&self) -> bool {
        self.status().is_client_error()
            && !matches!(
                self,
                ApiError::AllRejected(_)
                    | ApiError::Unauthorized
                    | ApiError::BadRequest(_)
                    | ApiError::UnknownProject(_)
                    | ApiError::ProjectRequired
                    | ApiError::NotFound
                    | ApiError::InvalidSettings(_)
                    | ApiError::PreconditionFailed(_)
                    | ApiError::Conflict(_)
            )
    }

    /// Maps a storage error: unavailable → 503 + Retry-After, anything else → 500.
    pub fn from_store(e: StoreError, retry_after: u64) -> ApiError {
        match e {
            StoreError::Unavailable(message) => ApiError::StoreUnavailable { message, retry_after },
            other => ApiError::Store(other.to_string()),
        }
    }
}

/// Server errors logged by [`ApiError::into_response`], sampled (see [`crate::log_sample`]).
static FAILURES: std::sync::LazyLock<crate::log_sample::Sampler> = std::sync::LazyLock::new(Default::default);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let mut body = json!({ "error": code, "message": self.to_string() });
        let retry_after = match &self {
            ApiError::Overloaded { retry_after }
            | ApiError::StoreUnavailable { retry_after, .. }
            | ApiError::TooManyAttempts { retry_after } => Some(*retry_after),
            _ => None,
        };
        if let ApiError::AllRejected(batch) = self {
            body["accepted"] = json!(batch.accepted);
            body["rejected"] = json!(batch.rejected);
        }
        if status.is_server_error()
            && let Some(suppressed) = FAILURES.admit(code, std::time::Instant::now())
        {
            // An outage fails every request alike: one line per kind per 10 s, with the count.
            tracing::warn!(status = status.as_u16(), error = %body["message"], suppressed, "request failed");
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        let r = ApiError::Overloaded { retry_after: 3 }.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        let e = ApiError::from_store(StoreError::Unavailable("down".into()), 5);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            ApiError::from_store(StoreError::Query("x".into()), 5).status(),
            500
        );
        assert_eq!(ApiError::BodyTooLarge { limit: 1 }.status(), 413);
        assert_eq!(ApiError::TooManyMessages { count: 2, limit: 1 }.status(), 413);
        assert!(ApiError::InvalidJson("x".into()).is_request_rejection());
        assert!(!ApiError::Overloaded { retry_after: 1 }.is_request_rejection());
    }
}
