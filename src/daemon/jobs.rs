//! Jobs: one input file through the pipeline into one output file.
//!
//! Order of effects for a job, chosen so that a crash at any instant leaves
//! a state the restart can finish without a half file or an orphan row:
//! 1. the input sits in processing/ (claimed) with a `queued` row;
//! 2. `running`: the output is written to a temp file in its final
//!    directory, fsynced, renamed into outbox/, the directory fsynced;
//! 3. one transaction inserts records, spans and the output row and sets
//!    `committed`;
//! 4. the original is archived or removed.
//!
//! A crash after 2 and before 3 reruns the job (the output is
//! deterministic, the rename replaces it); after 3 and before 4 the restart
//! sees the committed row and only finishes 4.

use super::fsio::{self, AtomicFile};
use super::{Loaded, Shared};
use crate::RecordError;
use crate::formats::text::Paragraphs;
use crate::formats::{csv, jsonl};
use crate::pipeline::Rewritten;
use crate::store::{Commit, Job, NewJob, RecordRow, SpanRow, Start, State, now_ms};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub const SRC_INBOX: &str = "inbox";
pub const SRC_API_PATH: &str = "api_path";
pub const SRC_API_UPLOAD: &str = "api_upload";

/// Input format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Jsonl,
    Csv,
}

impl Format {
    pub fn of(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Format::Jsonl
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Text
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Format::Text),
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// One record through the pipeline: output text plus the rows that
/// describe it (no content).
pub struct RecordOut {
    pub text: String,
    pub row: RecordRow,
    pub spans: Vec<SpanRow>,
}

impl RecordOut {
    /// No rewrite of some field passed the verifier: the record must not
    /// be written out (its row says why).
    pub fn held(&self) -> bool {
        self.row.error.is_some()
    }
}

fn op_name(op: crate::plan::Op) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn enum_name<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// Rows for one rewritten field.
fn describe(
    l: &Loaded,
    r: &Rewritten,
    idx: usize,
    field: &str,
    row: &mut RecordRow,
    spans: &mut Vec<SpanRow>,
) {
    row.spans += r.plan.spans.len();
    // The record's path: the least favourable of its fields'.
    let path = enum_name(&r.path);
    if row.path.is_none() || path.as_deref() == Some("fallback") {
        row.path = path;
    }
    if let Some(u) = r.llm {
        row.llm = enum_name(&u);
    }
    if let Some(reason) = &r.fallback_reason {
        row.fallback_reason = Some(reason.clone());
    }
    // The verifier's checks (reason codes and scores, no content) go to the
    // record's scores; a quarantine decision withholds the whole record,
    // and its reasons become the record's error.
    if !r.checks.is_empty() {
        let checks: Vec<serde_json::Value> = r
            .checks
            .iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["field"] = serde_json::Value::String(field.to_string());
                v
            })
            .collect();
        let scores = row
            .scores
            .get_or_insert_with(|| serde_json::json!({"checks": []}));
        if let Some(a) = scores["checks"].as_array_mut() {
            a.extend(checks);
        }
    }
    if r.decision == crate::pipeline::Decision::Quarantine {
        let reasons = r
            .checks
            .last()
            .map(|c| c.verdict.reasons.join(", "))
            .unwrap_or_default();
        let msg = format!("{field}: quarantined by the verifier ({reasons})");
        row.error = Some(match row.error.take() {
            Some(prev) => format!("{prev}; {msg}"),
            None => msg,
        });
    }
    for (i, s) in r.plan.spans.iter().enumerate() {
        let Some(e) = r
            .plan
            .entity_of
            .get(i)
            .and_then(|&k| r.plan.entities.get(k))
        else {
            continue;
        };
        spans.push(SpanRow {
            record_idx: idx,
            field: field.to_string(),
            entity: s.entity.to_string(),
            start: s.start,
            end: s.end,
            score: s.score,
            detector: s.detector.to_string(),
            op: op_name(e.op),
            fingerprint: l.pipeline.surrogates.fingerprint(&e.entity, &e.key),
        });
    }
}

