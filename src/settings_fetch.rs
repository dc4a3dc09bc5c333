//! Fetching the privacy team's settings: what a host sends, what it reports back, and what the
//! core persists. The policy lives in [`crate::Core`] (`state_machine/server_settings.rs`); see
//! the crate docs ("Server settings") for the rules.
//!
//! The exchange, like delivery, is poll → do the I/O → report:
//!
//! 1. [`crate::Core::poll_settings`] returns a [`SettingsRequest`] when a fetch is due (at start,
//!    then every `delivery.settings_refresh`, sooner after a failure): `GET request.url` with the
//!    write key (HTTP Basic username like batches, or `?writeKey=` for clients that cannot set
//!    headers) and `If-None-Match: request.etag` when there is one;
//! 2. the host reports a [`SettingsResponse`] with [`crate::Core::report_settings`].
//!
//! The last known settings are persisted through [`crate::Store::save_settings`] as a
//! [`SettingsRecord`] (a header line, the ETag, the fetch time, then the settings JSON as the
//! server sent it) and restored by [`crate::Core::new`] before anything is sent, so an offline
//! start obeys them too.

use crate::json::push_u64;
use crate::settings::PrivacySettings;

/// On a first start (no settings known yet), batches wait at most this long (ms) for the first
/// settings answer once the fetch has started, so a fresh install does not send under the local
/// configuration what the privacy team forbids. Any answer — settings, 304 or an error — ends
/// the wait; a page hide (`flush_all`) never waits.
pub const SETTINGS_WAIT_MS: u64 = 5_000;

/// A settings fetch for the host to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRequest {
    /// `{delivery.endpoint}/v1/settings`.
    pub url: String,
    /// The `ETag` of the settings the core has (send as `If-None-Match`).
    pub etag: Option<String>,
}

/// What a settings fetch got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsResponse {
    /// HTTP 200: the settings JSON and the response's `ETag`.
    Fetched { body: String, etag: Option<String> },
    /// HTTP 304: the settings the core has are current.
    NotModified,
    /// HTTP 404, 405 or 501: this collector has no privacy control plane (a Segment-compatible
    /// collector without `/v1/settings`). Not a failure: the settings in force stay and the next
    /// fetch is after `delivery.settings_refresh`, not after a retry backoff.
    Absent { detail: String },
    /// Any other status, a network error, a timeout: retried with backoff (the settings in
    /// force stay; delivery is never held by a failing fetch).
    Failed { detail: String },
}

impl SettingsResponse {
    /// The response for an HTTP answer: 200 → [`SettingsResponse::Fetched`], 304 →
    /// [`SettingsResponse::NotModified`], 404/405/501 → [`SettingsResponse::Absent`], anything
    /// else → [`SettingsResponse::Failed`].
    pub fn http(status: u16, etag: Option<String>, body: Option<String>) -> SettingsResponse {
        match status {
            200 => SettingsResponse::Fetched {
                body: body.unwrap_or_default(),
                etag,
            },
            304 => SettingsResponse::NotModified,
            _ => {
                let mut detail = String::from("HTTP ");
                push_u64(&mut detail, u64::from(status));
                match status {
                    404 | 405 | 501 => SettingsResponse::Absent { detail },
                    _ => SettingsResponse::Failed { detail },
                }
            }
        }
    }
}

/// The persisted last known server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRecord {
    pub etag: Option<String>,
    /// When they were last fetched or confirmed (ms since the epoch).
    pub fetched_at: u64,
    /// The settings JSON as the server sent it (or as [`PrivacySettings::to_json`] wrote it).
    pub json: String,
}

impl SettingsRecord {
    /// The record as text: `footfall-settings 1`, the ETag (empty when none) and the fetch time
    /// on one line each, then the settings JSON. (Lines rather than a JSON wrapper: reading it
    /// back costs the browser bundle no second JSON reader.)
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.json.len() + 64);
        out.push_str(RECORD_HEADER);
        out.push_str(self.etag.as_deref().unwrap_or(""));
        out.push('\n');
        push_u64(&mut out, self.fetched_at);
        out.push('\n');
        out.push_str(&self.json);
        out
    }

    /// Reads what [`SettingsRecord::to_text`] wrote, and the settings in it; the error says
    /// what is wrong.
    pub fn from_text(text: &str) -> Result<(SettingsRecord, PrivacySettings), String> {
        let bad = || String::from("not a settings record");
        let rest = text.strip_prefix(RECORD_HEADER).ok_or_else(bad)?;
        let (etag, rest) = crate::text::split_byte(rest, b'\n').ok_or_else(bad)?;
        let (at, json) = crate::text::split_byte(rest, b'\n').ok_or_else(bad)?;
        let fetched_at = crate::text::decimal(at).ok_or_else(bad)?;
        let settings = PrivacySettings::from_json(json)?;
        let record = SettingsRecord {
            etag: (!etag.is_empty()).then(|| etag.to_string()),
            fetched_at,
            json: json.to_string(),
        };
        Ok((record, settings))
    }
}

/// The first line of a persisted [`SettingsRecord`] (with its version).
const RECORD_HEADER: &str = "footfall-settings 1\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let settings = PrivacySettings {
            property_deny_list: vec!["email".into()],
            ..PrivacySettings::default()
        };
        let record = SettingsRecord {
            etag: Some("\"v7\"".into()),
            fetched_at: 42,
            json: settings.to_json(),
        };
        let (back, parsed) = SettingsRecord::from_text(&record.to_text()).unwrap();
        assert_eq!(back, record);
        assert_eq!(parsed, settings);
        let bare = "footfall-settings 1\n\n1\n{}";
        let (back, parsed) = SettingsRecord::from_text(bare).unwrap();
        assert_eq!((back.etag, parsed), (None, PrivacySettings::default()));
        assert!(SettingsRecord::from_text("footfall-settings 1\n\n1\n{\"anonymize_ip\":1}").is_err());
        assert!(SettingsRecord::from_text("{}").is_err());
        assert!(SettingsRecord::from_text("footfall-settings 1\nx\nnot a number\n{}").is_err());
    }

    #[test]
    fn http_answers_map_to_responses() {
        assert_eq!(
            SettingsResponse::http(304, None, None),
            SettingsResponse::NotModified
        );
        assert_eq!(
            SettingsResponse::http(200, Some("e".into()), Some("{}".into())),
            SettingsResponse::Fetched {
                body: "{}".into(),
                etag: Some("e".into())
            }
        );
        assert_eq!(
            SettingsResponse::http(404, None, None),
            SettingsResponse::Absent {
                detail: "HTTP 404".into()
            }
        );
        assert_eq!(
            SettingsResponse::http(503, None, None),
            SettingsResponse::Failed {
                detail: "HTTP 503".into()
            }
        );
    }
}
