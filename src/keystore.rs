//! The pseudonym key: 32 random bytes created on first run in the state
//! directory with mode 0600. Whoever holds it can recompute which surrogate
//! belongs to which identifier, so it never leaves the state dir.

use crate::Error;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = "pseudonym.key";
const KEY_LEN: usize = 32;

/// Load the key from `state_dir`, creating the directory (0700) and the key
/// (0600) if they do not exist. Refuses a key readable by group or others.
pub fn load_or_create(state_dir: &Path) -> Result<Vec<u8>, Error> {
    if !state_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|e| Error::io(state_dir, e))?;
    }
    let path = state_dir.join(KEY_FILE);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut f) => {
            let mut key = vec![0u8; KEY_LEN];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| Error::Key("system random generator failed".into()))?;
            f.write_all(&key).map_err(|e| Error::io(&path, e))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
            // Make the new name durable too.
            if let Ok(d) = std::fs::File::open(state_dir) {
                let _ = d.sync_all();
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn read_key(path: &PathBuf) -> Result<Vec<u8>, Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::Key(format!(
            "{} is accessible by group or others (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        )));
    }
    let mut key = Vec::new();
    f.read_to_end(&mut key).map_err(|e| Error::io(path, e))?;
    if key.len() != KEY_LEN {
        return Err(Error::Key(format!(
            "{} holds {} bytes, expected {KEY_LEN}",
            path.display(),
            key.len()
        )));
    }
    Ok(key)
}

/// Default state directory: $GDR_STATE_DIR, else $STATE_DIRECTORY (set by
/// systemd's StateDirectory=), else $XDG_STATE_HOME/gdr, else
/// ~/.local/state/gdr, else /var/lib/gdr.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GDR_STATE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("gdr");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".local/state/gdr");
    }
    PathBuf::from("/var/lib/gdr")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_0600_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let sd = dir.path().join("state");
        let k1 = load_or_create(&sd).unwrap();
        let k2 = load_or_create(&sd).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(k1.len(), 32);
        let mode = std::fs::metadata(sd.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn world_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let p = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