/// Rewrite one paragraph of a text file: searched for the identifiers of
/// the paragraphs before it (`memory`), to which it adds its own.
pub fn text_record(
    l: &Loaded,
    text: &str,
    memory: &mut crate::memory::Memory,
    idx: usize,
    line: usize,
) -> RecordOut {
    let mut d = l.pipeline.detect_part(text, true);
    l.pipeline.recall(text, &mut d.spans, memory);
    l.pipeline.learn(text, &d.spans, memory);
    let r = l.pipeline.rewrite_detection(text, d);
    let mut row = RecordRow {
        idx,
        line,
        ..Default::default()
    };
    let mut spans = Vec::new();
    describe(l, &r, idx, "text", &mut row, &mut spans);
    RecordOut {
        text: r.text,
        row,
        spans,
    }
}

/// Rewrite the configured fields of one JSONL line.
pub fn jsonl_record(
    l: &Loaded,
    line: &[u8],
    fields: &[jsonl::FieldPath],
    idx: usize,
    line_no: usize,
) -> Result<RecordOut, RecordError> {
    let mut v = jsonl::parse_line(line)?;
    let mut row = RecordRow {
        idx,
        line: line_no,
        ..Default::default()
    };
    let mut spans = Vec::new();
    // All the selected strings first: the fields share their identifiers
    // (`Pipeline::share`) before any is rewritten.
    let texts = v.texts(fields)?;
    let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
    let mut new = Vec::with_capacity(texts.len());
    for ((loc, _), r) in texts.iter().zip(l.pipeline.rewrite_parts(&refs, true)) {
        describe(l, &r, idx, loc, &mut row, &mut spans);
        new.push(r.text);
    }
    v.set_texts(fields, new)?;
    Ok(RecordOut {
        text: v.to_line(),
        row,
        spans,
    })
}

/// Rewrite the selected columns of one CSV row: its bytes (untouched
/// fields as they were) and the rows that describe it.
fn csv_record(
    l: &Loaded,
    mut row: csv::Row,
    cols: &[csv::Column],
    idx: usize,
    line: usize,
) -> (Vec<u8>, RecordRow, Vec<SpanRow>) {
    let mut rrow = RecordRow {
        idx,
        line,
        ..Default::default()
    };
    let mut spans = Vec::new();
    // The selected columns share their identifiers before any is
    // rewritten.
    let fields = row.selected(cols);
    let texts: Vec<&str> = fields.iter().map(|(_, t)| *t).collect();
    let mut new = Vec::with_capacity(texts.len());
    for ((name, _), r) in fields.iter().zip(l.pipeline.rewrite_parts(&texts, true)) {
        describe(l, &r, idx, name, &mut rrow, &mut spans);
        new.push(r.text);
    }
    row.set_selected(cols, new);
    // A row the verifier quarantined is not written (empty bytes).
    let bytes = if rrow.error.is_some() {
        Vec::new()
    } else {
        row.to_bytes()
    };
    (bytes, rrow, spans)
}

/// A panic in one record becomes that record's error; the job goes on.
pub fn guarded<T>(
    shared: &Shared,
    f: impl FnOnce() -> Result<T, RecordError>,
) -> Result<T, RecordError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        shared.metrics.panics.fetch_add(1, Ordering::Relaxed);
        Err(RecordError::Panic)
    })
}

