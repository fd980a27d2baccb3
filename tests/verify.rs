//! The verifier on its mutation set and on the real sentence encoder, and
//! the CLI's `verify` command and quarantine behaviour. No mocks: the
//! embedding tests load all-MiniLM-L6-v2 (models/fetch.sh) through
//! llama.cpp, the CLI tests run the built binary.

use gdr::config::Config;
use gdr::llm::embed::Embedder;
use gdr::pipeline::Pipeline;
use gdr::verify::mutate::{self, Class, Pair};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

fn pipeline() -> Pipeline {
    Pipeline::with_key(&Config::default(), &[9u8; 32]).unwrap()
}

/// Every text of the fixtures: JSONL `text` fields and chat message
/// contents, the paragraphs of the text note.
fn fixture_texts() -> Vec<String> {
    let mut out = Vec::new();
    for name in ["records.jsonl", "chat.jsonl"] {
        for line in std::fs::read_to_string(fixture(name)).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v["text"].as_str() {
                out.push(t.to_string());
            }
            for m in v["messages"].as_array().into_iter().flatten() {
                if let Some(t) = m["content"].as_str() {
                    out.push(t.to_string());
                }
            }
        }
    }
    let note = std::fs::read_to_string(fixture("note.txt")).unwrap();
    out.extend(
        note.split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    );
    out
}

fn paraphrase_pairs(p: &Pipeline) -> Vec<Pair> {
    std::fs::read_to_string(fixture("paraphrases.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let sur: Vec<(String, String)> = v["surrogates"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, s)| (k.clone(), s.as_str().unwrap().to_string()))
                .collect();
            mutate::paraphrase_pair(
                p,
                v["original"].as_str().unwrap(),
                v["rewrite"].as_str().unwrap(),
                &sur,
            )
        })
        .collect()
}

#[test]
fn every_leak_mutant_is_rejected_for_a_leak() {
    let p = pipeline();
    let mut pairs: Vec<Pair> = fixture_texts()
        .iter()
        .map(|t| mutate::deterministic_pair(&p, t).expect("fixture quarantined"))
        .collect();
    pairs.extend(paraphrase_pairs(&p));
    let cases = mutate::cases(&p, &pairs);
    let mut n = [0usize; 3];
    let mut failed = [0usize; 3];
    for c in &cases {
        let v = mutate::verify_case(&p, c, false).unwrap();
        if c.class.is_leak() {
            n[0] += 1;
            // Rejected because of the leak, not by chance of another check.
            let leak_reason = v
                .reasons
                .iter()
                .any(|r| r.starts_with("leak_") || r.starts_with("unplanned_"));
            assert!(
                !v.accept && leak_reason,
                "{:?} mutant of pair {} accepted or rejected without a leak reason: {:?}\n{}",
                c.class,
                c.source,
                v.reasons,
                c.rewrite
            );
        } else if c.class.is_meaning() {
            n[1] += 1;
            failed[1] += v.accept as usize;
        } else if c.class.should_accept() {
            n[2] += 1;
            failed[2] += !v.accept as usize;
            // A deterministic rewrite the pipeline committed passes again.
            if c.class == Class::Good {
                assert!(
                    v.accept,
                    "good rewrite {} rejected: {:?}",
                    c.source, v.reasons
                );
            }
        }
    }
    assert!(n[0] >= 20, "only {} leak mutants", n[0]);
    assert!(n[1] >= 20, "only {} meaning mutants", n[1]);
    // Targets: meaning mutants >= 90 % rejected, good rewrites >= 95 %
    // accepted (without the embedding step, which only adds rejections).
    assert!(
        failed[1] * 10 <= n[1],
        "{} of {} meaning mutants accepted",
        failed[1],
        n[1]
    );
    assert!(
        failed[2] * 20 <= n[2],
        "{} of {} good rewrites rejected",
        failed[2],
        n[2]
    );
}

fn embedder() -> Embedder {
    Embedder::load(&root().join("models/manifest.toml"), None, 2)
        .expect("run models/fetch.sh first")
}

