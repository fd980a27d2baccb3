//! detect → plan → rewrite for one text. Every entry point (CLI, and the
//! daemon to come) calls this, so behaviour cannot drift between them.

use crate::config::Config;
use crate::detect::{Detector, Gazetteers, RuleSet, Span};
use crate::plan::{self, Op, Plan, Policy};
use crate::rewrite::{Rewriter, Surrogates};
use crate::{Error, keystore};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// Everything needed to process records, built once and shared read-only.
pub struct Pipeline {
    pub detector: Detector,
    pub surrogates: Surrogates,
    pub policy: Policy,
}

/// Which path produced the rewrite (the LLM path arrives later; the report
/// field is already there so consumers need not change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RewritePath {
    Deterministic,
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
        let surrogates = Surrogates::new(key, gaz.first_names.clone(), gaz.surnames.clone());
        let detector = Detector::new(rules, Arc::new(gaz), d.threshold, &d.allow, &d.deny)?;
        Ok(Self {
            detector,
            surrogates,
            policy: cfg.policy(),
        })
    }

    /// All candidate spans, including those below the threshold.
    pub fn scan(&self, text: &str) -> Vec<Span> {
        self.detector.detect(text)
    }

    /// Detect, plan and rewrite one text deterministically.
    pub fn rewrite(&self, text: &str) -> Rewritten {
        let spans = self.detector.detect(text);
        self.rewrite_spans(text, &spans)
    }

    /// Rewrite given spans already detected (lets `scan`-then-`rewrite`
    /// callers avoid detecting twice).
    pub fn rewrite_spans(&self, text: &str, spans: &[Span]) -> Rewritten {
        let actionable = self.detector.actionable(spans);
        let plan = plan::plan(text, actionable, &self.policy);
        let rw = Rewriter {
            surrogates: &self.surrogates,
            gazetteers: &self.detector.gazetteers,
            policy: &self.policy,
        };
        let out = rw.apply(text, &plan);
        Rewritten {
            text: out,
            plan,
            path: RewritePath::Deterministic,
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
