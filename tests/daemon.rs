//! `gdr serve` end to end: the real binary (rules only, `--no-llm`) in a
//! temp state dir, the real socket, a real HTTP client (hyper), real files.

use gdr::daemon::client::{Reply, request};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gdr");

struct Daemon {
    child: Option<Child>,
    dir: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, config: Option<&str>) -> Daemon {
        Self::start_env(dir, config, &[])
    }

    fn start_env(dir: &Path, config: Option<&str>, env: &[(&str, &Path)]) -> Daemon {
        Self::start_opts(dir, config, env, true)
    }

    fn start_opts(dir: &Path, config: Option<&str>, env: &[(&str, &Path)], no_llm: bool) -> Daemon {
        let mut cmd = Command::new(BIN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.arg("--state-dir").arg(dir);
        if let Some(c) = config {
            let p = dir.with_extension("toml");
            std::fs::write(&p, c).unwrap();
            cmd.arg("--config").arg(p);
        }
        cmd.arg("serve");
        if no_llm {
            cmd.arg("--no-llm");
        }
        cmd.env("GDR_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Self::launch(cmd, dir)
    }

    /// Spawn `cmd` (a `gdr ... serve` for state dir `dir`) and wait until
    /// the socket answers.
    fn launch(mut cmd: Command, dir: &Path) -> Daemon {
        let child = cmd.spawn().expect("spawn gdr serve");
        let d = Daemon {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        let t = Instant::now();
        loop {
            if let Ok(r) = d.req("GET", "/v1/health", None, Vec::new())
                && r.status != 0
            {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
        d
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("gdr.sock")
    }

    fn req(
        &self,
        method: &str,
        uri: &str,
        ct: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        request(&self.sock(), method, uri, ct, body).map_err(|e| e.to_string())
    }

    fn get(&self, uri: &str) -> Reply {
        self.req("GET", uri, None, Vec::new()).unwrap()
    }

    fn post_json(&self, uri: &str, v: &Value) -> Reply {
        self.req(
            "POST",
            uri,
            Some("application/json"),
            v.to_string().into_bytes(),
        )
        .unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM and wait; returns the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let mut c = self.child.take().unwrap();
        wait_exit(&mut c, 30).expect("daemon did not stop")
    }

    fn kill9(mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The child's exit status once it exits, or None after `secs`.
fn wait_exit(c: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return Some(st);
        }
        if t.elapsed() >= Duration::from_secs(secs) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Drop a file the way producers should: write NAME.part, rename.
fn drop_file(inbox: &Path, name: &str, data: &[u8]) {
    let part = inbox.join(format!("{name}.part"));
    std::fs::write(&part, data).unwrap();
    std::fs::rename(&part, inbox.join(name)).unwrap();
}

fn job_states(d: &Daemon) -> BTreeMap<String, i64> {
    let v = d.get("/v1/health").json().unwrap();
    v["jobs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect()
}

fn files(dir: &Path) -> BTreeSet<String> {
    gdr::daemon::watch::list_files(dir).into_iter().collect()
}

fn all_files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

const PII: &str = "Karl Strobel";

#[test]
fn api_endpoints_limits_and_path_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let root = tmp.path().join("data");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        root.join("in.txt"),
        format!("Call {PII} on 555-867-5309.\n"),
    )
    .unwrap();
    std::fs::write(outside.join("secret.txt"), "x\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link.txt")).unwrap();
    let cfg = format!(
        "[daemon]\nallowed_roots = [{:?}]\nmax_request_bytes = 65536\n",
        root.display().to_string()
    );
    let d = Daemon::start(&dir, Some(&cfg));

    // The socket is 0660.
    let mode = std::fs::metadata(d.sock()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);

    let h = d.get("/v1/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json().unwrap()["status"], "ok");

    // Sync rewrite, text and records.
    let r = d.post_json(
        "/v1/rewrite",
        &json!({"text": format!("Ask {PII}, karl@example.com")}),
    );
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    let out = v["text"].as_str().unwrap();
    assert!(
        !out.contains("Strobel") && !out.contains("karl@example.com"),
        "{out}"
    );
    assert_eq!(v["path"], "deterministic");
    assert!(
        v["entities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["fingerprint"].is_string())
    );
    let r = d.post_json(
        "/v1/rewrite",
        &json!({"records": [{"id": 7, "text": "mail karl@example.com", "n": 1e3}, {"other": 1}]}),
    );
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    assert_eq!(v["records"][0]["id"], 7);
    assert!(!v["records"][0]["text"].as_str().unwrap().contains("karl@"));
    assert_eq!(v["records"][1], Value::Null);
    assert_eq!(v["errors"][0]["index"], 1);

    // The messages of a chat record share their identifiers (document
    // memory): the number labelled in one is found in the other, in the
    // rewrite and in the scan.
    let chat = json!({"records": [{"messages": [
        {"role": "user", "content": "MRN 4471923, Dana Whitlock here."},
        {"role": "assistant", "content": "Thanks whitlock, record 4471923 is open."}
    ]}], "fields": ["messages[].content"]});
    let r = d.post_json("/v1/rewrite", &chat);
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body).to_lowercase();
    assert!(
        !body.contains("4471923") && !body.contains("whitlock"),
        "{body}"
    );
    let r = d.post_json("/v1/scan", &chat);
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    let spans = v["records"][0]["spans"].as_array().unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s["field"] == "messages[1].content" && s["detector"] == "memory"),
        "{v}"
    );

    // Scan: offsets, no values.
    let text = "mail karl@example.com";
    let r = d.post_json("/v1/scan", &json!({"text": text}));
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    let s = &v["spans"][0];
    assert_eq!(s["type"], "EMAIL");
    assert_eq!(
        &text[s["start"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize],
        "karl@example.com"
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("karl@"));

    // Scan of records: per record its index and spans (field, byte and
    // code-point offsets), or its error; no values either way.
    let r = d.post_json(
        "/v1/scan",
        &json!({"records": [
            {"id": 1, "text": "Zoë wrote: karl@example.com"},
            {"id": 2, "body": "no text field"}
        ]}),
    );
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    assert_eq!(v["records"][0]["index"], 0);
    let spans = v["records"][0]["spans"].as_array().unwrap();
    let email = spans.iter().find(|s| s["type"] == "EMAIL").unwrap();
    assert_eq!(email["field"], "text");
    assert_eq!(
        (email["start"].as_u64(), email["end"].as_u64()),
        (Some(12), Some(28))
    );
    // "ë" is two bytes, one code point.
    assert_eq!(
        (email["char_start"].as_u64(), email["char_end"].as_u64()),
        (Some(11), Some(27))
    );
    assert_eq!(v["records"][1]["index"], 1);
    assert!(v["records"][1]["error"].is_string(), "{v}");
    assert!(v["records"][1].get("spans").is_none(), "{v}");
    assert!(!String::from_utf8_lossy(&r.body).contains("karl@"));

    // Malformed JSON, wrong shape, unknown endpoint: 4xx without echoing content.
    let r = d
        .req(
            "POST",
            "/v1/rewrite",
            Some("application/json"),
            br#"{"text": "Karl Strobel"#.to_vec(),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(!String::from_utf8_lossy(&r.body).contains("Strobel"));
    let r = d.post_json("/v1/scan", &json!({"text": 5}));
    assert_eq!(r.status, 400);
    let r = d.post_json("/v1/scan", &json!({"text": "a", "records": []}));
    assert_eq!(r.status, 400);
    assert_eq!(d.get("/v1/nope").status, 404);

    // Oversized request.
    let big = json!({"text": "a".repeat(70_000)});
    let r = d.post_json("/v1/rewrite", &big);
    assert_eq!(r.status, 413);

    // Async jobs: upload, by path, refusals.
    let r = d
        .req(
            "POST",
            "/v1/jobs?name=up.txt",
            Some("application/octet-stream"),
            format!("Hello {PII}.\n").into_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 202);
    let up = r.json().unwrap()["id"].as_i64().unwrap();
    // An upload name cannot climb out of outbox/.
    let r = d.post_json(
        "/v1/jobs",
        &json!({"name": "../../escape.txt", "content": "hi\n"}),
    );
    assert_eq!(r.status, 202);
    let esc = r.json().unwrap()["id"].as_i64().unwrap();
    wait_until("escape job final", 30, || {
        d.get(&format!("/v1/jobs/{esc}")).json().unwrap()["state"] == "committed"
    });
    let j = d.get(&format!("/v1/jobs/{esc}")).json().unwrap();
    assert_eq!(j["output"]["path"], format!("outbox/api/{esc}-escape.txt"));
    assert!(!tmp.path().join("escape.txt").exists() && !dir.join("escape.txt").exists());
    let r = d.post_json("/v1/jobs", &json!({"path": root.join("in.txt")}));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let by_path = r.json().unwrap()["id"].as_i64().unwrap();
    for (p, code) in [
        (outside.join("secret.txt"), 403),
        (root.join("..").join("outside").join("secret.txt"), 403),
        (root.join("link.txt"), 403),
        (PathBuf::from("relative.txt"), 400),
        (root.join("missing.txt"), 404),
    ] {
        let r = d.post_json("/v1/jobs", &json!({"path": p}));
        assert_eq!(r.status, code, "{}", p.display());
    }
    for id in [up, by_path] {
        wait_until("job committed", 30, || {
            d.get(&format!("/v1/jobs/{id}")).json().unwrap()["state"] == "committed"
        });
        let j = d.get(&format!("/v1/jobs/{id}")).json().unwrap();
        let out = std::fs::read_to_string(dir.join(j["output"]["path"].as_str().unwrap())).unwrap();
        assert!(!out.contains("Strobel"), "{out}");
        assert_eq!(j["output"]["decision"], "commit");
    }
    // The path job's source is left where it was.
    assert!(root.join("in.txt").exists());
    assert_eq!(d.get("/v1/jobs/999999").status, 404);
    assert_eq!(d.get("/v1/jobs/abc").status, 400);
    let l = d.get("/v1/jobs?state=committed").json().unwrap();
    assert_eq!(l["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(d.get("/v1/jobs?state=bogus").status, 400);

    // Metrics: Prometheus text, counts, no raw values.
    let m = d.get("/v1/metrics");
    assert_eq!(m.status, 200);
    assert!(m.content_type.unwrap().starts_with("text/plain"));
    let body = String::from_utf8(m.body).unwrap();
    assert!(body.contains("gdr_jobs{state=\"committed\"} 3"), "{body}");
    assert!(
        body.contains("gdr_requests_total{route=\"/v1/rewrite\",code=\"413\"} 1"),
        "{body}"
    );
    assert!(body.contains("gdr_spans_total{type=\"PERSON\"}"), "{body}");
    assert!(!body.contains("Strobel") && !body.contains("karl@"));

    // The CLI verbs talk to the same socket.
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&dir)
        .arg("status")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\": \"ok\""));
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&dir)
        .args(["jobs", "--state", "committed"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let f = tmp.path().join("cli.txt");
    std::fs::write(&f, format!("From {PII}\n")).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&dir)
        .arg("submit")
        .arg(&f)
        .arg("--wait")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"committed\""));

    // Every answer comes after its audit row is committed: a crash right
    // after an answer loses no audit row.
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let count = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .unwrap()
    };
    for _ in 0..10 {
        let before = count(&db);
        assert_eq!(d.get("/v1/health").status, 200);
        assert!(
            count(&db) > before,
            "answered before its audit row was committed"
        );
    }
    drop(db);

    // Audit rows: who asked, never the body; and nothing of the PII in the DB.
    let st = d.stop();
    assert!(st.success(), "clean exit on SIGTERM: {st:?}");
    assert!(!dir.join("gdr.sock").exists());
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let (n, uid): (i64, i64) = db
        .query_row("SELECT count(*), max(uid) FROM audit", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(n >= 20, "{n} audit rows");
    assert_eq!(uid as u32, unsafe { libc::getuid() });
    drop(db);
    let raw = std::fs::read(dir.join("gdr.db")).unwrap();
    assert!(
        !raw.windows(7).any(|w| w == b"Strobel"),
        "raw value in the database"
    );
}

#[test]
fn peer_not_in_allow_list_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    // Start with the default allow list (own uid) to get the daemon up,
    // then reload with a list that leaves this uid out.
    let d = Daemon::start(&dir, Some("[daemon]\n"));
    std::fs::write(
        dir.with_extension("toml"),
        "[daemon]\nallow_uids = [4242424]\n",
    )
    .unwrap();
    d.signal("-HUP");
    wait_until("reload refuses this uid", 30, || {
        d.get("/v1/health").status == 403
    });
    let r = d.post_json("/v1/rewrite", &json!({"text": "x"}));
    assert_eq!(r.status, 403);
    // Allowed again through a group this process is in (by name).
    let gid = unsafe { libc::getgid() };
    let name = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse::<u32>().ok() == Some(gid)).then(|| f[0].to_string())
        })
        .expect("own group in /etc/group");
    std::fs::write(
        dir.with_extension("toml"),
        format!("[daemon]\nallow_uids = [4242424]\nallow_groups = [{name:?}]\n"),
    )
    .unwrap();
    d.signal("-HUP");
    wait_until("reload allows the group", 30, || {
        d.get("/v1/health").status == 200
    });
    let st = d.stop();
    assert!(st.success());
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM audit WHERE status = 403", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(n >= 2);
}

