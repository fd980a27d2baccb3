//! The drop folder. inotify (via `notify`) reports files closed after
//! writing and files moved in; a periodic rescan catches anything an event
//! missed. A file is claimed by renaming it into processing/ — the rename
//! is atomic, so a file is claimed once even if it is seen twice — and a
//! `queued` job row follows.
//!
//! Ignored: dotfiles, `*.part` (write there, then rename), symlinks and
//! anything not a regular file. Files found by listing rather than by an
//! event are claimed only once they have not changed for `settle_ms`: a
//! writer may still have them open.

use super::Shared;
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Whether a relative name is one the watcher takes.
pub fn wanted(rel: &Path) -> bool {
    let mut any = false;
    for c in rel.components() {
        let std::path::Component::Normal(s) = c else {
            return false;
        };
        let s = s.to_string_lossy();
        if s.starts_with('.') || s.ends_with(".part") {
            return false;
        }
        any = true;
    }
    any
}

/// Regular files under `dir` (recursively), as relative UTF-8 names,
/// skipping unwanted names.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(rel) = p.strip_prefix(dir) else {
                continue;
            };
            if !wanted(rel) {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && let Some(name) = rel.to_str()
            {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out
}

/// Claim one inbox file: rename into processing/, insert the job, queue it.
/// Returns the job id, or None when the file was not taken (unwanted,
/// gone, same name still busy, draining).
pub fn claim(shared: &Arc<Shared>, path: &Path) -> Option<i64> {
    if shared.draining.load(Ordering::SeqCst) {
        return None;
    }
    let rel = path.strip_prefix(&shared.dirs.inbox).ok()?;
    if !wanted(rel) {
        return None;
    }
    let name = rel.to_str()?.to_string();
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    {
        let mut busy = shared.busy_names.lock().unwrap_or_else(|e| e.into_inner());
        if busy.contains(&name) {
            return None;
        }
        busy.insert(name.clone());
    }
    let dest = shared.dirs.processing.join(&name);
    let release = |shared: &Arc<Shared>| {
        shared
            .busy_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
    };
    if dest.exists() {
        release(shared);
        return None;
    }
    if let Some(parent) = dest.parent()
        && std::fs::create_dir_all(parent).is_err()
    {
        release(shared);
        return None;
    }
    // No fsync needed here: if the rename is lost in a crash the file is
    // back in inbox/, and reconcile moves it again for its row.
    if std::fs::rename(path, &dest).is_err() {
        release(shared);
        return None;
    }
    shared.metrics.files_claimed.fetch_add(1, Ordering::Relaxed);
    match super::jobs::new_inbox_job(shared, &name) {
        Ok(id) => {
            shared.enqueue(id);
            Some(id)
        }
        Err(e) => {
            // The file stays in processing/ and gets its row at the next
            // start (reconcile).
            tracing::error!(error = %e, "could not record a claimed file");
            None
        }
    }
}

/// Whether a file found by listing (not announced by an event) has been
/// unchanged for `settle_ms`, so no writer is likely still at it.
pub fn settled(shared: &Shared, p: &Path) -> bool {
    let settle = Duration::from_millis(shared.daemon_cfg().settle_ms);
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= settle)
}

/// List the inbox and claim every file that has settled.
pub fn scan_inbox(shared: &Arc<Shared>) -> usize {
    let mut n = 0;
    for name in list_files(&shared.dirs.inbox) {
        let p = shared.dirs.inbox.join(&name);
        if settled(shared, &p) && claim(shared, &p).is_some() {
            n += 1;
        }
    }
    n
}

/// The backlog at start (after the watcher is running).
pub async fn backlog(shared: &Arc<Shared>) {
    let s = shared.clone();
    let n = tokio::task::spawn_blocking(move || scan_inbox(&s))
        .await
        .unwrap_or(0);
    if n > 0 {
        tracing::info!(files = n, "claimed backlog");
    }
}

/// The running watcher; dropping it stops the events.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
}

/// Start watching inbox/ and the periodic rescan.
pub fn start(
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<WatchHandle, super::DaemonError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        let take = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        if take && let Some(p) = ev.paths.last() {
            let _ = tx.send(p.clone());
        }
    })
    .map_err(|e| super::DaemonError::Config(format!("inotify: {e}")))?;
    watcher
        .watch(&shared.dirs.inbox, RecursiveMode::Recursive)
        .map_err(|e| super::DaemonError::Config(format!("watching inbox: {e}")))?;

    // Events: claim in batches off the runtime.
    let s = shared.clone();
    let mut stop1 = stop.clone();
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                p = rx.recv() => match p { Some(p) => p, None => break },
                _ = stop1.changed() => break,
            };
            let mut batch = vec![first];
            while batch.len() < 512 {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let s2 = s.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for p in batch {
                    claim(&s2, &p);
                }
            })
            .await;
        }
    });

    // Rescan: missed events, subdirectories created before their watch,
    // names that waited for a busy one.
    let s = shared;
    let mut stop2 = stop;
    tokio::spawn(async move {
        let every = Duration::from_secs(s.daemon_cfg().rescan_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop2.changed() => break,
            }
            let s2 = s.clone();
            let _ = tokio::task::spawn_blocking(move || scan_inbox(&s2)).await;
        }
    });
    Ok(WatchHandle { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles_parts_and_escapes_are_not_wanted() {
        assert!(wanted(Path::new("a.txt")));
        assert!(wanted(Path::new("sub/a.jsonl")));
        assert!(!wanted(Path::new(".hidden")));
        assert!(!wanted(Path::new("sub/.x/a.txt")));
        assert!(!wanted(Path::new("a.txt.part")));
        assert!(!wanted(Path::new("../a.txt")));
        assert!(!wanted(Path::new("")));
    }
}