/// Why a job did not produce an output.
#[derive(Debug)]
enum JobErr {
    /// Shutdown checkpoint: back to queued, resumed at the next start.
    Cancelled,
    /// Worth retrying (disk full...).
    Transient(String),
    /// A property of the input: quarantine.
    Permanent { reason: &'static str, msg: String },
}

/// Per-record rows kept for one job at most: beyond this, a huge file is
/// summarised by counts only, so memory and the DB stay bounded.
pub const MAX_ROWS_PER_JOB: usize = 100_000;

/// Result of processing a file's records: counts over all of them, and
/// rows for the first [`MAX_ROWS_PER_JOB`].
#[derive(Default)]
struct Processed {
    records: Vec<RecordRow>,
    spans: Vec<SpanRow>,
    total: usize,
    failed: usize,
    n_spans: usize,
    paths: BTreeMap<String, u64>,
    reasons: BTreeMap<String, u64>,
    llm: BTreeMap<String, u64>,
}

impl Processed {
    fn add(&mut self, row: RecordRow, spans: Vec<SpanRow>) {
        self.total += 1;
        if row.error.is_some() {
            self.failed += 1;
        }
        self.n_spans += spans.len();
        for (v, map) in [
            (&row.path, &mut self.paths),
            (&row.fallback_reason, &mut self.reasons),
            (&row.llm, &mut self.llm),
        ] {
            if let Some(x) = v {
                *map.entry(x.clone()).or_default() += 1;
            }
        }
        if self.records.len() < MAX_ROWS_PER_JOB {
            self.records.push(row);
        }
        if self.spans.len() < MAX_ROWS_PER_JOB {
            let room = MAX_ROWS_PER_JOB - self.spans.len();
            self.spans.extend(spans.into_iter().take(room));
        }
    }
}

fn io_err(what: &str, e: std::io::Error) -> JobErr {
    if fsio::transient(&e) {
        JobErr::Transient(format!("{what}: {e}"))
    } else {
        JobErr::Permanent {
            reason: "io_error",
            msg: format!("{what}: {e}"),
        }
    }
}

/// Stream the input's records through the pipeline into `out`.
fn process_file(
    shared: &Shared,
    l: &Loaded,
    input: &Path,
    format: Format,
    out: &mut AtomicFile,
) -> Result<Processed, JobErr> {
    let max = l.cfg.daemon.max_record_bytes;
    let f = std::fs::File::open(input).map_err(|e| io_err("opening input", e))?;
    let mut reader = BufReader::with_capacity(1 << 16, f);
    let mut p = Processed::default();
    let write =
        |out: &mut AtomicFile, b: &[u8]| out.write_all(b).map_err(|e| io_err("writing output", e));
    let fail = |p: &mut Processed, idx: usize, line: usize, e: &RecordError| {
        let row = RecordRow {
            idx,
            line,
            error: Some(e.to_string()),
            ..Default::default()
        };
        p.add(row, Vec::new());
    };
    match format {
        Format::Csv => {
            // Columns by header name from `[csv] columns` (default `text`),
            // as the CLI; other columns pass through byte for byte.
            let names = if l.cfg.csv.columns.is_empty() {
                vec!["text".to_string()]
            } else {
                l.cfg.csv.columns.clone()
            };
            let mut rd = csv::Reader::new(reader, max);
            // An empty file has no header: an empty output.
            if let Some(head) = rd.read_header().map_err(|e| io_err("reading input", e))? {
                let header = head.result.map_err(|e| JobErr::Permanent {
                    reason: "csv_header",
                    msg: format!("line {}: CSV header: {e}", head.line),
                })?;
                let cols = csv::select(&header, &names).map_err(|msg| JobErr::Permanent {
                    reason: "csv_columns",
                    msg,
                })?;
                header
                    .write_to(out)
                    .map_err(|e| io_err("writing output", e))?;
                let mut idx = 0usize;
                loop {
                    if shared.cancel.load(Ordering::Relaxed) {
                        return Err(JobErr::Cancelled);
                    }
                    let Some(item) = rd.next_record().map_err(|e| io_err("reading input", e))?
                    else {
                        break;
                    };
                    let i = idx;
                    idx += 1;
                    let row = match item.result {
                        Ok(r) => r,
                        Err(e) => {
                            fail(&mut p, i, item.line, &e);
                            continue;
                        }
                    };
                    match guarded(shared, || Ok(csv_record(l, row, &cols, i, item.line))) {
                        Ok(r) => {
                            write(out, &r.0)?;
                            p.add(r.1, r.2);
                        }
                        Err(e) => fail(&mut p, i, item.line, &e),
                    }
                }
            }
        }
        Format::Jsonl => {
            let mut line_no = 0usize;
            let mut buf = Vec::new();
            let mut idx = 0usize;
            loop {
                if shared.cancel.load(Ordering::Relaxed) {
                    return Err(JobErr::Cancelled);
                }
                let Some(full) = crate::formats::read_line_capped(&mut reader, &mut buf, max)
                    .map_err(|e| io_err("reading input", e))?
                else {
                    break;
                };
                line_no += 1;
                if buf.iter().all(u8::is_ascii_whitespace) && full == buf.len() {
                    continue;
                }
                let i = idx;
                idx += 1;
                if full > buf.len() {
                    fail(
                        &mut p,
                        i,
                        line_no,
                        &RecordError::TooLarge {
                            size: full,
                            limit: max,
                        },
                    );
                    continue;
                }
                match guarded(shared, || jsonl_record(l, &buf, &l.fields, i, line_no)) {
                    Ok(r) => {
                        if !r.held() {
                            write(out, r.text.as_bytes())?;
                            write(out, b"\n")?;
                        }
                        p.add(r.row, r.spans);
                    }
                    Err(e) => fail(&mut p, i, line_no, &e),
                }
            }
        }
        Format::Text => {
            let mut idx = 0usize;
            let mut memory = crate::memory::Memory::default();
            for para in Paragraphs::new(reader, max) {
                if shared.cancel.load(Ordering::Relaxed) {
                    return Err(JobErr::Cancelled);
                }
                let para = para.map_err(|e| io_err("reading input", e))?;
                let text = match para.result {
                    Ok(t) => t,
                    Err(e) => {
                        fail(&mut p, idx, para.first_line, &e);
                        idx += 1;
                        continue;
                    }
                };
                if text.is_empty() {
                    write(out, para.trailer.as_bytes())?;
                    continue;
                }
                let i = idx;
                idx += 1;
                match guarded(shared, || {
                    Ok(text_record(l, &text, &mut memory, i, para.first_line))
                }) {
                    Ok(r) => {
                        if !r.held() {
                            write(out, r.text.as_bytes())?;
                        }
                        write(out, para.trailer.as_bytes())?;
                        p.add(r.row, r.spans);
                    }
                    Err(e) => fail(&mut p, i, para.first_line, &e),
                }
            }
        }
    }
    let ok = (p.total - p.failed) as u64;
    shared.metrics.records_ok.fetch_add(ok, Ordering::Relaxed);
    shared
        .metrics
        .records_failed
        .fetch_add(p.failed as u64, Ordering::Relaxed);
    if p.failed > 0 && p.failed == p.total {
        return Err(JobErr::Permanent {
            reason: "all_records_failed",
            msg: format!("all {} records failed", p.failed),
        });
    }
    Ok(p)
}

/// Where a job's output goes (relative to the state dir).
pub fn output_rel(job: &Job) -> PathBuf {
    if job.source == SRC_INBOX {
        Path::new("outbox").join(&job.name)
    } else {
        Path::new("outbox")
            .join("api")
            .join(format!("{}-{}", job.id, base_name(&job.name)))
    }
}

/// Where a quarantined input goes (relative to the state dir).
fn quarantine_rel(job: &Job) -> PathBuf {
    if job.source == SRC_INBOX {
        Path::new("quarantine").join(&job.name)
    } else {
        Path::new("quarantine")
            .join("api")
            .join(format!("{}-{}", job.id, base_name(&job.name)))
    }
}

pub fn base_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .unwrap_or_else(|| "upload".to_string())
}

