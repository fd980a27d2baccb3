//! detect → plan → rewrite for one text. Every entry point (CLI, and the
//! daemon to come) calls this, so behaviour cannot drift between them.

use crate::config::Config;
use crate::detect::Name;
use crate::detect::{Detector, Gazetteers, RuleSet, Span};
use crate::llm::detect::{Llm, LlmUse, expected_gain};
use crate::memory::Memory;
use crate::plan::{self, Numbering, Op, Plan, Policy};
use crate::rewrite::{Rewriter, Surrogates};
use crate::verify::{Leak, Subject, Verdict, Verifier};
use crate::{Error, keystore};
use serde::Serialize;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// How often a deterministic rewrite that leaks is repaired (the plan
/// widened to the leaking text) before the record is quarantined.
const MAX_REPAIRS: usize = 2;

/// Merged spans, how the LLM took part, and the spans without the LLM.
type Detected = (Vec<Span>, Option<LlmUse>, Vec<Span>);

/// What detection found in one text, before the rewrite: lets a caller
/// share identifiers between the parts of one document
/// ([`Pipeline::recall`], [`Pipeline::learn`]) before rewriting each.
#[derive(Debug, Clone)]
pub struct Detection {
    /// All spans, merged, sorted, including those below the threshold.
    pub spans: Vec<Span>,
    /// Whether and how the LLM took part (None: LLM off).
    pub llm: Option<LlmUse>,
    /// The spans of rules and word lists alone (with the model on), which
    /// the generative check tests against.
    rule_spans: Vec<Span>,
}

/// Everything needed to process records, built once and shared read-only.
pub struct Pipeline {
    pub detector: Detector,
    pub surrogates: Surrogates,
    pub policy: Policy,
    /// The on-device model, when enabled.
    pub llm: Option<Llm>,
    /// Checks every rewrite before commit (None: `[verify] enabled =
    /// false` or `--no-verify`, the pre-verifier behaviour).
    pub verifier: Option<Verifier>,
    /// `[detect] memory`: identifiers found in one part of a document are
    /// looked for in its other parts (see [`crate::memory`]).
    pub memory: bool,
}

/// What happens to a record's rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Verified (or the verifier is off): the rewrite is the output.
    Commit,
    /// No rewrite passed: nothing of this record may be written out.
    Quarantine,
}

/// Which rewrite a verification looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The model's fluent rewrite.
    Generative,
    /// The keyed substitution of the plan.
    Deterministic,
    /// The keyed substitution after the plan was widened to text the
    /// previous check found leaking.
    Repair,
}

/// One verification on the way to a decision.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub stage: Stage,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Which path produced the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RewritePath {
    /// Keyed substitution per policy (the LLM was off, skipped or not asked).
    Deterministic,
    /// The model's fluent rewrite passed the checks.
    Generative,
    /// The model's rewrite failed a check; the deterministic rewrite was used.
    Fallback,
}

/// Per-entity summary for reports: type, operation, mention count and a
/// keyed fingerprint — never the raw value.
#[derive(Debug, Clone, Serialize)]
pub struct EntityReport {
    #[serde(rename = "type")]
    pub entity: String,
    pub op: Op,
    pub mentions: usize,
    pub fingerprint: String,
}

/// Result of rewriting one text.
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub text: String,
    pub plan: Plan,
    pub path: RewritePath,
    /// Whether and how the LLM took part (None: LLM off).
    pub llm: Option<LlmUse>,
    /// Why a generative rewrite was rejected (machine-readable).
    pub fallback_reason: Option<String>,
    /// Output byte ranges of the planned surrogates (empty for a generative
    /// rewrite).
    pub inserted: Vec<Range<usize>>,
    pub decision: Decision,
    /// Every verification, in order, with reasons and scores.
    pub checks: Vec<Check>,
}

impl Pipeline {
    /// Build from a config, loading the key from `state_dir`.
    pub fn from_config(cfg: &Config, state_dir: &Path) -> Result<Self, Error> {
        let key = keystore::load_or_create(state_dir)?;
        Self::with_key(cfg, &key)
    }

    /// Build with an explicit key (tests, benchmarks).
    pub fn with_key(cfg: &Config, key: &[u8]) -> Result<Self, Error> {
        cfg.validate()?;
        let d = &cfg.detect;
        let rules = RuleSet::load(d.builtin_rules, d.rules_dir.as_deref(), &d.disable_rules)?;
        let gaz = match &d.gazetteer_dir {
            Some(dir) => Gazetteers::from_dir(dir)?,
            None => Gazetteers::builtin(),
        };
        let surrogates = Surrogates::new(key, gaz.first_names.clone(), gaz.surnames.clone())
            .with_genders(&gaz.female_names, &gaz.male_names);
        let detector = Detector::new(rules, Arc::new(gaz), d.threshold, &d.allow, &d.deny)?;
        Ok(Self {
            detector,
            surrogates,
            policy: cfg.policy(),
            llm: None,
            memory: d.memory,
            verifier: cfg
                .verify
                .enabled
                .then(|| Verifier::new(cfg.verify.clone())),
        })
    }