#[test]
fn drop_folder_end_to_end_reload_and_idempotency() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = Daemon::start(&dir, Some("[daemon]\nsettle_ms = 100\nrescan_secs = 1\n"));
    let inbox = dir.join("inbox");
    drop_file(
        &inbox,
        "note.txt",
        format!(
            "Dear {PII},\n\nyour card 4111 1111 1111 1111 is blocked. MRN 4471923.\n\n\
             Record 4471923 stays open.\n"
        )
        .as_bytes(),
    );
    drop_file(
        &inbox,
        "recs.jsonl",
        format!(
            "{{\"id\":1,\"text\":\"{PII} wrote\"}}\n{{not json\n{{\"id\":2,\"text\":\"ok\"}}\n"
        )
        .as_bytes(),
    );
    std::fs::create_dir_all(inbox.join("sub")).unwrap();
    drop_file(&inbox.join("sub"), "deep.txt", b"Mail karl@example.com\n");
    drop_file(&inbox, "bad.jsonl", b"{nope\n[1,2]\n");
    std::fs::write(inbox.join(".hidden.txt"), "Karl Strobel").unwrap();
    std::fs::write(inbox.join("slow.txt.part"), "Karl Strobel").unwrap();
    wait_until("four jobs final", 30, || {
        let s = job_states(&d);
        s["committed"] + s["quarantined"] == 4
    });
    let out = dir.join("outbox");
    assert_eq!(
        files(&out),
        BTreeSet::from([
            "note.txt".into(),
            "recs.jsonl".into(),
            "sub/deep.txt".into()
        ])
    );
    let note = std::fs::read_to_string(out.join("note.txt")).unwrap();
    assert!(
        !note.contains("Strobel") && !note.contains("4111 1111 1111 1111"),
        "{note}"
    );
    // The paragraphs of a text file remember the identifiers before them:
    // the number labelled in one is removed from the next.
    assert!(!note.contains("4471923"), "{note}");
    assert!(note.contains("\n\n"), "layout kept");
    let recs = std::fs::read_to_string(out.join("recs.jsonl")).unwrap();
    assert_eq!(recs.lines().count(), 2, "bad record skipped");
    assert!(!recs.contains("Strobel"));
    // All-bad file: quarantined with a reason; originals archived.
    assert!(dir.join("quarantine/bad.jsonl").exists());
    let reason: Value = serde_json::from_slice(
        &std::fs::read(dir.join("quarantine/bad.jsonl.reason.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(reason["reason"], "all_records_failed");
    // The archive step follows the committing row.
    wait_until("originals archived", 30, || {
        files(&dir.join("archive")).len() == 3
    });
    assert_eq!(
        files(&dir.join("archive")),
        BTreeSet::from([
            "note.txt".into(),
            "recs.jsonl".into(),
            "sub/deep.txt".into()
        ])
    );
    // Ignored names stay.
    assert!(inbox.join(".hidden.txt").exists() && inbox.join("slow.txt.part").exists());
    let jobs = d.get("/v1/jobs?state=committed").json().unwrap();
    let recs_job = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "recs.jsonl")
        .unwrap()
        .clone();
    assert_eq!(recs_job["output"]["decision"], "commit_partial");
    assert_eq!(recs_job["failed_records"], 1);

    // CSV: the configured column is rewritten, the others pass through.
    drop_file(
        &inbox,
        "people.csv",
        format!("id,text,code\r\n1,\"Call {PII}, please\",A-1\r\n2,mail karl@example.com,B-2\r\n")
            .as_bytes(),
    );
    wait_until("people.csv", 30, || out.join("people.csv").exists());
    let csv_out = std::fs::read_to_string(out.join("people.csv")).unwrap();
    let lines: Vec<&str> = csv_out.split("\r\n").collect();
    assert_eq!(lines[0], "id,text,code");
    assert!(
        lines[1].starts_with("1,") && lines[1].ends_with(",A-1"),
        "{csv_out}"
    );
    assert!(
        lines[2].starts_with("2,") && lines[2].ends_with(",B-2"),
        "{csv_out}"
    );
    assert!(
        !csv_out.contains("Strobel") && !csv_out.contains("karl@"),
        "{csv_out}"
    );

    // The .part file renamed into place is taken.
    std::fs::rename(inbox.join("slow.txt.part"), inbox.join("slow.txt")).unwrap();
    wait_until("slow.txt", 30, || out.join("slow.txt").exists());

    // Same content under another name: no rework, output reused.
    drop_file(
        &inbox,
        "again.txt",
        format!(
            "Dear {PII},\n\nyour card 4111 1111 1111 1111 is blocked. MRN 4471923.\n\n\
             Record 4471923 stays open.\n"
        )
        .as_bytes(),
    );
    wait_until("again.txt", 30, || out.join("again.txt").exists());
    wait_until("again committed", 30, || job_states(&d)["committed"] == 6);
    let jobs = d.get("/v1/jobs?state=committed").json().unwrap();
    let again = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "again.txt")
        .unwrap()
        .clone();
    assert_eq!(again["output"]["decision"], "reused");
    assert!(again["reused_from"].is_i64());
    assert_eq!(
        std::fs::read(out.join("again.txt")).unwrap(),
        std::fs::read(out.join("note.txt")).unwrap()
    );

    // SIGHUP: new policy, new fingerprint; the same input is processed again.
    let fp_before = d.get("/v1/health").json().unwrap()["config_fp"].clone();
    std::fs::write(
        dir.with_extension("toml"),
        "[daemon]\nsettle_ms = 100\nrescan_secs = 1\n[policy.ops]\nPERSON = \"tag\"\n",
    )
    .unwrap();
    d.signal("-HUP");
    wait_until("reloaded", 30, || {
        d.get("/v1/health").json().unwrap()["config_fp"] != fp_before
    });
    drop_file(
        &inbox,
        "third.txt",
        format!(
            "Dear {PII},\n\nyour card 4111 1111 1111 1111 is blocked. MRN 4471923.\n\n\
             Record 4471923 stays open.\n"
        )
        .as_bytes(),
    );
    wait_until("third.txt", 30, || out.join("third.txt").exists());
    let third = std::fs::read_to_string(out.join("third.txt")).unwrap();
    assert!(third.contains("[PERSON_1]"), "{third}");
    let st = d.stop();
    assert!(st.success());
    // Per-record rows and spans: decisions, offsets, fingerprints; no values.
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let decisions: Vec<(i64, String, Option<String>)> = db
        .prepare(
            "SELECT r.line, r.decision, r.error FROM records r JOIN jobs j ON j.id = r.job_id \
             WHERE j.name = 'recs.jsonl' ORDER BY r.idx",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(decisions.len(), 3);
    assert_eq!((decisions[1].0, decisions[1].1.as_str()), (2, "skip"));
    assert!(decisions[1].2.as_ref().unwrap().contains("malformed JSON"));
    assert_eq!(decisions[0].1, "commit");
    let (n, fp): (i64, String) = db
        .query_row(
            "SELECT count(*), max(fingerprint) FROM spans WHERE type = 'PERSON'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(n >= 2);
    assert_eq!(fp.len(), 16);
}

/// Check every invariant of a drop-folder run that ended: each input name
/// is committed or quarantined exactly once, outputs are whole, the DB
/// agrees with the disk, nothing is left in flight.
fn check_final(dir: &Path, names: &BTreeMap<String, (bool, usize)>) {
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let mut st = db
        .prepare("SELECT j.name, j.state, o.path, o.sha256 FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id")
        .unwrap();
    let rows: Vec<(String, String, Option<String>, Option<String>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut per_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, state, path, sha) in &rows {
        per_name
            .entry(name.clone())
            .or_default()
            .push(state.clone());
        if state == "committed" {
            let p = dir.join(path.as_ref().unwrap());
            let (disk_sha, _) = gdr::daemon::fsio::sha256_file(&p).unwrap();
            assert_eq!(
                &disk_sha,
                sha.as_ref().unwrap(),
                "DB and disk disagree on {name}"
            );
        }
    }
    for (name, (good, lines)) in names {
        let states = per_name
            .get(name)
            .unwrap_or_else(|| panic!("{name}: no job"));
        assert_eq!(states.len(), 1, "{name}: {states:?}");
        let out = dir.join("outbox").join(name);
        if *good {
            assert_eq!(states[0], "committed", "{name}");
            let text = std::fs::read_to_string(&out).unwrap();
            assert_eq!(text.lines().count(), *lines, "{name}: half file?");
            for l in text.lines() {
                serde_json::from_str::<Value>(l).unwrap_or_else(|_| panic!("{name}: broken line"));
            }
            assert!(dir.join("archive").join(name).exists());
        } else {
            assert_eq!(states[0], "quarantined", "{name}");
            assert!(!out.exists());
            assert!(dir.join("quarantine").join(name).exists());
            assert!(
                dir.join("quarantine")
                    .join(format!("{name}.reason.json"))
                    .exists()
            );
        }
    }
    assert_eq!(per_name.len(), names.len(), "jobs for unknown names");
    assert!(all_files(&dir.join("inbox")).is_empty());
    assert!(
        all_files(&dir.join("processing")).is_empty(),
        "{:?}",
        all_files(&dir.join("processing"))
    );
    let outbox = all_files(&dir.join("outbox"));
    assert_eq!(
        outbox.len(),
        names.values().filter(|x| x.0).count(),
        "stray files in outbox (temps?)"
    );
}

#[test]
fn kill9_during_a_burst_then_restart_loses_and_duplicates_nothing() {
    let n: usize = std::env::var("GDR_FAULT_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let cfg = "[daemon]\nsettle_ms = 0\nrescan_secs = 1\n";
    let d = Daemon::start(&dir, Some(cfg));
    let inbox = dir.join("inbox");
    let mut names = BTreeMap::new();
    for i in 0..n {
        let name = format!("f{i:05}.jsonl");
        if i % 23 == 7 {
            drop_file(&inbox, &name, b"{broken\n");
            names.insert(name, (false, 0));
            continue;
        }
        let mut data = String::new();
        for k in 0..20 {
            data.push_str(&json!({"id": k, "text": format!("Record {k}: call Karl Strobel on 555-867-53{:02} or mail k{i}@example.com.", k % 100)}).to_string());
            data.push('\n');
        }
        drop_file(&inbox, &name, data.as_bytes());
        names.insert(name, (true, 20));
    }
    // Kill once some, not all, are done; restart; kill again further on.
    let mut d = d;
    for frac in [4, 2] {
        let t = Instant::now();
        while files(&dir.join("outbox")).len() < n / frac && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let done_at_kill = files(&dir.join("outbox")).len();
        d.kill9();
        eprintln!("kill -9 with {done_at_kill}/{n} outputs in outbox");
        d = Daemon::start(&dir, Some(cfg));
    }
    wait_until("all final after restart", 120, || {
        let s = job_states(&d);
        s["committed"] + s["quarantined"] == n as i64 && s["queued"] + s["running"] == 0
    });
    // Let the post-commit archive steps finish.
    wait_until("inbox and processing empty", 30, || {
        all_files(&dir.join("inbox")).is_empty() && all_files(&dir.join("processing")).is_empty()
    });
    let st = d.stop();
    assert!(st.success());
    check_final(&dir, &names);
}

#[test]
fn full_disk_on_outbox_fails_jobs_cleanly_and_they_retry() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to mount a tmpfs on outbox/");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let outbox = dir.join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&outbox)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: mount -t tmpfs failed (no privilege in this sandbox)");
        return;
    }
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Umount(outbox.clone());
    // Fill the tmpfs.
    let filler = outbox.join(".filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![b'x'; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let d = Daemon::start(
        &dir,
        Some("[daemon]\nsettle_ms = 0\nretry_base_ms = 300\nmax_attempts = 50\n"),
    );
    let mut names = BTreeMap::new();
    for i in 0..5 {
        let name = format!("d{i}.jsonl");
        let body = format!(
            "{}\n",
            json!({"text": format!("Mail k{i}@example.com, {PII}")})
        )
        .repeat(50);
        drop_file(&dir.join("inbox"), &name, body.as_bytes());
        names.insert(name, (true, 50));
    }
    wait_until("jobs failed with a retry pending", 30, || {
        let l = d.get("/v1/jobs?state=failed").json().unwrap();
        l["jobs"].as_array().unwrap().len() == 5
    });
    let l = d.get("/v1/jobs?state=failed").json().unwrap();
    for j in l["jobs"].as_array().unwrap() {
        assert!(j["next_attempt_ms"].is_i64(), "retry scheduled");
        assert!(
            j["error"].as_str().unwrap().contains("space"),
            "{}",
            j["error"]
        );
    }
    // No partial output, no temp file left on the full disk.
    assert_eq!(all_files(&outbox), BTreeSet::from([".filler".to_string()]));
    assert_eq!(files(&dir.join("processing")).len(), 5);
    std::fs::remove_file(&filler).unwrap();
    wait_until("retried and committed", 60, || {
        job_states(&d)["committed"] == 5
    });
    wait_until("archived", 10, || {
        all_files(&dir.join("processing")).is_empty()
    });
    let st = d.stop();
    assert!(st.success());
    check_final(&dir, &names);
}