/// The per-file summary stored with the output. The verifier (issue 4)
/// adds its per-record decision and scores to `pipeline::Rewritten`; they
/// belong here next to the path taken and fallback reasons.
fn scores(p: &Processed) -> Value {
    json!({
        "records": p.total,
        "failed_records": p.failed,
        "spans": p.n_spans,
        "rows_truncated": p.records.len() < p.total || p.spans.len() < p.n_spans,
        "paths": p.paths,
        "fallback_reasons": p.reasons,
        "llm": p.llm,
        "verifier": Value::Null,
    })
}

/// Run one job to a final state (or a retry, or a checkpoint). Runs on a
/// blocking thread.
pub fn run_job(shared: &Arc<Shared>, id: i64) {
    if let Err(e) = run_job_inner(shared, id) {
        // A store error: the job stays as it is in the DB and is picked up
        // again at the next start (or retry).
        tracing::error!(job = id, error = %e, "job bookkeeping failed");
        schedule_retry(shared, id, 1);
    }
}

fn run_job_inner(shared: &Arc<Shared>, id: i64) -> Result<(), super::DaemonError> {
    let store = &shared.store;
    let Some(job) = store.job(id)? else {
        return Ok(());
    };
    if matches!(job.state, State::Committed | State::Quarantined) {
        finish_name(shared, &job);
        return Ok(());
    }
    let l = shared.loaded();
    let attempts = job.attempts + 1;
    let input = PathBuf::from(&job.input_path);
    let cfg = &l.cfg.daemon;
    let format = Format::parse(&job.format).unwrap_or(Format::Text);
    let hashed = fsio::sha256_file(&input);
    let (sha, bytes) = hashed.as_ref().map_or(("", 0), |(s, b)| (s.as_str(), *b));
    store.start(
        id,
        &Start {
            config_fp: &l.config_fp,
            rules_version: &l.rules_version,
            model: l.model.as_deref(),
            sha256: sha,
            bytes,
        },
    )?;
    let (sha, bytes) = match hashed {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            store.fail(id, "input file missing", None)?;
            finish_name(shared, &job);
            return Ok(());
        }
        Err(e) => return handle_err(shared, &job, attempts, io_err("reading input", e), cfg),
    };
    shared.metrics.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    // Test-only (feature `failpoints`): a job that panics outside the
    // per-record guard, caught by `dispatch`.
    crate::failpoint::hit("job", &job.name);
    let out_rel = output_rel(&job);
    let out_abs = shared.dirs.root.join(&out_rel);

    // Same input, same config: reuse the committed output.
    if let Some(prev) = store.find_committed(&sha, &l.config_fp, id)?
        && let Some(o) = &prev.output
    {
        let prev_abs = shared.dirs.root.join(&o.path);
        if let Ok((psha, _)) = fsio::sha256_file(&prev_abs)
            && psha == o.sha256
        {
            let res = if prev_abs == out_abs {
                Ok((psha, o.bytes as u64))
            } else {
                std::fs::read(&prev_abs).and_then(|data| fsio::write_atomic(&out_abs, &data, id))
            };
            match res {
                Ok((osha, obytes)) => {
                    store.commit(
                        id,
                        &Commit {
                            output_path: out_rel.to_string_lossy().to_string(),
                            sha256: osha,
                            bytes: obytes,
                            decision: "reused".into(),
                            scores: o.scores.clone(),
                            records: Vec::new(),
                            spans: Vec::new(),
                            failed_records: prev.failed_records.unwrap_or(0) as usize,
                            total_records: prev.records.unwrap_or(0) as usize,
                            reused_from: Some(prev.reused_from.unwrap_or(prev.id)),
                        },
                    )?;
                    after_commit(shared, &job);
                    return Ok(());
                }
                Err(e) => {
                    return handle_err(shared, &job, attempts, io_err("writing output", e), cfg);
                }
            }
        }
    }

    let mut out = match AtomicFile::create(&out_abs, id) {
        Ok(f) => f,
        Err(e) => return handle_err(shared, &job, attempts, io_err("creating output", e), cfg),
    };
    let processed = match process_file(shared, &l, &input, format, &mut out) {
        Ok(p) => p,
        Err(e) => {
            drop(out);
            return handle_err(shared, &job, attempts, e, cfg);
        }
    };
    let (osha, obytes) = match out.commit() {
        Ok(x) => x,
        Err(e) => return handle_err(shared, &job, attempts, io_err("committing output", e), cfg),
    };
    shared
        .metrics
        .bytes_out
        .fetch_add(obytes, Ordering::Relaxed);
    let decision = if processed.failed > 0 {
        "commit_partial"
    } else {
        "commit"
    };
    let commit = Commit {
        output_path: out_rel.to_string_lossy().to_string(),
        sha256: osha,
        bytes: obytes,
        decision: decision.into(),
        scores: scores(&processed),
        failed_records: processed.failed,
        total_records: processed.total,
        records: processed.records,
        spans: processed.spans,
        reused_from: None,
    };
    if let Err(e) = store.commit(id, &commit) {
        // The file is in place but not committed: a retry rewrites it
        // (same bytes) and commits.
        tracing::warn!(job = id, error = %e, "commit failed; will retry");
        let delay = backoff(cfg, attempts);
        store.fail(
            id,
            "database commit failed",
            Some(now_ms() + delay.as_millis() as i64),
        )?;
        schedule_retry_after(shared, id, delay);
        return Ok(());
    }
    after_commit(shared, &job);
    // The daily LLM budget ledger survives a crash (a no-op without one).
    if let Some(llm) = &l.pipeline.llm
        && let Err(e) = llm.save_ledger()
    {
        tracing::warn!(error = %e, "saving the LLM budget ledger");
    }
    Ok(())
}

