//! The collector's own HTML pages, self-contained (no CDN; the dashboards' stylesheet, so they
//! look the same), and the browser example:
//!
//! * `GET /` — what this server is, links to the dashboards, the privacy settings, the example
//!   page, `/health` and `/metrics`; with `--demo`, the demo's write key and where the admin
//!   token is.
//! * `GET /privacy[?project=ID]` — the privacy settings page (`assets/privacy.js`): every setting
//!   with a one-line explanation, save, the audit history, and the data-subject tools. Like the
//!   dashboards, the page holds no data: its script calls the admin API with the admin token.
//! * `GET /example/…` — the directories of `example_dirs` (`--example-dir`, repeatable): the first
//!   that has the file wins; a path without a file extension that no directory has gets the first
//!   directory's `index.html` (single-page-app routes). 404 when none is configured. Only files
//!   inside the directories are served: no `..` or hidden segment, and no symbolic link that
//!   resolves outside its directory.
//!
//! The landing and privacy pages carry a Content-Security-Policy that allows only their own
//! inline script and styles (by hash) and the other hardening headers of the dashboards
//! ([`html_response`]); the example's files are the user's and are served as they are.

use std::path::{Path as FsPath, PathBuf};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use footfall_engine::dashboard::html::{
    STYLESHEET, content_security_policy, escape_html, fill, html_response, script_json,
};
use serde_json::json;

use super::RouteTable;
use crate::state::AppState;

const TEMPLATE: &str = include_str!("../../assets/pages.html");
const PAGE_CSS: &str = include_str!("../../assets/pages.css");
const PRIVACY_JS: &str = include_str!("../../assets/privacy.js");

pub fn routes(table: RouteTable) -> RouteTable {
    table
        .add("/", &["GET"], get(home))
        .add("/privacy", &["GET"], get(privacy_page))
        .add(
            "/example",
            &["GET"],
            get(|| async { Redirect::permanent("/example/") }),
        )
        .add("/example/", &["GET"], get(example_index))
        .add("/example/{*path}", &["GET"], get(example_file))
}

/// Fills the page template; served with a CSP allowing just `script` and the two stylesheets.
fn page(page: &str, title: &str, subtitle: &str, main: &str, script: &str) -> Response {
    let scripts: &[&str] = if script.is_empty() { &[] } else { &[script] };
    let csp = content_security_policy(scripts, &[STYLESHEET, PAGE_CSS], "");
    let html = fill(TEMPLATE, |key| match key {
        "csp" => Some(escape_html(&csp)),
        "title" => Some(escape_html(title)),
        "subtitle" => Some(escape_html(subtitle)),
        "page" => Some(page.to_string()),
        "css" => Some(STYLESHEET.to_string()),
        "page_css" => Some(PAGE_CSS.to_string()),
        "controls" => Some(String::new()),
        "main" => Some(main.to_string()),
        "config" => Some(script_json(&json!({ "page": page }))),
        "script" => Some(if script.is_empty() {
            String::new()
        } else {
            format!("<script>{script}</script>")
        }),
        _ => None,
    });
    html_response(html, &csp)
}

