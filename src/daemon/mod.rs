//! `gdr serve`: one tokio process that takes work from a watched drop
//! folder and from an HTTP/1.1 API on a Unix socket, runs it through the
//! same [`crate::pipeline::Pipeline`] as the CLI, writes outputs atomically
//! and tracks every job in SQLite ([`crate::store`]).
//!
//! Layout of the state directory:
//! `inbox/` (drop files here), `processing/` (claimed, in progress),
//! `outbox/` (results, same relative name), `quarantine/` (failures and
//! `NAME.reason.json`), `archive/` (originals, unless removed per config),
//! `gdr.sock`, `gdr.db`, `pseudonym.key`, `gdr.lock` (one daemon per state
//! dir).

pub mod api;
pub mod bench;
pub mod client;
pub mod fsio;
pub mod jobs;
pub mod watch;

pub mod systemd;

use crate::config::Config;
use crate::formats::jsonl::FieldPath;
use crate::pipeline::Pipeline;
use crate::store::{Store, StoreError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] crate::Error),
    #[error("loading the LLM: {0}")]
    Llm(#[from] crate::llm::LlmError),
    #[error("config: {0}")]
    Config(String),
    #[error("{0}: another gdr serve is using this state directory")]
    Locked(String),
}

impl DaemonError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        DaemonError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// What to do with a drop-folder original once its output is committed.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AfterSuccess {
    #[default]
    Archive,
    Remove,
}

/// `[daemon]` section of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Socket path (default: STATE_DIR/gdr.sock).
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// Uids allowed on the socket (default: the daemon's own uid and root).
    #[serde(default)]
    pub allow_uids: Option<Vec<u32>>,
    /// Gids allowed on the socket (in addition to the uids): the peer's
    /// primary gid (SO_PEERCRED) or one of its supplementary groups.
    #[serde(default)]
    pub allow_gids: Vec<u32>,
    /// Groups allowed by name (e.g. `gdr`, the group systemd/gdr.socket
    /// gives the socket), resolved when a request is checked.
    #[serde(default)]
    pub allow_groups: Vec<String>,
    /// Directories `POST /v1/jobs` may read a path from (none by default:
    /// path jobs are refused until a site lists its roots).
    #[serde(default)]
    pub allowed_roots: Vec<PathBuf>,
    /// Concurrent file jobs (default: twice the cores, at least 4).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Queued jobs accepted from the API before 503 + Retry-After.
    #[serde(default = "default_queue_limit")]
    pub queue_limit: usize,
    /// Synchronous requests in flight before 429 + Retry-After.
    #[serde(default = "default_max_inflight")]
    pub max_inflight: usize,
    /// Largest request body, in bytes (413 above).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Largest record (line or paragraph) in a file, as the CLI's
    /// `--max-record-bytes`.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
    /// JSONL field paths rewritten in dropped files.
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
    /// `archive` (to STATE_DIR/archive) or `remove` the original.
    #[serde(default)]
    pub after_success: AfterSuccess,
    /// Attempts for a job failing with an I/O error (disk full...) before
    /// it is quarantined.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at 5 minutes.
    #[serde(default = "default_retry_ms")]
    pub retry_base_ms: u64,
    /// Full inbox rescans (missed events, files left while claiming was
    /// impossible), in seconds.
    #[serde(default = "default_rescan")]
    pub rescan_secs: u64,
    /// A file found by listing (not by an event) is claimed only once it
    /// has not changed for this long: it may still be being written.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// On SIGTERM, in-flight jobs get this long to finish; then they are
    /// checkpointed (put back to be resumed at the next start).
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// Days to keep the rows of finished jobs and the audit log (0: keep
    /// forever). Checked at start and hourly; output files are never
    /// deleted by it. Set it to what your retention policy says: the audit
    /// log is evidence, and rows past it are data you no longer need.
    #[serde(default)]
    pub retention_days: u32,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialize")
    }
}

fn default_queue_limit() -> usize {
    4096
}
fn default_max_inflight() -> usize {
    128
}
fn default_max_request_bytes() -> usize {
    16 << 20
}
fn default_max_record_bytes() -> usize {
    64 << 20
}
fn default_fields() -> Vec<String> {
    vec!["text".into()]
}
fn default_max_attempts() -> u32 {
    8
}
fn default_retry_ms() -> u64 {
    2000
}
fn default_rescan() -> u64 {
    5
}
fn default_settle_ms() -> u64 {
    1000
}
fn default_grace() -> u64 {
    10
}

/// The directories of a state dir.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub root: PathBuf,
    pub inbox: PathBuf,
    pub processing: PathBuf,
    pub outbox: PathBuf,
    pub quarantine: PathBuf,
    pub archive: PathBuf,
}

