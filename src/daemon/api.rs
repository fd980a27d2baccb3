//! HTTP/1.1 + JSON on a Unix domain socket (axum).
//!
//! Who may talk: the peer's uid/gid from SO_PEERCRED against an allow list
//! (default: the daemon's own uid and root); refused requests get 403 and
//! an audit row. The socket file is created 0660 before `listen`, so no
//! client can connect while it has another mode. Request bodies are capped
//! (413); synchronous work is bounded (429 + Retry-After) and async jobs
//! too (503 + Retry-After). Error messages never quote request content.

use super::jobs::{self, Format, SRC_API_PATH, SRC_API_UPLOAD};
use super::{DaemonError, Shared};
use crate::detect::{CharOffsets, SpanOut, span_out};
use crate::store::{Audit, NewJob, State, now_ms};
use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{DefaultBodyLimit, Path as AxPath, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::UnixListener;

/// The socket peer's credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peer {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub pid: Option<i32>,
}

impl Connected<axum::serve::IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(s: axum::serve::IncomingStream<'_, UnixListener>) -> Self {
        match s.io().peer_cred() {
            Ok(c) => Peer {
                uid: Some(c.uid()),
                gid: Some(c.gid()),
                pid: c.pid(),
            },
            Err(_) => Peer::default(),
        }
    }
}

/// Bind the socket: systemd's (socket activation) when passed, else
/// `path`, created with mode 0660 between bind and listen. The flag says
/// whether the socket file is ours (to remove at exit).
pub fn bind(path: &Path) -> Result<(UnixListener, bool), DaemonError> {
    if let Some(fd) = super::systemd::listen_fds().into_iter().next() {
        let std_l = std::os::unix::net::UnixListener::from(fd);
        std_l
            .set_nonblocking(true)
            .map_err(|e| DaemonError::io(path, e))?;
        let l = UnixListener::from_std(std_l).map_err(|e| DaemonError::io(path, e))?;
        return Ok((l, false));
    }
    if path.exists() {
        // A live daemon answers; a stale socket file from a crash does not.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(DaemonError::Config(format!(
                "{}: another gdr serve is listening",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| DaemonError::io(path, e))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DaemonError::io(dir, e))?;
    }
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
        .map_err(|e| DaemonError::io(path, e))?;
    let addr = socket2::SockAddr::unix(path).map_err(|e| DaemonError::io(path, e))?;
    sock.bind(&addr).map_err(|e| DaemonError::io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| DaemonError::io(path, e))?;
    sock.listen(1024).map_err(|e| DaemonError::io(path, e))?;
    sock.set_nonblocking(true)
        .map_err(|e| DaemonError::io(path, e))?;
    let std_l: std::os::unix::net::UnixListener = sock.into();
    let l = UnixListener::from_std(std_l).map_err(|e| DaemonError::io(path, e))?;
    Ok((l, true))
}

/// Per-process API state.
struct Api {
    shared: Arc<Shared>,
    /// Synchronous requests in flight (scan/rewrite).
    inflight: Arc<tokio::sync::Semaphore>,
    audit: tokio::sync::mpsc::UnboundedSender<AuditMsg>,
    my_uid: u32,
}

type St = AxState<Arc<Api>>;

/// An audit row and who waits for its commit.
type AuditMsg = (Audit, tokio::sync::oneshot::Sender<()>);

/// What a handler tells the audit log beyond method and path.
#[derive(Clone, Default)]
struct Note {
    job_id: Option<i64>,
    detail: Option<String>,
}

