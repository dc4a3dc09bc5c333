//! `footfall serve`: [`ServeArgs`] over the configuration, the demo project, the start (a
//! database server that is not there yet is waited for) and the banner on stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use footfall_engine::dashboard::{DashboardStore, example_dashboards};
use footfall_engine::store::{Dialect, StoreError};

use super::{CliError, StoreArgs};
use crate::config::{Config, ProjectConfig, TlsConfig, TrustProxy};
use crate::state::{AppState, StartError};
use crate::tls::Tls;
use crate::{backend, demo, server};

/// The log target of this command's own lines: the CLI's module before it was split into files,
/// kept so that the log lines, and `RUST_LOG` directives naming that target, stay the same.
const LOG_TARGET: &str = "footfall_collector::cli";

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "FOOTFALL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Write key of the project `default` (created when absent).
    #[arg(long, env = "FOOTFALL_WRITE_KEY")]
    pub write_key: Option<String>,
    /// Admin API bearer token.
    #[arg(long, env = "FOOTFALL_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Reverse-proxy hops to trust for X-Forwarded-For: `false` (0), `true` (1) or a number, as
    /// the config's `trust_proxy` [default: false].
    #[arg(long, env = "FOOTFALL_TRUST_PROXY", value_name = "N", value_parser = parse_trust_proxy)]
    pub trust_proxy: Option<TrustProxy>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; config `tls.cert_file`).
    #[arg(long, env = "FOOTFALL_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (config `tls.key_file`).
    #[arg(long, env = "FOOTFALL_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Add a demo project (`demo`, write key `demo` or --write-key) seeded with two months of traffic
    /// and the example dashboards.
    #[arg(long)]
    pub demo: bool,
    /// Serve this directory at /example/ (repeatable: the first directory that has a file wins),
    /// e.g. `--example-dir examples/browser --example-dir js/dist`.
    #[arg(long = "example-dir", value_name = "DIR")]
    pub example_dirs: Vec<PathBuf>,
    /// Do not run the alert scheduler in this process (`alerts.enabled: false`).
    #[arg(long)]
    pub no_alerts: bool,
}

/// `--trust-proxy` / `FOOTFALL_TRUST_PROXY`: the values the config file's `trust_proxy` takes.
fn parse_trust_proxy(s: &str) -> Result<TrustProxy, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(TrustProxy::Flag(true)),
        "false" => Ok(TrustProxy::Flag(false)),
        n => n
            .parse::<u8>()
            .map(TrustProxy::Hops)
            .map_err(|_| format!("`{s}` is not false, true or a number of proxy hops (0-255)")),
    }
}

/// Adds `key` to the project `default` (created when absent), unless a project has it already.
pub(super) fn add_default_key(config: &mut Config, key: &str) {
    if config
        .projects
        .iter()
        .any(|p| p.write_keys.iter().any(|k| k == key))
    {
        return;
    }
    match config.projects.iter_mut().find(|p| p.id == "default") {
        Some(p) => p.write_keys.push(key.to_string()),
        None => config.projects.push(ProjectConfig::new("default", key)),
    }
}