fn link(href: &str, label: &str, text: &str) -> String {
    format!(
        "<li><a href=\"{}\">{}</a><p>{}</p></li>",
        escape_html(href),
        escape_html(label),
        text
    )
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let c = &state.config;
    // Where the client reached us (the configured address may be 0.0.0.0 or port 0).
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| c.listen.to_string(), str::to_string);
    let store = crate::backend::location(c);
    let store_kind = if store.starts_with("postgres") {
        "PostgreSQL"
    } else if store.starts_with("http") {
        "ClickHouse"
    } else if store == "noop" {
        "nowhere (no-op benchmark store)"
    } else {
        "the embedded DuckDB store"
    };
    let mut links = vec![
        link(
            "/dashboards",
            "Dashboards",
            "Charts, funnels and tables over the stored events (admin token).",
        ),
        link(
            "/events",
            "Live events",
            "The newest stored events as they arrive, everything stored for each, and the refused messages with the reason (admin token).",
        ),
        link(
            "/privacy",
            "Privacy settings",
            "What is collected and kept: IP handling, consent, deny lists, retention; the change history; erase or export a person (admin token).",
        ),
    ];
    links.push(if c.example_dirs.is_empty() {
        link(
            "/example/",
            "Browser example",
            "Not served: start with <code>--example-dir examples/browser --example-dir js/dist</code>.",
        )
    } else {
        link(
            "/example/",
            "Browser example",
            "A small shop page using the browser SDK; it sends its events to this server.",
        )
    });
    links.push(link("/health", "/health", "Liveness: this process answers."));
    links.push(link("/ready", "/ready", "Readiness: the store is reachable."));
    links.push(link(
        "/metrics",
        "/metrics",
        "Prometheus metrics: received, accepted, refused by reason, store latency.",
    ));
    let projects: Vec<String> = c
        .projects
        .iter()
        .map(|p| {
            format!(
                "<li><code>{}</code> {}</li>",
                escape_html(&p.id),
                escape_html(p.name.as_deref().unwrap_or_default())
            )
        })
        .collect();
    let demo = match c.projects.iter().find(|p| c.demo && p.id == crate::demo::PROJECT) {
        Some(p) => format!(
            "<section class=\"ff-card ff-section\" id=\"demo\"><h3>Demo mode</h3>\
             <p>Project <code>{id}</code>, seeded with two months of generated traffic. Write key: <code>{key}</code>.</p>\
             <p>The admin token (for the dashboards and privacy pages, which ask for it once) was printed by \
             <code>footfall serve --demo</code> on its terminal: the line <code>footfall: admin token `…`</code>; the dashboards and privacy links printed under it carry it.</p>\
             <pre class=\"ff-pre\">curl -u {key}: -H 'content-type: application/json' \\\n  -d '{{\"batch\":[{{\"type\":\"track\",\"messageId\":\"m1\",\"userId\":\"u1\",\"event\":\"signup\"}}]}}' \\\n  http://{addr}/v1/batch</pre></section>",
            id = escape_html(&p.id),
            key = escape_html(&p.write_keys[0]),
            addr = escape_html(&host),
        ),
        None => String::new(),
    };
    let main = format!(
        "<p class=\"ff-lead\">This is a <b>Footfall collector</b>: it receives analytics events from the Footfall SDKs \
         and any Segment-compatible client (<code>POST /v1/batch</code>, <code>/v1/track</code>, …), applies each \
         project's privacy settings, stores the events in {store_kind} and serves dashboards over them. \
         Its HTTP API is described in <code>collector/openapi.yaml</code>.</p>\
         <ul class=\"ff-links\">{links}</ul>{demo}\
         <section class=\"ff-card ff-section\"><h3>Projects</h3><ul>{projects}</ul></section>",
        links = links.join(""),
        projects = if projects.is_empty() {
            "<li>none configured</li>".to_string()
        } else {
            projects.join("")
        },
    );
    page(
        "home",
        "Footfall collector",
        "analytics ingestion, dashboards, privacy",
        &main,
        "",
    )
}

async fn privacy_page() -> Response {
    page(
        "privacy",
        "Privacy settings",
        "what is collected and kept, for every client",
        "<div class=\"ff-empty\">Loading…</div><noscript>This page needs JavaScript.</noscript>",
        PRIVACY_JS,
    )
}

/// A request path below `/example/` as safe relative components (no `..`, no hidden tricks).
fn safe_relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." || seg.contains(['\\', '\0']) || seg.starts_with('.') {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

/// `dir/rel` when it is a regular file whose real path (symbolic links resolved) is inside the
/// real `dir`: a link in an example directory never exposes a file outside it.
fn inside(dir: &FsPath, rel: &FsPath) -> Option<PathBuf> {
    let root = std::fs::canonicalize(dir).ok()?;
    let file = std::fs::canonicalize(dir.join(rel)).ok()?;
    (file.starts_with(&root) && file.is_file()).then_some(file)
}

fn content_type(path: &FsPath) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn serve_file(path: &FsPath) -> Option<Response> {
    let bytes = tokio::fs::read(path).await.ok()?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

fn not_served() -> Response {
    let body = json!({
        "error": "not_found",
        "message": "no example directory is configured: start footfall serve with --example-dir DIR",
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn example(state: &AppState, path: &str) -> Response {
    let dirs = &state.config.example_dirs;
    if dirs.is_empty() {
        return not_served();
    }
    let Some(rel) = safe_relative(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from("index.html")
    } else {
        rel
    };
    for dir in dirs {
        if let Some(file) = inside(dir, &rel)
            && let Some(r) = serve_file(&file).await
        {
            return r;
        }
    }
    if rel.extension().is_none()
        && let Some(file) = inside(&dirs[0], FsPath::new("index.html"))
        && let Some(r) = serve_file(&file).await
    {
        return r;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

async fn example_index(State(state): State<AppState>) -> Response {
    example(&state, "").await
}

async fn example_file(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    example(&state, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_paths_stay_inside() {
        assert_eq!(safe_relative("a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(safe_relative(""), Some(PathBuf::new()));
        for bad in ["../x", "a/../../x", ".env", "a\\..\\b"] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
        assert_eq!(
            content_type(FsPath::new("x/footfall_bg.wasm")),
            "application/wasm"
        );
    }
}
