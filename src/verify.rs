//! The verifier: every rewrite is checked before it is committed.
//!
//! Two questions, answered from the original, the rewrite, the identifier
//! spans of the original and the output ranges of the planned surrogates:
//!
//! 1. **Leaks.** No original identifier survives outside the planned
//!    surrogates: exact (case-insensitive), normalised (whitespace, digit runs
//!    without separators, Unicode confusables and diacritics folded), as a word
//!    of a name, fuzzy (a near-miss spelling, a number with one digit
//!    changed), and rule detection run again on the output (a high-confidence
//!    hit that is not a planned surrogate fails).
//! 2. **Signal.** The original with identifiers masked against the rewrite
//!    with surrogates masked: content-word recall, no dropped or invented run
//!    of content words (a clause), every number/amount kept, negations kept,
//!    length in bounds, and the cosine similarity of a sentence encoder.
//!
//! The result is a [`Verdict`] with machine-readable reasons and scores —
//! never raw text, so it can go to reports, logs and the database.

mod index;
pub mod mutate;

pub(crate) use index::{Overlaps, find_iter_case_insensitive};

use crate::detect::{Detector, Gazetteers, Span};
use crate::llm::embed::{Embedder, cosine};
use crate::plan::{Op, Policy};
use crate::rewrite::KEEP_WORDS;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use index::find_bounded;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;

/// Verifier errors (config only: a check that cannot run is a reject reason,
/// not an error).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verify.{key}: {msg}")]
    Config { key: &'static str, msg: String },
}

/// `[verify]`: thresholds of the verifier. Defaults were set on the mutation
/// set (`gdr bench --verify`): every leak mutant rejected, meaning mutants
/// rejected, fluent paraphrases and deterministic rewrites accepted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Verify every rewrite before commit (off: the pre-verifier behaviour,
    /// for comparisons only).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Compute the embedding similarity (needs the `embed` model).
    #[serde(default = "yes")]
    pub embed: bool,
    /// When a deterministic rewrite leaks text the plan missed (another
    /// mention of a name, a confident rule hit), widen the plan to it and
    /// rewrite again (at most twice) instead of quarantining the record.
    #[serde(default = "yes")]
    pub repair: bool,
    /// Manifest entry of the sentence encoder (default: the first entry with
    /// the `embed` role).
    #[serde(default)]
    pub embed_model: Option<String>,
    /// Threads of the encoder (default: as the LLM engine).
    #[serde(default)]
    pub embed_threads: Option<i32>,
    /// Jaro-Winkler similarity from which an output word is a near-miss of
    /// an identifier word ("Gonzales" for "Gonzalez" is 0.95).
    #[serde(default = "d_fuzzy")]
    pub fuzzy: f64,
    /// Identifier words shorter than this are not fuzzy-matched (one letter
    /// off a short word is usually another word).
    #[serde(default = "d_fuzzy_min_chars")]
    pub fuzzy_min_chars: usize,
    /// Digit runs of an identifier at least this long are looked for in the
    /// output's digits with separators removed.
    #[serde(default = "d_min_digits")]
    pub min_digits: usize,
    /// Score from which a rule hit on the output counts as an identifier.
    #[serde(default = "d_redetect")]
    pub redetect_score: f32,
    /// Share of the original's content words (masked, stemmed) the rewrite
    /// must keep.
    #[serde(default = "d_recall")]
    pub min_content_recall: f32,
    /// Most content words of the original a rewrite may delete in one place
    /// (a dropped clause deletes more; a paraphrase replaces words rather
    /// than deleting them, see `runs`).
    #[serde(default = "d_run")]
    pub max_dropped_run: usize,
    /// Most content words a rewrite may insert in one place (an invented
    /// sentence inserts more).
    #[serde(default = "d_run")]
    pub max_added_run: usize,
    /// Bounds of masked rewrite length / masked original length.
    #[serde(default = "d_lmin")]
    pub min_length_ratio: f32,
    #[serde(default = "d_lmax")]
    pub max_length_ratio: f32,
    /// Cosine similarity of the masked texts' embeddings (all-MiniLM-L6-v2:
    /// a paraphrase ~0.96, a changed meaning ~0.49).
    #[serde(default = "d_sim")]
    pub min_similarity: f32,
}

fn yes() -> bool {
    true
}
fn d_fuzzy() -> f64 {
    0.9
}
fn d_fuzzy_min_chars() -> usize {
    4
}
fn d_min_digits() -> usize {
    5
}
fn d_redetect() -> f32 {
    0.85
}
fn d_recall() -> f32 {
    0.5
}
fn d_run() -> usize {
    2
}
fn d_lmin() -> f32 {
    0.5
}
fn d_lmax() -> f32 {
    2.0
}
fn d_sim() -> f32 {
    0.8
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            embed: true,
            repair: true,
            embed_model: None,
            embed_threads: None,
            fuzzy: d_fuzzy(),
            fuzzy_min_chars: d_fuzzy_min_chars(),
            min_digits: d_min_digits(),
            redetect_score: d_redetect(),
            min_content_recall: d_recall(),
            max_dropped_run: d_run(),
            max_added_run: d_run(),
            min_length_ratio: d_lmin(),
            max_length_ratio: d_lmax(),
            min_similarity: d_sim(),
        }
    }
}

impl VerifyConfig {
    pub fn validate(&self) -> Result<(), VerifyError> {
        let unit = |key: &'static str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(VerifyError::Config {
                    key,
                    msg: format!("{v} outside 0..=1"),
                })
            }
        };
        unit("fuzzy", self.fuzzy)?;
        unit("redetect_score", self.redetect_score as f64)?;
        unit("min_content_recall", self.min_content_recall as f64)?;
        unit("min_similarity", self.min_similarity as f64)?;
        if !(self.min_length_ratio > 0.0 && self.min_length_ratio <= 1.0)
            || self.max_length_ratio < 1.0
        {
            return Err(VerifyError::Config {
                key: "min_length_ratio",
                msg: "need 0 < min_length_ratio <= 1 <= max_length_ratio".into(),
            });
        }
        if self.min_digits < 3 {
            return Err(VerifyError::Config {
                key: "min_digits",
                msg: "must be at least 3".into(),
            });
        }
        Ok(())
    }
}

/// What the verifier looks at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub original: &'a str,
    pub rewrite: &'a str,
    /// Identifier spans of the original that must not survive (the plan's
    /// spans whose operation is not `keep`).
    pub identifiers: &'a [Span],
    /// Output byte ranges of the planned surrogates, when known (the
    /// deterministic rewrite knows them; a generative rewrite does not, and
    /// then the identifiers found on the output are masked instead).
    pub inserted: Option<&'a [Range<usize>]>,
}

/// Scores of one verification (rounded to 4 decimals).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Scores {
    /// Leak findings (all kinds).
    pub leaks: usize,
    /// Highest similarity of an output word to an identifier word that is
    /// not an exact match (0 when none was compared).
    pub fuzzy_max: f64,
    /// High-confidence rule hits on the output outside planned surrogates.
    pub unplanned: usize,
    pub content_recall: f32,
    pub dropped_run: usize,
    pub added_run: usize,
    /// Share of the original's numbers (and currency/percent signs) kept.
    pub numbers_kept: f32,
    pub numbers_added: usize,
    pub negations_original: usize,
    pub negations_rewrite: usize,
    pub length_ratio: f32,
    /// Cosine similarity of the masked texts (None: not computed).
    pub similarity: Option<f32>,
}

/// One leak finding. `found` is the raw output text that matched: it never
/// leaves the process (not serialised); the pipeline uses it to widen the
/// plan and retry.
#[derive(Debug, Clone)]
pub struct Leak {
    pub reason: String,
    pub entity: String,
    pub found: String,
}

/// Accept or reject, why, and the scores.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    #[serde(serialize_with = "ser_accept", rename = "verdict")]
    pub accept: bool,
    pub reasons: Vec<String>,
    pub scores: Scores,
    #[serde(skip)]
    pub leaks: Vec<Leak>,
}

fn ser_accept<S: serde::Serializer>(a: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *a { "accept" } else { "reject" })
}

impl Verdict {
    /// A reject with one reason and no scores (a check that could not run,
    /// e.g. a truncated generation).
    pub fn reject(reason: &str) -> Self {
        Self {
            accept: false,
            reasons: vec![reason.to_string()],
            scores: Scores::default(),
            leaks: Vec::new(),
        }
    }

    /// Rejected for leaks and unplanned identifiers only (the cases the
    /// pipeline can repair by widening the plan).
    pub fn only_leaks(&self) -> bool {
        !self.accept
            && self
                .reasons
                .iter()
                .all(|r| r.starts_with("leak_") || r.starts_with("unplanned_"))
    }
}

/// The verifier: thresholds and, when the embedding step is on, the
/// sentence encoder.
pub struct Verifier {
    pub cfg: VerifyConfig,
    pub embedder: Option<Embedder>,
}

fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

impl Verifier {
    pub fn new(cfg: VerifyConfig) -> Self {
        Self {
            cfg,
            embedder: None,
        }
    }

    pub fn with_embedder(mut self, e: Embedder) -> Self {
        self.embedder = Some(e);
        self
    }

    /// Verify one rewrite; `embed` = false skips the embedding step even
    /// when an encoder is loaded.
    pub fn verify(
        &self,
        detector: &Detector,
        policy: &Policy,
        s: &Subject<'_>,
        embed: bool,
    ) -> Verdict {
        let mut reasons: Vec<String> = Vec::new();
        let mut scores = Scores::default();
        if s.rewrite.trim().is_empty() && !s.original.trim().is_empty() {
            return Verdict::reject("empty");
        }
        let g = &detector.gazetteers;
        let ids: Vec<&Span> = s
            .identifiers
            .iter()
            .filter(|sp| policy.op(&sp.entity) != Op::Keep)
            .collect();
        // Detection on the output: for the re-detection check and, without
        // planned surrogates, to mask the identifiers a generative rewrite
        // made up. An unchanged text without identifiers has nothing new.
        let redetect = s.rewrite != s.original || !ids.is_empty();
        let out_spans = if redetect || s.inserted.is_none() {
            detector.detect(s.rewrite)
        } else {
            Vec::new()
        };
        // What the signal checks mask in the rewrite: the planned
        // surrogates, or the identifiers found on it.
        let found_on_output: Vec<Range<usize>>;
        let masked_out: &[Range<usize>] = match s.inserted {
            Some(r) => r,
            None => {
                found_on_output = detector
                    .actionable(&out_spans)
                    .iter()
                    .map(|sp| sp.start..sp.end)
                    .collect();
                &found_on_output
            }
        };
        // Leak checks look at everything but the planned surrogates: the
        // identifiers detection finds on a generative output are exactly
        // what must be checked, so they are masked for the signal checks
        // only.
        let planned: &[Range<usize>] = s.inserted.unwrap_or(&[]);
        let id_ranges = ranges_of(&ids);
        let visible = blank(s.rewrite, planned, "\u{1}");
        let outside = blank(s.original, &id_ranges, "\u{1}");

        // --- leaks ---------------------------------------------------------
        let mut leaks = self.leaks(g, &ids, s.original, &visible, &outside, &mut scores);
        // Rule detection again, on the output: a confident hit that is not
        // a planned surrogate is an identifier the plan does not explain.
        if redetect {
            // Inside a planned surrogate? One binary search per hit instead
            // of a pass over all surrogates (a few: the pass is cheaper).
            let sorted =
                (planned.len() > OVERLAP_INDEX_FROM).then(|| index::Overlaps::new(planned));
            let inside = |start: usize, end: usize| match &sorted {
                Some(o) => o.any(start, end),
                None => planned.iter().any(|r| r.start < end && start < r.end),
            };
            for sp in &out_spans {
                let by_rule = sp.detector.starts_with("rule:") || &*sp.detector == "deny_list";
                if !by_rule
                    || sp.score < self.cfg.redetect_score
                    || policy.op(&sp.entity) == Op::Keep
                    || inside(sp.start, sp.end)
                {
                    continue;
                }
                scores.unplanned += 1;
                leaks.push(Leak {
                    reason: format!("unplanned_identifier:{}", sp.entity),
                    entity: sp.entity.to_string(),
                    found: s.rewrite[sp.start..sp.end].to_string(),
                });
            }
        }
        // Each reason once, in order of first finding.
        let mut listed = index::FirstTime::default();
        for l in &leaks {
            if listed.insert(l.reason.as_str()) {
                reasons.push(l.reason.clone());
            }
        }
        scores.leaks = leaks
            .iter()
            .filter(|l| l.reason.starts_with("leak_"))
            .count();

        // --- signal --------------------------------------------------------
        let m_orig = masked(s.original, &id_ranges);
        let m_rw = masked(s.rewrite, masked_out);
        let a = Profile::of(&m_orig);
        let b = Profile::of(&m_rw);
        let (a_words, b_words) = (a.words(), b.words());
        scores.content_recall = round4(bag_recall(&a_words, &b_words));
        let (dropped, added) = runs(&a_words, &b_words);
        scores.dropped_run = dropped;
        scores.added_run = added;
        let (missing, extra) = bag_diff(&a.numbers, &b.numbers);
        scores.numbers_kept = round4(if a.numbers.is_empty() {
            1.0
        } else {
            1.0 - missing as f32 / a.numbers.len() as f32
        });
        scores.numbers_added = extra;
        scores.negations_original = a.negations;
        scores.negations_rewrite = b.negations;
        let (lo, lr) = (m_orig.chars().count(), m_rw.chars().count());
        scores.length_ratio = round4(lr as f32 / lo.max(1) as f32);
        // With a handful of content words one synonym moves the ratio by a
        // quarter: recall is judged from five words on (the embedding and
        // the other checks still see short texts).
        if a.content.len() >= 5 && scores.content_recall < self.cfg.min_content_recall {
            reasons.push("content_recall".into());
        }
        if dropped > self.cfg.max_dropped_run {
            reasons.push("content_dropped".into());
        }
        if added > self.cfg.max_added_run {
            reasons.push("content_added".into());
        }
        if missing > 0 {
            reasons.push("number_missing".into());
        }
        if extra > 0 {
            reasons.push("number_added".into());
        }
        if b.negations < a.negations {
            reasons.push("negation_dropped".into());
        }
        if b.negations > a.negations {
            reasons.push("negation_added".into());
        }
        // Very short texts (a greeting) have no stable length ratio.
        if lo >= 20
            && !(self.cfg.min_length_ratio..=self.cfg.max_length_ratio)
                .contains(&scores.length_ratio)
        {
            reasons.push("length_ratio".into());
        }
        if embed
            && self.cfg.embed
            && let Some(e) = &self.embedder
        {
            if m_orig == m_rw {
                // Identical inputs: cosine 1 without running the encoder.
                scores.similarity = Some(1.0);
            } else {
                let (a_mid, b_mid) = changed_region(&m_orig, &m_rw);
                match e.embed(&[a_mid, b_mid]) {
                    Ok(v) => {
                        let sim = round4(cosine(&v[0], &v[1]));
                        scores.similarity = Some(sim);
                        if sim < self.cfg.min_similarity {
                            reasons.push("similarity".into());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "embedding failed; rewrite rejected");
                        reasons.push("embedding_error".into());
                    }
                }
            }
        }
        Verdict {
            accept: reasons.is_empty(),
            reasons,
            scores,
            leaks,
        }
    }
}

