//! The `gdr` command line. Library errors are typed; here they become
//! `anyhow` errors with context for the user.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use gdr::RecordError;
use gdr::config::Config;
use gdr::detect::{CharOffsets, Span, SpanOut, span_out, span_ref};
use gdr::formats::csv as csvfmt;
use gdr::formats::jsonl::{self, FieldPath};
use gdr::formats::read_line_capped;
use gdr::formats::text::Paragraphs;
use gdr::pipeline::{Decision, Pipeline};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gdr",
    version,
    about = "Detect and rewrite personal data in text, JSONL, CSV and chat datasets"
)]
struct Cli {
    /// Config file (TOML). Without one, the embedded defaults are used.
    #[arg(long, global = true, env = "GDR_CONFIG")]
    config: Option<PathBuf>,
    /// State directory holding the pseudonym key (created 0700/0600).
    #[arg(long, global = true, env = "GDR_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Report sensitive spans per record (types, offsets, scores; no raw values
    /// unless --show-values).
    Scan(ScanArgs),
    /// Rewrite the selected fields with identifiers replaced per policy;
    /// every rewrite is verified before it is written.
    Rewrite(RewriteArgs),
    /// Verify given (original, rewrite) pairs: leaks and meaning, per line.
    Verify(VerifyCmdArgs),
    /// Rules-only scan/rewrite throughput at 1x, 10x, 100x a corpus.
    Bench(BenchArgs),
    /// Run the daemon: drop folder STATE_DIR/inbox -> outbox, and the
    /// HTTP/JSON API on STATE_DIR/gdr.sock.
    Serve {
        /// Rules only (no on-device LLM).
        #[arg(long)]
        no_llm: bool,
    },
    /// Ask a running daemon for its health (via the socket).
    Status(ClientArgs),
    /// List a running daemon's jobs.
    Jobs {
        #[command(flatten)]
        client: ClientArgs,
        /// Only jobs in this state (queued, running, committed, quarantined, failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Submit a file to a running daemon as an async job (uploaded, or by
    /// path with --by-path when it is inside the daemon's allowed roots).
    Submit {
        #[command(flatten)]
        client: ClientArgs,
        file: PathBuf,
        /// Send the path instead of the content.
        #[arg(long)]
        by_path: bool,
        /// text, jsonl or csv (default: from the extension).
        #[arg(long)]
        format: Option<String>,
        /// Wait until the job is final and print it.
        #[arg(long)]
        wait: bool,
    },
    /// Check the rule packs: compile them and run every example and
    /// counter-example they declare.
    Rules {
        /// Print each rule.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Args)]
struct ClientArgs {
    /// The daemon's socket (default: STATE_DIR/gdr.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Jsonl,
    /// RFC 4180 with a header row; `--column` picks the columns.
    Csv,
}

#[derive(Args)]
struct IoArgs {
    /// Input file; stdin when absent or "-".
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// JSONL field path(s) to process, e.g. `text`, `messages[].content`.
    #[arg(long = "field", default_value = "text")]
    fields: Vec<String>,
    /// CSV column(s) to process, by header name (default: `[csv] columns`
    /// from the config, else `text`).
    #[arg(long = "column")]
    columns: Vec<String>,
    /// Skip the on-device LLM and use rules only.
    #[arg(long)]
    no_llm: bool,
    /// Model manifest entry to use (default: the manifest's default).
    #[arg(long)]
    model: Option<String>,
    /// LLM token budget for this job (prompt + generated tokens); when it is
    /// spent the rest of the job runs on rules only.
    #[arg(long)]
    llm_budget: Option<u64>,
    /// Also ask the LLM for a fluent rewrite of each record (used only when
    /// it passes the leak check; off by default until the verifier lands).
    #[arg(long)]
    generative: bool,
    /// Largest record (line or paragraph) accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_record_bytes: usize,
    /// Records (JSONL lines, CSV rows, text paragraphs) processed at once,
    /// rules only (default: the number of cores). Output order is the input
    /// order and the output is the same at any count. With the LLM on it is
    /// 1: the model is the bottleneck and its budget is spent in input
    /// order.
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct ScanArgs {
    #[command(flatten)]
    io: IoArgs,
    /// Include the matched text (off by default: scan output is often logged).
    #[arg(long)]
    show_values: bool,
    /// Also list candidates below the rewrite threshold, down to this score.
    #[arg(long)]
    min_score: Option<f32>,
}

#[derive(Args)]
struct RewriteArgs {
    #[command(flatten)]
    io: IoArgs,
    /// Write a per-record JSONL report (entities, operations, path,
    /// verification decisions and scores, errors).
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    verify: VerifyArgs,
    /// Write quarantined input records (those no verified rewrite exists
    /// for) here, unchanged; without it they are only named on stderr.
    #[arg(long)]
    quarantine: Option<PathBuf>,
}

#[derive(Args, Clone, Copy)]
struct VerifyArgs {
    /// Commit rewrites unverified (the pre-verifier behaviour; for
    /// comparisons).
    #[arg(long)]
    no_verify: bool,
    /// Skip the verifier's embedding similarity step.
    #[arg(long)]
    no_embed: bool,
}

#[derive(Args)]
struct VerifyCmdArgs {
    /// JSONL input, one `{"id", "original", "rewrite"}` per line (optional
    /// `spans` [{start, end, type}] in bytes of `original`, `surrogates`
    /// [strings] inserted by the rewriter); stdin when absent or "-".
    input: Option<PathBuf>,
    /// Skip the embedding similarity step.
    #[arg(long)]
    no_embed: bool,
    /// Largest line accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_record_bytes: usize,
}

#[derive(Args)]
struct BenchArgs {
    /// JSONL corpora (field `text`); default: fixtures/bench.jsonl.
    #[arg(long = "corpus")]
    corpora: Vec<PathBuf>,
    /// Comma-separated scales.
    #[arg(long, default_value = "1,10,100", value_delimiter = ',')]
    scales: Vec<usize>,
    /// A peer's throughput in MB/s, to print the ratio against.
    #[arg(long)]
    baseline_mbps: Option<f64>,
    /// Print rows as JSON lines.
    #[arg(long)]
    json: bool,
    /// Also time every rule alone (slowest first).
    #[arg(long)]
    per_rule: bool,
    /// Also time the reference rule search (before triggers) in the same
    /// run, alternating with the current one, and print the ratio.
    #[arg(long)]
    compare: bool,
    /// Also time ONE record of each corpus's texts joined (about
    /// --record-kb KB) at each scale of its size: per-byte time must not
    /// grow with a record's size.
    #[arg(long)]
    one_record: bool,
    /// Size in KB of the --one-record base record.
    #[arg(long, default_value_t = 64)]
    record_kb: usize,
    /// Benchmark the LLM engine instead (pp/tg tokens/s like llama-bench,
    /// prefix-cache saving), and run bench/llama_bench.sh beside it.
    #[arg(long)]
    llm: bool,
    /// LLM threads for --llm (default: as the engine).
    #[arg(long)]
    threads: Option<i32>,
    /// Repetitions (--llm), or rounds per scale (the least CPU time of
    /// each is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Evaluate the verifier instead: mutants of the corpora's rewrites
    /// (default corpora: fixtures/records.jsonl, fixtures/chat.jsonl' texts
    /// and fixtures/paraphrases.jsonl), rejection rates per class and the
    /// cost of verification relative to the rewrite.
    #[arg(long)]
    verify: bool,
    /// Hand-written (original, rewrite) pairs for --verify.
    #[arg(long)]
    paraphrases: Option<PathBuf>,
    /// Records per corpus for --verify (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// With --verify: print the leak and meaning mutants accepted and the
    /// good rewrites rejected, with their text (off by default, like scan's
    /// --show-values: corpora hold raw identifiers).
    #[arg(long)]
    show_misses: bool,
    /// Load-test a real `gdr serve` child: files dropped at once plus
    /// concurrent socket clients (files/s, p50/p99 latency, peak RSS).
    #[arg(long)]
    daemon: bool,
    /// --daemon: files dropped into the inbox at once.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// --daemon: concurrent socket clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// --daemon: synchronous rewrite requests per client.
    #[arg(long, default_value_t = 20)]
    requests: usize,
    /// --daemon: run the daemon with rules only.
    #[arg(long)]
    no_llm: bool,
}

fn main() {
    quiet_panics();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GDR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("gdr: error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Panics report where, never what. The default hook prints the panic
/// message, and a message can quote record content (std's own string
/// slicing panics print the string); stderr is the daemon's journal, and
/// raw identifiers never reach logs. Backtraces (`RUST_BACKTRACE=1`) hold
/// code locations only, so they are still printed.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(|| "?".to_string(), |l| format!("{}:{}", l.file(), l.line()));
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        eprintln!(
            "gdr: panic in thread '{name}' at {at} (message withheld: it may quote record content)"
        );
        let bt = std::backtrace::Backtrace::capture();
        if bt.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{bt}");
        }
    }));
}

fn run() -> Result<i32> {
    let cli = Cli::parse();
    let cfg = match &cli.config {
        Some(p) => Config::load(p).with_context(|| format!("loading config {}", p.display()))?,
        None => Config::default(),
    };
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(|| cfg.state_dir.clone())
        .unwrap_or_else(gdr::keystore::default_state_dir);
    let socket = |c: &ClientArgs| {
        c.socket
            .clone()
            .or_else(|| cfg.daemon.socket.clone())
            .unwrap_or_else(|| state_dir.join("gdr.sock"))
    };
    match cli.cmd {
        Cmd::Serve { no_llm } => {
            gdr::daemon::serve(gdr::daemon::ServeOptions {
                state_dir: state_dir.clone(),
                config_path: cli.config.clone(),
                cfg: cfg.clone(),
                no_llm,
            })
            .context("gdr serve")?;
            Ok(0)
        }
        Cmd::Status(c) => client_call(&socket(&c), "GET", "/v1/health", None),
        Cmd::Jobs {
            client,
            state,
            limit,
        } => {
            let mut uri = format!("/v1/jobs?limit={limit}");
            if let Some(s) = state {
                uri.push_str(&format!("&state={s}"));
            }
            client_call(&socket(&client), "GET", &uri, None)
        }
        Cmd::Submit {
            client,
            file,
            by_path,
            format,
            wait,
        } => submit(&socket(&client), &file, by_path, format, wait),
        Cmd::Rules { list } => {
            let p = Pipeline::with_key(&cfg, &[0u8; 32])?;
            let rules = &p.detector.rules;
            if list {
                for r in &rules.rules {
                    println!("{}\t{}\t{}", r.pack, r.id, r.entity);
                }
            }
            let failures = rules.check_examples();
            for f in &failures {
                eprintln!("rule check failed: {f}");
            }
            eprintln!(
                "{} rules in {} packs; {} example failures",
                rules.rules.len(),
                rules.packs.len(),
                failures.len()
            );
            Ok(if failures.is_empty() { 0 } else { 1 })
        }
        Cmd::Bench(b) if b.llm => bench_llm(&cfg, &b),
        Cmd::Bench(b) if b.verify => {
            let mut p = Pipeline::with_key(&cfg, &[7u8; 32])?;
            if p.verifier.is_none() {
                p.verifier = Some(gdr::verify::Verifier::new(cfg.verify.clone()));
            }
            let p = with_embedder(&cfg, p, true)?;
            bench_verify(&p, &b)
        }
        Cmd::Bench(b) if b.daemon => {
            let r = gdr::daemon::bench::run(&gdr::daemon::bench::BenchOptions {
                files: b.files,
                clients: b.clients,
                requests: b.requests,
                no_llm: b.no_llm,
                config: cli.config.clone(),
                dir: cli.state_dir.clone(),
            })?;
            if b.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "daemon ({}): {} files in {:.2} s = {:.1} files/s ({} committed, {} quarantined)",
                    r.llm.as_deref().unwrap_or("rules only"),
                    r.files,
                    r.seconds,
                    r.files_per_s,
                    r.committed,
                    r.quarantined
                );
                println!(
                    "socket: {} clients x {} rewrites: {} ok, {} rejected (429/503), {} errors; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.0} req/s",
                    b.clients,
                    b.requests,
                    r.requests,
                    r.rejected_429_503,
                    r.request_errors,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.requests_per_s
                );
                println!("peak RSS (VmHWM) of gdr serve: {:.1} MiB", r.peak_rss_mib);
            }
            Ok(0)
        }
        Cmd::Bench(b) => {
            let p = Pipeline::with_key(&cfg, &[7u8; 32])?;
            bench(&p, b)
        }
        Cmd::Scan(mut a) => {
            default_columns(&cfg, &mut a.io)?;
            let p = with_llm(&cfg, &a.io, &state_dir)?;
            process(
                &p,
                &a.io,
                Mode::Scan {
                    show_values: a.show_values,
                    min_score: a.min_score.unwrap_or(p.detector.threshold),
                },
                None,
                None,
            )
        }
        Cmd::Verify(a) => {
            let mut p = Pipeline::from_config(&cfg, &state_dir)?;
            if p.verifier.is_none() {
                p.verifier = Some(gdr::verify::Verifier::new(cfg.verify.clone()));
            }
            let p = with_embedder(&cfg, p, !a.no_embed)?;
            verify_pairs(&p, &a)
        }
        Cmd::Rewrite(mut a) => {
            default_columns(&cfg, &mut a.io)?;
            let p = with_llm(&cfg, &a.io, &state_dir)?;
            // Only a generative rewrite can differ from the original once
            // both are masked (a deterministic one is identical, similarity
            // 1 by construction): the encoder is loaded only when the model
            // rewrites.
            let generative = p.llm.as_ref().is_some_and(|l| l.generative);
            let p = if a.verify.no_verify {
                p.without_verifier()
            } else {
                with_embedder(&cfg, p, !a.verify.no_embed && generative)?
            };
            let quarantine = match &a.quarantine {
                Some(path) => Some(BufWriter::new(
                    File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => None,
            };
            let report = match &a.report {
                Some(path) => Some(BufWriter::new(
                    File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => None,
            };
            let want = report.is_some();
            process(
                &p,
                &a.io,
                Mode::Rewrite { report: want },
                report,
                quarantine,
            )
        }
    }
}

/// CSV columns: `--column`, else the config's `[csv] columns`, else `text`.
/// `--column` with another format would be silently ignored: refused.
fn default_columns(cfg: &Config, io: &mut IoArgs) -> Result<()> {
    if !io.columns.is_empty() && io.format != Format::Csv {
        bail!("--column applies to --format csv (JSONL uses --field)");
    }
    if io.columns.is_empty() {
        io.columns = cfg.csv.columns.clone();
    }
    if io.columns.is_empty() {
        io.columns.push("text".into());
    }
    Ok(())
}

/// The pipeline for scan/rewrite, with the model attached unless
/// `--no-llm` / `llm.enabled = false`. A missing or corrupt model is an
/// error (with the fix in the message), not a silent downgrade to rules.
fn with_llm(cfg: &Config, io: &IoArgs, state_dir: &std::path::Path) -> Result<Pipeline> {
    let p = Pipeline::from_config(cfg, state_dir)?;
    if io.no_llm || !cfg.llm.enabled {
        return Ok(p);
    }
    let mut lc = cfg.llm.to_config();
    lc.state_dir = Some(state_dir.to_path_buf());
    if io.model.is_some() {
        lc.model = io.model.clone();
    }
    if io.llm_budget.is_some() {
        lc.job_budget = io.llm_budget;
    }
    if io.generative {
        lc.generative = true;
    }
    let llm = gdr::llm::detect::Llm::load(&lc).context("loading the LLM")?;
    Ok(p.with_llm(llm))
}

/// Attach the verifier's sentence encoder when the embedding step is
/// wanted (`[verify] embed`, no `--no-embed`) and the verifier is on. A
/// missing model is an error with the fix, like the LLM's.
fn with_embedder(cfg: &Config, mut p: Pipeline, want: bool) -> Result<Pipeline> {
    let Some(v) = &mut p.verifier else {
        return Ok(p);
    };
    if !want || !cfg.verify.embed {
        v.cfg.embed = false;
        return Ok(p);
    }
    let threads = cfg
        .verify
        .embed_threads
        .unwrap_or_else(|| gdr::llm::EngineConfig::default().threads);
    let e = gdr::llm::embed::Embedder::load(
        &cfg.llm.manifest,
        cfg.verify.embed_model.as_deref(),
        threads,
    )
    .context("loading the verifier's embedding model (run models/fetch.sh, or pass --no-embed)")?;
    Ok(p.with_embedder(e))
}

#[derive(Clone, Copy)]
enum Mode {
    Scan { show_values: bool, min_score: f32 },
    Rewrite { report: bool },
}

fn open_input(input: &Option<PathBuf>) -> Result<(Box<dyn BufRead>, String)> {
    Ok(match input {
        Some(p) if p.as_os_str() != "-" => (
            Box::new(BufReader::with_capacity(
                1 << 16,
                File::open(p).with_context(|| format!("opening {}", p.display()))?,
            )),
            p.display().to_string(),
        ),
        _ => (
            Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock())),
            "<stdin>".to_string(),
        ),
    })
}

/// Stream records from the input to stdout. Bad records are reported on
/// stderr (and in the report) and skipped; a quarantined record (no rewrite
/// passed verification) is never written to the output: it goes unchanged
/// to the quarantine file when there is one, is named on stderr with its
/// reasons and reported; the exit code is 1 if any record was skipped or
/// quarantined.
fn process(
    p: &Pipeline,
    io: &IoArgs,
    mode: Mode,
    mut report: Option<BufWriter<File>>,
    mut quarantine: Option<BufWriter<File>>,
) -> Result<i32> {
    let (mut input, name) = open_input(&io.input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let paths: Vec<FieldPath> = io
        .fields
        .iter()
        .map(|f| f.parse().map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    let mut failed = 0usize;
    let mut quarantined = 0usize;
    let mut total = 0usize;
    // Rules only, the records of a window are processed on several threads
    // (`record_threads`); a bigger window amortises starting them. The
    // byte cap (`fill_window`) bounds memory whatever the record sizes.
    let mut read_error: Option<anyhow::Error> = None;
    let mut fail = |line: usize, e: &RecordError, report: &mut Option<BufWriter<File>>| {
        failed += 1;
        eprintln!("gdr: {name}:{line}: {e}; record skipped");
        if let Some(r) = report {
            let _ = writeln!(
                r,
                "{}",
                json!({"line": line, "status": "error", "error": e.to_string()})
            );
        }
    };
    match io.format {
        Format::Jsonl => {
            // Records are read in windows so that, under an LLM budget, the
            // model goes to the records the rules are least sure about first
            // (Pipeline::admit); output order is the input order.
            const WINDOW: usize = 32;
            let threads = record_threads(p, io);
            // Rules-only scans detect a window's records stage by stage
            // (`scan_window`): one thread takes a whole batch at once.
            let batched = matches!(mode, Mode::Scan { .. }) && p.llm.is_none();
            let window_len = if threads > 1 {
                64 * threads
            } else if batched {
                gdr::detect::SCAN_BATCH
            } else {
                WINDOW
            };
            let mut line_no = 0usize;
            let mut eof = false;
            while !eof {
                let window: Vec<(usize, Result<Vec<u8>, RecordError>)> =
                    fill_window(window_len, &mut eof, &mut read_error, || {
                        loop {
                            let mut buf = Vec::new();
                            let read = read_line_capped(&mut input, &mut buf, io.max_record_bytes);
                            let Some(full) = read.with_context(|| format!("reading {name}"))?
                            else {
                                return Ok(None);
                            };
                            line_no += 1;
                            if buf.iter().all(u8::is_ascii_whitespace) && full == buf.len() {
                                continue;
                            }
                            total += 1;
                            if full > buf.len() {
                                let e = RecordError::TooLarge {
                                    size: full,
                                    limit: io.max_record_bytes,
                                };
                                return Ok(Some(((line_no, Err(e)), 0)));
                            }
                            let size = buf.len();
                            return Ok(Some(((line_no, Ok(buf)), size)));
                        }
                    });
                let allow = admit_window(p, &window, &paths);
                let done = if batched {
                    scan_window(p, window, threads, &paths, mode)
                } else {
                    run_window(window, threads, |i, line, buf| {
                        guarded(|| jsonl_record(p, buf, &paths, mode, line, allow[i]))
                    })
                };
                for (line, buf, result) in done {
                    match result {
                        Ok((text, rep, held)) => {
                            if let Some(reasons) = held {
                                quarantined += 1;
                                withhold(
                                    &name,
                                    line,
                                    "record",
                                    &reasons,
                                    &mut quarantine,
                                    &[&buf, b"\n"],
                                )?;
                            } else {
                                out.write_all(text.as_bytes())?;
                                out.write_all(b"\n")?;
                            }
                            if let (Some(r), Some(rep)) = (&mut report, rep) {
                                writeln!(r, "{rep}")?;
                            }
                        }
                        Err(e) => fail(line, &e, &mut report),
                    }
                }
            }
        }
        Format::Csv => {
            let mut rd = csvfmt::Reader::new(input, io.max_record_bytes);
            // Empty input: no header, no records, nothing to write.
            if let Some(head) = rd
                .read_header()
                .with_context(|| format!("reading {name}"))?
            {
                let header = head.result.map_err(|e| {
                    anyhow::anyhow!("{name}:{}: CSV header: {e}; nothing processed", head.line)
                })?;
                let cols = csvfmt::select(&header, &io.columns)
                    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
                // An `id` column names records in scan output and reports,
                // as a JSONL `id` does (unless it is itself being rewritten).
                let id_col = header
                    .values()
                    .iter()
                    .position(|h| h == "id")
                    .filter(|i| !cols.iter().any(|c| c.index == *i));
                if matches!(mode, Mode::Rewrite { .. }) {
                    header.write_to(&mut out)?;
                }
                // Windows for LLM admission under a budget, as for JSONL,
                // and for threads (rules only). One thread without a budget
                // needs no look-ahead: one record at a time is in memory.
                let budget = p.llm.as_ref().is_some_and(|l| l.remaining().is_some());
                let threads = record_threads(p, io);
                // Rules-only scans detect a window's rows stage by stage, as
                // JSONL records (`scan_csv_window`).
                let batched = matches!(mode, Mode::Scan { .. }) && p.llm.is_none();
                let window_len = if budget {
                    32
                } else if threads > 1 {
                    64 * threads
                } else if batched {
                    gdr::detect::SCAN_BATCH
                } else {
                    1
                };
                let mut eof = false;
                while !eof {
                    let window = fill_window(window_len, &mut eof, &mut read_error, || {
                        let read = rd.next_record().with_context(|| format!("reading {name}"));
                        Ok(read?.map(|item| {
                            total += 1;
                            let size = item.result.as_ref().map_or(0, |row| {
                                row.values().iter().map(String::len).sum::<usize>()
                            });
                            (item, size)
                        }))
                    });
                    let allow = admit_csv(p, &window, &cols);
                    let results = if batched {
                        scan_csv_window(p, &window, &cols, id_col, threads, mode)
                    } else {
                        map_records(window.len(), threads, &|i| {
                            let item = &window[i];
                            let row = item.result.as_ref().ok()?.clone();
                            Some(guarded(|| {
                                Ok(csv_record(p, row, &cols, id_col, mode, item.line, allow[i]))
                            }))
                        })
                    };
                    for (item, result) in window.into_iter().zip(results) {
                        let line = item.line;
                        let result = match (item.result, result) {
                            (Ok(_), Some(r)) => r,
                            (Err(e), _) => {
                                fail(line, &e, &mut report);
                                continue;
                            }
                            (Ok(_), None) => unreachable!("every readable row has a result"),
                        };
                        match result {
                            Ok((bytes, rep, held)) => {
                                if let Some(reasons) = held {
                                    quarantined += 1;
                                    withhold(
                                        &name,
                                        line,
                                        "record",
                                        &reasons,
                                        &mut quarantine,
                                        &[&bytes],
                                    )?;
                                } else {
                                    out.write_all(&bytes)?;
                                }
                                if let (Some(r), Some(rep)) = (&mut report, rep) {
                                    writeln!(r, "{rep}")?;
                                }
                            }
                            Err(e) => fail(line, &e, &mut report),
                        }
                    }
                }
            }
        }
        Format::Text => {
            let threads = record_threads(p, io);
            let window_len = if threads > 1 { 64 * threads } else { 1 };
            let mut paragraphs = Paragraphs::new(input, io.max_record_bytes);
            let mut memory = gdr::memory::Memory::default();
            let mut eof = false;
            while !eof {
                let window = fill_window(window_len, &mut eof, &mut read_error, || {
                    let para = paragraphs.next().transpose();
                    Ok(para
                        .with_context(|| format!("reading {name}"))?
                        .map(|para| {
                            let size = para.result.as_ref().map_or(0, String::len);
                            (para, size)
                        }))
                });
                // Detection first, in parallel; then the document memory, in
                // order: each paragraph is searched for the identifiers of
                // the paragraphs before it and adds its own; then the output,
                // in parallel. The same result for any number of threads.
                let found = map_records(window.len(), threads, &|i| {
                    let para = &window[i];
                    let text = para.result.as_ref().ok().filter(|t| !t.is_empty())?;
                    Some(guarded(|| Ok(p.detect_part(text, true))))
                });
                let found: Vec<std::sync::Mutex<_>> = window
                    .iter()
                    .zip(found)
                    .map(|(para, mut f)| {
                        if let (Ok(text), Some(Ok(d))) = (&para.result, &mut f) {
                            let shared = guarded(|| {
                                p.recall(text, &mut d.spans, &memory);
                                p.learn(text, &d.spans, &mut memory);
                                Ok(())
                            });
                            if let Err(e) = shared {
                                f = Some(Err(e));
                            }
                        }
                        std::sync::Mutex::new(f)
                    })
                    .collect();
                let results = map_records(window.len(), threads, &|i| {
                    let para = &window[i];
                    let text = para.result.as_ref().ok()?;
                    let found = found[i].lock().unwrap_or_else(|e| e.into_inner()).take()?;
                    Some(found.and_then(|d| {
                        guarded(|| Ok(text_record(p, text, d, mode, para.first_line)))
                    }))
                });
                for (para, result) in window.into_iter().zip(results) {
                    let text = match para.result {
                        Ok(t) => t,
                        Err(e) => {
                            total += 1;
                            fail(para.first_line, &e, &mut report);
                            continue;
                        }
                    };
                    let Some(result) = result else {
                        // Nothing but blank lines: passed through as they are.
                        out.write_all(para.trailer.as_bytes())?;
                        continue;
                    };
                    total += 1;
                    let line = para.first_line;
                    match result {
                        Ok((body, rep, held)) => {
                            if let Some(reasons) = held {
                                quarantined += 1;
                                withhold(
                                    &name,
                                    line,
                                    "paragraph",
                                    &reasons,
                                    &mut quarantine,
                                    &[text.as_bytes(), para.trailer.as_bytes()],
                                )?;
                                out.write_all(para.trailer.as_bytes())?;
                            } else {
                                out.write_all(body.as_bytes())?;
                                if matches!(mode, Mode::Rewrite { .. }) {
                                    out.write_all(para.trailer.as_bytes())?;
                                } else {
                                    out.write_all(b"\n")?;
                                }
                            }
                            if let (Some(r), Some(rep)) = (&mut report, rep) {
                                writeln!(r, "{rep}")?;
                            }
                        }
                        Err(e) => fail(line, &e, &mut report),
                    }
                }
            }
        }
    }
    out.flush()?;
    if let Some(r) = &mut report {
        r.flush()?;
    }
    if let Some(q) = &mut quarantine {
        q.flush()?;
    }
    if let Some(llm) = &p.llm {
        llm.save_ledger().context("saving the LLM budget ledger")?;
    }
    if quarantined > 0 {
        eprintln!(
            "gdr: {quarantined} of {total} records quarantined (no rewrite passed verification)"
        );
    }
    if failed > 0 {
        eprintln!("gdr: {failed} of {total} records failed and were skipped");
    }
    if let Some(e) = read_error {
        return Err(e);
    }
    Ok(if failed + quarantined > 0 { 1 } else { 0 })
}

/// The next window of records: up to `len`, and no more than
/// `WINDOW_BYTES` beyond the first. `next` gives a record and its size,
/// None at the end of the input. A read error also ends the input, kept in
/// `error` for after this window is written: no record read before it is
/// lost. `eof` is set at either end.
fn fill_window<T>(
    len: usize,
    eof: &mut bool,
    error: &mut Option<anyhow::Error>,
    mut next: impl FnMut() -> Result<Option<(T, usize)>>,
) -> Vec<T> {
    const WINDOW_BYTES: usize = 16 << 20;
    let mut window = Vec::with_capacity(len.min(1024));
    let mut bytes = 0usize;
    while window.len() < len && (window.is_empty() || bytes < WINDOW_BYTES) {
        match next() {
            Ok(Some((record, size))) => {
                bytes += size;
                window.push(record);
            }
            Ok(None) => {
                *eof = true;
                break;
            }
            Err(e) => {
                *error = Some(e);
                *eof = true;
                break;
            }
        }
    }
    window
}

/// Threads for the records of a window: rules only, `--threads` or the
/// number of cores; with the LLM, 1 (the model is the bottleneck and its
/// budget is spent in input order).
fn record_threads(p: &Pipeline, io: &IoArgs) -> usize {
    if p.llm.is_some() {
        return 1;
    }
    io.threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// `one(i)` for `i` in `0..n`, in index order: on up to `threads` threads
/// when there is more than one record.
fn map_records<T: Send>(n: usize, threads: usize, one: &(impl Fn(usize) -> T + Sync)) -> Vec<T> {
    if threads <= 1 || n < 2 {
        (0..n).map(one).collect()
    } else {
        run_parallel(n, threads, one)
    }
}

/// A record no rewrite passed for: named on stderr with its reason codes
/// (never its content), and its input bytes, as read, kept in the
/// quarantine file when there is one. `what` is "record" or "paragraph".
/// `f(index, line, record)` for every readable record of `window`, on up
/// to `threads` threads. Returns, in window order, each record's line, its
/// bytes (empty when unreadable) and its result (an unreadable record's
/// error), so the caller has one path for every outcome. Each thread takes
/// the next record when it is free, so one long record does not hold up a
/// fixed share of the others.
fn run_window<F>(
    window: Vec<(usize, Result<Vec<u8>, RecordError>)>,
    threads: usize,
    f: F,
) -> Vec<(usize, Vec<u8>, Result<Processed, RecordError>)>
where
    F: Fn(usize, usize, &[u8]) -> Result<Processed, RecordError> + Sync,
{
    let one = |i: usize| match &window[i] {
        (line, Ok(buf)) => Some(f(i, *line, buf)),
        (_, Err(_)) => None,
    };
    let results: Vec<Option<Result<Processed, RecordError>>> =
        map_records(window.len(), threads, &one);
    pair_results(window, results)
}

/// [`run_window`] for a rules-only JSONL scan: the selected fields of a
/// batch of records are detected together ([`Pipeline::scan_many`], stage
/// by stage, the same spans as one by one), up to
/// [`SCAN_BATCH`](gdr::detect::SCAN_BATCH) records a batch on one thread
/// and smaller batches spread over several. A record that cannot be parsed
/// or lacks a field fails alone, as in `jsonl_record`. Should detection
/// panic, the batch is done again one record at a time, so that only the
/// record that panics fails.
fn scan_window(
    p: &Pipeline,
    window: Vec<(usize, Result<Vec<u8>, RecordError>)>,
    threads: usize,
    paths: &[FieldPath],
    mode: Mode,
) -> Vec<(usize, Vec<u8>, Result<Processed, RecordError>)> {
    let Mode::Scan {
        show_values,
        min_score,
    } = mode
    else {
        unreachable!("scan_window scans");
    };
    let batches = scan_batches(window.len(), threads);
    let one_batch = |b: usize| -> Vec<Option<Result<Processed, RecordError>>> {
        let range = batches[b].clone();
        // Each readable record parsed, with its id and its fields'
        // locations and texts, borrowed from the line where they can be
        // (`RecordRef::strings`).
        type Fields<'p, 'w> = (Option<Value>, Vec<(Cow<'p, str>, Cow<'w, str>)>);
        let parsed: Vec<Option<Result<Fields, RecordError>>> = window[range.clone()]
            .iter()
            .map(|(_, rec)| {
                let buf = rec.as_ref().ok()?;
                Some(guarded(|| {
                    let v = jsonl::parse_line_ref(buf)?;
                    let mut fields = Vec::new();
                    for path in paths {
                        v.strings(path, &mut fields)?;
                    }
                    Ok((v.id(), fields))
                }))
            })
            .collect();
        let texts: Vec<&str> = parsed
            .iter()
            .flatten()
            .flatten()
            .flat_map(|(_, fields)| fields.iter().map(|(_, t)| t.as_ref()))
            .collect();
        let Ok(found) = guarded(|| Ok(p.scan_many(&texts))) else {
            return window[range]
                .iter()
                .map(|(line, rec)| {
                    let buf = rec.as_ref().ok()?;
                    Some(guarded(|| jsonl_record(p, buf, paths, mode, *line, true)))
                })
                .collect();
        };
        // `found` has one entry per text, the texts of each record in turn.
        let mut found = found;
        let mut next = 0;
        parsed
            .into_iter()
            .zip(&window[range])
            .map(|(rec, (line, _))| {
                Some(rec?.map(|(id, fields)| {
                    let found = &mut found[next..next + fields.len()];
                    next += fields.len();
                    share_found(p, fields.iter().map(|(_, t)| t.as_ref()), found);
                    let out = scan_line(*line, id.as_ref(), &fields, found, show_values, min_score);
                    (out, None, None)
                }))
            })
            .collect()
    };
    let results: Vec<Option<Result<Processed, RecordError>>> =
        map_records(batches.len(), threads, &one_batch)
            .into_iter()
            .flatten()
            .collect();
    pair_results(window, results)
}

/// [`Pipeline::share`] the spans `found` in a record's `texts` (one entry
/// per text, as `scan_many` gives them).
fn share_found<'t>(
    p: &Pipeline,
    texts: impl Iterator<Item = &'t str>,
    found: &mut [(Vec<Span>, Option<gdr::llm::detect::LlmUse>)],
) {
    if found.len() < 2 {
        return;
    }
    let mut parts: Vec<(&str, &mut Vec<Span>)> = texts
        .zip(found.iter_mut().map(|(spans, _)| spans))
        .collect();
    p.share(&mut parts);
}

/// What [`csv_record`] gives for each row of a window (None for an
/// unreadable one), for a rules-only scan: the selected columns of a batch
/// of rows are detected together, as [`scan_window`] does for JSONL
/// records (the same spans as one row at a time, in fewer cache misses).
/// Should detection panic, the batch is done again one row at a time, so
/// that only the row that panics fails.
fn scan_csv_window(
    p: &Pipeline,
    window: &[csvfmt::Item],
    cols: &[csvfmt::Column],
    id_col: Option<usize>,
    threads: usize,
    mode: Mode,
) -> Vec<Option<Result<CsvProcessed, RecordError>>> {
    let Mode::Scan {
        show_values,
        min_score,
    } = mode
    else {
        unreachable!("scan_csv_window scans");
    };
    let batches = scan_batches(window.len(), threads);
    let one_batch = |b: usize| -> Vec<Option<Result<CsvProcessed, RecordError>>> {
        let items = &window[batches[b].clone()];
        // The selected columns of each readable row (`Row::selected`).
        let texts: Vec<&str> = items
            .iter()
            .filter_map(|item| item.result.as_ref().ok())
            .flat_map(|row| row.selected(cols).into_iter().map(|(_, t)| t))
            .collect();
        let Ok(found) = guarded(|| Ok(p.scan_many(&texts))) else {
            return items
                .iter()
                .map(|item| {
                    let row = item.result.as_ref().ok()?.clone();
                    Some(guarded(|| {
                        Ok(csv_record(p, row, cols, id_col, mode, item.line, true))
                    }))
                })
                .collect();
        };
        // `found` has one entry per text, the texts of each row in turn.
        let mut found = found;
        let mut next = 0;
        items
            .iter()
            .map(|item| {
                let row = item.result.as_ref().ok()?;
                let fields = row.selected(cols);
                let found = &mut found[next..next + fields.len()];
                next += fields.len();
                share_found(p, fields.iter().map(|(_, t)| *t), found);
                let id = id_col
                    .and_then(|i| row.values().get(i))
                    .map(|s| Value::String(s.clone()));
                let line = scan_line(
                    item.line,
                    id.as_ref(),
                    &fields,
                    found,
                    show_values,
                    min_score,
                );
                let mut line = line.into_bytes();
                line.push(b'\n');
                Some(Ok((line, None, None)))
            })
            .collect()
    };
    map_records(batches.len(), threads, &one_batch)
        .into_iter()
        .flatten()
        .collect()
}

/// The batches a rules-only scan detects a window of `n` records in:
/// [`SCAN_BATCH`](gdr::detect::SCAN_BATCH) records on one thread, 32 when
/// several threads share the window (so that each has batches to take).
fn scan_batches(n: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    let per_batch = if threads > 1 {
        32
    } else {
        gdr::detect::SCAN_BATCH
    };
    (0..n)
        .step_by(per_batch)
        .map(|a| a..(a + per_batch).min(n))
        .collect()
}

/// A CSV row's output (see [`csv_record`]).
type CsvProcessed = (Vec<u8>, Option<Value>, Option<Vec<String>>);

/// Each record of `window` with its result (None for an unreadable one,
/// whose read error becomes its result), as [`run_window`] returns them.
fn pair_results(
    window: Vec<(usize, Result<Vec<u8>, RecordError>)>,
    results: Vec<Option<Result<Processed, RecordError>>>,
) -> Vec<(usize, Vec<u8>, Result<Processed, RecordError>)> {
    window
        .into_iter()
        .zip(results)
        .map(|((line, rec), result)| match (rec, result) {
            (Ok(buf), Some(r)) => (line, buf, r),
            (Err(e), _) => (line, Vec::new(), Err(e)),
            (Ok(_), None) => unreachable!("every readable record has a result"),
        })
        .collect()
}

/// `one(i)` for `i` in `0..n` on up to `threads` threads, in index order.
fn run_parallel<T: Send>(n: usize, threads: usize, one: &(impl Fn(usize) -> T + Sync)) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(n))
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break got;
                        }
                        got.push((i, one(i)));
                    }
                })
            })
            .collect();
        for w in workers {
            // Records run under `guarded` (their panics are caught), so a
            // worker itself does not panic.
            for (i, r) in w.join().expect("record worker panicked") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every index taken by a worker"))
        .collect()
}

