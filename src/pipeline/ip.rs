//! IP addresses for `anonymize_ip`, by hand: parsing (the same grammar `std::net` accepts) and
//! the truncated address's text. `std`'s parser and `Display` would pull the formatting
//! machinery into the browser bundle for two small functions; the native tests check this
//! module against `std::net` on thousands of addresses.

/// A parsed address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut out {
        let p = parts.next()?;
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        *octet = u8::try_from(p.bytes().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Groups of `s` (a `:`-separated run, possibly ending in an IPv4 address), appended to `out`.
fn groups(s: &str, out: &mut Vec<u16>) -> Option<()> {
    if s.is_empty() {
        return Some(());
    }
    let mut parts = s.split(':').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() && p.contains('.') {
            let [a, b, c, d] = parse_v4(p)?;
            out.push(u16::from_be_bytes([a, b]));
            out.push(u16::from_be_bytes([c, d]));
        } else {
            if p.is_empty() || p.len() > 4 {
                return None;
            }
            out.push(u16::from_str_radix(p, 16).ok()?);
        }
        if out.len() > 8 {
            return None;
        }
    }
    Some(())
}

fn parse_v6(s: &str) -> Option<[u16; 8]> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
        return None;
    }
    let (mut head, mut tail) = (Vec::with_capacity(8), Vec::with_capacity(8));
    let double = s.as_bytes().windows(2).position(|w| w == b"::");
    let compressed = match double {
        Some(i) => {
            let (h, t) = (&s[..i], &s[i + 2..]);
            groups(h, &mut head)?;
            groups(t, &mut tail)?;
            // An IPv4 part may only end the address; one `::` at most.
            if h.contains('.') || t.as_bytes().windows(2).any(|w| w == b"::") {
                return None;
            }
            true
        }
        None => {
            groups(s, &mut head)?;
            false
        }
    };
    let n = head.len() + tail.len();
    if (compressed && n > 7) || (!compressed && n != 8) {
        return None;
    }
    let mut out = [0u16; 8];
    out[..head.len()].copy_from_slice(&head);
    out[8 - tail.len()..].copy_from_slice(&tail);
    Some(out)
}

/// Parses an IPv4 or IPv6 address (no surrounding whitespace, no zone index).
pub fn parse(s: &str) -> Option<Ip> {
    if s.contains(':') {
        parse_v6(s).map(Ip::V6)
    } else {
        parse_v4(s).map(Ip::V4)
    }
}

/// Truncates an IP address: IPv4 keeps its first three octets (last octet zeroed), IPv6 its
/// first 48 bits (last 80 bits zeroed). `None` if `ip` (trimmed) is not an address.
pub fn truncate_ip(ip: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    match parse(ip.trim())? {
        Ip::V4([a, b, c, _]) => {
            for octet in [a, b, c] {
                crate::json::push_u64(&mut out, u64::from(octet));
                out.push('.');
            }
            out.push('0');
        }
        Ip::V6(seg) => {
            // The zeroed tail (80 bits) is always the longest run of zero groups, which is the
            // one `::` stands for (RFC 5952); the kept groups print in short lowercase hex.
            let kept = seg[..3].iter().rposition(|&g| g != 0).map_or(0, |i| i + 1);
            for (i, g) in seg[..kept].iter().enumerate() {
                if i > 0 {
                    out.push(':');
                }
                push_hex(&mut out, *g);
            }
            out.push_str("::");
        }
    }
    Some(out)
}

fn push_hex(out: &mut String, g: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (g >> shift) & 15;
        if d != 0 || started || shift == 0 {
            started = true;
            out.push(char::from(HEX[usize::from(d)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn std_truncate(ip: &str) -> Option<String> {
        match ip.trim().parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Some(std::net::Ipv4Addr::new(a, b, c, 0).to_string())
            }
            IpAddr::V6(v6) => {
                let mut seg = v6.segments();
                seg[3..].fill(0);
                Some(std::net::Ipv6Addr::from(seg).to_string())
            }
        }
    }

    #[test]
    fn truncates_like_std_on_known_cases() {
        for ip in [
            "203.0.113.77",
            " 10.0.0.1 ",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8:85a3:8d3:1319:8a2e:370:7348",
            "::1",
            "::",
            "1::",
            "0:1::",
            "0:0:5::",
            "0:a:0::1",
            "::ffff:198.51.100.9",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6::8",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:1.2.3.4",
            "FE80::1",
            "fe80::1%eth0",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3.-4",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            ":1::",
            "1:::2",
            "12345::",
            "1.2.3.4::",
            "::1.2.3",
            "not-an-ip",
            "",
            "+1.2.3.4",
            "1:2:3:4:5:6:7",
            "::1:2:3:4:5:6:7:8",
            "0000:0000::00001",
        ] {
            assert_eq!(truncate_ip(ip), std_truncate(ip), "{ip:?}");
        }
    }

    #[test]
    fn truncates_like_std_on_random_addresses() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let r = next();
            let mut seg = [0u16; 8];
            for (i, s) in seg.iter_mut().enumerate() {
                // Plenty of zero groups, so every compression shape shows up.
                *s = if (r >> (i * 3)) & 3 == 0 {
                    0
                } else {
                    (next() >> 40) as u16
                };
            }
            let v6 = std::net::Ipv6Addr::from(seg).to_string();
            assert_eq!(truncate_ip(&v6), std_truncate(&v6), "{v6}");
            let v4 = std::net::Ipv4Addr::from((r >> 32) as u32).to_string();
            assert_eq!(truncate_ip(&v4), std_truncate(&v4), "{v4}");
        }
    }
}