/// The part of two texts that differs, widened to sentence boundaries
/// with one sentence of context on each side. The encoder sees only this:
/// the cost follows the change, not the record (a long judgment with one
/// clause changed is two short inputs, not two 10k-token ones), and the
/// similarity measures the change instead of being diluted by the
/// unchanged rest.
fn changed_region<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    let pre = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let pre = floor_char(a, pre.min(b.len()));
    let max_suf = (a.len() - pre).min(b.len() - pre);
    let suf = a[pre..]
        .chars()
        .rev()
        .zip(b[pre..].chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .scan(0usize, |acc, n| {
            *acc += n;
            Some(*acc)
        })
        .take_while(|&n| n <= max_suf)
        .last()
        .unwrap_or(0);
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    // Back over the sentence the change is in, and one more.
    let start = {
        let mut cut = pre;
        for _ in 0..2 {
            cut = a[..floor_char(a, cut.saturating_sub(1))]
                .rfind(is_end)
                .map_or(0, |i| i + 1);
        }
        cut
    };
    let end_of = |t: &'a str, from: usize| {
        let mut cut = from;
        for _ in 0..2 {
            cut = t[cut..].find(is_end).map_or(t.len(), |i| cut + i + 1);
        }
        cut
    };
    let (a_end, b_end) = (end_of(a, a.len() - suf), end_of(b, b.len() - suf));
    (
        &a[start..a_end.max(start)],
        &b[start.min(b.len())..b_end.max(start.min(b.len()))],
    )
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Entity types whose values are numbers or codes: the digit checks cover
/// them, their letters (an IBAN's country code) are not words.
const NUMERIC_TYPES: &[&str] = &[
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "DATE",
    "DATE_OF_BIRTH",
    "AGE",
    "ZIP",
    "ID",
];

/// Honorifics are not part of what identifies a person.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "herr", "frau", "jr",
    "sr", "phd", "md",
];

impl Verifier {
    /// Leak findings for every identifier against the visible output (the
    /// rewrite with planned surrogates blanked). `outside` is the original
    /// with identifiers blanked: what was ordinary text all along.
    fn leaks(
        &self,
        g: &Gazetteers,
        ids: &[&Span],
        original: &str,
        visible: &str,
        outside: &str,
        scores: &mut Scores,
    ) -> Vec<Leak> {
        let indexed = ids.len().saturating_mul(visible.len()) >= INDEX_FROM;
        self.leaks_with(g, ids, original, visible, outside, scores, indexed)
    }

    /// [`Verifier::leaks`], scanning the output once per identifier
    /// (`indexed` = false) or looking the identifiers up in indexes built
    /// once (true). Both give the same findings in the same order and the
    /// same `fuzzy_max`.
    #[allow(clippy::too_many_arguments)]
    fn leaks_with(
        &self,
        g: &Gazetteers,
        ids: &[&Span],
        original: &str,
        visible: &str,
        outside: &str,
        scores: &mut Scores,
        indexed: bool,
    ) -> Vec<Leak> {
        if ids.is_empty() {
            return Vec::new();
        }
        let vis = Folded::new(visible);
        let orig_out = Folded::text_of(outside);
        let vis_runs = digit_runs(visible);
        let out_runs: HashSet<String> = digit_runs(outside).into_iter().map(|r| r.1).collect();
        let run_in_out: Vec<bool> = vis_runs
            .iter()
            .map(|(_, run)| out_runs.contains(run))
            .collect();
        let vis_words = word_spans(&vis.text);
        // Words of the original outside the identifiers, with their counts.
        let mut out_words: HashMap<&str, usize> = HashMap::new();
        for r in word_spans(&orig_out) {
            *out_words.entry(&orig_out[r]).or_default() += 1;
        }
        // Where each visible word occurs: a word of an identifier is found
        // at a word boundary exactly where a visible word equals it (both
        // are maximal alphanumeric runs), without searching the text.
        // Each word's indexes, ascending, are a range of one list (a
        // counting sort by word): a `Vec` per distinct word was a tenth of
        // a short record's allocations.
        let mut vis_index: HashMap<&str, Range<usize>> = HashMap::new();
        for r in &vis_words {
            vis_index.entry(&vis.text[r.clone()]).or_insert(0..0).end += 1;
        }
        let mut at = 0;
        for r in vis_index.values_mut() {
            let n = r.end;
            *r = at..at;
            at += n;
        }
        let mut occurrences = vec![0; vis_words.len()];
        for (i, r) in vis_words.iter().enumerate() {
            if let Some(slot) = vis_index.get_mut(&vis.text[r.clone()]) {
                occurrences[slot.end] = i;
                slot.end += 1;
            }
        }
        // Per visible word, once: its length in chars, whether it holds a
        // letter, and whether the original outside the identifiers has it.
        // The loops below visit every word once per identifier; recounting
        // there made verification ~10x a rewrite on long documents.
        let vis_info: Vec<(usize, bool, bool)> = vis_words
            .iter()
            .map(|r| {
                let w = &vis.text[r.clone()];
                (
                    w.chars().count(),
                    w.chars().any(char::is_alphabetic),
                    out_words.contains_key(w),
                )
            })
            .collect();
        let cx = Visible {
            vis: &vis,
            orig_out: &orig_out,
            runs: &vis_runs,
            run_in_out: &run_in_out,
            words: &vis_words,
            info: &vis_info,
            out_words: &out_words,
            index: &vis_index,
            occurrences: &occurrences,
        };
        let preps: Vec<Prepared> = ids.iter().map(|sp| Prepared::new(original, sp)).collect();
        let look = indexed.then(|| Indexes::build(&cx, &preps, &self.cfg));
        let common = |w: &str| g.is_common(w);
        let mut findings = Findings::default();
        let mut push = |reason: &str, entity: &str, found: String| {
            findings.push(format!("{reason}:{entity}"), entity, found);
        };
        // What one (type, digits), (type, code) or (type, word) finds does
        // not depend on which identifier it came from: a repeat would only
        // push the same findings again (dropped as duplicates), so each is
        // looked for once.
        let mut digits_done = index::FirstTime::default();
        let mut codes_done = index::FirstTime::default();
        let mut words_done = index::FirstTime::default();
        let mut near: Vec<usize> = Vec::new();
        for (id, (sp, p)) in ids.iter().zip(&preps).enumerate() {
            let value = p.value;
            let entity: &str = &sp.entity;
            let vf = &p.vf;
            let lead = p.lead;
            let v = p.v();
            if v.is_empty() {
                continue;
            }
            // Dictionary words are judged as written: "Bašić" or "Péter"
            // fold to dictionary words but are not ordinary text.
            // The word lists lower ASCII themselves: only other text is
            // lowered here (two allocations a word saved on most words).
            let raw_common = |r: Range<usize>| {
                let w = vf.raw_str(value, lead + r.start..lead + r.end);
                if w.is_ascii() {
                    common(w)
                } else {
                    common(&w.to_lowercase())
                }
            };
            let single_word = !v.contains(|c: char| !c.is_alphanumeric());
            // Weak needles (short, an ordinary word, a short number) also
            // occur as ordinary text: they leak only when the output has
            // more of them than the original had outside identifiers.
            let weak = v.chars().count() < 3
                || (single_word && raw_common(0..v.len()))
                || (v.chars().all(|c| c.is_ascii_digit()) && v.len() < self.cfg.min_digits);
            let (hits, last) = match &look {
                Some(ix) => ix.hits(id),
                None => {
                    let h = find_bounded(&vis.text, v);
                    (h.len(), h.last().cloned())
                }
            };
            let limit = match (&look, weak) {
                (_, false) => 0,
                (Some(ix), true) => ix.outside_hits(id),
                (None, true) => find_bounded(cx.orig_out, v).len(),
            };
            let mut exact_found = false;
            if hits > limit
                && let Some(r) = last
            {
                let found = vis.raw(visible, r);
                let exact =
                    collapse_ws(&found.to_lowercase()) == collapse_ws(&value.to_lowercase());
                let reason = if exact {
                    "leak_exact"
                } else {
                    "leak_normalised"
                };
                push(reason, entity, found);
                exact_found = true;
            }
            // Digits without separators: "(88) 684-334" as "88-684-334".
            let digits = p.digits.as_str();
            if !exact_found
                && digits.len() >= self.cfg.min_digits
                && digits_done.insert((entity, digits))
            {
                let events: Cow<[_]> = match &look {
                    Some(ix) => ix.digit_events(id).into(),
                    None => cx.digit_events(digits).into(),
                };
                for &(r, fuzzy) in events.iter() {
                    // One digit off a long number still points at it. Not
                    // a date that the original already held outside its
                    // identifiers: that is another day, as in a log whose
                    // lines carry the day a shipping date names ("on
                    // 2026-01-06" made "2026-01-05 10:22:13" a leak, and
                    // the repair rewrote the timestamp). A date one digit
                    // off that the rewrite wrote itself still leaks.
                    let found = &visible[vis_runs[r].0.clone()];
                    if fuzzy && entity == "DATE" && cx.orig_out.contains(found) {
                        continue;
                    }
                    let reason = if fuzzy { "leak_fuzzy" } else { "leak_digits" };
                    push(reason, entity, found.to_string());
                }
            }
            // Codes with letters and digits (IBAN, ids): the same code with
            // one character changed, in any grouping ("GB82 WEST ..."); for
            // a date, not one the original held (see above).
            let code = p.code.as_str();
            let code_len = code.chars().count();
            if code_len >= 7
                && code.chars().any(|c| c.is_ascii_digit())
                && codes_done.insert((entity, code))
            {
                let events: Cow<[_]> = match &look {
                    Some(ix) => ix.code_events(id).into(),
                    None => cx.code_events(code).into(),
                };
                for &(k, end) in events.iter() {
                    let found = vis.raw(visible, vis_words[k].start..end);
                    if entity == "DATE" && cx.orig_out.contains(found.as_str()) {
                        continue;
                    }
                    push("leak_fuzzy", entity, found);
                }
            }
            if NUMERIC_TYPES.contains(&entity) || entity == "SECRET" {
                continue;
            }
            // Words of the identifier: an e-mail's local part only (its
            // domain is a provider, not a person); a URL's host name without
            // "www" and the top-level domain (paths are shapes, not names).
            let words_src = match entity {
                "EMAIL" => v.split('@').next().unwrap_or(""),
                "URL" => url_host_name(v),
                _ => v,
            };
            let base = words_src.as_ptr() as usize - v.as_ptr() as usize;
            for wr in word_spans(words_src) {
                let t = &words_src[wr.clone()];
                if !t.chars().any(char::is_alphabetic)
                    || TITLES.contains(&t)
                    || KEEP_WORDS.contains(&t)
                    || (entity == "URL" && t == "www")
                {
                    continue;
                }
                let n = t.chars().count();
                let t_common = raw_common(base + wr.start..base + wr.end);
                let t_weak = n < 3 || t_common;
                // Each word of a name identifies ("Strobel" alone); for
                // other types only distinctive words count.
                if entity == "PERSON" || (!t_weak && n >= 4) {
                    let hits = vis_index
                        .get(t)
                        .map_or(&[][..], |r| &occurrences[r.clone()]);
                    let limit = if t_weak {
                        out_words.get(t).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    if hits.len() > limit && !(exact_found && single_word) {
                        let r = vis_words[hits[hits.len() - 1]].clone();
                        push("leak_token", entity, vis.raw(visible, r));
                    }
                }
                // Near-miss spellings of distinctive words.
                if n < self.cfg.fuzzy_min_chars || t_common || !words_done.insert((entity, t)) {
                    continue;
                }
                let fuzzy = |w: &str, fuzzy_max: &mut f64| {
                    let sim = strsim::jaro_winkler(t, w);
                    if sim > *fuzzy_max {
                        *fuzzy_max = (sim * 10_000.0).round() / 10_000.0;
                    }
                    let near = sim >= self.cfg.fuzzy || strsim::damerau_levenshtein(t, w) == 1;
                    near && !common(w)
                };
                match &look {
                    Some(ix) => ix.near(t, n, &mut near, |w| fuzzy(w, &mut scores.fuzzy_max)),
                    None => cx.near(t, n, &self.cfg, &mut near, |w| {
                        fuzzy(w, &mut scores.fuzzy_max)
                    }),
                }
                for &i in &near {
                    push("leak_fuzzy", entity, vis.raw(visible, vis_words[i].clone()));
                }
            }
        }
        findings.out
    }
}

/// Leak findings, each (reason, found) once, in order of finding: the
/// list itself is searched while short, a hash of (reason, found) to
/// positions in it from then on (a long record can have thousands).
#[derive(Default)]
struct Findings {
    out: Vec<Leak>,
    by_hash: Option<(
        std::collections::hash_map::RandomState,
        HashMap<u64, Vec<usize>>,
    )>,
}

impl Findings {
    const SHORT: usize = 32;