fn withhold(
    name: &str,
    line: usize,
    what: &str,
    reasons: &[String],
    quarantine: &mut Option<BufWriter<File>>,
    original: &[&[u8]],
) -> std::io::Result<()> {
    eprintln!(
        "gdr: {name}:{line}: quarantined ({}); {what} withheld",
        reasons.join(", ")
    );
    if let Some(q) = quarantine {
        for part in original {
            q.write_all(part)?;
        }
    }
    Ok(())
}

/// A panic while processing one record must not take the others down.
fn guarded<T>(f: impl FnOnce() -> Result<T, RecordError>) -> Result<T, RecordError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(Err(RecordError::Panic))
}

/// One `scan` output line. Serialized from this typed record rather than a
/// `Value` tree, which cost over a kilobyte a span (see [`SpanOut`]).
#[derive(serde::Serialize)]
struct ScanLine<'a> {
    line: usize,
    /// JSONL and CSV records say their id (null when they have none);
    /// text paragraphs have no id key.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    spans: &'a [SpanOut],
    #[serde(skip_serializing_if = "Option::is_none")]
    llm: Option<Value>,
}

impl ScanLine<'_> {
    fn to_line(&self) -> String {
        // Strings, numbers and names only: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A rules-only scan line (JSONL records, CSV rows): the [`ScanLine`] that
/// [`FieldAcc::add_scan`] and [`FieldAcc::finish`] give for a record of
/// id `id` whose `fields` (location, text) have the spans `found`, written
/// straight from the spans. Each span borrows its field's location and text
/// ([`span_ref`]) and is written with constant keys
/// ([`SpanOut::write_json`]), into a buffer sized beforehand: no
/// [`SpanOut`] list, no copy of a location or value per span, no key
/// escaped, no growing line (the test
/// `batched_scan_lines_match_the_record_by_record_ones` compares the two).
fn scan_line(
    line: usize,
    id: Option<&Value>,
    fields: &[(impl AsRef<str>, impl AsRef<str>)],
    found: &[(Vec<Span>, Option<gdr::llm::detect::LlmUse>)],
    show_values: bool,
    min_score: f32,
) -> String {
    // About 140 bytes a span besides its field and value.
    let size: usize = fields
        .iter()
        .zip(found)
        .flat_map(|((loc, _), (spans, _))| {
            spans
                .iter()
                .map(|sp| 160 + loc.as_ref().len() + if show_values { sp.len() } else { 0 })
        })
        .sum();
    let mut out = Vec::with_capacity(64 + size);
    // Writing to a Vec cannot fail.
    out.extend_from_slice(b"{\"line\":");
    let _ = serde_json::to_writer(&mut out, &line);
    out.extend_from_slice(b",\"id\":");
    let _ = serde_json::to_writer(&mut out, id.unwrap_or(&Value::Null));
    out.extend_from_slice(b",\"spans\":[");
    let mut first = true;
    for ((loc, text), (spans, _)) in fields.iter().zip(found) {
        let mut offsets = CharOffsets::new(text.as_ref());
        for sp in spans.iter().filter(|sp| sp.score >= min_score) {
            if !first {
                out.push(b',');
            }
            first = false;
            span_ref(&mut offsets, Some(loc.as_ref()), sp, show_values).write_json(&mut out);
        }
    }
    // No `llm` key: rules only, as `FieldAcc::finish` writes without a
    // model.
    out.extend_from_slice(b"]}");
    // serde_json writes UTF-8, and so do the constants.
    String::from_utf8(out).unwrap_or_default()
}

/// LLM admission for a window of JSONL lines (all admitted without a
/// budget; unparsable lines are not admitted and fail later on their own).
fn admit_window(
    p: &Pipeline,
    window: &[(usize, Result<Vec<u8>, RecordError>)],
    paths: &[FieldPath],
) -> Vec<bool> {
    let Some(llm) = &p.llm else {
        return vec![false; window.len()];
    };
    if llm.remaining().is_none() {
        return vec![true; window.len()];
    }
    let texts: Vec<String> = window
        .iter()
        .map(|(_, rec)| {
            let mut all = String::new();
            if let Ok(buf) = rec
                && let Ok(mut v) = jsonl::parse_line(buf)
            {
                for path in paths {
                    let _ = v.for_each_mut(path, &mut |_, s| {
                        all.push_str(s);
                        all.push_str("\n\n");
                    });
                }
            }
            all
        })
        .collect();
    p.admit(&texts)
}

/// A processed record: output text, report line, and the reasons when it
/// is quarantined (then the text must not be written).
type Processed = (String, Option<Value>, Option<Vec<String>>);

/// Report fields of one field's rewrite: decision and every check.
fn checks_json(r: &gdr::pipeline::Rewritten, field: &str) -> Vec<Value> {
    r.checks
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            v["field"] = Value::String(field.to_string());
            v
        })
        .collect()
}

