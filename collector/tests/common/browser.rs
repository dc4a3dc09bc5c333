//! The headless-Chromium rig of the page tests (privacy_ui.rs, events_ui.rs): playwright-core
//! from collector/tests/ui and Debian's chromium (or `$CHROMIUM_PATH`), never downloaded.

use std::path::{Path, PathBuf};

/// collector/tests/ui: the page scripts and their node_modules.
pub fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// Whether the rig is installed; otherwise a loud skip naming `what` (or a failure when
/// FOOTFALL_REQUIRE_BROWSER=1, as in CI).
pub fn browser_available(what: &str) -> bool {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !ui_dir().join("node_modules/playwright-core").is_dir() {
        Some(
            "collector/tests/ui/node_modules is missing (run: npm ci --prefix collector/tests/ui)"
                .to_string(),
        )
    } else if !Path::new(&chromium).exists() {
        Some(format!("{chromium} is missing (apt-get install chromium)"))
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) if std::env::var("FOOTFALL_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("FOOTFALL_REQUIRE_BROWSER=1 but {why}")
        }
        Some(why) => {
            // Written to stderr directly: the harness captures `eprintln!` of passing tests.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!! {what} browser test SKIPPED: {why} !!!!!!!!!!\n"
            );
            false
        }
    }
}

/// Runs `node <script> <args JSON>` in [`ui_dir`] on a blocking thread; its stdout as JSON.
/// Fails the test with the script's stderr when it exits non-zero.
pub async fn run_page_script(script: &str, args: serde_json::Value) -> serde_json::Value {
    let script = script.to_string();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(ui_dir().join(script))
            .arg(args.to_string())
            .current_dir(ui_dir())
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "browser check failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}
