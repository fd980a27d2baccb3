//! End-to-end tests of the `gdr` binary: every test runs the real built
//! executable over the sample inputs in `fixtures/` (or inputs generated in a
//! temporary directory), with `--state-dir` inside a fresh temp dir so no
//! test touches the user's key.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{BIN, contains_word, fixed_key, gdr};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Rewrite `records.jsonl` with the key in `state`.
fn rewrite_records(state: &Path) -> String {
    let input = fixture("records.jsonl");
    let o = gdr(
        state,
        &["rewrite", "--format", "jsonl", "--no-llm", path_str(&input)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    stdout(&o)
}

fn parse_lines(s: &str) -> Vec<Value> {
    s.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("output line {}: {e}: {l}", i + 1))
        })
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut d = u32::from(d - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 5 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let rearranged: Vec<u8> = b[4..].iter().chain(&b[..4]).copied().collect();
    let mut r = 0u32;
    for c in rearranged {
        let c = c.to_ascii_uppercase();
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r == 1
}

/// Identifiers planted in `fixtures/records.jsonl`: none may survive.
const RECORD_IDENTIFIERS: &[&str] = &[
    // names
    "Maria Garcia",
    "Garcia",
    "Jonas Weber",
    "Weber",
    "Priya Patel",
    "Patel",
    "Karl Strobel",
    "Strobel",
    "Emily Chen",
    "Tomasz Kowalski",
    "Kowalski",
    "Hannah Becker",
    "Becker",
    "Liam Brennan",
    "Brennan",
    // emails
    "maria.garcia@example.com",
    "aisha.okafor@mailbox.org",
    "t.kowalski@post.example.pl",
    "liam.brennan@example.co.uk",
    // phones
    "(415) 555-0132",
    "555-0132",
    "+44 20 7946 0958",
    "7946 0958",
    "212-555-0187",
    // card, IBAN, SSN, IP
    "4111 1111 1111 1111",
    "4111111111111111",
    "GB82WEST12345698765432",
    "12345698765432",
    "536-22-8174",
    "86.231.85.193",
    // street address
    "1600 Amphitheatre",
    "Amphitheatre Parkway",
];

// 1. Rewrite JSONL: structure preserved, identifiers gone, formats kept.
#[test]
fn rewrite_jsonl_replaces_identifiers_and_keeps_everything_else() {
    let state = tempfile::tempdir().unwrap();
    fixed_key(state.path());
    let input_text = std::fs::read_to_string(fixture("records.jsonl")).unwrap();
    let out = rewrite_records(state.path());

    let inputs = parse_lines(&input_text);
    let outputs = parse_lines(&out);
    assert_eq!(
        out.lines().count(),
        input_text.lines().count(),
        "line count changed:\n{out}"
    );
    assert_eq!(inputs.len(), 8);

    for (i, (a, b)) in inputs.iter().zip(&outputs).enumerate() {
        // Same keys in the same order.
        assert_eq!(keys(a), keys(b), "record {}: key order changed", i + 1);
        for k in keys(a) {
            if k == "text" {
                assert_ne!(a[&k], b[&k], "record {}: text not rewritten", i + 1);
                assert!(b[&k].is_string());
                continue;
            }
            // Equal as values (numbers compare by their digits with
            // arbitrary_precision) and byte-identical when serialised (so
            // nested key order and number spelling like 1.50, 12.000, -0.0 hold).
            assert_eq!(a[&k], b[&k], "record {}: field {k} changed", i + 1);
            assert_eq!(
                serde_json::to_string(&a[&k]).unwrap(),
                serde_json::to_string(&b[&k]).unwrap(),
                "record {}: field {k} not byte-identical",
                i + 1
            );
        }
    }
    // Spot check of the raw bytes of untouched numbers and nesting: the
    // value text of a field no path touches is copied verbatim (inner
    // spacing included); only the separators between top-level fields are
    // normalised.
    for raw in [
        r#""amount":1.50"#,
        r#""amount":12.000"#,
        r#""nested":{"a": {"b": [1, 2.50, -0.0]}}"#,
        r#""big":12345678901234567890"#,
        r#""weight_kg":2.250"#,
        r#""zz":"last-key-first","aa":"first-key-last""#,
        r#""list":[true, false, null, "x", 3.14159],"empty":{}"#,
        r#""id":"rec-003""#,
    ] {
        assert!(out.contains(raw), "{raw} missing from output:\n{out}");
    }

    // Each record's identifiers are gone from that record's output, as
    // whole words. (Not from the whole output: a surrogate may by chance be
    // a name another record holds, as "Karl Strobel" once became "Brennan
    // Niermann" next to a record of "Liam Brennan" under a random key. That
    // is no leak, but a check over the whole output failed on it.)
    for id in RECORD_IDENTIFIERS {
        let mut holders = 0;
        for (i, (a, b)) in inputs.iter().zip(&outputs).enumerate() {
            if a["text"].as_str().unwrap().contains(id) {
                holders += 1;
                let text = b["text"].as_str().unwrap();
                assert!(
                    !contains_word(text, id),
                    "record {}: identifier {id:?} survived the rewrite: {text}",
                    i + 1
                );
            }
        }
        // Another spelling of one ("4111111111111111" for a card written
        // with spaces, a phone's last digits): nowhere in the output.
        if holders == 0 {
            assert!(
                !out.contains(id),
                "identifier {id:?} survived the rewrite:\n{out}"
            );
        }
    }

    // The card surrogate keeps the format: 4 groups of 4 digits, Luhn-valid.
    let card_text = outputs[1]["text"].as_str().unwrap();
    let re = regex::Regex::new(r"\b\d{4} \d{4} \d{4} \d{4}\b").unwrap();
    let card = re
        .find(card_text)
        .unwrap_or_else(|| panic!("no 16-digit card in {card_text:?}"))
        .as_str();
    let digits: Vec<u8> = card.bytes().filter(u8::is_ascii_digit).collect();
    assert_eq!(digits.len(), 16, "{card}");
    assert!(
        luhn_valid(&digits),
        "surrogate card {card} is not Luhn-valid"
    );
    assert_ne!(digits, b"4111111111111111");

    // The IBAN surrogate keeps country and length (and its check digits).
    let iban_text = outputs[2]["text"].as_str().unwrap();
    let after = iban_text
        .split("IBAN ")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'IBAN ' in {iban_text:?}"));
    let iban: String = after
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert!(iban.starts_with("GB"), "IBAN surrogate {iban:?}");
    assert_eq!(iban.len(), "GB82WEST12345698765432".len(), "{iban:?}");
    assert_ne!(iban, "GB82WEST12345698765432");
    assert!(iban_valid(&iban), "IBAN surrogate {iban} fails mod 97");
}

// 1b. Numbers written with an exponent must also pass through byte for byte.
// The value comparisons in test 1 cannot see this (the test parses the input
// with the same serde_json, which normalises on both sides), so check the raw
// output. KNOWN FAILURE at the time of writing: serde_json (with
// arbitrary_precision) rewrites `1e3` as `1e+3` and `2.5E-3` as `2.5e-3`.
#[test]
fn exponent_numbers_pass_through_byte_identical() {
    let state = tempfile::tempdir().unwrap();
    let out = rewrite_records(state.path());
    let line2 = out.lines().nth(1).unwrap();
    for raw in [r#""amount":1e3,"#, r#""rate":2.5E-3,"#] {
        assert!(
            line2.contains(raw),
            "{raw} not passed through byte-identical: {line2}"
        );
    }
}

// 2. Same key, same output; new key, new surrogates.
#[test]
fn rewrite_is_deterministic_per_key() {
    let s1 = tempfile::tempdir().unwrap();
    let s2 = tempfile::tempdir().unwrap();
    let a = rewrite_records(s1.path());
    let b = rewrite_records(s1.path());
    assert_eq!(a, b, "same state dir, different output");
    let c = rewrite_records(s2.path());
    assert_ne!(a, c, "a new key produced the same surrogates");
    // Every record carries keyed pseudonyms, so every text must differ.
    for (i, (x, y)) in parse_lines(&a).iter().zip(parse_lines(&c)).enumerate() {
        assert_ne!(
            x["text"],
            y["text"],
            "record {}: same surrogates under two keys",
            i + 1
        );
    }
}

// 3. Key file is created 0600.
#[test]
fn key_file_is_created_private() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert!(!state.exists());
    rewrite_records(&state);
    let key = state.join("pseudonym.key");
    let meta = std::fs::metadata(&key).expect("pseudonym.key exists");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let dmode = std::fs::metadata(&state).unwrap().permissions().mode();
    assert_eq!(dmode & 0o077, 0, "state dir mode {:o}", dmode & 0o777);
}

