//! The CLI side of backups: `footfall backup` and `footfall backups` call a running
//! collector's admin API (`POST /v1/admin/backup`, `GET /v1/admin/backups`) and print its answer.

use std::path::Path;

use serde_json::json;

use super::read_manifest;

/// Calls the admin API of the collector at `url` (`body`: a POST, else a GET); the JSON answer,
/// or an error naming the endpoint, the status and the server's message.
async fn admin_call(
    url: &str,
    token: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let endpoint = format!("{}{path}", url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let request = match body {
        Some(body) => client.post(&endpoint).json(&body),
        None => client.get(&endpoint),
    };
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("cannot reach the collector at {endpoint}: {e}"))?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("{endpoint} answered {status} without JSON: {e}"))?;
    if !status.is_success() {
        let message = answer["message"].as_str().unwrap_or("(no message)");
        return Err(format!("{endpoint} answered {status}: {message}"));
    }
    Ok(answer)
}

/// `footfall backup`: asks the collector at `url` for a backup (then retention with `keep`) and,
/// with `out`, copies it there (the collector writes it on its own host: `out` works where that
/// directory is readable).
pub async fn client(
    url: &str,
    token: &str,
    name: Option<&str>,
    keep: Option<u32>,
    out: Option<&Path>,
) -> Result<String, String> {
    if let Some(out) = out
        && out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!("{} exists and is not empty", out.display()));
    }
    let mut body = json!({});
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    if let Some(k) = keep {
        body["keep"] = json!(k);
    }
    let answer = admin_call(url, token, "/v1/admin/backup", Some(body)).await?;
    let path = answer["path"].as_str().unwrap_or_default();
    if let Some(out) = out {
        copy_dir(Path::new(path), out).map_err(|e| {
            format!(
                "the backup is at {path} on the collector's host; copying it to {} failed: {e}",
                out.display()
            )
        })?;
        read_manifest(out)?;
    }
    for failure in answer["retention"]["failed"].as_array().into_iter().flatten() {
        eprintln!(
            "footfall: warning: retention could not delete backup {}: {}",
            failure["name"], failure["error"]
        );
    }
    Ok(serde_json::to_string_pretty(&answer).unwrap_or_default())
}

/// `footfall backups`: the collector's backups (`GET /v1/admin/backups`) as pretty JSON or as a
/// table (newest first; what is not a backup is noted after it).
pub async fn list_client(url: &str, token: &str, json_output: bool) -> Result<String, String> {
    let answer = admin_call(url, token, "/v1/admin/backups", None).await?;
    if json_output {
        return Ok(serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n");
    }
    let backups = answer["backups"].as_array().cloned().unwrap_or_default();
    let mut notes = vec![("backup_dir".to_string(), answer["backup_dir"].clone())];
    for i in answer["ignored"].as_array().into_iter().flatten() {
        let name = i["name"].as_str().unwrap_or("?");
        notes.push((format!("not a backup, left alone: {name}"), i["reason"].clone()));
    }
    let table = footfall_engine::dashboard::tabulate::Table {
        columns: ["name", "created_at", "events", "schema", "bytes"]
            .map(String::from)
            .to_vec(),
        rows: backups
            .iter()
            .map(|b| {
                ["name", "created_at", "events", "schema_version", "bytes"]
                    .map(|k| b[k].clone())
                    .to_vec()
            })
            .collect(),
        notes,
    };
    Ok(table.to_text())
}

/// Copies the directory `from` (recursively) to `to`, created if needed.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}
