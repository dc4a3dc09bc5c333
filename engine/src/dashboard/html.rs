//! Self-contained HTML pages: the live dashboard page, the dashboards index and the static
//! report. One template (`engine/assets/page.html`), one stylesheet and one script, inlined with
//! `include_str!`: the binary serves everything, no CDN, and a report file works offline.
//!
//! # Why hand-written SVG rather than a chart library
//!
//! The widgets need four simple forms — a number tile, line and bar charts over at most a few
//! hundred points, funnel bars and tables. About 150 lines of SVG code in `dashboard.js` draw the
//! charts; a library such as uPlot (≈50 KB, canvas) would cover only lines and bars, still leave
//! tiles, funnels and tables to us, and put the numbers in pixels. SVG keeps every value in the
//! DOM (`data-value`, `<title>` tooltips), so pages are accessible, print crisply, scale to any
//! screen, and the headless-browser test can compare what is displayed with the JSON API.
//!
//! # Pages
//!
//! * Live (`/dashboards/{id}`): a shell holding only the dashboard id; the script fetches
//!   `/v1/dashboards/{id}/data?from=&to=` with the admin token (`Authorization: Bearer`, taken
//!   from `#token=...` once or asked for on 401 and kept in `sessionStorage`). Range presets,
//!   custom dates, Refresh, per-widget CSV export and a "Data" view of each chart.
//! * Index (`/dashboards`): fetches `/v1/dashboards` and links each dashboard.
//! * Static report: every [`DashboardData`] embedded as JSON; CSV export still works offline.
//!
//! Embedded JSON has `<`, `>` and `&` escaped as `\u003c`..., so no data can close the script tag.
//!
//! # Untrusted data and the pages' defences
//!
//! Event names, property values, ids, URLs and user agents come from anyone holding a public
//! write key. The pages never build markup from data: the server escapes what it inserts
//! ([`escape_html`], [`script_json`]), the scripts only create elements and text nodes. On top,
//! every page carries a Content-Security-Policy ([`content_security_policy`]) that lets only the
//! page's own inline script and styles run, by their SHA-256 (the binary serves them, so the
//! hashes are known; a report file works offline): an injected `<script>` or `onerror=` would
//! not run. Served pages get it as a header with the other hardening headers
//! ([`html_response`]: no framing, no sniffing, no referrer); the template also carries it as a
//! `<meta>` for the static report. A page of this template with another script: choose it in
//! [`render_dashboard_page`] (the policy follows) and serve it as `http.rs` does; a page of
//! another template: [`content_security_policy`] of its blocks, then [`html_response`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::data::DashboardData;

const TEMPLATE: &str = include_str!("../../assets/page.html");
const CSS: &str = include_str!("../../assets/dashboard.css");
/// The dashboards' stylesheet, for other pages of the host that should look the same (the
/// collector's landing and privacy pages).
pub const STYLESHEET: &str = CSS;
const JS: &str = include_str!("../../assets/dashboard.js");
const EVENTS_JS: &str = include_str!("../../assets/events.js");

/// Which page to render.
#[derive(Debug, Clone, Copy)]
pub enum Page<'a> {
    /// The live page of one dashboard (data fetched by the browser).
    Live { dashboard_id: &'a str, name: &'a str },
    /// The list of dashboards.
    Index,
    /// Live events (`/events`): the newest stored events, refreshed every 2 s, with filters,
    /// each row expandable to everything stored, and the refused messages with their reasons.
    /// Holds no data: its script (`events.js`) runs the `raw_events` query with the admin token.
    Events,
    /// A report with the data embedded (several dashboards, one section each).
    Static {
        title: &'a str,
        reports: &'a [DashboardData],
    },
}

/// Renders `page`. `api_base` prefixes every URL the page fetches or links (`""` when the
/// collector serves the API at the root; no trailing slash).
pub fn render_dashboard_html(page: Page<'_>, api_base: &str) -> String {
    render_dashboard_page(page, api_base).html
}

