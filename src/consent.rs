//! Consent state: which categories may leave, which wait, which are denied.
//!
//! A category's decision, in order of precedence:
//! 1. `necessary` is always granted;
//! 2. a privacy signal the host reported and the config respects denies: GPC denies
//!    `consent.gpc_categories` (default `marketing`), DNT denies every other category;
//! 3. the user's explicit choice (grant / deny / revoke), persisted with the identity;
//! 4. otherwise the mode — the category's own mode when the privacy team's settings give it one
//!    (`consent_categories`), else `consent.mode`: `opt_out` grants, `opt_in` leaves it pending.
//!
//! Pending events wait in the core's memory (never in the store) until a decision; the core
//! owns that buffer. This module only answers questions and records choices.

use crate::config::{Config, ConsentMode};
use crate::map::NameMap;

/// The category that is always granted (the consent audit trail itself travels in it).
pub const NECESSARY: &str = "necessary";

/// What may happen to events of a category right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ConsentDecision {
    Granted,
    Denied,
    /// No decision yet (`opt_in`): events wait in memory.
    Pending,
}

impl ConsentDecision {
    /// `"granted"`, `"denied"` or `"pending"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentDecision::Granted => "granted",
            ConsentDecision::Denied => "denied",
            ConsentDecision::Pending => "pending",
        }
    }
}

/// Browser privacy signals as reported by the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "camelCase", default)
)]
pub struct PrivacySignals {
    /// `navigator.globalPrivacyControl` / the `Sec-GPC: 1` header.
    pub gpc: bool,
    /// `navigator.doNotTrack == "1"` / the `DNT: 1` header.
    pub dnt: bool,
}

/// The consent state machine (no I/O).
#[derive(Debug, Clone)]
pub struct ConsentState {
    mode: ConsentMode,
    known: Vec<String>,
    gpc_categories: Vec<String>,
    respect_gpc: bool,
    respect_dnt: bool,
    choices: NameMap<bool>,
    signals: PrivacySignals,
    /// Per-category modes from the server settings (categories not listed use `mode`).
    category_modes: NameMap<crate::settings::ConsentMode>,
}

impl ConsentState {
    /// The state for `config` with the persisted explicit `choices`.
    pub fn new(config: &Config, choices: NameMap<bool>) -> ConsentState {
        ConsentState {
            mode: config.consent_mode(),
            known: config.consent.categories.clone(),
            gpc_categories: config.consent.gpc_categories.clone(),
            respect_gpc: config.consent.respect_gpc,
            respect_dnt: config.consent.respect_dnt,
            choices,
            signals: PrivacySignals::default(),
            category_modes: NameMap::new(),
        }
    }

    /// The same choices and signals under another configuration (the effective one after the
    /// server's settings changed) with per-category modes.
    pub fn reconfigure(&mut self, config: &Config, category_modes: NameMap<crate::settings::ConsentMode>) {
        let mut next = ConsentState::new(config, std::mem::take(&mut self.choices));
        next.signals = self.signals;
        next.category_modes = category_modes;
        *self = next;
    }

    /// Whether some category other than `necessary` is granted now.
    pub fn grants_any(&self) -> bool {
        self.categories()
            .iter()
            .any(|c| *c != NECESSARY && self.decide(c) == ConsentDecision::Granted)
    }

    /// The decision for `category` (see the module docs for the precedence).
    pub fn decide(&self, category: &str) -> ConsentDecision {
        if category == NECESSARY {
            return ConsentDecision::Granted;
        }
        if self.respect_dnt && self.signals.dnt {
            return ConsentDecision::Denied;
        }
        if self.respect_gpc && self.signals.gpc && self.gpc_categories.iter().any(|c| c == category) {
            return ConsentDecision::Denied;
        }
        let opt_out = match self.category_modes.get(category) {
            Some(m) => *m == crate::settings::ConsentMode::OptOut,
            None => self.mode == ConsentMode::OptOut,
        };
        match self.choices.get(category) {
            Some(true) => ConsentDecision::Granted,
            Some(false) => ConsentDecision::Denied,
            None if opt_out => ConsentDecision::Granted,
            None => ConsentDecision::Pending,
        }
    }

    /// Records explicit choices.
    pub fn choose(&mut self, categories: &[&str], granted: bool) {
        for c in categories {
            if *c != NECESSARY {
                self.choices.insert((*c).to_string(), granted);
            }
        }
    }