/// Serve until `stop` turns true; in-flight requests finish.
pub async fn run(
    shared: Arc<Shared>,
    listener: UnixListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let cfg = shared.daemon_cfg();
    let (atx, mut arx) = tokio::sync::mpsc::unbounded_channel::<AuditMsg>();
    // Group commit: the rows of all requests waiting at that moment go in
    // one transaction, and each request is answered only once its row is
    // committed, so a crash never leaves an answered request unaudited.
    let s = shared.clone();
    let writer = tokio::spawn(async move {
        while let Some(first) = arx.recv().await {
            let mut batch = vec![first];
            while let Ok(a) = arx.try_recv() {
                batch.push(a);
                if batch.len() >= 1024 {
                    break;
                }
            }
            let s2 = s.clone();
            let (rows, acks): (Vec<Audit>, Vec<_>) = batch.into_iter().unzip();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = s2.store.audit(&rows) {
                    tracing::error!(error = %e, "audit log write failed");
                }
            })
            .await;
            for ack in acks {
                let _ = ack.send(());
            }
        }
    });
    let api = Arc::new(Api {
        shared,
        inflight: Arc::new(tokio::sync::Semaphore::new(cfg.max_inflight.max(1))),
        audit: atx,
        // SAFETY: getuid has no preconditions and cannot fail.
        my_uid: unsafe { libc::getuid() },
    });
    let app = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/metrics", get(metrics))
        .route("/v1/scan", post(scan))
        .route("/v1/rewrite", post(rewrite))
        .route("/v1/jobs", post(submit).get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(cfg.max_request_bytes))
        .layer(axum::middleware::from_fn_with_state(api.clone(), guard))
        .with_state(api);
    let res = axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|v| *v).await;
        })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "socket API stopped");
    }
    // The router (and with it the last audit sender) is gone: the writer
    // drains what is left and ends.
    let _ = writer.await;
}

fn err(code: StatusCode, msg: &str) -> Response {
    (code, axum::Json(json!({"error": msg}))).into_response()
}

/// A refusal: status and message (never request content). Small, unlike
/// a whole Response, so it is cheap in a Result.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        err(self.0, &self.1)
    }
}

fn refuse(code: StatusCode, msg: &str) -> Refusal {
    Refusal(code, msg.to_string())
}

fn retry_after(code: StatusCode, secs: u32, msg: &str) -> Response {
    let mut r = err(code, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Route label for metrics (job ids folded).
fn route_label(path: &str) -> String {
    match path {
        "/v1/health" | "/v1/metrics" | "/v1/scan" | "/v1/rewrite" | "/v1/jobs" => path.into(),
        p if p.starts_with("/v1/jobs/") => "/v1/jobs/{id}".into(),
        _ => "other".into(),
    }
}

/// Peer check, metrics and audit around every request.
async fn guard(
    AxState(api): St,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let cfg = api.shared.daemon_cfg();
    let allowed = match peer.uid {
        Some(uid) => {
            let uids = cfg
                .allow_uids
                .clone()
                .unwrap_or_else(|| vec![api.my_uid, 0]);
            uids.contains(&uid) || group_allowed(&peer, &cfg)
        }
        None => false,
    };
    let resp = if allowed {
        next.run(req).await
    } else {
        err(StatusCode::FORBIDDEN, "peer not in the allow list")
    };
    let status = resp.status().as_u16();
    if let Ok(mut m) = api.shared.metrics.requests.lock() {
        *m.entry((route_label(&path), status)).or_default() += 1;
    }
    let note = resp.extensions().get::<Note>().cloned().unwrap_or_default();
    let (ack, committed) = tokio::sync::oneshot::channel();
    let row = Audit {
        ts_ms: now_ms(),
        uid: peer.uid,
        gid: peer.gid,
        pid: peer.pid,
        method,
        path: route_label(&path),
        status,
        job_id: note.job_id,
        detail: note.detail,
    };
    if api.audit.send((row, ack)).is_ok() {
        // A failed write is logged by the writer; the answer still goes out.
        let _ = committed.await;
    }
    resp
}

/// Whether the peer's primary gid or one of its supplementary groups (from
/// /proc/PID/status: SO_PEERCRED carries only the primary gid) is allowed.
fn group_allowed(peer: &Peer, cfg: &super::DaemonConfig) -> bool {
    if cfg.allow_gids.is_empty() && cfg.allow_groups.is_empty() {
        return false;
    }
    let mut allowed: Vec<u32> = cfg.allow_gids.clone();
    allowed.extend(cfg.allow_groups.iter().filter_map(|n| gid_of(n)));
    let mut gids: Vec<u32> = peer.gid.into_iter().collect();
    if let Some(pid) = peer.pid
        && let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
        && let Some(line) = status.lines().find(|l| l.starts_with("Groups:"))
    {
        gids.extend(
            line[7..]
                .split_whitespace()
                .filter_map(|g| g.parse::<u32>().ok()),
        );
    }
    gids.iter().any(|g| allowed.contains(g))
}

/// A group's gid by name (NSS, as `getent group`).
fn gid_of(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: a zeroed libc::group is a valid out-parameter.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory owned here and sized as
    // passed; getgrnam_r writes only within them.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
}

async fn not_found() -> Response {
    err(StatusCode::NOT_FOUND, "no such endpoint")
}

/// Parse a JSON body; the error says where it broke, never what it said
/// (serde's messages can quote values).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "malformed JSON"
            }
            serde_json::error::Category::Data => "JSON does not match the request schema",
            serde_json::error::Category::Io => "unreadable body",
        };
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("{kind} at line {} column {}", e.line(), e.column()),
        )
    })
}

