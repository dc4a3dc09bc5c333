//! PII detection for `privacy.scrub_pii`, by hand (no regex crate in the browser bundle).
//!
//! A string value is redacted (replaced by [`REDACTED`]) when it contains:
//! - an email address: `local@domain.tld`;
//! - a phone number: 8–15 digits starting with `+`, or 9–15 digits grouped by spaces, dashes,
//!   parentheses or at least two dots (`(555) 123-4567`, `555.123.4567`), not glued to letters
//!   or a following `:` (so dates, times, versions and decimals pass);
//! - a card number: 13–19 digits, optionally grouped by single spaces or dashes, passing the
//!   Luhn check.
//!
//! Integer values with 13–19 digits that pass the Luhn check are redacted too.
//!
//! [`scrub_with`] also redacts strings matching the custom `pii_patterns` (see
//! [`super::patterns`]).

use super::patterns::PatternMatcher;
use crate::json::Value;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";

fn is_email_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_email_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// Whether `s` contains something shaped like an email address.
pub fn contains_email(s: &str) -> bool {
    // By bytes: `match_indices('@')` and `chars().next_back()` would bring std's character
    // search and reverse UTF-8 decoding into the browser bundle. A byte ≥ 0x80 (part of a
    // non-ASCII character) is neither a local nor a domain character, as the `char` was not.
    let bytes = s.as_bytes();
    for (at, &b) in bytes.iter().enumerate() {
        if b != b'@' {
            continue;
        }
        let local_ok = at > 0 && is_email_local(char::from(bytes[at - 1]));
        let domain: &str = {
            let rest = &s[at + 1..];
            let end = rest
                .as_bytes()
                .iter()
                .position(|&b| !is_email_domain(char::from(b)))
                .unwrap_or(rest.len());
            let mut domain = &rest[..end];
            while let Some(d) = domain.strip_suffix(".").or_else(|| domain.strip_suffix("-")) {
                domain = d;
            }
            domain
        };
        // The last `.` by bytes (`rsplit_once` would bring std's reverse character search into
        // the browser bundle for this one call).
        let last_dot = domain.as_bytes().iter().rposition(|&b| b == b'.');
        let tld_ok = last_dot
            .map(|i| (&domain[..i], &domain[i + 1..]))
            .is_some_and(|(host, tld)| {
                !host.is_empty()
                    && !host.starts_with('.')
                    && tld.len() >= 2
                    && tld.chars().all(|c| c.is_ascii_alphabetic())
            });
        if local_ok && tld_ok {
            return true;
        }
    }
    false
}

/// The Luhn checksum over the ASCII digits of `digits`.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum % 10 == 0
}

fn is_run_char(c: u8) -> bool {
    c.is_ascii_digit() || matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'+')
}

fn is_card(run: &[u8], digits: &[u8]) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    // No two separators in a row (by index: no `Windows` iterator in the browser bundle).
    let single_separators = (1..run.len()).all(|i| run[i - 1].is_ascii_digit() || run[i].is_ascii_digit());
    let only_spaces_dashes = run.iter().all(|c| c.is_ascii_digit() || matches!(c, b' ' | b'-'));
    only_spaces_dashes && single_separators && luhn_valid(digits)
}

fn is_phone(run: &[u8], digits: usize) -> bool {
    if run.first() == Some(&b'+') {
        return (8..=15).contains(&digits);
    }
    let grouped = run.iter().any(|c| matches!(c, b' ' | b'-' | b'(' | b')'))
        || run.iter().fold(0, |dots, &c| dots + usize::from(c == b'.')) >= 2;
    grouped && (9..=15).contains(&digits)
}

/// Whether `s` contains a phone number or a Luhn-valid card number (see the module docs).
pub fn contains_phone_or_card(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_digit() || b[i] == b'+' || b[i] == b'(') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_run_char(b[i]) {
            i += 1;
        }
        let mut end = i;
        while end > start && !b[end - 1].is_ascii_digit() && b[end - 1] != b')' {
            end -= 1;
        }
        let glued_before = start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let glued_after = end < b.len() && (b[end].is_ascii_alphanumeric() || matches!(b[end], b':' | b'_'));
        if glued_before || glued_after || end <= start {
            continue;
        }
        let run = &b[start..end];
        let mut digits: Vec<u8> = Vec::with_capacity(run.len());
        for &c in run {
            if c.is_ascii_digit() {
                digits.push(c);
            }
        }
        if is_card(run, &digits) || is_phone(run, digits.len()) {
            return true;
        }
    }
    false
}