/// Socket inodes of a process's fds.
fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(e.path()) {
            let t = t.to_string_lossy().to_string();
            if let Some(n) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                out.insert(n.parse().unwrap());
            }
        }
    }
    out
}

fn table_inodes(path: &str, col: usize) -> BTreeSet<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect()
}

#[test]
fn daemon_opens_no_network_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = Daemon::start(&dir, Some("[daemon]\nafter_success = \"remove\"\n"));
    // Some traffic first, so lazily opened sockets would exist.
    assert_eq!(
        d.post_json("/v1/rewrite", &json!({"text": "x"})).status,
        200
    );
    drop_file(&dir.join("inbox"), "n.txt", b"hello\n");
    wait_until("n.txt", 30, || dir.join("outbox/n.txt").exists());
    // after_success = "remove": the original is gone, not archived.
    wait_until("original removed", 30, || {
        all_files(&dir.join("processing")).is_empty()
    });
    assert!(all_files(&dir.join("archive")).is_empty());
    let pid = d.pid();
    let socks = socket_inodes(pid);
    let unix = table_inodes(&format!("/proc/{pid}/net/unix"), 6);
    assert!(
        !socks.is_empty() && socks.iter().any(|s| unix.contains(s)),
        "the API socket is seen"
    );
    for t in ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"] {
        let inet = table_inodes(&format!("/proc/{pid}/net/{t}"), 9);
        let hit: Vec<_> = socks.intersection(&inet).collect();
        assert!(
            hit.is_empty(),
            "network socket(s) in /proc/net/{t}: {hit:?}"
        );
    }
    for s in &socks {
        assert!(unix.contains(s), "socket {s} is not AF_UNIX");
    }
    d.stop();
}

