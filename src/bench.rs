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
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(LlmBench {
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