/// Reasons of the last check, for a quarantine message.
fn held_reasons(r: &gdr::pipeline::Rewritten) -> Vec<String> {
    r.checks
        .last()
        .map(|c| c.verdict.reasons.clone())
        .unwrap_or_default()
}

fn jsonl_record(
    p: &Pipeline,
    line: &[u8],
    paths: &[FieldPath],
    mode: Mode,
    line_no: usize,
    allow_llm: bool,
) -> Result<Processed, RecordError> {
    let mut v = jsonl::parse_line(line)?;
    let id = v.id();
    // The selected strings first, all of them: the record's fields share
    // their identifiers (`Pipeline::share`) before any is rewritten.
    let fields = v.texts(paths)?;
    let mut acc = FieldAcc::default();
    let results = acc.process(p, mode, allow_llm, &fields);
    if matches!(mode, Mode::Rewrite { .. }) {
        v.set_texts(paths, results)?;
    }
    Ok(acc.finish(p, mode, line_no, id, v.to_line()))
}

/// Scan spans or rewrite results of a record's fields, collected for its
/// output line and report (shared by JSONL and CSV).
#[derive(Default)]
struct FieldAcc {
    spans_out: Vec<SpanOut>,
    entities: Vec<Value>,
    n_spans: usize,
    rw_paths: Vec<gdr::pipeline::RewritePath>,
    llm_uses: Vec<gdr::llm::detect::LlmUse>,
    reasons: Vec<String>,
    /// Verifier checks per field (report).
    checks: Vec<Value>,
    /// Reasons the record is quarantined (some field had no rewrite that
    /// passed verification): then it must not be written to the output.
    held: Option<Vec<String>>,
}

