//! `footfall import FILE...`: NDJSON files of Segment messages (one message per line, `.gz`
//! accepted) through the same pipeline as HTTP ([`crate::ingest::ingest`]): same validation,
//! dedupe, identity links and dead letters. Time stamps are taken as they are (no clock-skew
//! correction: imports are history). A reader thread reads and decompresses; chunks of lines are
//! committed in order while an indicatif progress bar follows the bytes read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::ProjectConfig;
use crate::error::ApiError;
use crate::ingest::{self, RequestMeta};
use crate::state::{AppState, now_ms};

/// Lines per commit.
const CHUNK_LINES: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Non-empty lines read.
    pub messages: u64,
    /// Stored or already stored.
    pub accepted: u64,
    /// Accepted messages that were already stored (same project and messageId).
    pub already_stored: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// One line, or a line that is not UTF-8 (refused as `invalid_json`).
enum Line {
    Text(String),
    Invalid(Vec<u8>),
}

/// Opens a file, inflating it when it is gzip (by content, whatever its name).
fn open_reader(path: &Path, bar: ProgressBar) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let gz = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    drop(file);
    let counted = bar.wrap_read(File::open(path)?);
    Ok(if gz {
        Box::new(BufReader::new(MultiGzDecoder::new(counted)))
    } else {
        Box::new(BufReader::new(counted))
    })
}

/// Reads lines, cutting any line longer than `max_line` (it will be refused as too large).
fn read_lines(
    files: Vec<PathBuf>,
    bar: ProgressBar,
    max_line: usize,
    tx: mpsc::Sender<Result<Vec<Line>, ImportError>>,
) {
    for path in files {
        let mut reader = match open_reader(&path, bar.clone()) {
            Ok(r) => r,
            Err(source) => {
                let _ = tx.blocking_send(Err(ImportError::Read { path, source }));
                return;
            }
        };
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader
                .by_ref()
                .take(max_line as u64 + 2)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) => break,
                Ok(_) => {}
                Err(source) => {
                    let _ = tx.blocking_send(Err(ImportError::Read {
                        path: path.clone(),
                        source,
                    }));
                    return;
                }
            }
            if !buf.ends_with(b"\n") && buf.len() > max_line {
                // Over-long line: skip its remainder.
                let mut rest = Vec::new();
                if reader.read_until(b'\n', &mut rest).is_err() {
                    break;
                }
            }
            let trimmed = buf.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            chunk.push(match std::str::from_utf8(trimmed) {
                Ok(s) => Line::Text(s.to_string()),
                Err(_) => Line::Invalid(trimmed.to_vec()),
            });
            if chunk.len() == CHUNK_LINES && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                return;
            }
        }
        if !chunk.is_empty() && tx.blocking_send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// Imports `files` into `project`. `show_progress` draws a progress bar on stderr.
pub async fn import_files(
    state: &AppState,
    project: &ProjectConfig,
    files: &[PathBuf],
    show_progress: bool,
) -> Result<ImportSummary, ImportError> {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if show_progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (tx, mut rx) = mpsc::channel(4);
    let max_line = state.config.limits.max_message_bytes + 1;
    let reader = {
        let (files, bar) = (files.to_vec(), bar.clone());
        tokio::task::spawn_blocking(move || read_lines(files, bar, max_line, tx))
    };
    let mut summary = ImportSummary::default();
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        let meta = RequestMeta {
            received_at: now_ms(),
            correct_skew: false,
            ..RequestMeta::default()
        };
        let mut texts = Vec::with_capacity(chunk.len());
        for line in &chunk {
            match line {
                Line::Text(s) => texts.push(s.as_str()),
                Line::Invalid(bytes) => {
                    let e = ApiError::InvalidJson("the line is not valid UTF-8".into());
                    match ingest::reject_request(state, Some(&project.id), meta.received_at, e, bytes).await {
                        ApiError::InvalidJson(_) => {}
                        other => return Err(other.into()),
                    }
                    summary.messages += 1;
                    summary.rejected += 1;
                    *summary
                        .rejected_by_reason
                        .entry("invalid_json".into())
                        .or_default() += 1;
                }
            }
        }
        if texts.is_empty() {
            continue;
        }
        let (response, duplicates) = match ingest::ingest(state, project, &meta, &texts).await {
            Ok(i) => (i.response, i.duplicates),
            Err(ApiError::AllRejected(r)) => (r, 0),
            Err(e) => return Err(e.into()),
        };
        summary.already_stored += duplicates as u64;
        summary.messages += texts.len() as u64;
        summary.accepted += response.accepted as u64;
        summary.rejected += response.rejected.len() as u64;
        for r in response.rejected {
            *summary.rejected_by_reason.entry(r.reason).or_default() += 1;
        }
        bar.set_message(format!(
            "{} accepted, {} rejected",
            summary.accepted, summary.rejected
        ));
    }
    let _ = reader.await;
    bar.finish_and_clear();
    Ok(summary)
}
