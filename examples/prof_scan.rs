//! Profiling aid for the rule search: scan the `text` fields of a JSONL
//! corpus N times on this thread and print MB/s of thread CPU time. The
//! loop is one function, so a profiler can count just it:
//!
//! ```text
//! cargo build --release --example prof_scan
//! target/release/examples/prof_scan CORPUS.jsonl [N]
//! valgrind --tool=callgrind --toggle-collect='prof_scan::scan_all' \
//!     target/release/examples/prof_scan CORPUS.jsonl 1
//! STATS=1 target/release/examples/prof_scan CORPUS.jsonl   # places per trigger
//! DISABLE=url,iban ...                                  # without those rules
//! REWRITE=1 ...                                              # rewrite instead of scan
//! BATCH=1 ...        # scan one record at a time, not in batches of SCAN_BATCH
//! STAGE=rules ...     # one stage alone: rules, words (the word lists) or
//!                     # candidates (both, before the merge and structure);
//!                     # in batches too unless BATCH=1
//! ```
//!
//! Two builds timed in turn (`A B A B ...`) compare better on a noisy
//! machine than `gdr bench` runs minutes apart.
use anyhow::{Context, Result};
use gdr::pipeline::Pipeline;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).context("usage: prof_scan CORPUS.jsonl [N]")?;
    let n: usize = match args.get(2) {
        Some(s) => s.parse().context("N must be a number")?,
        None => 10,
    };
    let mut texts = Vec::new();
    for (i, line) in std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}"))?
        .lines()
        .enumerate()
    {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{path} line {}", i + 1))?;
        let text = v["text"]
            .as_str()
            .with_context(|| format!("{path} line {}: no string field `text`", i + 1))?;
        texts.push(text.to_string());
    }
    let mut cfg = gdr::config::Config::default();
    // DISABLE=a,b: scan without those rules (what each rule costs).
    if let Ok(list) = std::env::var("DISABLE") {
        cfg.detect.disable_rules = list.split(',').map(str::to_string).collect();
    }
    let mut p = Pipeline::with_key(&cfg, &[7u8; 32])?;
    if p.verifier.is_none() {
        p.verifier = Some(gdr::verify::Verifier::new(cfg.verify.clone()));
    }
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    if std::env::var_os("STATS").is_some() {
        for (name, count) in p
            .detector
            .rules
            .trigger_counts(texts.iter().map(|s| s.as_str()))
        {
            println!("{count:8} {name}");
        }
        println!("split {:?}", p.detector.rules.trigger_split());
        return Ok(());
    }
    // One pass first: the lazy DFAs fill their caches. A rewrite's warm-up
    // is a rewrite: the verifier scans the rewritten texts too, whose
    // surrogates the scan of the inputs never saw.
    let rewrite = std::env::var_os("REWRITE").is_some();
    for t in &texts {
        if rewrite {
            std::hint::black_box(p.rewrite(t));
        } else {
            std::hint::black_box(p.scan(t));
        }
    }
    let t0 = gdr::bench::thread_cpu();
    let spans = scan_all(&p, &texts, n, rewrite);
    let secs = gdr::bench::thread_cpu() - t0;
    eprintln!(
        "{} MB/s cpu, spans {spans}",
        (bytes * n) as f64 / 1e6 / secs
    );
    Ok(())
}

/// The measured loop: `n` passes of scan (or rewrite, `REWRITE=1`) over
/// `texts`.
#[inline(never)]
fn scan_all(p: &Pipeline, texts: &[String], n: usize, rewrite: bool) -> usize {
    let mut spans = 0;
    let stage = std::env::var("STAGE").ok();
    // Scans go in batches, as `gdr scan` and `gdr bench` take JSONL
    // records (BATCH=1: one record at a time).
    let batch = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(gdr::detect::SCAN_BATCH)
        .max(1);
    // Stages in batches too: STAGE=rules (the rules' `find_many`), words
    // (the word lists over the batch) or candidates (both, in the order
    // `detect_many` runs them, before its resolve step).
    if let Some(st) = stage.as_deref().filter(|_| batch > 1) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let d = &p.detector;
        for _ in 0..n {
            for chunk in refs.chunks(batch) {
                let mut found = match st {
                    "rules" | "candidates" => d.rules.find_many(chunk),
                    "words" => vec![Vec::new(); chunk.len()],
                    _ => panic!("STAGE is rules, words or candidates"),
                };
                if st != "rules" {
                    for (t, v) in chunk.iter().zip(&mut found) {
                        d.gazetteers.find(t, v);
                    }
                }
                spans += std::hint::black_box(found)
                    .iter()
                    .map(Vec::len)
                    .sum::<usize>();
            }
        }
        return spans;
    }
    if stage.is_none() && !rewrite && batch > 1 {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for _ in 0..n {
            for chunk in refs.chunks(batch) {
                for (found, _) in std::hint::black_box(p.scan_many(chunk)) {
                    spans += found.len();
                }
            }
        }
        return spans;
    }
    for _ in 0..n {
        for t in texts {
            if let Some(st) = stage.as_deref() {
                if st == "candidates" {
                    let c = p.detector.candidates(t);
                    spans += std::hint::black_box(c).len();
                } else if st == "rules" {
                    spans += std::hint::black_box(p.detector.rules.find(t)).len();
                } else if st == "words" {
                    let mut v = Vec::new();
                    p.detector.gazetteers.find(t, &mut v);
                    spans += std::hint::black_box(v).len();
                } else {
                    panic!("STAGE is rules, words or candidates");
                }
            } else if rewrite {
                spans += std::hint::black_box(p.rewrite(t)).text.len();
            } else {
                spans += std::hint::black_box(p.scan(t)).len();
            }
        }
    }
    spans
}