    /// Attach the sentence encoder: verification computes the embedding
    /// similarity from now on.
    pub fn with_embedder(mut self, e: crate::llm::embed::Embedder) -> Self {
        if let Some(v) = self.verifier.take() {
            self.verifier = Some(v.with_embedder(e));
        }
        self
    }

    /// No verification (comparisons with the pre-verifier behaviour).
    pub fn without_verifier(mut self) -> Self {
        self.verifier = None;
        self
    }

    /// Attach a loaded model: scan and rewrite use it from now on.
    pub fn with_llm(mut self, llm: Llm) -> Self {
        self.llm = Some(llm);
        self
    }

    /// Rule spans plus, when the model is on, has budget and the rules
    /// left something unexplained, the model's spans.
    /// Returns the merged spans, the LLM's part, and (when the model is on)
    /// the spans of rules and word lists alone, which the generative check
    /// tests against. Rules
    /// run once: their candidates are merged with and without the model's.
    fn detect_all(&self, text: &str, allow_llm: bool) -> Detected {
        let (mut spans, used, mut rule_spans) = self.detect_alone(text, allow_llm);
        // Without the model's spans the two lists are one: looked in once.
        let same = rule_spans == spans;
        self.recall_within(text, &mut spans);
        if same {
            rule_spans.clone_from(&spans);
        } else if !rule_spans.is_empty() {
            self.recall_within(text, &mut rule_spans);
        }
        (spans, used, rule_spans)
    }

    /// [`Pipeline::detect_all`] before the part's identifiers are looked
    /// for in the rest of it.
    fn detect_alone(&self, text: &str, allow_llm: bool) -> Detected {
        let candidates = self.detector.candidates(text);
        let Some(llm) = &self.llm else {
            // Without the model nothing reads the third part: no copy.
            return (self.detector.resolve(text, candidates), None, Vec::new());
        };
        let rule_spans = self.detector.resolve(text, candidates.clone());
        if !allow_llm {
            return (rule_spans.clone(), Some(LlmUse::BudgetSpent), rule_spans);
        }
        if expected_gain(text, &rule_spans, self.detector.threshold) == 0.0 {
            return (rule_spans.clone(), Some(LlmUse::Skipped), rule_spans);
        }
        match llm.detect(text) {
            Ok((extra, used)) if !extra.is_empty() => {
                let merged = self
                    .detector
                    .resolve(text, candidates.with_extra(text, extra));
                (merged, Some(used), rule_spans)
            }
            Ok((_, used)) => (rule_spans.clone(), Some(used), rule_spans),
            Err(e) => {
                tracing::warn!(error = %e, "LLM detection failed; rules only for this record");
                (rule_spans.clone(), Some(LlmUse::Skipped), rule_spans)
            }
        }
    }

