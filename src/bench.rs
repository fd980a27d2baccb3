//! `gdr bench`: rules-only scan and rewrite throughput, single thread, at
//! 1×, 10×, 100× the corpus, printed side by side so linearity shows as a
//! ratio (machines are noisy; ratios within one run are not).

use crate::pipeline::Pipeline;
use std::time::Instant;

/// One measured row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub corpus: String,
    pub scale: usize,
    pub records: usize,
    pub mbytes: f64,
    pub scan_s: f64,
    pub scan_mbps: f64,
    pub rewrite_s: f64,
    pub rewrite_mbps: f64,
    /// The same in this thread's CPU time: on a shared machine wall time
    /// mostly measures the other jobs (alone, the two agree).
    pub scan_cpu_mbps: f64,
    pub rewrite_cpu_mbps: f64,
    /// CPU time per byte relative to the 1× run (1.0 = perfectly linear).
    pub scan_linearity: f64,
    pub rewrite_linearity: f64,
    pub spans: usize,
    /// With `compare`: the same run with the reference rule search
    /// (before triggers), timed alternately with the new one (CPU time).
    pub ref_scan_cpu_mbps: Option<f64>,
    pub ref_rewrite_cpu_mbps: Option<f64>,
}

/// Wall and CPU seconds of one timed loop.
#[derive(Clone, Copy)]
struct Took {
    wall: f64,
    cpu: f64,
}

impl Took {
    /// The run with less CPU time.
    fn min(self, other: Took) -> Took {
        if other.cpu < self.cpu { other } else { self }
    }
}

fn took(f: impl FnOnce()) -> Took {
    let (w, c) = (Instant::now(), thread_cpu());
    f();
    Took {
        wall: w.elapsed().as_secs_f64(),
        cpu: thread_cpu() - c,
    }
}

/// Run the benchmark over `texts` at each scale.
pub fn run(
    p: &Pipeline,
    name: &str,
    texts: &[String],
    scales: &[usize],
    compare: bool,
    reps: usize,
) -> Vec<Row> {
    let bytes: usize = texts.iter().map(String::len).sum();
    // Warm up once over the whole corpus: the regex engines build their
    // lazy DFA states on first use, which is start-up cost, not throughput.
    for t in texts {
        std::hint::black_box(p.rewrite(t));
    }
    if compare {
        p.detector.rules.use_reference(true);
        for t in texts {
            std::hint::black_box(p.rewrite(t));
        }
        p.detector.rules.use_reference(false);
    }
    let mut rows: Vec<Row> = Vec::new();
    for &scale in scales {
        // `reps` rounds, alternating with the reference when comparing;
        // the least CPU time of each is kept.
        let (mut scan, mut rewrite, mut spans) = time_scale(p, texts, scale);
        let mut reference: Option<(Took, Took)> = None;
        for round in 0..reps.max(1) {
            if round > 0 {
                let (s, r, n) = time_scale(p, texts, scale);
                scan = scan.min(s);
                rewrite = rewrite.min(r);
                spans = n;
            }
            if compare {
                p.detector.rules.use_reference(true);
                let (rs, rr, _) = time_scale(p, texts, scale);
                p.detector.rules.use_reference(false);
                reference = Some(match reference {
                    Some((a, b)) => (a.min(rs), b.min(rr)),
                    None => (rs, rr),
                });
            }
        }
        let mut row = row(
            name,
            &rows,
            scale,
            texts.len() * scale,
            bytes * scale,
            scan,
            rewrite,
        );
        row.spans = spans;
        row.ref_scan_cpu_mbps = reference.map(|(s, _)| row.mbytes / s.cpu);
        row.ref_rewrite_cpu_mbps = reference.map(|(_, r)| row.mbytes / r.cpu);
        rows.push(row);
    }
    rows
}

/// One row's figures; linearity relative to the first of `rows`.
fn row(
    name: &str,
    rows: &[Row],
    scale: usize,
    records: usize,
    bytes: usize,
    scan: Took,
    rewrite: Took,
) -> Row {
    let mb = bytes as f64 / 1e6;
    let (scan_per_byte, rewrite_per_byte) = (scan.cpu / mb, rewrite.cpu / mb);
    let (scan_base, rewrite_base) = rows.first().map_or((scan_per_byte, rewrite_per_byte), |r| {
        (1.0 / r.scan_cpu_mbps, 1.0 / r.rewrite_cpu_mbps)
    });
    Row {
        corpus: name.to_string(),
        scale,
        records,
        mbytes: mb,
        scan_s: scan.wall,
        scan_mbps: mb / scan.wall,
        rewrite_s: rewrite.wall,
        rewrite_mbps: mb / rewrite.wall,
        scan_cpu_mbps: mb / scan.cpu,
        rewrite_cpu_mbps: mb / rewrite.cpu,
        scan_linearity: scan_per_byte / scan_base,
        rewrite_linearity: rewrite_per_byte / rewrite_base,
        spans: 0,
        ref_scan_cpu_mbps: None,
        ref_rewrite_cpu_mbps: None,
    }
}

