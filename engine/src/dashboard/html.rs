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

use serde_json::json;

use super::data::DashboardData;

const TEMPLATE: &str = include_str!("../../assets/page.html");
const CSS: &str = include_str!("../../assets/dashboard.css");
/// The dashboards' stylesheet, for other pages of the host that should look the same (the
/// collector's landing and privacy pages).
pub const STYLESHEET: &str = CSS;
const JS: &str = include_str!("../../assets/dashboard.js");

/// Which page to render.
#[derive(Debug, Clone, Copy)]
pub enum Page<'a> {
    /// The live page of one dashboard (data fetched by the browser).
    Live { dashboard_id: &'a str, name: &'a str },
    /// The list of dashboards.
    Index,
    /// A report with the data embedded (several dashboards, one section each).
    Static {
        title: &'a str,
        reports: &'a [DashboardData],
    },
}

/// Renders `page`. `api_base` prefixes every URL the page fetches or links (`""` when the
/// collector serves the API at the root; no trailing slash).
pub fn render_dashboard_html(page: Page<'_>, api_base: &str) -> String {
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
    fill(TEMPLATE, |key| match key {
        "title" => Some(escape_html(&format!("{heading} · Footfall"))),
        "mode" => Some(mode.to_string()),
        "heading" => Some(escape_html(&heading)),
        "subheading" => Some(escape_html(&sub)),
        "controls" => Some(controls.to_string()),
        "status" => Some(status.to_string()),
        "footer" => Some(escape_html(&footer)),
        "config" => Some(script_json(&config)),
        "css" => Some(CSS.to_string()),
        "js" => Some(JS.to_string()),
        _ => None,
    })
}

/// The dashboards index page.
pub fn render_index_html(api_base: &str) -> String {
    render_dashboard_html(Page::Index, api_base)
}

/// A static report of `reports` (what `footfall dashboard render` writes).
pub fn render_static_report(title: &str, reports: &[DashboardData]) -> String {
    render_dashboard_html(Page::Static { title, reports }, "")
}

const EVENTS_JS: &str = include_str!("../../assets/events.js");

/// The Live events page (`/events`): the newest stored events, refreshed every 2 s, with
/// filters, each row expandable to everything stored, and the refused messages with their
/// reasons. Holds no data: its script runs the `raw_events` query with the admin token.
pub fn render_events_html(api_base: &str) -> String {
    let config = json!({"mode": "events", "apiBase": api_base});
    fill(TEMPLATE, |key| match key {
        "title" => Some("Live events · Footfall".into()),
        "mode" => Some("events".into()),
        "heading" => Some("Live events".into()),
        "subheading" => {
            Some("What the collector stored, newest first (click a row for everything stored)".into())
        }
        "controls" | "status" => Some(String::new()),
        "footer" => Some("live events".into()),
        "config" => Some(script_json(&config)),
        "css" => Some(CSS.to_string()),
        "js" => Some(EVENTS_JS.to_string()),
        _ => None,
    })
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
    fn fill_leaves_unknown_keys_and_does_not_rescan() {
        let out = fill("a{{x}}b{{y}}c{{", |k| (k == "x").then(|| "{{y}}".to_string()));
        assert_eq!(out, "a{{y}}b{{y}}c{{");
    }
}
