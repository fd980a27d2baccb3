//! Sentence embeddings through llama.cpp, for the verifier's meaning check.
//!
//! A chat model's mean-pooled hidden states cannot tell a paraphrase from a
//! changed meaning (SmolLM2-135M: 0.966 vs 0.958, see DESIGN.md); a sentence
//! encoder can (all-MiniLM-L6-v2: 0.96 vs 0.49). So the verifier runs its own
//! small encoder, the manifest entry with the `embed` role.
//!
//! Like the generation engine, one dedicated thread owns the model and its
//! context (`LlamaContext` is `Send` only) and callers queue on a bounded
//! channel; the llama.cpp backend is the process-wide one the engine shares.

use super::engine::load_model;
use super::{LlmError, Manifest};
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// The manifest role that marks a sentence encoder.
pub const ROLE: &str = "embed";

/// Texts embedded in one decode call (one KV sequence each).
const MAX_SEQS: usize = 4;

type Reply = mpsc::Sender<Result<Vec<Vec<f32>>, LlmError>>;

/// Handle to the embedding thread; dropping it stops the thread.
pub struct Embedder {
    tx: Option<mpsc::SyncSender<(Vec<String>, Reply)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub model_name: String,
    pub model_path: PathBuf,
    /// Width of the vectors.
    pub dim: usize,
}

impl Embedder {
    /// The manifest entry `name`, else the first entry with the `embed`
    /// role; hash-checked, then loaded on its own thread.
    pub fn load(manifest: &Path, name: Option<&str>, threads: i32) -> Result<Self, LlmError> {
        let m = Manifest::load(manifest)?;
        let entry = match name {
            Some(n) => m.entry(Some(n))?,
            None => m
                .models
                .iter()
                .find(|e| e.roles.iter().any(|r| r == ROLE))
                .ok_or_else(|| LlmError::Manifest {
                    path: m.path.display().to_string(),
                    msg: format!("no model with role {ROLE:?} (the verifier's sentence encoder)"),
                })?,
        };
        let file = m.verified_file(entry)?;
        let mut e = Self::start(&file, threads, entry.context.max(32))?;
        e.model_name = entry.name.clone();
        Ok(e)
    }

    /// Load a GGUF sentence encoder (already hash-checked) on a new thread.
    pub fn start(path: &Path, threads: i32, context: u32) -> Result<Self, LlmError> {
        let (tx, rx) = mpsc::sync_channel(16);
        let (ready_tx, ready_rx) = mpsc::channel();
        let p = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("gdr-embed".into())
            .spawn(move || run(p, threads.max(1), context, rx, ready_tx))
            .map_err(|e| LlmError::Llama(format!("spawning the embedding thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(dim)) => Ok(Self {
                tx: Some(tx),
                thread: Some(thread),
                model_name: path.display().to_string(),
                model_path: path.to_path_buf(),
                dim,
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

    /// One L2-normalised, mean-pooled vector per text. Texts longer than the
    /// model's context are embedded in windows whose vectors are averaged
    /// (weighted by tokens), so a long record is still compared whole.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LlmError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or(LlmError::EngineGone)?
            .send((texts.iter().map(|t| t.to_string()).collect(), tx))
            .map_err(|_| LlmError::EngineGone)?;
        rx.recv().map_err(|_| LlmError::EngineGone)?
    }

    /// Cosine similarity of two texts.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f32, LlmError> {
        let v = self.embed(&[a, b])?;
        Ok(cosine(&v[0], &v[1]))
    }
}

impl Drop for Embedder {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Cosine similarity (the vectors need not be normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn run(
    path: PathBuf,
    threads: i32,
    context: u32,
    rx: mpsc::Receiver<(Vec<String>, Reply)>,
    ready: mpsc::Sender<Result<usize, LlmError>>,
) {
    let fail = |ready: &mpsc::Sender<Result<usize, LlmError>>, msg: String| {
        let _ = ready.send(Err(LlmError::Llama(msg)));
    };
    let (backend, model) = match load_model(&path) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // An encoder sees the whole sequence at once: batch = ubatch = context.
    let n_ctx = context.min(model.n_ctx_train().max(32));
    // Sequences are packed into one ubatch of at most `n_ctx` tokens: the
    // compute graph is sized by the ubatch, and a larger one costs time on
    // every call even when the texts are short.
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_seq_max(MAX_SEQS as u32)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::Mean)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => return fail(&ready, format!("creating the embedding context: {e}")),
    };
    let dim = model.n_embd() as usize;
    let _ = ready.send(Ok(dim));
    let vocab = model.vocab();
    let (cls, sep) = (vocab.bos(), vocab.eos());
    let window = n_ctx as usize - 2;
    let mut batch = LlamaBatch::new(n_ctx as usize, MAX_SEQS as i32);
    while let Ok((texts, reply)) = rx.recv() {
        // Every window of every text, with the text it belongs to.
        let mut pieces: Vec<(usize, Vec<LlamaToken>)> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let toks = vocab.tokenize(t.as_bytes(), false, false);
            if toks.is_empty() {
                pieces.push((i, vec![cls, sep]));
            }
            for w in toks.chunks(window) {
                let mut seq = Vec::with_capacity(w.len() + 2);
                seq.push(cls);
                seq.extend_from_slice(w);
                seq.push(sep);
                pieces.push((i, seq));
            }
        }
        let mut sums = vec![vec![0f32; dim]; texts.len()];
        let mut result = Ok(());
        // Groups of pieces that fit one ubatch together.
        let mut groups: Vec<&[(usize, Vec<LlamaToken>)]> = Vec::new();
        let (mut start, mut tokens) = (0, 0);
        for (k, (_, toks)) in pieces.iter().enumerate() {
            if k > start && (k - start == MAX_SEQS || tokens + toks.len() > n_ctx as usize) {
                groups.push(&pieces[start..k]);
                start = k;
                tokens = 0;
            }
            tokens += toks.len();
        }
        if start < pieces.len() {
            groups.push(&pieces[start..]);
        }
        for group in groups {
            ctx.clear_kv_cache();
            batch.clear();
            let added = group
                .iter()
                .enumerate()
                .try_for_each(|(s, (_, toks))| batch.add_sequence(toks, s as i32, false));
            if let Err(e) = added {
                result = Err(LlmError::Llama(format!("embedding batch: {e}")));
                break;
            }
            if let Err(e) = ctx.decode(&mut batch) {
                result = Err(LlmError::Llama(format!("embedding decode: {e}")));
                break;
            }
            for (s, (i, toks)) in group.iter().enumerate() {
                match ctx.embeddings_seq_ith(s as i32) {
                    Ok(v) => {
                        // Mean pooling per window; windows weighted by length.
                        let w = toks.len() as f32;
                        sums[*i].iter_mut().zip(v).for_each(|(a, b)| *a += b * w);
                    }
                    Err(e) => {
                        result = Err(LlmError::Llama(format!("embeddings: {e}")));
                        break;
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        let r = result.map(|()| {
            sums.iter_mut().for_each(|v| normalise(v));
            sums
        });
        let _ = reply.send(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[-1.0, -1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        let mut v = vec![3.0, 4.0];
        normalise(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }
}
