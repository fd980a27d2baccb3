//! The inference engine: one dedicated thread owns the llama.cpp model and
//! context (a `LlamaContext` is `Send` but not `Sync`); callers send jobs
//! over a bounded channel and wait on their own reply channel, so an async
//! runtime only ever blocks on a channel, never on llama.cpp.
//!
//! Prefix cache: every prompt's fixed instruction prefix is decoded once,
//! at start, into its own KV sequence. A request copies that sequence
//! (`kv_cache_seq_cp`, no recomputation) into the work sequence and decodes
//! only its own tokens.

use super::{LlmError, Prompt};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Instant;

/// llama.cpp's backend may be initialised once per process.
pub(crate) fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static B: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
        if std::env::var_os("GDR_LLAMA_LOG").is_none() {
            // llama.cpp logs every tensor on load; keep stderr for gdr.
            b.void_logs();
        }
        Ok(b)
    })
    .as_ref()
    .map_err(|e| LlmError::Llama(e.clone()))
}

/// Engine settings (the `[llm]` config section).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub threads: i32,
    /// Context size in tokens, shared by the prefix sequences and the work
    /// sequence.
    pub context: u32,
    /// Tokens per decode call.
    pub batch: u32,
    /// Bounded job queue: callers wait (back-pressure) when it is full.
    pub queue: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            // Half the cores: llama.cpp's OpenMP threads spin at barriers, and
            // with every core taken (by gdr's own work or anything else) a
            // descheduled worker stalls each step — measured here: one
            // token-heavy request took 2.2 s on 1 thread and 100 s on 2
            // while another build used the machine.
            threads: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1) as i32),
            context: 2048,
            batch: 512,
            queue: 64,
        }
    }
}

/// One finished generation with its costs.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    pub text: String,
    /// Tokens of this request evaluated (prompt suffix + input).
    pub prompt_tokens: usize,
    /// Prefix tokens reused from the KV cache instead of evaluated.
    pub cached_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_ms: f64,
    pub gen_ms: f64,
    /// Stopped because `max_tokens` was reached.
    pub truncated: bool,
}

/// A generation request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Index of the prompt (as passed to [`Engine::start`]).
    pub prompt: usize,
    pub input: String,
    /// GBNF grammar constraining the output (root rule `root`).
    pub grammar: Option<String>,
    pub max_tokens: usize,
    /// Evaluate the prefix again instead of reusing the cache (benchmarks).
    pub no_cache: bool,
    /// Input tokens only, no prompt around them (benchmarks).
    pub raw: bool,
    /// Generate exactly `max_tokens`, ignoring end-of-generation (benchmarks).
    pub ignore_eos: bool,
}

impl Request {
    /// A request for prompt `prompt` with the defaults.
    pub fn new(prompt: usize, input: impl Into<String>, max_tokens: usize) -> Self {
        Self {
            prompt,
            input: input.into(),
            grammar: None,
            max_tokens,
            no_cache: false,
            raw: false,
            ignore_eos: false,
        }
    }
}

enum Job {
    Generate(Box<Request>, mpsc::Sender<Result<Generation, LlmError>>),
    Tokenize(String, mpsc::Sender<usize>),
}

/// Handle to the engine thread. Cheap to share by reference; dropping it
/// stops the thread after the queued jobs.
pub struct Engine {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub model_path: PathBuf,
    pub n_ctx: u32,
    pub threads: i32,
}

