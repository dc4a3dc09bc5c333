//! [`RegexMatcher`]: the native host's engine for the custom PII patterns, Rust's `regex` crate
//! built exactly as the collector builds them (`RegexBuilder` with a 1 MiB size limit, so a
//! pattern cannot make matching slow; `is_match`: a match anywhere in the value), so the SDK and
//! the collector redact the same values.

use regex::{Regex, RegexBuilder};

use crate::pipeline::patterns::{InvalidPattern, PatternMatcher};

/// Compiled size limit of one pattern, as in the collector.
const SIZE_LIMIT: usize = 1 << 20;

/// The custom PII patterns compiled with the `regex` crate.
#[derive(Debug, Clone, Default)]
pub struct RegexMatcher {
    patterns: Vec<Regex>,
}

impl PatternMatcher for RegexMatcher {
    fn compile(&mut self, patterns: &[String]) -> Vec<InvalidPattern> {
        self.patterns.clear();
        let mut invalid = Vec::new();
        for (index, p) in patterns.iter().enumerate() {
            match RegexBuilder::new(p).size_limit(SIZE_LIMIT).build() {
                Ok(re) => self.patterns.push(re),
                Err(e) => invalid.push(InvalidPattern {
                    index,
                    message: format!("not a valid regular expression: {e}"),
                }),
            }
        }
        invalid
    }

    fn is_match(&self, s: &str) -> bool {
        self.patterns.iter().any(|re| re.is_match(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_semantics_and_invalid_patterns_skipped() {
        let mut m = RegexMatcher::default();
        let invalid = m.compile(&[r"^secret-\d+$".into(), "(".into(), "tok[0-9]".into()]);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].index, 1);
        assert!(m.is_match("secret-42") && m.is_match("my tok7 here"));
        assert!(!m.is_match("a secret-42") && !m.is_match("secret-42x"));
        assert!(
            m.compile(&[]).is_empty() && !m.is_match("secret-42"),
            "recompiled from scratch"
        );
    }
}