    /// All candidate spans, including those below the threshold.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        self.detect_all(text, true).0
    }

    /// [`Pipeline::scan`], with the LLM only when `allow_llm` (see
    /// [`Pipeline::admit`]).
    pub fn scan_with(&self, text: &str, allow_llm: bool) -> Vec<Span> {
        self.detect_all(text, allow_llm).0
    }

    /// [`Pipeline::scan_with`], also saying whether the LLM took part
    /// (None: the LLM is off).
    pub fn scan_detail(&self, text: &str, allow_llm: bool) -> (Vec<Span>, Option<LlmUse>) {
        let (spans, used, _) = self.detect_all(text, allow_llm);
        (spans, used)
    }

    /// [`Pipeline::scan_detail`] of each of `texts`, in order, the model
    /// allowed as [`Pipeline::scan`] allows it. Without the model the texts
    /// are detected together, stage by stage ([`Detector::detect_many`]:
    /// the same spans, fewer cache misses); with it, one by one, as the
    /// model's budget is spent in input order.
    pub fn scan_many(&self, texts: &[&str]) -> Vec<(Vec<Span>, Option<LlmUse>)> {
        if self.llm.is_none() {
            return self
                .detector
                .detect_many(texts)
                .into_iter()
                .zip(texts)
                .map(|(mut spans, text)| {
                    self.recall_within(text, &mut spans);
                    (spans, None)
                })
                .collect();
        }
        texts.iter().map(|t| self.scan_detail(t, true)).collect()
    }

    /// Which of `texts` get the LLM under the job's budget: the ones the
    /// rules are least sure about first (expected gain, highest first),
    /// while their estimated cost fits what is left. Under a budget, texts
    /// the rules fully explain are not admitted; without one, all are (and
    /// those are skipped at detection).
    pub fn admit(&self, texts: &[String]) -> Vec<bool> {
        let Some(llm) = &self.llm else {
            return vec![false; texts.len()];
        };
        let Some(mut left) = llm.remaining() else {
            return vec![true; texts.len()];
        };
        let gains: Vec<f32> = texts
            .iter()
            .map(|t| expected_gain(t, &self.detector.detect(t), self.detector.threshold))
            .collect();
        let mut order: Vec<usize> = (0..texts.len()).filter(|&i| gains[i] > 0.0).collect();
        order.sort_by(|&a, &b| gains[b].total_cmp(&gains[a]).then(a.cmp(&b)));
        let mut out = vec![false; texts.len()];
        for i in order {
            let cost = llm.estimate_cost(&texts[i]);
            if cost <= left {
                left -= cost;
                out[i] = true;
            }
        }
        out
    }

    /// Detect, plan, rewrite and verify one text: the model's rewrite when
    /// it is on and passes verification, else the deterministic rewrite when
    /// it passes (after repairing leaks it finds), else quarantine.
    pub fn rewrite(&self, text: &str) -> Rewritten {
        self.rewrite_with(text, true)
    }

    /// [`Pipeline::rewrite`], with the LLM only when `allow_llm`.
    pub fn rewrite_with(&self, text: &str, allow_llm: bool) -> Rewritten {
        self.rewrite_detection(text, self.detect_part(text, allow_llm))
    }

    /// Detection of one part of a document (or a whole text), for
    /// [`Pipeline::rewrite_detection`] or a scan's output, after the
    /// caller has shared identifiers between parts.
    pub fn detect_part(&self, text: &str, allow_llm: bool) -> Detection {
        let (spans, llm, rule_spans) = self.detect_all(text, allow_llm);
        Detection {
            spans,
            llm,
            rule_spans,
        }
    }

    /// Add to `spans` (detected in `text`) the places where `memory`'s
    /// identifiers occur in `text`, merged with its own spans as the
    /// detectors' are (the allow list still wins). No-op when the memory
    /// is off or empty.
    pub fn recall(&self, text: &str, spans: &mut Vec<Span>, memory: &Memory) {
        if !self.memory || memory.is_empty() {
            return;
        }
        let mut extra = Vec::new();
        memory.find(text, &mut extra);
        if !extra.is_empty() {
            let own = std::mem::take(spans);
            *spans = self.detector.merge_extra(text, own, extra);
        }
    }

    /// Remember the identifiers among `spans` (detected in `text`) that the
    /// rewrite acts on: at or above the threshold, an operator other than
    /// `keep` (the memory asks more of some, see [`Memory::learn`]).
    pub fn learn(&self, text: &str, spans: &[Span], memory: &mut Memory) {
        if !self.memory {
            return;
        }
        memory.learn(&self.detector.gazetteers, text, &self.acting(spans));
    }

    /// The spans the rewrite acts on: at or above the threshold, an
    /// operator other than `keep`.
    fn acting(&self, spans: &[Span]) -> Vec<Span> {
        spans.iter().filter(|s| self.acts_on(s)).cloned().collect()
    }

    fn acts_on(&self, s: &Span) -> bool {
        s.score >= self.detector.threshold && self.policy.op(&s.entity) != Op::Keep
    }

    /// Settle a part's spans against the rest of the part: its own person
    /// names looked for in the rest of it ([`Pipeline::recall_repeats`]),
    /// then one type for a name read both as a person and as a place
    /// ([`Detector::one_type_per_name`]), the repeats included.
    fn recall_within(&self, text: &str, spans: &mut Vec<Span>) {
        self.recall_repeats(text, spans);
        self.detector.one_type_per_name(text, spans);
    }

    /// Look for a part's own person names in the rest of it, as the
    /// memory looks for identifiers in the other parts: a name is often
    /// found only once, by its context, and its words come back alone
    /// ("Mark Ford called ... Later Ford said", "Mr. Baker ... Baker
    /// wants a refund"), and the rewrite kept the bare repeat next to the
    /// rewritten name. The verifier cannot see those: a repeat that is an
    /// ordinary word ("Ford", "Baker") is as often the word, so it counts
    /// them only against the original. Cheap when the part repeats no
    /// name ([`memory::repeats_within`]), as most do.
    fn recall_repeats(&self, text: &str, spans: &mut Vec<Span>) {
        if !self.memory {
            return;
        }
        let acting = |s: &Span| self.acts_on(s);
        let repeating = crate::memory::repeats_within(text, spans, self.detector.threshold, acting);
        if repeating.is_empty() {
            return;
        }
        let mut memory = Memory::default();
        memory.learn(&self.detector.gazetteers, text, &repeating);
        self.recall(text, spans, &memory);
    }

    /// Share identifiers between the detections of the parts of one
    /// record (the fields of a JSONL record, the columns of a CSV row):
    /// every part learns what all the parts found, in order. A record is
    /// bounded, so a mention before the one that was found is covered too.
    pub fn share(&self, parts: &mut [(&str, &mut Vec<Span>)]) {
        if !self.memory || parts.len() < 2 {
            return;
        }
        let mut memory = Memory::default();
        for (text, spans) in parts.iter() {
            self.learn(text, spans, &mut memory);
        }
        for (text, spans) in parts.iter_mut() {
            self.recall(text, spans, &memory);
        }
    }

    /// Rewrite each part of one record, identifiers shared between the
    /// parts ([`Pipeline::share`]) and tags numbered across them
    /// ([`Numbering`]); the model allowed as `allow_llm` says.
    pub fn rewrite_parts(&self, texts: &[&str], allow_llm: bool) -> Vec<Rewritten> {
        let mut found: Vec<Detection> = texts
            .iter()
            .map(|t| self.detect_part(t, allow_llm))
            .collect();
        self.share_detections(texts, &mut found);
        let mut numbering = Numbering::default();
        for (t, d) in texts.iter().zip(&found) {
            numbering.learn_names(t, &self.detector.actionable(&d.spans));
        }
        texts
            .iter()
            .zip(found)
            .map(|(t, d)| self.rewrite_detection_in(t, d, Some(&mut numbering)))
            .collect()
    }

    /// [`Pipeline::scan_detail`] of each part of one record, identifiers
    /// shared between the parts ([`Pipeline::share`]).
    pub fn scan_parts(&self, texts: &[&str], allow_llm: bool) -> Vec<(Vec<Span>, Option<LlmUse>)> {
        let mut found: Vec<Detection> = texts
            .iter()
            .map(|t| self.detect_part(t, allow_llm))
            .collect();
        self.share_detections(texts, &mut found);
        found.into_iter().map(|d| (d.spans, d.llm)).collect()
    }

    /// [`Pipeline::share`] over parallel lists of texts and detections.
    pub fn share_detections(&self, texts: &[&str], found: &mut [Detection]) {
        let mut parts: Vec<(&str, &mut Vec<Span>)> = texts
            .iter()
            .copied()
            .zip(found.iter_mut().map(|d| &mut d.spans))
            .collect();
        self.share(&mut parts);
    }

    /// Rewrite one text from its detection: the model's rewrite when it is
    /// on and passes verification, else the deterministic rewrite when it
    /// passes (after repairs), else quarantine.
    pub fn rewrite_detection(&self, text: &str, d: Detection) -> Rewritten {
        self.rewrite_detection_in(text, d, None)
    }

    /// [`Pipeline::rewrite_detection`] of one part of a record, its tags
    /// numbered as the parts before it numbered theirs (`numbering`).
    fn rewrite_detection_in(
        &self,
        text: &str,
        d: Detection,
        mut numbering: Option<&mut Numbering>,
    ) -> Rewritten {
        // Test-only (feature `failpoints`): a record that panics here.
        crate::failpoint::hit("record", text);
        let Detection {
            spans,
            llm: used,
            rule_spans,
        } = d;
        let mut r = self.rewrite_spans_in(text, &spans, numbering.as_deref_mut());
        let rule_spans = self.detector.actionable(&rule_spans);
        r.llm = used;
        if let Some(llm) = &self.llm
            && llm.generative
            && !r.plan.spans.is_empty()
            && used != Some(LlmUse::BudgetSpent)
        {
            match llm.rewrite(text) {
                Ok(Some(g)) => {
                    let verdict = self.check_generative(text, &r.plan, &rule_spans, &g);
                    let accept = verdict.accept;
                    let reason = verdict.reasons.first().cloned();
                    if self.verifier.is_some() {
                        r.checks.push(Check {
                            stage: Stage::Generative,
                            verdict,
                        });
                    }
                    if accept {
                        r.text = g.text.trim().to_string();
                        r.inserted.clear();
                        r.path = RewritePath::Generative;
                        r.llm = Some(LlmUse::Used);
                        return r;
                    }
                    r.path = RewritePath::Fallback;
                    r.fallback_reason = reason;
                }
                // Declined: the budget is spent, or the text is longer than
                // one generation window (detection still ran on it).
                Ok(None) if llm.remaining() == Some(0) => r.llm = Some(LlmUse::BudgetSpent),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "LLM rewrite failed; deterministic rewrite used");
                    r.path = RewritePath::Fallback;
                    r.fallback_reason = Some("llm_error".into());
                }
            }
        }
        self.settle(text, spans, r, numbering)
    }

    /// Verify the model's rewrite: the full verifier when it is on, else the
    /// minimal pre-verifier check.
    fn check_generative(
        &self,
        text: &str,
        plan: &Plan,
        rule_spans: &[Span],
        g: &crate::llm::Generation,
    ) -> Verdict {
        let Some(v) = &self.verifier else {
            return match check_generative(text, plan, rule_spans, g) {
                Ok(()) => Verdict {
                    accept: true,
                    reasons: Vec::new(),
                    scores: Default::default(),
                    leaks: Vec::new(),
                },
                Err(reason) => Verdict::reject(reason),
            };
        };
        if g.truncated {
            return Verdict::reject("truncated");
        }
        // The plan's spans and every rule hit as the rules found it (a
        // merged span can be wider than the identifier inside it).
        let mut ids = plan.spans.clone();
        ids.extend(rule_spans.iter().cloned());
        v.verify(
            &self.detector,
            &self.policy,
            &Subject {
                original: text,
                rewrite: g.text.trim(),
                identifiers: &ids,
                inserted: None,
            },
            true,
        )
    }

    /// Verify the deterministic rewrite `r` of `spans`; when the only
    /// failures are leaks of text the plan missed (another mention of a
    /// name, a confident rule hit in a new context), widen the plan to that
    /// text and rewrite again; else quarantine.
    fn settle(
        &self,
        text: &str,
        spans: Vec<Span>,
        mut r: Rewritten,
        mut numbering: Option<&mut Numbering>,
    ) -> Rewritten {
        let Some(v) = &self.verifier else {
            return r;
        };
        let mut spans = self.detector.actionable(&spans);
        for round in 0..=MAX_REPAIRS {
            let verdict = v.verify(
                &self.detector,
                &self.policy,
                &Subject {
                    original: text,
                    rewrite: &r.text,
                    identifiers: &r.plan.spans,
                    inserted: Some(&r.inserted),
                },
                true,
            );
            let stage = if round == 0 {
                Stage::Deterministic
            } else {
                Stage::Repair
            };
            let accept = verdict.accept;
            let extra = if !accept && v.cfg.repair && verdict.only_leaks() && round < MAX_REPAIRS {
                widen(text, &spans, &verdict.leaks)
            } else {
                Vec::new()
            };
            r.checks.push(Check { stage, verdict });
            if accept {
                r.decision = Decision::Commit;
                return r;
            }
            if extra.is_empty() {
                break;
            }
            spans.extend(extra);
            spans.sort_by_key(|s| (s.start, s.end));
            let n = self.rewrite_spans_in(text, &spans, numbering.as_deref_mut());
            r.text = n.text;
            r.plan = n.plan;
            r.inserted = n.inserted;
        }
        r.decision = Decision::Quarantine;
        r
    }

    /// Verify a given rewrite of `original` (`gdr verify`, the mutation
    /// benchmark). The identifiers are `spans` (byte offsets into
    /// `original`) or else what detection finds, planned per policy; the
    /// planned surrogates are `surrogates` or else the strings this
    /// pipeline's deterministic rewrite (same key) inserts, located in the
    /// rewrite by text. `embed` = false skips the embedding step.
    pub fn verify_pair(
        &self,
        original: &str,
        rewrite: &str,
        spans: Option<&[Span]>,
        surrogates: Option<&[String]>,
        embed: bool,
    ) -> Verdict {
        let Some(v) = &self.verifier else {
            return Verdict::reject("verifier_off");
        };
        let det = match spans {
            Some(s) => self.rewrite_spans(original, s),
            None => self.rewrite_spans(original, &self.detector.detect(original)),
        };
        let planned: Vec<String> = match surrogates {
            Some(s) => s.to_vec(),
            None => det
                .inserted
                .iter()
                .map(|r| det.text[r.clone()].to_string())
                .collect(),
        };
        let inserted = crate::verify::ranges_of_strings(rewrite, &planned);
        v.verify(
            &self.detector,
            &self.policy,
            &Subject {
                original,
                rewrite,
                identifiers: &det.plan.spans,
                inserted: Some(&inserted),
            },
            embed,
        )
    }

    /// Rewrite given spans already detected (lets `scan`-then-`rewrite`
    /// callers avoid detecting twice).
    pub fn rewrite_spans(&self, text: &str, spans: &[Span]) -> Rewritten {
        self.rewrite_spans_in(text, spans, None)
    }

    /// [`Pipeline::rewrite_spans`], the plan's entities numbered by
    /// `numbering` when given (a part of a record).
    fn rewrite_spans_in(
        &self,
        text: &str,
        spans: &[Span],
        numbering: Option<&mut Numbering>,
    ) -> Rewritten {
        let actionable = self.detector.actionable(spans);
        let mut plan = plan::plan(text, actionable, &self.policy);
        if let Some(n) = numbering {
            n.renumber(&mut plan);
            n.fill_names(&mut plan);
        }
        let rw = Rewriter {
            surrogates: &self.surrogates,
            gazetteers: &self.detector.gazetteers,
            policy: &self.policy,
        };
        let (out, inserted) = rw.apply_ranges(text, &plan);
        Rewritten {
            text: out,
            plan,
            path: RewritePath::Deterministic,
            llm: None,
            fallback_reason: None,
            inserted,
            decision: Decision::Commit,
            checks: Vec::new(),
        }
    }

    /// Per-entity report lines for a rewrite (computed only when a report
    /// is wanted: the keyed fingerprints cost an HMAC each).
    pub fn entity_reports(&self, r: &Rewritten) -> Vec<EntityReport> {
        r.plan
            .entities
            .iter()
            .map(|e| EntityReport {
                entity: e.entity.to_string(),
                op: e.op,
                mentions: e.mentions.len(),
                fingerprint: self.surrogates.fingerprint(&e.entity, &e.key),
            })
            .collect()
    }
}