#[test]
fn overload_gets_429_and_503_with_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = Daemon::start(&dir, Some("[daemon]\nmax_inflight = 1\nqueue_limit = 0\n"));
    let r = d
        .req(
            "POST",
            "/v1/jobs?name=a.txt",
            Some("application/octet-stream"),
            b"x\n".to_vec(),
        )
        .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.retry_after.as_deref(), Some("5"));
    // Many large synchronous rewrites at once against one slot.
    let text = "Call Karl Strobel on 555-867-5309 or mail karl@example.com. ".repeat(40_000);
    let body = json!({ "text": text }).to_string();
    let mut saw_429 = false;
    for _round in 0..5 {
        let codes: Vec<(u16, Option<String>)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let b = body.clone().into_bytes();
                    let d = &d;
                    sc.spawn(move || {
                        let r = d
                            .req("POST", "/v1/rewrite", Some("application/json"), b)
                            .unwrap();
                        (r.status, r.retry_after)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            codes.iter().all(|(c, _)| *c == 200 || *c == 429),
            "{codes:?}"
        );
        assert!(codes.iter().any(|(c, _)| *c == 200));
        if let Some((_, ra)) = codes.iter().find(|(c, _)| *c == 429) {
            assert_eq!(ra.as_deref(), Some("1"));
            saw_429 = true;
            break;
        }
    }
    assert!(saw_429, "no request was refused with 429");
    let m = String::from_utf8(d.get("/v1/metrics").body).unwrap();
    assert!(m.contains("gdr_requests_total{route=\"/v1/rewrite\",code=\"429\"}"));
    assert!(d.stop().success());
}