impl FieldAcc {
    /// Scan or rewrite the `(location, text)` fields of one record, their
    /// identifiers shared (`Pipeline::scan_parts`, `rewrite_parts`): the
    /// rewritten texts in order (none for a scan).
    fn process(
        &mut self,
        p: &Pipeline,
        mode: Mode,
        allow_llm: bool,
        fields: &[(impl AsRef<str>, impl AsRef<str>)],
    ) -> Vec<String> {
        let texts: Vec<&str> = fields.iter().map(|(_, t)| t.as_ref()).collect();
        match mode {
            Mode::Scan {
                show_values,
                min_score,
            } => {
                let found = p.scan_parts(&texts, allow_llm);
                for ((loc, text), (spans, used)) in fields.iter().zip(found) {
                    self.add_scan(
                        loc.as_ref(),
                        text.as_ref(),
                        &spans,
                        used,
                        show_values,
                        min_score,
                    );
                }
                Vec::new()
            }
            Mode::Rewrite { .. } => p
                .rewrite_parts(&texts, allow_llm)
                .into_iter()
                .zip(fields)
                .map(|(r, (loc, _))| self.add_rewrite(p, mode, loc.as_ref(), r))
                .collect(),
        }
    }

    /// Account for one field's rewrite at location `loc`: its text.
    fn add_rewrite(
        &mut self,
        p: &Pipeline,
        mode: Mode,
        loc: &str,
        r: gdr::pipeline::Rewritten,
    ) -> String {
        match mode {
            Mode::Scan { .. } => unreachable!("a scan rewrites nothing"),
            Mode::Rewrite { report } => {
                self.n_spans += r.plan.spans.len();
                self.rw_paths.push(r.path);
                if let Some(u) = r.llm {
                    self.llm_uses.push(u);
                }
                if let Some(reason) = &r.fallback_reason {
                    self.reasons.push(reason.clone());
                }
                if r.decision == Decision::Quarantine {
                    let h = self.held.get_or_insert_with(Vec::new);
                    for reason in held_reasons(&r) {
                        let tagged = format!("{loc}: {reason}");
                        if !h.contains(&tagged) {
                            h.push(tagged);
                        }
                    }
                }
                if report {
                    self.checks.extend(checks_json(&r, loc));
                    for e in p.entity_reports(&r) {
                        let mut ej = serde_json::to_value(&e).unwrap_or(Value::Null);
                        ej["field"] = Value::String(loc.to_string());
                        self.entities.push(ej);
                    }
                }
                r.text
            }
        }
    }

