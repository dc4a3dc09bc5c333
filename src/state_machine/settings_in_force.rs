//! Applying the privacy team's settings (fetched, applied by the host, or restored; see
//! `server_settings.rs`).
//!
//! The configuration in force is always recomputed from the *local* configuration:
//! `server.merge_into(copy of local)` (= `merge(server, from_config(local))`, computed in
//! place) — never merged into an already merged one, so a setting the privacy team loosens again
//! loosens the SDK too.
//!
//! A change then takes effect everywhere at once:
//! - the pipeline uses the new configuration for every event tracked from now on;
//! - events waiting for consent get the new tracking plan now (the rest of the pipeline runs when
//!   they are released, under the rules in force then);
//! - consent is re-decided (mode, per-category modes, GPC/DNT respect): queued events of a
//!   category no longer granted are purged (`consent`), pending ones of a category now granted
//!   are released, as for any consent change (without a `consent_updated` audit event: the
//!   collector's audit log records the privacy team's change);
//! - every queued event is re-checked ([`crate::pipeline::recheck`]): dropped when the plan no
//!   longer allows it (`disabled`, `not_in_plan`), rewritten in place (same message id, memory and
//!   store) when the anonymize rules take something away (denied property or URL parameter, IP,
//!   PII — including values matching custom `pii_patterns` the new settings add, compiled by the
//!   host's engine first —, user id hashing);
//! - batches in flight at the time were consented and built under the old rules; if they come
//!   back for another attempt they are re-checked before they go again;
//! - super properties and the default context are anonymized again under the new rules.

use std::sync::Arc;

use super::Core;
use super::consent_api::Record;
use crate::consent::ConsentState;
use crate::pipeline::anonymize::{anonymize_context, anonymize_properties};
use crate::pipeline::enrich::Defaults;
use crate::pipeline::plan::apply_plan;
use crate::pipeline::recheck::{Recheck, recheck};
use crate::queue::Entry;
use crate::settings::PrivacySettings;
use crate::settings_fetch::SettingsRecord;
use crate::stats::LogEvent;
use crate::store::StoredMessageRef;

impl Core {
    /// Re-checks every waiting message under the rules in force (see the module docs).
    pub(super) fn recheck_queue(&mut self) {
        let all = self.queue.remove_where(|_| true);
        let kept = self.recheck_entries(all);
        self.queue.requeue_front(kept);
    }

    /// Re-checks `entries`: returns those that may still go (rewritten where needed, in memory
    /// and in the store); the others are dropped with their reason and forgotten.
    pub(super) fn recheck_entries(&mut self, entries: Vec<Entry>) -> Vec<Entry> {
        let mut kept = Vec::with_capacity(entries.len());
        let mut rewritten = Vec::new();
        let mut gone = Vec::new();
        for e in entries {
            let verdict = if self.is_granted(&e.category) {
                let patterns = self.patterns.get(&self.config.privacy);
                recheck(&e.json, &e.category, &self.config, patterns)
            } else {
                Recheck::Drop(crate::pipeline::Rejected::new(
                    crate::stats::DropReason::Consent,
                    "consent no longer granted",
                ))
            };
            match verdict {
                Recheck::Keep => kept.push(e),
                Recheck::Rewrite(json) => {
                    let mut n = Entry::new(e.id, e.category, e.enqueued_at, json.into(), None);
                    n.attempts = e.attempts;
                    rewritten.push(kept.len());
                    kept.push(n);
                }
                Recheck::Drop(r) => {
                    let detail = String::from("privacy settings changed: ") + &r.detail;
                    self.dropped(Some(&e.id), r.reason, &detail);
                    gone.push(e.id);
                }
            }
        }
        self.forget(&gone);
        if !rewritten.is_empty() {
            let mut records: Vec<StoredMessageRef<'_>> = Vec::with_capacity(rewritten.len());
            for &i in &rewritten {
                let e: &Entry = &kept[i];
                records.push(StoredMessageRef {
                    message_id: &e.id,
                    category: &e.category,
                    enqueued_at: e.enqueued_at,
                    json: &e.json,
                });
            }
            if let Err(err) = self.store.replace(&records) {
                self.store_failed(&err);
            }
        }
        kept
    }

    /// Makes `settings` the server settings in force (see the module docs); `persist`: save the
    /// record (not when it was just restored). Only called with settings that differ from the
    /// ones in force (an unchanged fetch is confirmed, not installed), so everything is simply
    /// redone: every step leaves what already complies as it is.
    pub(super) fn install(
        &mut self,
        settings: PrivacySettings,
        record: SettingsRecord,
        persist: bool,
        now: u64,
    ) {
        let mut config = self.local.clone();
        let modes = settings.merge_into(&mut config);
        self.server.settings = Some(settings);
        if persist {
            if let Err(e) = self.store.save_settings(&record.to_text()) {
                self.store_failed(&e);
            }
        }
        let mut line = String::from("privacy settings in force");
        if let Some(etag) = &record.etag {
            line.push_str(" (ETag ");
            line.push_str(etag);
            line.push(')');
        }
        self.server.record = Some(record);
        self.emit(LogEvent::Settings { detail: &line });

        self.config = config;
        self.refresh_patterns();
        let privacy = &self.config.privacy;
        let patterns = self.patterns.get(privacy);
        anonymize_properties(&mut self.super_properties, privacy, patterns);
        let mut context = self.default_context.context.clone();
        anonymize_context(&mut context, privacy, patterns);
        self.default_context = Arc::new(Defaults::new(context));
        self.recheck_pending();
        let config = self.config.clone();
        let mut modes = Some(modes);
        self.change_consent(
            "settings",
            "settings",
            now,
            Record::Quiet,
            &mut |c: &mut ConsentState| {
                if let Some(m) = modes.take() {
                    c.reconfigure(&config, m);
                }
            },
        );
        self.recheck_queue();
        self.server.stale_batches.clear();
        for (id, _) in &self.in_flight {
            self.server.stale_batches.push(*id);
        }
    }

    /// Events waiting for consent passed the old tracking plan: they get the new one now.
    fn recheck_pending(&mut self) {
        if self.config.events.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for mut msg in pending {
            let category = msg.event.category.take();
            let checked = apply_plan(&mut msg.event, &self.config.events, self.config.tracking.strict);
            msg.event.category = category;
            match checked {
                Ok(()) => self.pending.push(msg),
                Err(r) => {
                    let detail = String::from("privacy settings changed: ") + &r.detail;
                    self.dropped(Some(&msg.id), r.reason, &detail);
                }
            }
        }
    }
}
