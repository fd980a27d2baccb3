//! The daemon's SQLite store: jobs, records, spans, outputs and an audit log.
//!
//! Why SQLite: one file next to the outputs, transactions that commit an
//! output row together with its records and spans, and WAL so the socket
//! API can read while a worker writes. Schema changes are migrations keyed
//! by `PRAGMA user_version`, applied in order at open.
//!
//! What is never stored: record content. Spans carry type, offsets, score,
//! detector and a keyed fingerprint (HMAC under the pseudonym key), errors
//! carry [`crate::RecordError`] messages, which never quote content.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this gdr ({known})")]
    TooNew { found: i64, known: i64 },
}

/// Migrations, applied in order; `user_version` = how many have run.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE jobs(
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,            -- inbox | api_path | api_upload
    name TEXT NOT NULL,              -- relative name in inbox/ and outbox/
    input_path TEXT NOT NULL,        -- where the input is read from
    format TEXT NOT NULL,            -- text | jsonl | csv
    input_sha256 TEXT,
    input_bytes INTEGER,
    config_fp TEXT NOT NULL,         -- config + rules + model fingerprint
    rules_version TEXT NOT NULL,
    model TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued','running','committed','quarantined','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER,         -- a failed job retries at this time
    error TEXT,
    reused_from INTEGER REFERENCES jobs(id),
    peer_uid INTEGER,
    records INTEGER,
    failed_records INTEGER,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_idem ON jobs(input_sha256, config_fp, state);
CREATE INDEX jobs_name ON jobs(source, name);
CREATE TABLE records(
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    idx INTEGER NOT NULL,
    line INTEGER NOT NULL,
    status TEXT NOT NULL,            -- ok | error
    error TEXT,
    path TEXT,                       -- deterministic | generative | fallback
    llm TEXT,
    fallback_reason TEXT,
    spans INTEGER NOT NULL DEFAULT 0,
    decision TEXT NOT NULL,          -- commit | skip (bad input); the verifier adds fallback/quarantine
    scores TEXT,                     -- JSON: the verifier's per-record scores (issue 4), NULL until then
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE spans(
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    record_idx INTEGER NOT NULL,
    field TEXT NOT NULL,
    type TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    score REAL NOT NULL,
    detector TEXT NOT NULL,
    op TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX spans_job ON spans(job_id);
CREATE TABLE outputs(
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    decision TEXT NOT NULL,          -- commit | commit_partial | reused
    scores TEXT NOT NULL,            -- JSON: paths, fallback reasons, LLM use, verifier scores
    created_ms INTEGER NOT NULL
);
CREATE TABLE audit(
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    uid INTEGER,
    gid INTEGER,
    pid INTEGER,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    job_id INTEGER,
    detail TEXT
);
"#];

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Job states. `failed` with `next_attempt_ms` set is waiting for a retry;
/// without it, it is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Committed,
    Quarantined,
    Failed,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Running,
        State::Committed,
        State::Quarantined,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Committed => "committed",
            State::Quarantined => "quarantined",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A new job, before it has an id.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub source: &'a str,
    pub name: &'a str,
    pub input_path: &'a str,
    pub format: &'a str,
    pub config_fp: &'a str,
    pub rules_version: &'a str,
    pub model: Option<&'a str>,
    pub peer_uid: Option<u32>,
}

/// What an attempt runs on.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    pub config_fp: &'a str,
    pub rules_version: &'a str,
    pub model: Option<&'a str>,
    pub sha256: &'a str,
    pub bytes: u64,
}

/// One job row as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub source: String,
    pub name: String,
    #[serde(skip)]
    pub input_path: String,
    pub format: String,
    pub input_sha256: Option<String>,
    pub input_bytes: Option<i64>,
    pub config_fp: String,
    pub rules_version: String,
    pub model: Option<String>,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_ms: Option<i64>,
    pub error: Option<String>,
    pub reused_from: Option<i64>,
    pub records: Option<i64>,
    pub failed_records: Option<i64>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub output: Option<Output>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub path: String,
    pub sha256: String,
    pub bytes: i64,
    pub decision: String,
    pub scores: serde_json::Value,
}

