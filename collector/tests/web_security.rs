//! What protects operators from untrusted data and other origins, over a real socket:
//!
//! * the HTML pages' hardening headers: a Content-Security-Policy that allows exactly the page's
//!   own inline script and styles (their SHA-256 matches the blocks served), no framing
//!   (`frame-ancestors 'none'`, `X-Frame-Options: DENY`: the privacy page's erase button cannot be
//!   clickjacked), `nosniff`, `Referrer-Policy`; `nosniff` on every API answer too;
//! * the admin and dashboards API are not readable from other origins: no
//!   `Access-Control-Allow-Origin` for them, preflight included, even when the ingestion CORS
//!   mirrors any origin (`allowed_origins: ["*"]`);
//! * the admin token works only in `Authorization: Bearer` (not in the query string, not as a
//!   write key, not as Basic auth);
//! * `/example/` serves nothing outside its directories: `..` raw or percent-encoded, backslashes,
//!   hidden files, symbolic links out of the directory.
//!
//! The same pages in Chromium with hostile event data: `hostile_ui.rs`.

mod common;

use std::io::{Read, Write};

use base64::Engine as _;
use common::{ADMIN, TestServer};
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

async fn server(config: footfall_collector::config::Config) -> (common::Env, TestServer) {
    let env = common::env(common::Backend::DuckDb).unwrap();
    let store = common::open(&env.location);
    let mut config = config;
    config.store = Some(env.location.clone());
    let srv = TestServer::start(config, store).await;
    (env, srv)
}

/// One project `web` (write key `wk_web`) whose ingestion accepts every origin.
fn config() -> footfall_collector::config::Config {
    let mut c = common::config("", "web", "wk_web");
    c.projects[0].allowed_origins = vec!["*".into()];
    c
}

/// The `'sha256-…'` sources of a CSP directive.
fn sources<'a>(csp: &'a str, directive: &str) -> Vec<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(directive).filter(|r| r.starts_with(' ')))
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default()
}

/// The texts of every `<tag>` block without attributes (`<script>`, `<style>`) of a page.
fn blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    html.split(&open)
        .skip(1)
        .map(|rest| rest.split(&close).next().unwrap())
        .collect()
}

fn hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn pages_carry_a_strict_csp_and_hardening_headers() {
    let (_env, srv) = server(config()).await;
    for (path, scripts) in [
        ("/", 0),
        ("/privacy", 1),
        ("/privacy?project=web", 1),
        ("/dashboards", 1),
        ("/dashboards/anything", 1),
    ] {
        let r = srv.client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        let html = r.text().await.unwrap();
        let csp = header(&h, "content-security-policy");
        assert!(header(&h, "content-type").starts_with("text/html"), "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&h, "referrer-policy"), "no-referrer", "{path}");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "connect-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {directive} in {csp}");
        }
        assert!(!csp.contains("unsafe-"), "{path}: {csp}");
        // Exactly the page's own blocks are allowed.
        let page_scripts = blocks(&html, "script");
        assert_eq!(page_scripts.len(), scripts, "{path}");
        let want: Vec<String> = page_scripts.iter().map(|s| hash(s)).collect();
        let got = sources(csp, "script-src");
        if scripts == 0 {
            assert_eq!(got, ["'none'"], "{path}: {csp}");
        } else {
            assert_eq!(got, want, "{path}: {csp}");
        }
        let styles: Vec<String> = blocks(&html, "style").iter().map(|s| hash(s)).collect();
        assert!(!styles.is_empty());
        assert_eq!(sources(csp, "style-src"), styles, "{path}: {csp}");
        // The <meta> copy (for saved pages) is the same policy, minus frame-ancestors.
        let meta = html
            .split("<meta http-equiv=\"Content-Security-Policy\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{path}: no CSP meta"))
            .replace("&#39;", "'");
        assert_eq!(format!("{meta}; frame-ancestors 'none'"), csp, "{path}");
    }
}

#[tokio::test]
async fn the_dashboard_page_escapes_its_id_from_the_url() {
    let (_env, srv) = server(config()).await;
    let r = srv
        .client
        .get(srv.url("/dashboards/%3C%2Fscript%3E%3Cimg%20src=x%20onerror=alert(1)%3E%22'"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("</script><img"), "{html}");
    assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;"));
    assert!(html.contains("\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e"));
}

#[tokio::test]
async fn api_answers_are_nosniff_and_admin_routes_have_no_cors() {
    let (_env, srv) = server(config()).await;
    let evil = "https://evil.example";
    // Ingestion mirrors any origin here (allowed_origins: ["*"]): the admin routes must not.
    let pre = srv
        .client
        .request(reqwest::Method::OPTIONS, srv.url("/v1/batch"))
        .header("origin", evil)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(header(pre.headers(), "access-control-allow-origin"), evil);

    let admin_routes = [
        ("GET", "/v1/admin/projects"),
        ("GET", "/v1/admin/audit"),
        ("GET", "/v1/admin/dead_letters"),
        ("GET", "/v1/admin/users/u1/export"),
        ("DELETE", "/v1/admin/users/u1"),
        ("GET", "/v1/admin/projects/web/privacy"),
        ("PUT", "/v1/admin/projects/web/privacy"),
        ("GET", "/v1/dashboards"),
        ("POST", "/v1/dashboards"),
        ("GET", "/v1/alerts"),
        ("POST", "/v1/query"),
        ("GET", "/dashboards"),
        ("GET", "/privacy"),
        ("GET", "/metrics"),
    ];
    for (method, path) in admin_routes {
        let pre = srv
            .client
            .request(reqwest::Method::OPTIONS, srv.url(path))
            .header("origin", evil)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert!(
            pre.headers().get("access-control-allow-origin").is_none(),
            "preflight {method} {path}: {:?}",
            pre.headers()
        );
        // A simple GET with the token (as a browser would send it if it could) is not shared.
        let r = srv
            .client
            .request(method.parse().unwrap(), srv.url(path))
            .header("origin", evil)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none()
                && r.headers().get("access-control-allow-credentials").is_none(),
            "{method} {path}: {:?}",
            r.headers()
        );
        assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff", "{path}");
        if path.starts_with("/v1/admin/") {
            // Personal data (exports, dead letters, the audit log) is never cached.
            assert_eq!(
                header(r.headers(), "cache-control"),
                "no-store",
                "{method} {path}"
            );
        }
    }
    // The JSON and NDJSON answers are never sniffed as HTML.
    for path in ["/health", "/v1/admin/projects", "/v1/admin/users/u1/export"] {
        let r = srv.admin_get(path).await;
        assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff", "{path}");
    }
}