#[test]
fn sigterm_checkpoints_a_running_job_and_the_restart_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let notify = tmp.path().join("notify.sock");
    let ns = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    ns.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let cfg = "[daemon]\nshutdown_grace_secs = 0\n";
    let d = Daemon::start_env(&dir, Some(cfg), &[("NOTIFY_SOCKET", &notify)]);
    let mut buf = [0u8; 256];
    let n = ns.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    // A file big enough to be caught mid-way.
    let line = json!({"text": "Call Karl Strobel on 555-867-5309 or mail karl@example.com about the Berlin office."}).to_string();
    let lines = 60_000;
    let data = format!("{line}\n").repeat(lines);
    drop_file(&dir.join("inbox"), "big.jsonl", data.as_bytes());
    wait_until("job running", 30, || {
        d.get("/v1/jobs?state=running").json().unwrap()["jobs"]
            .as_array()
            .unwrap()
            .len()
            == 1
    });
    let st = d.stop();
    assert!(st.success(), "{st:?}");
    let n = ns.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
    // Checkpointed: back to queued, input in processing/, no output, no temp.
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let state: String = db
        .query_row("SELECT state FROM jobs", [], |r| r.get(0))
        .unwrap();
    drop(db);
    if state == "committed" {
        eprintln!("the job finished before SIGTERM landed; checkpoint not exercised this run");
    } else {
        assert_eq!(state, "queued");
        assert!(dir.join("processing/big.jsonl").exists());
        assert!(
            all_files(&dir.join("outbox")).is_empty(),
            "{:?}",
            all_files(&dir.join("outbox"))
        );
    }
    let d = Daemon::start(&dir, Some(cfg));
    wait_until("resumed and committed", 120, || {
        job_states(&d)["committed"] == 1
    });
    let out = std::fs::read_to_string(dir.join("outbox/big.jsonl")).unwrap();
    assert_eq!(out.lines().count(), lines);
    assert!(!out.contains("Strobel"));
    assert!(d.stop().success());
}