    /// Records the signals the host reports.
    pub fn set_signals(&mut self, signals: PrivacySignals) {
        self.signals = signals;
    }

    /// The reported signals.
    pub fn signals(&self) -> PrivacySignals {
        self.signals
    }

    /// The explicit choices (what is persisted).
    pub fn choices(&self) -> &NameMap<bool> {
        &self.choices
    }

    /// Replaces the explicit choices (another tab changed them).
    pub fn set_choices(&mut self, choices: NameMap<bool>) {
        self.choices = choices;
    }

    /// Every category this state knows about, once each: `necessary`, the configured ones, then
    /// the chosen ones.
    pub fn categories(&self) -> Vec<&str> {
        // Collected by plain loops: the chained filter adapters cost the browser bundle more,
        // and no caller is on the per-event path.
        let mut out = vec![NECESSARY];
        for c in &self.known {
            if c != NECESSARY {
                out.push(c.as_str());
            }
        }
        for c in self.choices.keys() {
            if c != NECESSARY && !self.known.iter().any(|k| k == c) {
                out.push(c.as_str());
            }
        }
        out
    }

    /// `context.consent.categoryPreferences`: every known category → currently granted.
    pub fn preferences(&self) -> NameMap<bool> {
        let mut map = NameMap::new();
        for c in &self.categories() {
            map.insert(c.to_string(), self.decide(c) == ConsentDecision::Granted);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsentMode;

    fn state(mode: ConsentMode) -> ConsentState {
        let mut config = Config::default();
        config.consent.mode = Some(mode);
        ConsentState::new(&config, NameMap::new())
    }

    #[test]
    fn opt_in_waits_and_opt_out_grants_until_a_choice() {
        let mut s = state(ConsentMode::OptIn);
        assert_eq!(s.decide("analytics"), ConsentDecision::Pending);
        assert_eq!(s.decide("necessary"), ConsentDecision::Granted);
        s.choose(&["analytics"], true);
        s.choose(&["marketing"], false);
        assert_eq!(s.decide("analytics"), ConsentDecision::Granted);
        assert_eq!(s.decide("marketing"), ConsentDecision::Denied);
        assert_eq!(s.decide("custom"), ConsentDecision::Pending);

        let mut s = state(ConsentMode::OptOut);
        assert_eq!(s.decide("custom"), ConsentDecision::Granted);
        s.choose(&["custom"], false);
        assert_eq!(s.decide("custom"), ConsentDecision::Denied);
    }

    #[test]
    fn necessary_cannot_be_denied() {
        let mut s = state(ConsentMode::OptIn);
        s.choose(&["necessary"], false);
        s.set_signals(PrivacySignals { gpc: true, dnt: true });
        assert_eq!(s.decide("necessary"), ConsentDecision::Granted);
    }

    #[test]
    fn gpc_denies_marketing_even_when_granted_and_dnt_is_off_by_default() {
        let mut s = state(ConsentMode::OptOut);
        s.choose(&["marketing", "analytics"], true);
        s.set_signals(PrivacySignals { gpc: true, dnt: true });
        assert_eq!(s.decide("marketing"), ConsentDecision::Denied);
        assert_eq!(
            s.decide("analytics"),
            ConsentDecision::Granted,
            "respect_dnt defaults to false"
        );

        let mut config = Config::default();
        config.consent.respect_dnt = true;
        config.consent.respect_gpc = false;
        let mut s = ConsentState::new(&config, NameMap::new());
        s.set_signals(PrivacySignals { gpc: true, dnt: true });
        assert_eq!(s.decide("analytics"), ConsentDecision::Denied);
        s.set_signals(PrivacySignals {
            gpc: true,
            dnt: false,
        });
        assert_eq!(
            s.decide("marketing"),
            ConsentDecision::Granted,
            "gpc not respected"
        );
    }

    #[test]
    fn preferences_list_known_categories() {
        let mut s = state(ConsentMode::OptIn);
        s.choose(&["analytics", "beta_features"], true);
        let p = s.preferences();
        assert_eq!(p.get("necessary"), Some(&true));
        assert_eq!(p.get("analytics"), Some(&true));
        assert_eq!(p.get("marketing"), Some(&false));
        assert_eq!(p.get("beta_features"), Some(&true));
    }
}