#[tokio::test]
async fn the_admin_token_works_only_as_a_bearer_header() {
    let (_env, srv) = server(config()).await;
    let ok = srv.admin_get("/v1/admin/projects").await;
    assert_eq!(ok.status(), 200);
    let get = |url: String| srv.client.get(url);
    let refused = [
        get(srv.url(&format!("/v1/admin/projects?token={ADMIN}"))),
        get(srv.url(&format!("/v1/admin/projects?admin_token={ADMIN}"))),
        get(srv.url(&format!("/v1/dashboards?token={ADMIN}"))),
        get(srv.url("/v1/admin/projects")).basic_auth(ADMIN, Some("")),
        get(srv.url("/v1/admin/projects")).basic_auth("", Some(ADMIN)),
        get(srv.url("/v1/admin/projects")).bearer_auth("wk_web"),
        get(srv.url("/v1/admin/projects")).bearer_auth(format!("{ADMIN}x")),
        get(srv.url("/v1/admin/projects")).bearer_auth(&ADMIN[..ADMIN.len() - 1]),
        get(srv.url("/v1/admin/projects")).header("cookie", format!("token={ADMIN}")),
        get(srv.url("/v1/admin/projects")),
    ];
    for (i, req) in refused.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "case {i}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(ADMIN),
            "case {i}: the answer never echoes the token"
        );
    }
}

/// A raw HTTP/1.1 GET of `path` exactly as written (clients normalize `..` away).
fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_files_stay_inside_their_directories() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-OUTSIDE").unwrap();
    std::fs::create_dir(outside.path().join("dir")).unwrap();
    std::fs::write(outside.path().join("dir/inner.txt"), "TOP-SECRET-DIR").unwrap();
    let root = tempfile::tempdir().unwrap();
    let ex = root.path().join("example");
    std::fs::create_dir_all(ex.join("sub")).unwrap();
    std::fs::write(ex.join("index.html"), "<p>EXAMPLE-INDEX</p>").unwrap();
    std::fs::write(ex.join("app.js"), "EXAMPLE-APP").unwrap();
    std::fs::write(ex.join(".env"), "TOP-SECRET-HIDDEN").unwrap();
    std::fs::write(root.path().join("sibling.txt"), "TOP-SECRET-SIBLING").unwrap();
    std::os::unix::fs::symlink(&secret, ex.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), ex.join("linked")).unwrap();
    std::os::unix::fs::symlink(ex.join("app.js"), ex.join("alias.js")).unwrap();

    let mut c = config();
    c.example_dirs = vec![ex.clone()];
    let (_env, srv) = server(c).await;
    let addr = srv.addr;
    let results = tokio::task::spawn_blocking(move || {
        let attacks = [
            "/example/../../etc/passwd",
            "/example/../sibling.txt",
            "/example/%2e%2e/sibling.txt",
            "/example/%2E%2E/%2e%2e/etc/passwd",
            "/example/..%2fsibling.txt",
            "/example/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/example/sub/..%2f..%2fsibling.txt",
            "/example/..%5csibling.txt",
            "/example/%2fetc%2fpasswd",
            "/example//etc/passwd",
            "/example/.env",
            "/example/%2eenv",
            "/example/leak.txt",
            "/example/linked/inner.txt",
            "/example/app.js%00.html",
        ];
        let attacked: Vec<(String, u16, String)> = attacks
            .iter()
            .map(|p| {
                let (status, text) = raw_get(addr, p);
                (p.to_string(), status, text)
            })
            .collect();
        let fine = [
            "/example/app.js",
            "/example/alias.js",
            "/example/",
            "/example/some/route",
        ]
        .iter()
        .map(|p| {
            let (status, text) = raw_get(addr, p);
            (p.to_string(), status, text)
        })
        .collect::<Vec<_>>();
        (attacked, fine)
    })
    .await
    .unwrap();
    for (path, status, text) in &results.0 {
        assert!(
            !text.contains("TOP-SECRET") && !text.contains("root:x:0:0"),
            "{path} leaked ({status}): {text}"
        );
        assert!(
            [400, 404].contains(status) || (*status == 200 && text.contains("EXAMPLE-INDEX")),
            "{path}: {status} {text}"
        );
    }
    for (path, status, text) in &results.1 {
        assert_eq!(*status, 200, "{path}: {text}");
        assert!(text.contains("EXAMPLE-"), "{path}: {text}");
    }
}
