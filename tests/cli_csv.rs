//! `gdr scan|rewrite --format csv` end to end: the real binary over
//! `fixtures/records.csv` (one malformed row: five fields under a six-column
//! header) and generated inputs, rules only, key in a fresh temp dir.

use gdr::formats::csv::Reader;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{contains_word, fixed_key, gdr};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/records.csv")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Header and rows (values) of CSV bytes; panics on any bad record, so
/// output that is not valid CSV fails the test.
fn parse(data: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = Reader::new(data, 1 << 20);
    let head = r.read_header().unwrap().unwrap().result.unwrap();
    let mut rows = Vec::new();
    while let Some(item) = r.next_record().unwrap() {
        let row = item
            .result
            .unwrap_or_else(|e| panic!("output line {}: {e}", item.line));
        rows.push(row.values().to_vec());
    }
    (head.values().to_vec(), rows)
}

/// Identifiers in the fixture's `notes` column.
const NOTE_IDENTIFIERS: &[&str] = &[
    "Maria Garcia",
    "maria.garcia@example.com",
    "555-0132",
    "4111 1111 1111 1111",
    "Jonas Weber",
    "GB82WEST12345698765432",
    "Priya",
    "Patel",
    "aisha.okafor@mailbox.org",
    "86.231.85.193",
];

#[test]
fn rewrite_changes_only_selected_columns_and_skips_the_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    fixed_key(dir.path());
    let input = std::fs::read(fixture()).unwrap();
    let report = dir.path().join("report.jsonl");
    let o = gdr(
        dir.path(),
        &[
            "rewrite",
            "--format",
            "csv",
            "--column",
            "notes",
            "--no-llm",
            "--report",
            report.to_str().unwrap(),
            fixture().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("records.csv:6: 5 fields where the CSV header has 6; record skipped"),
        "{err}"
    );
    assert!(err.contains("1 of 5 records failed"), "{err}");
    assert!(!err.contains("Strobel"), "no record content in messages");

    // The header comes back byte for byte.
    let first_line = |b: &[u8]| b.split(|&c| c == b'\n').next().unwrap().to_vec();
    assert_eq!(first_line(&o.stdout), first_line(&input));
    let (head_in, rows_in) = {
        // The fixture minus its malformed row, parsed for comparison.
        let text = String::from_utf8(input.clone()).unwrap();
        let good: String = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("4,"))
            .collect();
        parse(good.as_bytes())
    };
    let (head, rows) = parse(&o.stdout);
    assert_eq!(head, head_in);
    assert_eq!(rows.len(), 4);
    let notes = head.iter().position(|h| h == "notes").unwrap();
    for (out, inp) in rows.iter().zip(&rows_in) {
        for (i, (a, b)) in out.iter().zip(inp).enumerate() {
            if i != notes {
                assert_eq!(a, b, "column {} must pass through", head[i]);
            }
        }
        assert_ne!(out[notes], inp[notes]);
        // Each row's own identifiers, as whole words: a surrogate may by
        // chance be, or hold, a name another row has.
        for id in NOTE_IDENTIFIERS
            .iter()
            .filter(|id| inp[notes].contains(*id))
        {
            assert!(
                !contains_word(&out[notes], id),
                "{id} survived: {}",
                out[notes]
            );
        }
    }
    for id in NOTE_IDENTIFIERS {
        assert!(
            rows_in.iter().any(|r| r[notes].contains(id)),
            "{id} is in no kept row of the fixture"
        );
    }
    // The multi-line quoted note keeps its line break, escaped quotes and
    // comma, re-quoted validly.
    assert!(rows[2][notes].contains('\n') && rows[2][notes].contains("\"thanks, "));
    // `contact` was not selected: its identifiers are untouched.
    assert_eq!(rows[0][3], "maria.garcia@example.com");

    let rep = std::fs::read_to_string(&report).unwrap();
    let rep: Vec<Value> = rep
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rep.len(), 5);
    assert_eq!(rep[3]["status"], "error");
    assert_eq!(rep[3]["line"], 6);
    assert_eq!(rep[0]["id"], "1");
    let fields: Vec<&str> = rep[0]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(!fields.is_empty() && fields.iter().all(|f| *f == "notes"));
}

#[test]
fn a_column_without_identifiers_passes_through_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::fs::read_to_string(fixture()).unwrap();
    let o = gdr(
        dir.path(),
        &[
            "rewrite", "--format", "csv", "--column", "agent", "--no-llm",
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let expected: String = input
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("4,"))
        .collect();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), expected);
}