async fn health(AxState(api): St) -> Response {
    let s = &api.shared;
    let l = s.loaded();
    let s2 = s.clone();
    let counts = tokio::task::spawn_blocking(move || s2.store.counts())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let jobs: serde_json::Map<String, Value> = State::ALL
        .iter()
        .map(|st| {
            let n = counts.iter().find(|(x, _)| x == st).map_or(0, |x| x.1);
            (st.as_str().to_string(), json!(n))
        })
        .collect();
    axum::Json(json!({
        "status": if s.draining.load(Ordering::SeqCst) { "draining" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": s.started.elapsed().as_secs(),
        "llm": l.model,
        "config_fp": l.config_fp,
        "rules_version": l.rules_version,
        "queue": s.queued.load(Ordering::SeqCst),
        "running": s.running.load(Ordering::SeqCst),
        "jobs": jobs,
    }))
    .into_response()
}

async fn metrics(AxState(api): St) -> Response {
    let s = api.shared.clone();
    let s2 = s.clone();
    let (counts, types) = tokio::task::spawn_blocking(move || {
        (
            s2.store.counts().unwrap_or_default(),
            s2.store.span_types().unwrap_or_default(),
        )
    })
    .await
    .unwrap_or_default();
    let m = &s.metrics;
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, rows: Vec<(String, u64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in rows {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    line(
        "gdr_jobs",
        "Jobs by state.",
        "gauge",
        State::ALL
            .iter()
            .map(|st| {
                let n = counts.iter().find(|(x, _)| x == st).map_or(0, |x| x.1);
                (format!("{{state=\"{}\"}}", st.as_str()), n as u64)
            })
            .collect(),
    );
    line(
        "gdr_queue_depth",
        "Jobs queued and not yet running.",
        "gauge",
        vec![(String::new(), s.queued.load(Ordering::SeqCst) as u64)],
    );
    line(
        "gdr_jobs_running",
        "Jobs running now.",
        "gauge",
        vec![(String::new(), s.running.load(Ordering::SeqCst) as u64)],
    );
    let reqs: Vec<(String, u64)> = m
        .requests
        .lock()
        .map(|r| {
            r.iter()
                .map(|((route, code), n)| (format!("{{route=\"{route}\",code=\"{code}\"}}"), *n))
                .collect()
        })
        .unwrap_or_default();
    line(
        "gdr_requests_total",
        "Socket API requests.",
        "counter",
        reqs,
    );
    let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    for (name, help, v) in [
        (
            "gdr_records_total",
            "Records rewritten by file jobs.",
            c(&m.records_ok),
        ),
        (
            "gdr_records_failed_total",
            "Records skipped as bad input.",
            c(&m.records_failed),
        ),
        (
            "gdr_panics_total",
            "Panics caught (record or job).",
            c(&m.panics),
        ),
        (
            "gdr_reloads_total",
            "Successful SIGHUP reloads.",
            c(&m.reloads),
        ),
        (
            "gdr_reload_failures_total",
            "Failed SIGHUP reloads.",
            c(&m.reload_failures),
        ),
        (
            "gdr_overload_rejections_total",
            "Requests refused with 429/503.",
            c(&m.rejected_overload),
        ),
        (
            "gdr_files_claimed_total",
            "Drop-folder files claimed.",
            c(&m.files_claimed),
        ),
        (
            "gdr_input_bytes_total",
            "Input bytes of jobs.",
            c(&m.bytes_in),
        ),
        (
            "gdr_output_bytes_total",
            "Output bytes written.",
            c(&m.bytes_out),
        ),
        (
            "gdr_reconcile_mismatches",
            "Committed outputs missing on disk at start.",
            c(&m.reconcile_mismatches),
        ),
    ] {
        line(name, help, "counter", vec![(String::new(), v)]);
    }
    line(
        "gdr_spans_total",
        "Rewritten spans by entity type (committed jobs).",
        "counter",
        types
            .into_iter()
            .map(|(t, n)| (format!("{{type=\"{t}\"}}"), n as u64))
            .collect(),
    );
    line(
        "gdr_uptime_seconds",
        "Seconds since start.",
        "gauge",
        vec![(String::new(), s.started.elapsed().as_secs())],
    );
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Body of /v1/scan and /v1/rewrite: a text, or JSON records with field
/// paths (default: the daemon's `[daemon] fields`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncReq {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    records: Option<Vec<Value>>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

/// Run synchronous pipeline work on a blocking thread, bounded by the
/// in-flight limit.
async fn bounded<F>(api: &Arc<Api>, f: F) -> Response
where
    F: FnOnce(&Shared) -> Response + Send + 'static,
{
    if api.shared.draining.load(Ordering::SeqCst) {
        api.shared
            .metrics
            .rejected_overload
            .fetch_add(1, Ordering::Relaxed);
        return retry_after(StatusCode::SERVICE_UNAVAILABLE, 5, "shutting down");
    }
    let Ok(permit) = api.inflight.clone().try_acquire_owned() else {
        api.shared
            .metrics
            .rejected_overload
            .fetch_add(1, Ordering::Relaxed);
        return retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            1,
            "too many requests in flight",
        );
    };
    let s = api.shared.clone();
    let res = tokio::task::spawn_blocking(move || {
        let r = f(&s);
        drop(permit);
        r
    })
    .await;
    res.unwrap_or_else(|_| {
        api.shared.metrics.panics.fetch_add(1, Ordering::Relaxed);
        err(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })
}

fn sync_req(
    body: &[u8],
) -> Result<(SyncReq, Option<Vec<crate::formats::jsonl::FieldPath>>), Refusal> {
    let req: SyncReq = parse(body)?;
    if req.text.is_some() == req.records.is_some() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "give exactly one of \"text\" or \"records\"",
        ));
    }
    let fields = match &req.fields {
        Some(f) => Some(
            f.iter()
                .map(|x| x.parse())
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("fields: {e}")))?,
        ),
        None => None,
    };
    Ok((req, fields))
}