impl Engine {
    /// Load the model (the file must already be hash-checked) and evaluate
    /// every prompt prefix once. Returns when the engine is ready.
    pub fn start(model: &Path, cfg: EngineConfig, prompts: Vec<Prompt>) -> Result<Self, LlmError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), LlmError>>();
        let path = model.to_path_buf();
        let thread_path = path.clone();
        let c = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("gdr-llm".into())
            .spawn(move || run(thread_path, c, prompts, rx, ready_tx))
            .map_err(|e| LlmError::Llama(format!("spawning the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                tx: Some(tx),
                thread: Some(thread),
                model_path: path,
                n_ctx: cfg.context,
                threads: cfg.threads,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(LlmError::EngineGone)
            }
        }
    }

    /// Run one request and wait for its result.
    pub fn generate(&self, req: Request) -> Result<Generation, LlmError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or(LlmError::EngineGone)?
            .send(Job::Generate(Box::new(req), tx))
            .map_err(|_| LlmError::EngineGone)?;
        rx.recv().map_err(|_| LlmError::EngineGone)?
    }

    /// Number of tokens `text` takes (for budgets and windowing).
    pub fn count_tokens(&self, text: &str) -> Result<usize, LlmError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or(LlmError::EngineGone)?
            .send(Job::Tokenize(text.to_string(), tx))
            .map_err(|_| LlmError::EngineGone)?;
        rx.recv().map_err(|_| LlmError::EngineGone)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// KV sequence ids: one per prompt prefix, then the work sequence.
fn work_seq(n_prompts: usize) -> i32 {
    n_prompts as i32
}

fn llama<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> LlmError + '_ {
    move |e| LlmError::Llama(format!("{what}: {e}"))
}

fn run(
    path: PathBuf,
    cfg: EngineConfig,
    prompts: Vec<Prompt>,
    rx: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<(), LlmError>>,
) {
    let backend = match backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let model = match LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Llama(format!(
                "loading {}: {e}",
                path.display()
            ))));
            return;
        }
    };
    let n_seq = prompts.len() as u32 + 1;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(cfg.context))
        .with_n_batch(cfg.batch)
        .with_n_ubatch(cfg.batch)
        .with_n_seq_max(n_seq)
        // One pool of KV cells for all sequences: prefixes and the work
        // sequence share the context instead of splitting it n ways.
        .with_kv_unified(true)
        .with_n_threads(cfg.threads)
        .with_n_threads_batch(cfg.threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Llama(format!("creating the context: {e}"))));
            return;
        }
    };
    let vocab = model.vocab();
    let cap = cfg.batch as usize;
    let mut batch = LlamaBatch::new(cap, n_seq as i32);
    // Evaluate each prefix once into its own sequence.
    let mut prefix_tokens: Vec<Vec<LlamaToken>> = Vec::new();
    for (i, p) in prompts.iter().enumerate() {
        let toks = vocab.tokenize(p.prefix.as_bytes(), true, true);
        if let Err(e) = decode_tokens(&mut ctx, &mut batch, &toks, 0, i as i32, false, cap) {
            let _ = ready.send(Err(e));
            return;
        }
        prefix_tokens.push(toks);
    }
    let _ = ready.send(Ok(()));
    let seq = work_seq(prompts.len());
    while let Ok(job) = rx.recv() {
        match job {
            Job::Tokenize(text, reply) => {
                let _ = reply.send(vocab.tokenize(text.as_bytes(), false, false).len());
            }
            Job::Generate(req, reply) => {
                let r = generate(
                    &model,
                    &mut ctx,
                    &mut batch,
                    cap,
                    (&prompts, &prefix_tokens),
                    seq,
                    &req,
                );
                let _ = reply.send(r);
            }
        }
    }
}

/// Decode `toks` into sequence `seq` starting at position `pos`, in chunks
/// of `cap` (the batch size); logits only for the very last token when
/// `logits`.
#[allow(clippy::too_many_arguments)]
fn decode_tokens(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch,
    toks: &[LlamaToken],
    pos: i32,
    seq: i32,
    logits: bool,
    cap: usize,
) -> Result<(), LlmError> {
    for (c, chunk) in toks.chunks(cap).enumerate() {
        batch.clear();
        let last_chunk = (c + 1) * cap >= toks.len();
        for (i, t) in chunk.iter().enumerate() {
            let p = pos + (c * cap + i) as i32;
            let want = logits && last_chunk && i + 1 == chunk.len();
            batch.add(*t, p, &[seq], want).map_err(llama("batch"))?;
        }
        ctx.decode(batch).map_err(llama("decode"))?;
    }
    Ok(())
}