/// Whether a string value should be redacted.
pub fn looks_like_pii(s: &str) -> bool {
    contains_email(s) || contains_phone_or_card(s)
}

/// Redacts PII in `value`, recursively; returns how many values were redacted.
pub fn scrub(value: &mut Value) -> usize {
    scrub_with(value, None)
}

/// [`scrub`], also redacting strings that `patterns` (the custom `pii_patterns` compiled by the
/// host, see [`super::patterns`]) match. Numbers are never matched against patterns (as in the
/// collector).
pub fn scrub_with(value: &mut Value, patterns: Option<&dyn PatternMatcher>) -> usize {
    match value {
        Value::String(s) if looks_like_pii(s) || patterns.is_some_and(|p| p.is_match(s)) => {
            *value = Value::String(REDACTED.to_string());
            1
        }
        // Integers written with 13–19 digits (no sign, fraction or exponent) that pass Luhn.
        Value::Number(n)
            if (13..=19).contains(&n.as_str().len())
                && n.as_str().as_bytes().iter().all(u8::is_ascii_digit)
                && luhn_valid(n.as_str().as_bytes()) =>
        {
            *value = Value::String(REDACTED.to_string());
            1
        }
        Value::Array(items) => {
            let mut n = 0;
            for v in items {
                n += scrub_with(v, patterns);
            }
            n
        }
        Value::Object(map) => {
            let mut n = 0;
            for v in map.values_mut() {
                n += scrub_with(v, patterns);
            }
            n
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn finds_emails() {
        for s in [
            "ada@example.com",
            "mail me: first.last+tag@mail.example.co.uk!",
            "A@B.io",
        ] {
            assert!(contains_email(s), "{s}");
        }
        for s in [
            "@handle",
            "user@localhost",
            "a@b.c",
            "x@.com",
            "price @ 5.00",
            "no at sign",
        ] {
            assert!(!contains_email(s), "{s}");
        }
    }

    #[test]
    fn finds_phone_numbers() {
        for s in [
            "+1 555 123 4567",
            "(555) 123-4567",
            "call 555-123-4567 now",
            "+4930123456",
            "555.123.4567",
        ] {
            assert!(contains_phone_or_card(s), "{s}");
        }
        for s in [
            "2026-11-28",
            "2026-11-28 10:15:30",
            "2026-11-28T10:15:30.123Z",
            "v1.2.3",
            "3.14159265358",
            "order 12345",
            "1234567890",
            "sku_555-123-4567",
            "-12.5",
        ] {
            assert!(!contains_phone_or_card(s), "{s}");
        }
    }

    #[test]
    fn finds_luhn_valid_cards_only() {
        for s in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "card 5500005555555559 ok",
            "378282246310005",
        ] {
            assert!(contains_phone_or_card(s), "{s}");
        }
        assert!(!contains_phone_or_card("4111 1111 1111 1112"));
        assert!(!contains_phone_or_card("41111111111111112222"));
        assert!(luhn_valid(b"79927398713") && !luhn_valid(b"79927398710"));
    }

    #[test]
    fn scrub_walks_nested_values() {
        let mut v = parse(
            r#"{"email": "ada@example.com",
                "nested": {"list": ["ok", "+44 20 7946 0958", 4111111111111111, -4111111111111111]},
                "amount": 49.9, "count": 12, "when": "2026-11-28T10:15:30.123Z"}"#,
        )
        .unwrap();
        assert_eq!(scrub(&mut v), 3);
        assert_eq!(v["email"], REDACTED);
        assert_eq!(
            v["nested"]["list"].to_json(),
            r#"["ok","[redacted]","[redacted]",-4111111111111111]"#
        );
        assert_eq!(v["amount"].to_json(), "49.9");
        assert_eq!(v["when"], "2026-11-28T10:15:30.123Z");
    }
}