/// Records of a request as JSONL lines for the same record code as files.
fn record_line(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `/v1/scan` answers, typed so the spans are serialized straight into the
/// response (a `Value` tree cost over a kilobyte a span).
#[derive(serde::Serialize)]
struct ScanSpans {
    spans: Vec<SpanOut>,
}

#[derive(serde::Serialize)]
struct ScanRecords {
    records: Vec<ScanRecord>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum ScanRecord {
    Spans { index: usize, spans: Vec<SpanOut> },
    Error { index: usize, error: String },
}

async fn scan(AxState(api): St, body: Bytes) -> Response {
    let (req, fields) = match sync_req(&body) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let n = req.records.as_ref().map_or(1, Vec::len);
    let mut r = bounded(&api, move |s| {
        let l = s.loaded();
        let min = l.pipeline.detector.threshold;
        if let Some(text) = req.text {
            let spans = jobs::guarded(s, || Ok(l.pipeline.scan(&text)));
            return match spans {
                Ok(spans) => {
                    let mut offsets = CharOffsets::new(&text);
                    let spans: Vec<SpanOut> = spans
                        .iter()
                        .filter(|x| x.score >= min)
                        .map(|x| span_out(&mut offsets, None, x, false))
                        .collect();
                    axum::Json(ScanSpans { spans }).into_response()
                }
                Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            };
        }
        let fields = fields.unwrap_or_else(|| l.fields.clone());
        let mut out = Vec::new();
        for (i, rec) in req.records.unwrap_or_default().iter().enumerate() {
            let line = record_line(rec);
            let res = jobs::guarded(s, || {
                let v = crate::formats::jsonl::parse_line(&line)?;
                // All the selected strings, then scanned together: the
                // fields share their identifiers (`Pipeline::share`).
                let texts = v.texts(&fields)?;
                let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
                let found = l.pipeline.scan_parts(&refs, true);
                let mut spans = Vec::new();
                for ((loc, t), (found, _)) in texts.iter().zip(found) {
                    let mut offsets = CharOffsets::new(t);
                    for x in found.iter().filter(|x| x.score >= min) {
                        spans.push(span_out(&mut offsets, Some(loc), x, false));
                    }
                }
                Ok(spans)
            });
            out.push(match res {
                Ok(spans) => ScanRecord::Spans { index: i, spans },
                Err(e) => ScanRecord::Error {
                    index: i,
                    error: e.to_string(),
                },
            });
        }
        axum::Json(ScanRecords { records: out }).into_response()
    })
    .await;
    r.extensions_mut().insert(Note {
        job_id: None,
        detail: Some(format!("records={n} bytes={}", body.len())),
    });
    r
}

async fn rewrite(AxState(api): St, body: Bytes) -> Response {
    let (req, fields) = match sync_req(&body) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let n = req.records.as_ref().map_or(1, Vec::len);
    let mut r = bounded(&api, move |s| {
        let l = s.loaded();
        if let Some(text) = req.text {
            let res = jobs::guarded(s, || {
                let r = l.pipeline.rewrite(&text);
                // No rewrite passed the verifier: nothing of the text goes
                // back, only why (reason codes, no content).
                if r.decision == crate::pipeline::Decision::Quarantine {
                    let reasons = r
                        .checks
                        .last()
                        .map(|c| c.verdict.reasons.clone())
                        .unwrap_or_default();
                    return Ok((
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({
                            "error": "quarantined: no rewrite passed verification",
                            "decision": r.decision,
                            "reasons": reasons,
                            "checks": r.checks,
                        }),
                    ));
                }
                Ok((
                    StatusCode::OK,
                    json!({
                        "text": r.text,
                        "decision": r.decision,
                        "path": r.path,
                        "llm": r.llm,
                        "fallback_reason": r.fallback_reason,
                        "entities": l.pipeline.entity_reports(&r),
                        "checks": r.checks,
                    }),
                ))
            });
            return match res {
                Ok((code, v)) => (code, axum::Json(v)).into_response(),
                Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            };
        }
        let fields = fields.unwrap_or_else(|| l.fields.clone());
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (i, rec) in req.records.unwrap_or_default().iter().enumerate() {
            let line = record_line(rec);
            let res = jobs::guarded(s, || jobs::jsonl_record(&l, &line, &fields, i, i + 1));
            // A record the verifier quarantined comes back as null with its
            // reasons in `errors`, never as text.
            let res = res.and_then(|o| match (o.held(), &o.row.error) {
                (true, Some(why)) => Err(crate::RecordError::Quarantined(why.clone())),
                _ => Ok(o),
            });
            match res.and_then(|o| {
                serde_json::from_str::<Value>(&o.text)
                    .map_err(|e| crate::RecordError::Json(e.to_string()))
            }) {
                Ok(v) => records.push(v),
                Err(e) => {
                    records.push(Value::Null);
                    errors.push(json!({"index": i, "error": e.to_string()}));
                }
            }
        }
        axum::Json(json!({ "records": records, "errors": errors })).into_response()
    })
    .await;
    r.extensions_mut().insert(Note {
        job_id: None,
        detail: Some(format!("records={n} bytes={}", body.len())),
    });
    r
}

/// POST /v1/jobs: `{"path": "/abs/file"}` (inside `allowed_roots`), or an
/// upload: `{"name": "x.jsonl", "content": "..."}`, or a raw body with
/// `?name=x.jsonl`. Optional `format` (text | jsonl | csv) overrides the
/// name's extension.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobReq {
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Deserialize)]
struct UploadQuery {
    name: Option<String>,
    format: Option<String>,
}

