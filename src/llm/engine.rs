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
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Instant;

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
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

/// The process backend and a model loaded from `path` (already
/// hash-checked), as the chat engine and the embedding engine both need.
pub(crate) fn load_model(path: &Path) -> Result<(&'static LlamaBackend, LlamaModel), LlmError> {
    let backend = backend()?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|e| LlmError::Llama(format!("loading {}: {e}", path.display())))?;
    Ok((backend, model))
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
    /// Requests generated at once (continuous batching): each has its own
    /// KV sequence, and one decode advances them all by a token.
    pub parallel: u32,
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
            // One request at a time unless configured: llama.cpp's kernels
            // are not batch-invariant, so which requests share a decode step
            // can flip a near-tie in greedy decoding, and reruns must be
            // reproducible by default.
            parallel: 1,
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

/// Where a generation's result goes.
type Reply = mpsc::Sender<Result<Generation, LlmError>>;

enum Job {
    Generate(Box<Request>, Reply),
    /// Requests queued together: they are all pending before any starts,
    /// so a caller's set is always admitted the same way.
    Many(Vec<(Box<Request>, Reply)>),
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

    /// Run several requests at once (they share decode steps) and wait
    /// for all; results in the order of `reqs`.
    pub fn generate_many(&self, reqs: Vec<Request>) -> Vec<Result<Generation, LlmError>> {
        let n = reqs.len();
        let Some(tx) = self.tx.as_ref() else {
            return (0..n).map(|_| Err(LlmError::EngineGone)).collect();
        };
        let mut jobs = Vec::with_capacity(n);
        let mut rxs = Vec::with_capacity(n);
        for req in reqs {
            let (rtx, rrx) = mpsc::channel();
            jobs.push((Box::new(req), rtx));
            rxs.push(rrx);
        }
        if tx.send(Job::Many(jobs)).is_err() {
            return (0..n).map(|_| Err(LlmError::EngineGone)).collect();
        }
        rxs.into_iter()
            .map(|rx| rx.recv().map_err(|_| LlmError::EngineGone)?)
            .collect()
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
    let (backend, model) = match load_model(&path) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let parallel = cfg.parallel.max(1);
    // KV sequence ids: one per prompt prefix, then one per work slot.
    let n_seq = prompts.len() as u32 + parallel;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(cfg.context))
        .with_n_batch(cfg.batch)
        .with_n_ubatch(cfg.batch)
        .with_n_seq_max(n_seq)
        // One pool of KV cells for all sequences: a copied prefix shares
        // its cells with every work sequence instead of being duplicated,
        // and slots use what they need instead of a fixed n-way split.
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
    let mut batch = LlamaBatch::new(cap.max(parallel as usize), n_seq as i32);
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
    let mut sched = Scheduler {
        model: &model,
        prompts: &prompts,
        prefix_tokens: &prefix_tokens,
        cap,
        first_seq: prompts.len() as i32,
        slots: (0..parallel).map(|_| None).collect(),
        pending: VecDeque::new(),
        // Cells the prefixes hold; the rest is what the slots share.
        free_cells: ctx.n_ctx() as usize - prefix_tokens.iter().map(Vec::len).sum::<usize>(),
    };
    let mut open = true;
    loop {
        // Block only when there is nothing to do; otherwise take whatever
        // else is queued so it can join the running batch.
        if sched.idle() {
            if !open {
                break;
            }
            match rx.recv() {
                Ok(job) => sched.take(job),
                Err(_) => break,
            }
        }
        while open {
            match rx.try_recv() {
                Ok(job) => sched.take(job),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => open = false,
            }
        }
        sched.admit(&mut ctx, &mut batch);
        sched.step(&mut ctx, &mut batch);
    }
}

/// A request being generated in one KV sequence.
struct Slot {
    req: Box<Request>,
    reply: Reply,
    seq: i32,
    /// Position of the next token in the sequence.
    pos: i32,
    /// KV cells reserved for this request (its own tokens + max output).
    reserved: usize,
    grammar: Option<LlamaSampler>,
    out: Vec<u8>,
    /// The sampled token not yet decoded (fed in the next step).
    next: LlamaToken,
    generated: usize,
    prompt_tokens: usize,
    cached_tokens: usize,
    prompt_ms: f64,
    gen_start: Instant,
}

/// Continuous batching: up to `slots.len()` requests generate at once,
/// one token each per decode call, so a step costs little more than a
/// single sequence's (generation on CPU is bound by reading the weights,
/// which a batch reads once). Requests join as slots and KV cells free up,
/// in arrival order. Each request has its own sequence and its own greedy
/// decoding; the batch changes how fast, not what is generated.
struct Scheduler<'a> {
    model: &'a LlamaModel,
    prompts: &'a [Prompt],
    prefix_tokens: &'a [Vec<LlamaToken>],
    cap: usize,
    first_seq: i32,
    slots: Vec<Option<Slot>>,
    pending: VecDeque<(Box<Request>, Reply)>,
    free_cells: usize,
}