/// One processed record (no content).
#[derive(Debug, Clone, Default)]
pub struct RecordRow {
    pub idx: usize,
    pub line: usize,
    pub error: Option<String>,
    pub path: Option<String>,
    pub llm: Option<String>,
    pub fallback_reason: Option<String>,
    pub spans: usize,
    /// The verifier's per-record scores, once `pipeline::Rewritten`
    /// carries them (issue 4).
    pub scores: Option<serde_json::Value>,
}

/// One rewritten span (no content: a keyed fingerprint stands for the value).
#[derive(Debug, Clone)]
pub struct SpanRow {
    pub record_idx: usize,
    pub field: String,
    pub entity: String,
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub detector: String,
    pub op: String,
    pub fingerprint: String,
}

/// What commits a job: its output file (already renamed into place) and
/// the per-record rows.
#[derive(Debug, Clone)]
pub struct Commit {
    pub output_path: String,
    pub sha256: String,
    pub bytes: u64,
    pub decision: String,
    pub scores: serde_json::Value,
    pub records: Vec<RecordRow>,
    pub spans: Vec<SpanRow>,
    pub failed_records: usize,
    /// All records of the input (`records` may hold only the first ones).
    pub total_records: usize,
    pub reused_from: Option<i64>,
}

/// One audit entry: who (socket peer) asked for what (method, path; never
/// the body).
#[derive(Debug, Clone)]
pub struct Audit {
    pub ts_ms: i64,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub pid: Option<i32>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub job_id: Option<i64>,
    pub detail: Option<String>,
}

/// The store: one connection behind a mutex (writes are short
/// transactions; WAL lets readers of other connections go on).
pub struct Store {
    conn: Mutex<Connection>,
}

const JOB_COLS: &str = "j.id, j.source, j.name, j.input_path, j.format, j.input_sha256, j.input_bytes, \
    j.config_fp, j.rules_version, j.model, j.state, j.attempts, j.next_attempt_ms, j.error, \
    j.reused_from, j.records, j.failed_records, j.created_ms, j.started_ms, j.finished_ms, \
    o.path, o.sha256, o.bytes, o.decision, o.scores";

fn job_from_row(r: &rusqlite::Row) -> rusqlite::Result<Job> {
    let state: String = r.get(10)?;
    let out_path: Option<String> = r.get(20)?;
    let output = match out_path {
        Some(path) => {
            let scores: String = r.get(24)?;
            Some(Output {
                path,
                sha256: r.get(21)?,
                bytes: r.get(22)?,
                decision: r.get(23)?,
                scores: serde_json::from_str(&scores).unwrap_or(serde_json::Value::Null),
            })
        }
        None => None,
    };
    Ok(Job {
        id: r.get(0)?,
        source: r.get(1)?,
        name: r.get(2)?,
        input_path: r.get(3)?,
        format: r.get(4)?,
        input_sha256: r.get(5)?,
        input_bytes: r.get(6)?,
        config_fp: r.get(7)?,
        rules_version: r.get(8)?,
        model: r.get(9)?,
        state: State::parse(&state).unwrap_or(State::Failed),
        attempts: r.get(11)?,
        next_attempt_ms: r.get(12)?,
        error: r.get(13)?,
        reused_from: r.get(14)?,
        records: r.get(15)?,
        failed_records: r.get(16)?,
        created_ms: r.get(17)?,
        started_ms: r.get(18)?,
        finished_ms: r.get(19)?,
        output,
    })
}