    /// One field's scan result: the spans at `loc` in `text`.
    fn add_scan(
        &mut self,
        loc: &str,
        text: &str,
        spans: &[Span],
        used: Option<gdr::llm::detect::LlmUse>,
        show_values: bool,
        min_score: f32,
    ) {
        if let Some(u) = used {
            self.llm_uses.push(u);
        }
        let mut offsets = CharOffsets::new(text);
        for sp in spans.iter().filter(|sp| sp.score >= min_score) {
            self.spans_out
                .push(span_out(&mut offsets, Some(loc), sp, show_values));
        }
    }

    /// The record's output (scan: a JSON line; rewrite: `rewritten`) and,
    /// for rewrite, its report entry.
    fn finish(
        self,
        p: &Pipeline,
        mode: Mode,
        line_no: usize,
        id: Option<Value>,
        rewritten: String,
    ) -> Processed {
        match mode {
            Mode::Scan { .. } => {
                let rec = ScanLine {
                    line: line_no,
                    id: Some(id.as_ref().unwrap_or(&Value::Null)),
                    spans: &self.spans_out,
                    llm: p.llm.is_some().then(|| json!(self.llm_uses)),
                };
                (rec.to_line(), None, None)
            }
            Mode::Rewrite { .. } => {
                let decision = if self.held.is_some() {
                    Decision::Quarantine
                } else {
                    Decision::Commit
                };
                let status = if self.held.is_some() {
                    "quarantined"
                } else {
                    "ok"
                };
                let rep = json!({"line": line_no, "id": id, "status": status, "decision": decision,
                    "paths": self.rw_paths, "llm": self.llm_uses,
                    "fallback_reasons": self.reasons, "spans": self.n_spans,
                    "entities": self.entities, "checks": self.checks});
                (rewritten, Some(rep), self.held)
            }
        }
    }
}