/// Scan and rewrite of ONE record made of `base` repeated `scale` times
/// (joined by a space: one paragraph, the hardest case for the per-record
/// work), for each scale: time per byte must not grow with a record's
/// size. A record's cost used to be quadratic in places (char offsets
/// counted from the start per span, a sorted insert per span, context
/// hits scanned per match), which the corpus scales above cannot show:
/// they repeat short records.
pub fn run_one_record(
    p: &Pipeline,
    name: &str,
    base: &str,
    scales: &[usize],
    reps: usize,
) -> Vec<Row> {
    std::hint::black_box(p.rewrite(base));
    let mut rows: Vec<Row> = Vec::new();
    for &scale in scales {
        let text = vec![base; scale].join(" ");
        let one = std::slice::from_ref(&text);
        let (mut scan, mut rewrite, mut spans) = time_scale(p, one, 1);
        for _ in 1..reps.max(1) {
            let (s, r, n) = time_scale(p, one, 1);
            scan = scan.min(s);
            rewrite = rewrite.min(r);
            spans = n;
        }
        let mut row = row(name, &rows, scale, 1, text.len(), scan, rewrite);
        row.spans = spans;
        rows.push(row);
    }
    rows
}

/// The first texts of a corpus joined by a space, up to about `max` bytes
/// (cut at a char boundary): the base record of [`run_one_record`].
pub fn joined(texts: &[String], max: usize) -> String {
    let mut out = String::new();
    for t in texts {
        if out.len() >= max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    let mut cut = max.min(out.len());
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}

/// CPU time this thread has used, in seconds.
pub fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The least CPU time of `n` runs of `f` (seconds): on a busy machine the
/// minimum is the most repeatable figure.
fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t0 = thread_cpu();
            f();
            thread_cpu() - t0
        })
        .fold(f64::INFINITY, f64::min)
}

/// Scan and rewrite of `texts` repeated `scale` times, and the number of
/// spans scan found. Scan takes the texts in batches of
/// [`SCAN_BATCH`](crate::detect::SCAN_BATCH), as `gdr scan` reads JSONL
/// records (rules only, the detector works through a batch stage by
/// stage); rewrite takes them one by one, as `gdr rewrite` does.
fn time_scale(p: &Pipeline, texts: &[String], scale: usize) -> (Took, Took, usize) {
    let mut spans = 0usize;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let scan = took(|| {
        for _ in 0..scale {
            for batch in refs.chunks(crate::detect::SCAN_BATCH) {
                for (found, _) in std::hint::black_box(p.scan_many(batch)) {
                    spans += found.len();
                }
            }
        }
    });
    let rewrite = took(|| {
        for _ in 0..scale {
            for t in texts {
                std::hint::black_box(p.rewrite(t));
            }
        }
    });
    (scan, rewrite, spans)
}

/// Time each rule alone over `texts` (seconds), slowest first: tells which
/// pattern to fix when scan throughput drops.
pub fn per_rule(p: &Pipeline, texts: &[String]) -> Vec<(String, f64)> {
    const N: usize = 5;
    let rules = &p.detector.rules;
    let gaz = &p.detector.gazetteers;
    let mut out: Vec<(String, f64)> = rules
        .rules
        .iter()
        .map(|r| {
            let secs = best_of(N, || {
                for t in texts {
                    std::hint::black_box(rules.find_one(r, t));
                }
            });
            (r.id.clone(), secs)
        })
        .collect();
    let mut time = |name: String, f: &dyn Fn(&str)| {
        let secs = best_of(N, || {
            for t in texts {
                f(t);
            }
        });
        out.push((name, secs));
    };
    time("(gazetteers)".into(), &|t| {
        let mut v = Vec::new();
        gaz.find(t, &mut v);
        std::hint::black_box(v);
    });
    let (n_anchored, n_scanned) = rules.trigger_split();
    let places: usize = texts.iter().map(|t| rules.trigger_places(t)).sum();
    time(format!("(trigger pass, {places} places)"), &|t| {
        std::hint::black_box(rules.trigger_places(t));
    });
    time(format!("({n_anchored} anchored patterns)"), &|t| {
        std::hint::black_box(rules.find_stages(t, true, false));
    });
    time(format!("({n_scanned} scanned patterns)"), &|t| {
        std::hint::black_box(rules.find_stages(t, false, true));
    });
    time("(all rules, reference)".into(), &|t| {
        std::hint::black_box(rules.find_reference(t));
    });
    time("(all rules)".into(), &|t| {
        std::hint::black_box(rules.find(t));
    });
    time("(detect)".into(), &|t| {
        std::hint::black_box(p.detector.detect(t));
    });
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Engine throughput measured like llama-bench: prompt processing of
/// `n_prompt` tokens and generation of `n_gen` tokens, `reps` times each.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LlmBench {
    pub threads: i32,
    pub pp_tokens: usize,
    pub pp_tps: f64,
    pub tg_tokens: usize,
    pub tg_tps: f64,
    /// Mean latency of a detection request reusing the cached prefix, and
    /// evaluating it again, in ms.
    pub cached_ms: f64,
    pub uncached_ms: f64,
    pub prefix_tokens: usize,
    /// Detection requests run one after another, then all at once through
    /// continuous batching: wall time of each, and how many outputs are
    /// byte-identical between the two.
    pub batch_requests: usize,
    pub sequential_ms: f64,
    pub batched_ms: f64,
    pub batch_identical: usize,
}