impl Dirs {
    pub fn new(root: &Path) -> Self {
        Dirs {
            root: root.to_path_buf(),
            inbox: root.join("inbox"),
            processing: root.join("processing"),
            outbox: root.join("outbox"),
            quarantine: root.join("quarantine"),
            archive: root.join("archive"),
        }
    }

    /// Create the folders. A new state dir is 0700 like the key store
    /// makes it (it holds the key and the DB); a socket meant for a group
    /// goes elsewhere (`[daemon] socket`, e.g. systemd's RuntimeDirectory).
    pub fn create(&self) -> Result<(), DaemonError> {
        if !self.root.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.root)
                .map_err(|e| DaemonError::io(&self.root, e))?;
        }
        for d in [
            &self.inbox,
            &self.processing,
            &self.outbox,
            &self.quarantine,
            &self.archive,
        ] {
            std::fs::create_dir_all(d).map_err(|e| DaemonError::io(d, e))?;
        }
        Ok(())
    }
}

/// A loaded configuration: the pipeline plus what identifies it. Swapped
/// whole on SIGHUP; a job holds its Arc to the end, so a reload never
/// changes the rules under a running job.
pub struct Loaded {
    pub pipeline: Pipeline,
    pub cfg: Config,
    pub fields: Vec<FieldPath>,
    /// sha256 over config, rules, word lists, model and gdr version: the
    /// idempotency key (with the input's sha256).
    pub config_fp: String,
    pub rules_version: String,
    pub model: Option<String>,
}

impl Loaded {
    /// Build the pipeline exactly as the CLI does (key from the state dir,
    /// model attached unless `no_llm` / `[llm] enabled = false`).
    pub fn build(cfg: Config, state_dir: &Path, no_llm: bool) -> Result<Self, DaemonError> {
        let mut p = Pipeline::from_config(&cfg, state_dir)?;
        let mut model = None;
        if !no_llm && cfg.llm.enabled {
            let mut lc = cfg.llm.to_config();
            lc.state_dir = Some(state_dir.to_path_buf());
            let llm = crate::llm::detect::Llm::load(&lc)?;
            model = Some(llm.model_name.clone());
            p = p.with_llm(llm);
        }
        let fields = cfg
            .daemon
            .fields
            .iter()
            .map(|f| f.parse::<FieldPath>().map_err(DaemonError::Config))
            .collect::<Result<Vec<_>, _>>()?;
        let rules_version = rules_version(&cfg)?;
        let fp = {
            let mut h = ring::digest::Context::new(&ring::digest::SHA256);
            h.update(env!("CARGO_PKG_VERSION").as_bytes());
            h.update(rules_version.as_bytes());
            h.update(format!("{:?}", cfg.detect.threshold).as_bytes());
            h.update(format!("{:?}", cfg.policy).as_bytes());
            h.update(format!("{:?}|{}", model, cfg.llm.generative).as_bytes());
            h.update(format!("{:?}|{:?}", cfg.daemon.fields, cfg.csv.columns).as_bytes());
            hex(h.finish().as_ref())
        };
        Ok(Loaded {
            pipeline: p,
            cfg,
            fields,
            config_fp: fp,
            rules_version,
            model,
        })
    }
}

/// sha256 over the rule packs and word lists in use (built-in texts and
/// the site's files), the allow/deny lists and disabled rules.
fn rules_version(cfg: &Config) -> Result<String, DaemonError> {
    let d = &cfg.detect;
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    if d.builtin_rules {
        for (name, text) in crate::detect::rules::BUILTIN_PACKS {
            h.update(name.as_bytes());
            h.update(text.as_bytes());
        }
    }
    let mut hash_dir = |dir: &Path| -> Result<(), DaemonError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| DaemonError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            if f.is_file() {
                h.update(f.to_string_lossy().as_bytes());
                h.update(&std::fs::read(&f).map_err(|e| DaemonError::io(&f, e))?);
            }
        }
        Ok(())
    };
    if let Some(dir) = &d.rules_dir {
        hash_dir(dir)?;
    }
    match &d.gazetteer_dir {
        Some(dir) => {
            hash_dir(dir)?;
            // A directory without an optional list uses the embedded one.
            let g = crate::detect::gazetteer::BUILTIN;
            for (file, embedded) in [
                (crate::detect::gazetteer::INTL_FILE, g.common_words_intl),
                (crate::detect::gazetteer::GENDERS_FILE, g.first_name_genders),
            ] {
                if !dir.join(file).exists() {
                    h.update(embedded.as_bytes());
                }
            }
        }
        None => {
            let g = crate::detect::gazetteer::BUILTIN;
            for s in [
                g.first_names,
                g.first_name_genders,
                g.surnames,
                g.cities,
                g.countries,
                g.common_words,
                g.common_words_intl,
                g.dictionary,
                g.not_names,
            ] {
                h.update(s.as_bytes());
            }
        }
    }
    h.update(format!("{:?}{:?}{:?}", d.disable_rules, d.allow, d.deny).as_bytes());
    Ok(hex(&h.finish().as_ref()[..8]))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Counters for /v1/metrics (numbers and labels only, never content).
