//! The docs are true: what a user copies from `README.md`, `collector/README.md` and
//! `engine/README.md` goes through the real parsers, so a doc that drifts from the code fails here.
//!
//! Fenced blocks, by their info string (the first word is the language):
//! * ```` ```yaml ```` — a query spec when it has a top-level `kind` (parsed by the query API's
//!   parser), a dashboards file when it has `dashboards` (the dashboard parser), else a collector
//!   config file (`Config::from_yaml` + `validate`). ```` ```json ````: a query spec.
//! * ```` ```sh ````, ```` ```ini ```` — every `footfall SUBCOMMAND ...` command line in them (also
//!   in comments, and the arguments after `cargo run ... --`) parses with the real `Cli`. Shell
//!   quoting `'…'`/`"…"` and `\` line continuations are understood; `$VAR` stays literal; a word
//!   starting with `#` ends the command.
//! * ```` ```text ```` whose first line starts with `footfall ` — the command-line synopsis: every
//!   `--flag` of a line exists on that subcommand, and every flag of the subcommand is shown.
//! * ```` ```rust ```` — the root README's native quick start is compiled here (a copy that must
//!   stay equal to the README's text). Other blocks (`ts`, other `text`) are not checked.
//! * An intentionally partial snippet is excluded by a second word `no-check` in its info string
//!   (```` ```yaml no-check ````; renderers still highlight it as YAML).
//!
//! Beyond the blocks: engine/README.md's query specs also run on a DuckDB store seeded by the
//! generator (each must succeed and give some non-zero number); the configuration table's
//! literal defaults are compared with `Config::default()` (and a flag's with clap's default), its
//! flags and environment variables with the `Cli`; the privacy section's `[defaults]` with
//! `PrivacySettings::default()`.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use serde_json::Value;

use footfall_collector::Config;
use footfall_collector::cli::Cli;
use footfall_engine::dashboard::parse_dashboards;
use footfall_engine::dashboard::query_api::parse_query;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A fenced block: the file, its first line number, the info string's words, the text.
#[derive(Debug)]
struct Block {
    at: String,
    lang: String,
    no_check: bool,
    text: String,
}

fn blocks(rel: &str) -> Vec<Block> {
    let text = read(rel);
    let mut out = Vec::new();
    let mut open: Option<(usize, String, usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let indent = line.len() - trimmed.len();
                    open = Some((i + 1, info.trim().to_string(), indent, Vec::new()));
                }
            }
            Some((start, info, indent, lines)) => {
                if trimmed == "```" {
                    let mut words = info.split_whitespace();
                    out.push(Block {
                        at: format!("{rel}:{start}"),
                        lang: words.next().unwrap_or("").to_string(),
                        no_check: words.any(|w| w == "no-check"),
                        text: lines.join("\n"),
                    });
                    open = None;
                } else {
                    lines.push(line.get(*indent..).unwrap_or(line.trim_start()));
                }
            }
        }
    }
    assert!(open.is_none(), "{rel}: a fenced block is not closed");
    out
}

const DOCS: [&str; 3] = ["README.md", "collector/README.md", "engine/README.md"];

fn all_blocks() -> Vec<Block> {
    DOCS.iter().flat_map(|d| blocks(d)).collect()
}

/// What a YAML/JSON block is, by its top-level keys.
enum Snippet {
    Query(Value),
    Dashboards(String),
    Config(String),
}

fn snippet(b: &Block) -> Snippet {
    let v: Value = serde_norway::from_str(&b.text).unwrap_or_else(|e| panic!("{}: not YAML/JSON: {e}", b.at));
    match &v {
        Value::Object(m) if m.contains_key("kind") => Snippet::Query(v),
        Value::Object(m) if m.contains_key("dashboards") => Snippet::Dashboards(b.text.clone()),
        _ if b.lang == "json" => panic!("{}: a json block should be a query spec (`kind`)", b.at),
        _ => Snippet::Config(b.text.clone()),
    }
}

#[test]
fn yaml_and_json_snippets_parse_with_the_real_parsers() {
    let mut checked = 0;
    for b in all_blocks() {
        if b.no_check || !matches!(b.lang.as_str(), "yaml" | "json") {
            continue;
        }
        match snippet(&b) {
            Snippet::Query(v) => {
                parse_query(v).unwrap_or_else(|e| panic!("{}: query spec refused: {e}", b.at));
            }
            Snippet::Dashboards(text) => {
                parse_dashboards(&text).unwrap_or_else(|e| panic!("{}: dashboards refused: {e}", b.at));
            }
            Snippet::Config(text) => {
                let c =
                    Config::from_yaml(&text, Path::new(&b.at)).unwrap_or_else(|e| panic!("{}: {e}", b.at));
                c.validate().unwrap_or_else(|e| panic!("{}: {e}", b.at));
            }
        }
        checked += 1;
    }
    // The collector's config example and one query spec per kind in engine/README.md.
    assert!(
        checked >= 12,
        "only {checked} snippets found: did the fences change?"
    );
}

