//! Minimal private copy of the systemd glue the `sysd` branch provides as
//! `src/daemon/systemd.rs` (same function names and signatures), so the
//! daemon compiles before the branches merge. The integrator replaces this
//! file with that module.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Send `state` to $NOTIFY_SOCKET; Ok(false) when not run by systemd.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), &path)?;
    }
    Ok(true)
}

pub fn notify_ready() -> std::io::Result<bool> {
    notify("READY=1\nSTATUS=serving")
}

pub fn notify_reloading() -> std::io::Result<bool> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"))
}

pub fn notify_stopping() -> std::io::Result<bool> {
    notify("STOPPING=1")
}

pub fn notify_watchdog() -> std::io::Result<bool> {
    notify("WATCHDOG=1")
}

/// The watchdog interval systemd expects pings within, when it applies to
/// this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Sockets passed by systemd socket activation (fds from 3).
pub fn listen_fds() -> Vec<OwnedFd> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !pid_ok || n <= 0 {
        return Vec::new();
    }
    (3..3 + n)
        .map(|fd| {
            // SAFETY: systemd passed these descriptors to this process
            // (LISTEN_PID matched) and nothing else owns them.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                OwnedFd::from_raw_fd(fd)
            }
        })
        .collect()
}
