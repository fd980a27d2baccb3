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
    /// Time per byte relative to the 1× run (1.0 = perfectly linear).
    pub scan_linearity: f64,
    pub spans: usize,
}

/// Run the benchmark over `texts` at each scale.
pub fn run(p: &Pipeline, name: &str, texts: &[String], scales: &[usize]) -> Vec<Row> {
    let bytes: usize = texts.iter().map(String::len).sum();
    // Warm up once over the whole corpus: the regex engines build their
    // lazy DFA states on first use, which is start-up cost, not throughput.
    for t in texts {
        std::hint::black_box(p.rewrite(t));
    }
    let mut rows: Vec<Row> = Vec::new();
    for &scale in scales {
        let mut spans = 0usize;
        let t0 = Instant::now();
        for _ in 0..scale {
            for t in texts {
                spans += std::hint::black_box(p.scan(t)).len();
            }
        }
        let scan_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        for _ in 0..scale {
            for t in texts {
                std::hint::black_box(p.rewrite(t));
            }
        }
        let rewrite_s = t1.elapsed().as_secs_f64();
        let mb = (bytes * scale) as f64 / 1e6;
        let per_byte = scan_s / (bytes * scale) as f64;
        let base = rows
            .first()
            .map_or(per_byte, |r| r.scan_s / (r.mbytes * 1e6));
        rows.push(Row {
            corpus: name.to_string(),
            scale,
            records: texts.len() * scale,
            mbytes: mb,
            scan_s,
            scan_mbps: mb / scan_s,
            rewrite_s,
            rewrite_mbps: mb / rewrite_s,
            scan_linearity: per_byte / base,
            spans,
        });
    }
    rows
}

/// Time each rule alone over `texts` (seconds), slowest first: tells which
/// pattern to fix when scan throughput drops.
pub fn per_rule(p: &Pipeline, texts: &[String]) -> Vec<(String, f64)> {
    let rules = &p.detector.rules;
    let gaz = &p.detector.gazetteers;
    let mut out: Vec<(String, f64)> = rules
        .rules
        .iter()
        .map(|r| {
            let t0 = Instant::now();
            for t in texts {
                std::hint::black_box(rules.find_one(r, t));
            }
            (r.id.clone(), t0.elapsed().as_secs_f64())
        })
        .collect();
    let t0 = Instant::now();
    for t in texts {
        let mut v = Vec::new();
        gaz.find(t, &mut v);
        std::hint::black_box(v);
    }
    out.push(("(gazetteers)".into(), t0.elapsed().as_secs_f64()));
    for (i, digit) in rules.set_kinds().into_iter().enumerate() {
        for t in texts {
            std::hint::black_box(rules.prefilter_count(i, t));
        }
        let t0 = Instant::now();
        for t in texts {
            std::hint::black_box(rules.prefilter_count(i, t));
        }
        let hits: usize = texts.iter().map(|t| rules.prefilter_count(i, t)).sum();
        let name = if digit {
            format!("(digit set, {hits} hits)")
        } else {
            format!("(word set, {hits} hits)")
        };
        out.push((name, t0.elapsed().as_secs_f64()));
    }
    let t0 = Instant::now();
    for t in texts {
        std::hint::black_box(rules.find(t));
    }
    out.push(("(all rules)".into(), t0.elapsed().as_secs_f64()));
    let t0 = Instant::now();
    for t in texts {
        std::hint::black_box(p.detector.detect(t));
    }
    out.push(("(detect)".into(), t0.elapsed().as_secs_f64()));
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