#[derive(Default)]
pub struct Metrics {
    pub requests: Mutex<std::collections::BTreeMap<(String, u16), u64>>,
    pub records_ok: AtomicU64,
    pub records_failed: AtomicU64,
    pub panics: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    pub rejected_overload: AtomicU64,
    pub reconcile_mismatches: AtomicU64,
    pub files_claimed: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// State shared by the API, the watcher and the workers.
pub struct Shared {
    pub dirs: Dirs,
    pub store: Store,
    pub loaded: RwLock<Arc<Loaded>>,
    pub config_path: Option<PathBuf>,
    pub no_llm: bool,
    pub metrics: Metrics,
    /// Job ids to run; the dispatcher takes them in order.
    pub queue: tokio::sync::mpsc::UnboundedSender<i64>,
    /// Jobs sent to the queue and not yet started.
    pub queued: AtomicUsize,
    /// Jobs running on the worker pool.
    pub running: AtomicUsize,
    /// Set on SIGTERM: no new work is claimed or accepted.
    pub draining: AtomicBool,
    /// Set when the grace period is over: running jobs checkpoint at the
    /// next record and go back to `queued`.
    pub cancel: AtomicBool,
    pub started: std::time::Instant,
    /// Names being claimed/processed from the inbox (a second drop of the
    /// same name waits in inbox/ until the first is done).
    pub busy_names: Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn daemon_cfg(&self) -> DaemonConfig {
        self.loaded().cfg.daemon.clone()
    }

    /// Hand a job to the dispatcher.
    pub fn enqueue(&self, id: i64) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.queue.send(id).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Options of `gdr serve`.
pub struct ServeOptions {
    pub state_dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub cfg: Config,
    pub no_llm: bool,
}

/// Run the daemon until SIGTERM/SIGINT. Order at start: directories, the
/// state-dir lock, DB, pipeline, socket (bound, chmod 0660, listening),
/// reconcile of processing/ and the DB, then the API, the job workers and
/// the watcher, backlog listing, READY=1.
///
/// Reconcile runs before anything else can touch the state dir: while it
/// lists processing/ and removes the temp files of interrupted writes, a
/// claim by the watcher would look like a file without a row (and get a
/// second job), and a running job's temp output would be deleted under it.
/// Clients that connect meanwhile wait in the socket's backlog.
pub fn serve(opts: ServeOptions) -> Result<(), DaemonError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::io(Path::new("tokio runtime"), e))?;
    let res = rt.block_on(serve_async(opts));
    // Work is drained or checkpointed by now; do not wait on idle tasks.
    rt.shutdown_timeout(Duration::from_millis(200));
    res
}