/// Splits a shell line into words: `'…'`, `"…"` (no expansion), `\`-escapes, `#` comments.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                words.extend(word.take());
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '"'));
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The `footfall` command lines of a shell (or systemd unit) block: the arguments after
/// `footfall` (or after `cargo run ... --`), up to a comment or a shell operator.
fn footfall_commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        // A commented-out command (`# 0 2 * * *  footfall backup ...`) is still a command to copy.
        let line = line.trim_start().trim_start_matches('#');
        let line = line
            .split_once('=')
            .filter(|(k, _)| k == &"ExecStart")
            .map_or(line, |(_, v)| v);
        let words = shell_words(line);
        let start = if words.first().is_some_and(|w| w == "cargo") {
            words.iter().position(|w| w == "--").map(|i| i + 1)
        } else {
            words
                .iter()
                .position(|w| w == "footfall" || w.ends_with("/footfall"))
                .map(|i| i + 1)
        };
        let Some(start) = start else { continue };
        let args: Vec<String> = words[start..]
            .iter()
            .take_while(|w| !matches!(w.as_str(), "|" | "&&" | ";" | ">" | "2>"))
            .cloned()
            .collect();
        if !args.is_empty() {
            out.push(args);
        }
    }
    out
}

#[test]
fn shell_snippets_run_footfall_with_real_flags() {
    let mut checked = Vec::new();
    for b in all_blocks() {
        if b.no_check || !matches!(b.lang.as_str(), "sh" | "ini") {
            continue;
        }
        for args in footfall_commands(&b.text) {
            let argv = std::iter::once("footfall".to_string()).chain(args.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("{}: `footfall {}` does not parse:\n{e}", b.at, args.join(" "));
            }
            checked.push(args[0].clone());
        }
    }
    for sub in ["serve", "backup", "backups"] {
        assert!(
            checked.iter().any(|c| c == sub),
            "no `footfall {sub}` found in the docs' shell blocks: {checked:?}"
        );
    }
}

#[test]
fn the_shell_word_splitter_understands_the_docs_quoting() {
    assert_eq!(
        shell_words(r#"footfall backup --admin-token "$TOKEN" --name 'a b'  # comment"#),
        ["footfall", "backup", "--admin-token", "$TOKEN", "--name", "a b"]
    );
    let cmds = footfall_commands(
        "cargo run --release -p footfall-collector -- serve --demo \\\n  --example-dir x\n\
         # 0 2 * * *  footfall backup --keep 14\nExecStart=/usr/local/bin/footfall serve --config f\n\
         curl -u wk_1: http://x/v1/batch",
    );
    assert_eq!(
        cmds,
        [
            vec!["serve", "--demo", "--example-dir", "x"],
            vec!["backup", "--keep", "14"],
            vec!["serve", "--config", "f"]
        ]
    );
}

/// Kills the `footfall serve` child however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// collector/README.md's first block: `footfall serve --write-key ...`, then a `curl` batch whose
/// answer the `# {...}` line shows. Run as written (on 127.0.0.1:0 and a temporary data dir).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_quick_start_answers_what_the_readme_shows() {
    use std::io::BufRead;
    let block = blocks("collector/README.md")
        .into_iter()
        .find(|b| b.lang == "sh")
        .unwrap();
    let serve = footfall_commands(&block.text)
        .into_iter()
        .find(|c| c[0] == "serve" && c.iter().any(|a| a == "--write-key"))
        .expect("a `footfall serve --write-key` in collector/README.md's first block");
    let joined = block.text.replace("\\\n", " ");
    let curl = shell_words(
        joined
            .lines()
            .find(|l| l.starts_with("curl "))
            .expect("a curl line"),
    );
    let after = |flag: &str| {
        curl.iter()
            .position(|w| w == flag)
            .map(|i| curl[i + 1].clone())
            .unwrap()
    };
    let (key, body, url) = (after("-u"), after("-d"), curl.last().unwrap().clone());
    let shown: Value = joined
        .lines()
        .find_map(|l| l.strip_prefix("# {").map(|rest| format!("{{{rest}")))
        .map(|l| serde_json::from_str(&l).unwrap())
        .expect("the answer shown as `# {...}`");

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(&serve)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("FOOTFALL_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Child(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let addr = first
        .strip_prefix("footfall: listening on http://")
        .expect(&first);
    let url = url.replace("127.0.0.1:8080", addr);
    let answer = reqwest::Client::new()
        .post(&url)
        .basic_auth(key.trim_end_matches(':'), Some(""))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        shown,
        "the answer collector/README.md shows"
    );
}