/// A rendered page and the Content-Security-Policy that lets exactly its script and styles run
/// (also embedded as a `<meta>`; serve it with [`html_response`]).
#[derive(Debug, Clone)]
pub struct RenderedPage {
    pub html: String,
    pub csp: String,
}

/// Renders `page` (see [`render_dashboard_html`]) with its policy.
pub fn render_dashboard_page(page: Page<'_>, api_base: &str) -> RenderedPage {
    let (mode, heading, sub, controls, status, footer, config) = match page {
        Page::Live { dashboard_id, name } => (
            "live",
            name.to_string(),
            String::new(),
            "",
            "",
            "live dashboard".to_string(),
            json!({"mode": "live", "dashboardId": dashboard_id, "apiBase": api_base}),
        ),
        Page::Index => (
            "index",
            "Dashboards".to_string(),
            String::new(),
            "",
            "",
            "dashboards".to_string(),
            json!({"mode": "index", "apiBase": api_base}),
        ),
        Page::Events => (
            "events",
            "Live events".to_string(),
            "What the collector stored, newest first (click a row for everything stored)".to_string(),
            "",
            "",
            "live events".to_string(),
            json!({"mode": "events", "apiBase": api_base}),
        ),
        Page::Static { title, reports } => {
            let generated = reports
                .first()
                .map(|r| r.generated_at.clone())
                .unwrap_or_default();
            let n = reports.iter().map(|r| r.widgets.len()).sum::<usize>();
            (
                "static",
                title.to_string(),
                match reports {
                    [one] => one.dashboard.description.clone().unwrap_or_default(),
                    _ => format!("{} dashboards, {n} widgets", reports.len()),
                },
                "",
                "",
                format!("static report generated {generated}"),
                json!({"mode": "static", "apiBase": api_base, "reports": reports}),
            )
        }
    };
    // The page's one script; the CSP allows exactly it.
    let script = match page {
        Page::Events => EVENTS_JS,
        _ => JS,
    };
    let csp = content_security_policy(&[script], &[CSS], api_base);
    let html = fill(TEMPLATE, |key| match key {
        "csp" => Some(escape_html(&csp)),
        "title" => Some(escape_html(&format!("{heading} · Footfall"))),
        "mode" => Some(mode.to_string()),
        "heading" => Some(escape_html(&heading)),
        "subheading" => Some(escape_html(&sub)),
        "controls" => Some(controls.to_string()),
        "status" => Some(status.to_string()),
        "footer" => Some(escape_html(&footer)),
        "config" => Some(script_json(&config)),
        "css" => Some(CSS.to_string()),
        "js" => Some(script.to_string()),
        _ => None,
    });
    RenderedPage { html, csp }
}

/// The dashboards index page.
pub fn render_index_html(api_base: &str) -> String {
    render_dashboard_html(Page::Index, api_base)
}

/// A static report of `reports` (what `footfall dashboard render` writes).
pub fn render_static_report(title: &str, reports: &[DashboardData]) -> String {
    render_dashboard_html(Page::Static { title, reports }, "")
}