fn generate(
    model: &LlamaModel,
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch,
    cap: usize,
    (prompts, prefix_tokens): (&[Prompt], &[Vec<LlamaToken>]),
    seq: i32,
    req: &Request,
) -> Result<Generation, LlmError> {
    let vocab = model.vocab();
    let prompt = prompts
        .get(req.prompt)
        .ok_or_else(|| LlmError::Llama(format!("no prompt {}", req.prompt)))?;
    let prefix = &prefix_tokens[req.prompt];
    let t0 = Instant::now();
    ctx.clear_kv_cache_seq(Some(seq as u32), None, None)
        .map_err(llama("clearing the work sequence"))?;
    let body = if req.raw {
        req.input.clone()
    } else {
        format!("{}{}", req.input, prompt.suffix)
    };
    let mut toks = vocab.tokenize(body.as_bytes(), false, !req.raw);
    let mut pos;
    let cached;
    if req.raw {
        pos = 0;
        cached = 0;
    } else if req.no_cache {
        let mut all = prefix.clone();
        all.append(&mut toks);
        toks = all;
        pos = 0;
        cached = 0;
    } else {
        ctx.copy_kv_cache_seq(req.prompt as i32, seq, None, None)
            .map_err(llama("copying the prefix"))?;
        pos = prefix.len() as i32;
        cached = prefix.len();
    }
    if toks.is_empty() {
        return Err(LlmError::Llama("empty request".into()));
    }
    if pos as usize + toks.len() + req.max_tokens > ctx.n_ctx() as usize {
        return Err(LlmError::Llama(format!(
            "request needs {} tokens, context holds {}",
            pos as usize + toks.len() + req.max_tokens,
            ctx.n_ctx()
        )));
    }
    decode_tokens(ctx, batch, &toks, pos, seq, true, cap)?;
    pos += toks.len() as i32;
    let prompt_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    // A fresh grammar per generation: its state must not leak between
    // requests. Decoding is greedy (reproducible reruns). The grammar is
    // checked against the greedy token first and applied to the whole
    // vocabulary only when that token is not allowed: applying it to ~50k
    // candidates every step is what makes naive grammar sampling slow.
    let mut grammar = match &req.grammar {
        Some(g) => Some(LlamaSampler::grammar(model, g, "root").map_err(llama("grammar"))?),
        None => None,
    };
    let mut out: Vec<u8> = Vec::new();
    let mut generated = 0;
    let mut truncated = true;
    let mut idx = batch.n_tokens() - 1;
    while generated < req.max_tokens {
        let logits = ctx.get_logits_ith(idx);
        let best = argmax(logits);
        let tok = match grammar.as_mut() {
            None => LlamaToken(best as i32),
            Some(gs) => {
                let mut one = LlamaTokenDataArray::new(
                    vec![LlamaTokenData::new(
                        LlamaToken(best as i32),
                        logits[best],
                        0.0,
                    )],
                    false,
                );
                one.apply_sampler(gs);
                let tok = if one.data[0].logit().is_finite() {
                    LlamaToken(best as i32)
                } else {
                    let mut all = LlamaTokenDataArray::from_iter(
                        logits
                            .iter()
                            .enumerate()
                            .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0)),
                        false,
                    );
                    all.apply_sampler(gs);
                    let (i, l) = all
                        .data
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.logit().total_cmp(&b.1.logit()))
                        .map(|(i, d)| (i, d.logit()))
                        .unwrap_or((0, f32::NEG_INFINITY));
                    if !l.is_finite() {
                        // The grammar allows nothing more: it is complete.
                        truncated = false;
                        break;
                    }
                    all.data[i].id()
                };
                gs.accept(tok);
                tok
            }
        };
        if vocab.is_eog(tok) && !req.ignore_eos {
            truncated = false;
            break;
        }
        out.extend(vocab.token_to_piece(tok, false, None));
        generated += 1;
        batch.clear();
        batch.add(tok, pos, &[seq], true).map_err(llama("batch"))?;
        pos += 1;
        ctx.decode(batch).map_err(llama("decode"))?;
        idx = 0;
    }
    Ok(Generation {
        text: String::from_utf8_lossy(&out).into_owned(),
        prompt_tokens: toks.len(),
        cached_tokens: cached,
        generated_tokens: generated,
        prompt_ms,
        gen_ms: t1.elapsed().as_secs_f64() * 1e3,
        truncated,
    })
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}