/// The clap command of `footfall a b` (`["dashboard", "render"]`).
fn subcommand(path: &[&str]) -> clap::Command {
    let mut cmd = Cli::command();
    for name in path {
        cmd = cmd
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand `{}`", path.join(" ")))
            .clone();
    }
    cmd
}

fn long_flags(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_global_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .filter(|l| l != "--help" && l != "--version")
        .collect()
}

fn flags_in(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"--[a-z][a-z-]*").unwrap();
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn the_command_line_synopsis_names_every_flag_and_only_real_ones() {
    let synopsis: Vec<Block> = blocks("collector/README.md")
        .into_iter()
        .filter(|b| b.lang == "text" && b.text.starts_with("footfall "))
        .collect();
    assert_eq!(
        synopsis.len(),
        1,
        "one command-line synopsis in collector/README.md"
    );
    // A line starting with `footfall` begins a command; indented lines continue it.
    let mut commands: Vec<String> = Vec::new();
    for line in synopsis[0].text.lines() {
        match commands.last_mut() {
            Some(last) if !line.starts_with("footfall ") => last.push_str(line),
            _ => commands.push(line.to_string()),
        }
    }
    let mut seen = Vec::new();
    for command in &commands {
        let command = command.split_once('#').map_or(command.as_str(), |(c, _)| c);
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        let path: Vec<&str> = match words.as_slice() {
            ["dashboard", sub, ..] => vec!["dashboard", sub],
            [sub, ..] => vec![sub],
            [] => panic!("empty synopsis line"),
        };
        let cmd = subcommand(&path);
        let real = long_flags(&cmd);
        let shown = flags_in(command);
        for f in &shown {
            assert!(
                real.contains(f),
                "synopsis: `footfall {}` has no {f} (it has {real:?})",
                path.join(" ")
            );
        }
        for f in &real {
            assert!(
                shown.contains(f),
                "synopsis: `footfall {}` does not show {f}",
                path.join(" ")
            );
        }
        seen.push(path.join(" "));
    }
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        assert!(
            seen.iter().any(|s| s.split(' ').next() == Some(name)),
            "the synopsis does not show `footfall {name}`"
        );
    }
}

/// The value at a dotted path (`limits.max_message_bytes`, `projects[].allowed_origins`).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, key| match key.strip_suffix("[]") {
            Some(list) => v.get(list)?.get(0),
            None => v.get(key),
        })
}

/// Rows of the table under `## Configuration`: option (YAML), flag / env, default, meaning.
fn config_rows() -> Vec<[String; 4]> {
    let text = read("collector/README.md");
    let section = text
        .split("\n## Configuration\n")
        .nth(1)
        .expect("collector/README.md has a `## Configuration` section");
    let mut rows = Vec::new();
    for line in section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        assert_eq!(
            cells.len(),
            4,
            "configuration table row with {} cells: {line}",
            cells.len()
        );
        if cells[0] == "option (YAML)" || cells[0].starts_with("---") {
            continue;
        }
        rows.push([
            cells[0].clone(),
            cells[1].clone(),
            cells[2].clone(),
            cells[3].clone(),
        ]);
    }
    rows
}

fn backticked(cell: &str) -> Vec<String> {
    let re = regex::Regex::new(r"`([^`]*)`").unwrap();
    re.captures_iter(cell).map(|c| c[1].to_string()).collect()
}