/// Run the engine benchmark on a loaded model.
pub fn llm(
    llm: &crate::llm::detect::Llm,
    n_prompt: usize,
    n_gen: usize,
    reps: usize,
) -> Result<LlmBench, crate::llm::LlmError> {
    use crate::llm::detect::DETECT;
    use crate::llm::engine::Request;
    let e = &llm.engine;
    // A prompt of exactly n_prompt tokens: grow a text until it tokenizes
    // to at least that many, then trim by words.
    let mut text = String::new();
    let words = "the quarterly report for the northern region shows steady growth in orders";
    while e.count_tokens(&text)? < n_prompt {
        text.push_str(words);
        text.push(' ');
    }
    while e.count_tokens(&text)? > n_prompt {
        let cut = text.trim_end().rfind(' ').unwrap_or(0);
        text.truncate(cut);
    }
    let mut pp = Vec::new();
    let mut tg = Vec::new();
    for _ in 0..reps.max(1) {
        let mut r = Request::new(DETECT, text.clone(), 0);
        r.raw = true;
        let g = e.generate(r)?;
        pp.push(g.prompt_tokens as f64 / (g.prompt_ms / 1e3));
        let mut r = Request::new(DETECT, "Once", n_gen);
        r.raw = true;
        r.ignore_eos = true;
        let g = e.generate(r)?;
        tg.push(g.generated_tokens as f64 / (g.gen_ms / 1e3));
    }
    // Prefix cache: one short detection request, cached vs not.
    let input = "Please call Anna Kowalczyk at the Gdansk office.";
    let mut cached = Vec::new();
    let mut uncached = Vec::new();
    let mut prefix_tokens = 0;
    for _ in 0..reps.max(1) {
        for no_cache in [false, true] {
            let mut r = Request::new(DETECT, input, 48);
            r.grammar = Some(llm.grammar().to_string());
            r.no_cache = no_cache;
            let t0 = Instant::now();
            let g = e.generate(r)?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            if no_cache {
                uncached.push(ms);
            } else {
                prefix_tokens = g.cached_tokens;
                cached.push(ms);
            }
        }
    }
    // Batching: the same detection requests sequentially and together.
    let texts = batch_texts();
    let reqs = || {
        texts
            .iter()
            .map(|t| {
                let mut r = Request::new(DETECT, t.clone(), 128);
                r.grammar = Some(llm.grammar().to_string());
                r
            })
            .collect::<Vec<_>>()
    };
    let t0 = Instant::now();
    let mut seq_out = Vec::new();
    for r in reqs() {
        seq_out.push(e.generate(r)?.text);
    }
    let sequential_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t0 = Instant::now();
    let many = e.generate_many(reqs());
    let batched_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut batch_identical = 0;
    for (a, b) in seq_out.iter().zip(many) {
        if *a == b?.text {
            batch_identical += 1;
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(LlmBench {
        batch_requests: texts.len(),
        sequential_ms,
        batched_ms,
        batch_identical,
        threads: e.threads,
        pp_tokens: n_prompt,
        pp_tps: mean(&pp),
        tg_tokens: n_gen,
        tg_tps: mean(&tg),
        cached_ms: mean(&cached),
        uncached_ms: mean(&uncached),
        prefix_tokens,
    })
}

/// Short records of the kind gdr is fed (support tickets, notes, logs),
/// for the batching comparison.
fn batch_texts() -> Vec<String> {
    [
        "Hi, this is Maria Delgado, my order 4411 never arrived at 17 Elm Road.",
        "Patient John Okafor (DOB 03/04/1971) reports chest pain since Monday.",
        "Please reset the password for user jdoe; he moved to the Leeds office.",
        "Call me back on 020 7946 0018, ask for Priya at Northwind Traders.",
        "Ticket from Lars Johansson: the invoice for Baltic Freight is wrong.",
        "Dr. Ahmed Siddiqui referred the patient to St. Mary's in Boston.",
        "Our new hire, Chen Wei, starts in the Berlin team next week.",
        "The courier left the parcel with a neighbour, Mrs. Olga Petrova.",
        "Refund approved for Kevin O'Brien after the call on Tuesday.",
        "Meeting notes: Sofia Rossi and Tom Becker agreed on the Q3 plan.",
        "Anna Kowalczyk works at the Gdansk office of Baltic Freight.",
        "The tenant at 5 Harbour Lane, Mr. Duarte, reported a leak.",
        "Escalated by Fatima Al-Sayed from the Dubai branch of Acme Ltd.",
        "Samuel Mensah asked to move his appointment to Friday at 3pm.",
        "Hans Gruber of Nakatomi Corp requested the contract by email.",
        "Yuki Tanaka reported the login issue from the Osaka site.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