#[test]
fn openapi_describes_every_route() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    for route in [
        "/v1/health:",
        "/v1/metrics:",
        "/v1/scan:",
        "/v1/rewrite:",
        "/v1/jobs:",
        "/v1/jobs/{id}:",
    ] {
        assert!(
            doc.contains(&format!("  {route}")),
            "{route} missing from docs/openapi.yaml"
        );
    }
}

/// A restart answers only once reconcile is done, and nothing claims a
/// file meanwhile. Before, the socket and the watcher came up first: a file
/// claimed while reconcile listed processing/ looked like a crash leftover
/// and got a second job; the loser found its input archived and ended
/// `failed` (CI saw this as a hang of the kill -9 test).
#[test]
fn restart_answers_after_reconcile_and_claims_each_file_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    // As a crash between claim and row leaves them, many at once: each
    // needs a job row, so reconcile takes a while.
    let n = 300;
    let processing = dir.join("processing");
    std::fs::create_dir_all(&processing).unwrap();
    let mut names = BTreeMap::new();
    for i in 0..n {
        let name = format!("left{i:04}.jsonl");
        let line = json!({"id": i, "text": format!("Mail k{i}@example.com.")});
        std::fs::write(processing.join(&name), format!("{line}\n")).unwrap();
        names.insert(name, (true, 1));
    }
    let cfg = "[daemon]\nsettle_ms = 0\nrescan_secs = 1\n";
    let d = Daemon::start(&dir, Some(cfg));
    let total: i64 = job_states(&d).values().sum();
    assert_eq!(total, n as i64, "the first answer came before reconcile");
    // Dropped the moment the daemon answers: claimed once, by the watcher.
    for i in 0..20 {
        let name = format!("new{i:02}.jsonl");
        let line = json!({"id": i, "text": "Call Karl Strobel on 555-867-5309."});
        drop_file(&dir.join("inbox"), &name, format!("{line}\n").as_bytes());
        names.insert(name, (true, 1));
    }
    wait_until("all final", 120, || {
        let s = job_states(&d);
        s["committed"] + s["quarantined"] == names.len() as i64 && s["queued"] + s["running"] == 0
    });
    wait_until("inbox and processing empty", 30, || {
        all_files(&dir.join("inbox")).is_empty() && all_files(&dir.join("processing")).is_empty()
    });
    assert!(d.stop().success());
    check_final(&dir, &names);
}

/// One daemon per state dir, even with a different socket: the second
/// exits with a clear error and leaves the first alone.
#[test]
fn second_daemon_on_the_same_state_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = Daemon::start(&dir, None);
    let cfg = tmp.path().join("other.toml");
    let sock = tmp.path().join("other.sock");
    std::fs::write(
        &cfg,
        format!("[daemon]\nsocket = {:?}\n", sock.display().to_string()),
    )
    .unwrap();
    let mut second = Command::new(BIN)
        .arg("--state-dir")
        .arg(&dir)
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--no-llm"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = wait_exit(&mut second, 30) else {
        let _ = second.kill();
        let _ = second.wait();
        panic!("the second daemon started serving");
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("another gdr serve is using this state directory"),
        "{err}"
    );
    assert!(!sock.exists(), "the refused daemon bound its socket");
    assert_eq!(d.get("/v1/health").status, 200);
    assert!(d.stop().success());
}