#[test]
fn the_configuration_table_matches_the_code() {
    let defaults = serde_json::to_value(Config::default()).unwrap();
    // Where a default is `None` (tls, projects), the fields inside come from a minimal file.
    let minimal = Config::from_yaml(
        "tls: {cert_file: c.pem, key_file: k.pem}\nprojects: [{id: p, write_keys: [k]}]\n",
        Path::new("minimal.yaml"),
    )
    .unwrap();
    let minimal = serde_json::to_value(minimal).unwrap();
    let rows = config_rows();
    let options: Vec<String> = rows.iter().flat_map(|r| backticked(&r[0])).collect();
    let (mut literal_defaults, mut flags_checked) = (0, 0);
    let env_re = regex::Regex::new(r"FOOTFALL_[A-Z_]+").unwrap();
    for [option, flags, default, _] in &rows {
        // Flags and environment variables exist, on `serve` unless the cell names a subcommand.
        let path: Vec<&str> = match flags.split_once("footfall ") {
            Some((_, rest)) => vec![rest.split_whitespace().next().unwrap()],
            None => vec!["serve"],
        };
        let (cmd, root) = (subcommand(&path), Cli::command());
        let args: Vec<&clap::Arg> = cmd.get_arguments().chain(root.get_arguments()).collect();
        let shown = flags_in(flags);
        for f in &shown {
            assert!(
                args.iter().any(|a| a.get_long() == Some(&f[2..])),
                "configuration table: `{option}`'s flag {f} does not exist on `footfall {}`",
                path.join(" ")
            );
            flags_checked += 1;
        }
        for env in env_re.find_iter(flags).map(|m| m.as_str()) {
            let arg = args.iter().find(|a| a.get_env().is_some_and(|e| e == env));
            let arg = arg.unwrap_or_else(|| panic!("configuration table: no flag reads {env} (`{option}`)"));
            let long = format!("--{}", arg.get_long().unwrap_or_default());
            assert!(
                shown.contains(&long),
                "configuration table: {env} is read by {long}, not by {shown:?}"
            );
        }
        // Defaults: a literal (`30`, `["*"]`, `false`) is the value in Config::default();
        // `unset ...` is none; a default naming another option or a placeholder (`<data>/...`) is
        // described, not compared.
        let names = backticked(option);
        let default_literal = default
            .strip_prefix('`')
            .and_then(|d| d.split_once('`'))
            .map(|(d, _)| d);
        if names.is_empty() {
            // A flag-only option (`--log-format`): clap's default.
            let flag = shown.first().expect("a row without an option names a flag");
            let arg = args.iter().find(|a| a.get_long() == Some(&flag[2..])).unwrap();
            let clap_default: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                clap_default,
                default_literal.into_iter().map(String::from).collect::<Vec<_>>(),
                "configuration table: default of {flag}"
            );
            literal_defaults += 1;
            continue;
        }
        for name in &names {
            let name = name.trim_end_matches(".*");
            let actual = at(&defaults, name).or_else(|| at(&minimal, name)).cloned();
            let parent_unset = name
                .rsplit_once('.')
                .is_some_and(|(parent, _)| at(&defaults, parent).is_some_and(Value::is_null));
            if default.starts_with("unset") || default == "none" {
                let empty = match &actual {
                    None | Some(Value::Null) => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    _ => parent_unset,
                };
                assert!(
                    empty,
                    "configuration table: `{name}` is documented unset, is {actual:?}"
                );
                literal_defaults += 1;
            } else if let Some(lit) = default_literal {
                if lit.contains('<') || options.iter().any(|o| o == lit) {
                    continue;
                }
                let documented: Value = serde_norway::from_str(lit).unwrap();
                assert_eq!(
                    actual.as_ref(),
                    Some(&documented),
                    "configuration table: default of `{name}` documented as `{lit}`"
                );
                literal_defaults += 1;
            }
        }
    }
    assert!(
        literal_defaults >= 25,
        "only {literal_defaults} defaults compared"
    );
    assert!(flags_checked >= 10, "only {flags_checked} flags checked");
}

#[test]
fn the_privacy_defaults_in_brackets_are_the_code_defaults() {
    let text = read("collector/README.md");
    let section = text
        .split("\n## Privacy control plane\n")
        .nth(1)
        .and_then(|s| s.split("\n* ").next())
        .expect("a `## Privacy control plane` section");
    let defaults = serde_json::to_value(footfall::settings::PrivacySettings::default()).unwrap();
    let re = regex::Regex::new(r"`([a-z_]+)` \[([^\]]+)\]").unwrap();
    let mut checked = 0;
    for c in re.captures_iter(section) {
        let (name, doc) = (&c[1], &c[2]);
        let actual = defaults
            .get(name)
            .or_else(|| defaults["retention"].get(name))
            .unwrap_or_else(|| panic!("privacy settings have no `{name}`"));
        let documented = match doc {
            "on" => Value::Bool(true),
            "off" => Value::Bool(false),
            "ad click ids" => {
                assert!(
                    actual.as_array().is_some_and(|a| a.iter().any(|v| v == "gclid")),
                    "{name}: {actual}"
                );
                checked += 1;
                continue;
            }
            other => serde_norway::from_str(other).unwrap(),
        };
        assert_eq!(
            actual, &documented,
            "privacy default of `{name}` documented as [{doc}]"
        );
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} privacy defaults found");
}