#[test]
fn scan_reports_columns_and_record_lines_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdr(
        dir.path(),
        &[
            "scan",
            "--format",
            "csv",
            "--column",
            "notes",
            "--column",
            "contact",
            "--no-llm",
            fixture().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let recs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = recs.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4, 7], "a record's first line");
    assert_eq!(recs[2]["id"], "3");
    let types = |r: &Value, field: &str| -> Vec<String> {
        r["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["field"] == field)
            .map(|s| s["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(types(&recs[0], "notes").contains(&"EMAIL".to_string()));
    assert!(types(&recs[0], "contact").contains(&"EMAIL".to_string()));
    assert!(types(&recs[2], "notes").contains(&"IBAN".to_string()));
    assert!(types(&recs[3], "contact").is_empty(), "empty field");
    for id in NOTE_IDENTIFIERS {
        assert!(!out.contains(id), "{id} in scan output");
    }
}

#[test]
fn crlf_invalid_utf8_and_config_columns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gdr.toml");
    std::fs::write(&cfg, "[csv]\ncolumns = [\"note\"]\n").unwrap();
    let data =
        b"n,note\r\n1,Call Maria Garcia on (415) 555-0132\r\n2,bad \xff byte\r\n3,nothing here\r\n";
    let o = gdr(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "rewrite",
            "--format",
            "csv",
            "--no-llm",
        ],
        Some(data),
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "<stdin>:3: invalid UTF-8 in column 2 at byte 4 of the field; record skipped"
        ),
        "{}",
        stderr(&o)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(lines[0], "n,note\r\n");
    assert!(lines[1].starts_with("1,Call ") && !lines[1].contains("Maria"));
    assert_eq!(lines[2], "3,nothing here\r\n");

    // A column the header lacks is a usage error, before any output.
    let o = gdr(
        dir.path(),
        &["rewrite", "--format", "csv", "--column", "body", "--no-llm"],
        Some(data),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("column \"body\" is not in the CSV header (columns: n, note)"),
        "{}",
        stderr(&o)
    );

    // A header that is not valid CSV text stops the job: nothing to map
    // columns to.
    let o = gdr(
        dir.path(),
        &["scan", "--format", "csv", "--no-llm"],
        Some(b"id,te\xffxt\n1,a\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("<stdin>:1: CSV header: invalid UTF-8 in column 2"),
        "{}",
        stderr(&o)
    );
    // --column with another format is a usage error, not silently ignored.
    let o = gdr(
        dir.path(),
        &["scan", "--format", "jsonl", "--column", "text", "--no-llm"],
        Some(b"{\"text\":\"a\"}\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--column applies to --format csv"));
}

#[test]
fn oversized_records_are_skipped_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(5000);
    let data = format!("id,text\n1,\"{big}\n{big}\"\n2,Jonas Weber\n");
    let o = gdr(
        dir.path(),
        &[
            "rewrite",
            "--format",
            "csv",
            "--no-llm",
            "--max-record-bytes",
            "4096",
        ],
        Some(data.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("<stdin>:2: record too large (10006 bytes, limit 4096)"),
        "{}",
        stderr(&o)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("id,text\n2,") && !out.contains("Weber"),
        "{out}"
    );
}

/// Rows of a window run on several threads (rules only): output, report,
/// stderr and exit status are those of one thread, in input order, across
/// several windows, bad rows included.
#[test]
fn threads_give_the_one_thread_output() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(fixture()).unwrap();
    let (head, rows) = fixture.split_once('\n').unwrap();
    // 120 copies of the rows (the malformed one each time): more than one
    // window at 3 threads (192 rows each).
    let mut input = format!("{head}\n");
    for _ in 0..120 {
        input.push_str(rows);
    }
    let path = dir.path().join("many.csv");
    std::fs::write(&path, &input).unwrap();
    let path = path.to_str().unwrap();
    for mode in ["scan", "rewrite"] {
        let run = |threads: &str| {
            let report = dir.path().join(format!("report.{mode}.{threads}.jsonl"));
            let mut args = vec![mode, "--format", "csv", "--no-llm", "--threads", threads];
            args.extend(["--column", "notes", "--column", "contact", path]);
            if mode == "rewrite" {
                args.extend(["--report", report.to_str().unwrap()]);
            }
            let o = gdr(dir.path(), &args, None);
            (o, std::fs::read_to_string(report).unwrap_or_default())
        };
        let (one, report_one) = run("1");
        let (three, report_three) = run("3");
        assert_eq!(
            one.status.code(),
            Some(1),
            "{mode}: the bad rows make it exit 1"
        );
        assert_eq!(three.status.code(), one.status.code(), "{mode}");
        assert!(one.stdout.len() > 10_000, "{mode}");
        assert_eq!(three.stdout, one.stdout, "{mode}");
        assert_eq!(report_three, report_one, "{mode}");
        assert_eq!(stderr(&three), stderr(&one), "{mode}");
        assert_eq!(
            stderr(&one).matches("record skipped").count(),
            120,
            "{mode}"
        );
    }
}

/// A rules-only CSV scan detects rows in batches, as JSONL records. A row
/// that panics in detection (failpoint `detect`) still costs only itself:
/// the batch is done again one row at a time, every other row's line is
/// written in order with its spans, malformed rows are named as always,
/// and nothing of the row reaches stderr. One thread (batches of 256) and
/// three (batches of 32) give the same.
#[cfg(feature = "failpoints")]
#[test]
fn scan_batch_with_a_panicking_row_loses_only_that_row() {
    const MARKER: &str = "PANIC-MARKER-5b7d";
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::from("id,notes,other\n");
    for i in 0..300 {
        if i == 150 {
            input.push_str(&format!("p,Karl Strobel {MARKER},x\n"));
        }
        if i == 40 {
            // Two fields under a three-column header.
            input.push_str("bad,only two\n");
        }
        input.push_str(&format!(
            "r{i},Mail karl{i}@example.com or call Maria Garcia,x\n"
        ));
    }
    let path = dir.path().join("in.csv");
    std::fs::write(&path, &input).unwrap();
    let run = |threads: &str| {
        let mut cmd = common::command(
            &dir.path().join("state"),
            &["scan", "--format", "csv", "--column", "notes", "--no-llm"],
        );
        cmd.args(["--threads", threads])
            .arg(&path)
            .env("GDR_FAILPOINTS", format!("detect={MARKER}"));
        common::output(&mut cmd, None)
    };
    let one = run("1");
    let err = stderr(&one);
    assert_eq!(one.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<Value> = String::from_utf8(one.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
    assert_eq!(ids, want);
    for l in &lines {
        assert_eq!(common::span_types(l), ["EMAIL", "PERSON"], "{l}");
    }
    // Header on line 1, rows 0..39 on 2..41, the bad row on 42.
    assert!(
        err.lines()
            .any(|l| l.contains(":42:") && l.contains("record skipped")),
        "{err}"
    );
    let panicked = 150 + 3;
    let bad = err
        .lines()
        .find(|l| l.contains(&format!(":{panicked}:")))
        .unwrap_or_else(|| panic!("stderr does not name line {panicked}:\n{err}"));
    assert!(bad.contains("internal error"), "{bad}");
    assert!(
        !err.contains("Strobel") && !err.contains(MARKER) && !err.contains("karl"),
        "row content on stderr:\n{err}"
    );
    let three = run("3");
    assert_eq!(three.status.code(), one.status.code());
    assert_eq!(three.stdout, one.stdout);
    assert_eq!(
        common::record_lines(&stderr(&three)),
        common::record_lines(&err)
    );
}

/// The selected columns of one row share their identifiers: a name and a
/// number found in one column are removed from another that repeats them
/// without context. With `[detect] memory = false` they are kept.
#[test]
fn columns_of_a_row_share_their_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    fixed_key(dir.path());
    let input =
        b"id,name,mrn,notes\n1,Dana Whitlock,MRN 4471923,whitlock called about case 4471923\n";
    let cfg = dir.path().join("gdr.toml");
    let run = |config: &str| {
        std::fs::write(&cfg, config).unwrap();
        let o = gdr(
            dir.path(),
            &[
                "--config",
                cfg.to_str().unwrap(),
                "rewrite",
                "--format",
                "csv",
                "--column",
                "name",
                "--column",
                "mrn",
                "--column",
                "notes",
                "--no-llm",
            ],
            Some(input),
        );
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let out = run("");
    assert!(!out.to_lowercase().contains("whitlock"), "{out}");
    assert!(!out.contains("4471923"), "{out}");
    assert!(out.contains(" called about case "), "{out}");
    let off = run("[detect]\nmemory = false\n");
    assert!(off.contains("whitlock called about case 4471923"), "{off}");
}