fn backoff(cfg: &super::DaemonConfig, attempts: i64) -> Duration {
    let exp = (attempts.max(1) - 1).min(16) as u32;
    Duration::from_millis(cfg.retry_base_ms.saturating_mul(1u64 << exp).min(300_000))
}

fn handle_err(
    shared: &Arc<Shared>,
    job: &Job,
    attempts: i64,
    e: JobErr,
    cfg: &super::DaemonConfig,
) -> Result<(), super::DaemonError> {
    let store = &shared.store;
    match e {
        JobErr::Cancelled => {
            store.requeue(job.id)?;
            tracing::info!(job = job.id, "checkpointed for the next start");
        }
        JobErr::Transient(msg) if attempts < cfg.max_attempts as i64 => {
            let delay = backoff(cfg, attempts);
            tracing::warn!(job = job.id, attempts, error = %msg, retry_ms = delay.as_millis() as u64, "job failed; will retry");
            store.fail(job.id, &msg, Some(now_ms() + delay.as_millis() as i64))?;
            schedule_retry_after(shared, job.id, delay);
        }
        JobErr::Transient(msg) => quarantine(shared, job, "retries_exhausted", &msg, attempts)?,
        JobErr::Permanent { reason, msg } => quarantine(shared, job, reason, &msg, attempts)?,
    }
    Ok(())
}

