//! Consent changes: grant, deny, revoke, privacy signals — and their consequences for the
//! pending buffer, the queue, the store and the audit trail.

use crate::consent::{ConsentDecision, ConsentState, PrivacySignals};
use crate::map::NameMap;
use crate::rng::uuid_v4;
use crate::stats::{DropReason, LogEvent};

use super::Core;

/// A change of the consent state for [`Core::change_consent`]: every closure
/// `FnMut(&mut ConsentState)` is one. A trait of its own rather than `dyn FnMut`, whose vtable
/// also carries a `call_once` shim per closure that nothing calls.
pub(super) trait Apply {
    fn apply(&mut self, consent: &mut ConsentState);
}

impl<F: FnMut(&mut ConsentState)> Apply for F {
    fn apply(&mut self, consent: &mut ConsentState) {
        self(consent)
    }
}

/// How a consent change is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Record {
    /// A change made here: saved, and audited with a `consent_updated` event.
    SaveAndAudit,
    /// Startup signals: saved if choices changed, not audited (they are reported on every
    /// start; auditing them would add an event per page load).
    Quiet,
    /// A change another instance made and already saved and audited: neither.
    Adopted,
}

impl Core {
    /// The user granted `categories`: their pending events are released (in order) and new
    /// events flow. Emits `consent_updated` if anything changed.
    pub fn grant(&mut self, categories: &[&str], now: u64) {
        self.change_consent(
            "grant",
            "user",
            now,
            Record::SaveAndAudit,
            &mut |c: &mut ConsentState| c.choose(categories, true),
        );
    }

    /// The user declined `categories`: their pending events are discarded and their queued and
    /// persisted events purged (`consent`). Emits `consent_updated` if anything changed.
    pub fn deny(&mut self, categories: &[&str], now: u64) {
        self.change_consent(
            "deny",
            "user",
            now,
            Record::SaveAndAudit,
            &mut |c: &mut ConsentState| c.choose(categories, false),
        );
    }

    /// The user withdrew consent for `categories`: like [`Core::deny`], and with
    /// `consent.rotate_anonymous_id_on_revoke` a new anonymous id and session.
    pub fn revoke(&mut self, categories: &[&str], now: u64) {
        self.change_consent(
            "revoke",
            "user",
            now,
            Record::SaveAndAudit,
            &mut |c: &mut ConsentState| c.choose(categories, false),
        );
        if self.config.consent.rotate_anonymous_id_on_revoke {
            self.state.anonymous_id = Some(uuid_v4(&mut *self.rng));
            self.state.session = None;
            self.save_state(now);
        }
    }

    /// Grants every known category (configured, chosen before, or waiting in the buffer).
    pub fn grant_all(&mut self, now: u64) {
        let all = self.known_categories();
        let refs = crate::text::refs(&all);
        self.grant(&refs, now);
    }

    /// Denies every known category but `necessary`.
    pub fn deny_all(&mut self, now: u64) {
        let all = self.known_categories();
        let refs = crate::text::refs(&all);
        self.deny(&refs, now);
    }

    /// The host reports the browser's (or request's) Global Privacy Control and Do Not Track
    /// signals; they apply per `consent.respect_gpc` / `consent.respect_dnt`. Not persisted:
    /// report them on every start — with [`Core::set_initial_privacy_signals`], which does not
    /// audit them — and call this when they change while running (audited with
    /// `consent_updated`).
    pub fn set_privacy_signals(&mut self, signals: PrivacySignals, now: u64) {
        if signals != self.consent.signals() {
            let source = if signals.dnt { "dnt" } else { "gpc" };
            self.change_consent(
                "signal",
                source,
                now,
                Record::SaveAndAudit,
                &mut |c: &mut ConsentState| c.set_signals(signals),
            );
        }
    }

