//! Library errors. Messages name files, lines, rules and fields, never the
//! content of a record: an error message can end up in a log, and raw
//! identifiers must not.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("rule pack {file}{}: {msg}", rule.as_ref().map(|r| format!(", rule {r:?}")).unwrap_or_default())]
    Rules {
        file: String,
        rule: Option<String>,
        msg: String,
    },
    #[error("config: {0}")]
    Config(String),
    #[error("key store: {0}")]
    Key(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Why one input record could not be processed. The record is skipped and
/// reported; the others go on.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RecordError {
    #[error("invalid UTF-8 at byte {offset} of the line")]
    InvalidUtf8 { offset: usize },
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("record is not a JSON object")]
    NotObject,
    #[error("field {0:?} not found")]
    MissingField(String),
    #[error("field {path:?} is {found}, expected a string")]
    NotString { path: String, found: &'static str },
    #[error("record too large ({size} bytes, limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("{found} fields where the CSV header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("invalid UTF-8 in column {column} at byte {offset} of the field")]
    FieldUtf8 { column: usize, offset: usize },
    #[error("unterminated quoted field in column {column}")]
    UnterminatedQuote { column: usize },
    #[error("internal error while processing the record")]
    Panic,
    /// No rewrite passed the verifier; the message holds reason codes only.
    #[error("{0}")]
    Quarantined(String),
}