/// Move the input to quarantine/ with NAME.reason.json, then mark the row.
/// A path job's input is not ours to move: only the reason is written.
pub fn quarantine(
    shared: &Arc<Shared>,
    job: &Job,
    reason: &str,
    msg: &str,
    attempts: i64,
) -> Result<(), super::DaemonError> {
    let q_rel = quarantine_rel(job);
    let q_abs = shared.dirs.root.join(&q_rel);
    let mut reason_path = q_abs.clone().into_os_string();
    reason_path.push(".reason.json");
    let body = json!({
        "job": job.id,
        "name": job.name,
        "source": job.source,
        "reason": reason,
        "error": msg,
        "attempts": attempts,
        "time_ms": now_ms(),
    });
    let write = fsio::write_atomic(
        Path::new(&reason_path),
        format!("{body:#}\n").as_bytes(),
        job.id,
    )
    .and_then(|_| {
        if job.source == SRC_API_PATH {
            Ok(())
        } else {
            fsio::rename_durable(Path::new(&job.input_path), &q_abs)
        }
    });
    if let Err(e) = write {
        // Not even quarantine is writable: try again later.
        tracing::error!(job = job.id, error = %e, "cannot quarantine; will retry");
        let delay = backoff(&shared.daemon_cfg(), attempts);
        shared.store.fail(
            job.id,
            &format!("quarantine failed: {e}"),
            Some(now_ms() + delay.as_millis() as i64),
        )?;
        schedule_retry_after(shared, job.id, delay);
        return Ok(());
    }
    tracing::warn!(job = job.id, reason, "job quarantined");
    shared
        .store
        .quarantine(job.id, &format!("{reason}: {msg}"), 0, 0)?;
    finish_name(shared, job);
    Ok(())
}