    /// The signals as the host finds them at startup (right after [`Core::new`]): applied with
    /// the same consequences as [`Core::set_privacy_signals`] (pending events of categories they
    /// deny are discarded, queued and persisted ones purged) but without a `consent_updated`
    /// event — the signal is not a change the user made now, and a host reporting it on every
    /// page load would otherwise send an audit event each time (so "GPC on" could never mean
    /// "nothing sent").
    pub fn set_initial_privacy_signals(&mut self, signals: PrivacySignals, now: u64) {
        if signals != self.consent.signals() {
            self.change_consent(
                "signal",
                "startup",
                now,
                Record::Quiet,
                &mut |c: &mut ConsentState| c.set_signals(signals),
            );
        }
    }

    /// The decision for `category` right now.
    pub fn consent_decision(&self, category: &str) -> ConsentDecision {
        self.consent.decide(category)
    }

    /// `context.consent.categoryPreferences` as it would be sent now.
    pub fn consent_preferences(&self) -> &NameMap<bool> {
        &self.preferences
    }

    /// Every category the core knows: configured, chosen, and waiting in the buffer (what
    /// [`Core::grant_all`] grants and [`Core::deny_all`] denies).
    pub fn known_categories(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for c in &self.consent.categories() {
            all.push(c.to_string());
        }
        for m in &self.pending {
            if !all.iter().any(|c| c == m.category()) {
                all.push(m.category().to_string());
            }
        }
        all
    }

    /// Every category the core knows with its decision, as one comparable text
    /// (`name NUL decision NUL …`: one string, not a vector of pairs to build and compare).
    fn decisions(&self) -> String {
        let mut out = String::new();
        for c in &self.known_categories() {
            out.push_str(c);
            out.push('\0');
            out.push_str(self.consent.decide(c).as_str());
            out.push('\0');
        }
        out
    }

    #[inline(never)] // shared by every consent entry point; inlined it would be copied into each
    pub(super) fn change_consent(
        &mut self,
        action: &str,
        source: &str,
        now: u64,
        record: Record,
        apply: &mut dyn Apply,
    ) {
        let before = self.decisions();
        let choices_before = self.consent.choices().clone();
        apply.apply(&mut self.consent);
        self.refresh_settings_allowed();
        if record != Record::Adopted && *self.consent.choices() != choices_before {
            self.save_state(now);
        }
        if self.decisions() == before {
            return;
        }
        self.refresh_consent_context();
        self.emit(LogEvent::ConsentChanged {
            preferences: &self.preferences,
            source,
        });

        // Nothing of a category that is no longer granted may stay queued or persisted.
        let revoked = self
            .queue
            .remove_where(|e| self.consent.decide(&e.category) != ConsentDecision::Granted);
        let mut forget: Vec<Box<str>> = Vec::with_capacity(revoked.len());
        for e in revoked {
            self.dropped(Some(&e.id), DropReason::Consent, "consent withdrawn while queued");
            forget.push(e.id);
        }
        // In-flight messages were consented when handed out; forget them in the store so a crash
        // cannot resurrect them, and mark them: a failed attempt drops them on return, even if
        // the consent is back by then (as a queued message is dropped for good).
        for (_, entries) in &mut self.in_flight {
            for e in entries {
                if self.consent.decide(&e.category) != ConsentDecision::Granted {
                    e.withdrawn = true;
                    forget.push(e.id.clone());
                }
            }
        }
        self.forget(&forget);

        // The audit event goes first, then the released events in their original order.
        if record == Record::SaveAndAudit {
            self.emit_consent_updated(action, source, now);
        }
        let pending = std::mem::take(&mut self.pending);
        for msg in pending {
            match self.consent.decide(msg.category()) {
                ConsentDecision::Granted => self.admit(msg, now),
                ConsentDecision::Denied => {
                    self.dropped(Some(&msg.id), DropReason::Consent, "consent denied while pending");
                }
                ConsentDecision::Pending => self.pending.push(msg),
            }
        }
    }
}