// 4. Scan reports spans without values unless asked.
#[test]
fn scan_reports_spans_without_values() {
    let state = tempfile::tempdir().unwrap();
    let input = fixture("records.jsonl");
    let input_text = std::fs::read_to_string(&input).unwrap();
    let inputs = parse_lines(&input_text);

    let o = gdr(
        state.path(),
        &["scan", "--format", "jsonl", path_str(&input)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let recs = parse_lines(&out);
    assert_eq!(recs.len(), inputs.len(), "one scan line per record:\n{out}");
    let mut types = std::collections::BTreeSet::new();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["line"], Value::from(i + 1));
        assert_eq!(r["id"], inputs[i]["id"]);
        let spans = r["spans"].as_array().expect("spans array");
        assert!(!spans.is_empty(), "record {}: no spans", i + 1);
        let text = inputs[i]["text"].as_str().unwrap();
        for s in spans {
            for k in [
                "type",
                "start",
                "end",
                "char_start",
                "char_end",
                "score",
                "detector",
            ] {
                assert!(s.get(k).is_some(), "span lacks {k}: {s}");
            }
            assert!(s.get("value").is_none(), "value leaked: {s}");
            let (st, en) = (
                s["start"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            );
            assert!(st < en && en <= text.len(), "bad offsets {s}");
            // ASCII fixtures: char offsets equal byte offsets.
            assert_eq!(s["char_start"], s["start"]);
            assert_eq!(s["char_end"], s["end"]);
            let score = s["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{s}");
            types.insert(s["type"].as_str().unwrap().to_string());
        }
    }
    for t in [
        "PERSON",
        "EMAIL",
        "PHONE",
        "CREDIT_CARD",
        "IBAN",
        "US_SSN",
        "IP_ADDRESS",
    ] {
        assert!(types.contains(t), "no {t} span found; types: {types:?}");
    }
    for id in RECORD_IDENTIFIERS {
        assert!(!out.contains(id), "scan output leaks {id:?}:\n{out}");
    }

    // --show-values: the values appear and match the offsets.
    let o = gdr(
        state.path(),
        &[
            "scan",
            "--format",
            "jsonl",
            "--show-values",
            path_str(&input),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    for (i, r) in parse_lines(&out).iter().enumerate() {
        let text = inputs[i]["text"].as_str().unwrap();
        for s in r["spans"].as_array().unwrap() {
            let (st, en) = (
                s["start"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            );
            assert_eq!(s["value"].as_str(), Some(&text[st..en]), "{s}");
        }
    }
    for v in [
        "maria.garcia@example.com",
        "GB82WEST12345698765432",
        "536-22-8174",
        "86.231.85.193",
        "4111 1111 1111 1111",
    ] {
        assert!(out.contains(v), "--show-values output lacks {v:?}:\n{out}");
    }
}

// 5. Chat records: only message contents change.
#[test]
fn chat_field_path_rewrites_only_contents() {
    let state = tempfile::tempdir().unwrap();
    fixed_key(state.path());
    let input = fixture("chat.jsonl");
    let input_text = std::fs::read_to_string(&input).unwrap();
    let o = gdr(
        state.path(),
        &[
            "rewrite",
            "--format",
            "jsonl",
            "--no-llm",
            "--field",
            "messages[].content",
            path_str(&input),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let (ins, outs) = (parse_lines(&input_text), parse_lines(&out));
    assert_eq!(ins.len(), outs.len());
    for (a, b) in ins.iter().zip(&outs) {
        assert_eq!(keys(a), keys(b));
        // meta is untouched, even though it holds a name and an email.
        assert_eq!(
            serde_json::to_string(&a["meta"]).unwrap(),
            serde_json::to_string(&b["meta"]).unwrap()
        );
        let (ma, mb) = (
            a["messages"].as_array().unwrap(),
            b["messages"].as_array().unwrap(),
        );
        assert_eq!(ma.len(), mb.len());
        for (x, y) in ma.iter().zip(mb) {
            assert_eq!(keys(x), keys(y));
            assert_eq!(x["role"], y["role"]);
            if x["content"].is_null() {
                assert!(y["content"].is_null());
            }
        }
    }
    // System prompt has nothing personal: unchanged.
    assert_eq!(ins[0]["messages"][0], outs[0]["messages"][0]);
    // User and assistant contents lose their identifiers.
    for (r, m) in [(0, 1), (0, 2), (1, 0), (1, 1)] {
        let c = outs[r]["messages"][m]["content"].as_str().unwrap();
        for id in [
            "Sofia",
            "Rossi",
            "sofia.rossi@example.com",
            "4111 1111 1111 1111",
            "555-0132",
            "John Smith",
        ] {
            assert!(
                !contains_word(c, id),
                "messages[{m}] of record {r} keeps {id:?}: {c}"
            );
        }
    }
    // Consistency inside a record: the same person/email gets the same
    // surrogate in the user and assistant turns.
    let user = outs[0]["messages"][1]["content"].as_str().unwrap();
    let asst = outs[0]["messages"][2]["content"].as_str().unwrap();
    let email_re = regex::Regex::new(r"[\w.+-]+@[\w.-]+\.[a-z]{2,}").unwrap();
    let e1 = email_re.find(user).map(|m| m.as_str());
    let e2 = email_re.find(asst).map(|m| m.as_str());
    assert!(e1.is_some(), "email surrogate missing: {user}");
    assert_eq!(e1, e2, "email surrogate differs between turns");
    // The raw meta strings survive byte for byte.
    assert!(out.contains(r#""user": "Sofia Rossi""#), "{out}");
    assert!(
        out.contains(r#""email": "john.smith@example.com""#),
        "{out}"
    );
    assert!(out.contains(r#""rating": 4.50"#), "{out}");
}

/// `bad.jsonl`: good lines 1, 2, 8, 10; bad lines 3 (invalid UTF-8),
/// 4 (malformed JSON), 5 (no `text`), 6 (`text` is a number); 7 empty and 9
/// whitespace only (skipped, not errors; no report entry). Every bad line carries raw
/// personal data that must never reach stderr.
fn bad_jsonl() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(br#"{"id":1,"text":"Contact Maria Garcia at maria.garcia@example.com"}"#);
    b.push(b'\n');
    b.extend_from_slice(br#"{"id":2,"text":"Nothing personal here."}"#);
    b.push(b'\n');
    b.extend_from_slice(b"{\"id\":3,\"text\":\"Karl Strobel \xff\xfe karl.strobel@example.de\"}\n");
    b.extend_from_slice(br#"{"id":4,"text":"Jonas Weber jonas.weber@example.com" "#);
    b.push(b'\n');
    b.extend_from_slice(br#"{"id":5,"body":"Priya Patel priya.patel@example.com"}"#);
    b.push(b'\n');
    b.extend_from_slice(br#"{"id":6,"text":4111111111111111}"#);
    b.push(b'\n');
    b.push(b'\n');
    b.extend_from_slice(br#"{"id":8,"text":"Call (415) 555-0132 please."}"#);
    b.push(b'\n');
    b.extend_from_slice(b"   \n");
    b.extend_from_slice(br#"{"id":10,"text":"All done.","n":1.50}"#);
    b.push(b'\n');
    b
}

// 6. Bad records are skipped and reported by line, without content.
#[test]
fn bad_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(&input, bad_jsonl()).unwrap();
    let report = dir.path().join("report.jsonl");
    let o = gdr(
        &dir.path().join("state"),
        &[
            "rewrite",
            "--format",
            "jsonl",
            "--no-llm",
            "--report",
            path_str(&report),
            path_str(&input),
        ],
        None,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");

    let out = stdout(&o);
    let ids: Vec<Value> = parse_lines(&out).iter().map(|v| v["id"].clone()).collect();
    assert_eq!(ids, [1, 2, 8, 10].map(Value::from), "stdout:\n{out}");
    assert!(out.contains(r#"{"id":2,"text":"Nothing personal here."}"#));
    assert!(out.contains(r#""n":1.50"#));

    let expect = [
        (3, "invalid UTF-8"),
        (4, "malformed JSON"),
        (5, "field \"text\" not found"),
        (6, "expected a string"),
    ];
    for (line, reason) in expect {
        let tag = format!(":{line}:");
        let l = err
            .lines()
            .find(|l| l.contains(&tag))
            .unwrap_or_else(|| panic!("stderr does not name line {line}:\n{err}"));
        assert!(
            l.contains(reason),
            "line {line}: want {reason:?}, got {l:?}"
        );
    }
    for line in [1, 2, 7, 8, 9, 10] {
        assert!(
            !err.contains(&format!(":{line}:")),
            "line {line} reported as bad:\n{err}"
        );
    }
    assert!(err.contains("4 of"), "summary missing:\n{err}");
    for raw in [
        "Karl",
        "Strobel",
        "karl.strobel",
        "Jonas",
        "Weber",
        "jonas.weber",
        "Priya",
        "Patel",
        "priya.patel",
        "4111111111111111",
        "Maria",
        "555-0132",
    ] {
        assert!(!err.contains(raw), "stderr leaks {raw:?}:\n{err}");
    }

    let rep_text = std::fs::read_to_string(&report).unwrap();
    let rep = parse_lines(&rep_text);
    let mut by_line: Vec<(u64, String)> = rep
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("report line number"),
                r["status"].as_str().expect("report status").to_string(),
            )
        })
        .collect();
    by_line.sort();
    let want: Vec<(u64, String)> = [
        (1, "ok"),
        (2, "ok"),
        (3, "error"),
        (4, "error"),
        (5, "error"),
        (6, "error"),
        (8, "ok"),
        (10, "ok"),
    ]
    .iter()
    .map(|(l, s)| (*l, s.to_string()))
    .collect();
    assert_eq!(by_line, want, "report:\n{rep_text}");
    for r in &rep {
        if r["status"] == "error" {
            assert!(
                r["error"].as_str().is_some_and(|e| !e.is_empty()),
                "error entry without reason: {r}"
            );
        }
    }
    for raw in [
        "Strobel",
        "Weber",
        "Patel",
        "4111111111111111",
        "Garcia",
        "555-0132",
    ] {
        assert!(!rep_text.contains(raw), "report leaks {raw:?}:\n{rep_text}");
    }
}

// 7. Hard negatives pass through unchanged.
#[test]
fn hard_negatives_are_untouched() {
    let state = tempfile::tempdir().unwrap();
    let input = fixture("hard_negatives.txt");
    let original = std::fs::read(&input).unwrap();
    let o = gdr(
        state.path(),
        &["rewrite", "--format", "text", "--no-llm", path_str(&input)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    if o.stdout != original {
        let got = String::from_utf8_lossy(&o.stdout);
        let orig = String::from_utf8_lossy(&original);
        let diffs: Vec<String> = orig
            .lines()
            .zip(got.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  - {a}\n  + {b}"))
            .collect();
        panic!(
            "hard negatives changed ({} of {} lines):\n{}",
            diffs.len(),
            orig.lines().count(),
            diffs.join("\n")
        );
    }
}

/// `gdr rewrite --format text --no-llm` of a fixture under a fixed key:
/// its output, after checking that it exited 0.
fn rewrite_text_fixture(name: &str) -> String {
    let state = tempfile::tempdir().unwrap();
    fixed_key(state.path());
    let input = fixture(name);
    let o = gdr(
        state.path(),
        &["rewrite", "--format", "text", "--no-llm", path_str(&input)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    stdout(&o)
}

// 8. Plain text keeps its layout and loses its identifiers.
#[test]
fn text_note_keeps_layout() {
    let original = std::fs::read_to_string(fixture("note.txt")).unwrap();
    let out = rewrite_text_fixture("note.txt");
    assert_eq!(
        out.lines().count(),
        original.lines().count(),
        "line count changed:\n{out}"
    );
    assert!(out.ends_with('\n'));
    // Blank lines stay exactly where they were; headings stay.
    for (i, (a, b)) in original.lines().zip(out.lines()).enumerate() {
        assert_eq!(a.is_empty(), b.is_empty(), "line {}: {a:?} -> {b:?}", i + 1);
    }
    for keep in [
        "Clinical note - follow-up visit",
        "Home address:",
        "Kind regards,",
    ] {
        assert!(out.contains(keep), "{keep:?} lost:\n{out}");
    }
    for id in [
        "Karl",
        "Strobel",
        "karl.strobel@example.de",
        "(415) 555-0132",
        "555-0132",
        "Hannah",
        "Becker",
        "212-555-0187",
        "hannah.becker@clinic.example.org",
        "Emily Chen",
        "221 Baker Street",
    ] {
        assert!(!contains_word(&out, id), "{id:?} survived:\n{out}");
    }
}

/// A support ticket's identifiers that only a cue right before them
/// names: a login in prose, a password and a PIN given in a sentence, a
/// seven- or eight-digit local phone number, long and letter-prefixed
/// claim numbers, vehicle and device identifiers, the user of an SSH
/// key, and a connection string's password that holds an @. The
/// sentences that name none stay, and so does the key itself.
#[test]
fn a_tickets_cued_identifiers_are_rewritten() {
    let out = rewrite_text_fixture("ticket.txt");
    for id in [
        "bob.smith",
        "10.2.3.4",
        "Hunter2024",
        "4417",
        "4471923",
        "88104417",
        "2291884",
        "CLM-2291-884",
        "1HGCM82633A004352",
        "KX19 PLO",
        "490154203237518",
        "S3cr3tP@ss",
        "S3cr3tP",
        "bsmith77",
        "kpatel",
    ] {
        assert!(!contains_word(&out, id), "{id:?} survived:\n{out}");
    }
    for keep in [
        "Subject: cannot log in since Monday",
        "Ticket #48213: user ",
        "@db.internal:5432/prod",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ",
        "@laptop\n",
        "/profile HTTP/1.1 200, then GET /users/me 200.",
        "The password is incorrect, the PIN is wrong, and the password must be 8-16 characters.",
        "In case CVE-2021-44228 is exploited, see ticket INC-0042313.",
    ] {
        assert!(out.contains(keep), "{keep:?} lost:\n{out}");
    }
}

/// Letters in French, German and Italian lose their names and phone
/// numbers (a French number needs no cue) and keep their ordinary words:
/// "les" before a French noun, "leider", "Damen und Herren", "Grazie
/// mille" were persons, and "les" then became a surname everywhere.
#[test]
fn european_letters_keep_their_words() {
    let out = rewrite_text_fixture("letters_eu.txt");
    for id in [
        "01 42 68 53 00",
        "06.12.34.56.78",
        "030 1234 5678",
        "Julien",
        "Moreau",
        "Karl",
        "Becker",
        "Giulia",
        "Romano",
    ] {
        assert!(!contains_word(&out, id), "{id:?} survived:\n{out}");
    }
    for keep in [
        "Les chiffres du trimestre montrent une baisse. Nous avons reçu les factures hier, \
         mais les montants ne correspondent pas. Pouvez-vous vérifier les remboursements? \
         Merci de nous appeler au ",
        "Sehr geehrte Damen und Herren, leider ist meine Bestellung nicht angekommen.",
        "Ciao, ho ricevuto la fattura ma l'importo è sbagliato. Grazie mille, ",
    ] {
        assert!(out.contains(keep), "{keep:?} lost:\n{out}");
    }
}

#[test]
fn contains_word_matches_whole_words_only() {
    assert!(contains_word("Dear Karl,", "Karl"));
    assert!(contains_word("Karl", "Karl"));
    assert!(contains_word("x Karl Strobel y", "Karl Strobel"));
    assert!(!contains_word("Karlshamn", "Karl"));
    assert!(!contains_word("Calixta Karls", "Karl"));
    assert!(!contains_word("MKarl", "Karl"));
    assert!(!contains_word("Dr. Karl-Friedrich Kester", "Karl"));
    assert!(contains_word("Karl's file", "Karl"));
    assert!(contains_word("(415) 555-0132", "555-0132"));
    // A whole-word hit after a part-word one is still found.
    assert!(contains_word("Karls and Karl", "Karl"));
    assert!(contains_word("call 555-0132.", "555-0132"));
}

// 9. Streaming: ~50 MB through a pipe, one output line per input line.
#[test]
fn streaming_50mb_through_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let mut n = 0usize;
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        let mut written = 0usize;
        let names = ["Maria Garcia", "Jonas Weber", "Priya Patel", "Karl Strobel"];
        while written < 50 << 20 {
            let line = format!(
                r#"{{"id":{n},"text":"Ticket {n}: {} wrote from user{n}@example.com about order ORD-{n:06} and asked for a call on (415) 555-{:04}. The rest of this message is ordinary prose about shipping delays and refunds.","n":{n}.50}}"#,
                names[n % names.len()],
                n % 10000
            );
            w.write_all(line.as_bytes()).unwrap();
            w.write_all(b"\n").unwrap();
            written += line.len() + 1;
            n += 1;
        }
        w.flush().unwrap();
    }
    let start = std::time::Instant::now();
    let mut child = Command::new(BIN)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["rewrite", "--format", "jsonl", "--no-llm"])
        .stdin(Stdio::from(std::fs::File::open(&input).unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut count = 0usize;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // Spot-check order and well-formedness without parsing every line.
        if count.is_multiple_of(5000) {
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["id"], Value::from(count), "output out of order");
            let email = format!("user{count}@example.com");
            assert!(!line.contains(&email), "{line}");
        }
        count += 1;
    }
    let status = child.wait().unwrap();
    let err = err_thread.join().unwrap();
    eprintln!(
        "streamed {n} records ({} MB) in {:.1?}",
        std::fs::metadata(&input).unwrap().len() >> 20,
        start.elapsed()
    );
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(count, n, "line count mismatch");
}

// 10. Rule packs and config validation.
#[test]
fn rules_check_passes() {
    let state = tempfile::tempdir().unwrap();
    let o = gdr(state.path(), &["rules"], None);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains(" 0 example failures"), "{}", stderr(&o));
}

#[test]
fn config_with_unknown_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(&cfg, "[detect]\nthreshhold = 0.5\n").unwrap();
    let o = gdr(
        &dir.path().join("state"),
        &[
            "--config",
            path_str(&cfg),
            "rewrite",
            "--format",
            "jsonl",
            "--no-llm",
        ],
        Some(br#"{"text":"hi"}"#),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("threshhold"),
        "error does not name the key: {err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn broken_rule_pack_is_rejected_naming_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("broken.toml"),
        "[pack]\nname = \"broken\"\n\n[[rules]]\nid = \"ok_rule\"\nentity = \"CUSTOM\"\npatterns = ['\\bPRJ-\\d{4}\\b']\nscore = 0.9\n\n[[rules]]\nid = \"unclosed_group\"\nentity = \"CUSTOM\"\npatterns = ['(abc']\nscore = 0.9\n",
    )
    .unwrap();
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(
        &cfg,
        format!("[detect]\nrules_dir = {:?}\n", path_str(&rules)),
    )
    .unwrap();
    let o = gdr(
        &dir.path().join("state"),
        &["--config", path_str(&cfg), "rules"],
        None,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("broken.toml"), "file not named: {err}");
    assert!(err.contains("unclosed_group"), "rule id not named: {err}");
    assert!(!err.contains("\"ok_rule\""), "wrong rule blamed: {err}");
}

/// A record that panics (feature `failpoints`, src/failpoint.rs) is
/// skipped and reported by line like any bad record; the others are
/// written, the exit code says a record was lost, and the panic message
/// (which quotes the record) never reaches stderr.
#[cfg(feature = "failpoints")]
#[test]
fn panicking_record_is_skipped_and_reported_by_line() {
    const MARKER: &str = "PANIC-MARKER-7f3a";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        format!(
            "{{\"id\":1,\"text\":\"Call Karl Strobel today\"}}\n\
             {{\"id\":2,\"text\":\"Karl Strobel {MARKER}\"}}\n\
             {{\"id\":3,\"text\":\"mail karl@example.com\"}}\n"
        ),
    )
    .unwrap();
    let report = dir.path().join("report.jsonl");
    let o = common::output(
        common::command(&dir.path().join("state"), &["rewrite", "--format", "jsonl"])
            .args(["--no-llm", "--report"])
            .arg(&report)
            .arg(&input)
            .env("GDR_FAILPOINTS", format!("record={MARKER}")),
        None,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    let ids: Vec<Value> = parse_lines(&stdout(&o))
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, [1, 3].map(Value::from));
    let bad = err
        .lines()
        .find(|l| l.contains(":2:"))
        .unwrap_or_else(|| panic!("stderr does not name line 2:\n{err}"));
    assert!(bad.contains("internal error"), "{bad}");
    assert!(err.contains("gdr: panic in thread"), "{err}");
    assert!(
        !err.contains("Strobel") && !err.contains(MARKER) && !err.contains("fired on"),
        "record content on stderr:\n{err}"
    );
    let rep = std::fs::read_to_string(&report).unwrap();
    let row = parse_lines(&rep)
        .into_iter()
        .find(|r| r["line"] == 2)
        .unwrap_or_else(|| panic!("line 2 not in the report:\n{rep}"));
    assert_eq!(row["status"], "error");
    assert!(!rep.contains(MARKER), "{rep}");
}

/// A rules-only scan detects JSONL records in batches. A record that
/// panics in detection (failpoint `detect`) still costs only itself: the
/// batch is done again one record at a time, every other record's line is
/// written in order, bad lines are named as always, and nothing of the
/// record reaches stderr. One thread (batches of 256) and three (batches
/// of 32) give the same.
#[cfg(feature = "failpoints")]
#[test]
fn scan_batch_with_a_panicking_record_loses_only_that_record() {
    const MARKER: &str = "PANIC-MARKER-9c1e";
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    for i in 0..300 {
        if i == 150 {
            input.extend_from_slice(
                format!("{{\"id\":\"p\",\"text\":\"Karl Strobel {MARKER}\"}}\n").as_bytes(),
            );
        }
        if i == 40 {
            input.extend_from_slice(&bad_jsonl());
        }
        input.extend_from_slice(
            format!(
                "{{\"id\":\"r{i}\",\"text\":\"Mail karl{i}@example.com or call Maria Garcia\"}}\n"
            )
            .as_bytes(),
        );
    }
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, &input).unwrap();
    let run = |threads: &str| {
        common::output(
            common::command(&dir.path().join("state"), &["scan", "--format", "jsonl"])
                .args(["--no-llm", "--threads", threads])
                .arg(&path)
                .env("GDR_FAILPOINTS", format!("detect={MARKER}")),
            None,
        )
    };
    let one = run("1");
    let err = stderr(&one);
    assert_eq!(one.status.code(), Some(1), "stderr: {err}");
    let lines = parse_lines(&stdout(&one));
    let ids: Vec<Value> = lines.iter().map(|v| v["id"].clone()).collect();
    let mut want: Vec<Value> = (0..40).map(|i| Value::from(format!("r{i}"))).collect();
    want.extend([1, 2, 8, 10].map(Value::from));
    want.extend((40..300).map(|i| Value::from(format!("r{i}"))));
    assert_eq!(ids, want);
    // Each of these records' email and name found.
    for l in lines.iter().filter(|l| l["id"].is_string()) {
        assert_eq!(common::span_types(l), ["EMAIL", "PERSON"], "{l}");
    }
    let panicked = 150 + 10 + 1;
    let bad = err
        .lines()
        .find(|l| l.contains(&format!(":{panicked}:")))
        .unwrap_or_else(|| panic!("stderr does not name line {panicked}:\n{err}"));
    assert!(bad.contains("internal error"), "{bad}");
    for (line, reason) in [
        (43, "invalid UTF-8"),
        (44, "malformed JSON"),
        (45, "not found"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!(":{line}:")) && l.contains(reason)),
            "line {line} ({reason}) not named:\n{err}"
        );
    }
    assert!(err.contains("5 of 309 records failed"), "{err}");
    assert!(
        !err.contains("Strobel") && !err.contains(MARKER) && !err.contains("karl"),
        "record content on stderr:\n{err}"
    );
    let three = run("3");
    assert_eq!(three.status.code(), one.status.code());
    assert_eq!(stdout(&three), stdout(&one));
    assert_eq!(
        common::record_lines(&stderr(&three)),
        common::record_lines(&err)
    );
    assert_eq!(common::record_lines(&err).len(), 6, "{err}");
}

/// A rules-only JSONL scan writes a batch's lines straight from the
/// detected spans, borrowing each field's location and text (`scan_line`
/// in src/main.rs); a batch that panics is done again one record at a time
/// the plain way (`jsonl_record`, `FieldAcc`). Both give the same lines:
/// escapes, code-point offsets past non-ASCII text, several and nested
/// fields, null and missing array fields, `--show-values` and
/// `--min-score`.
#[cfg(feature = "failpoints")]
#[test]
fn batched_scan_lines_match_the_record_by_record_ones() {
    const MARKER: &str = "PANIC-MARKER-5d2a";
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    for i in 0..20 {
        input.push_str(&format!(
            concat!(
                r#"{{"id":"r{i}","text":"Mail karl{i}@example.com \u2014 Mar\u00eda Garc\u00eda "#,
                r#"\u260e (415) 555-0132, \"Jonas Weber\"\nIBAN GB82WEST12345698765432","#,
                r#""meta":{{"note":"Priya Patel at priya{i}@example.com"}},"#,
                r#""messages":[{{"content":"hi Ann Smith"}},{{"content":null}},{{"role":"x"}},"#,
                r#"{{"content":"Sofia Rossi \u00e9 sofia@example.com"}}]}}"#,
                "\n"
            ),
            i = i
        ));
        input.push_str(&format!(
            "{{\"id\":{i}.50,\"te\\u0078t\":\"J\u{f6}rg M\u{fc}ller john{i}@x.com\",\"meta\":{{\"note\":null}},\"messages\":[]}}\n"
        ));
    }
    input.push_str(&format!(
        "{{\"id\":\"p\",\"text\":\"Karl Strobel {MARKER}\",\"meta\":{{\"note\":\"\"}},\"messages\":[]}}\n"
    ));
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, &input).unwrap();
    for extra in [&[][..], &["--show-values", "--min-score", "0.1"][..]] {
        let run = |armed: bool| {
            let mut cmd =
                common::command(&dir.path().join("state"), &["scan", "--format", "jsonl"]);
            cmd.args(["--no-llm", "--threads", "1"])
                .args(["--field", "text", "--field", "meta.note"])
                .args(["--field", "messages[].content"])
                .args(extra)
                .arg(&path);
            if armed {
                cmd.env("GDR_FAILPOINTS", format!("detect={MARKER}"));
            }
            common::output(&mut cmd, None)
        };
        let batched = stdout(&run(false));
        let plain = stdout(&run(true));
        let batched: Vec<&str> = batched.lines().collect();
        let plain: Vec<&str> = plain.lines().collect();
        // Armed, the marked record (the last) fails; every other line is
        // the one record-by-record processing writes.
        assert_eq!(batched.len(), 41, "{extra:?}");
        assert_eq!(plain, batched[..40], "{extra:?}");
        assert!(batched[0].contains(r#""char_start""#), "{}", batched[0]);
    }
}

// Records of a window run on several threads (rules only): the output,
// the report and the errors are those of one thread, in input order,
// across several windows.
#[test]
fn threads_give_the_one_thread_output() {
    let dir = tempfile::tempdir().unwrap();
    let records = std::fs::read(fixture("records.jsonl")).unwrap();
    let mut input = Vec::new();
    // 60 copies of the fixture (480 records) with the bad lines spread in:
    // more than one window at 3 threads (192 records each).
    for _ in 0..20 {
        input.extend_from_slice(&records);
        input.extend_from_slice(&bad_jsonl());
        input.extend_from_slice(&records);
        input.extend_from_slice(&records);
    }
    let path = dir.path().join("many.jsonl");
    std::fs::write(&path, &input).unwrap();
    let run = |threads: &str| {
        let report = dir.path().join(format!("report.{threads}.jsonl"));
        let o = gdr(
            dir.path(),
            &[
                "rewrite",
                "--format",
                "jsonl",
                "--no-llm",
                "--threads",
                threads,
                "--report",
                path_str(&report),
                path_str(&path),
            ],
            None,
        );
        (o, std::fs::read_to_string(report).unwrap())
    };
    let (one, report_one) = run("1");
    let (three, report_three) = run("3");
    assert_eq!(one.status.code(), Some(1), "bad records make it exit 1");
    assert_eq!(three.status.code(), one.status.code());
    assert!(stdout(&one).lines().count() > 400);
    assert_eq!(stdout(&three), stdout(&one));
    assert_eq!(report_three, report_one);
    assert_eq!(stderr(&three), stderr(&one));
}

/// Paragraphs of a window run on several threads (rules only): output,
/// report, stderr and exit status are those of one thread, in input order
/// and layout, across several windows, unreadable paragraphs included.
#[test]
fn text_threads_give_the_one_thread_output() {
    let dir = tempfile::tempdir().unwrap();
    let note = std::fs::read(fixture("note.txt")).unwrap();
    let mut input = Vec::new();
    // 80 copies of the note, every fifth followed by a paragraph that is
    // not UTF-8 and extra blank lines: several windows at 3 threads.
    for i in 0..80 {
        input.extend_from_slice(&note);
        input.extend_from_slice(b"\n\n");
        if i % 5 == 0 {
            input.extend_from_slice(b"caf\xe9 au lait\n\n\n\n");
        }
    }
    let path = dir.path().join("many.txt");
    std::fs::write(&path, &input).unwrap();
    for mode in ["scan", "rewrite"] {
        let run = |threads: &str| {
            let report = dir.path().join(format!("report.{mode}.{threads}.jsonl"));
            let mut args = vec![mode, "--format", "text", "--no-llm", "--threads", threads];
            args.push(path_str(&path));
            if mode == "rewrite" {
                args.extend(["--report", path_str(&report)]);
            }
            let o = gdr(dir.path(), &args, None);
            (o, std::fs::read_to_string(&report).unwrap_or_default())
        };
        let (one, report_one) = run("1");
        let (three, report_three) = run("3");
        assert_eq!(
            one.status.code(),
            Some(1),
            "{mode}: bad paragraphs make it exit 1"
        );
        assert_eq!(three.status.code(), one.status.code(), "{mode}");
        assert!(stdout(&one).len() > 10_000, "{mode}");
        assert_eq!(stdout(&three), stdout(&one), "{mode}");
        assert_eq!(report_three, report_one, "{mode}");
        assert_eq!(stderr(&three), stderr(&one), "{mode}");
        assert_eq!(stderr(&one).matches("record skipped").count(), 16, "{mode}");
    }
}

/// A rewrite replaces the identifier and nothing around it: institution
/// names used to be found with the space after them, so the surrogate
/// swallowed it ("at the Ardmorein 1990").
#[test]
fn rewrite_keeps_the_space_after_an_institution() {
    let dir = tempfile::tempdir().unwrap();
    let input = "She studied at the University of Vienna in 1990.\n\
                 The appeal went to the Court of Cassation on Monday.\n";
    let o = gdr(
        dir.path(),
        &["rewrite", "--format", "text", "--no-llm"],
        Some(input.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert!(!contains_word(&out, "Vienna"), "{out}");
    assert!(!contains_word(&out, "Cassation"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with(" in 1990."), "{out}");
    assert!(lines[1].ends_with(" on Monday."), "{out}");
}

/// What an identifier sits in survives its rewrite: a chat transcript's
/// role label is no login ("user: can" lost its "can"), "employee ID"
/// keeps its "ID" (the capitals "ID E" were taken for a name and merged
/// into the number), and an address's ordinals and units stay ordinals and
/// units ("3rd" became "3hendon", "4B" "4Aguinaldo").
#[test]
fn rewrite_keeps_labels_ordinals_and_units_readable() {
    let dir = tempfile::tempdir().unwrap();
    let input = "user: can you help me write to my landlord?\n\
                 Kwame Mensah (employee ID E-20931) starts Monday.\n\
                 He lives at 123 3rd Street, Apt 4B, Toronto ON M5H 2M9.\n\
                 My username is jdoe_1987.\n";
    let o = gdr(
        dir.path(),
        &["rewrite", "--format", "text", "--no-llm"],
        Some(input.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "user: can you help me write to my landlord?",
        "{out}"
    );
    assert!(lines[1].contains("(employee ID "), "{out}");
    assert!(!lines[1].contains("E-20931"), "{out}");
    // Whole words: the key is fresh on every run, and a surrogate may hold
    // an original's letters ("K9Q 4B8" holds "4B").
    for gone in [
        "Mensah",
        "123 3rd Street",
        "Apt 4B,",
        "M5H 2M9",
        "jdoe_1987",
    ] {
        assert!(!out.contains(gone), "{gone} in {out}");
    }
    // "191 6th Street, Apt 7Y": an ordinal with its ending, a unit of a
    // digit and a capital.
    let addr = lines[2];
    let words: Vec<&str> = addr.split_whitespace().collect();
    let ordinal = words[4];
    let n: u32 = ordinal
        .trim_end_matches(char::is_alphabetic)
        .parse()
        .unwrap();
    let want = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    assert!(ordinal.ends_with(want), "{addr}");
    let unit = words[7].trim_end_matches(',');
    assert!(
        unit.len() == 2
            && unit.as_bytes()[0].is_ascii_digit()
            && unit.as_bytes()[1].is_ascii_uppercase(),
        "{addr}"
    );
}

/// A chat record whose first message mentions a reference number that the
/// second introduces by its label ("MRN"), and whose third repeats the
/// name, the number and the admission date without any context.
const CHAT_MEMORY: &str = r#"{"id":"c1","messages":[{"role":"user","content":"Before we start: ref 447-1923 is mine."},{"role":"user","content":"I am Dana Whitlock, MRN 4471923, admitted 11/20/2026."},{"role":"assistant","content":"Thanks whitlock. Record 4471923, note from 11/20/2026 14:32."}]}"#;

/// The messages of the rewrite of [`CHAT_MEMORY`] under the config `cfg`.
fn chat_memory_rewrite(dir: &Path, cfg: &str) -> Vec<String> {
    chat_rewrite(dir, cfg, CHAT_MEMORY)
}

/// The message contents of the rewrite of the one chat record `chat`
/// (`--field 'messages[].content'`) under the config `cfg`.
fn chat_rewrite(dir: &Path, cfg: &str, chat: &str) -> Vec<String> {
    let cfg_path = dir.join("gdr.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let o = gdr(
        dir,
        &[
            "--config",
            path_str(&cfg_path),
            "rewrite",
            "--format",
            "jsonl",
            "--no-llm",
            "--field",
            "messages[].content",
        ],
        Some(chat.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

/// Identifiers found in one message of a chat are removed from the other
/// messages too, before or after it (document memory), and get the same
/// surrogate there; `scan` reports those mentions (detector `memory`).
/// With `[detect] memory = false` the context-free repeats are kept, as
/// they were before: the memory is what removes them.
#[test]
fn identifiers_found_in_one_message_are_removed_from_the_others() {
    let dir = tempfile::tempdir().unwrap();
    fixed_key(dir.path());
    let msgs = chat_memory_rewrite(dir.path(), "");
    for m in &msgs {
        for id in ["4471923", "447-1923", "Whitlock", "whitlock", "11/20/2026"] {
            assert!(!contains_word(m, id), "{id:?} kept: {msgs:?}");
        }
    }
    // The number has one surrogate in both messages that spell it alike.
    let seven = regex::Regex::new(r"\b\d{7}\b").unwrap();
    let in_msg = |i: usize| seven.find(&msgs[i]).map(|m| m.as_str().to_string());
    assert!(in_msg(1).is_some(), "{msgs:?}");
    assert_eq!(in_msg(1), in_msg(2), "{msgs:?}");

    let off = chat_memory_rewrite(dir.path(), "[detect]\nmemory = false\n");
    assert!(contains_word(&off[0], "447-1923"), "{off:?}");
    assert!(contains_word(&off[2], "4471923"), "{off:?}");

    let o = gdr(
        dir.path(),
        &[
            "scan",
            "--format",
            "jsonl",
            "--no-llm",
            "--field",
            "messages[].content",
        ],
        Some(CHAT_MEMORY.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let recalled: Vec<(String, String)> = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["detector"] == "memory")
        .map(|s| {
            (
                s["field"].as_str().unwrap().to_string(),
                s["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("messages[0].content", "ID"),
        ("messages[2].content", "PERSON"),
        ("messages[2].content", "ID"),
    ] {
        assert!(
            recalled.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {recalled:?}"
        );
    }
    assert!(
        !stdout(&o).contains("4471923"),
        "no values without --show-values"
    );
}

/// In a text file, a paragraph is searched for the identifiers of the
/// paragraphs before it: the same output on one thread and on three.
#[test]
fn text_paragraphs_remember_the_identifiers_before_them() {
    let dir = tempfile::tempdir().unwrap();
    fixed_key(dir.path());
    let mut doc = String::from(
        "Patient: Dana Whitlock, MRN 4471923, admitted 11/20/2026.\n\n\
         Seen again today.\n\n",
    );
    // Far enough down to be in a later window on three threads.
    for i in 0..300 {
        doc.push_str(&format!("Paragraph {i} about the treatment plan.\n\n"));
    }
    doc.push_str("Signed 11/20/2026 14:32. whitlock to call about 4471923.\n");
    let run = |threads: &str| {
        let o = gdr(
            dir.path(),
            &[
                "rewrite",
                "--format",
                "text",
                "--no-llm",
                "--threads",
                threads,
            ],
            Some(doc.as_bytes()),
        );
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        stdout(&o)
    };
    let one = run("1");
    let last = one.trim_end().lines().last().unwrap();
    for id in ["4471923", "whitlock", "11/20/2026"] {
        assert!(!contains_word(last, id), "{id:?} kept: {last}");
    }
    assert_eq!(run("3"), one);
}

/// Tags are numbered per record, not per field: `[PERSON_1]` is the same
/// person in every message of a chat.
#[test]
fn tags_are_numbered_across_the_messages_of_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let chat = r#"{"messages":[{"role":"user","content":"I am Dana Whitlock."},{"role":"assistant","content":"Hello John Smith and Dana Whitlock."}]}"#;
    let msgs = chat_rewrite(dir.path(), "[policy.ops]\nPERSON = \"tag\"\n", chat);
    assert_eq!(
        msgs,
        vec!["I am [PERSON_1].", "Hello [PERSON_2] and [PERSON_1]."]
    );
}

/// A person named in full once and by a word elsewhere in the same
/// message or in another message of the record: every bare mention is
/// rewritten, a sentence opened by the person as its subject too, and the
/// word becomes the same word of the full name's pseudonym (a surname
/// that the lists also hold as a given name, such as "Ford", was rendered
/// as a given name before: another person in the rewrite).
#[test]
fn a_person_named_by_one_word_takes_the_full_names_pseudonym() {
    let dir = tempfile::tempdir().unwrap();
    let chat = r#"{"messages":[{"role":"assistant","content":"Ford, your refund is approved."},{"role":"user","content":"I spoke to Mark Ford today. Ford said it was fine. Mark the date."},{"role":"assistant","content":"Thanks. Ford will get an email."}]}"#;
    let msgs = chat_rewrite(dir.path(), "", chat);
    // Read by the fixed text around them: a surrogate may be more than
    // one word ("van Nederlotharingen"), and the key is a fresh one.
    let last = msgs[0]
        .strip_suffix(", your refund is approved.")
        .unwrap_or_else(|| panic!("{msgs:?}"));
    let full = msgs[1]
        .strip_prefix("I spoke to ")
        .and_then(|m| m.split_once(" today."))
        .map(|(name, _)| name)
        .unwrap_or_else(|| panic!("{msgs:?}"));
    assert_ne!(last, "Ford", "{msgs:?}");
    assert!(full.ends_with(&format!(" {last}")), "{msgs:?}");
    assert!(!full.starts_with("Mark"), "{msgs:?}");
    assert!(msgs[1].contains(&format!(" {last} said it")), "{msgs:?}");
    assert!(msgs[1].ends_with("Mark the date."), "{msgs:?}");
    assert_eq!(msgs[2], format!("Thanks. {last} will get an email."));
}
