//! The native client over HTTPS against a collector whose certificate a company CA signed (a
//! throwaway CA made here): not trusted by default (and the failure says why), trusted through
//! `ClientBuilder::add_root_certificate` or the system's `SSL_CERT_FILE`; a PEM without a
//! certificate is a clear build error. And through an HTTP proxy (`HTTP_PROXY`).
//!
//! One test function: the environment is process-wide and read when a client is built.
#![cfg(feature = "native")]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use footfall::Event;
use footfall::native::{Client, ClientError};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

/// A CA (PEM) and a server certificate it signed for `127.0.0.1` (DER chain, DER key).
fn company_ca() -> (
    String,
    Vec<pki_types::CertificateDer<'static>>,
    pki_types::PrivateKeyDer<'static>,
) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    let key = pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    (ca_cert.pem(), vec![leaf.der().clone()], key)
}

/// Batches a test collector received: the request line and the number of messages.
type Received = Arc<Mutex<Vec<(String, usize)>>>;

/// Serves HTTP/1.1 requests on `s` until the client closes it: `POST …/v1/batch` (gzip JSON,
/// answered 200, recorded) and anything else (the settings fetch) 404.
async fn serve<S: AsyncReadExt + AsyncWriteExt + Unpin>(mut s: S, received: Received) {
    while let Some((head, body)) = read_request(&mut s).await {
        let line = head.lines().next().unwrap_or("").to_string();
        let answer = if line.starts_with("POST ") && line.contains("/v1/batch ") {
            let mut json = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut json)
                .unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let n = value["batch"].as_array().unwrap().len();
            received.lock().unwrap().push((line, n));
            "200 OK"
        } else {
            "404 Not Found"
        };
        let response =
            format!("HTTP/1.1 {answer}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}");
        if s.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A collector on 127.0.0.1, over TLS with `tls` (chain, key), else plain HTTP (also what an
/// HTTP proxy sees: the same requests with absolute URLs).
async fn collector(
    tls: Option<(
        Vec<pki_types::CertificateDer<'static>>,
        pki_types::PrivateKeyDer<'static>,
    )>,
) -> (SocketAddr, Received) {
    let acceptor = tls.map(|(chain, key)| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let batches = received.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, batches) = (acceptor.clone(), batches.clone());
            tokio::spawn(async move {
                match acceptor {
                    // A client that does not trust the certificate ends the handshake.
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve(tls, batches).await;
                        }
                    }
                    None => serve(tcp, batches).await,
                }
            });
        }
    });
    (addr, received)
}

/// One HTTP/1.1 request: its head and its body (by `content-length`); `None` at the end.
async fn read_request<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// Builds a client for `endpoint` with `root` trusted (if any), tracks one event, flushes, and
/// returns what is still queued and the client's log lines.
async fn track_one(endpoint: &str, root: Option<&str>) -> (usize, Vec<String>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    let mut builder = Client::builder("wk_test")
        .endpoint(endpoint)
        .debug_log(move |e| lines.lock().unwrap().push(e.to_string()));
    if let Some(pem) = root {
        builder = builder.add_root_certificate(pem);
    }
    let client = builder.build().expect("client");
    client.track(Event::track("over_tls"));
    let queued = client.flush().await;
    client.shutdown(Duration::from_millis(200)).await;
    let lines = log.lock().unwrap().clone();
    (queued, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_collector_behind_a_company_ca() {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        // SAFETY: as below; a proxy set for the machine would carry the first requests.
        unsafe { std::env::remove_var(var) };
    }
    let (ca_pem, chain, key) = company_ca();
    let (addr, received) = collector(Some((chain, key))).await;
    let endpoint = format!("https://{addr}");

    // Not trusted by default: nothing delivered, and the log says why (not only "error sending
    // request for url").
    let (queued, log) = track_one(&endpoint, None).await;
    assert_eq!(queued, 1, "not delivered to an untrusted server");
    assert!(received.lock().unwrap().is_empty());
    assert!(
        log.iter().any(|l| l.starts_with("batch 1 failed") && l.contains("invalid peer certificate: UnknownIssuer")),
        "the retry's cause names the certificate problem: {log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("settings fetch failed") && l.contains("UnknownIssuer")),
        "so does the settings fetch's: {log:#?}"
    );

    // Trusted through the builder.
    let (queued, log) = track_one(&endpoint, Some(&ca_pem)).await;
    assert_eq!(queued, 0, "delivered: {log:#?}");
    assert_eq!(counts(&received), [1]);

    // A PEM without a certificate: a clear error when the client is built.
    match Client::builder("wk_test")
        .endpoint(&endpoint)
        .add_root_certificate("not a PEM")
        .build()
    {
        Err(ClientError::Http(m)) => assert!(m.contains("root certificate 1"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a PEM without a certificate must fail the build"),
    }

    // Trusted through the system's trust store settings (`SSL_CERT_FILE`, as curl and OpenSSL).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("company-ca.pem");
    std::fs::write(&file, &ca_pem).unwrap();
    // SAFETY: the only test in this binary; no other thread reads the environment now.
    unsafe { std::env::set_var("SSL_CERT_FILE", &file) };
    let (queued, log) = track_one(&endpoint, None).await;
    unsafe { std::env::remove_var("SSL_CERT_FILE") };
    assert_eq!(queued, 0, "delivered with SSL_CERT_FILE: {log:#?}");
    assert_eq!(counts(&received), [1, 1]);

    // Through the HTTP proxy `HTTP_PROXY` names (`HTTPS_PROXY` for https, `NO_PROXY`: the
    // exceptions; as curl): the client never resolves the collector's host itself.
    let (proxy, seen) = collector(None).await;
    unsafe { std::env::set_var("HTTP_PROXY", format!("http://{proxy}")) };
    let (queued, log) = track_one("http://collector.invalid", None).await;
    unsafe { std::env::remove_var("HTTP_PROXY") };
    assert_eq!(queued, 0, "delivered through the proxy: {log:#?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [("POST http://collector.invalid/v1/batch HTTP/1.1".to_string(), 1)]
    );
}

fn counts(received: &Received) -> Vec<usize> {
    received.lock().unwrap().iter().map(|(_, n)| *n).collect()
}