/// Spans for every other occurrence, in the original, of text a check found
/// leaking: the deterministic output outside surrogates is original text, so
/// a leak there is a mention the plan missed. Occurrences inside planned
/// spans are left alone.
///
/// All leaking strings are found in one pass ([`widen_indexed`]) even for
/// one leak on a short record: the other way, one case-insensitive regex
/// per leak ([`widen_scan`], kept for texts past the one-pass search's
/// 4 GB), compiles each, about 1.2 M instructions apiece under callgrind
/// (Unicode case folding), which was 4.5 % of a rewrite of tab-dev.
fn widen(text: &str, planned: &[Span], leaks: &[Leak]) -> Vec<Span> {
    widen_indexed(text, planned, leaks).unwrap_or_else(|| widen_scan(text, planned, leaks))
}

/// Needles up to this length always compile as a case-insensitive literal
/// regex (the default size limit is far above them); longer ones are
/// compiled to find out, as the scan does.
const WIDEN_ALWAYS_COMPILES: usize = 1_000;

fn leak_regex(needle: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(&regex::escape(needle))
        .case_insensitive(true)
        .build()
        .ok()
}

/// A span `widen` adds: a leaking string's occurrence, rewritten as the
/// leak's type.
fn repair_span(start: usize, end: usize, entity: &Name, det: &Name) -> Span {
    Span {
        start,
        end,
        entity: *entity,
        score: 1.0,
        detector: *det,
        validated: false,
    }
}