/// LLM admission for a window of CSV records (see [`admit_window`]).
fn admit_csv(p: &Pipeline, window: &[csvfmt::Item], cols: &[csvfmt::Column]) -> Vec<bool> {
    let Some(llm) = &p.llm else {
        return vec![false; window.len()];
    };
    if llm.remaining().is_none() {
        return vec![true; window.len()];
    }
    let texts: Vec<String> = window
        .iter()
        .map(|item| {
            let mut all = String::new();
            if let Ok(row) = &item.result {
                for c in cols {
                    if let Some(v) = row.values().get(c.index) {
                        all.push_str(v);
                        all.push_str("\n\n");
                    }
                }
            }
            all
        })
        .collect();
    p.admit(&texts)
}

/// One CSV record: scan output as a JSON line (with its newline), or the
/// record with the selected columns rewritten and the rest byte for byte.
fn csv_record(
    p: &Pipeline,
    mut row: csvfmt::Row,
    cols: &[csvfmt::Column],
    id_col: Option<usize>,
    mode: Mode,
    line_no: usize,
    allow_llm: bool,
) -> (Vec<u8>, Option<Value>, Option<Vec<String>>) {
    let id = id_col
        .and_then(|i| row.values().get(i))
        .map(|s| Value::String(s.clone()));
    let mut acc = FieldAcc::default();
    // The record as read, for the quarantine file should no rewrite pass.
    let original = matches!(mode, Mode::Rewrite { .. }).then(|| row.to_bytes());
    let results = acc.process(p, mode, allow_llm, &row.selected(cols));
    row.set_selected(cols, results);
    match mode {
        Mode::Scan { .. } => {
            let (mut line, rep, _) = acc.finish(p, mode, line_no, id, String::new());
            line.push('\n');
            (line.into_bytes(), rep, None)
        }
        Mode::Rewrite { .. } => {
            let (_, rep, held) = acc.finish(p, mode, line_no, id, String::new());
            // Withheld: the caller writes the original to the quarantine
            // file, never to the output.
            match held {
                Some(h) => (original.unwrap_or_default(), rep, Some(h)),
                None => (row.to_bytes(), rep, None),
            }
        }
    }
}

/// One paragraph's output from its detection `d` (the document memory
/// already applied).
fn text_record(
    p: &Pipeline,
    text: &str,
    d: gdr::pipeline::Detection,
    mode: Mode,
    line: usize,
) -> Processed {
    match mode {
        Mode::Scan {
            show_values,
            min_score,
        } => {
            let (found, used) = (d.spans, d.llm);
            let mut offsets = CharOffsets::new(text);
            let spans: Vec<SpanOut> = found
                .iter()
                .filter(|s| s.score >= min_score)
                .map(|s| span_out(&mut offsets, Some("text"), s, show_values))
                .collect();
            let rec = ScanLine {
                line,
                id: None,
                spans: &spans,
                llm: used.map(|u| json!(u)),
            };
            (rec.to_line(), None, None)
        }
        Mode::Rewrite { report } => {
            let r = p.rewrite_detection(text, d);
            let held = (r.decision == Decision::Quarantine).then(|| held_reasons(&r));
            let rep = report.then(|| {
                let status = if held.is_some() { "quarantined" } else { "ok" };
                json!({"line": line, "status": status, "decision": r.decision,
                    "paths": [r.path], "llm": r.llm,
                    "fallback_reasons": r.fallback_reason.iter().collect::<Vec<_>>(),
                    "spans": r.plan.spans.len(), "entities": p.entity_reports(&r),
                    "checks": checks_json(&r, "text")})
            });
            (r.text, rep, held)
        }
    }
}