async fn serve_async(opts: ServeOptions) -> Result<(), DaemonError> {
    let dirs = Dirs::new(&opts.state_dir);
    dirs.create()?;
    let _lock = lock_state_dir(&dirs.root)?;
    let store = Store::open(&dirs.root.join("gdr.db"))?;
    let state_dir = opts.state_dir.clone();
    let no_llm = opts.no_llm;
    let cfg = opts.cfg;
    let loaded = tokio::task::spawn_blocking(move || Loaded::build(cfg, &state_dir, no_llm))
        .await
        .map_err(|e| DaemonError::Config(format!("pipeline build panicked: {e}")))??;
    let dcfg = loaded.cfg.daemon.clone();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        dirs,
        store,
        loaded: RwLock::new(Arc::new(loaded)),
        config_path: opts.config_path,
        no_llm,
        metrics: Metrics::default(),
        queue: tx,
        queued: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        draining: AtomicBool::new(false),
        cancel: AtomicBool::new(false),
        started: std::time::Instant::now(),
        busy_names: Mutex::new(Default::default()),
    });

    // The socket is bound first (a second daemon on the same socket is
    // refused before anything is touched); it is served once disk and DB
    // agree.
    let sock_path = dcfg
        .socket
        .clone()
        .unwrap_or_else(|| shared.dirs.root.join("gdr.sock"));
    let (listener, own_socket) = api::bind(&sock_path)?;
    let shared2 = shared.clone();
    tokio::task::spawn_blocking(move || jobs::reconcile(&shared2))
        .await
        .map_err(|e| DaemonError::Config(format!("reconcile panicked: {e}")))??;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let api_task = tokio::spawn(api::run(shared.clone(), listener, stop_rx.clone()));

    // Default: twice the cores, at least 4. A job spends much of its time
    // in fsync (output, directory, commit row); more workers than cores
    // overlap those waits, and CPU work is bounded by the cores anyway.
    let workers = dcfg
        .workers
        .unwrap_or_else(|| (2 * std::thread::available_parallelism().map_or(2, |n| n.get())).max(4))
        .max(1);
    let dispatcher = tokio::spawn(jobs::dispatch(shared.clone(), rx, workers));

    // Watcher before listing: a file dropped in between is seen by one or
    // the other (claiming twice is harmless: the second rename fails).
    let watcher = watch::start(shared.clone(), stop_rx.clone())?;
    watch::backlog(&shared).await;
    // Only a count for the metrics: it stats every committed output, so it
    // does not hold up the start.
    {
        let s = shared.clone();
        tokio::task::spawn_blocking(move || jobs::count_missing_outputs(&s));
    }
    // Retention: at start (the first tick is immediate) and hourly; the
    // setting is read each time, so SIGHUP can change it.
    {
        let s = shared.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = hourly.tick() => {}
                    _ = stop.changed() => break,
                }
                let days = s.daemon_cfg().retention_days;
                if days == 0 {
                    continue;
                }
                let cut = crate::store::now_ms() - i64::from(days) * 86_400_000;
                let s2 = s.clone();
                match tokio::task::spawn_blocking(move || s2.store.prune(cut)).await {
                    Ok(Ok((jobs, audit))) if jobs + audit > 0 => {
                        tracing::info!(jobs, audit, days, "pruned rows past retention");
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "pruning past retention failed"),
                    _ => {}
                }
            }
        });
    }

    let _ = systemd::notify_ready();
    tracing::info!(socket = %sock_path.display(), workers, "gdr serve ready");
    if let Some(every) = systemd::watchdog_interval() {
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every / 2);
            loop {
                t.tick().await;
                let _ = systemd::notify_watchdog();
            }
        });
    }

    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&shared).await,
        }
    }

    // Drain: stop claiming and accepting, let running jobs finish within
    // the grace period, then checkpoint the rest.
    let _ = systemd::notify_stopping();
    tracing::info!("shutting down: draining in-flight jobs");
    shared.draining.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    drop(watcher);
    let grace = Duration::from_secs(shared.daemon_cfg().shutdown_grace_secs);
    let deadline = tokio::time::Instant::now() + grace;
    while shared.running.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shared.cancel.store(true, Ordering::SeqCst);
    while shared.running.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dispatcher.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), api_task).await;
    if own_socket {
        // A socket passed by systemd stays: systemd owns its path.
        let _ = std::fs::remove_file(&sock_path);
    }
    if let Some(llm) = &shared.loaded().pipeline.llm
        && let Err(e) = llm.save_ledger()
    {
        tracing::warn!(error = %e, "saving the LLM budget ledger");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Hold an exclusive `flock` on `STATE/gdr.lock` for the life of the
/// process. Two daemons on one state dir would claim, reconcile and commit
/// over each other; the socket check alone does not catch a second daemon
/// given another socket path. The kernel drops the lock when the process
/// dies, so a `kill -9` leaves nothing stale behind.
fn lock_state_dir(root: &Path) -> Result<std::fs::File, DaemonError> {
    use std::os::fd::AsRawFd;
    let path = root.join("gdr.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DaemonError::io(&path, e))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.kind() == std::io::ErrorKind::WouldBlock {
            DaemonError::Locked(root.display().to_string())
        } else {
            DaemonError::io(&path, e)
        });
    }
    Ok(f)
}

fn signal(
    kind: tokio::signal::unix::SignalKind,
) -> Result<tokio::signal::unix::Signal, DaemonError> {
    tokio::signal::unix::signal(kind).map_err(|e| DaemonError::io(Path::new("signal handler"), e))
}

/// SIGHUP: reread the config file and rules, build a new pipeline off the
/// runtime, swap it in. Running jobs finish on the pipeline they started
/// with; a config that fails to load leaves the old one in place.
pub async fn reload(shared: &Arc<Shared>) {
    let _ = systemd::notify_reloading();
    let s = shared.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<Loaded, DaemonError> {
        let cfg = match &s.config_path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        Loaded::build(cfg, &s.dirs.root, s.no_llm)
    })
    .await;
    match res {
        Ok(Ok(l)) => {
            tracing::info!(config_fp = %l.config_fp, "reloaded config and rules");
            *shared.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(l);
            shared.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reload failed; keeping the running config");
            shared
                .metrics
                .reload_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::error!(error = %e, "reload panicked; keeping the running config");
            shared
                .metrics
                .reload_failures
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = systemd::notify_ready();
}