type Ctx<'a> = llama_cpp_2::context::LlamaContext<'a>;

impl Scheduler<'_> {
    fn idle(&self) -> bool {
        self.pending.is_empty() && self.slots.iter().all(Option::is_none)
    }

    fn take(&mut self, job: Job) {
        let vocab = self.model.vocab();
        match job {
            Job::Tokenize(text, reply) => {
                let _ = reply.send(vocab.tokenize(text.as_bytes(), false, false).len());
            }
            Job::Generate(req, reply) => self.pending.push_back((req, reply)),
            Job::Many(jobs) => self.pending.extend(jobs),
        }
    }

    /// Start pending requests while a slot is free and their KV cells fit.
    /// A request that cannot fit even alone is answered with an error; one
    /// that fits once others finish waits at the head of the queue (no
    /// overtaking: arrival order is kept).
    fn admit(&mut self, ctx: &mut Ctx<'_>, batch: &mut LlamaBatch) {
        while let Some(free) = self.slots.iter().position(Option::is_none) {
            let Some((req, reply)) = self.pending.pop_front() else {
                return;
            };
            let seq = self.first_seq + free as i32;
            match self.prepare(ctx, &req) {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                Ok(None) => {
                    self.pending.push_front((req, reply));
                    return;
                }
                Ok(Some(p)) => {
                    if let Some(slot) = self.start(ctx, batch, req, reply, seq, p) {
                        self.slots[free] = Some(slot);
                    }
                }
            }
        }
    }

    /// Tokens to decode for `req`, the start position, the cached prefix
    /// length and the cells it needs; Ok(None) when it must wait for cells.
    fn prepare(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<Prepared>, LlmError> {
        let vocab = self.model.vocab();
        let prompt = self
            .prompts
            .get(req.prompt)
            .ok_or_else(|| LlmError::Llama(format!("no prompt {}", req.prompt)))?;
        let prefix = &self.prefix_tokens[req.prompt];
        let body = if req.raw {
            req.input.clone()
        } else {
            format!("{}{}", req.input, prompt.suffix)
        };
        let mut toks = vocab.tokenize(body.as_bytes(), false, !req.raw);
        let (pos, cached) = if req.raw {
            (0, 0)
        } else if req.no_cache {
            let mut all = prefix.clone();
            all.append(&mut toks);
            toks = all;
            (0, 0)
        } else {
            (prefix.len(), prefix.len())
        };
        if toks.is_empty() {
            return Err(LlmError::Llama("empty request".into()));
        }
        // Positions must fit the context; cells must fit what is free
        // (a cached prefix's cells are shared, not new).
        let reserved = toks.len() + req.max_tokens + 1;
        let total = self.prefix_tokens.iter().map(Vec::len).sum::<usize>();
        if pos + toks.len() + req.max_tokens > ctx.n_ctx() as usize
            || reserved > ctx.n_ctx() as usize - total
        {
            return Err(LlmError::Llama(format!(
                "request needs {} tokens, context holds {}",
                pos + toks.len() + req.max_tokens,
                ctx.n_ctx()
            )));
        }
        if reserved > self.free_cells {
            return Ok(None);
        }
        Ok(Some(Prepared {
            toks,
            pos: pos as i32,
            cached,
            reserved,
        }))
    }

    /// Decode a request's own tokens into its sequence and sample its first
    /// token. None when it already finished (or failed: replied).
    fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        batch: &mut LlamaBatch,
        req: Box<Request>,
        reply: Reply,
        seq: i32,
        p: Prepared,
    ) -> Option<Slot> {
        let t0 = Instant::now();
        let r = (|| {
            ctx.clear_kv_cache_seq(Some(seq as u32), None, None)
                .map_err(llama("clearing the work sequence"))?;
            if p.cached > 0 {
                ctx.copy_kv_cache_seq(req.prompt as i32, seq, None, None)
                    .map_err(llama("copying the prefix"))?;
            }
            decode_tokens(ctx, batch, &p.toks, p.pos, seq, true, self.cap)?;
            // A fresh grammar per generation: its state must not leak
            // between requests.
            match &req.grammar {
                Some(g) => Ok(Some(
                    LlamaSampler::grammar(self.model, g, "root").map_err(llama("grammar"))?,
                )),
                None => Ok(None),
            }
        })();
        let grammar = match r {
            Ok(g) => g,
            Err(e) => {
                let _ = ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                let _ = reply.send(Err(e));
                return None;
            }
        };
        self.free_cells -= p.reserved;
        let mut slot = Slot {
            req,
            reply,
            seq,
            pos: p.pos + p.toks.len() as i32,
            reserved: p.reserved,
            grammar,
            out: Vec::new(),
            next: LlamaToken(0),
            generated: 0,
            prompt_tokens: p.toks.len(),
            cached_tokens: p.cached,
            prompt_ms: t0.elapsed().as_secs_f64() * 1e3,
            gen_start: Instant::now(),
        };
        let idx = batch.n_tokens() - 1;
        match self.advance(ctx, &mut slot, idx) {
            None => Some(slot),
            Some(truncated) => {
                self.finish(ctx, slot, truncated);
                None
            }
        }
    }

    /// Sample the slot's next token from the logits at batch index `idx`.
    /// Some(truncated) when the request is complete.
    fn advance(&self, ctx: &Ctx<'_>, slot: &mut Slot, idx: i32) -> Option<bool> {
        if slot.generated >= slot.req.max_tokens {
            return Some(true);
        }
        let vocab = self.model.vocab();
        let Some(tok) = pick(ctx.get_logits_ith(idx), slot.grammar.as_mut()) else {
            // The grammar allows nothing more: it is complete.
            return Some(false);
        };
        if vocab.is_eog(tok) && !slot.req.ignore_eos {
            return Some(false);
        }
        slot.out.extend(vocab.token_to_piece(tok, false, None));
        slot.generated += 1;
        if slot.generated >= slot.req.max_tokens {
            return Some(true);
        }
        slot.next = tok;
        None
    }

    /// One decode with the next token of every running slot.
    fn step(&mut self, ctx: &mut Ctx<'_>, batch: &mut LlamaBatch) {
        let running: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].is_some())
            .collect();
        if running.is_empty() {
            return;
        }
        batch.clear();
        let mut failed: Option<LlmError> = None;
        for &i in &running {
            let s = self.slots[i].as_mut().expect("running slot");
            if let Err(e) = batch.add(s.next, s.pos, &[s.seq], true) {
                failed = Some(llama("batch")(e));
                break;
            }
            s.pos += 1;
        }
        if failed.is_none()
            && let Err(e) = ctx.decode(batch)
        {
            failed = Some(llama("decode")(e));
        }
        if let Some(e) = failed {
            // A failed decode leaves no usable state for these requests:
            // each gets the error, the engine goes on with the next ones.
            for &i in &running {
                if let Some(s) = self.slots[i].take() {
                    let _ = ctx.clear_kv_cache_seq(Some(s.seq as u32), None, None);
                    self.free_cells += s.reserved;
                    let _ = s.reply.send(Err(LlmError::Llama(e.to_string())));
                }
            }
            return;
        }
        for (b, &i) in running.iter().enumerate() {
            let mut s = self.slots[i].take().expect("running slot");
            match self.advance(ctx, &mut s, b as i32) {
                None => self.slots[i] = Some(s),
                Some(truncated) => self.finish(ctx, s, truncated),
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>, s: Slot, truncated: bool) {
        let _ = ctx.clear_kv_cache_seq(Some(s.seq as u32), None, None);
        self.free_cells += s.reserved;
        let _ = s.reply.send(Ok(Generation {
            text: String::from_utf8_lossy(&s.out).into_owned(),
            prompt_tokens: s.prompt_tokens,
            cached_tokens: s.cached_tokens,
            generated_tokens: s.generated,
            prompt_ms: s.prompt_ms,
            gen_ms: s.gen_start.elapsed().as_secs_f64() * 1e3,
            truncated,
        }));
    }
}

struct Prepared {
    toks: Vec<LlamaToken>,
    pos: i32,
    cached: usize,
    reserved: usize,
}

/// Decode `toks` into sequence `seq` starting at position `pos`, in chunks
/// of `cap` (the batch size); logits only for the very last token when
/// `logits`.
#[allow(clippy::too_many_arguments)]
fn decode_tokens(
    ctx: &mut Ctx<'_>,
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

/// Greedy choice under an optional grammar; None when the grammar allows
/// no token (its output is complete). The grammar is checked against the
/// greedy token first and applied to the whole vocabulary only when that
/// token is not allowed: applying it to ~50k candidates every step is what
/// makes naive grammar sampling slow.
fn pick(logits: &[f32], grammar: Option<&mut LlamaSampler>) -> Option<LlamaToken> {
    let best = argmax(logits);
    let Some(gs) = grammar else {
        return Some(LlamaToken(best as i32));
    };
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
            return None;
        }
        all.data[i].id()
    };
    gs.accept(tok);
    Some(tok)
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
