//! What gdr asks the LLM: contextual detection (grammar-constrained JSON,
//! spans kept only when they are exact substrings of the input) and the
//! generative rewrite, with a token budget that sends the model where the
//! rules are least sure.

use super::engine::{Engine, EngineConfig, Generation, Request};
use super::{LlmError, Manifest, Prompt};
use crate::detect::Name;
use crate::detect::Span;
use serde::Deserialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prompt indexes in the engine.
pub const DETECT: usize = 0;
pub const REWRITE: usize = 1;

/// Score of an LLM-proposed span: above the rewrite threshold (it is
/// evidence), below validated rule hits (which win overlaps).
pub const LLM_SCORE: f32 = 0.6;

/// Longest window of text given to the model at once, in bytes; longer
/// texts are split on paragraph/sentence boundaries with an overlap.
const WINDOW: usize = 1200;
const OVERLAP: usize = 200;

#[derive(Debug, Deserialize)]
struct DetectOut {
    entities: Vec<DetectEntity>,
}

#[derive(Debug, Deserialize)]
struct DetectEntity {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

/// LLM settings (the `[llm]` config section and CLI flags).
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub manifest: std::path::PathBuf,
    pub model: Option<String>,
    pub engine: EngineConfig,
    /// Token budget for this job (prompt + generated tokens); None = no cap.
    pub job_budget: Option<u64>,
    /// Token budget per UTC day across jobs, kept in
    /// `<state_dir>/llm_budget.json`; None = no cap.
    pub daily_budget: Option<u64>,
    pub state_dir: Option<std::path::PathBuf>,
    /// Ask the model for a fluent rewrite (else it only detects).
    pub generative: bool,
    pub max_detect_tokens: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            manifest: std::path::PathBuf::from("models/manifest.toml"),
            model: None,
            engine: EngineConfig::default(),
            job_budget: None,
            daily_budget: None,
            state_dir: None,
            // Off until the verifier can check meaning: with the default
            // 135M model most fluent rewrites fail the leak check and those
            // that pass often lose content (measured: signal_kept 0.90 vs
            // 0.99 on a presidio-dev sample).
            generative: false,
            max_detect_tokens: 256,
        }
    }
}

/// The loaded model with its prompts and budget.
pub struct Llm {
    pub engine: Engine,
    pub model_name: String,
    grammar: String,
    budget: Option<u64>,
    used: AtomicU64,
    /// (daily cap, tokens used today before this job, ledger file).
    daily: Option<(u64, u64, std::path::PathBuf)>,
    pub generative: bool,
    max_detect_tokens: usize,
    kinds: [Name; 6],
    detector: Name,
}

/// Why the LLM was or was not used for a record (goes to the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmUse {
    /// Rules explained the text: nothing uncertain for the model to look at.
    Skipped,
    /// The job's token budget was spent.
    BudgetSpent,
    Used,
}

impl Llm {
    /// Load the manifest entry (hash-checked) and start the engine.
    pub fn load(cfg: &LlmConfig) -> Result<Self, LlmError> {
        let manifest = Manifest::load(&cfg.manifest)?;
        let entry = manifest.entry(cfg.model.as_deref())?;
        let file = manifest.verified_file(entry)?;
        let prompts_dir = manifest.dir.join("prompts");
        let prompts = vec![
            Prompt::load(&prompts_dir, "detect")?,
            Prompt::load(&prompts_dir, "rewrite")?,
        ];
        let gpath = prompts_dir.join("detect.gbnf");
        let grammar = std::fs::read_to_string(&gpath).map_err(|e| LlmError::Io {
            path: gpath.display().to_string(),
            source: e,
        })?;
        let mut ecfg = cfg.engine.clone();
        ecfg.context = ecfg.context.min(entry.context.max(512));
        let engine = Engine::start(&file, ecfg, prompts)?;
        let daily = match (cfg.daily_budget, &cfg.state_dir) {
            (Some(cap), Some(dir)) => {
                let path = dir.join("llm_budget.json");
                Some((cap, read_ledger(&path, today()), path))
            }
            _ => None,
        };
        Ok(Self {
            daily,
            engine,
            model_name: entry.name.clone(),
            grammar,
            budget: cfg.job_budget,
            used: AtomicU64::new(0),
            generative: cfg.generative,
            max_detect_tokens: cfg.max_detect_tokens,
            kinds: ["PERSON", "ADDRESS", "LOCATION", "ORG", "DATE", "ID"].map(Name::from),
            detector: Name::from("llm"),
        })
    }

    /// Tokens spent so far in this job.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Charge a finished request to the job's budget.
    fn take(&self, g: &Generation) {
        self.used.fetch_add(
            (g.prompt_tokens + g.generated_tokens) as u64,
            Ordering::Relaxed,
        );
    }