/// [`widen`], one regex scan of the text per leak.
fn widen_scan(text: &str, planned: &[Span], leaks: &[Leak]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let det: Name = Name::from("verify");
    for l in leaks {
        let needle = l.found.trim();
        if needle.is_empty() {
            continue;
        }
        let Some(re) = leak_regex(needle) else {
            continue;
        };
        let entity: Name = Name::from(l.entity.as_str());
        for m in re.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            let overlaps = |x: &Span| x.start < e && s < x.end;
            if !crate::detect::is_word_boundary(text, s, e)
                || planned.iter().any(overlaps)
                || out.iter().any(overlaps)
            {
                continue;
            }
            out.push(repair_span(s, e, &entity, &det));
        }
    }
    out
}

/// [`widen_scan`] with every leaking string's matches found in one pass
/// and the overlap tests answered from sorted ranges. Same spans in the
/// same order. A leak whose string an earlier leak already had adds
/// nothing (its matches are the earlier one's: each was taken then or
/// rejected for a reason that still holds), so it is skipped. None when
/// the text is too long for the one-pass search.
fn widen_indexed(text: &str, planned: &[Span], leaks: &[Leak]) -> Option<Vec<Span>> {
    let mut needles: Vec<&str> = Vec::new();
    let mut slot: std::collections::HashMap<&str, usize> = Default::default();
    for l in leaks {
        let needle = l.found.trim();
        if !needle.is_empty() && !slot.contains_key(needle) {
            slot.insert(needle, needles.len());
            needles.push(needle);
        }
    }
    let found = crate::verify::find_iter_case_insensitive(text, &needles)?;
    let planned_ranges: Vec<Range<usize>> = planned.iter().map(|s| s.start..s.end).collect();
    let in_plan = crate::verify::Overlaps::new(&planned_ranges);
    // Spans taken so far, disjoint: start -> end.
    let mut taken: std::collections::BTreeMap<usize, usize> = Default::default();
    let mut done = vec![false; needles.len()];
    let mut out: Vec<Span> = Vec::new();
    let det: Name = Name::from("verify");
    for l in leaks {
        let needle = l.found.trim();
        let Some(&k) = slot.get(needle) else {
            continue;
        };
        if std::mem::replace(&mut done[k], true) {
            continue;
        }
        if needle.len() > WIDEN_ALWAYS_COMPILES && leak_regex(needle).is_none() {
            continue;
        }
        let entity: Name = Name::from(l.entity.as_str());
        for r in &found[k] {
            let (s, e) = (r.start, r.end);
            let in_taken = taken
                .range(..e)
                .next_back()
                .is_some_and(|(_, &end)| end > s);
            if !crate::detect::is_word_boundary(text, s, e) || in_plan.any(s, e) || in_taken {
                continue;
            }
            taken.insert(s, e);
            out.push(repair_span(s, e, &entity, &det));
        }
    }
    Some(out)
}