/// The machine-readable first line on stdout (tests and scripts read the port from it).
fn announce(scheme: &str, addr: SocketAddr) {
    println!("footfall: listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
}

pub(super) async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let mut config = args.store.load()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(token) = &args.admin_token {
        config.admin_token = Some(token.clone());
    }
    if let Some(trust) = args.trust_proxy {
        config.trust_proxy = trust;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let reload_secs = config.tls.as_ref().map(|t| t.reload_secs);
        let mut tls = TlsConfig::new(cert, key);
        tls.reload_secs = reload_secs.unwrap_or(tls.reload_secs);
        config.tls = Some(tls);
    }
    if !args.example_dirs.is_empty() {
        config.example_dirs = args.example_dirs.clone();
    }
    for dir in &config.example_dirs {
        if !dir.is_dir() {
            return Err(CliError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("example directory {} does not exist", dir.display()),
            )));
        }
    }
    if args.no_alerts {
        config.alerts.enabled = false;
    }
    config.demo = args.demo;
    let demo_project = if args.demo {
        let p = demo::project(args.write_key.as_deref());
        config.projects.retain(|q| q.id != p.id);
        config.projects.push(p.clone());
        if config.admin_token.is_none() {
            config.admin_token = Some(format!("demo-admin-{}", uuid::Uuid::new_v4().simple()));
        }
        Some(p)
    } else {
        if let Some(key) = &args.write_key {
            add_default_key(&mut config, key);
        }
        None
    };
    if config.projects.is_empty() {
        tracing::warn!(
            target: LOG_TARGET,
            "no project configured: every ingestion request will get 401 (use --write-key or a config file)"
        );
    }
    let store = backend::open(&config)?;
    // A bad certificate pair stops the start before anything listens.
    let tls = config.tls.as_ref().map(Tls::load).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Before the address is announced: a SIGTERM from then on shuts down gracefully.
    let mut shutdown = Box::pin(server::shutdown_signal());
    let mut announced = false;
    let state = match AppState::new(config.clone(), store.clone()).await {
        Ok(state) => state,
        // The database server is not there (yet): serve /health and 503 until it is (see
        // `server`). The embedded store has no server to wait for: it refuses to start.
        Err(StartError::Store(StoreError::Unavailable(why))) if store.dialect() != Dialect::DuckDb => {
            announce(scheme, addr);
            announced = true;
            match server::wait_for_store(config, store, &listener, tls.as_ref(), why, &mut shutdown).await? {
                Some(state) => state,
                None => return Ok(()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(project) = &demo_project {
        tracing::info!(
            target: LOG_TARGET,
            project = %project.id,
            "seeding the demo project (once per data directory)"
        );
        match demo::seed(&state, project)
            .await
            .map_err(|e| CliError::Demo(e.to_string()))?
        {
            demo::Seeded::Written(n) => tracing::info!(target: LOG_TARGET, events = n, "demo project seeded"),
            demo::Seeded::AlreadyThere(n) => {
                tracing::info!(target: LOG_TARGET, events = n, "demo project already seeded")
            }
        }
        DashboardStore::new(&*state.store, &project.id)
            .upsert_all(&example_dashboards())
            .await
            .map_err(|e| CliError::Demo(format!("example dashboards: {e}")))?;
    }
    // Loaded before the first request, not by it (read-only commands never load it).
    state.store.prepare_writes().await.map_err(StartError::Store)?;
    // The location may hold a password (postgres://user:secret@…): never in the log.
    let store = footfall_engine::store::redact_location(&backend::location(&state.config));
    tracing::info!(
        target: LOG_TARGET,
        %addr,
        %store,
        projects = state.config.projects.len(),
        "collector ready"
    );
    state.store.start_maintenance();
    if !announced {
        announce(scheme, addr);
    }
    if let Some(project) = &demo_project {
        println!(
            "footfall: demo project `{}`, write key `{}`",
            project.id, project.write_keys[0]
        );
        let token = state.config.admin_token.as_deref().unwrap_or_default();
        println!("footfall: admin token `{token}`");
        // The pages take `#token=` once into the tab's session storage and drop it from the URL.
        // URL-encoded but for RFC 3986's unreserved characters (tokens are mostly those).
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let fragment = format!("#token={}", utf8_percent_encode(token, UNRESERVED));
        println!("footfall: dashboards {scheme}://{addr}/dashboards{fragment}");
        println!("footfall: privacy {scheme}://{addr}/privacy{fragment}");
        println!("footfall: live events {scheme}://{addr}/events{fragment}");
    }
    if !state.config.example_dirs.is_empty() {
        let key = state
            .config
            .projects
            .first()
            .map(|p| p.write_keys[0].clone())
            .unwrap_or_default();
        // With UTM parameters, so the events it sends show a campaign (`context.campaign`).
        println!(
            "footfall: example page {scheme}://{addr}/example/?writeKey={key}&utm_source=footfall&utm_medium=terminal&utm_campaign=demo"
        );
    }
    let _ = std::io::stdout().flush();
    server::serve_with_tls(state, listener, tls, shutdown).await?;
    Ok(())
}