    /// Tokens left under the job and daily budgets (None: unlimited).
    pub fn remaining(&self) -> Option<u64> {
        let job = self.budget.map(|b| b.saturating_sub(self.used()));
        let day = self
            .daily
            .as_ref()
            .map(|(cap, before, _)| cap.saturating_sub(before + self.used()));
        match (job, day) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Rough token cost of running the model on `text`: its tokens (about a
    /// quarter of its bytes) per window plus the answer, and the rewrite.
    pub fn estimate_cost(&self, text: &str) -> u64 {
        let input = text.len() as u64 / 4 + 1;
        let windows = windows(text).len().max(1) as u64;
        let detect = input + windows * (80 + self.max_detect_tokens as u64 / 2);
        let rewrite = if self.generative {
            input * 5 / 2 + 80
        } else {
            0
        };
        detect + rewrite
    }

    fn has_budget(&self) -> bool {
        self.remaining().is_none_or(|r| r > 0)
    }

    /// Record today's spending in the ledger (called when the job ends).
    pub fn save_ledger(&self) -> Result<(), LlmError> {
        let Some((_, before, path)) = &self.daily else {
            return Ok(());
        };
        let v = serde_json::json!({"day": today(), "used": before + self.used()});
        let tmp = path.with_extension("json.tmp");
        let io = |e| LlmError::Io {
            path: path.display().to_string(),
            source: e,
        };
        std::fs::write(&tmp, v.to_string()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Contextual detection over `text`: spans the model proposes that are
    /// exact substrings of the text (every occurrence), typed.
    pub fn detect(&self, text: &str) -> Result<(Vec<Span>, LlmUse), LlmError> {
        let mut out = Vec::new();
        if !self.has_budget() {
            return Ok((out, LlmUse::BudgetSpent));
        }
        // The windows of a long text go to the engine together: it runs
        // them as parallel sequences. Under a budget, only the windows
        // whose estimated cost fits are sent (in order); the rest of the
        // text then has the rules alone, as the report says.
        let wins = windows(text);
        let mut sent = wins.len();
        if let Some(mut left) = self.remaining() {
            sent = 0;
            for (_, w) in &wins {
                let cost = w.len() as u64 / 4 + 1 + 80 + self.max_detect_tokens as u64 / 2;
                if sent > 0 && cost > left {
                    break;
                }
                left = left.saturating_sub(cost);
                sent += 1;
            }
        }
        let reqs = wins[..sent]
            .iter()
            .map(|(_, window)| {
                let mut req = Request::new(DETECT, *window, self.max_detect_tokens);
                req.grammar = Some(self.grammar.clone());
                req
            })
            .collect();
        let results = self.engine.generate_many(reqs);
        for (r, (base, window)) in results.into_iter().zip(&wins) {
            let g = r?;
            self.take(&g);
            out.extend(self.parse_spans(&g.text, window, *base));
        }
        if sent < wins.len() {
            out.sort_by_key(|s| (s.start, s.end));
            out.dedup_by(|a, b| a.start == b.start && a.end == b.end);
            return Ok((out, LlmUse::BudgetSpent));
        }
        out.sort_by_key(|s| (s.start, s.end));
        out.dedup_by(|a, b| a.start == b.start && a.end == b.end);
        Ok((out, LlmUse::Used))
    }

    /// Turn the model's JSON into spans. Output that does not parse (a
    /// truncated list) yields the entities that did; proposed strings that
    /// are not in the text are dropped.
    pub fn parse_spans(&self, json: &str, window: &str, base: usize) -> Vec<Span> {
        let entities = match serde_json::from_str::<DetectOut>(json) {
            Ok(o) => o.entities,
            Err(_) => salvage(json),
        };
        let mut out = Vec::new();
        for e in entities {
            let t = e.text.trim();
            if t.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
                continue;
            }
            let Some(kind) = self.kinds.iter().find(|k| ***k == *e.kind) else {
                continue;
            };
            for (i, _) in window.match_indices(t) {
                let (s, e) = (base + i, base + i + t.len());
                out.push(Span {
                    start: s,
                    end: e,
                    entity: *kind,
                    score: LLM_SCORE,
                    detector: self.detector,
                    validated: false,
                });
            }
        }
        out
    }

    /// A fluent rewrite of `text` by the model, or None when the budget is
    /// spent or the text does not fit the context.
    pub fn rewrite(&self, text: &str) -> Result<Option<Generation>, LlmError> {
        if !self.has_budget() || text.len() > WINDOW * 2 {
            return Ok(None);
        }
        let tokens = self.engine.count_tokens(text)?;
        let g = self
            .engine
            .generate(Request::new(REWRITE, text, tokens * 3 / 2 + 16))?;
        self.take(&g);
        Ok(Some(g))
    }

    /// The detection grammar (benchmarks).
    pub fn grammar(&self) -> &str {
        &self.grammar
    }

    /// Load with defaults from a manifest path (tests, benches).
    pub fn load_default(manifest: &Path) -> Result<Self, LlmError> {
        Self::load(&LlmConfig {
            manifest: manifest.to_path_buf(),
            ..LlmConfig::default()
        })
    }
}

/// Days since the Unix epoch, UTC: the daily budget's key.
fn today() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

/// Tokens already spent on `day` according to the ledger (0 for another
/// day, a missing or unreadable ledger).
fn read_ledger(path: &Path, day: u64) -> u64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return 0;
    };
    if v["day"].as_u64() == Some(day) {
        v["used"].as_u64().unwrap_or(0)
    } else {
        0
    }
}

/// Entities from a JSON list cut off mid-way: every complete
/// `{"type": ..., "text": ...}` object before the cut.
fn salvage(json: &str) -> Vec<DetectEntity> {
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(i) = rest.find("{\"type\"") {
        let tail = &rest[i..];
        match tail.find('}') {
            Some(j) => {
                if let Ok(e) = serde_json::from_str::<DetectEntity>(&tail[..=j]) {
                    out.push(e);
                }
                rest = &tail[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Split `text` into windows of at most WINDOW bytes, cut after a
/// paragraph or sentence end where possible, each overlapping the previous
/// by about OVERLAP bytes so an entity on a cut is seen whole once.
pub fn windows(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let hard = floor_boundary(text, (start + WINDOW).min(text.len()));
        let end = if hard == text.len() {
            hard
        } else {
            let slice = &text[start..hard];
            let cut = slice
                .rfind("\n\n")
                .map(|i| i + 2)
                .or_else(|| slice.rfind(". ").map(|i| i + 2))
                .or_else(|| slice.rfind('\n').map(|i| i + 1))
                .or_else(|| slice.rfind(' ').map(|i| i + 1))
                .filter(|&c| c > OVERLAP)
                .unwrap_or(slice.len());
            start + cut
        };
        out.push((start, &text[start..end]));
        if end >= text.len() {
            break;
        }
        let next = floor_boundary(text, end.saturating_sub(OVERLAP).max(start + 1));
        // Start the overlap at a word boundary.
        let next = text[next..end]
            .find(' ')
            .map_or(next, |i| next + i + 1)
            .min(end);
        start = if next > start { next } else { end };
    }
    out
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How much an LLM pass is likely to add on this text, from what the rules
/// saw: uncertain candidates (below the threshold) and capitalised words no
/// detector explained. Zero means the rules explain the text: skip the LLM.
pub fn expected_gain(text: &str, spans: &[Span], threshold: f32) -> f32 {
    let uncertain = spans.iter().filter(|s| s.score < threshold).count() as f32;
    let mut unexplained = 0.0f32;
    let mut prev_alnum = false;
    let mut sentence_start = true;
    for (i, c) in text.char_indices() {
        if c.is_uppercase() && !prev_alnum && !sentence_start {
            let covered = spans.iter().any(|s| s.start <= i && i < s.end);
            if !covered {
                unexplained += 1.0;
            }
        }
        if matches!(c, '.' | '!' | '?' | '\n' | ':' | '"') {
            sentence_start = true;
        } else if c.is_alphanumeric() {
            sentence_start = false;
        }
        prev_alnum = c.is_alphanumeric();
    }
    uncertain * 2.0 + unexplained
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_and_overlap() {
        let para = "Sentence one is here. ".repeat(200);
        let w = windows(&para);
        assert!(w.len() > 2);
        assert_eq!(w[0].0, 0);
        for pair in w.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(b.0 < a.0 + a.1.len(), "windows must overlap");
            assert!(b.0 > a.0);
        }
        let last = w.last().unwrap();
        assert_eq!(last.0 + last.1.len(), para.len());
        assert_eq!(windows("short"), vec![(0, "short")]);
        assert!(windows("").is_empty());
    }

    #[test]
    fn salvage_keeps_complete_entities() {
        let cut =
            r#"{"entities": [{"type": "PERSON", "text": "Ann Lee"}, {"type": "ORG", "text": "Ac"#;
        let e = salvage(cut);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].text, "Ann Lee");
    }

    #[test]
    fn ledger_counts_only_today() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.json");
        assert_eq!(read_ledger(&p, 5), 0);
        std::fs::write(&p, r#"{"day": 5, "used": 120}"#).unwrap();
        assert_eq!(read_ledger(&p, 5), 120);
        assert_eq!(read_ledger(&p, 6), 0);
    }

    #[test]
    fn gain_is_zero_when_rules_explain() {
        assert_eq!(expected_gain("the cat sat. It slept.", &[], 0.5), 0.0);
        assert!(expected_gain("we met Kowalczyk at noon", &[], 0.5) > 0.0);
    }
}