/// The crash windows, made deterministic by arranging the state dir as a
/// crash would leave it, then starting the daemon.
#[test]
fn restart_reconciles_each_crash_window() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let cfg = "[daemon]\nsettle_ms = 0\n";
    let d = Daemon::start(&dir, Some(cfg));
    drop_file(
        &dir.join("inbox"),
        "done.txt",
        format!("Hi {PII}\n").as_bytes(),
    );
    wait_until("done.txt", 30, || job_states(&d)["committed"] == 1);
    wait_until("archived", 30, || dir.join("archive/done.txt").exists());
    assert!(d.stop().success());

    // 1. Crash after the commit row, before the archive step: the original
    //    is back in processing/.
    std::fs::copy(
        dir.join("archive/done.txt"),
        dir.join("processing/done.txt"),
    )
    .unwrap();
    // 2. Crash between the claim (rename) and the job row.
    std::fs::write(dir.join("processing/claimed.txt"), format!("From {PII}\n")).unwrap();
    // 3. Crash mid-write: a temp file in outbox/.
    std::fs::write(dir.join("outbox/.gdr-tmp-99-half.txt"), "half").unwrap();
    // 4. Crash while running: a row says running, its input is in processing/.
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let input = dir.join("processing/running.txt");
    std::fs::write(&input, format!("Call {PII}\n")).unwrap();
    db.execute(
        "INSERT INTO jobs(source, name, input_path, format, config_fp, rules_version, state, attempts, created_ms) \
         VALUES ('inbox', 'running.txt', ?1, 'text', 'x', 'x', 'running', 1, 0)",
        [input.to_string_lossy()],
    )
    .unwrap();
    drop(db);

    let d = Daemon::start(&dir, Some(cfg));
    wait_until("all committed", 30, || job_states(&d)["committed"] == 3);
    wait_until("processing empty", 30, || {
        all_files(&dir.join("processing")).is_empty()
    });
    assert!(d.stop().success());
    assert_eq!(
        all_files(&dir.join("outbox")),
        BTreeSet::from([
            "done.txt".into(),
            "claimed.txt".into(),
            "running.txt".into()
        ])
    );
    let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
    let rows: Vec<(String, String, i64)> = db
        .prepare("SELECT name, state, attempts FROM jobs ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // One row per name: the finished job was not redone.
    assert_eq!(
        rows.iter()
            .map(|r| (r.0.as_str(), r.1.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("claimed.txt", "committed"),
            ("done.txt", "committed"),
            ("running.txt", "committed")
        ]
    );
    assert_eq!(rows[2].2, 2, "the interrupted attempt counts");
    for n in ["claimed.txt", "running.txt"] {
        assert!(
            !std::fs::read_to_string(dir.join("outbox").join(n))
                .unwrap()
                .contains("Strobel")
        );
    }
}

/// The default mode (as `./run.sh` starts it): the real default model.
#[test]
fn serve_with_the_default_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = Daemon::start_opts(&dir, Some("[daemon]\nsettle_ms = 0\n"), &[], false);
    let h = d.get("/v1/health").json().unwrap();
    assert_eq!(h["llm"], "smollm2-135m");
    let r = d.post_json(
        "/v1/rewrite",
        &json!({"text": "Met Oswin Tarrant at the depot; Tarrant signs tomorrow."}),
    );
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    assert!(
        v["llm"].is_string(),
        "the model took part or said why not: {v}"
    );
    drop_file(
        &dir.join("inbox"),
        "m.txt",
        format!("Call {PII} on 555-867-5309.\n").as_bytes(),
    );
    wait_until("m.txt committed", 120, || job_states(&d)["committed"] == 1);
    let j = d.get("/v1/jobs?state=committed").json().unwrap();
    assert_eq!(j["jobs"][0]["model"], "smollm2-135m");
    let out = std::fs::read_to_string(dir.join("outbox/m.txt")).unwrap();
    assert!(!out.contains("Strobel"));
    assert!(d.stop().success());
}