/// The minimum a generative rewrite must pass before it is used when the
/// verifier is off (`--no-verify`): no original identifier survives, in
/// any case; the output is complete and of a plausible length.
fn check_generative(
    original: &str,
    plan: &Plan,
    rule_spans: &[Span],
    g: &crate::llm::Generation,
) -> Result<(), &'static str> {
    let out = g.text.trim();
    if g.truncated {
        return Err("truncated");
    }
    if out.is_empty() {
        return Err("empty");
    }
    let ratio = out.len() as f32 / original.len().max(1) as f32;
    if !(0.5..=2.0).contains(&ratio) {
        return Err("length_ratio");
    }
    let lower = out.to_lowercase();
    let out_digits: String = out.chars().filter(char::is_ascii_digit).collect();
    // The plan's spans and, separately, every rule hit as the rules found
    // it (a merged span can be wider than the identifier inside it).
    for s in plan.spans.iter().chain(rule_spans) {
        // Numbers survive reformatting: "(88) 684-334" -> "88-684-334".
        let digits: String = original[s.start..s.end]
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if digits.len() >= 6 && out_digits.contains(&digits) {
            return Err("identifier_survives");
        }
        let v = original[s.start..s.end].trim().to_lowercase();
        if !v.is_empty() && lower.contains(&v) {
            return Err("identifier_survives");
        }
        // Each word of a name counts: "Karl" alone still identifies.
        if &*s.entity == "PERSON" {
            for w in v.split_whitespace().filter(|w| w.chars().count() >= 3) {
                let w = w.trim_matches(|c: char| !c.is_alphanumeric());
                if !w.is_empty() && lower.split(|c: char| !c.is_alphanumeric()).any(|t| t == w) {
                    return Err("identifier_survives");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(text: &str) -> crate::llm::Generation {
        crate::llm::Generation {
            text: text.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn a_missed_mention_is_repaired_not_committed() {
        // Only "Maria Gonzalez" is detected; the lower-case mention later is
        // original text the plan missed. The verifier finds it in the
        // deterministic output, the plan is widened and the record committed.
        let p = Pipeline::with_key(&Config::default(), &[1u8; 32]).unwrap();
        let text = "Contact Maria Gonzalez today. The file lists gonzalez as owing nothing.";
        let r = p.rewrite(text);
        assert_eq!(r.decision, Decision::Commit);
        let stages: Vec<(Stage, bool)> = r
            .checks
            .iter()
            .map(|c| (c.stage, c.verdict.accept))
            .collect();
        assert_eq!(
            stages,
            vec![(Stage::Deterministic, false), (Stage::Repair, true)]
        );
        assert!(
            r.checks[0]
                .verdict
                .reasons
                .iter()
                .any(|x| x == "leak_token:PERSON")
        );
        assert!(!r.text.to_lowercase().contains("gonzalez"), "{}", r.text);
        // One entity, one surrogate for both mentions.
        assert_eq!(r.plan.entities.len(), 1);
        assert_eq!(r.plan.entities[0].mentions.len(), 2);

        // Without repair the record is quarantined, with the reason.
        let mut cfg = Config::default();
        cfg.verify.repair = false;
        let p = Pipeline::with_key(&cfg, &[1u8; 32]).unwrap();
        let r = p.rewrite(text);
        assert_eq!(r.decision, Decision::Quarantine);
        assert_eq!(r.checks.len(), 1);
        assert_eq!(
            r.checks[0].verdict.reasons,
            vec!["leak_token:PERSON".to_string()]
        );

        // Verifier off: the pre-verifier behaviour, committed as is.
        let p = p.without_verifier();
        let r = p.rewrite(text);
        assert_eq!(r.decision, Decision::Commit);
        assert!(r.checks.is_empty());
        assert!(r.text.to_lowercase().contains("gonzalez"));
    }

    #[test]
    fn a_repeat_in_the_same_part_is_found_before_the_plan() {
        let p = Pipeline::with_key(&Config::default(), &[1u8; 32]).unwrap();
        // A surname that is an ordinary word and a given name, repeated
        // alone, opening a sentence as the subject: the person's surname,
        // rendered as the full name's surname. "Mark the date" and the
        // lower-case word stay.
        let text = "I spoke to Mark Ford today. Ford said it was fine. Mark the date. \
                    The ford was flooded. Later Ford agreed.";
        let spans = p.scan(text);
        let found: Vec<(&str, &str)> = spans
            .iter()
            .filter(|s| s.score >= p.detector.threshold)
            .map(|s| (&text[s.start..s.end], &*s.detector))
            .collect();
        assert_eq!(
            found,
            [
                ("Mark Ford", "gazetteer:name"),
                ("Ford", "memory"),
                ("Ford", "memory")
            ]
        );
        let r = p.rewrite(text);
        assert_eq!(r.decision, Decision::Commit);
        assert_eq!(r.checks.len(), 1, "accepted as planned, no repair");
        assert_eq!(r.plan.entities.len(), 1);
        let words: Vec<&str> = r.text.split_whitespace().collect();
        let (first, last) = (words[3], words[4].trim_end_matches('.'));
        assert_ne!(last, "Ford");
        assert_eq!(words[6], last, "{}", r.text);
        assert_eq!(words[19], last, "{}", r.text);
        assert!(r.text.contains("Mark the date. The ford was"), "{}", r.text);
        assert_ne!(first, "Mark");

        // The batched scan finds the same.
        let batch = p.scan_many(&[text]);
        assert_eq!(batch[0].0, p.scan(text));
        assert_eq!(
            batch[0]
                .0
                .iter()
                .filter(|s| &*s.detector == "memory")
                .count(),
            2
        );

        // Memory off: the repeats stay.
        let mut cfg = Config::default();
        cfg.detect.memory = false;
        let off = Pipeline::with_key(&cfg, &[1u8; 32]).unwrap();
        assert!(off.rewrite(text).text.contains("Ford said"));
    }

    /// A town named with a cue once and guessed at elsewhere in the same
    /// text ("linking Nicosia and Famagusta" read Nicosia as a surname)
    /// is one place: one entity, one surrogate, a town in both sentences.
    #[test]
    fn a_name_read_as_person_and_place_is_one_entity() {
        let text = "The applicant lives in Nicosia. Later the refugees stopped \
                    on the road linking Nicosia and Famagusta.";
        for key in [[1u8; 32], [2u8; 32], [3u8; 32]] {
            let p = Pipeline::with_key(&Config::default(), &key).unwrap();
            let spans = p.scan(text);
            let nicosia: Vec<(&str, &str)> = spans
                .iter()
                .filter(|s| &text[s.start..s.end] == "Nicosia")
                .map(|s| (&*s.entity, &*s.detector))
                .collect();
            assert_eq!(
                nicosia,
                [("LOCATION", "gazetteer:place"), ("LOCATION", "document")]
            );
            assert_eq!(p.scan_many(&[text])[0].0, spans);
            let r = p.rewrite(text);
            assert_eq!(r.decision, Decision::Commit);
            let town = |after: &str| {
                let at = r.text.find(after).unwrap() + after.len();
                r.text[at..].split([' ', '.']).next().unwrap().to_string()
            };
            let (first, second) = (town("lives in "), town("road linking "));
            assert_ne!(first, "Nicosia");
            assert_eq!(first, second, "{}", r.text);
        }
    }

    #[test]
    fn short_leak_strings_always_compile() {
        // widen_indexed assumes it (WIDEN_ALWAYS_COMPILES): the longest such
        // strings of the characters with the largest case classes compile.
        for c in ['k', 's', 'ſ', 'Σ', 'ς', 'ǅ', 'ß', 'Ж', '\u{10400}'] {
            let n = WIDEN_ALWAYS_COMPILES / c.len_utf8();
            let needle: String = std::iter::repeat_n(c, n).collect();
            assert!(leak_regex(&needle).is_some(), "{c:?}");
        }
    }

    fn span_key(s: &Span) -> (usize, usize, String, String) {
        (s.start, s.end, s.entity.to_string(), s.detector.to_string())
    }

    proptest::proptest! {
        /// Widening in one pass takes the same spans, in the same order, as
        /// one regex scan per leak: on texts of a few case-variant words
        /// (the Kelvin sign and long s fold to ASCII), with repeated and
        /// overlapping leak strings and planned spans in the way.
        #[test]
        fn widen_indexed_equals_widen_scan(
            words in proptest::collection::vec(0usize..9, 0..30),
            leaks in proptest::collection::vec((0usize..9, 0usize..3, 0usize..3), 0..8),
            planned in proptest::collection::vec((0usize..30, 1usize..3), 0..5),
        ) {
            const W: &[&str] = &["Karl", "karl", "\u{212A}arl", "Strobel", "strobel", "Ka", "rl", "ſtrobel", "Karl Strobel"];
            const E: &[&str] = &["PERSON", "ORG", "EMAIL"];
            let mut text = String::new();
            let mut at = Vec::new();
            for &w in &words {
                let start = text.len();
                text.push_str(W[w]);
                at.push(start..text.len());
                text.push_str(if w % 2 == 0 { " " } else { "-" });
            }
            let leaks: Vec<Leak> = leaks
                .iter()
                .map(|&(w, e, pad)| Leak {
                    reason: "leak_token:X".into(),
                    entity: E[e].into(),
                    found: format!("{}{}", " ".repeat(pad), W[w]),
                })
                .collect();
            let mut planned: Vec<Span> = planned
                .iter()
                .filter_map(|&(i, n)| {
                    let a = at.get(i)?;
                    let b = at.get(i + n - 1).unwrap_or(a);
                    Some(Span {
                        start: a.start,
                        end: b.end,
                        entity: Name::from("PERSON"),
                        score: 0.9,
                        detector: Name::from("t"),
                        validated: false,
                    })
                })
                .collect();
            planned.sort_by_key(|s| (s.start, s.end));
            let scan: Vec<_> = widen_scan(&text, &planned, &leaks).iter().map(span_key).collect();
            let indexed: Vec<_> = widen_indexed(&text, &planned, &leaks)
                .unwrap()
                .iter()
                .map(span_key)
                .collect();
            proptest::prop_assert_eq!(indexed, scan);
        }
    }

    #[test]
    fn clean_records_commit_after_one_check() {
        let p = Pipeline::with_key(&Config::default(), &[1u8; 32]).unwrap();
        for text in [
            "Patient Karl Strobel, SSN 536-22-8174, was seen on 2023-03-14 for a follow-up.",
            "The meeting moved to 3 pm; nothing else changed.",
        ] {
            let r = p.rewrite(text);
            assert_eq!(r.decision, Decision::Commit, "{:?}", r.checks);
            assert_eq!(r.checks.len(), 1);
            assert!(r.checks[0].verdict.accept);
            assert_eq!(r.checks[0].verdict.scores.similarity, None);
            assert_eq!(r.inserted.len(), r.plan.spans.len());
        }
    }

    #[test]
    fn generative_check_catches_reformatted_and_wrapped_identifiers() {
        let p = Pipeline::with_key(&Config::default(), &[1u8; 32]).unwrap();
        let original = "They're not answering at (88) 684-334, ask Karl Strobel.";
        let spans = p.detector.actionable(&p.detector.detect(original));
        let plan = plan::plan(original, spans.clone(), &p.policy);
        // Digits kept with new separators.
        let e = check_generative(
            original,
            &plan,
            &spans,
            &generation("They do not answer at 88-684-334, ask Jo Bell."),
        );
        assert_eq!(e, Err("identifier_survives"));
        // One word of the name kept.
        let e = check_generative(
            original,
            &plan,
            &spans,
            &generation("They do not answer at 555 0100, ask Strobel."),
        );
        assert_eq!(e, Err("identifier_survives"));
        // Clean.
        let ok = check_generative(
            original,
            &plan,
            &spans,
            &generation("They do not pick up at 555 0100, ask Jo Bell."),
        );
        assert_eq!(ok, Ok(()));
        // A rule hit inside a wider (merged) plan span is still checked.
        let mut wide = plan.clone();
        wide.spans[0].start = 0;
        let e = check_generative(
            original,
            &wide,
            &spans,
            &generation("They're not answering at (88) 684-334 now, ask Jo Bell."),
        );
        assert_eq!(e, Err("identifier_survives"));
    }
}
