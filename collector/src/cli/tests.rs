use std::path::PathBuf;

use clap::Parser;

use super::serve::add_default_key;
use super::*;
use crate::config::{Config, TrustProxy};

#[test]
fn flags_parse() {
    let cli = Cli::try_parse_from([
        "footfall",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "/tmp/x",
        "--write-key",
        "k",
        "--admin-token",
        "t",
    ])
    .unwrap();
    let Command::Serve(s) = cli.command else { panic!() };
    assert_eq!(s.write_key.as_deref(), Some("k"));
    assert_eq!(s.store.load().unwrap().data, PathBuf::from("/tmp/x"));
    assert!(Cli::try_parse_from(["footfall", "serve", "--data", "d", "--store", "postgres://x"]).is_err());
    assert!(
        Cli::try_parse_from(["footfall", "import"]).is_err(),
        "files are required"
    );
    assert!(Cli::try_parse_from(["footfall", "erase", "--user", "u"]).is_ok());
    assert!(Cli::try_parse_from(["footfall", "erase", "--anonymous-id", "a"]).is_ok());
    assert!(
        Cli::try_parse_from(["footfall", "erase"]).is_err(),
        "a person is required"
    );
    assert!(
        Cli::try_parse_from(["footfall", "export", "--user", "u", "--anonymous-id", "a"]).is_err(),
        "one way to name the person"
    );
    let cli = Cli::try_parse_from([
        "footfall",
        "query",
        "q.yaml",
        "--format",
        "csv",
        "--from",
        "7_days_ago",
    ])
    .unwrap();
    let Command::Query(q) = cli.command else { panic!() };
    assert_eq!(
        (q.format, q.range.from.as_deref()),
        (Format::Csv, Some("7_days_ago"))
    );
    let cli = Cli::try_parse_from(["footfall", "dashboard", "render", "d.yaml", "--out", "r.html"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Dashboard(DashboardCommand::Render(_))
    ));
    let cli = Cli::try_parse_from([
        "footfall",
        "serve",
        "--example-dir",
        "a",
        "--example-dir",
        "b",
        "--no-alerts",
    ])
    .unwrap();
    let Command::Serve(s) = cli.command else { panic!() };
    assert_eq!(s.example_dirs, vec![PathBuf::from("a"), PathBuf::from("b")]);
    assert!(s.no_alerts);
}

#[test]
fn trust_proxy_flag_takes_the_config_values() {
    // collector/README.md: `--trust-proxy` / `FOOTFALL_TRUST_PROXY` take `false`, `true` (= 1)
    // or N, like the config file's `trust_proxy`.
    let hops = |v: &str| {
        let cli =
            Cli::try_parse_from(["footfall", "serve", "--trust-proxy", v]).map_err(|e| e.to_string())?;
        let Command::Serve(s) = cli.command else { panic!() };
        Ok::<_, String>(s.trust_proxy.map(TrustProxy::hops))
    };
    assert_eq!(hops("true"), Ok(Some(1)));
    assert_eq!(hops("false"), Ok(Some(0)));
    assert_eq!(hops("2"), Ok(Some(2)));
    let err = hops("maybe").unwrap_err();
    assert!(err.contains("not false, true or a number"), "{err}");
}

#[test]
fn default_key_project() {
    let mut c = Config::default();
    add_default_key(&mut c, "k1");
    add_default_key(&mut c, "k1");
    add_default_key(&mut c, "k2");
    assert_eq!(c.projects.len(), 1);
    assert_eq!(c.projects[0].write_keys, vec!["k1", "k2"]);
}
