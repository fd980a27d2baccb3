//! One TOML config, validated once at start; unknown keys are errors so a
//! typo never silently falls back to a default.
//!
//! ```toml
//! state_dir = "/var/lib/gdr"
//!
//! [detect]
//! threshold = 0.5          # spans below are reported by scan, not rewritten
//! builtin_rules = true     # the embedded rule packs
//! rules_dir = "/etc/gdr/rules"      # extra *.toml packs
//! gazetteer_dir = "/etc/gdr/lists"  # replaces the embedded word lists
//! disable_rules = ["url"]
//! allow = ["Acme Support"]          # never touched
//! deny = [{ text = "Project Falcon", entity = "PROJECT" }]  # always touched
//!
//! [csv]
//! columns = ["notes"]              # CSV columns to process, by header name
//!
//! [policy]
//! default = "tag"
//! mask_keep_last = 4
//! date_granularity = "month"        # DATE: "month" or "year" (DATE_OF_BIRTH: year)
//! person_titles = "drop"            # or "keep": Mr./Dr./PhD in pseudonyms
//! [policy.ops]
//! PERSON = "pseudonym"
//! CREDIT_CARD = "mask"
//!
//! [verify]                          # thresholds: crate::verify::VerifyConfig
//! min_similarity = 0.8
//! ```

use crate::Error;
use crate::detect::DenyEntry;
use crate::plan::{DateGranularity, Op, Policy, TitleMode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub llm: LlmSection,
    /// `[daemon]`: `gdr serve` (socket, allow lists, queue limits, drop folder).
    #[serde(default)]
    pub daemon: crate::daemon::DaemonConfig,
    #[serde(default)]
    pub csv: CsvSection,
    /// `[verify]`: the verifier's thresholds (see [`crate::verify`]).
    #[serde(default)]
    pub verify: crate::verify::VerifyConfig,
}

/// `[csv]`: which columns of CSV input hold text to process (by header
/// name). `--column` on the command line replaces the list; with neither,
/// the column named `text`, as for JSONL's default field.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CsvSection {
    #[serde(default)]
    pub columns: Vec<String>,
}

/// `[llm]`: the on-device model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The model manifest (relative paths in it are relative to its folder).
    #[serde(default = "default_manifest")]
    pub manifest: PathBuf,
    /// Manifest entry; the manifest's default when absent.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub threads: Option<i32>,
    #[serde(default = "default_context")]
    pub context: u32,
    #[serde(default = "default_batch")]
    pub batch: u32,
    /// Requests the engine generates at once (continuous batching).
    #[serde(default = "default_parallel")]
    pub parallel: u32,
    /// LLM tokens (prompt + generated) one job may spend; then rules only.
    #[serde(default)]
    pub job_budget: Option<u64>,
    /// LLM tokens per UTC day across jobs (ledger in the state dir).
    #[serde(default)]
    pub daily_budget: Option<u64>,
    /// Ask the model for fluent rewrites (else detection only). Off by
    /// default until the verifier checks meaning.
    #[serde(default)]
    pub generative: bool,
}

impl Default for LlmSection {
    fn default() -> Self {
        Self {
            enabled: true,
            manifest: default_manifest(),
            model: None,
            threads: None,
            context: default_context(),
            batch: default_batch(),
            parallel: default_parallel(),
            job_budget: None,
            daily_budget: None,
            generative: false,
        }
    }
}

fn default_manifest() -> PathBuf {
    std::env::var_os("GDR_MODELS")
        .map(|d| PathBuf::from(d).join("manifest.toml"))
        .unwrap_or_else(|| PathBuf::from("models/manifest.toml"))
}

fn default_context() -> u32 {
    2048
}

fn default_batch() -> u32 {
    512
}

fn default_parallel() -> u32 {
    1
}

impl LlmSection {
    /// The engine/LLM settings this section describes.
    pub fn to_config(&self) -> crate::llm::detect::LlmConfig {
        let mut engine = crate::llm::EngineConfig {
            context: self.context,
            batch: self.batch,
            parallel: self.parallel,
            ..Default::default()
        };
        if let Some(t) = self.threads {
            engine.threads = t;
        }
        crate::llm::detect::LlmConfig {
            manifest: self.manifest.clone(),
            model: self.model.clone(),
            engine,
            job_budget: self.job_budget,
            daily_budget: self.daily_budget,
            generative: self.generative,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    #[serde(default = "yes")]
    pub builtin_rules: bool,
    #[serde(default)]
    pub rules_dir: Option<PathBuf>,
    #[serde(default)]
    pub gazetteer_dir: Option<PathBuf>,
    #[serde(default)]
    pub disable_rules: Vec<String>,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<DenyEntry>,
    /// Document memory: identifiers found in one part of a document (a
    /// field of a JSONL record, a column of a CSV row, a paragraph of a
    /// text file) are looked for in its other parts (see `gdr::memory`).
    #[serde(default = "yes")]
    pub memory: bool,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            threshold: default_threshold(),
            builtin_rules: true,
            rules_dir: None,
            gazetteer_dir: None,
            disable_rules: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            memory: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default)]
    pub default: Option<Op>,
    #[serde(default)]
    pub mask_keep_last: Option<usize>,
    #[serde(default)]
    pub date_granularity: Option<DateGranularity>,
    #[serde(default)]
    pub person_titles: Option<TitleMode>,
    #[serde(default)]
    pub ops: BTreeMap<String, Op>,
}

fn default_threshold() -> f32 {
    0.5
}

fn yes() -> bool {
    true
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.detect.threshold) {
            return Err(Error::Config(format!(
                "detect.threshold {} outside 0..=1",
                self.detect.threshold
            )));
        }
        for k in self.policy.ops.keys() {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                return Err(Error::Config(format!(
                    "policy.ops key {k:?}: entity types are UPPER_SNAKE_CASE"
                )));
            }
        }
        if self.detect.deny.iter().any(|d| d.text.trim().is_empty()) {
            return Err(Error::Config("detect.deny: empty text".into()));
        }
        // llama.cpp caps sequences per context (prefixes + work slots).
        if !(1..=64).contains(&self.llm.parallel) {
            return Err(Error::Config(format!(
                "llm.parallel {} outside 1..=64",
                self.llm.parallel
            )));
        }
        self.verify
            .validate()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(())
    }

    /// The effective policy: defaults overlaid with the config.
    pub fn policy(&self) -> Policy {
        let mut p = Policy::default();
        if let Some(d) = self.policy.default {
            p.default = d;
        }
        if let Some(k) = self.policy.mask_keep_last {
            p.mask_keep_last = k;
        }
        if let Some(g) = self.policy.date_granularity {
            p.date_granularity = g;
        }
        if let Some(t) = self.policy.person_titles {
            p.person_titles = t;
        }
        for (k, v) in &self.policy.ops {
            p.ops.insert(k.clone(), *v);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Config>("[detect]\nthreshhold = 0.5\n").is_err());
        assert!(toml::from_str::<Config>("[policy.ops]\nPERSON = \"scramble\"\n").is_err());
        let c: Config = toml::from_str("[detect]\nthreshold = 1.5\n").unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn policy_overlay() {
        let c: Config = toml::from_str(
            "[policy]\nmask_keep_last = 2\n[policy.ops]\nPERSON = \"tag\"\nCREDIT_CARD = \"mask\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        let p = c.policy();
        assert_eq!(p.op("PERSON"), Op::Tag);
        assert_eq!(p.op("CREDIT_CARD"), Op::Mask);
        assert_eq!(p.op("EMAIL"), Op::Pseudonym);
        assert_eq!(p.mask_keep_last, 2);
    }
}