fn bench(p: &Pipeline, b: BenchArgs) -> Result<i32> {
    let corpora = if b.corpora.is_empty() {
        vec![PathBuf::from("fixtures/bench.jsonl")]
    } else {
        b.corpora
    };
    if b.scales.is_empty() || b.scales.contains(&0) {
        bail!("--scales must be positive integers");
    }
    println!(
        "{:<22} {:>6} {:>9} {:>9} {:>10} {:>12} {:>9} {:>11} {:>10} {:>10} {:>9}",
        "corpus",
        "scale",
        "records",
        "MB",
        "scan MB/s",
        "rewrite MB/s",
        "scan cpu",
        "rewrite cpu",
        "scan t/B",
        "rw t/B",
        "spans"
    );
    let print_row = |r: &gdr::bench::Row| {
        println!(
            "{:<22} {:>6} {:>9} {:>9.2} {:>10.1} {:>12.1} {:>9.1} {:>11.1} {:>10.3} {:>10.3} {:>9}",
            r.corpus,
            r.scale,
            r.records,
            r.mbytes,
            r.scan_mbps,
            r.rewrite_mbps,
            r.scan_cpu_mbps,
            r.rewrite_cpu_mbps,
            r.scan_linearity,
            r.rewrite_linearity,
            r.spans
        );
    };
    for c in &corpora {
        let f = File::open(c).with_context(|| format!("opening {}", c.display()))?;
        let mut texts = Vec::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: malformed JSON", c.display(), i + 1))?;
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                texts.push(t.to_string());
            }
        }
        let name = c
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().to_string());
        if b.per_rule {
            let mb = texts.iter().map(String::len).sum::<usize>() as f64 / 1e6;
            for (id, secs) in gdr::bench::per_rule(p, &texts).iter().take(80) {
                println!(
                    "{name:<22} rule {id:<28} {:>8.1} ms {:>9.1} MB/s",
                    secs * 1e3,
                    mb / secs
                );
            }
            // Which patterns the trigger pass opens most often (a broad
            // trigger is where anchored search time goes); 0: scanned.
            let counts = p
                .detector
                .rules
                .trigger_counts(texts.iter().map(String::as_str));
            for (id, n) in counts.iter().take(12) {
                println!("{name:<22} trigger {id:<28} {n:>8} places");
            }
            for (id, _) in counts.iter().filter(|c| c.1 == 0) {
                println!("{name:<22} trigger {id:<28}  scanned or never opened");
            }
        }
        for r in gdr::bench::run(p, &name, &texts, &b.scales, b.compare, b.reps) {
            if b.json {
                println!("{}", serde_json::to_string(&r)?);
                continue;
            }
            print_row(&r);
            if let (Some(rs), Some(rr)) = (r.ref_scan_cpu_mbps, r.ref_rewrite_cpu_mbps) {
                println!(
                    "{:<22} reference rule search (cpu): scan {rs:.1} MB/s, rewrite {rr:.1} MB/s; now {:.2}x scan, {:.2}x rewrite",
                    "",
                    r.scan_cpu_mbps / rs,
                    r.rewrite_cpu_mbps / rr
                );
            }
            if let Some(base) = b.baseline_mbps {
                println!(
                    "{:<22} scan is {:.0}x the baseline's {base} MB/s",
                    "",
                    r.scan_mbps / base
                );
            }
        }
        if b.one_record {
            let base = gdr::bench::joined(&texts, b.record_kb * 1000);
            let label = format!("{name} (1 record)");
            for r in gdr::bench::run_one_record(p, &label, &base, &b.scales, b.reps) {
                if b.json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    print_row(&r);
                }
            }
        }
    }
    Ok(0)
}

/// `gdr bench --llm`: the engine next to llama.cpp's own llama-bench, same
/// model and threads, in one run.
fn bench_llm(cfg: &Config, b: &BenchArgs) -> Result<i32> {
    let mut lc = cfg.llm.to_config();
    // The batching comparison needs slots; one at a time is the default.
    lc.engine.parallel = lc.engine.parallel.max(8);
    if let Some(t) = b.threads {
        lc.engine.threads = t;
    }
    let llm = gdr::llm::detect::Llm::load(&lc).context("loading the LLM")?;
    let r = gdr::bench::llm(&llm, 128, 64, b.reps)?;
    println!(
        "gdr engine   model {} threads {}: pp{} {:.1} t/s  tg{} {:.1} t/s",
        llm.model_name, r.threads, r.pp_tokens, r.pp_tps, r.tg_tokens, r.tg_tps
    );
    println!(
        "prefix cache ({} prefix tokens): detection request {:.1} ms cached vs {:.1} ms uncached ({:.0}% saved)",
        r.prefix_tokens,
        r.cached_ms,
        r.uncached_ms,
        100.0 * (1.0 - r.cached_ms / r.uncached_ms.max(1e-9))
    );
    println!(
        "batching: {} detection requests sequential {:.0} ms vs batched {:.0} ms ({:.2}x); {} of {} outputs identical",
        r.batch_requests,
        r.sequential_ms,
        r.batched_ms,
        r.sequential_ms / r.batched_ms.max(1e-9),
        r.batch_identical,
        r.batch_requests
    );
    let script = PathBuf::from("bench/llama_bench.sh");
    if !script.exists() {
        eprintln!(
            "gdr: bench/llama_bench.sh not found (run from the repo root) — no reference figures"
        );
        return Ok(0);
    }
    let out = std::process::Command::new(&script)
        .arg(&llm.engine.model_path)
        .arg(r.threads.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running bench/llama_bench.sh")?;
    if !out.status.success() {
        bail!("bench/llama_bench.sh failed");
    }
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).context("llama-bench JSON")?;
    let pick = |pp: bool| {
        rows.iter().find_map(|r| {
            let np = r["n_prompt"].as_u64().unwrap_or(0);
            let ng = r["n_gen"].as_u64().unwrap_or(0);
            let ok = if pp {
                np > 0 && ng == 0
            } else {
                ng > 0 && np == 0
            };
            ok.then(|| r["avg_ts"].as_f64().unwrap_or(0.0))
        })
    };
    let (ref_pp, ref_tg) = (pick(true).unwrap_or(0.0), pick(false).unwrap_or(0.0));
    println!(
        "llama-bench  same model, threads {}: pp128 {ref_pp:.1} t/s  tg64 {ref_tg:.1} t/s",
        r.threads
    );
    println!(
        "ratio gdr/llama-bench: pp {:.1}%  tg {:.1}%",
        100.0 * r.pp_tps / ref_pp.max(1e-9),
        100.0 * r.tg_tps / ref_tg.max(1e-9)
    );
    Ok(0)
}

/// `gdr verify`: one verdict line per input pair.
fn verify_pairs(p: &Pipeline, a: &VerifyCmdArgs) -> Result<i32> {
    let (mut input, name) = open_input(&a.input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut line_no, mut failed, mut total) = (0usize, 0usize, 0usize);
    loop {
        let mut buf = Vec::new();
        let Some(full) = read_line_capped(&mut input, &mut buf, a.max_record_bytes)
            .with_context(|| format!("reading {name}"))?
        else {
            break;
        };
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) && full == buf.len() {
            continue;
        }
        total += 1;
        let parsed = if full > buf.len() {
            Err(format!(
                "record too large ({full} bytes, limit {})",
                a.max_record_bytes
            ))
        } else {
            parse_pair(&buf)
        };
        match parsed {
            Ok(pair) => {
                let v = p.verify_pair(
                    &pair.original,
                    &pair.rewrite,
                    pair.spans.as_deref(),
                    pair.surrogates.as_deref(),
                    !a.no_embed,
                );
                let mut line = serde_json::to_value(&v)?;
                line["id"] = pair.id;
                let ordered = json!({"id": line["id"], "verdict": line["verdict"],
                    "reasons": line["reasons"], "scores": line["scores"]});
                writeln!(out, "{ordered}")?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("gdr: {name}:{line_no}: {e}; record skipped");
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        eprintln!("gdr: {failed} of {total} records failed and were skipped");
        return Ok(1);
    }
    Ok(0)
}

struct PairIn {
    id: Value,
    original: String,
    rewrite: String,
    spans: Option<Vec<Span>>,
    surrogates: Option<Vec<String>>,
}

/// One `gdr verify` line. Errors name fields, never their content.
fn parse_pair(buf: &[u8]) -> std::result::Result<PairIn, String> {
    let text = std::str::from_utf8(buf).map_err(|e| {
        RecordError::InvalidUtf8 {
            offset: e.valid_up_to(),
        }
        .to_string()
    })?;
    let v: Value = serde_json::from_str(text).map_err(|e| {
        RecordError::Json(format!("line {}, column {}", e.line(), e.column())).to_string()
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| RecordError::NotObject.to_string())?;
    let string = |k: &str| -> std::result::Result<String, String> {
        match obj.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(RecordError::NotString {
                path: k.to_string(),
                found: gdr::formats::jsonl::kind(other),
            }
            .to_string()),
            None => Err(RecordError::MissingField(k.to_string()).to_string()),
        }
    };
    let original = string("original")?;
    let rewrite = string("rewrite")?;
    let spans = match obj.get("spans") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let get = |k: &str| it.get(k).and_then(Value::as_u64).map(|n| n as usize);
                let (Some(start), Some(end), Some(ty)) = (
                    get("start"),
                    get("end"),
                    it.get("type").and_then(Value::as_str),
                ) else {
                    return Err(format!("spans[{i}]: needs start, end (bytes) and type"));
                };
                if start >= end
                    || end > original.len()
                    || !original.is_char_boundary(start)
                    || !original.is_char_boundary(end)
                {
                    return Err(format!(
                        "spans[{i}]: offsets outside the original or inside a character"
                    ));
                }
                out.push(Span {
                    start,
                    end,
                    entity: gdr::detect::Name::from(ty),
                    score: 1.0,
                    detector: gdr::detect::Name::from("input"),
                    validated: true,
                });
            }
            out.sort_by_key(|s| (s.start, s.end));
            if out.windows(2).any(|w| w[1].start < w[0].end) {
                return Err("spans overlap".to_string());
            }
            Some(out)
        }
        Some(_) => return Err("field \"spans\" must be an array".to_string()),
    };
    let surrogates = match obj.get("surrogates") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("field \"surrogates\" must be an array of strings")?,
        ),
        Some(_) => return Err("field \"surrogates\" must be an array of strings".to_string()),
    };
    Ok(PairIn {
        id: obj.get("id").cloned().unwrap_or(Value::Null),
        original,
        rewrite,
        spans,
        surrogates,
    })
}

