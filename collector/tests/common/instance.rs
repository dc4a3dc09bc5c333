//! A PRIVATE PostgreSQL or ClickHouse server that a test starts, stops, kills, pauses and resumes
//! while a collector uses it (`scripts/services.sh instance`, its data in a temporary
//! directory, its ports free ones of its own). Other tests keep using the shared services.

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Postgres,
    ClickHouse,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::ClickHouse => "clickhouse",
        }
    }
}

/// A running private server; stopped and deleted when dropped.
pub struct Instance {
    pub service: Service,
    /// The store location of the server (`postgres://…` / `http://…`).
    pub url: String,
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh"))
}

fn run(dir: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("FOOTFALL_SERVICES_DIR", dir)
        .output()
        .map_err(|e| format!("cannot run services.sh: {e}"))?;
    if out.status.success() {
        // What the script says (which server, when it had to escalate) shows with --nocapture.
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "services.sh {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Instance {
    /// Starts a fresh server, or returns `None` (loudly; a failure under
    /// `FOOTFALL_REQUIRE_BACKENDS=1`) when its binaries are not installed.
    pub fn start(service: Service) -> Option<Instance> {
        let dir = tempfile::Builder::new()
            .prefix("footfall-outage-")
            .tempdir()
            .expect("tempdir");
        // PostgreSQL runs as `postgres` when we are root: it must reach its data directory.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        if run(dir.path(), &["instance", "check", service.name()]).is_err() {
            let required = std::env::var("FOOTFALL_REQUIRE_BACKENDS").is_ok_and(|v| v == "1");
            let message = format!(
                "{} is not installed (run scripts/install-deps.sh)",
                service.name()
            );
            if required {
                panic!("{message} but FOOTFALL_REQUIRE_BACKENDS=1");
            }
            eprintln!("\n*** SKIPPED ({service:?} outage): {message}. ***\n");
            return None;
        }
        let url = run(dir.path(), &["instance", "start", service.name()]).unwrap_or_else(|e| panic!("{e}"));
        Some(Instance { service, url, dir })
    }

    fn act(&self, action: &str) {
        run(self.dir.path(), &["instance", action, self.service.name()]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the server again on the same ports and data (after `stop` or `kill`).
    pub fn restart(&self) {
        self.act("start");
    }

    /// Graceful stop (PostgreSQL `pg_ctl stop -m fast`, ClickHouse SIGTERM).
    pub fn stop(&self) {
        self.act("stop");
    }

    /// SIGKILL of the main process (postmaster / clickhouse-server).
    pub fn kill(&self) {
        self.act("kill");
    }

    /// SIGSTOP of the server's processes: connections stay open, nothing answers.
    pub fn pause(&self) {
        self.act("pause");
    }

    pub fn resume(&self) {
        self.act("resume");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = run(self.dir.path(), &["instance", "resume", self.service.name()]);
        if let Err(e) = run(self.dir.path(), &["stop"]) {
            eprintln!("stopping the private {:?}: {e}", self.service);
        }
    }
}