    fn push(&mut self, reason: String, entity: &str, found: String) {
        use std::hash::BuildHasher;
        let same = |l: &Leak| l.reason == reason && l.found == found;
        if self.by_hash.is_none() {
            if self.out.iter().any(same) {
                return;
            }
            if self.out.len() < Self::SHORT {
                self.out.push(Leak {
                    reason,
                    entity: entity.to_string(),
                    found,
                });
                return;
            }
            let state = std::collections::hash_map::RandomState::new();
            let mut map: HashMap<u64, Vec<usize>> = HashMap::new();
            for (i, l) in self.out.iter().enumerate() {
                map.entry(state.hash_one((&l.reason, &l.found)))
                    .or_default()
                    .push(i);
            }
            self.by_hash = Some((state, map));
        }
        let Some((state, map)) = &mut self.by_hash else {
            return;
        };
        let at = map.entry(state.hash_one((&reason, &found))).or_default();
        if at.iter().any(|&i| same(&self.out[i])) {
            return;
        }
        at.push(self.out.len());
        self.out.push(Leak {
            reason,
            entity: entity.to_string(),
            found,
        });
    }
}

/// From how many planned surrogates the re-detection check sorts them
/// for its overlap test (see [`index::Overlaps`]).
const OVERLAP_INDEX_FROM: usize = 16;

/// From how much work (identifiers × visible bytes) the leak checks look
/// the identifiers up in indexes built once per record instead of scanning
/// the output once per identifier. Below it, building the indexes costs
/// more than the scans (short records, a handful of identifiers); above
/// it, the scans grow with identifiers × length and a long record with
/// many identifiers took minutes.
const INDEX_FROM: usize = 1 << 16;

/// One identifier as the leak checks read it, prepared once.
struct Prepared<'a> {
    /// The raw value, trimmed.
    value: &'a str,
    /// The value folded.
    vf: Folded,
    /// Bytes of leading whitespace of `vf.text`.
    lead: usize,
    /// Length of `vf.text` trimmed.
    len: usize,
    /// Its ASCII digits.
    digits: String,
    /// Its alphanumeric characters.
    code: String,
}

impl<'a> Prepared<'a> {
    fn new(original: &'a str, sp: &Span) -> Self {
        let value = original[sp.start..sp.end].trim();
        let vf = Folded::new(value);
        let lead = vf.text.len() - vf.text.trim_start().len();
        let v = vf.text.trim();
        let len = v.len();
        let digits = v.chars().filter(char::is_ascii_digit).collect();
        let code = v.chars().filter(|c| c.is_alphanumeric()).collect();
        Self {
            value,
            lead,
            len,
            digits,
            code,
            vf,
        }
    }

    /// The folded value, trimmed.
    fn v(&self) -> &str {
        &self.vf.text[self.lead..self.lead + self.len]
    }
}

/// What the leak checks compare identifiers against: the visible output
/// (folded, its digit runs and words) and the original outside the
/// identifiers.
struct Visible<'a> {
    vis: &'a Folded,
    /// The original outside identifiers, folded.
    orig_out: &'a str,
    runs: &'a [(Range<usize>, String)],
    /// Per run: whether the original outside identifiers has it too.
    run_in_out: &'a [bool],
    words: &'a [Range<usize>],
    /// Per word: chars, holds a letter, the original outside identifiers
    /// has it.
    info: &'a [(usize, bool, bool)],
    out_words: &'a HashMap<&'a str, usize>,
    /// Word → where its indexes in `words` lie in `occurrences`.
    index: &'a HashMap<&'a str, Range<usize>>,
    /// Indexes in `words`, grouped by word, ascending within a word.
    occurrences: &'a [usize],
}

impl Visible<'_> {
    /// The digit runs that hold `digits` (false) or, for a long number,
    /// are it with one digit changed (true), in text order: one scan of
    /// the runs.
    fn digit_events(&self, digits: &str) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        for (i, (_, run)) in self.runs.iter().enumerate() {
            let ambiguous = digits.len() < 7 && self.run_in_out[i];
            if run.contains(digits) && !ambiguous {
                out.push((i, false));
            } else if digits.len() >= 7
                && run.len() == digits.len()
                && !self.run_in_out[i]
                && hamming(run, digits) == 1
            {
                out.push((i, true));
            }
        }
        out
    }

    /// Groups of visible words (separated by at most one character) that
    /// spell `code` with exactly one character changed: (first word, end
    /// byte of the last), in text order. One scan of the words.
    fn code_events(&self, code: &str) -> Vec<(usize, usize)> {
        let code_len = code.chars().count();
        let mut out = Vec::new();
        let mut joined = String::new();
        for (k, first) in self.words.iter().enumerate() {
            joined.clear();
            let mut joined_len = 0;
            let mut end = first.end;
            for (w, info) in self.words[k..].iter().zip(&self.info[k..]) {
                // Groups of one code are separated by one character.
                if !joined.is_empty() && w.start > end + 1 {
                    break;
                }
                joined.push_str(&self.vis.text[w.clone()]);
                joined_len += info.0;
                end = w.end;
                if joined_len >= code_len {
                    break;
                }
            }
            if joined_len == code_len
                && joined != code
                && joined
                    .chars()
                    .zip(code.chars())
                    .filter(|(a, b)| a != b)
                    .count()
                    == 1
                && !self.out_words.contains_key(joined.as_str())
            {
                out.push((k, end));
            }
        }
        out
    }

    /// Every group of visible words `k..=m` separated by at most one
    /// character, of at most `max` chars (`len`), in order of `k` then `m`:
    /// the groups [`Visible::code_events`] compares with a code.
    fn groups(&self, max: usize, mut f: impl FnMut(usize, usize, usize)) {
        for k in 0..self.words.len() {
            let mut len = 0;
            for m in k..self.words.len() {
                if m > k && self.words[m].start > self.words[m - 1].end + 1 {
                    break;
                }
                len += self.info[m].0;
                if len > max {
                    break;
                }
                f(k, m, len);
            }
        }
    }

    /// The visible words `is_near` accepts among those a fuzzy comparison
    /// with `t` (`n` chars) considers, in text order, into `out`. One scan
    /// of the words.
    fn near(
        &self,
        t: &str,
        n: usize,
        cfg: &VerifyConfig,
        out: &mut Vec<usize>,
        mut is_near: impl FnMut(&str) -> bool,
    ) {
        out.clear();
        for (i, (wr, &(m, alpha, in_out))) in self.words.iter().zip(self.info).enumerate() {
            if m + 2 < n || n + 2 < m || m < cfg.fuzzy_min_chars || !alpha || in_out {
                continue;
            }
            let w = &self.vis.text[wr.clone()];
            if w == t {
                continue;
            }
            if is_near(w) {
                out.push(i);
            }
        }
    }
}

/// The leak checks' questions answered for all identifiers at once (see
/// [`index`]): every answer equals the scan's in [`Visible`].
struct Indexes<'a> {
    /// Per identifier: slot of its folded value in `hits`/`outside`.
    values: Vec<usize>,
    /// Occurrences on word boundaries in the visible output...
    hits: Vec<index::Hits>,
    /// ...and in the original outside the identifiers.
    outside: Vec<usize>,
    /// Per identifier: slot of its digits in `digit_events`.
    digits: Vec<usize>,
    digit_events: Vec<Vec<(usize, bool)>>,
    /// Per identifier: slot of its code in `code_events`.
    codes: Vec<usize>,
    code_events: Vec<Vec<(usize, usize)>>,
    /// Distinct visible words a fuzzy comparison considers (a letter,
    /// long enough, not in the original outside identifiers), by length
    /// in chars, with their indexes in the words.
    by_len: HashMap<usize, Vec<(&'a str, &'a [usize])>>,
}

