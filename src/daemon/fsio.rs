//! Crash-safe file operations. An output becomes visible only by rename of
//! a fully written, fsynced temp file in the same directory, and the
//! directory is fsynced after the rename, so after a crash a reader finds
//! either the old file or the complete new one, never a half file.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Temp files carry this prefix (dotfiles: the watcher and readers of
/// outbox/ skip them) and are removed at start.
pub const TMP_PREFIX: &str = ".gdr-tmp-";

/// A file being written next to its final path.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    out: Option<BufWriter<File>>,
    hash: ring::digest::Context,
    bytes: u64,
    /// Renamed into place: the temp name no longer exists.
    done: bool,
}

impl AtomicFile {
    pub fn create(dest: &Path, tag: i64) -> std::io::Result<Self> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!("{TMP_PREFIX}{tag}-{name}"));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            out: Some(BufWriter::with_capacity(1 << 16, f)),
            hash: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
            done: false,
        })
    }

    /// fsync, rename into place, fsync the directory. Returns (sha256, bytes).
    pub fn commit(mut self) -> std::io::Result<(String, u64)> {
        let out = self.out.take().expect("not committed twice");
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&self.tmp, &self.dest)?;
        self.done = true;
        sync_dir(self.dest.parent().unwrap_or(Path::new(".")))?;
        let sha = super::hex(self.hash.clone().finish().as_ref());
        Ok((sha, self.bytes))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.as_mut().expect("open").write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().expect("open").flush()
    }
}

impl Drop for AtomicFile {
    /// Not committed (an error, also one inside `commit`, or a
    /// checkpoint): the temp file goes, no partial output stays behind.
    fn drop(&mut self) {
        drop(self.out.take());
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `data` to `dest` atomically.
pub fn write_atomic(dest: &Path, data: &[u8], tag: i64) -> std::io::Result<(String, u64)> {
    let mut f = AtomicFile::create(dest, tag)?;
    f.write_all(data)?;
    f.commit()
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Rename and make the rename durable (both directories fsynced).
pub fn rename_durable(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::rename(from, to)?;
    if let Some(p) = to.parent() {
        sync_dir(p)?;
    }
    if let Some(p) = from.parent()
        && Some(p) != to.parent()
    {
        sync_dir(p)?;
    }
    Ok(())
}

/// sha256 and size of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((super::hex(h.finish().as_ref()), n))
}

/// Remove leftover temp files under `dir` (a crash mid-write).
pub fn remove_temps(dir: &Path) -> usize {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            n += remove_temps(&p);
        } else if e.file_name().to_string_lossy().starts_with(TMP_PREFIX)
            && std::fs::remove_file(&p).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// Whether an I/O error is worth retrying later (space, quota, transient
/// device trouble) rather than a property of the input.
pub fn transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        StorageFull | QuotaExceeded | Interrupted | WouldBlock | TimedOut | ResourceBusy
    ) || matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EIO | libc::EAGAIN | libc::EROFS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_is_invisible_until_commit_and_cleaned_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("out.txt");
        let mut f = AtomicFile::create(&dest, 7).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        let (sha, n) = f.commit().unwrap();
        assert_eq!(n, 5);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(sha, sha256_file(&dest).unwrap().0);
        let mut g = AtomicFile::create(&dest, 8).unwrap();
        g.write_all(b"partial").unwrap();
        drop(g);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
