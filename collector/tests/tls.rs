//! HTTPS without a proxy (`tls` in the config), with the real binary: the native SDK delivers
//! to it trusting the company CA that signed its certificate; plain HTTP on the port is refused;
//! a renewed certificate (written over the files) is served without a restart, a broken one is
//! not (the previous one stays); a bad pair at start stops the collector with the file named.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use footfall::Event;
use footfall::native::Client;
use footfall_collector::config::{Config, ProjectConfig, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// A CA's PEM, and a certificate it signed for 127.0.0.1 with its key (PEM, PEM).
fn ca_and_server_cert() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn tls_config(dir: &Path, data: &Path, cert: &str, key: &str) -> Config {
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let mut tls = TlsConfig::new(cert_file, key_file);
    tls.reload_secs = 1;
    Config {
        data: data.to_path_buf(),
        projects: vec![ProjectConfig::new("tls", "wk_tls")],
        tls: Some(tls),
        ..Config::default()
    }
}

/// An HTTPS client that trusts only `ca`.
fn trusting(ca: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// Tracks `n` events with the native SDK trusting `ca`; returns how many stayed queued.
async fn deliver(url: &str, ca: &str, n: u64) -> usize {
    let client = Client::builder("wk_tls")
        .endpoint(url)
        .add_root_certificate(ca)
        .build()
        .unwrap();
    for i in 0..n {
        client.track(Event::track("over_https").user_id("u").property("i", i));
    }
    let queued = client.flush().await;
    client.shutdown(Duration::from_secs(1)).await;
    queued
}

#[tokio::test]
async fn native_sdk_delivers_over_https_and_renewed_certificates_are_used_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ca1, cert1, key1) = ca_and_server_cert();
    let config = tls_config(dir.path(), &data, &cert1, &key1);
    let server = common::Process::spawn(dir.path(), "tls", &config);
    let url = format!("https://{}", server.addr);

    assert_eq!(deliver(&url, &ca1, 3).await, 0, "delivered over HTTPS");
    let health = trusting(&ca1).get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        reqwest::get(format!("http://{}/health", server.addr))
            .await
            .is_err(),
        "plain HTTP on the HTTPS port gets no answer"
    );

    // Renewed by another CA (the test can tell which certificate is served): the key first,
    // then the certificate, as a renewal tool may write them.
    let (ca2, cert2, key2) = ca_and_server_cert();
    std::fs::write(dir.path().join("key.pem"), &key2).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &cert2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while trusting(&ca2).get(format!("{url}/health")).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        deliver(&url, &ca2, 2).await,
        0,
        "delivered with the renewed certificate"
    );

    // A broken renewal: logged, the certificate in use stays.
    std::fs::write(
        dir.path().join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nbroken\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let still = trusting(&ca2).get(format!("{url}/health")).send().await;
    assert_eq!(
        still.map(|r| r.status().as_u16()).ok(),
        Some(200),
        "the previous certificate stays in use"
    );

    assert!(server.terminate().success());
    let store = common::open(&data.display().to_string());
    assert_eq!(
        common::message_ids(&*store, "tls").await.len(),
        5,
        "every acknowledged event stored"
    );
    let log = std::fs::read_to_string(dir.path().join("tls.log")).unwrap();
    assert!(
        log.contains("TLS certificate not reloaded"),
        "the broken renewal is logged: {log}"
    );
}

/// `footfall serve` with `config`: its exit status and stderr (it must not start).
fn refused_start(dir: &Path, config: &Config) -> (std::process::ExitStatus, String) {
    let path = dir.join("refused.yaml");
    std::fs::write(&path, serde_norway::to_string(config).unwrap()).unwrap();
    let mut child = std::process::Command::new(common::binary())
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("FOOTFALL_DATA")
        .env_remove("FOOTFALL_STORE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("footfall serve started with a bad certificate pair");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "not announced as listening"
    );
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_bad_certificate_pair_stops_the_start_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, cert1, _) = ca_and_server_cert();
    let (_, _, key2) = ca_and_server_cert();

    let mismatched = tls_config(dir.path(), &data, &cert1, &key2);
    let (status, stderr) = refused_start(dir.path(), &mismatched);
    assert!(!status.success());
    assert!(stderr.contains("does not belong to the certificate"), "{stderr}");
    assert!(stderr.contains("key.pem"), "{stderr}");

    let mut missing = mismatched.clone();
    missing.tls.as_mut().unwrap().cert_file = dir.path().join("nowhere.pem");
    let (status, stderr) = refused_start(dir.path(), &missing);
    assert!(!status.success());
    assert!(
        stderr.contains("tls.cert_file") && stderr.contains("nowhere.pem"),
        "{stderr}"
    );

    let no_key = tls_config(dir.path(), &data, &cert1, "not a key");
    let (status, stderr) = refused_start(dir.path(), &no_key);
    assert!(!status.success());
    assert!(
        stderr.contains("tls.key_file") && stderr.contains("no PEM private key"),
        "{stderr}"
    );
}