/// Resolve a submitted path: absolute, no `..`, and after resolving
/// symlinks inside one of the allowed roots (also resolved).
fn check_path(p: &Path, roots: &[PathBuf]) -> Result<PathBuf, Refusal> {
    if !p.is_absolute() {
        return Err(refuse(StatusCode::BAD_REQUEST, "path must be absolute"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(refuse(StatusCode::FORBIDDEN, "path contains .."));
    }
    let real =
        std::fs::canonicalize(p).map_err(|_| refuse(StatusCode::NOT_FOUND, "path not found"))?;
    let inside = roots.iter().any(|r| {
        std::fs::canonicalize(r)
            .map(|root| real.starts_with(&root))
            .unwrap_or(false)
    });
    if !inside {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "path outside the allowed roots",
        ));
    }
    if !real.is_file() {
        return Err(refuse(StatusCode::BAD_REQUEST, "not a regular file"));
    }
    Ok(real)
}

async fn submit(
    AxState(api): St,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = api.shared.clone();
    let cfg = s.daemon_cfg();
    if s.draining.load(Ordering::SeqCst) {
        return retry_after(StatusCode::SERVICE_UNAVAILABLE, 5, "shutting down");
    }
    if s.queued.load(Ordering::SeqCst) >= cfg.queue_limit {
        s.metrics.rejected_overload.fetch_add(1, Ordering::Relaxed);
        return retry_after(StatusCode::SERVICE_UNAVAILABLE, 5, "job queue full");
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // (source, name, input path, upload bytes, format override)
    let (source, name, input, upload, format) = if is_json {
        let req: JobReq = match parse(&body) {
            Ok(r) => r,
            Err(r) => return r.into_response(),
        };
        match (req.path, req.content) {
            (Some(p), None) => {
                let real = match check_path(&p, &cfg.allowed_roots) {
                    Ok(r) => r,
                    Err(r) => return r.into_response(),
                };
                let name = jobs::base_name(&real.to_string_lossy());
                (SRC_API_PATH, name, Some(real), None, req.format)
            }
            (None, Some(c)) => (
                SRC_API_UPLOAD,
                jobs::base_name(req.name.as_deref().unwrap_or("upload")),
                None,
                Some(c.into_bytes()),
                req.format,
            ),
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "give exactly one of \"path\" or \"content\"",
                );
            }
        }
    } else {
        (
            SRC_API_UPLOAD,
            jobs::base_name(q.name.as_deref().unwrap_or("upload")),
            None,
            Some(body.to_vec()),
            q.format,
        )
    };
    let format = match format.as_deref() {
        None => Format::of(&name),
        Some(f) => match Format::parse(f) {
            Some(f) => f,
            None => return err(StatusCode::BAD_REQUEST, "format: text, jsonl or csv"),
        },
    };
    let res = tokio::task::spawn_blocking(move || -> Result<i64, DaemonError> {
        let l = s.loaded();
        let input = match input {
            Some(p) => p,
            None => {
                // Unique, and a dot-directory: never taken for a drop file.
                let token = format!(
                    "{}-{}",
                    now_ms(),
                    s.metrics.files_claimed.load(Ordering::Relaxed) ^ rand_u64()
                );
                s.dirs
                    .processing
                    .join(".api")
                    .join(format!("{token}-{name}"))
            }
        };
        let id = s.store.insert_job(
            &NewJob {
                source,
                name: &name,
                input_path: &input.to_string_lossy(),
                format: format.as_str(),
                config_fp: &l.config_fp,
                rules_version: &l.rules_version,
                model: l.model.as_deref(),
                peer_uid: peer.uid,
            },
            true,
        )?;
        if let Some(data) = upload {
            super::fsio::write_atomic(&input, &data, id).map_err(|e| DaemonError::io(&input, e))?;
        }
        s.enqueue(id);
        Ok(id)
    })
    .await;
    match res {
        Ok(Ok(id)) => {
            let mut r = (
                StatusCode::ACCEPTED,
                [(header::LOCATION, format!("/v1/jobs/{id}"))],
                axum::Json(json!({"id": id, "state": "queued"})),
            )
                .into_response();
            r.extensions_mut().insert(Note {
                job_id: Some(id),
                detail: Some(format!("source={source} bytes={}", body.len())),
            });
            r
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "job submission failed");
            retry_after(
                StatusCode::SERVICE_UNAVAILABLE,
                5,
                "could not store the job",
            )
        }
        Err(_) => err(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u64::from_le_bytes(b)
}

