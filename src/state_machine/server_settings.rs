//! The privacy team's settings in the core: fetching them on schedule, merging them with the
//! local configuration ("stricter wins"), persisting the last known ones, and making what is
//! already queued obey them. See the crate docs ("Server settings") for the rules as a host sees
//! them, and [`crate::settings_fetch`] for the exchange with the host.
//!
//! Applying new settings — the configuration in force recomputed from the local one, and what
//! is already tracked made to obey them — is `settings_in_force.rs`.

use super::Core;
use crate::consent::ConsentState;
use crate::delivery::backoff_ms;
use crate::settings::{PrivacySettings, merge};
use crate::settings_fetch::{SETTINGS_WAIT_MS, SettingsRecord, SettingsRequest, SettingsResponse};
use crate::stats::LogEvent;

/// The last known server settings and the fetch schedule.
#[derive(Debug, Default)]
pub(super) struct ServerState {
    pub settings: Option<PrivacySettings>,
    pub(super) record: Option<SettingsRecord>,
    /// The host fetches settings ([`Core::set_settings_fetch`]) and `settings_refresh > 0`.
    enabled: bool,
    /// The local configuration lets something other than `necessary` through (a page that
    /// promised "nothing before consent" makes no request before consent, this one included).
    allowed: bool,
    in_flight: bool,
    /// Some answer came since the start.
    answered: bool,
    due_at: u64,
    failures: u32,
    /// Batches wait until then for the first answer (0: no wait).
    hold_until: u64,
    /// Batches in flight when the rules changed: re-checked if they come back.
    pub stale_batches: Vec<u64>,
}

impl Core {
    // ----- the host's side -----

    /// Applies privacy settings the host obtained itself (any source): merged with the local
    /// configuration, stricter wins, with every consequence described in the crate docs, and
    /// persisted as the last known settings. Hosts that fetch `/v1/settings` use
    /// [`Core::poll_settings`] / [`Core::report_settings`] instead, which end up here.
    pub fn apply_server_settings(&mut self, settings: PrivacySettings, now: u64) {
        let record = SettingsRecord {
            etag: None,
            fetched_at: now,
            json: settings.to_json(),
        };
        self.install(settings, record, true, now);
    }

    /// The last known server settings (fetched, applied, or restored from the store).
    pub fn server_settings(&self) -> Option<&PrivacySettings> {
        self.server.settings.as_ref()
    }

    /// The settings in force: the server's merged with the local configuration's (stricter
    /// wins), or the local configuration's alone when no server settings are known.
    pub fn effective_settings(&self) -> PrivacySettings {
        let local = PrivacySettings::from_config(&self.local);
        match &self.server.settings {
            Some(server) => merge(server, &local),
            None => local,
        }
    }

    /// The `ETag` of the last known server settings.
    pub fn settings_etag(&self) -> Option<&str> {
        self.server.record.as_ref().and_then(|r| r.etag.as_deref())
    }

    /// When the last known server settings were fetched or confirmed (ms since the epoch).
    pub fn settings_fetched_at(&self) -> Option<u64> {
        self.server.record.as_ref().map(|r| r.fetched_at)
    }

    /// `{delivery.endpoint}/v1/settings`.
    pub fn settings_url(&self) -> String {
        self.endpoint_url("/v1/settings")
    }

    /// Whether this host fetches the server's settings (default off: a host that never calls
    /// [`Core::poll_settings`] is not woken up for it). With it on and
    /// `delivery.settings_refresh > 0`, [`Core::next_wakeup`] includes the next fetch, due at
    /// once and then every `settings_refresh`.
    pub fn set_settings_fetch(&mut self, on: bool) {
        let s = &mut self.server;
        s.enabled = on && self.limits.settings_refresh_ms > 0;
        if !s.enabled {
            s.in_flight = false;
            s.hold_until = 0;
        }
    }

    /// The settings fetch to make now, if one is due (see [`crate::settings_fetch`]). No fetch
    /// is due while one is out, or while the *local* configuration lets nothing but `necessary`
    /// through (opt-in without consent, every category denied by signals): such a page makes no
    /// request at all. Report the outcome with [`Core::report_settings`].
    pub fn poll_settings(&mut self, now: u64) -> Option<SettingsRequest> {
        let s = &mut self.server;
        if !s.enabled || !s.allowed || s.in_flight || now < s.due_at {
            return None;
        }
        s.in_flight = true;
        if s.settings.is_none() && !s.answered {
            s.hold_until = now.saturating_add(SETTINGS_WAIT_MS);
        }
        let etag = s.record.as_ref().and_then(|r| r.etag.clone());
        Some(SettingsRequest {
            url: self.settings_url(),
            etag,
        })
    }