/// The verifier decides in the daemon as in the CLI: a record no rewrite
/// passes for is never written to outbox/ nor returned by the API.
#[test]
fn verifier_quarantine_withholds_records_in_files_and_api() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    // Without repair, a mention the plan misses ("gonzalez" in lower case
    // after "Maria Gonzalez") fails the leak check.
    let d = Daemon::start(
        &dir,
        Some(
            "[daemon]\nsettle_ms = 100\nrescan_secs = 1\n[verify]\nrepair = false\nembed = false\n",
        ),
    );
    let held = "Contact Maria Gonzalez today. The file lists gonzalez as owing nothing.";
    drop_file(
        &dir.join("inbox"),
        "mixed.jsonl",
        format!("{{\"id\":1,\"text\":\"{held}\"}}\n{{\"id\":2,\"text\":\"{PII} wrote\"}}\n")
            .as_bytes(),
    );
    wait_until("job final", 30, || {
        let s = job_states(&d);
        s["committed"] + s["quarantined"] == 1
    });
    let out = std::fs::read_to_string(dir.join("outbox/mixed.jsonl")).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("\"id\":2") && !out.contains("Strobel"),
        "{out}"
    );
    assert!(!out.to_lowercase().contains("gonzalez"), "{out}");

    let r = d.post_json("/v1/rewrite", &json!({"text": held}));
    assert_eq!(r.status, 422);
    let v = r.json().unwrap();
    assert_eq!(v["decision"], "quarantine");
    assert!(v.get("text").is_none());
    assert!(
        !String::from_utf8_lossy(&r.body)
            .to_lowercase()
            .contains("gonzalez")
    );

    let r = d.post_json(
        "/v1/rewrite",
        &json!({"records": [{"id": 1, "text": held}, {"id": 2, "text": "Call Karl Strobel."}]}),
    );
    assert_eq!(r.status, 200);
    let v = r.json().unwrap();
    assert!(v["records"][0].is_null(), "{v}");
    assert!(
        v["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("quarantined")
    );
    assert!(
        !v["records"][1]["text"]
            .as_str()
            .unwrap()
            .contains("Strobel")
    );
    assert!(
        !String::from_utf8_lossy(&r.body)
            .to_lowercase()
            .contains("gonzalez")
    );

    let r = d.post_json("/v1/rewrite", &json!({"text": "Call Karl Strobel."}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json().unwrap()["decision"], "commit");
}

/// Panics on purpose (feature `failpoints`, src/failpoint.rs): a record or
/// job that panics costs that record or job, never the daemon, the other
/// records or the next file, and the panic message (which quotes the
/// record, as std's slicing panics do) never reaches stderr.
#[cfg(feature = "failpoints")]
mod failpoints {
    use super::*;

    /// Records holding this panic in `Pipeline::rewrite_with`.
    const MARKER: &str = "PANIC-MARKER-7f3a";
    /// Jobs whose file name holds this panic at job start.
    const JOB_MARKER: &str = "explode";

    fn start(dir: &Path, log: &Path) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.arg("--state-dir")
            .arg(dir)
            .args(["serve", "--no-llm"])
            .env(
                "GDR_FAILPOINTS",
                format!("record={MARKER};job={JOB_MARKER}"),
            )
            // Everything the daemon logs, to check none of it is content.
            .env("GDR_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.with_extension("toml"),
            "[daemon]\nsettle_ms = 50\nrescan_secs = 1\n",
        )
        .unwrap();
        cmd.arg("--config").arg(dir.with_extension("toml"));
        Daemon::launch(cmd, dir)
    }

    fn job_by_name(d: &Daemon, name: &str) -> Option<Value> {
        let v = d.get("/v1/jobs?limit=1000").json().unwrap();
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .cloned()
    }

    fn wait_final(d: &Daemon, name: &str) -> Value {
        let mut job = None;
        wait_until(name, 30, || {
            job = job_by_name(d, name)
                .filter(|j| j["state"] == "committed" || j["state"] == "quarantined");
            job.is_some()
        });
        job.unwrap()
    }

    fn alive(d: &Daemon) {
        let r = d.get("/v1/health");
        assert_eq!(r.status, 200, "health after a panic");
    }

    #[test]
    fn panicking_record_or_job_never_kills_the_daemon() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let log = tmp.path().join("daemon.log");
        let d = start(&dir, &log);
        let inbox = dir.join("inbox");
        let out = dir.join("outbox");

        // 1. Drop folder: the middle record panics, the others commit.
        drop_file(
            &inbox,
            "mixed.jsonl",
            format!(
                "{{\"id\":1,\"text\":\"Call {PII} today\"}}\n\
                 {{\"id\":2,\"text\":\"{PII} {MARKER}\"}}\n\
                 {{\"id\":3,\"text\":\"mail karl@example.com\"}}\n"
            )
            .as_bytes(),
        );
        let job = wait_final(&d, "mixed.jsonl");
        assert_eq!(job["state"], "committed", "{job}");
        assert_eq!(job["output"]["decision"], "commit_partial", "{job}");
        assert_eq!(job["failed_records"], 1, "{job}");
        let text = std::fs::read_to_string(out.join("mixed.jsonl")).unwrap();
        let ids: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, [1, 3], "{text}");
        assert!(
            !text.contains("Strobel") && !text.contains("karl@"),
            "{text}"
        );
        alive(&d);
        // The bad record is reported by line, without its content.
        let db = rusqlite::Connection::open(dir.join("gdr.db")).unwrap();
        let (line, status, error): (i64, String, String) = db
            .query_row(
                "SELECT line, status, error FROM records WHERE job_id = ?1 AND error IS NOT NULL",
                [job["id"].as_i64().unwrap()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((line, status.as_str()), (2, "error"));
        assert_eq!(error, "internal error while processing the record");

        // 2. The next file is processed normally.
        drop_file(&inbox, "after.jsonl", b"{\"id\":4,\"text\":\"ok then\"}\n");
        let job = wait_final(&d, "after.jsonl");
        assert_eq!(job["state"], "committed", "{job}");
        assert_eq!(job["failed_records"], 0, "{job}");
        assert!(out.join("after.jsonl").exists());

        // 3. Socket API, text: a clean 500 with a JSON error, no content.
        let r = d.post_json(
            "/v1/rewrite",
            &json!({"text": format!("Call {PII} {MARKER}")}),
        );
        assert_eq!(r.status, 500);
        let v = r.json().expect("JSON error body");
        assert_eq!(
            v["error"], "internal error while processing the record",
            "{v}"
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("Strobel") && !body.contains(MARKER),
            "{body}"
        );
        // ... and the next request succeeds.
        let r = d.post_json("/v1/rewrite", &json!({"text": format!("Call {PII}")}));
        assert_eq!(r.status, 200);
        assert!(
            !r.json().unwrap()["text"]
                .as_str()
                .unwrap()
                .contains("Strobel")
        );
        // Records: only the panicking record is lost, by index.
        let r = d.post_json(
            "/v1/rewrite",
            &json!({"records": [{"text": format!("Call {PII}")}, {"text": MARKER}]}),
        );
        assert_eq!(r.status, 200);
        let v = r.json().unwrap();
        assert!(v["records"][0]["text"].is_string(), "{v}");
        assert_eq!(v["records"][1], Value::Null, "{v}");
        assert_eq!(v["errors"][0]["index"], 1, "{v}");
        assert!(!v.to_string().contains(MARKER), "{v}");

        // 4. A whole job panics (outside the per-record guard): the file
        // is quarantined with a reason, the daemon goes on.
        drop_file(&inbox, "explode.txt", format!("Dear {PII}\n").as_bytes());
        let job = wait_final(&d, "explode.txt");
        assert_eq!(job["state"], "quarantined", "{job}");
        let reason: Value = serde_json::from_slice(
            &std::fs::read(dir.join("quarantine/explode.txt.reason.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(reason["reason"], "panic", "{reason}");
        assert!(dir.join("quarantine/explode.txt").exists());
        alive(&d);
        drop_file(&inbox, "fine.txt", format!("Dear {PII}\n").as_bytes());
        assert_eq!(wait_final(&d, "fine.txt")["state"], "committed");

        // Every panic was caught and counted: 2 records, 1 job.
        let m = String::from_utf8(d.get("/v1/metrics").body).unwrap();
        assert!(m.lines().any(|l| l == "gdr_panics_total 4"), "{m}");
        assert!(d.stop().success(), "clean exit after the panics");

        // The panic hook reported each panic by place only.
        let log = std::fs::read_to_string(&log).unwrap();
        assert_eq!(log.matches("gdr: panic in thread").count(), 4, "{log}");
        assert!(
            !log.contains("Strobel") && !log.contains(MARKER) && !log.contains("fired on"),
            "record content in the log:\n{log}"
        );
    }
}
