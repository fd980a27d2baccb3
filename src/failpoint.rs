//! Fault injection for tests: panic on purpose, for one chosen record or
//! job. Compiled only with the `failpoints` cargo feature; in normal builds
//! [`hit`] is an empty inline function (no check, no environment read).
//!
//! Why it exists: the CLI and the daemon wrap every record (and the daemon
//! every job) in `catch_unwind`, so that a bug one input triggers costs that
//! input and nothing else. No valid input is meant to panic, so without a
//! way to make one panic that promise would go untested, and a refactor
//! that dropped a guard would go unnoticed. The integration tests build gdr
//! with `--features failpoints` and arm a failpoint through the environment:
//!
//! `GDR_FAILPOINTS="NAME=MARKER[;NAME=MARKER...]"`
//!
//! makes failpoint NAME panic when its subject contains MARKER (an empty
//! marker never fires). The failpoints:
//!
//! - `record`: [`crate::pipeline::Pipeline::rewrite_with`], subject the
//!   record's text. Every entry point (CLI, drop folder, socket API)
//!   rewrites through it, so one failpoint covers them all.
//! - `job`: the start of a daemon job, outside the per-record guard,
//!   subject the job's name (the file name).
//! - `detect`: [`crate::detect::Detector::resolve`], subject the text. A
//!   rules-only `gdr scan` detects JSONL records in batches; this one
//!   proves that a panic in a batch still costs only its record.

/// Panic if failpoint `name` is armed with a marker that `subject`
/// contains.
///
/// The panic message quotes the subject on purpose: std's own panics do the
/// same (a bad string slice prints the string), so the tests also prove
/// that the panic hook never lets a panic message (record content) reach
/// stderr.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str, subject: &str) {
    use std::sync::OnceLock;
    static ARMED: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| parse(&std::env::var("GDR_FAILPOINTS").unwrap_or_default()));
    if fires(armed, name, subject) {
        panic!("failpoint {name} fired on {subject:?}");
    }
}

/// Whether `name` is armed with a non-empty marker found in `subject`.
#[cfg(feature = "failpoints")]
fn fires(armed: &[(String, String)], name: &str, subject: &str) -> bool {
    armed
        .iter()
        .any(|(n, m)| n == name && !m.is_empty() && subject.contains(m.as_str()))
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str, _subject: &str) {}

/// `NAME=MARKER` pairs separated by `;`; pairs without `=` are ignored.
#[cfg(feature = "failpoints")]
fn parse(spec: &str) -> Vec<(String, String)> {
    spec.split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(n, m)| (n.trim().to_string(), m.to_string()))
        .collect()
}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs() {
        assert_eq!(
            parse("record=BOOM; job=bad-file;junk"),
            vec![
                ("record".to_string(), "BOOM".to_string()),
                ("job".to_string(), "bad-file".to_string())
            ]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn fires_only_for_its_name_and_marker() {
        let armed = parse("record=BOOM;job=;other=x");
        assert!(fires(&armed, "record", "a BOOM here"));
        assert!(!fires(&armed, "record", "a boom here"), "case-sensitive");
        assert!(!fires(&armed, "job", "BOOM"), "another failpoint's marker");
        assert!(
            !fires(&armed, "job", "anything"),
            "empty marker never fires"
        );
        assert!(!fires(&[], "record", "BOOM"), "unarmed");
    }
}
