//! What the CLI integration tests share: how the real binary is started.
//! (Each `tests/*.rs` is its own crate, so not every one uses every item.)
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_gdr");

/// The built `gdr` with `--state-dir state` and `args`, run from the
/// package root (where `models/manifest.toml` is found) and with the
/// environment's config, state dir and log settings removed, so the
/// developer's shell cannot change a test's outcome.
pub fn command(state: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("GDR_CONFIG")
        .env_remove("GDR_STATE_DIR")
        .env_remove("GDR_LOG");
    cmd
}

/// Run `cmd` to the end, feeding `stdin` (if any) from a thread, so a large
/// input cannot deadlock against a full output pipe.
pub fn output(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn gdr");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait for gdr")
}

/// Run `gdr` with `args` and `--state-dir state`, feeding `stdin` (if any).
pub fn gdr(state: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    output(&mut command(state, args), stdin)
}

/// Whether `needle` occurs in `hay` as a whole word: not inside a longer
/// run of letters, digits and hyphens. Checks for leaked names use it
/// because a surrogate may by chance hold a name as part of a word
/// ("Karlshamn" for a town, "Karls" for a surname, "Karl-Friedrich" for
/// "Hannah"): a plain substring check failed on that about once in 150
/// runs of the note fixture, each with a fresh key.
pub fn contains_word(hay: &str, needle: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-');
    hay.match_indices(needle).any(|(i, m)| {
        !word(hay[..i].chars().next_back()) && !word(hay[i + m.len()..].chars().next())
    })
}

/// Give `state` a fixed pseudonym key (0600), so a test's surrogates are
/// the same every run. With a fresh random key a surrogate is now and then
/// another identifier of the same text ("Hannah Becker" became "Karl
/// Waitman" in a note that names Karl: once in 1,000 runs), which a leak
/// check cannot tell from a leak. Key creation has tests of its own.
pub fn fixed_key(state: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(state).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(state.join("pseudonym.key"))
        .and_then(|mut f| f.write_all(b"gdr-tests-fixed-key-0123456789ab"))
        .unwrap();
}

/// The entity types of a scan line's spans, in order.
pub fn span_types(line: &serde_json::Value) -> Vec<&serde_json::Value> {
    line["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["type"])
        .collect()
}

/// The record lines and the summary gdr writes to stderr, without the
/// panic hook's own lines (which name the thread and may carry a
/// backtrace): what runs on different thread counts must agree on.
pub fn record_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("gdr: ") && !l.starts_with("gdr: panic in thread"))
        .map(str::to_string)
        .collect()
}