    /// The outcome of the fetch [`Core::poll_settings`] asked for. New settings are applied at
    /// once (see the crate docs) and persisted; the next fetch is due after
    /// `delivery.settings_refresh`, or after a backoff (`delivery.backoff_base` doubling up to
    /// `delivery.backoff_cap`, at most `settings_refresh`) when the fetch failed or the answer was
    /// unreadable — the settings in force stay meanwhile. A collector without a settings
    /// endpoint ([`SettingsResponse::Absent`]) is asked again after `settings_refresh`.
    pub fn report_settings(&mut self, response: SettingsResponse, now: u64) {
        let s = &mut self.server;
        s.in_flight = false;
        s.answered = true;
        s.hold_until = 0;
        let mut retry = true;
        let failure = match response {
            SettingsResponse::Fetched { body, etag } => {
                let same = s
                    .record
                    .as_ref()
                    .is_some_and(|r| (etag.is_some() && r.etag == etag) || r.json == body);
                if same {
                    self.confirm_settings(now);
                    None
                } else {
                    match PrivacySettings::from_json(&body) {
                        Ok(settings) => {
                            let record = SettingsRecord {
                                etag,
                                fetched_at: now,
                                json: body,
                            };
                            self.install(settings, record, true, now);
                            None
                        }
                        Err(e) => Some(String::from("unreadable settings: ") + &e),
                    }
                }
            }
            SettingsResponse::NotModified => {
                self.confirm_settings(now);
                None
            }
            SettingsResponse::Absent { detail } => {
                retry = false;
                Some(detail)
            }
            SettingsResponse::Failed { detail } => Some(detail),
        };
        let refresh = self.limits.settings_refresh_ms;
        let s = &mut self.server;
        let delay = match failure {
            None => {
                s.failures = 0;
                refresh
            }
            Some(detail) => {
                let delay = if retry {
                    s.failures = s.failures.saturating_add(1);
                    let cap = self.limits.backoff_cap_ms.min(refresh);
                    let base = self.limits.backoff_base_ms.min(cap);
                    backoff_ms(s.failures, base, cap, &mut *self.rng).max(base)
                } else {
                    s.failures = 0;
                    refresh
                };
                let mut line = String::from("settings fetch failed (");
                line.push_str(&detail);
                line.push_str("); next try in ");
                crate::json::push_u64(&mut line, delay);
                line.push_str(" ms");
                self.emit(LogEvent::Settings { detail: &line });
                delay
            }
        };
        self.server.due_at = now.saturating_add(delay);
    }

    /// Whether batches are waiting for the first settings answer now (a first start: see
    /// [`SETTINGS_WAIT_MS`]); hosts use it to tell "nothing to send" from "held".
    pub fn holds_for_settings(&self, now: u64) -> bool {
        self.settings_hold(now) > now && !self.queue.is_empty()
    }

    // ----- shared with the rest of the state machine -----

    /// When the next settings fetch is due, if the host fetches and none is out.
    pub(super) fn settings_wakeup(&self) -> Option<u64> {
        let s = &self.server;
        (s.enabled && s.allowed && !s.in_flight).then_some(s.due_at)
    }

    /// Until when batches wait for the first settings answer (0: they do not wait).
    pub(super) fn settings_hold(&self, now: u64) -> u64 {
        let s = &self.server;
        if s.in_flight && now < s.hold_until {
            s.hold_until
        } else {
            0
        }
    }

    /// Re-reads whether the local configuration lets anything but `necessary` through (after
    /// a consent change).
    pub(super) fn refresh_settings_allowed(&mut self) {
        let mut local = ConsentState::new(&self.local, self.consent.choices().clone());
        local.set_signals(self.consent.signals());
        self.server.allowed = local.grants_any();
    }

    /// The persisted record at startup.
    pub(super) fn restore_settings(&mut self, text: &str, now: u64) {
        match SettingsRecord::from_text(text) {
            Ok((record, settings)) => self.install(settings, record, false, now),
            Err(e) => self.warn(&(String::from("stored privacy settings ignored: ") + &e)),
        }
    }

    // ----- internals -----

    /// A 200 with the settings the core has, or a 304.
    fn confirm_settings(&mut self, now: u64) {
        if let Some(record) = self.server.record.as_mut() {
            record.fetched_at = now;
            let text = record.to_text();
            if let Err(e) = self.store.save_settings(&text) {
                self.store_failed(&e);
            }
        }
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "patterns_tests.rs"]
mod patterns_tests;