impl<'a> Indexes<'a> {
    fn build(cx: &Visible<'a>, preps: &'a [Prepared<'a>], cfg: &VerifyConfig) -> Self {
        /// Each key's slot among the distinct keys (None: no key), per
        /// identifier, and the distinct keys.
        fn slots<'s>(keys: impl Iterator<Item = Option<&'s str>>) -> (Vec<usize>, Vec<&'s str>) {
            let mut map: HashMap<&str, usize> = HashMap::new();
            let mut list = Vec::new();
            let per = keys
                .map(|k| {
                    k.map_or(usize::MAX, |k| {
                        *map.entry(k).or_insert_with(|| {
                            list.push(k);
                            list.len() - 1
                        })
                    })
                })
                .collect();
            (per, list)
        }
        // Values.
        let (values, needles) = slots(preps.iter().map(|p| Some(p.v()).filter(|v| !v.is_empty())));
        let [hits, outside] = index::hits_all_in([&cx.vis.text, cx.orig_out], &needles);
        let outside = outside.into_iter().map(|h| h.count).collect();
        // Digits: runs holding them, and runs one digit off long ones.
        let (digits, dneedles) = slots(
            preps
                .iter()
                .map(|p| Some(p.digits.as_str()).filter(|d| d.len() >= cfg.min_digits)),
        );
        let runs: Vec<&str> = cx.runs.iter().map(|(_, r)| r.as_str()).collect();
        let holding = index::containing_runs(&runs, &dneedles);
        // One digit off: only lengths some run the check looks at has.
        let mut run_lens: HashSet<usize> = HashSet::new();
        for (r, run) in runs.iter().enumerate() {
            if !cx.run_in_out[r] {
                run_lens.insert(run.len());
            }
        }
        let long: Vec<usize> = (0..dneedles.len())
            .filter(|&d| dneedles[d].len() >= 7 && run_lens.contains(&dneedles[d].len()))
            .collect();
        let mut fuzzy_runs: Vec<Vec<usize>> = vec![Vec::new(); dneedles.len()];
        let mut found = Vec::new();
        let mut buf: Vec<char> = Vec::new();
        if !long.is_empty() {
            let one_off = index::OneOff::new(
                long.iter()
                    .map(|&d| dneedles[d].chars().collect())
                    .collect(),
            );
            for (r, run) in runs.iter().enumerate() {
                if cx.run_in_out[r] || !one_off.has_len(run.len()) {
                    continue;
                }
                buf.clear();
                buf.extend(run.chars());
                one_off.find(&buf, &mut found);
                for &c in &found {
                    fuzzy_runs[long[c]].push(r);
                }
            }
        }
        let digit_events = dneedles
            .iter()
            .zip(holding)
            .zip(fuzzy_runs)
            .map(|((d, holding), fuzzy)| {
                let mut ev: Vec<(usize, bool)> = holding
                    .into_iter()
                    .filter(|&r| !(d.len() < 7 && cx.run_in_out[r]))
                    .map(|r| (r, false))
                    .chain(fuzzy.into_iter().map(|r| (r, true)))
                    .collect();
                ev.sort_unstable();
                ev
            })
            .collect();
        // Codes: groups of words one character off. Which lengths the
        // groups reach first (a walk from each word up to the longest
        // code), so that only codes of those lengths are indexed; then the
        // groups of an indexed length are looked up.
        let (codes, cneedles) = slots(preps.iter().map(|p| {
            Some(p.code.as_str())
                .filter(|c| c.chars().count() >= 7 && c.chars().any(|ch| ch.is_ascii_digit()))
        }));
        let mut code_events: Vec<Vec<(usize, usize)>> = vec![Vec::new(); cneedles.len()];
        let code_chars: Vec<Vec<char>> = cneedles.iter().map(|c| c.chars().collect()).collect();
        let max = code_chars.iter().map(Vec::len).max().unwrap_or(0);
        let mut reached = vec![false; max + 1];
        cx.groups(max, |_, _, len| reached[len] = true);
        let indexed: Vec<usize> = (0..cneedles.len())
            .filter(|&c| reached[code_chars[c].len()])
            .collect();
        if !indexed.is_empty() {
            let one_off =
                index::OneOff::new(indexed.iter().map(|&c| code_chars[c].clone()).collect());
            // Groups never cross a gap of more than one character: per
            // chain of words without one, the words run together and hashed
            // once, a group k..=m being the slice at[k]..at[m + 1] of it.
            let words = cx.words;
            let mut joined: Vec<char> = Vec::new();
            let mut at: Vec<usize> = Vec::new();
            let mut k0 = 0;
            while k0 < words.len() {
                let mut k1 = k0 + 1;
                while k1 < words.len() && words[k1].start <= words[k1 - 1].end + 1 {
                    k1 += 1;
                }
                joined.clear();
                at.clear();
                for w in &words[k0..k1] {
                    at.push(joined.len());
                    joined.extend(cx.vis.text[w.clone()].chars());
                }
                at.push(joined.len());
                let prefix = one_off.prefix(&joined);
                for k in k0..k1 {
                    for m in k..k1 {
                        let r = at[k - k0]..at[m + 1 - k0];
                        if r.len() > max {
                            break;
                        }
                        if !one_off.has_len(r.len()) {
                            continue;
                        }
                        one_off.find_at(&prefix, r.clone(), &mut found);
                        if found.is_empty() {
                            continue;
                        }
                        let group: String = joined[r].iter().collect();
                        if !cx.out_words.contains_key(group.as_str()) {
                            for &c in &found {
                                code_events[indexed[c]].push((k, words[m].end));
                            }
                        }
                    }
                }
                k0 = k1;
            }
        }
        // Words for the fuzzy comparison, distinct, by length.
        let mut by_len: HashMap<usize, Vec<(&str, &[usize])>> = HashMap::new();
        for (w, r) in cx.index {
            let occ = &cx.occurrences[r.clone()];
            let (m, alpha, in_out) = cx.info[occ[0]];
            if m >= cfg.fuzzy_min_chars && alpha && !in_out {
                by_len.entry(m).or_default().push((w, occ));
            }
        }
        Self {
            values,
            hits,
            outside,
            digits,
            digit_events,
            codes,
            code_events,
            by_len,
        }
    }

    /// Occurrences of the folded value `v` in the visible output, and the
    /// last one.
    fn hits(&self, id: usize) -> (usize, Option<Range<usize>>) {
        let h = &self.hits[self.values[id]];
        (h.count, h.last.clone())
    }

    /// Occurrences of `v` in the original outside identifiers.
    fn outside_hits(&self, id: usize) -> usize {
        self.outside[self.values[id]]
    }

    fn digit_events(&self, id: usize) -> &[(usize, bool)] {
        &self.digit_events[self.digits[id]]
    }

    fn code_events(&self, id: usize) -> &[(usize, usize)] {
        &self.code_events[self.codes[id]]
    }

    /// [`Visible::near`] over distinct words of the lengths it considers:
    /// `is_near` runs once per distinct word instead of once per
    /// occurrence (its result depends on the word only; `fuzzy_max` is a
    /// maximum, the same in any order).
    fn near(&self, t: &str, n: usize, out: &mut Vec<usize>, mut is_near: impl FnMut(&str) -> bool) {
        out.clear();
        for m in n.saturating_sub(2)..=n + 2 {
            for &(w, occ) in self.by_len.get(&m).map_or(&[][..], Vec::as_slice) {
                if w != t && is_near(w) {
                    out.extend_from_slice(occ);
                }
            }
        }
        out.sort_unstable();
    }
}

/// The host of a URL without its top-level domain ("transferlive" of
/// "http://www.TransferLive.be/x"), as a slice of `url`.
fn url_host_name(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = rest.find(['/', '?', '#', ':']).unwrap_or(rest.len());
    let host = &rest[..end];
    host.rfind('.').map_or(host, |i| &host[..i])
}

fn hamming(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count()
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ranges_of(spans: &[&Span]) -> Vec<Range<usize>> {
    spans.iter().map(|s| s.start..s.end).collect()
}

/// `text` with `ranges` (sorted or not, possibly overlapping) replaced by
/// `with`.
fn replace_ranges(text: &str, ranges: &[Range<usize>], with: &str) -> String {
    let mut rs: Vec<Range<usize>> = ranges
        .iter()
        .filter(|r| r.start < r.end && r.end <= text.len())
        .cloned()
        .collect();
    rs.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in rs {
        if r.start < last {
            last = last.max(r.end);
            continue;
        }
        out.push_str(&text[last..r.start]);
        out.push_str(with);
        last = r.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Ranges blanked with a separator (leak checks: nothing matches across it).
fn blank(text: &str, ranges: &[Range<usize>], sep: &str) -> String {
    replace_ranges(text, ranges, sep)
}

/// Ranges replaced by a neutral placeholder (signal checks and embeddings:
/// both sides get the same token where an identifier was).
pub fn masked(text: &str, ranges: &[Range<usize>]) -> String {
    replace_ranges(text, ranges, "[X]")
}

/// Byte ranges of the alphanumeric words of `s`. ASCII a byte at a time
/// (the verifier splits each text and every identifier: the character
/// decoding was most of it); the same ranges as reading characters.
fn word_spans(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 6 + 1);
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        let (word, len) = if b[i].is_ascii() {
            (b[i].is_ascii_alphanumeric(), 1)
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric(), c.len_utf8())
        };
        if word {
            start.get_or_insert(i);
        } else if let Some(st) = start.take() {
            out.push(st..i);
        }
        i += len;
    }
    if let Some(st) = start {
        out.push(st..s.len());
    }
    out
}

/// Digit runs, separators allowed between groups ("(88) 684-334" is one
/// run "88684334"): raw byte range and the digits.
pub(crate) fn digit_runs(s: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    for_each_digit_run(s, |r, digits| out.push((r, digits.to_string())));
    out
}

/// [`digit_runs`] one at a time, the digits in one reused buffer (the
/// document memory looks at every run of every part).
pub(crate) fn for_each_digit_run(s: &str, mut f: impl FnMut(Range<usize>, &str)) {
    let mut digits = String::new();
    let mut cur: Option<(usize, usize)> = None;
    let mut pending_sep = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if cur.is_none() {
            // Outside a run only a digit matters (any other character
            // leaves the state as it is): skip to the next ASCII digit or
            // non-ASCII character (a fullwidth digit), not char by char.
            match bytes[i..]
                .iter()
                .position(|b| b.is_ascii_digit() || !b.is_ascii())
            {
                Some(k) => i += k,
                None => break,
            }
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        if let Some(d) = fold_digit(c) {
            match &mut cur {
                Some((_, end)) => *end = i + c.len_utf8(),
                None => {
                    digits.clear();
                    cur = Some((i, i + c.len_utf8()));
                }
            }
            digits.push(d);
            pending_sep = 0;
        } else if cur.is_some()
            && matches!(
                c,
                ' ' | '-' | '.' | '/' | '(' | ')' | '\u{2010}'..='\u{2015}'
            )
            && pending_sep < 2
        {
            pending_sep += 1;
        } else if c == '(' {
            pending_sep = 0;
        } else {
            if let Some((s0, e0)) = cur.take() {
                f(s0..e0, &digits);
            }
            pending_sep = 0;
        }
        i += c.len_utf8();
    }
    if let Some((s0, e0)) = cur {
        f(s0..e0, &digits);
    }
}

fn fold_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + '0' as u32),
        _ => None,
    }
}

/// Text folded for matching: lower case, whitespace runs as one space,
/// fullwidth forms as ASCII, Cyrillic/Greek lookalikes as the Latin letter,
/// Latin diacritics dropped, zero-width characters removed. A small table
/// instead of full Unicode NFKC + confusables data: it covers the spellings
/// a model or a person actually produces when an identifier is "disguised",
/// and keeps the check free of a large dependency. `map[i]` is the raw byte
/// range of the character folded byte `i` came from.
struct Folded {
    text: String,
    map: Vec<(usize, usize)>,
}

impl Folded {
    fn new(raw: &str) -> Self {
        Self::build(raw, true)
    }

    /// The folded text alone: where no raw text is looked up again (the
    /// meaning checks, the original outside identifiers), the map (16 bytes
    /// per byte) is not built.
    fn text_of(raw: &str) -> String {
        Self::build(raw, false).text
    }

    fn build(raw: &str, with_map: bool) -> Self {
        // Bytes, made a String at the end: every piece pushed is whole
        // UTF-8 (ASCII bytes, or a character's encoding).
        let mut text: Vec<u8> = Vec::with_capacity(raw.len());
        let mut map = Vec::with_capacity(if with_map { raw.len() } else { 0 });
        let mut last_space = false;
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // ASCII, most of most text, without the char decoding and the
            // fold table: a run of bytes that fold one to one (no
            // whitespace but a single space after a non-space) is copied
            // lower-cased in one go, and its map entries are (k, k + 1).
            // The verifier folds each text two to four times, and a byte
            // at a time this loop was a tenth of a rewrite.
            if b.is_ascii() {
                let start = i;
                let mut k = i;
                let mut prev_space = last_space;
                while let Some(&c) = bytes.get(k) {
                    let space = matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
                    if !c.is_ascii() || space && (prev_space || c != b' ') {
                        break;
                    }
                    prev_space = space;
                    k += 1;
                }
                if k > start {
                    text.extend(bytes[start..k].iter().map(u8::to_ascii_lowercase));
                    if with_map {
                        map.extend((start..k).map(|x| (x, x + 1)));
                    }
                    last_space = prev_space;
                    i = k;
                    continue;
                }
                // Whitespace other than one space (`char::is_whitespace`
                // holds for these six): one space, none after a space.
                if !last_space {
                    text.push(b' ');
                    if with_map {
                        map.push((i, i + 1));
                    }
                }
                last_space = true;
                i += 1;
                continue;
            }
            let c = raw[i..].chars().next().unwrap_or('\u{fffd}');
            let src = (i, i + c.len_utf8());
            i += c.len_utf8();
            let emit = |s: &str, text: &mut Vec<u8>, map: &mut Vec<(usize, usize)>| {
                text.extend_from_slice(s.as_bytes());
                if with_map {
                    map.extend(std::iter::repeat_n(src, s.len()));
                }
            };
            if c.is_whitespace() || c == '\u{3000}' {
                if !last_space {
                    emit(" ", &mut text, &mut map);
                }
                last_space = true;
                continue;
            }
            last_space = false;
            match fold_char(c) {
                Fold::Drop => {}
                Fold::Str(s) => emit(s, &mut text, &mut map),
                Fold::Char(f) => {
                    let mut b = [0u8; 4];
                    emit(f.encode_utf8(&mut b), &mut text, &mut map);
                }
                Fold::Lower => {
                    for l in c.to_lowercase() {
                        let mut b = [0u8; 4];
                        emit(l.encode_utf8(&mut b), &mut text, &mut map);
                    }
                }
            }
        }
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Self { text, map }
    }

    /// The raw text a folded range came from.
    fn raw(&self, raw: &str, r: Range<usize>) -> String {
        self.raw_str(raw, r).to_string()
    }

    /// [`Folded::raw`], borrowed.
    fn raw_str<'r>(&self, raw: &'r str, r: Range<usize>) -> &'r str {
        if r.start >= r.end || r.end > self.map.len() {
            return "";
        }
        &raw[self.map[r.start].0..self.map[r.end - 1].1]
    }
}