#[test]
fn sentence_encoder_separates_paraphrase_from_changed_meaning() {
    // DESIGN.md: all-MiniLM-L6-v2 gave ~0.96 for a paraphrase, ~0.49 for a
    // changed meaning, ~0.1 or less for unrelated text.
    let e = embedder();
    assert_eq!(e.dim, 384);
    assert_eq!(e.model_name, "all-minilm-l6-v2");
    let base = "The patient was diagnosed with pneumonia and prescribed amoxicillin for ten days.";
    let para = e
        .similarity(
            base,
            "The patient received a diagnosis of pneumonia and was given amoxicillin for ten days.",
        )
        .unwrap();
    let changed = e
        .similarity(
            base,
            "The patient was diagnosed with a broken arm and prescribed rest for ten days.",
        )
        .unwrap();
    let unrelated = e
        .similarity(
            base,
            "The quarterly budget meeting moved to Thursday afternoon.",
        )
        .unwrap();
    assert!(para > 0.9, "paraphrase {para}");
    assert!(changed < 0.7, "changed meaning {changed}");
    assert!(unrelated < 0.3, "unrelated {unrelated}");
    // Vectors are unit length; the same text twice is identical.
    let v = e.embed(&[base, base]).unwrap();
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    assert_eq!(v[0], v[1]);
    // Texts longer than the 512-token context are embedded in windows: one
    // sentence changed in a long text barely moves it, an unrelated long
    // text is far.
    let long: Vec<&str> = std::iter::repeat_n(base, 60).collect();
    let mut edited = long.clone();
    edited[30] =
        "The patient received a diagnosis of pneumonia and was given amoxicillin for ten days.";
    let other: Vec<&str> = std::iter::repeat_n(
        "The quarterly budget meeting moved to Thursday afternoon.",
        60,
    )
    .collect();
    let s = e.similarity(&long.join(" "), &edited.join(" ")).unwrap();
    assert!(s > 0.95, "long text, one sentence paraphrased: {s}");
    let s = e.similarity(&long.join(" "), &other.join(" ")).unwrap();
    assert!(s < 0.5, "unrelated long texts: {s}");
}

#[test]
fn the_embedding_step_rejects_a_fluent_meaning_change() {
    // Numbers, negations and names all kept: only the meaning moved, which
    // only the encoder sees.
    let p = pipeline().with_embedder(embedder());
    let o = "The committee approved the budget for the new library after a long debate.";
    let v = p.verify_pair(
        o,
        "The committee rejected the plan for a new stadium after a short vote.",
        None,
        Some(&[]),
        true,
    );
    assert!(
        v.reasons.contains(&"similarity".to_string()),
        "{:?}",
        v.reasons
    );
    assert!(v.scores.similarity.unwrap() < 0.8);
    let v = p.verify_pair(
        o,
        "After a long debate, the committee approved the budget for the new library.",
        None,
        Some(&[]),
        true,
    );
    assert!(v.accept, "{:?}", v.reasons);
    assert!(v.scores.similarity.unwrap() > 0.9);
}

fn gdr(state: &Path, args: &[&str], stdin: &[u8]) -> Output {
    common::gdr(state, args, Some(stdin))
}

#[test]
fn verify_command_prints_a_verdict_per_line_and_skips_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let input = concat!(
        r#"{"id": "a", "original": "Call Karl Strobel at 555-201-7788 today.", "rewrite": "Call Karl Strobel at 555-201-7788 today."}"#,
        "\n",
        r#"{"id": "b", "original": "Call Karl Strobel at 555-201-7788 today.", "rewrite": "Call Jon Bell at 555-404-1234 today.", "surrogates": ["Jon Bell", "555-404-1234"]}"#,
        "\n",
        r#"{"id": "c", "original": "secret text", "rewrite": 3}"#,
        "\n",
        r#"{"id": "d", "original": "We did not pay 3 bills.", "rewrite": "We did pay 3 bills.", "spans": []}"#,
        "\n",
    );
    let o = gdr(dir.path(), &["verify", "--no-embed"], input.as_bytes());
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>:3:"), "{err}");
    assert!(!err.contains("secret"), "record content in an error: {err}");
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["verdict"], "reject");
    let reasons: Vec<&str> = lines[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"leak_exact:PERSON"), "{reasons:?}");
    assert!(reasons.contains(&"leak_exact:PHONE"), "{reasons:?}");
    assert_eq!(lines[1]["verdict"], "accept", "{}", lines[1]);
    assert_eq!(lines[2]["id"], "d");
    assert_eq!(lines[2]["reasons"][0], "negation_dropped");
    assert!(lines[2]["scores"]["content_recall"].as_f64().is_some());
    // Nothing raw in the verdicts.
    let all = serde_json::to_string(&lines).unwrap();
    assert!(!all.contains("Strobel") && !all.contains("7788"));
}