/// After the committing row: archive or remove the original.
fn after_commit(shared: &Arc<Shared>, job: &Job) {
    let input = Path::new(&job.input_path);
    if job.source != SRC_API_PATH && input.exists() {
        let res = match (job.source.as_str(), shared.daemon_cfg().after_success) {
            // No fsync: if this rename is lost in a crash, the original is
            // back in processing/ next to its committed row, and reconcile
            // archives it again.
            (SRC_INBOX, super::AfterSuccess::Archive) => {
                let dest = shared.dirs.archive.join(&job.name);
                match dest.parent() {
                    Some(p) => std::fs::create_dir_all(p),
                    None => Ok(()),
                }
                .and_then(|_| std::fs::rename(input, &dest))
            }
            _ => std::fs::remove_file(input),
        };
        if let Err(e) = res {
            // The restart finds the committed row and finishes this step.
            tracing::warn!(job = job.id, error = %e, "could not archive/remove the original");
        }
    }
    finish_name(shared, job);
}

/// The drop-folder name is free again; a later drop of the same name that
/// waited in inbox/ is claimed now.
fn finish_name(shared: &Arc<Shared>, job: &Job) {
    if job.source != SRC_INBOX {
        return;
    }
    shared
        .busy_names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&job.name);
    let waiting = shared.dirs.inbox.join(&job.name);
    if waiting.exists() && super::watch::settled(shared, &waiting) {
        super::watch::claim(shared, &waiting);
    }
}

fn schedule_retry(shared: &Arc<Shared>, id: i64, secs: u64) {
    schedule_retry_after(shared, id, Duration::from_secs(secs));
}

fn schedule_retry_after(shared: &Arc<Shared>, id: i64, delay: Duration) {
    let Ok(h) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let s = shared.clone();
    h.spawn(async move {
        tokio::time::sleep(delay).await;
        if !s.draining.load(Ordering::SeqCst) {
            s.enqueue(id);
        }
    });
}

/// Take job ids from the queue and run them, `workers` at a time, each on
/// a blocking thread.
pub async fn dispatch(
    shared: Arc<Shared>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<i64>,
    workers: usize,
) {
    let sem = Arc::new(tokio::sync::Semaphore::new(workers));
    while let Some(id) = rx.recv().await {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        shared.running.fetch_add(1, Ordering::SeqCst);
        if shared.draining.load(Ordering::SeqCst) {
            // Left queued in the DB: resumed at the next start.
            shared.running.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let s = shared.clone();
        tokio::spawn(async move {
            let s2 = s.clone();
            let res = tokio::task::spawn_blocking(move || run_job(&s2, id)).await;
            if res.is_err() {
                // A panic outside the per-record guard: quarantine the file,
                // the daemon goes on.
                s.metrics.panics.fetch_add(1, Ordering::Relaxed);
                let s3 = s.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Ok(Some(job)) = s3.store.job(id) {
                        let _ = quarantine(&s3, &job, "panic", "internal error", job.attempts);
                    }
                })
                .await;
            }
            s.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
        });
    }
}

/// Create a drop-folder job for a file now in processing/.
pub fn new_inbox_job(shared: &Shared, name: &str) -> Result<i64, super::DaemonError> {
    let l = shared.loaded();
    let input = shared.dirs.processing.join(name);
    Ok(shared.store.insert_job(
        &NewJob {
            source: SRC_INBOX,
            name,
            input_path: &input.to_string_lossy(),
            format: Format::of(name).as_str(),
            config_fp: &l.config_fp,
            rules_version: &l.rules_version,
            model: l.model.as_deref(),
            peer_uid: None,
        },
        false,
    )?)
}