enum Fold {
    Drop,
    Str(&'static str),
    Char(char),
    Lower,
}

/// Lookalike and compatibility folding table (see [`Folded`]).
const FOLD_TABLE: &[(&str, char)] = &[
    // Latin with diacritics.
    ("àáâãäåāăąǎȁȃ", 'a'),
    ("çćĉċč", 'c'),
    ("ďđ", 'd'),
    ("èéêëēĕėęěȅȇ", 'e'),
    ("ĝğġģ", 'g'),
    ("ĥħ", 'h'),
    ("ìíîïĩīĭįıǐ", 'i'),
    ("ĵ", 'j'),
    ("ķ", 'k'),
    ("ĺļľŀł", 'l'),
    ("ñńņňŉ", 'n'),
    ("òóôõöøōŏőǒ", 'o'),
    ("ŕŗř", 'r'),
    ("śŝşšș", 's'),
    ("ţťŧț", 't'),
    ("ùúûüũūŭůűųǔ", 'u'),
    ("ŵ", 'w'),
    ("ýÿŷ", 'y'),
    ("źżž", 'z'),
    // Cyrillic lookalikes (lower case after to_lowercase).
    ("а", 'a'),
    ("в", 'b'),
    ("е", 'e'),
    ("ё", 'e'),
    ("һн", 'h'),
    ("ії", 'i'),
    ("ј", 'j'),
    ("к", 'k'),
    ("ӏ", 'l'),
    ("м", 'm'),
    ("о", 'o'),
    ("р", 'p'),
    ("ԛ", 'q'),
    ("с", 'c'),
    ("ѕ", 's'),
    ("т", 't'),
    ("у", 'y'),
    ("х", 'x'),
    ("ԁ", 'd'),
    ("ԝ", 'w'),
    // Greek lookalikes.
    ("αά", 'a'),
    ("β", 'b'),
    ("εέ", 'e'),
    ("ζ", 'z'),
    ("η", 'h'),
    ("ιίϊ", 'i'),
    ("κ", 'k'),
    ("μ", 'm'),
    ("ν", 'v'),
    ("οό", 'o'),
    ("ρ", 'p'),
    ("τ", 't'),
    ("υύ", 'u'),
    ("χ", 'x'),
    // Punctuation variants.
    (
        "\u{2010}\u{2011}\u{2012}\u{2013}\u{2014}\u{2015}\u{2212}",
        '-',
    ),
    ("\u{2018}\u{2019}\u{02BC}\u{FF07}", '\''),
];

fn fold_char(c: char) -> Fold {
    if c.is_ascii() {
        return if c.is_ascii_uppercase() {
            Fold::Char(c.to_ascii_lowercase())
        } else {
            Fold::Char(c)
        };
    }
    match c {
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {
            return Fold::Drop;
        }
        // Fullwidth ASCII.
        '\u{FF01}'..='\u{FF5E}' => {
            let a = char::from_u32(c as u32 - 0xFEE0).unwrap_or(c);
            return Fold::Char(a.to_ascii_lowercase());
        }
        'ß' => return Fold::Str("ss"),
        'æ' | 'Æ' => return Fold::Str("ae"),
        'œ' | 'Œ' => return Fold::Str("oe"),
        'þ' | 'Þ' => return Fold::Str("th"),
        'ð' | 'Ð' => return Fold::Char('d'),
        'ĳ' | 'Ĳ' => return Fold::Str("ij"),
        '\u{FB01}' => return Fold::Str("fi"),
        '\u{FB02}' => return Fold::Str("fl"),
        _ => {}
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let index = fold_index();
    match index.binary_search_by_key(&lower, |&(from, _)| from) {
        Ok(k) => Fold::Char(index[k].1),
        Err(_) => Fold::Lower,
    }
}

/// [`FOLD_TABLE`] as (character, folded) pairs sorted by character, the
/// first set holding a character deciding it, as a scan of the table in
/// order would. Why: that scan (some sixty `str::contains` a character)
/// ran for every non-ASCII character of every text the verifier folds,
/// a tenth of a rewrite of tab-dev's judgments.
fn fold_index() -> &'static [(char, char)] {
    static INDEX: std::sync::LazyLock<Vec<(char, char)>> = std::sync::LazyLock::new(|| {
        let mut pairs: Vec<(char, char)> = FOLD_TABLE
            .iter()
            .flat_map(|(set, to)| set.chars().map(move |c| (c, *to)))
            .collect();
        // Stable: of equal characters the first in table order stays first.
        pairs.sort_by_key(|&(c, _)| c);
        pairs.dedup_by_key(|&mut (c, _)| c);
        pairs
    });
    &INDEX
}

/// The words of a masked text that carry meaning.
struct Profile {
    /// The folded text the content words are ranges of.
    text: String,
    /// Content words (stemmed: a stem is a prefix of its word), in order,
    /// as ranges of `text`: a string each was an allocation per word.
    content: Vec<Range<usize>>,
    /// Numbers (digits, decimal point; words as digits) and currency or
    /// percent signs.
    numbers: Vec<String>,
    negations: usize,
}

const STOP: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "but", "is", "are", "was",
    "were", "be", "been", "being", "am", "it", "its", "this", "that", "these", "those", "with",
    "as", "by", "from", "he", "she", "they", "we", "you", "i", "me", "him", "her", "them", "us",
    "my", "your", "his", "their", "our", "there", "here", "then", "than", "so", "if", "into",
    "onto", "up", "out", "about", "do", "does", "did", "have", "has", "had", "will", "would",
    "shall", "should", "can", "could", "may", "might", "must", "just", "very", "too", "also",
    "which", "who", "whom", "whose", "what", "when", "where", "why", "how", "all", "any", "some",
    "such", "s", "t", "d", "ll", "re", "ve", "m", "o", "x", "get", "got", "let", "yes", "oh",
];

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without",
];

