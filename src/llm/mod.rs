//! The on-device LLM: model manifest (local files pinned by sha256), the
//! inference engine (one thread owns llama.cpp), prompts from files, and the
//! two uses: contextual detection and generative rewriting.
//!
//! The LLM is one detector among others and never the only line of
//! defence: its spans must be exact substrings of the input, rule hits are a
//! floor it cannot remove, and every rewrite it proposes is checked before
//! it is used.

pub mod detect;
pub mod embed;
pub mod engine;

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use engine::{Engine, EngineConfig, Generation};

/// LLM errors. Messages name files and models, never record content.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model manifest {path}: {msg}")]
    Manifest { path: String, msg: String },
    #[error("model {name:?} is not in the manifest {path} (known: {known})")]
    UnknownModel {
        name: String,
        path: String,
        known: String,
    },
    #[error(
        "model file {path} is missing; run models/fetch.sh (or pass --no-llm to use rules only)"
    )]
    Missing { path: String },
    #[error(
        "model file {path} has sha256 {actual}, the manifest pins {expected}: refusing to load it"
    )]
    HashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("llama.cpp: {0}")]
    Llama(String),
    #[error("prompt {0}: must contain {{{{input}}}} exactly once")]
    Prompt(String),
    #[error("the inference engine stopped")]
    EngineGone,
}

/// One model in the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
    #[serde(default = "default_context")]
    pub context: u32,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub source: Option<toml::Value>,
}

fn default_context() -> u32 {
    2048
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    default: String,
    #[serde(rename = "model", default)]
    models: Vec<ModelEntry>,
}

/// The parsed manifest with the directory its relative paths start from.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub default: String,
    pub models: Vec<ModelEntry>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, LlmError> {
        let err = |msg: String| LlmError::Manifest {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| LlmError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let m: ManifestFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        for e in &m.models {
            if e.sha256.len() != 64 || !e.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(err(format!(
                    "model {:?}: sha256 must be 64 hex digits",
                    e.name
                )));
            }
        }
        if !m.models.iter().any(|e| e.name == m.default) {
            return Err(err(format!("default model {:?} has no entry", m.default)));
        }
        Ok(Self {
            path: path.to_path_buf(),
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            default: m.default,
            models: m.models,
        })
    }

    /// The entry for `name` (the default when `None`).
    pub fn entry(&self, name: Option<&str>) -> Result<&ModelEntry, LlmError> {
        let name = name.unwrap_or(&self.default);
        self.models
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| LlmError::UnknownModel {
                name: name.to_string(),
                path: self.path.display().to_string(),
                known: self
                    .models
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Absolute path of an entry's file.
    pub fn file_of(&self, e: &ModelEntry) -> PathBuf {
        if e.file.is_absolute() {
            e.file.clone()
        } else {
            self.dir.join(&e.file)
        }
    }

    /// Path of the entry's file after checking it exists and its sha256
    /// matches the manifest.
    pub fn verified_file(&self, e: &ModelEntry) -> Result<PathBuf, LlmError> {
        let path = self.file_of(e);
        if !path.exists() {
            return Err(LlmError::Missing {
                path: path.display().to_string(),
            });
        }
        let actual = sha256_file(&path)?;
        if !actual.eq_ignore_ascii_case(&e.sha256) {
            return Err(LlmError::HashMismatch {
                path: path.display().to_string(),
                expected: e.sha256.clone(),
                actual,
            });
        }
        Ok(path)
    }
}

/// Streaming sha256 of a file (models are hundreds of MB: never read whole).
pub fn sha256_file(path: &Path) -> Result<String, LlmError> {
    use std::io::Read;
    let io = |e| LlmError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A prompt template from models/prompts: the text before `{{input}}` is
/// the fixed prefix that the engine evaluates once and reuses from its KV
/// cache; the rest follows each input.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub name: String,
    pub prefix: String,
    pub suffix: String,
}

impl Prompt {
    pub fn parse(name: &str, text: &str) -> Result<Self, LlmError> {
        let mut parts = text.split("{{input}}");
        let (Some(prefix), Some(suffix), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LlmError::Prompt(name.to_string()));
        };
        Ok(Self {
            name: name.to_string(),
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    pub fn load(dir: &Path, name: &str) -> Result<Self, LlmError> {
        let path = dir.join(format!("{name}.txt"));
        let text = std::fs::read_to_string(&path).map_err(|e| LlmError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::parse(name, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_needs_one_placeholder() {
        let p = Prompt::parse("t", "sys {{input}} end").unwrap();
        assert_eq!((p.prefix.as_str(), p.suffix.as_str()), ("sys ", " end"));
        assert!(Prompt::parse("t", "no placeholder").is_err());
        assert!(Prompt::parse("t", "{{input}}{{input}}").is_err());
    }

    #[test]
    fn manifest_validation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(
            &p,
            "default = \"a\"\n[[model]]\nname = \"a\"\nfile = \"a.gguf\"\nsha256 = \"xyz\"\n",
        )
        .unwrap();
        assert!(
            Manifest::load(&p)
                .unwrap_err()
                .to_string()
                .contains("64 hex")
        );
        let sha = "0".repeat(64);
        std::fs::write(
            &p,
            format!(
                "default = \"b\"\n[[model]]\nname = \"a\"\nfile = \"a.gguf\"\nsha256 = \"{sha}\"\n"
            ),
        )
        .unwrap();
        assert!(
            Manifest::load(&p)
                .unwrap_err()
                .to_string()
                .contains("default model")
        );
        std::fs::write(
            &p,
            format!(
                "default = \"a\"\n[[model]]\nname = \"a\"\nfile = \"a.gguf\"\nsha256 = \"{sha}\"\n"
            ),
        )
        .unwrap();
        let m = Manifest::load(&p).unwrap();
        let e = m.entry(None).unwrap();
        assert!(matches!(m.verified_file(e), Err(LlmError::Missing { .. })));
        std::fs::write(dir.path().join("a.gguf"), b"not a model").unwrap();
        let err = m.verified_file(e).unwrap_err().to_string();
        assert!(err.contains("refusing"), "{err}");
        assert!(m.entry(Some("zzz")).is_err());
    }
}