/// The root README's native quick start, compiled (the text below must equal the README's).
#[allow(dead_code)]
mod native_quick_start {
    use footfall::{Client, Event};

    // BEGIN README.md rust
    #[tokio::main]
    async fn main() -> Result<(), Box<dyn std::error::Error>> {
        let client = Client::builder("wk_live_123")
            .endpoint("http://127.0.0.1:8080")
            .data_dir("/var/lib/my-service/footfall") // queue survives restarts
            .build()?;
        client.track(Event::purchase("ord_1", 49.90, "EUR", vec!["sku_1"]).user_id("user_42")); // never blocks
        client.shutdown(std::time::Duration::from_secs(5)).await; // drains the queue
        Ok(())
    }
    // END README.md rust
}

#[test]
fn the_native_quick_start_is_the_compiled_copy() {
    let this = read("collector/tests/docs.rs");
    let copy = this
        .split("// BEGIN README.md rust\n")
        .nth(1)
        .and_then(|s| s.split("    // END README.md rust").next())
        .unwrap();
    let norm = |s: &str| {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let readme: Vec<Block> = blocks("README.md")
        .into_iter()
        .filter(|b| b.lang == "rust")
        .collect();
    assert_eq!(readme.len(), 1, "one rust block in README.md");
    let readme = readme[0]
        .text
        .lines()
        .filter(|l| !l.starts_with("use "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        norm(&readme),
        norm(copy),
        "README.md's quick start differs from its compiled copy here"
    );
}

#[test]
fn files_the_docs_point_at_exist() {
    // `src/ingest/reason.rs`, `tests/db_outage.rs`, (js/README.md): relative to the doc's
    // directory or to the repository.
    let re =
        regex::Regex::new(r"[`(]([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+\.(?:rs|md|yaml|sh|mjs|json|toml))[`)]")
            .unwrap();
    let mut checked = 0;
    for doc in DOCS {
        let dir = repo().join(doc).parent().unwrap().to_path_buf();
        for c in re.captures_iter(&read(doc)) {
            let path = &c[1];
            assert!(
                dir.join(path).exists() || repo().join(path).exists(),
                "{doc} names `{path}`, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} paths found");
}

/// Some number in the result that is not 0 (a page's `limit`/`offset` aside): the spec found data.
fn has_nonzero_number(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::Array(a) => a.iter().any(has_nonzero_number),
        // A page's own size is not data.
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k != "limit" && k != "offset" && has_nonzero_number(v)),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_readme_query_specs_run_and_find_data() {
    use footfall_engine::generate::{GenConfig, seed_store};
    use footfall_engine::query::{QueryContext, run_query};
    use footfall_engine::store::{DuckDbStore, Store};

    let specs: Vec<(String, Value)> = blocks("engine/README.md")
        .into_iter()
        .filter(|b| !b.no_check && matches!(b.lang.as_str(), "yaml" | "json"))
        .filter_map(|b| match snippet(&b) {
            Snippet::Query(v) => Some((b.at, v)),
            _ => None,
        })
        .collect();
    let kinds: std::collections::BTreeSet<&str> =
        specs.iter().filter_map(|(_, v)| v["kind"].as_str()).collect();
    assert_eq!(
        kinds.len(),
        footfall_engine::dashboard::query_api::KINDS.len(),
        "engine/README.md shows every query kind: {kinds:?}"
    );

    let store = DuckDbStore::open_in_memory().unwrap();
    store.migrate().await.unwrap();
    // The demo's shape (the examples run on `serve --demo`), smaller: the last 60 days.
    let now = chrono::Utc::now().timestamp_millis();
    let mut cfg = GenConfig::demo("docs", now);
    cfg.events = 100_000;
    seed_store(&store, cfg).await.unwrap();
    let ctx = QueryContext::at("docs", now);
    for (at, spec) in specs {
        let q = parse_query(spec).unwrap_or_else(|e| panic!("{at}: {e}"));
        let out = run_query(&store, &ctx, &q)
            .await
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        let out = serde_json::to_value(out).unwrap();
        assert!(
            has_nonzero_number(&out),
            "{at}: the example finds nothing on demo-like data: {out}"
        );
    }
}