/// `gdr bench --verify`: the mutation set of the corpora (field `text`) and
/// the hand-written paraphrases; rejection rate per class and the cost of
/// verification relative to the rewrite, with and without the embedding.
fn bench_verify(p: &Pipeline, b: &BenchArgs) -> Result<i32> {
    use gdr::verify::mutate::{self, Class};
    let corpora = if b.corpora.is_empty() {
        vec![PathBuf::from("fixtures/records.jsonl")]
    } else {
        b.corpora.clone()
    };
    let mut pairs = Vec::new();
    let mut quarantined = 0usize;
    for c in &corpora {
        let f = File::open(c).with_context(|| format!("opening {}", c.display()))?;
        let mut n = 0;
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: malformed JSON", c.display(), i + 1))?;
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                match mutate::deterministic_pair(p, t) {
                    Some(pair) => pairs.push(pair),
                    None => quarantined += 1,
                }
                n += 1;
                if b.limit > 0 && n >= b.limit {
                    break;
                }
            }
        }
    }
    let para = b
        .paraphrases
        .clone()
        .unwrap_or_else(|| PathBuf::from("fixtures/paraphrases.jsonl"));
    if para.exists() {
        for (i, line) in BufReader::new(File::open(&para)?).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: malformed JSON", para.display(), i + 1))?;
            let (Some(o), Some(r)) = (
                v.get("original").and_then(Value::as_str),
                v.get("rewrite").and_then(Value::as_str),
            ) else {
                bail!("{}:{}: needs original and rewrite", para.display(), i + 1);
            };
            let sur: Vec<(String, String)> = v
                .get("surrogates")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            pairs.push(mutate::paraphrase_pair(p, o, r, &sur));
        }
    }
    if quarantined > 0 {
        println!("{quarantined} records quarantined by the pipeline (no good rewrite to mutate)");
    }
    let cases = mutate::cases(p, &pairs);
    let det: Vec<&mutate::Pair> = pairs.iter().filter(|x| x.class == Class::Good).collect();
    let rewrite_secs = det.iter().map(|x| x.rewrite_secs).sum::<f64>() / det.len().max(1) as f64;
    let has_embed = p.verifier.as_ref().is_some_and(|v| v.embedder.is_some());
    println!(
        "verifier mutation set: {} good pairs ({} deterministic, {} paraphrases), {} cases",
        pairs.len(),
        det.len(),
        pairs.len() - det.len(),
        cases.len()
    );
    if b.show_misses {
        for c in &cases {
            let Some(v) = mutate::verify_case(p, c, has_embed) else {
                continue;
            };
            let wrong = ((c.class.is_leak() || c.class.is_meaning()) && v.accept)
                || (c.class.should_accept() && !v.accept);
            if wrong {
                // The mutated part only: the good rewrite and the mutant
                // without their common prefix and suffix.
                let good = &pairs[c.source].rewrite;
                let pre = good
                    .char_indices()
                    .zip(c.rewrite.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(good.len().min(c.rewrite.len()), |((i, _), _)| i);
                let suf = good[pre..]
                    .chars()
                    .rev()
                    .zip(c.rewrite[pre..].chars().rev())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a.len_utf8())
                    .sum::<usize>()
                    .min(good.len() - pre)
                    .min(c.rewrite.len() - pre);
                println!(
                    "{}",
                    json!({"class": c.class, "source": c.source, "reasons": v.reasons,
                        "from": &good[pre..good.len() - suf],
                        "to": &c.rewrite[pre..c.rewrite.len() - suf],
                        "identifiers": c.identifiers.iter()
                            .map(|s| format!("{}:{}", s.entity, &c.original[s.start..s.end]))
                            .collect::<Vec<_>>()})
                );
            }
        }
    }
    let runs: &[bool] = if has_embed { &[false, true] } else { &[false] };
    for &embed in runs {
        let t = mutate::evaluate(p, &cases, embed);
        println!("\n{} embedding:", if embed { "with" } else { "without" });
        println!(
            "{:<12} {:>6} {:>9} {:>10}  top reasons",
            "class", "cases", "rejected", "verify ms"
        );
        for x in &t {
            if x.cases == 0 {
                continue;
            }
            let mut rs: Vec<(&String, &usize)> = x.reasons.iter().collect();
            rs.sort_by(|a, b| b.1.cmp(a.1));
            let top: Vec<String> = rs.iter().take(4).map(|(r, n)| format!("{r}={n}")).collect();
            println!(
                "{:<12} {:>6} {:>8.1}% {:>10.3}  {}",
                x.class,
                x.cases,
                100.0 * x.rejected as f64 / x.cases as f64,
                x.verify_secs * 1e3,
                top.join(" ")
            );
        }
        let by = |f: &dyn Fn(Class) -> bool| {
            let (mut n, mut r) = (0, 0);
            for (x, c) in t.iter().zip(Class::ALL) {
                if f(c) {
                    n += x.cases;
                    r += x.rejected;
                }
            }
            (n, r)
        };
        let (ln, lr) = by(&|c: Class| c.is_leak());
        let (mn, mr) = by(&|c: Class| c.is_meaning());
        let (gn, gr) = by(&|c: Class| c.should_accept());
        println!(
            "leak mutants rejected {:.2}% ({lr}/{ln}); meaning mutants rejected {:.2}% ({mr}/{mn}); good rewrites accepted {:.2}% ({}/{gn})",
            100.0 * lr as f64 / ln.max(1) as f64,
            100.0 * mr as f64 / mn.max(1) as f64,
            100.0 * (gn - gr) as f64 / gn.max(1) as f64,
            gn - gr
        );
        let all_secs = t
            .iter()
            .map(|x| x.verify_secs * x.cases as f64)
            .sum::<f64>()
            / t.iter().map(|x| x.cases).sum::<usize>().max(1) as f64;
        let good_secs = t[0].verify_secs;
        println!(
            "cost: rewrite {:.3} ms/record; verify {:.3} ms on a deterministic rewrite ({:.2}x the rewrite), {:.3} ms on average over all cases ({:.2}x)",
            rewrite_secs * 1e3,
            good_secs * 1e3,
            good_secs / rewrite_secs.max(1e-12),
            all_secs * 1e3,
            all_secs / rewrite_secs.max(1e-12)
        );
    }
    Ok(0)
}

/// One request to the daemon; the JSON reply goes to stdout. Exit 0 on
/// 2xx, 1 otherwise.
fn client_call(
    sock: &std::path::Path,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> Result<i32> {
    let (ct, bytes) = match body {
        Some(b) => (Some("application/json"), serde_json::to_vec(&b)?),
        None => (None, Vec::new()),
    };
    let r = gdr::daemon::client::request(sock, method, uri, ct, bytes)?;
    print_reply(&r)?;
    Ok(if (200..300).contains(&r.status) { 0 } else { 1 })
}

fn print_reply(r: &gdr::daemon::client::Reply) -> Result<()> {
    match r.json() {
        Some(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        None => println!("{}", String::from_utf8_lossy(&r.body)),
    }
    if !(200..300).contains(&r.status) {
        eprintln!("gdr: daemon answered HTTP {}", r.status);
    }
    Ok(())
}

fn submit(
    sock: &std::path::Path,
    file: &std::path::Path,
    by_path: bool,
    format: Option<String>,
    wait: bool,
) -> Result<i32> {
    let r = if by_path {
        let abs = std::fs::canonicalize(file).with_context(|| format!("{}", file.display()))?;
        let mut b = json!({"path": abs});
        if let Some(f) = &format {
            b["format"] = json!(f);
        }
        gdr::daemon::client::request(
            sock,
            "POST",
            "/v1/jobs",
            Some("application/json"),
            serde_json::to_vec(&b)?,
        )?
    } else {
        let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "upload".into());
        let mut uri = format!("/v1/jobs?name={}", urlencode(&name));
        if let Some(f) = &format {
            uri.push_str(&format!("&format={}", urlencode(f)));
        }
        gdr::daemon::client::request(sock, "POST", &uri, Some("application/octet-stream"), data)?
    };
    if !wait || r.status != 202 {
        print_reply(&r)?;
        return Ok(if r.status == 202 { 0 } else { 1 });
    }
    let id = r
        .json()
        .and_then(|v| v["id"].as_i64())
        .context("job id in reply")?;
    loop {
        let j =
            gdr::daemon::client::request(sock, "GET", &format!("/v1/jobs/{id}"), None, Vec::new())?;
        let state = j
            .json()
            .and_then(|v| v["state"].as_str().map(str::to_string));
        let next = j.json().and_then(|v| v["next_attempt_ms"].as_i64());
        match state.as_deref() {
            Some("committed") => {
                print_reply(&j)?;
                return Ok(0);
            }
            Some("quarantined") => {
                print_reply(&j)?;
                return Ok(1);
            }
            Some("failed") if next.is_none() => {
                print_reply(&j)?;
                return Ok(1);
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Percent-encoding for a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