async fn get_job(AxState(api): St, AxPath(id): AxPath<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return err(StatusCode::BAD_REQUEST, "job id must be an integer");
    };
    let s = api.shared.clone();
    match tokio::task::spawn_blocking(move || s.store.job(id)).await {
        Ok(Ok(Some(j))) => {
            let mut r = axum::Json(j).into_response();
            r.extensions_mut().insert(Note {
                job_id: Some(id),
                detail: None,
            });
            r
        }
        Ok(Ok(None)) => err(StatusCode::NOT_FOUND, "no such job"),
        _ => err(StatusCode::INTERNAL_SERVER_ERROR, "store error"),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<usize>,
}

async fn list_jobs(AxState(api): St, Query(q): Query<ListQuery>) -> Response {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(x) => match State::parse(x) {
            Some(s) => Some(s),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "state: queued, running, committed, quarantined or failed",
                );
            }
        },
    };
    let limit = q.limit.unwrap_or(100).min(10_000);
    let s = api.shared.clone();
    match tokio::task::spawn_blocking(move || s.store.jobs(state, limit)).await {
        Ok(Ok(jobs)) => axum::Json(json!({ "jobs": jobs })).into_response(),
        _ => err(StatusCode::INTERNAL_SERVER_ERROR, "store error"),
    }
}