/// A Content-Security-Policy for a page whose only scripts and styles are the inline blocks
/// `scripts` and `styles` (each exactly the text between its tags), allowed by SHA-256: nothing
/// else runs (no injected `<script>`, event-handler attribute or `javascript:` URL), no plugin,
/// no `<base>`, no form submission; images only `data:` (the favicon); requests only to the
/// page's origin, and to `api_base`'s when it is an absolute `http(s)://` URL. For a `<meta>`:
/// [`html_response`] adds `frame-ancestors 'none'` to the header (ignored in a `<meta>`).
pub fn content_security_policy(scripts: &[&str], styles: &[&str], api_base: &str) -> String {
    let hashes = |blocks: &[&str]| {
        if blocks.is_empty() {
            return "'none'".to_string();
        }
        blocks
            .iter()
            .map(|b| format!("'sha256-{}'", BASE64.encode(Sha256::digest(b.as_bytes()))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut connect = "'self'".to_string();
    if let Some(origin) = absolute_origin(api_base) {
        connect = format!("{connect} {origin}");
    }
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src {connect}; \
         base-uri 'none'; form-action 'none'",
        hashes(scripts),
        hashes(styles)
    )
}

/// `scheme://host[:port]` of an absolute http(s) URL made only of URL-safe characters.
fn absolute_origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = url.len() - rest.len() + rest.find('/').unwrap_or(rest.len());
    let origin = &url[..end];
    origin
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.:/[]".contains(c))
        .then_some(origin)
}

/// An HTML page response with its hardening headers: `Content-Security-Policy` (`csp` plus
/// `frame-ancestors 'none'`), `X-Frame-Options: DENY` (older browsers; no clickjacking of the
/// pages' buttons), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
/// `Cross-Origin-Opener-Policy: same-origin`.
#[cfg(feature = "http")]
pub fn html_response(html: String, csp: &str) -> axum::response::Response {
    use axum::http::{HeaderName, HeaderValue, header};
    use axum::response::IntoResponse;
    let mut response = axum::response::Html(html).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{csp}; frame-ancestors 'none'")) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Replaces each `{{key}}` of the template (only the template's own placeholders: inserted text
/// is never scanned again); unknown keys stay as they are.
pub fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + CSS.len() + JS.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match value(key) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside `<script type="application/json">`.
pub fn script_json(v: &serde_json::Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_page_embeds_escaped_config_and_assets() {
        let html = render_dashboard_html(
            Page::Live {
                dashboard_id: "x</script>",
                name: "<b>A&B</b>",
            },
            "",
        );
        assert!(html.contains("&lt;b&gt;A&amp;B&lt;/b&gt;"));
        assert!(!html.contains("x</script>"));
        assert!(html.contains("x\\u003c/script\\u003e"));
        assert!(html.contains("function lineChart"));
        assert!(html.contains(".ff-card"));
        assert!(!html.contains("{{"), "unfilled placeholder");
        for external in [
            "<script src",
            "href=\"http",
            "src=\"http",
            "url(",
            "@import",
            "rel=\"stylesheet",
        ] {
            assert!(!html.contains(external), "external resource: {external}");
        }
    }

    #[test]
    fn csp_allows_exactly_the_inline_script_and_styles() {
        let dashboard_csp = |base: &str| render_dashboard_page(Page::Index, base).csp;
        let csp = dashboard_csp("");
        let hash = |t: &str| format!("'sha256-{}'", BASE64.encode(Sha256::digest(t.as_bytes())));
        assert!(csp.contains(&format!("script-src {};", hash(JS))), "{csp}");
        assert!(csp.contains(&format!("style-src {};", hash(CSS))), "{csp}");
        for directive in ["default-src 'none'", "base-uri 'none'", "connect-src 'self';"] {
            assert!(csp.contains(directive), "{directive}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(content_security_policy(&[], &[], "").contains("script-src 'none'"));
        let remote = dashboard_csp("https://api.example.com:8443/base");
        assert!(
            remote.contains("connect-src 'self' https://api.example.com:8443;"),
            "{remote}"
        );
        assert!(dashboard_csp("https://x.com; script-src *").contains("connect-src 'self';"));
        // The page carries it as a <meta> too (the static report has no headers).
        let html = render_static_report("r", &[]);
        assert!(html.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            escape_html(&dashboard_csp(""))
        )));
        let script = html
            .split("<script>")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        assert_eq!(script, JS, "the hashed text is exactly the script block");
    }

    #[test]
    fn fill_leaves_unknown_keys_and_does_not_rescan() {
        let out = fill("a{{x}}b{{y}}c{{", |k| (k == "x").then(|| "{{y}}".to_string()));
        assert_eq!(out, "a{{y}}b{{y}}c{{");
    }
}
