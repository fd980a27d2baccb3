//! `gdr bench --daemon`: load on a real `gdr serve` child process. Drops
//! many small files into its inbox at once (a rename each, from a staging
//! folder on the same file system) while concurrent socket clients send
//! synchronous rewrites; reports files/s, socket latency percentiles and
//! the daemon's peak RSS (VmHWM).

use super::client::request_async;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct BenchOptions {
    pub files: usize,
    pub clients: usize,
    pub requests: usize,
    pub no_llm: bool,
    pub config: Option<PathBuf>,
    /// Parent of the temp state dir (default: the system temp dir).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    pub files: usize,
    pub committed: i64,
    pub quarantined: i64,
    pub seconds: f64,
    pub files_per_s: f64,
    pub requests: usize,
    pub request_errors: usize,
    pub rejected_429_503: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub requests_per_s: f64,
    pub peak_rss_mib: f64,
    pub llm: Option<String>,
}

fn io(what: &str, e: std::io::Error) -> super::DaemonError {
    super::DaemonError::io(Path::new(what), e)
}

/// VmHWM of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

const TEXTS: &[&str] = &[
    "Please call Karl Strobel on 555-867-5309 about the invoice.",
    "Mail jane.doe@example.org, card 4111 1111 1111 1111 was declined.",
    "Patient MRN 44812 seen on 12 March 2024 by Dr. Amelia Hart.",
    "Transfer to IBAN DE89370400440532013000 confirmed by Tom Baker.",
];

pub fn run(o: &BenchOptions) -> Result<BenchReport, super::DaemonError> {
    let base = o.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("gdr-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dirs = super::Dirs::new(&dir);
    dirs.create()?;
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).map_err(|e| io("staging", e))?;
    for i in 0..o.files {
        let t = TEXTS[i % TEXTS.len()];
        let body = format!(
            "{}\n{}\n",
            json!({"id": i, "text": t}),
            json!({"id": i, "text": format!("Ticket {i}: contact k{i}@example.com.")})
        );
        std::fs::write(staging.join(format!("f{i:06}.jsonl")), body)
            .map_err(|e| io("staging file", e))?;
    }
    let exe = std::env::current_exe().map_err(|e| io("current_exe", e))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--state-dir").arg(&dir);
    if let Some(c) = &o.config {
        cmd.arg("--config").arg(c);
    }
    cmd.arg("serve");
    if o.no_llm {
        cmd.arg("--no-llm");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io("spawning gdr serve", e))?;
    let pid = child.id();
    let sock = dir.join("gdr.sock");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| io("runtime", e))?;
    let result = rt.block_on(async {
        // Wait for the daemon (model load included).
        let t = Instant::now();
        let health = loop {
            if let Ok(r) = request_async(&sock, "GET", "/v1/health", None, Vec::new()).await
                && r.status == 200
            {
                break r.json().unwrap_or_default();
            }
            if t.elapsed() > Duration::from_secs(300) {
                return Err(super::DaemonError::Config("daemon did not start".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let start = Instant::now();
        // The burst: every file renamed into inbox/ at once.
        let (inbox, staging2) = (dirs.inbox.clone(), staging.clone());
        let n = o.files;
        let dropper = tokio::task::spawn_blocking(move || {
            for i in 0..n {
                let name = format!("f{i:06}.jsonl");
                let _ = std::fs::rename(staging2.join(&name), inbox.join(&name));
            }
        });
        // Concurrent socket clients.
        let mut handles = Vec::new();
        for c in 0..o.clients {
            let sock = sock.clone();
            let reqs = o.requests;
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(reqs);
                let (mut errors, mut rejected) = (0usize, 0usize);
                for k in 0..reqs {
                    let body = json!({"text": TEXTS[(c + k) % TEXTS.len()]}).to_string();
                    let t = Instant::now();
                    match request_async(
                        &sock,
                        "POST",
                        "/v1/rewrite",
                        Some("application/json"),
                        body.into_bytes(),
                    )
                    .await
                    {
                        Ok(r) if r.status == 200 => lat.push(t.elapsed().as_secs_f64() * 1e3),
                        Ok(r) if r.status == 429 || r.status == 503 => rejected += 1,
                        _ => errors += 1,
                    }
                }
                (lat, errors, rejected)
            }));
        }
        let mut lat = Vec::new();
        let (mut errors, mut rejected) = (0, 0);
        for h in handles {
            if let Ok((l, e, r)) = h.await {
                lat.extend(l);
                errors += e;
                rejected += r;
            }
        }
        let req_secs = start.elapsed().as_secs_f64();
        let _ = dropper.await;
        let (committed, quarantined) = loop {
            if let Ok(r) = request_async(&sock, "GET", "/v1/health", None, Vec::new()).await
                && let Some(v) = r.json()
            {
                let c = v["jobs"]["committed"].as_i64().unwrap_or(0);
                let q = v["jobs"]["quarantined"].as_i64().unwrap_or(0);
                if (c + q) as usize >= n {
                    break (c, q);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let secs = start.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        Ok(BenchReport {
            files: n,
            committed,
            quarantined,
            seconds: secs,
            files_per_s: n as f64 / secs,
            requests: lat.len(),
            request_errors: errors,
            rejected_429_503: rejected,
            p50_ms: percentile(&lat, 0.50),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(0.0),
            requests_per_s: lat.len() as f64 / req_secs,
            peak_rss_mib: 0.0,
            llm: health["llm"].as_str().map(str::to_string),
        })
    });
    let rss = peak_rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
    // SAFETY: signalling our own child by pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let mut r = result?;
    r.peak_rss_mib = rss;
    Ok(r)
}