/// At start: make disk and DB agree, then queue what is unfinished.
/// - temp files of interrupted writes are removed;
/// - unfinished rows are queued again (their input is in processing/, or
///   still in inbox/ if the claim's rename did not survive the crash);
/// - files in processing/ without a row get one (crash between the claim
///   and the insert), unless a committed row with the same input says only
///   the archive step was missing;
///
/// It runs before the API, the workers and the watcher start (see
/// [`super::serve`]): nothing else may touch processing/ meanwhile.
pub fn reconcile(shared: &Arc<Shared>) -> Result<(), super::DaemonError> {
    let d = &shared.dirs;
    let temps = fsio::remove_temps(&d.outbox)
        + fsio::remove_temps(&d.quarantine)
        + fsio::remove_temps(&d.processing);
    if temps > 0 {
        tracing::info!(temps, "removed temp files of interrupted writes");
    }
    let mut live: std::collections::HashSet<String> = Default::default();
    let now = now_ms();
    for job in shared.store.unfinished()? {
        let input = PathBuf::from(&job.input_path);
        if job.source == SRC_INBOX && !input.exists() {
            let back = d.inbox.join(&job.name);
            if back.exists() {
                let _ = fsio::rename_durable(&back, &input);
            } else if d.quarantine.join(&job.name).exists() {
                shared
                    .store
                    .quarantine(job.id, "quarantined before a restart", 0, 0)?;
                continue;
            }
        }
        if job.source == SRC_INBOX {
            live.insert(job.name.clone());
            shared
                .busy_names
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(job.name.clone());
        }
        match job.next_attempt_ms {
            Some(t) if job.state == State::Failed && t > now => {
                schedule_retry_after(shared, job.id, Duration::from_millis((t - now) as u64));
            }
            _ => shared.enqueue(job.id),
        }
    }
    for name in super::watch::list_files(&d.processing) {
        if live.contains(&name) {
            continue;
        }
        let path = d.processing.join(&name);
        let sha = fsio::sha256_file(&path).map(|x| x.0).ok();
        let done = shared
            .store
            .latest_by_name(SRC_INBOX, &name, &[State::Committed])?
            .filter(|j| j.input_sha256.is_some() && j.input_sha256 == sha);
        if let Some(job) = done {
            after_commit(shared, &job);
            continue;
        }
        let id = new_inbox_job(shared, &name)?;
        shared
            .busy_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone());
        shared.enqueue(id);
    }
    Ok(())
}

/// Count (metric `reconcile_mismatches`) and log the committed outputs
/// missing on disk: someone deleted them, or a crash lost a write.
pub fn count_missing_outputs(shared: &Shared) {
    let outputs = match shared.store.committed_outputs() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "listing committed outputs");
            return;
        }
    };
    let mut missing = 0u64;
    for (id, path, _) in outputs {
        if !shared.dirs.root.join(&path).exists() {
            missing += 1;
            tracing::warn!(job = id, "committed output missing on disk");
        }
    }
    shared
        .metrics
        .reconcile_mismatches
        .fetch_add(missing, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_name() {
        assert_eq!(Format::of("a.JSONL"), Format::Jsonl);
        assert_eq!(Format::of("dir/a.ndjson"), Format::Jsonl);
        assert_eq!(Format::of("a.csv"), Format::Csv);
        assert_eq!(Format::of("a.txt"), Format::Text);
        assert_eq!(Format::of("README"), Format::Text);
        assert_eq!(base_name("../../x.txt"), "x.txt");
        assert_eq!(base_name(".hidden"), "upload");
    }

    #[test]
    fn rows_are_capped_but_counts_are_not() {
        let mut p = Processed::default();
        let span = |i| SpanRow {
            record_idx: i,
            field: "text".into(),
            entity: "EMAIL".into(),
            start: 0,
            end: 1,
            score: 1.0,
            detector: "rule:email".into(),
            op: "pseudonym".into(),
            fingerprint: "00".into(),
        };
        for i in 0..MAX_ROWS_PER_JOB + 10 {
            let row = RecordRow {
                idx: i,
                line: i + 1,
                error: (i % 2 == 1).then(|| "bad".to_string()),
                path: Some("deterministic".into()),
                ..Default::default()
            };
            p.add(row, vec![span(i)]);
        }
        assert_eq!(p.total, MAX_ROWS_PER_JOB + 10);
        assert_eq!(p.failed, (MAX_ROWS_PER_JOB + 10) / 2);
        assert_eq!(p.records.len(), MAX_ROWS_PER_JOB);
        assert_eq!(p.spans.len(), MAX_ROWS_PER_JOB);
        let s = scores(&p);
        assert_eq!(s["records"], MAX_ROWS_PER_JOB + 10);
        assert_eq!(s["spans"], MAX_ROWS_PER_JOB + 10);
        assert_eq!(s["rows_truncated"], true);
        assert_eq!(s["paths"]["deterministic"], MAX_ROWS_PER_JOB + 10);
    }
}
