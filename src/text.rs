//! Small string helpers for the browser bundle's size: searching for an ASCII byte instead of a
//! `char` pattern (`str::find('x')`, `split('x')`, `split_once('x')`, `match_indices('x')` each
//! bring std's `CharSearcher` and `memchr`), and a whitespace test without `trim()`'s two-sided
//! search. Same results as the std calls they replace (tested below).

/// Byte offset of the first `b` in `s` (`b` ASCII, so the offset is a char boundary).
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c == b)
}

/// `s` split around its first `b` (`b` ASCII): `s.split_once(b as char)`.
pub fn split_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The pieces of `s` between the `sep` bytes (`sep` ASCII): `s.split(sep as char)`.
pub fn pieces(s: &str, sep: u8) -> Pieces<'_> {
    Pieces { rest: Some(s), sep }
}

/// Iterator of [`pieces`].
pub struct Pieces<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        Some(match split_byte(rest, self.sep) {
            Some((piece, after)) => {
                self.rest = Some(after);
                piece
            }
            None => {
                self.rest = None;
                rest
            }
        })
    }
}

/// The strings of `list` borrowed (one loop for every caller instead of an iterator chain each).
pub fn refs(list: &[String]) -> Vec<&str> {
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(s.as_str());
    }
    out
}

/// Owned copies of `list`.
pub fn owned(list: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(s.to_string());
    }
    out
}

/// Appends `bytes` (ASCII) as characters: no UTF-8 check in the browser bundle.
pub fn push_ascii(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        // `& 0x7f` (a no-op on ASCII) lets the compiler drop the multi-byte encoder here.
        out.push(char::from(b & 0x7f));
    }
}

/// `s` as a decimal `u64` when it is only ASCII digits (at least one) and fits:
/// `s.parse::<u64>()` without the sign and std's integer parser.
pub fn decimal(s: &str) -> Option<u64> {
    let digits = s.as_bytes();
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Whether `s` is empty or only whitespace: `s.trim().is_empty()`.
pub fn blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_parse_without_sign() {
        let max = u64::MAX.to_string();
        for s in [
            "0",
            "7",
            "0042",
            "18446744073709551616",
            "",
            "-1",
            "1.5",
            "1e3",
            "x",
            "99999999999999999999",
            &max,
        ] {
            let std = if s.starts_with(['+', '-']) {
                None
            } else {
                s.parse::<u64>().ok()
            };
            assert_eq!(decimal(s), std, "{s}");
        }
    }

    #[test]
    fn same_results_as_std() {
        for s in ["", "a", "=", "a=b", "=b", "a=", "a=b=c", "é=ü=", "==", "ä"] {
            assert_eq!(find_byte(s, b'='), s.find('='), "{s}");
            assert_eq!(split_byte(s, b'='), s.split_once('='), "{s}");
            assert_eq!(
                pieces(s, b'=').collect::<Vec<_>>(),
                s.split('=').collect::<Vec<_>>(),
                "{s}"
            );
        }
        for s in ["", " ", " \t\n\u{a0}\u{3000}", " x ", "x", "\u{200b}"] {
            assert_eq!(blank(s), s.trim().is_empty(), "{s:?}");
        }
    }
}