#[test]
fn quarantined_records_are_withheld_and_named() {
    let dir = tempfile::tempdir().unwrap();
    // No repair: a mention the plan misses quarantines the record.
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(&cfg, "[verify]\nrepair = false\nembed = false\n").unwrap();
    let q = dir.path().join("quarantine.jsonl");
    let rep = dir.path().join("report.jsonl");
    let input = concat!(
        r#"{"id": 1, "text": "Contact Maria Gonzalez today. The file lists gonzalez as owing nothing."}"#,
        "\n",
        r#"{"id": 2, "text": "Patient Karl Strobel was seen today."}"#,
        "\n",
    );
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "rewrite",
        "--format",
        "jsonl",
        "--no-llm",
        "--quarantine",
        q.to_str().unwrap(),
        "--report",
        rep.to_str().unwrap(),
    ];
    let o = gdr(dir.path(), &args, input.as_bytes());
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("\"id\": 2") || out.contains("\"id\":2"),
        "{out}"
    );
    assert!(!out.to_lowercase().contains("gonzalez"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("<stdin>:1: quarantined (text: leak_token:PERSON)"),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("gonzalez"), "{err}");
    // The input record, unchanged, in the quarantine file.
    let held = std::fs::read_to_string(&q).unwrap();
    assert_eq!(held.lines().next().unwrap(), input.lines().next().unwrap());
    let reports: Vec<Value> = std::fs::read_to_string(&rep)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports[0]["decision"], "quarantine");
    assert_eq!(reports[0]["status"], "quarantined");
    assert_eq!(reports[0]["checks"][0]["verdict"], "reject");
    assert_eq!(reports[1]["decision"], "commit");
    assert_eq!(reports[1]["checks"][0]["stage"], "deterministic");
    assert!(reports[1]["checks"][0]["scores"]["leaks"].as_u64() == Some(0));

    // With repair (the default) the same record is committed, repaired.
    std::fs::write(&cfg, "[verify]\nembed = false\n").unwrap();
    let o = gdr(dir.path(), &args, input.as_bytes());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(!out.to_lowercase().contains("gonzalez"), "{out}");
}

#[test]
fn a_quarantined_paragraph_is_withheld_from_text_output() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(&cfg, "[verify]\nrepair = false\nembed = false\n").unwrap();
    let input = "Contact Maria Gonzalez today.\nThe file lists gonzalez as owing nothing.\n\nPatient Karl Strobel was seen today.\n";
    let o = gdr(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "rewrite",
            "--format",
            "text",
            "--no-llm",
        ],
        input.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.to_lowercase().contains("gonzalez"), "{out}");
    assert!(out.contains("was seen today."), "{out}");
    assert!(!out.contains("Strobel"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>:1: quarantined"), "{err}");
}

#[test]
fn a_quarantined_csv_row_is_withheld_and_kept_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(&cfg, "[verify]\nrepair = false\nembed = false\n").unwrap();
    let q = dir.path().join("held.csv");
    let input = "id,text\r\n1,\"Contact Maria Gonzalez today. The file lists gonzalez as owing nothing.\"\r\n2,Patient Karl Strobel was seen today.\r\n";
    let o = gdr(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "rewrite",
            "--format",
            "csv",
            "--no-llm",
            "--quarantine",
            q.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).unwrap();
    // The header and row 2 (rewritten); row 1 withheld.
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("id,text\r\n"), "{out}");
    assert!(!out.to_lowercase().contains("gonzalez"), "{out}");
    assert!(
        out.contains("was seen today.") && !out.contains("Strobel"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>:2: quarantined"), "{err}");
    // The row as read, byte for byte, in the quarantine file.
    let held = std::fs::read_to_string(&q).unwrap();
    assert_eq!(held, input.split_inclusive("\r\n").nth(1).unwrap());
}
