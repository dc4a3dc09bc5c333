//! Enrichment: user agent → browser, OS, device type and bot flag (the `woothee` parser, with a
//! bounded cache because one batch usually repeats one user agent), and IP handling (client
//! address from the connection or trusted `X-Forwarded-For` hops, truncation).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;

/// What the user agent says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UaInfo {
    pub browser: Option<String>,
    pub os: Option<String>,
    /// desktop, mobile, tablet, appliance, bot, other.
    pub device_type: Option<String>,
    pub is_bot: bool,
}

/// Parses a user agent (uncached).
pub fn parse_user_agent(ua: &str) -> UaInfo {
    let known = |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_string());
    let lower = ua.to_ascii_lowercase();
    // woothee's crawler list misses headless browsers and some generic tools.
    let looks_automated = [
        "headlesschrome",
        "phantomjs",
        "bot/",
        "bot;",
        "crawler",
        "spider",
        "python-requests",
        "curl/",
        "wget/",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let Some(r) = woothee::parser::Parser::new().parse(ua) else {
        return UaInfo {
            is_bot: looks_automated,
            device_type: looks_automated.then(|| "bot".into()),
            ..UaInfo::default()
        };
    };
    let is_bot = r.category == "crawler" || looks_automated;
    let device_type = if is_bot {
        Some("bot".to_string())
    } else {
        match r.category {
            "pc" => Some("desktop".to_string()),
            "smartphone" if r.os == "iPad" || (lower.contains("android") && !lower.contains("mobile")) => {
                Some("tablet".to_string())
            }
            "smartphone" | "mobilephone" => Some("mobile".to_string()),
            "appliance" => Some("appliance".to_string()),
            "misc" => Some("other".to_string()),
            _ => None,
        }
    };
    UaInfo {
        browser: known(r.name),
        os: known(r.os),
        device_type,
        is_bot,
    }
}

/// Whether a request's `User-Agent` is a browser's (`Mozilla/…`, which every browser, headless
/// browser and JavaScript-running crawler sends). Only then does it describe the person a message
/// without `context.userAgent` is about: server-side senders (Segment's and RudderStack's server
/// libraries, curl, python-requests, our native SDK) send on behalf of their users, so their own
/// user agent neither describes the user's device nor makes the event a bot's.
pub fn is_browser(request_user_agent: &str) -> bool {
    let ua = request_user_agent.trim_start();
    ua.starts_with("Mozilla/") || ua.starts_with("Opera/")
}

/// A bounded cache of parsed user agents (cleared when full: user agents are few and hot).
#[derive(Default)]
pub struct UaCache {
    map: Mutex<HashMap<Box<str>, Arc<UaInfo>>>,
}

const UA_CACHE_CAPACITY: usize = 4096;
const UA_MAX_LEN: usize = 1024;

impl UaCache {
    pub fn get(&self, ua: &str) -> Arc<UaInfo> {
        if ua.len() > UA_MAX_LEN {
            return Arc::new(parse_user_agent(&ua[..ua.floor_char_boundary(UA_MAX_LEN)]));
        }
        if let Some(hit) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(ua) {
            return hit.clone();
        }
        let info = Arc::new(parse_user_agent(ua));
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= UA_CACHE_CAPACITY {
            map.clear();
        }
        map.insert(ua.into(), info.clone());
        info
    }
}

/// The client address: the connection's, or with `hops` trusted proxies the `hops`-th
/// `X-Forwarded-For` entry from the right (falling back to the connection's when absent).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, hops: usize) -> Option<IpAddr> {
    if hops > 0 {
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.len() >= hops
            && let Ok(ip) = entries[entries.len() - hops].parse::<IpAddr>()
        {
            return Some(ip);
        }
    }
    peer
}

/// IPv4 keeps its first three octets, IPv6 its first 48 bits (the last 80 are zeroed).
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return truncate_ip(IpAddr::V4(v4));
            }
            let bits = u128::from(v6) & (!0u128 << 80);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_bots() {
        let chrome = parse_user_agent(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36",
        );
        assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
        assert_eq!(chrome.os.as_deref(), Some("Linux"));
        assert_eq!(chrome.device_type.as_deref(), Some("desktop"));
        assert!(!chrome.is_bot);
        let iphone = parse_user_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(iphone.device_type.as_deref(), Some("mobile"));
        assert_eq!(iphone.os.as_deref(), Some("iPhone"));
        let google =
            parse_user_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(google.is_bot);
        assert_eq!(google.device_type.as_deref(), Some("bot"));
        assert!(parse_user_agent("Mozilla/5.0 HeadlessChrome/120.0.0.0 Safari/537.36").is_bot);
        assert!(!parse_user_agent("footfall-rust/0.1.0").is_bot);
        assert_eq!(parse_user_agent("").browser, None);
    }

    #[test]
    fn browsers_versus_server_side_senders() {
        assert!(is_browser(
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/148.0.0.0 Safari/537.36"
        ));
        assert!(is_browser(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        ));
        assert!(is_browser("Mozilla/5.0 HeadlessChrome/120.0.0.0 Safari/537.36"));
        for server in [
            "curl/8.5.0",
            "python-requests/2.32.3",
            "analytics-node-next/latest",
            "analytics-python/2.4.0",
            "analytics-node/3.0.13",
            "footfall-rust/0.1.0",
            "",
        ] {
            assert!(!is_browser(server), "{server}");
        }
    }

    #[test]
    fn cache_returns_the_same_answer() {
        let cache = UaCache::default();
        let ua = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
        assert_eq!(*cache.get(ua), parse_user_agent(ua));
        assert!(cache.get(ua).is_bot);
        assert!(!cache.get(&"x".repeat(5000)).is_bot);
    }

    #[test]
    fn ip_truncation() {
        assert_eq!(
            truncate_ip("203.0.113.77".parse().unwrap()).to_string(),
            "203.0.113.0"
        );
        assert_eq!(
            truncate_ip("2001:db8:85a3:1234:5678:8a2e:370:7334".parse().unwrap()).to_string(),
            "2001:db8:85a3::"
        );
        assert_eq!(
            truncate_ip("::ffff:198.51.100.9".parse().unwrap()).to_string(),
            "198.51.100.0"
        );
    }

    #[test]
    fn forwarded_for_hops() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.1.1.1, 2.2.2.2, 3.3.3.3".parse().unwrap());
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&h, peer, 0), peer);
        assert_eq!(client_ip(&h, peer, 1).unwrap().to_string(), "3.3.3.3");
        assert_eq!(client_ip(&h, peer, 2).unwrap().to_string(), "2.2.2.2");
        assert_eq!(client_ip(&h, peer, 5), peer);
    }
}