impl Store {
    /// Open (creating) the database, switch to WAL and run migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // Created 0600 before SQLite opens it (its -wal and -shm files take
        // the same mode): job names and fingerprints are nobody else's.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory store (unit tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // WAL: readers do not block the writer. synchronous=NORMAL for the
        // bookkeeping rows (a lost claim or start is redone by reconcile at
        // start), FULL around the transactions that must survive a power
        // cut (see `durable`). The WAL is append-only, so a FULL commit
        // also makes every earlier NORMAL one durable, in order.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the
        // transaction rolls back on drop), so the poison flag is ignored.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.lock();
        let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew { found: v, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let tx = c.transaction()?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Run `f` with synchronous=FULL: its commit is on disk when it returns.
    fn durable<T>(
        c: &mut Connection,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        c.pragma_update(None, "synchronous", "FULL")?;
        let r = f(c);
        c.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(r?)
    }

    /// Insert a job. `durable`: the row survives a power cut once this
    /// returns (API submissions, which answer 202); drop-folder claims
    /// need not be, reconcile recreates a lost row from processing/.
    pub fn insert_job(&self, j: &NewJob, durable: bool) -> Result<i64, StoreError> {
        let mut c = self.lock();
        if durable {
            return Self::durable(&mut c, |c| Self::insert_job_in(c, j));
        }
        Ok(Self::insert_job_in(&c, j)?)
    }

    fn insert_job_in(c: &Connection, j: &NewJob) -> rusqlite::Result<i64> {
        c.execute(
            "INSERT INTO jobs(source, name, input_path, format, config_fp, rules_version, model, \
             state, peer_uid, created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,'queued',?8,?9)",
            params![
                j.source,
                j.name,
                j.input_path,
                j.format,
                j.config_fp,
                j.rules_version,
                j.model,
                j.peer_uid,
                now_ms()
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let c = self.lock();
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id WHERE j.id = ?1"
        );
        Ok(c.query_row(&sql, [id], job_from_row).optional()?)
    }

    /// Jobs, newest first, optionally in one state.
    pub fn jobs(&self, state: Option<State>, limit: usize) -> Result<Vec<Job>, StoreError> {
        let c = self.lock();
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id \
             WHERE (?1 IS NULL OR j.state = ?1) ORDER BY j.id DESC LIMIT ?2"
        );
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(
            params![state.map(State::as_str), limit as i64],
            job_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Jobs not in a final state (queued, running, failed awaiting retry):
    /// what a restart must pick up again.
    pub fn unfinished(&self) -> Result<Vec<Job>, StoreError> {
        let c = self.lock();
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id \
             WHERE j.state IN ('queued','running') \
                OR (j.state = 'failed' AND j.next_attempt_ms IS NOT NULL) ORDER BY j.id"
        );
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map([], job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest job for a drop-folder name in the given states.
    pub fn latest_by_name(
        &self,
        source: &str,
        name: &str,
        states: &[State],
    ) -> Result<Option<Job>, StoreError> {
        let c = self.lock();
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id \
             WHERE j.source = ?1 AND j.name = ?2 AND j.state IN ({}) ORDER BY j.id DESC LIMIT 1",
            list.join(",")
        );
        Ok(c.query_row(&sql, params![source, name], job_from_row)
            .optional()?)
    }

    /// A committed job with the same input and configuration: its output
    /// can be reused instead of processing again.
    pub fn find_committed(
        &self,
        sha256: &str,
        config_fp: &str,
        except: i64,
    ) -> Result<Option<Job>, StoreError> {
        let c = self.lock();
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs j JOIN outputs o ON o.job_id = j.id \
             WHERE j.input_sha256 = ?1 AND j.config_fp = ?2 AND j.state = 'committed' \
             AND j.id != ?3 ORDER BY j.id DESC LIMIT 1"
        );
        Ok(
            c.query_row(&sql, params![sha256, config_fp, except], job_from_row)
                .optional()?,
        )
    }

    /// queued/failed -> running: one more attempt, with the input's hash
    /// and the configuration it runs under (a SIGHUP may have changed it
    /// since the job was queued).
    pub fn start(&self, id: i64, s: &Start) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE jobs SET state='running', attempts=attempts+1, started_ms=?2, \
             next_attempt_ms=NULL, config_fp=?3, rules_version=?4, model=?5, \
             input_sha256=?6, input_bytes=?7 WHERE id=?1",
            params![
                id,
                now_ms(),
                s.config_fp,
                s.rules_version,
                s.model,
                s.sha256,
                s.bytes as i64
            ],
        )?;
        Ok(())
    }