const NUMBER_WORDS: &[(&str, &str)] = &[
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("thirteen", "13"),
    ("fourteen", "14"),
    ("fifteen", "15"),
    ("sixteen", "16"),
    ("seventeen", "17"),
    ("eighteen", "18"),
    ("nineteen", "19"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("seventy", "70"),
    ("eighty", "80"),
    ("ninety", "90"),
    ("hundred", "100"),
    ("thousand", "1000"),
    ("million", "1000000"),
];

/// A crude stemmer: enough that "answering" meets "answer" in a paraphrase.
fn stem(w: &str) -> &str {
    for (suf, min) in [
        ("ing", 6),
        ("ies", 5),
        ("ed", 5),
        ("es", 5),
        ("ly", 5),
        ("s", 4),
    ] {
        if w.len() >= min && w.ends_with(suf) && !(suf == "s" && w.ends_with("ss")) {
            return &w[..w.len() - suf.len()];
        }
    }
    w
}

/// What a short word of a profile is: the three lists [`Profile::of`]
/// looks words up in, in its order of precedence.
#[derive(Clone, Copy)]
enum WordKind {
    Negation,
    Number(&'static str),
    Stop,
}

/// [`NEGATIONS`], [`NUMBER_WORDS`] and [`STOP`] in one map, a word of
/// two lists taking the first's kind. One hash per word: the three
/// searches (two linear, one hashed) were a tenth of a profile.
fn word_kind(w: &str) -> Option<WordKind> {
    static MAP: std::sync::LazyLock<HashMap<&'static str, WordKind>> =
        std::sync::LazyLock::new(|| {
            let mut m = HashMap::new();
            for w in NEGATIONS {
                m.entry(*w).or_insert(WordKind::Negation);
            }
            for (w, d) in NUMBER_WORDS {
                m.entry(*w).or_insert(WordKind::Number(d));
            }
            for w in STOP {
                m.entry(*w).or_insert(WordKind::Stop);
            }
            m
        });
    MAP.get(w).copied()
}

/// Whether the character at byte `i` of `s` (a char boundary) is
/// alphabetic; false at the end.
fn alphabetic_at(s: &str, i: usize) -> bool {
    match s.as_bytes().get(i) {
        Some(b) if b.is_ascii() => b.is_ascii_alphabetic(),
        Some(_) => s[i..].chars().next().is_some_and(char::is_alphabetic),
        None => false,
    }
}

impl Profile {
    /// Byte by byte where the text is ASCII (most of it: the text is
    /// folded, lower case), a character at a time elsewhere; the same
    /// profile as reading every character (a test holds the two equal).
    fn of(text: &str) -> Self {
        let f = Folded::text_of(text);
        let mut content = Vec::new();
        let mut numbers = Vec::new();
        let mut negations = 0;
        let b = f.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let x = b[i];
            if x.is_ascii_digit() {
                // 1,200.50 -> "1200.50"; 3.5 -> "3.5".
                let mut j = i;
                let mut num = String::new();
                while j < b.len() {
                    let d = b[j];
                    if d.is_ascii_digit() {
                        num.push(d as char);
                        j += 1;
                    } else if (d == b'.' || d == b',')
                        && j + 1 < b.len()
                        && b[j + 1].is_ascii_digit()
                    {
                        if d == b'.' {
                            num.push('.');
                        }
                        j += 1;
                    } else {
                        break;
                    }
                }
                numbers.push(num);
                i = j;
                continue;
            }
            let (alpha, len) = if x.is_ascii() {
                if matches!(x, b'$' | b'%') {
                    numbers.push(char::from(x).to_string());
                    i += 1;
                    continue;
                }
                (x.is_ascii_alphabetic(), 1)
            } else {
                let c = f[i..].chars().next().unwrap_or(' ');
                if matches!(c, '€' | '£' | '¥') {
                    numbers.push(c.to_string());
                    i += c.len_utf8();
                    continue;
                }
                (c.is_alphabetic(), c.len_utf8())
            };
            if !alpha {
                i += len;
                continue;
            }
            // The word: letters, and apostrophes followed by a letter.
            let mut j = i + len;
            while j < b.len() {
                let y = b[j];
                if y.is_ascii_alphabetic() || y == b'\'' && alphabetic_at(&f, j + 1) {
                    j += 1;
                } else if !y.is_ascii() && alphabetic_at(&f, j) {
                    j += f[j..].chars().next().map_or(1, char::len_utf8);
                } else {
                    break;
                }
            }
            let w = &f[i..j];
            let word_start = i;
            i = j;
            let (w, neg) = if let Some(base) = w.strip_suffix("n't") {
                (
                    match base {
                        "ca" => "can",
                        "wo" => "will",
                        "sha" => "shall",
                        b => b,
                    },
                    true,
                )
            } else if w == "cannot" {
                ("can", true)
            } else {
                (w, false)
            };
            if neg {
                negations += 1;
            }
            let w = w.split('\'').next().unwrap_or(w);
            // The three lists hold words of up to 9 bytes ("seventeen"):
            // longer words, most content words, skip the lookup.
            match (w.len() <= 9).then(|| word_kind(w)).flatten() {
                Some(WordKind::Negation) => negations += 1,
                Some(WordKind::Number(d)) => numbers.push(d.to_string()),
                Some(WordKind::Stop) => {}
                None => {
                    if w.len() >= 2 && (w.is_ascii() || w.chars().count() >= 2) {
                        // A prefix of the word read: the n't forms that
                        // are not ("won't" as "will", "shan't" as "shall")
                        // are stop words, never content.
                        let stemmed = stem(w);
                        let end = word_start + stemmed.len();
                        debug_assert!(f[word_start..end] == *stemmed);
                        content.push(word_start..end);
                    }
                }
            }
        }
        Self {
            text: f,
            content,
            numbers,
            negations,
        }
    }

    /// The content words, in order.
    fn words(&self) -> Vec<&str> {
        self.content.iter().map(|r| &self.text[r.clone()]).collect()
    }
}

/// Size of the multiset intersection of `a` and `b`: each word counts as
/// often as it stands in both. Two sorted lists walked side by side: the
/// lists are a record's words, and a hash map of each (SipHash, an entry
/// per word) cost more than the rest of the signal check.
fn common<S: AsRef<str>>(a: &[S], b: &[S]) -> usize {
    fn sorted<S: AsRef<str>>(v: &[S]) -> Vec<&str> {
        let mut r: Vec<&str> = v.iter().map(AsRef::as_ref).collect();
        r.sort_unstable();
        r
    }
    let (a, b) = (sorted(a), sorted(b));
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Multiset recall of `a` in `b`.
fn bag_recall<S: AsRef<str>>(a: &[S], b: &[S]) -> f32 {
    if a.is_empty() {
        return 1.0;
    }
    common(a, b) as f32 / a.len() as f32
}

/// (missing from b, extra in b) as multisets.
fn bag_diff<S: AsRef<str>>(a: &[S], b: &[S]) -> (usize, usize) {
    let n = common(a, b);
    (a.len() - n, b.len() - n)
}

/// Largest DP table for the alignment (cells); beyond it the runs are
/// estimated from the word bags.
const MAX_ALIGN_CELLS: usize = 4_000_000;

/// The largest deletion and insertion of content words between `a` (the
/// original's) and `b` (the rewrite's). Words are aligned in order (longest
/// common subsequence, after trimming the common prefix and suffix); between
/// two aligned words, the unaligned words of `a` that `b` has nowhere else
/// are missing. A gap counts as a deletion (a dropped clause) only when the
/// rewrite puts less than half as many words in its place: a paraphrase
/// replaces words, a dropped clause leaves nothing. Insertions likewise.
fn runs<'a>(a: &[&'a str], b: &[&'a str]) -> (usize, usize) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let am = &a[pre..a.len() - suf];
    let bm = &b[pre..b.len() - suf];
    if am.is_empty() || bm.is_empty() {
        return (am.len(), bm.len());
    }
    let pairs = if am.len() * bm.len() <= MAX_ALIGN_CELLS {
        lcs_pairs(am, bm)
    } else {
        Vec::new()
    };
    let mut ma = vec![false; am.len()];
    let mut mb = vec![false; bm.len()];
    for &(i, j) in &pairs {
        ma[i] = true;
        mb[j] = true;
    }
    let spare = |x: &[&'a str], mx: &[bool]| {
        let mut m: HashMap<&'a str, usize> = HashMap::new();
        for (w, f) in x.iter().zip(mx) {
            if !f {
                *m.entry(*w).or_insert(0) += 1;
            }
        }
        m
    };
    let (mut spare_a, mut spare_b) = (spare(am, &ma), spare(bm, &mb));
    let missing = |gap: &[&'a str], other: &mut HashMap<&'a str, usize>| {
        gap.iter()
            .filter(|w| match other.get_mut(*w) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            })
            .count()
    };
    let (mut dropped, mut added) = (0, 0);
    let (mut pi, mut pj) = (0usize, 0usize);
    let ends = pairs
        .iter()
        .copied()
        .chain(std::iter::once((am.len(), bm.len())));
    for (i, j) in ends {
        let (ga, gb) = (&am[pi..i], &bm[pj..j]);
        let (na, nb) = (missing(ga, &mut spare_b), missing(gb, &mut spare_a));
        if gb.len() * 2 < na {
            dropped = dropped.max(na);
        }
        if ga.len() * 2 < nb {
            added = added.max(nb);
        }
        (pi, pj) = (i + 1, j + 1);
    }
    (dropped, added)
}

/// Index pairs a longest common subsequence of `a` and `b` aligns.
fn lcs_pairs(a: &[&str], b: &[&str]) -> Vec<(usize, usize)> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut ai = Vec::with_capacity(a.len());
    let mut bi = Vec::with_capacity(b.len());
    for (src, dst) in [(a, &mut ai), (b, &mut bi)] {
        for w in src {
            let n = ids.len() as u32;
            dst.push(*ids.entry(*w).or_insert(n));
        }
    }
    let (n, m) = (ai.len(), bi.len());
    let w = m + 1;
    let mut t = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * w + j] = if ai[i] == bi[j] {
                t[(i + 1) * w + j + 1] + 1
            } else {
                t[(i + 1) * w + j].max(t[i * w + j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if ai[i] == bi[j] {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if t[(i + 1) * w + j] >= t[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Byte ranges in `text` of every occurrence of the strings (planned
/// surrogates given as text, e.g. by `gdr verify` input).
pub fn ranges_of_strings(text: &str, strings: &[String]) -> Vec<Range<usize>> {
    if strings.len().saturating_mul(text.len()) >= INDEX_FROM
        && let Some(out) = ranges_of_strings_indexed(text, strings)
    {
        return out;
    }
    ranges_of_strings_scan(text, strings)
}

/// [`ranges_of_strings`], one scan of the text per string.
fn ranges_of_strings_scan(text: &str, strings: &[String]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for s in strings.iter().filter(|s| !s.is_empty()) {
        let mut from = 0;
        while let Some(i) = text[from..].find(s.as_str()) {
            out.push(from + i..from + i + s.len());
            from += i + s.len();
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// [`ranges_of_strings_scan`] with all strings found in one pass: per
/// string, its leftmost non-overlapping occurrences (what the scan's
/// "search again from the end" takes), then ordered by start and, at one
/// start, by the string's place in the list (the scan's stable sort).
fn ranges_of_strings_indexed(text: &str, strings: &[String]) -> Option<Vec<Range<usize>>> {
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut needles: Vec<&str> = Vec::new();
    for s in strings.iter().filter(|s| !s.is_empty()) {
        slot.entry(s.as_str()).or_insert_with(|| {
            needles.push(s.as_str());
            needles.len() - 1
        });
    }
    let ac = index::automaton(&needles)?;
    let mut found: Vec<Vec<Range<usize>>> = vec![Vec::new(); needles.len()];
    for m in ac.find_overlapping_iter(text) {
        let list = &mut found[m.pattern().as_usize()];
        if list.last().is_none_or(|r| r.end <= m.start()) {
            list.push(m.start()..m.end());
        }
    }
    let mut all: Vec<(usize, usize, Range<usize>)> = Vec::new();
    for (i, s) in strings.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        all.extend(
            found[slot[s.as_str()]]
                .iter()
                .map(|r| (r.start, i, r.clone())),
        );
    }
    all.sort_unstable_by_key(|e| (e.0, e.1));
    Some(all.into_iter().map(|e| e.2).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::detect::Name;
    use crate::pipeline::Pipeline;
    use proptest::strategy::Strategy;

    /// The folding as it was written before its ASCII fast path: char by
    /// char through `fold_char`, whitespace by `char::is_whitespace`.
    fn fold_reference(raw: &str) -> (String, Vec<(usize, usize)>) {
        let (mut text, mut map) = (String::new(), Vec::new());
        let mut last_space = false;
        for (i, c) in raw.char_indices() {
            let src = (i, i + c.len_utf8());
            let mut emit = |s: &str| {
                text.push_str(s);
                map.extend(std::iter::repeat_n(src, s.len()));
            };
            if c.is_whitespace() || c == '\u{3000}' {
                if !last_space {
                    emit(" ");
                }
                last_space = true;
                continue;
            }
            last_space = false;
            let mut b = [0u8; 4];
            match fold_char(c) {
                Fold::Drop => {}
                Fold::Str(s) => emit(s),
                Fold::Char(f) => emit(f.encode_utf8(&mut b)),
                Fold::Lower => {
                    for l in c.to_lowercase() {
                        emit(l.encode_utf8(&mut b));
                    }
                }
            }
        }
        (text, map)
    }

    #[test]
    fn folding_ascii_fast_equals_char_by_char() {
        let mut texts: Vec<String> = (0u8..128)
            .map(|b| format!("a{}B {} \u{a0}é{}", b as char, b as char, b as char))
            .collect();
        texts.push("  Anna\tSMITH\r\n\x0b\x0c  Weöres ÉCOLE ß\u{200b}ＡＢ\u{3000}x".into());
        texts.push(String::new());
        for t in &texts {
            let f = Folded::build(t, true);
            assert_eq!((f.text.clone(), f.map), fold_reference(t), "{t:?}");
            assert_eq!(Folded::text_of(t), f.text, "{t:?}");
        }
    }

    /// The character-by-character profile `Profile::of` must equal.
    fn profile_reference(text: &str) -> (Vec<String>, Vec<String>, usize) {
        let f = Folded::text_of(text);
        let mut content = Vec::new();
        let mut numbers = Vec::new();
        let mut negations = 0;
        let b = f.as_bytes();
        let mut i = 0;
        while i < f.len() {
            let c = f[i..].chars().next().unwrap_or(' ');
            if c.is_ascii_digit() {
                // 1,200.50 -> "1200.50"; 3.5 -> "3.5".
                let mut j = i;
                let mut num = String::new();
                while j < f.len() {
                    let d = b[j];
                    if d.is_ascii_digit() {
                        num.push(d as char);
                        j += 1;
                    } else if (d == b'.' || d == b',')
                        && j + 1 < f.len()
                        && b[j + 1].is_ascii_digit()
                    {
                        if d == b'.' {
                            num.push('.');
                        }
                        j += 1;
                    } else {
                        break;
                    }
                }
                numbers.push(num);
                i = j;
                continue;
            }
            if matches!(c, '$' | '€' | '£' | '¥' | '%') {
                numbers.push(c.to_string());
                i += c.len_utf8();
                continue;
            }
            if c.is_alphabetic() {
                let mut j = i;
                for (k, ch) in f[i..].char_indices() {
                    if ch.is_alphabetic()
                        || (ch == '\'' && f[i + k + 1..].starts_with(|x: char| x.is_alphabetic()))
                    {
                        j = i + k + ch.len_utf8();
                    } else {
                        break;
                    }
                }
                let w = &f[i..j];
                i = j;
                let (w, neg) = if let Some(base) = w.strip_suffix("n't") {
                    (
                        match base {
                            "ca" => "can",
                            "wo" => "will",
                            "sha" => "shall",
                            b => b,
                        },
                        true,
                    )
                } else if w == "cannot" {
                    ("can", true)
                } else {
                    (w, false)
                };
                if neg {
                    negations += 1;
                }
                let w = w.split('\'').next().unwrap_or(w);
                // The three lists hold words of up to 9 bytes ("seventeen"):
                // longer words, most content words, skip the searches.
                let short = w.len() <= 9;
                if short && NEGATIONS.contains(&w) {
                    negations += 1;
                } else if let Some((_, d)) = short
                    .then(|| NUMBER_WORDS.iter().find(|(n, _)| *n == w))
                    .flatten()
                {
                    numbers.push(d.to_string());
                } else if w.chars().count() >= 2 && !(short && STOP.contains(&w)) {
                    content.push(stem(w).to_string());
                }
                continue;
            }
            i += c.len_utf8();
        }
        (content, numbers, negations)
    }

    /// The character-by-character `word_spans` the byte-wise one must equal.
    fn word_spans_reference(s: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in s.char_indices() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
            } else if let Some(st) = start.take() {
                out.push(st..i);
            }
        }
        if let Some(st) = start {
            out.push(st..s.len());
        }
        out
    }

    /// The character-by-character `digit_runs` the skipping one must equal.
    fn digit_runs_reference(s: &str) -> Vec<(Range<usize>, String)> {
        let mut out = Vec::new();
        let mut cur: Option<(usize, usize, String)> = None;
        let mut pending_sep = 0usize;
        for (i, c) in s.char_indices() {
            let d = fold_digit(c);
            if let Some(d) = d {
                match &mut cur {
                    Some((_, end, digits)) => {
                        digits.push(d);
                        *end = i + c.len_utf8();
                    }
                    None => cur = Some((i, i + c.len_utf8(), d.to_string())),
                }
                pending_sep = 0;
            } else if cur.is_some()
                && matches!(
                    c,
                    ' ' | '-' | '.' | '/' | '(' | ')' | '\u{2010}'..='\u{2015}'
                )
                && pending_sep < 2
            {
                pending_sep += 1;
            } else if c == '(' {
                pending_sep = 0;
            } else {
                if let Some((s0, e0, digits)) = cur.take() {
                    out.push((s0..e0, digits));
                }
                pending_sep = 0;
            }
        }
        if let Some((s0, e0, digits)) = cur {
            out.push((s0..e0, digits));
        }
        out
    }

    /// Pieces of text for the profile proptest: contractions, apostrophes,
    /// list words, numbers with separators, currency signs, non-ASCII
    /// letters, digits and capitals that fold or lower-case to more bytes.
    const PROFILE_PIECES: &[&str] = &[
        "don't",
        "Can't",
        "WON'T",
        "cannot",
        "o'neil",
        "' ",
        "'x",
        "n't",
        "seventeen",
        "Never",
        "the",
        "a",
        "answering",
        "classes",
        "1,200.50",
        "3.5.",
        "12,",
        "$",
        "€5",
        "%",
        "¥",
        "£",
        "Ölander",
        "żółw",
        "ж",
        "жук",
        "中文",
        "é",
        "\u{2019}s",
        "ｔｗｏ",
        "٣",
        "x",
        " ",
        "\n",
        "-",
        "[X]",
        "ǅ",
        "ßig",
        "İstanbul",
        "(88) ",
        "684-334",
        "５５５",
        "/",
        ")",
        "\u{2013}",
        "..",
        "( ",
        "7",
        "\t",
        "  ",
        "\r\n",
        "\u{a0}",
        "A B",
    ];

    fn profile_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PROFILE_PIECES), 0..24)
            .prop_map(|v| v.concat())
    }

    proptest::proptest! {
        /// The byte-wise profile equals the character-by-character one.
        #[test]
        fn profile_equals_the_char_by_char_reference(text in profile_text()) {
            let p = Profile::of(&text);
            let words: Vec<String> = p.words().into_iter().map(String::from).collect();
            proptest::prop_assert_eq!((words, p.numbers, p.negations), profile_reference(&text));
        }
    }

    proptest::proptest! {
        /// Byte-wise word splitting equals the character-by-character one.
        #[test]
        fn word_spans_equal_the_char_by_char_reference(text in profile_text()) {
            proptest::prop_assert_eq!(word_spans(&text), word_spans_reference(&text));
        }

        /// Folding by ASCII runs equals the character-by-character fold.
        #[test]
        fn folding_equals_the_char_by_char_reference(text in profile_text()) {
            let f = Folded::build(&text, true);
            proptest::prop_assert_eq!((f.text.clone(), f.map), fold_reference(&text));
            proptest::prop_assert_eq!(Folded::text_of(&text), f.text);
        }

        /// Skipping to digits finds the runs reading every character finds.
        #[test]
        fn digit_runs_equal_the_char_by_char_reference(text in profile_text()) {
            proptest::prop_assert_eq!(digit_runs(&text), digit_runs_reference(&text));
        }
    }

    #[test]
    fn profile_examples_equal_the_reference() {
        for text in [
            "I don't know; it can't be 1,200.50 $ or 3.5% — never, seventeen Answering classes.",
            "O\u{2019}Neil won't go to Żółw Street in İstanbul (ｔｗｏ times) жук 中文 ǅemal",
            "",
            "a",
            "'",
            "n't",
            "x'y'z 12,3,4.5.6",
        ] {
            let p = Profile::of(text);
            let words: Vec<String> = p.words().into_iter().map(String::from).collect();
            assert_eq!(
                (words, p.numbers, p.negations),
                profile_reference(text),
                "{text:?}"
            );
        }
    }

    /// `leaks_with` asks the word lists about ASCII words as written: they
    /// lower ASCII themselves, short words and long ones alike.
    #[test]
    fn common_words_are_found_in_any_ascii_case() {
        let g = Gazetteers::builtin();
        for w in [
            "The",
            "WITH",
            "however",
            "Nevertheless",
            "INTERNATIONALLY",
            "mIxEd",
            "x",
            "Smith",
            "Strobel",
            "counterrevolutionaries",
            "O'Neil",
            "e-mail",
        ] {
            assert_eq!(g.is_common(w), g.is_common(&w.to_lowercase()), "{w}");
        }
        assert!(g.is_common("The") && g.is_common("HOWEVER"));
    }

    /// The sorted index folds every character as the table scanned in
    /// order does: each table character, its capital, and characters in
    /// no set (which lower-case instead).
    #[test]
    fn fold_index_agrees_with_the_table_in_order() {
        let scan = |c: char| {
            let lower = c.to_lowercase().next().unwrap_or(c);
            FOLD_TABLE
                .iter()
                .find(|(set, _)| set.contains(lower))
                .map(|&(_, to)| to)
        };
        let mut chars: Vec<char> = FOLD_TABLE.iter().flat_map(|(s, _)| s.chars()).collect();
        chars.extend(chars.clone().iter().flat_map(|c| c.to_uppercase()));
        chars.extend(['Ω', 'ж', 'ł', 'Ł', 'ŉ', '中', '\u{1F600}', 'ǅ']);
        for c in chars {
            let got = match fold_char(c) {
                Fold::Char(f) if !c.is_ascii() => Some(f),
                _ => None,
            };
            assert_eq!(got, scan(c), "{c:?}");
        }
    }

    /// `Profile::of` looks words up in the three lists only up to 9 bytes.
    #[test]
    fn signal_word_lists_hold_short_words_only() {
        let all = STOP
            .iter()
            .chain(NEGATIONS)
            .chain(NUMBER_WORDS.iter().map(|(w, _)| w));
        for w in all {
            assert!(w.len() <= 9, "{w}");
            // One map, the lists' precedence: negation, number, stop.
            let want = if NEGATIONS.contains(w) {
                "negation"
            } else if let Some((_, d)) = NUMBER_WORDS.iter().find(|(n, _)| n == w) {
                d
            } else {
                "stop"
            };
            let got = match word_kind(w) {
                Some(WordKind::Negation) => "negation",
                Some(WordKind::Number(d)) => d,
                Some(WordKind::Stop) => "stop",
                None => "none",
            };
            assert_eq!(got, want, "{w}");
        }
        assert!(word_kind("answer").is_none());
    }

    #[test]
    fn bags_count_each_word_as_often_as_it_stands() {
        let v = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(common(&v("a b b c"), &v("b c c b d")), 3);
        assert_eq!(bag_diff(&v("1 2 2 $"), &v("2 3 $")), (2, 1));
        assert_eq!(bag_recall(&v("x y"), &v("y y")), 0.5);
        assert_eq!(bag_recall(&[], &v("y")), 1.0);
    }

    fn pipeline() -> Pipeline {
        Pipeline::with_key(&Config::default(), &[5u8; 32]).unwrap()
    }

    /// Verify `rewrite` of `original` with the identifiers detection finds,
    /// the given planned surrogate strings, no embedding.
    fn check(p: &Pipeline, original: &str, rewrite: &str, surrogates: &[&str]) -> Verdict {
        let s: Vec<String> = surrogates.iter().map(|s| s.to_string()).collect();
        p.verify_pair(original, rewrite, None, Some(&s), false)
    }

    fn has(v: &Verdict, prefix: &str) -> bool {
        v.reasons.iter().any(|r| r.starts_with(prefix))
    }

    #[test]
    fn folding_undoes_disguises() {
        assert_eq!(Folded::new("Ｋａｒｌ  Ｓｔｒｏｂｅｌ").text, "karl strobel");
        // Cyrillic а, о and Greek ο inside Latin words.
        assert_eq!(Folded::new("Gоnzаlez Strοbel").text, "gonzalez strobel");
        assert_eq!(Folded::new("José Müller-Łukasz").text, "jose muller-lukasz");
        assert_eq!(Folded::new("Ka\u{200B}rl").text, "karl");
        let f = Folded::new("Dr. Jоsé");
        let r = f.text.find("jose").unwrap();
        assert_eq!(f.raw("Dr. Jоsé", r..r + 4), "Jоsé");
    }

    #[test]
    fn digit_runs_join_groups() {
        let runs: Vec<String> = digit_runs("call (88) 684-334 or ５５５ 0100, ref 12")
            .into_iter()
            .map(|r| r.1)
            .collect();
        assert_eq!(runs, vec!["88684334", "5550100", "12"]);
    }

    /// A date one digit off another is another day: a log's timestamp
    /// next to the shipping date it names is no leak of it (the repair
    /// rewrote the timestamp). A date of birth one digit off still is.
    #[test]
    fn a_neighbouring_date_is_no_leak_but_a_near_birth_date_is() {
        let p = pipeline();
        let o = "Shipped on 2026-01-06. Log: 2026-01-05 10:22:13 job started.";
        let v = check(
            &p,
            o,
            "Shipped on January 2026. Log: 2026-01-05 10:22:13 job started.",
            &["January 2026"],
        );
        assert!(v.accept, "{:?}", v.reasons);
        // A date one digit off that the rewrite wrote itself leaks.
        let v = check(
            &p,
            o,
            "Shipped on 2026-01-07. Log: 2026-01-05 10:22:13 job started.",
            &[],
        );
        assert!(!v.accept && has(&v, "leak_fuzzy:DATE"), "{:?}", v.reasons);
        let o = "Patient DOB: 1962-07-19, seen today.";
        let v = check(&p, o, "Patient DOB: 1962-07-18, seen today.", &[]);
        assert!(
            !v.accept && has(&v, "leak_fuzzy:DATE_OF_BIRTH"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn leaks_are_found_in_every_spelling() {
        let p = pipeline();
        let o = "Please call Karl Strobel at 555-201-7788 about the lease.";
        let clean = check(
            &p,
            o,
            "Please call Jon Bell at 555-404-1234 about the lease.",
            &["Jon Bell", "555-404-1234"],
        );
        assert!(clean.accept, "{:?}", clean.reasons);
        let cases = [
            (
                "Please call Karl Strobel at 555-404-1234 about the lease.",
                "leak_exact:PERSON",
            ),
            (
                "Please call KARL  STROBEL at 555-404-1234 about the lease.",
                "leak_",
            ),
            (
                "Please call Kаrl Strоbel at 555-404-1234 about the lease.",
                "leak_normalised:PERSON",
            ),
            (
                "Please call Jon Bell at 555 201 7788 about the lease.",
                "leak_digits:PHONE",
            ),
            (
                "Please call Jon Bell at 555-201-7789 about the lease.",
                "leak_fuzzy:PHONE",
            ),
            (
                "Please call Mr. Strobel at 555-404-1234 about the lease.",
                "leak_token:PERSON",
            ),
            (
                "Please call Jon Strobl at 555-404-1234 about the lease.",
                "leak_fuzzy:PERSON",
            ),
        ];
        for (rw, want) in cases {
            let v = check(&p, o, rw, &["Jon Bell", "555-404-1234"]);
            assert!(!v.accept && has(&v, want), "{rw}: {:?}", v.reasons);
        }
        // Gonzales for Gonzalez.
        let o = "Maria Gonzalez signed the lease.";
        let v = check(&p, o, "Ana Gonzales signed the lease.", &["Ana Lopez"]);
        assert!(has(&v, "leak_fuzzy:PERSON"), "{:?}", v.reasons);
        assert!(v.scores.fuzzy_max >= 0.9);
    }

    #[test]
    fn ordinary_words_are_not_leaks() {
        let p = pipeline();
        // "Mark" is a name here and a verb elsewhere: the verb is not a leak
        // as long as the rewrite has no more of them than the original.
        let o = "Mark Johnson said we should mark the invoice as paid.";
        let v = check(
            &p,
            o,
            "Jon Bell said we should mark the invoice as paid.",
            &["Jon Bell"],
        );
        assert!(v.accept, "{:?}", v.reasons);
        let v = check(
            &p,
            o,
            "Mark Bell said we should mark the invoice as paid.",
            &["Bell"],
        );
        assert!(has(&v, "leak_token:PERSON"), "{:?}", v.reasons);
    }

    #[test]
    fn planned_surrogates_are_not_checked_for_leaks() {
        // A keyed surrogate may by chance resemble the original: inside its
        // planned range it is policy, not a leak; the same text anywhere
        // else is a near miss.
        let p = pipeline();
        let o = "Maria Gonzalez signed the lease.";
        let v = check(
            &p,
            o,
            "Maria Gonzales signed the lease.",
            &["Maria Gonzales"],
        );
        assert!(v.accept, "{:?}", v.reasons);
        let v = check(&p, o, "Maria Gonzales signed the lease.", &["Ana Lopez"]);
        assert!(!v.accept && has(&v, "leak_"), "{:?}", v.reasons);
    }

    #[test]
    fn generative_outputs_are_checked_whole() {
        // No planned surrogates: identifiers found on the output are masked
        // for the meaning checks, but a kept name or number is still a leak
        // and a confident rule hit is unplanned.
        let p = pipeline();
        let o = "Karl Strobel owes 300 dollars; call 555-201-7788.";
        let spans = p.detector.actionable(&p.detector.detect(o));
        let v = p.verifier.as_ref().unwrap();
        let verdict = |rw: &str| {
            v.verify(
                &p.detector,
                &p.policy,
                &Subject {
                    original: o,
                    rewrite: rw,
                    identifiers: &spans,
                    inserted: None,
                },
                false,
            )
        };
        let kept = verdict("Karl Strobel owes 300 dollars; call 555-404-1234.");
        assert!(has(&kept, "leak_exact:PERSON"), "{:?}", kept.reasons);
        assert!(
            has(&kept, "unplanned_identifier:PHONE"),
            "{:?}",
            kept.reasons
        );
        let ok = verdict("Jon Bell owes 300 dollars and can be called.");
        assert!(!has(&ok, "leak_"), "{:?}", ok.reasons);
    }

    #[test]
    fn meaning_changes_are_rejected() {
        let p = pipeline();
        let o = "The tenant did not pay the rent for 3 months, so the landlord sent a final notice to the family on Friday.";
        let para = "The tenant had not paid the rent for 3 months, so on Friday the landlord sent the family a final notice.";
        assert!(check(&p, o, para, &[]).accept);
        let cases = [
            (
                "The tenant did pay the rent for 3 months, so the landlord sent a final notice to the family on Friday.",
                "negation_dropped",
            ),
            (
                "The tenant did not pay the rent for 4 months, so the landlord sent a final notice to the family on Friday.",
                "number_missing",
            ),
            (
                "The tenant did not pay the rent for 3 months.",
                "content_dropped",
            ),
            (
                "The tenant did not pay the rent for 3 months, so the landlord sent a final notice to the family on Friday, and the weather in the mountains was cold and windy all week.",
                "content_added",
            ),
        ];
        for (rw, want) in cases {
            let v = check(&p, o, rw, &[]);
            assert!(!v.accept && has(&v, want), "{rw}: {:?}", v.reasons);
        }
    }

    #[test]
    fn changed_region_is_the_change_with_context() {
        let a = "One two. Three four. Five six. Seven eight. Nine ten.";
        let b = "One two. Three four. Five SIX. Seven eight. Nine ten.";
        assert_eq!(
            changed_region(a, b),
            (
                " Three four. Five six. Seven eight.",
                " Three four. Five SIX. Seven eight."
            )
        );
        let b = "One two. Three four. Seven eight. Nine ten.";
        let (x, y) = changed_region(a, b);
        assert!(x.contains("Five six") && !y.contains("Five"), "{x:?} {y:?}");
        assert!(!x.contains("One two"), "{x:?}");
        assert_eq!(changed_region("short", "other"), ("short", "other"));
        // Multi-byte characters right before the change.
        let (x, y) = changed_region("a.\u{feff}b", "a.\u{feff}c");
        assert!(x.ends_with('b') && y.ends_with('c'));
        let (x, _) = changed_region("x\u{feff}\u{feff}yz", "x\u{feff}\u{feff}qz");
        assert!(x.starts_with('x'));
    }

    proptest::proptest! {
        /// Arbitrary text (any Unicode, shared prefixes and suffixes) never
        /// makes the text helpers panic or slice inside a character.
        #[test]
        fn text_helpers_never_panic(
            pre in "\\PC{0,12}", x in "\\PC{0,8}", y in "\\PC{0,8}", suf in "\\PC{0,12}"
        ) {
            let a = format!("{pre}{x}{suf}");
            let b = format!("{pre}{y}{suf}");
            if a != b {
                let (ra, rb) = changed_region(&a, &b);
                proptest::prop_assert!(a.contains(ra) && b.contains(rb));
            }
            let f = Folded::new(&a);
            for r in word_spans(&f.text) {
                let _ = f.raw(&a, r);
            }
            let _ = digit_runs(&a);
            let (pa, pb) = (Profile::of(&a), Profile::of(&b));
            let _ = runs(&pa.words(), &pb.words());
            let _ = find_bounded(&a, &y);
        }
    }

    /// Tokens that are, or nearly are, each other: names and near-miss
    /// spellings, numbers one digit apart in several groupings, codes one
    /// character apart, ordinary and dictionary words, a folded spelling.
    const TOKENS: &[&str] = &[
        "Karl",
        "karl",
        "Strobel",
        "Strobl",
        "Gonzalez",
        "Gonzales",
        "mark",
        "the",
        "José",
        "Jose",
        "4155550123",
        "415-555-0124",
        "(415) 555-0123",
        "555 0100",
        "12/03/1990",
        "12031991",
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 33",
        "ab12cd34",
        "ab12cd35",
        "user1@example.com",
        "http://www.TransferLive.be/x",
        "Kаrl",
        "court",
        "99",
        "55501",
        "555012",
        "555 012",
    ];
    const TYPES: &[&str] = &[
        "PERSON", "PHONE", "EMAIL", "URL", "IBAN", "ID", "ORG", "DATE", "SECRET",
    ];
    const SEPS: &[&str] = &[" ", ", ", "-", " ", ". ", "\n", "", "/"];

    /// Text of tokens and separators, and each token's byte range.
    fn assemble(tokens: &[(usize, usize)]) -> (String, Vec<Range<usize>>) {
        let mut text = String::new();
        let mut at = Vec::new();
        for &(t, sep) in tokens {
            let start = text.len();
            text.push_str(TOKENS[t % TOKENS.len()]);
            at.push(start..text.len());
            text.push_str(SEPS[sep % SEPS.len()]);
        }
        (text, at)
    }

    fn findings(
        v: &Verifier,
        case: &LeakCase,
        indexed: bool,
    ) -> (Vec<(String, String, String)>, f64) {
        let (original, at) = assemble(&case.original);
        let (rewrite, rat) = assemble(&case.rewrite);
        let spans: Vec<Span> = case
            .ids
            .iter()
            .filter_map(|&(i, len, t)| {
                let (a, b) = (i % at.len().max(1), (i + len) % at.len().max(1));
                let r = at.get(a)?.start..at.get(a.max(b))?.end;
                Some(Span {
                    start: r.start,
                    end: r.end,
                    entity: Name::from(TYPES[t % TYPES.len()]),
                    score: 0.9,
                    detector: Name::from("t"),
                    validated: false,
                })
            })
            .collect();
        let ids: Vec<&Span> = spans.iter().collect();
        let planned: Vec<Range<usize>> = case
            .planned
            .iter()
            .filter_map(|&i| rat.get(i % rat.len().max(1)).cloned())
            .collect();
        let visible = blank(&rewrite, &planned, "\u{1}");
        let outside = blank(&original, &ranges_of(&ids), "\u{1}");
        static G: std::sync::LazyLock<Gazetteers> = std::sync::LazyLock::new(Gazetteers::builtin);
        let g = &*G;
        let mut scores = Scores::default();
        let leaks = v.leaks_with(g, &ids, &original, &visible, &outside, &mut scores, indexed);
        (
            leaks
                .into_iter()
                .map(|l| (l.reason, l.entity, l.found))
                .collect(),
            scores.fuzzy_max,
        )
    }

    #[derive(Debug, Clone)]
    struct LeakCase {
        original: Vec<(usize, usize)>,
        rewrite: Vec<(usize, usize)>,
        /// (first token, extra tokens, type)
        ids: Vec<(usize, usize, usize)>,
        /// Rewrite tokens that are planned surrogates.
        planned: Vec<usize>,
    }

    fn leak_case() -> impl proptest::strategy::Strategy<Value = LeakCase> {
        use proptest::collection::vec;
        let toks = || vec((0usize..64, 0usize..16), 0..30);
        (
            toks(),
            toks(),
            vec((0usize..64, 0usize..3, 0usize..16), 0..12),
            vec(0usize..64, 0..8),
        )
            .prop_map(|(original, rewrite, ids, planned)| LeakCase {
                original,
                rewrite,
                ids,
                planned,
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(600))]
        /// The indexed leak checks find exactly what the per-identifier
        /// scans find, in the same order, with the same fuzzy score.
        #[test]
        fn indexed_leaks_equal_scanned_leaks(case in leak_case()) {
            let v = Verifier::new(VerifyConfig::default());
            let scanned = findings(&v, &case, false);
            let indexed = findings(&v, &case, true);
            proptest::prop_assert_eq!(indexed, scanned);
        }
    }

    #[test]
    fn indexed_leaks_find_every_kind() {
        // The equality above means something only if the cases produce
        // findings of every kind: one fixed case that does.
        let v = Verifier::new(VerifyConfig::default());
        let t = |s: &str| TOKENS.iter().position(|x| *x == s).unwrap();
        let case = LeakCase {
            original: vec![
                (t("Karl"), 0),
                (t("Strobel"), 1),
                (t("4155550123"), 0),
                (t("GB82WEST12345698765432"), 0),
                (t("the"), 0),
                (t("ab12cd34"), 0),
            ],
            rewrite: vec![
                (t("Strobl"), 0),
                (t("karl"), 0),
                (t("415-555-0124"), 0),
                (t("GB82 WEST 1234 5698 7654 33"), 0),
                (t("(415) 555-0123"), 0),
                (t("ab12cd34"), 0),
            ],
            ids: vec![(0, 1, 0), (2, 0, 1), (3, 0, 4), (5, 0, 5)],
            planned: vec![],
        };
        let (scanned, fm) = findings(&v, &case, false);
        assert_eq!((scanned.clone(), fm), findings(&v, &case, true));
        let reasons: Vec<&str> = scanned.iter().map(|l| l.0.as_str()).collect();
        for want in [
            "leak_exact:ID",
            "leak_token:PERSON",
            "leak_fuzzy:PERSON",
            "leak_digits:PHONE",
            "leak_fuzzy:PHONE",
            "leak_fuzzy:IBAN",
        ] {
            assert!(reasons.contains(&want), "{want} not in {reasons:?}");
        }
        assert!(fm > 0.9, "{fm}");
    }

    proptest::proptest! {
        /// Surrogates located in one pass are where the per-string scans
        /// put them, in the same order (repeated, empty, overlapping and
        /// nested strings included).
        #[test]
        fn ranges_of_strings_indexed_equals_scan(
            text in "[ab ]{0,40}",
            strings in proptest::collection::vec("[ab ]{0,4}", 0..8),
        ) {
            let want = ranges_of_strings_scan(&text, &strings);
            let got = ranges_of_strings_indexed(&text, &strings).unwrap_or_default();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn profile_reads_numbers_and_negations() {
        let pr = Profile::of("I can't pay 1,200 dollars, won't pay three, and never 5%.");
        assert_eq!(pr.negations, 3);
        assert_eq!(pr.numbers, vec!["1200", "3", "5", "%"]);
        assert!(pr.words().contains(&"pay"));
    }

    #[test]
    fn deletions_differ_from_replacements() {
        let (a, replaced, deleted) = (
            Profile::of(
                "the court examined the witnesses and rejected the appeal after long deliberation",
            ),
            Profile::of(
                "the court heard the witnesses and dismissed the appeal following lengthy debate",
            ),
            Profile::of("the court examined the witnesses"),
        );
        let (a, replaced, deleted) = (a.words(), replaced.words(), deleted.words());
        assert!(runs(&a, &replaced).0 <= 2, "{:?}", runs(&a, &replaced));
        assert!(runs(&a, &deleted).0 >= 3, "{:?}", runs(&a, &deleted));
    }

    #[test]
    fn config_defaults_validate_and_bad_values_fail() {
        VerifyConfig::default().validate().unwrap();
        let c: crate::config::Config = toml::from_str("[verify]\nmin_similarity = 0.9\n").unwrap();
        assert_eq!(c.verify.min_similarity, 0.9);
        assert!(
            toml::from_str::<crate::config::Config>("[verify]\nmin_similarty = 0.9\n").is_err()
        );
        let c: crate::config::Config = toml::from_str("[verify]\nfuzzy = 1.5\n").unwrap();
        assert!(c.validate().is_err());
    }
}
