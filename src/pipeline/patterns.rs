//! Custom PII patterns (`privacy.pii_patterns`, the privacy team's `pii_patterns`): regular
//! expressions whose matching string values are redacted like the built-in detector's finds
//! ([`super::pii`]) when `scrub_pii` is on.
//!
//! The core has no regex engine (the browser bundle must stay small), so the host provides one
//! through [`PatternMatcher`], like it provides [`crate::Clock`], [`crate::Store`] and
//! [`crate::Rng`]: natively the `regex` crate (`native::RegexMatcher`, feature `native`), in the
//! browser JavaScript's `RegExp` (bindings/wasm), in tests `testing::LiteralMatcher`. Hosts
//! without one get [`NoPatternMatcher`]: the patterns are then left to the collector.
//!
//! Semantics (the collector's `scrub_pii`, which re-applies the patterns with Rust's `regex`
//! anyway): a string value — not a number, boolean or key — is redacted when any pattern
//! matches *somewhere* in it (`Regex::is_match`, "find" semantics: anchor with `^…$` to match
//! whole values), in `properties`, `traits`, `context.page` and `context.traits`, at any depth.
//! JavaScript's `RegExp` (with the `u` flag) and Rust's `regex` agree on the common syntax
//! (classes, `\d`, `\w`, `\s`, anchors, groups, alternation, repetition); they differ on exotic
//! features (look-around and back-references exist only in JS; `(?i)`-style inline flags, `\A`,
//! `\z` and Unicode class names only in Rust), and `\d`/`\w` are ASCII in JS but Unicode in Rust.
//!
//! A pattern the host cannot compile never breaks tracking: it is skipped (the others apply),
//! counted in [`crate::Stats::invalid_patterns`] and logged as a warning.

use crate::config::PrivacyConfig;
use crate::platform::MaybeSend;

/// A pattern the host's engine refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPattern {
    /// Its index in the list given to [`PatternMatcher::compile`].
    pub index: usize,
    /// Why (the engine's message).
    pub message: String,
}

/// The host's regular expression engine.
pub trait PatternMatcher: MaybeSend {
    /// Replaces the patterns in force by `patterns`. Those that do not compile are skipped (the
    /// rest are in force) and returned. Called only when the list changes.
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern>;

    /// Whether any pattern in force matches somewhere in `s`.
    fn is_match(&self, s: &str) -> bool;
}

impl<M: PatternMatcher + ?Sized> PatternMatcher for Box<M> {
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern> {
        (**self).compile(patterns)
    }
    fn is_match(&self, s: &str) -> bool {
        (**self).is_match(s)
    }
}

/// No engine: every pattern is refused (and so left to the collector).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPatternMatcher;

impl PatternMatcher for NoPatternMatcher {
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern> {
        let message = "this host has no regular expression engine (the collector applies it)";
        (0..patterns.len())
            .map(|index| InvalidPattern {
                index,
                message: message.to_string(),
            })
            .collect()
    }
    fn is_match(&self, _: &str) -> bool {
        false
    }
}

/// The core's side: the host's matcher, the list it compiled last and whether any pattern is in
/// force.
pub(crate) struct Patterns {
    matcher: Box<dyn PatternMatcher>,
    compiled: Vec<String>,
    active: bool,
}

impl Patterns {
    pub fn new(matcher: Box<dyn PatternMatcher>) -> Patterns {
        Patterns {
            matcher,
            compiled: Vec::new(),
            active: false,
        }
    }

    /// The matcher to consult under `privacy`, if `scrub_pii` is on and a pattern is in force.
    pub fn get(&self, privacy: &PrivacyConfig) -> Option<&dyn PatternMatcher> {
        (self.active && privacy.scrub_pii).then_some(&*self.matcher)
    }

    /// Compiles the patterns of `privacy` if they changed (none while `scrub_pii` is off).
    /// Returns the warnings for the patterns skipped, and whether the patterns in force changed.
    pub fn update(&mut self, privacy: &PrivacyConfig) -> (Vec<String>, bool) {
        let wanted: &[String] = if privacy.scrub_pii {
            &privacy.pii_patterns
        } else {
            &[]
        };
        if wanted == self.compiled.as_slice() {
            return (Vec::new(), false);
        }
        let invalid = if wanted.is_empty() {
            Vec::new() // nothing to compile: just stop consulting the matcher
        } else {
            self.matcher.compile(wanted)
        };
        self.active = invalid.len() < wanted.len();
        self.compiled = wanted.to_vec();
        let mut warnings = Vec::with_capacity(invalid.len());
        for e in &invalid {
            let mut w = String::from("privacy.pii_patterns[");
            crate::json::push_u64(&mut w, e.index as u64);
            w.push_str("] skipped (");
            w.push_str(wanted.get(e.index).map_or("", String::as_str));
            w.push_str("): ");
            w.push_str(&e.message);
            warnings.push(w);
        }
        (warnings, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privacy(scrub: bool, patterns: &[&str]) -> PrivacyConfig {
        PrivacyConfig {
            scrub_pii: scrub,
            pii_patterns: patterns.iter().map(|p| p.to_string()).collect(),
            ..PrivacyConfig::default()
        }
    }

    #[cfg(feature = "testing")]
    #[test]
    fn compiles_on_change_only_and_skips_invalid_patterns() {
        let mut p = Patterns::new(Box::new(crate::testing::LiteralMatcher::default()));
        let on = privacy(true, &["^secret-", "(", "token$"]);
        let (warnings, changed) = p.update(&on);
        assert!(changed);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("privacy.pii_patterns[1] skipped ((): "),
            "{warnings:?}"
        );
        let m = p.get(&on).expect("two patterns in force");
        assert!(m.is_match("secret-1") && m.is_match("my token") && !m.is_match("a secret-1"));
        assert_eq!(
            p.update(&on),
            (Vec::new(), false),
            "unchanged: not compiled again"
        );
        let off = privacy(false, &["^secret-"]);
        assert_eq!(p.update(&off), (Vec::new(), true));
        assert!(p.get(&off).is_none() && p.get(&on).is_none());
    }

    #[test]
    fn without_an_engine_every_pattern_is_skipped() {
        let mut p = Patterns::new(Box::new(NoPatternMatcher));
        let on = privacy(true, &["a", "b"]);
        let (warnings, _) = p.update(&on);
        assert_eq!(warnings.len(), 2);
        assert!(p.get(&on).is_none());
    }
}