    /// Back to queued (shutdown checkpoint: the attempt did not count).
    pub fn requeue(&self, id: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE jobs SET state='queued', attempts=max(attempts-1,0) WHERE id=?1",
            [id],
        )?;
        Ok(())
    }

    /// A failed attempt; `retry_at` None makes the failure final.
    pub fn fail(&self, id: i64, error: &str, retry_at: Option<i64>) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE jobs SET state='failed', error=?2, next_attempt_ms=?3, finished_ms=?4 WHERE id=?1",
            params![id, error, retry_at, now_ms()],
        )?;
        Ok(())
    }

    pub fn quarantine(
        &self,
        id: i64,
        error: &str,
        records: usize,
        failed: usize,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE jobs SET state='quarantined', error=?2, records=?3, failed_records=?4, \
             next_attempt_ms=NULL, finished_ms=?5 WHERE id=?1",
            params![id, error, records as i64, failed as i64, now_ms()],
        )?;
        Ok(())
    }

    /// Commit a job in one transaction: records, spans, the output row and
    /// the state change. Called only after the output file is durable in
    /// outbox/, so a committed row always has its file.
    pub fn commit(&self, id: i64, c: &Commit) -> Result<(), StoreError> {
        let mut conn = self.lock();
        Self::durable(&mut conn, |conn| Self::commit_in(conn, id, c))
    }

    fn commit_in(conn: &mut Connection, id: i64, c: &Commit) -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        // A retried job may have rows from an attempt that crashed after
        // writing them; replace them.
        tx.execute("DELETE FROM records WHERE job_id=?1", [id])?;
        tx.execute("DELETE FROM spans WHERE job_id=?1", [id])?;
        tx.execute("DELETE FROM outputs WHERE job_id=?1", [id])?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO records(job_id, idx, line, status, error, path, llm, fallback_reason, spans, \
                 decision, scores) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
            )?;
            for r in &c.records {
                let status = if r.error.is_some() { "error" } else { "ok" };
                let decision = if r.error.is_some() { "skip" } else { "commit" };
                ins.execute(params![
                    id,
                    r.idx as i64,
                    r.line as i64,
                    status,
                    r.error,
                    r.path,
                    r.llm,
                    r.fallback_reason,
                    r.spans as i64,
                    decision,
                    r.scores.as_ref().map(|v| v.to_string())
                ])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO spans(job_id, record_idx, field, type, start, end, score, detector, op, fingerprint) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            )?;
            for s in &c.spans {
                ins.execute(params![
                    id,
                    s.record_idx as i64,
                    s.field,
                    s.entity,
                    s.start as i64,
                    s.end as i64,
                    s.score as f64,
                    s.detector,
                    s.op,
                    s.fingerprint
                ])?;
            }
        }
        tx.execute(
            "INSERT INTO outputs(job_id, path, sha256, bytes, decision, scores, created_ms) \
             VALUES (?1,?2,?3,?4,?5,?6,?7)",
            params![
                id,
                c.output_path,
                c.sha256,
                c.bytes as i64,
                c.decision,
                c.scores.to_string(),
                now_ms()
            ],
        )?;
        tx.execute(
            "UPDATE jobs SET state='committed', error=NULL, next_attempt_ms=NULL, records=?2, \
             failed_records=?3, reused_from=?4, finished_ms=?5 WHERE id=?1",
            params![
                id,
                c.total_records as i64,
                c.failed_records as i64,
                c.reused_from,
                now_ms()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Job counts per state (metrics, health).
    pub fn counts(&self) -> Result<Vec<(State, i64)>, StoreError> {
        let c = self.lock();
        let mut st = c.prepare("SELECT state, count(*) FROM jobs GROUP BY state")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (s, n) = r?;
            if let Some(s) = State::parse(&s) {
                out.push((s, n));
            }
        }
        Ok(out)
    }

    /// Committed outputs (for reconciling disk against the DB at start).
    pub fn committed_outputs(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let c = self.lock();
        let mut st = c.prepare(
            "SELECT j.id, o.path, o.sha256 FROM jobs j JOIN outputs o ON o.job_id=j.id \
             WHERE j.state='committed'",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record counts and span counts per type over committed jobs (metrics;
    /// types only, never values).
    pub fn span_types(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let c = self.lock();
        let mut st = c.prepare("SELECT type, count(*) FROM spans GROUP BY type ORDER BY type")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn audit(&self, entries: &[Audit]) -> Result<(), StoreError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO audit(ts_ms, uid, gid, pid, method, path, status, job_id, detail) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )?;
            for a in entries {
                ins.execute(params![
                    a.ts_ms, a.uid, a.gid, a.pid, a.method, a.path, a.status, a.job_id, a.detail
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Delete the rows of jobs that ended before `before_ms` (committed,
    /// quarantined, or failed with no retry pending) — their records,
    /// spans and output rows with them — and audit rows older than that.
    /// Output files are never touched: they are the product, and a start
    /// only warns about a committed output missing on disk, never about a
    /// file without a row. A pruned input dropped again is processed again
    /// (the idempotency lookup no longer finds it). Returns (jobs, audit
    /// rows) deleted.
    pub fn prune(&self, before_ms: i64) -> Result<(usize, usize), StoreError> {
        const OLD: &str = "SELECT id FROM jobs WHERE state IN ('committed','quarantined','failed') \
             AND next_attempt_ms IS NULL AND finished_ms IS NOT NULL AND finished_ms < ?1";
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            &format!("UPDATE jobs SET reused_from = NULL WHERE reused_from IN ({OLD})"),
            [before_ms],
        )?;
        for table in ["records", "spans", "outputs"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE job_id IN ({OLD})"),
                [before_ms],
            )?;
        }
        let jobs = tx.execute(
            &format!("DELETE FROM jobs WHERE id IN ({OLD})"),
            [before_ms],
        )?;
        let audit = tx.execute("DELETE FROM audit WHERE ts_ms < ?1", [before_ms])?;
        tx.commit()?;
        Ok((jobs, audit))
    }

    pub fn audit_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job<'a>(name: &'a str) -> NewJob<'a> {
        NewJob {
            source: "inbox",
            name,
            input_path: name,
            format: "text",
            config_fp: "fp",
            rules_version: "r1",
            model: None,
            peer_uid: None,
        }
    }

    /// How the tests start a job.
    fn start() -> Start<'static> {
        Start {
            config_fp: "fp",
            rules_version: "r1",
            model: None,
            sha256: "abc",
            bytes: 10,
        }
    }

    /// A commit of one record with one e-mail span.
    fn one_record_commit(reused_from: Option<i64>) -> Commit {
        Commit {
            output_path: "outbox/a.txt".into(),
            sha256: "def".into(),
            bytes: 9,
            decision: "commit".into(),
            scores: serde_json::json!({"paths": {"deterministic": 1}}),
            records: vec![RecordRow {
                idx: 0,
                line: 1,
                spans: 1,
                ..Default::default()
            }],
            spans: vec![SpanRow {
                record_idx: 0,
                field: "text".into(),
                entity: "EMAIL".into(),
                start: 0,
                end: 5,
                score: 0.9,
                detector: "rule:email".into(),
                op: "pseudonym".into(),
                fingerprint: "00ff".into(),
            }],
            failed_records: 0,
            total_records: 1,
            reused_from,
        }
    }

    #[test]
    fn migrations_set_user_version_and_reopen_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gdr.db");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let id = s.insert_job(&new_job("a.txt"), true).unwrap();
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.job(id).unwrap().unwrap().state, State::Queued);
        let mode: String = s
            .lock()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn state_machine_and_idempotency_lookup() {
        let s = Store::in_memory().unwrap();
        let a = s.insert_job(&new_job("a.txt"), false).unwrap();
        s.start(a, &start()).unwrap();
        assert_eq!(s.unfinished().unwrap().len(), 1);
        let commit = one_record_commit(None);
        s.commit(a, &commit).unwrap();
        // Committing again (a retry after a crash) replaces, never duplicates.
        s.commit(a, &commit).unwrap();
        let j = s.job(a).unwrap().unwrap();
        assert_eq!(j.state, State::Committed);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.output.as_ref().unwrap().sha256, "def");
        assert!(s.unfinished().unwrap().is_empty());
        let b = s.insert_job(&new_job("b.txt"), false).unwrap();
        assert_eq!(s.find_committed("abc", "fp", b).unwrap().unwrap().id, a);
        assert!(s.find_committed("abc", "other", b).unwrap().is_none());
        assert!(s.find_committed("abc", "fp", a).unwrap().is_none());
        assert_eq!(s.span_types().unwrap(), vec![("EMAIL".to_string(), 1)]);
        s.fail(b, "disk full", Some(now_ms() + 1000)).unwrap();
        assert_eq!(
            s.unfinished().unwrap().len(),
            1,
            "a failed job awaiting retry"
        );
        s.fail(b, "gone", None).unwrap();
        assert!(s.unfinished().unwrap().is_empty());
        let counts = s.counts().unwrap();
        assert!(counts.contains(&(State::Committed, 1)));
        assert!(counts.contains(&(State::Failed, 1)));
    }

    #[test]
    fn prune_removes_old_finished_jobs_and_audit_only() {
        let s = Store::in_memory().unwrap();
        let start = start();
        let commit = one_record_commit;
        let old = s.insert_job(&new_job("old.txt"), false).unwrap();
        s.start(old, &start).unwrap();
        s.commit(old, &commit(None)).unwrap();
        let retrying = s.insert_job(&new_job("retry.txt"), false).unwrap();
        s.fail(retrying, "disk full", Some(now_ms() + 60_000))
            .unwrap();
        let running = s.insert_job(&new_job("running.txt"), false).unwrap();
        s.start(running, &start).unwrap();
        s.audit(&[Audit {
            ts_ms: 1,
            uid: Some(0),
            gid: Some(0),
            pid: Some(1),
            method: "GET".into(),
            path: "/v1/health".into(),
            status: 200,
            job_id: None,
            detail: None,
        }])
        .unwrap();
        // A newer job that reused the old one's output keeps its rows.
        let cut = now_ms() + 1;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let new = s.insert_job(&new_job("new.txt"), false).unwrap();
        s.start(new, &start).unwrap();
        s.commit(new, &commit(Some(old))).unwrap();

        assert_eq!(s.prune(cut).unwrap(), (1, 1));
        assert!(s.job(old).unwrap().is_none());
        for id in [retrying, running, new] {
            assert!(s.job(id).unwrap().is_some(), "job {id} kept");
        }
        let c = s.lock();
        let n = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(n("SELECT count(*) FROM records"), 1);
        assert_eq!(n("SELECT count(*) FROM spans"), 1);
        assert_eq!(n("SELECT count(*) FROM outputs"), 1);
        assert_eq!(
            n("SELECT count(*) FROM jobs WHERE reused_from IS NOT NULL"),
            0
        );
        assert_eq!(n("SELECT count(*) FROM audit"), 0);
        drop(c);
        // Nothing more to prune.
        assert_eq!(s.prune(cut).unwrap(), (0, 0));
    }
}
