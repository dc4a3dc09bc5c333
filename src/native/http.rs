//! [`HttpTransport`]: gzip + HTTP Basic + POST `{endpoint}/v1/batch` with reqwest, and the
//! settings fetch (`GET {endpoint}/v1/settings`, HTTP Basic, `If-None-Match`).

use std::io::Write;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER, USER_AGENT,
};

use super::{BoxFuture, Transport};
use crate::delivery::Delivery;
use crate::settings_fetch::{SettingsRequest, SettingsResponse};

const AGENT: &str = concat!("footfall-rust/", env!("CARGO_PKG_VERSION"));

/// The production transport.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
    url: String,
    authorization: String,
}

impl HttpTransport {
    /// Posts to `url` (the full `{endpoint}/v1/batch`) with `authorization` (the header value)
    /// and a per-request `timeout`.
    pub fn new(
        url: String,
        authorization: String,
        timeout: Duration,
    ) -> Result<HttpTransport, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(HttpTransport {
            http,
            url,
            authorization,
        })
    }

    /// As [`new`](Self::new), trusting also the CA certificates in `roots` (PEM, each one or
    /// more certificates) besides the built-in roots — Mozilla's and the system's. Fails with a
    /// message saying which PEM could not be read.
    pub fn with_roots(
        url: String,
        authorization: String,
        timeout: Duration,
        roots: &[Vec<u8>],
    ) -> Result<HttpTransport, String> {
        let mut builder = reqwest::Client::builder().timeout(timeout);
        for (i, pem) in roots.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("root certificate {}: {}", i + 1, chain(&e)))?;
            if certs.is_empty() {
                return Err(format!("root certificate {}: no PEM certificate in it", i + 1));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| chain(&e))?;
        Ok(HttpTransport {
            http,
            url,
            authorization,
        })
    }
}

/// `e` and its causes, `: `-separated: reqwest's own message ("error sending request for url
/// (…)") does not say why (refused, DNS, an untrusted certificate, a timeout).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// `body` gzip-compressed (fast level: batches are repetitive JSON).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

impl Transport for HttpTransport {
    fn send(&self, body: Vec<u8>) -> BoxFuture<Delivery> {
        let request = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "gzip")
            .header(AUTHORIZATION, &self.authorization)
            .header(USER_AGENT, AGENT)
            .body(gzip(&body));
        Box::pin(async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = response.text().await.ok().filter(|b| !b.is_empty());
                    Delivery::Http {
                        status,
                        retry_after,
                        body,
                    }
                }
                Err(e) => Delivery::NetworkError { detail: chain(&e) },
            }
        })
    }

    fn fetch_settings(&self, request: SettingsRequest) -> Option<BoxFuture<SettingsResponse>> {
        let mut get = self
            .http
            .get(&request.url)
            .header(AUTHORIZATION, &self.authorization)
            .header(USER_AGENT, AGENT);
        if let Some(etag) = &request.etag {
            get = get.header(IF_NONE_MATCH, etag);
        }
        Some(Box::pin(async move {
            match get.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let etag = response
                        .headers()
                        .get(ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = match status {
                        200 => match response.text().await {
                            Ok(body) => Some(body),
                            Err(e) => {
                                return SettingsResponse::Failed {
                                    detail: e.to_string(),
                                };
                            }
                        },
                        _ => None,
                    };
                    SettingsResponse::http(status, etag, body)
                }
                Err(e) => SettingsResponse::Failed { detail: chain(&e) },
            }
        }))
    }
}
