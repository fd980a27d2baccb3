//! systemd integration without libsystemd: the sd_notify datagram protocol,
//! the watchdog settings and socket activation (`LISTEN_FDS`).
//!
//! Why hand-written: the protocol is a few lines over `AF_UNIX` datagrams
//! (see sd_notify(3), sd_listen_fds(3)), std has everything needed, and
//! linking libsystemd would add a C dependency to a daemon that must run
//! with `RestrictAddressFamilies=AF_UNIX` and no network. Only Unix sockets
//! are ever opened here; a `vsock:` notify address is refused, not dialled.
//!
//! Every function is a no-op returning `Ok(false)` / `None` / empty when the
//! process was not started by systemd, so the daemon calls them
//! unconditionally.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The first socket-activation file descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Send `state` (newline-separated `KEY=VALUE` assignments, see
/// sd_notify(3)) to the socket named by `$NOTIFY_SOCKET`.
///
/// Returns `Ok(false)` when `$NOTIFY_SOCKET` is unset or empty (not run by
/// systemd, or `NotifyAccess=none`), `Ok(true)` when the datagram was sent.
/// The variable is left in place: the watchdog needs it for the whole life
/// of the process.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(addr) if !addr.is_empty() => notify_to(&addr, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Send one notification datagram to `addr`: a filesystem path, or an
/// abstract socket name written with a leading `@`.
fn notify_to(addr: &OsStr, state: &str) -> io::Result<()> {
    let addr = notify_addr(addr)?;
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        // Datagrams are all or nothing; a short count would mean a
        // truncated assignment reached systemd.
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write on the notify socket",
        ));
    }
    Ok(())
}

/// Parse `$NOTIFY_SOCKET` into a Unix socket address.
fn notify_addr(addr: &OsStr) -> io::Result<SocketAddr> {
    let bytes = addr.as_bytes();
    match bytes.first() {
        // Abstract namespace: systemd writes the leading NUL as '@'.
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]),
        Some(b'/') => SocketAddr::from_pathname(std::path::Path::new(addr)),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "NOTIFY_SOCKET is neither an absolute path nor an abstract (@) name; \
             only AF_UNIX notification sockets are supported",
        )),
    }
}

/// Startup finished: the socket is listening and the drop folder watched.
/// With `Type=notify` systemd holds back units ordered after gdr until this.
pub fn notify_ready() -> io::Result<bool> {
    notify("READY=1")
}

/// A reload (SIGHUP) has begun. Send [`notify_ready`] when it is done.
///
/// `MONOTONIC_USEC` is required by systemd >= 253 for `Type=notify-reload`
/// (it matches the message to the reload request); older systemd and
/// `Type=notify` accept and ignore it, so one message serves both.
pub fn notify_reloading() -> io::Result<bool> {
    notify(&reloading_message(monotonic_usec()?))
}

fn reloading_message(usec: u64) -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={usec}")
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares against.
/// std's `Instant` hides its clock, hence libc.
fn monotonic_usec() -> io::Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000)
}

/// Shutdown has begun (SIGTERM): in-flight work is draining.
pub fn notify_stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// Keep-alive for `WatchdogSec=`: send at least every half of
/// [`watchdog_interval`], from the loop whose liveness it vouches for.
pub fn notify_watchdog() -> io::Result<bool> {
    notify("WATCHDOG=1")
}

/// Free-form status line shown by `systemctl status`. Newlines are replaced
/// by spaces so the text cannot smuggle in other assignments (a `READY=1`
/// line, say). Callers pass counts and states, never record content.
pub fn notify_status(status: &str) -> io::Result<bool> {
    notify(&status_message(status))
}

fn status_message(status: &str) -> String {
    let clean: String = status
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("STATUS={clean}")
}

/// The watchdog timeout systemd expects pings within (`WatchdogSec=`), or
/// `None` when the watchdog is off or meant for another process
/// (`$WATCHDOG_PID` names a different PID, e.g. a parent shell).
/// Ping at half this interval.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var_os("WATCHDOG_USEC")?;
    let pid = std::env::var_os("WATCHDOG_PID");
    watchdog_from(&usec, pid.as_deref(), std::process::id())
}

fn watchdog_from(usec: &OsStr, pid: Option<&OsStr>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        let pid: u32 = pid.to_str()?.parse().ok()?;
        if pid != me {
            return None;
        }
    }
    let usec: u64 = usec.to_str()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Sockets passed by socket activation (`gdr.socket`), in the order of the
/// socket unit's `Listen*=` lines. Empty when not socket-activated.
///
/// The descriptors get `FD_CLOEXEC` so they do not leak into child
/// processes, and `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` are removed
/// from the environment so children do not try to claim them. Call it once,
/// early in `main` before other threads exist: changing the environment is
/// only sound while no other thread reads it. Turn a listening stream
/// socket into a listener with `UnixListener::from(fd)`.
pub fn listen_fds() -> Vec<OwnedFd> {
    let pid = std::env::var_os("LISTEN_PID");
    let fds = std::env::var_os("LISTEN_FDS");
    if pid.is_none() && fds.is_none() {
        return Vec::new();
    }
    let n = listen_count(pid.as_deref(), fds.as_deref(), std::process::id());
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: documented precondition — called at startup while the
        // process is single-threaded, so no other thread reads the
        // environment concurrently.
        unsafe { std::env::remove_var(var) };
    }
    take_fds(LISTEN_FDS_START, n)
}

/// How many descriptors `LISTEN_PID`/`LISTEN_FDS` hand to process `me`
/// (0 when they are for someone else or malformed).
fn listen_count(pid: Option<&OsStr>, fds: Option<&OsStr>, me: u32) -> usize {
    let parse = |v: Option<&OsStr>| v?.to_str()?.parse::<u64>().ok();
    match (parse(pid), parse(fds)) {
        (Some(pid), Some(n)) if pid == u64::from(me) => {
            // Guard against a corrupt count: never claim beyond the fd limit.
            usize::try_from(n).unwrap_or(0).min(max_fds())
        }
        _ => 0,
    }
}

fn max_fds() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    usize::try_from(n).unwrap_or(1024)
}

/// Take ownership of `n` descriptors starting at `start`, marking each
/// close-on-exec. Descriptors that are not open are skipped.
fn take_fds(start: RawFd, n: usize) -> Vec<OwnedFd> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let Ok(i) = RawFd::try_from(i) else { break };
        let fd = start + i;
        // SAFETY: F_GETFD/F_SETFD only read and set descriptor flags; an
        // unopened fd yields EBADF, which is checked.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            continue;
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
            continue;
        }
        // SAFETY: systemd passed this open descriptor to this process (the
        // LISTEN_PID check) and nothing else in the process owns it.
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::process::{Command, Stdio};

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a notification datagram");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn notify_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1").unwrap();
        assert_eq!(recv(&sock), "READY=1");
        notify_to(path.as_os_str(), &status_message("3 jobs\nREADY=1")).unwrap();
        assert_eq!(recv(&sock), "STATUS=3 jobs READY=1");
    }

    #[test]
    fn notify_reaches_an_abstract_socket() {
        let name = format!("gdr-test-notify-{}", std::process::id());
        let sock =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "WATCHDOG=1").unwrap();
        assert_eq!(recv(&sock), "WATCHDOG=1");
    }

    #[test]
    fn notify_refuses_non_unix_addresses_and_reports_a_missing_socket() {
        let e = notify_to(OsStr::new("vsock:2:1234"), "READY=1").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.sock");
        assert!(notify_to(missing.as_os_str(), "READY=1").is_err());
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let a = monotonic_usec().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let b = monotonic_usec().unwrap();
        assert!(b >= a + 1_000, "{a} {b}");
        assert_eq!(
            reloading_message(42),
            "RELOADING=1\nMONOTONIC_USEC=42".to_string()
        );
    }

    #[test]
    fn watchdog_honours_pid() {
        let us = OsStr::new("30000000");
        assert_eq!(watchdog_from(us, None, 7), Some(Duration::from_secs(30)));
        assert_eq!(
            watchdog_from(us, Some(OsStr::new("7")), 7),
            Some(Duration::from_secs(30))
        );
        assert_eq!(watchdog_from(us, Some(OsStr::new("8")), 7), None);
        assert_eq!(watchdog_from(OsStr::new("0"), None, 7), None);
        assert_eq!(watchdog_from(OsStr::new("x"), None, 7), None);
    }

    #[test]
    fn listen_count_checks_pid() {
        let s = |v: &'static str| Some(OsStr::new(v));
        assert_eq!(listen_count(s("7"), s("2"), 7), 2);
        assert_eq!(listen_count(s("8"), s("2"), 7), 0);
        assert_eq!(listen_count(s("7"), s("two"), 7), 0);
        assert_eq!(listen_count(None, s("2"), 7), 0);
        assert!(listen_count(s("7"), s("99999999999"), 7) <= max_fds());
    }

    #[test]
    fn taken_fds_are_cloexec_and_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("listen.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let fd = listener.as_raw_fd();
        // Hand the descriptor over as systemd would: without CLOEXEC, owned
        // by nobody else.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        std::mem::forget(listener);
        let mut fds = take_fds(fd, 1);
        assert_eq!(fds.len(), 1);
        let flags = unsafe { libc::fcntl(fds[0].as_raw_fd(), libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
        let listener = UnixListener::from(fds.pop().unwrap());
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"ping").unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = [0u8; 4];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    /// End to end through the environment, the way systemd starts a
    /// service: a shell sets `LISTEN_PID=$$` / `WATCHDOG_PID=$$`, moves the
    /// listening socket to fd 3 and execs this test binary (same PID), which
    /// runs [`activated_child`]. The child notifies us over an abstract
    /// socket and serves one connection on the inherited listener.
    #[test]
    fn socket_activation_and_notify_through_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gdr.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let name = format!("gdr-test-activation-{}", std::process::id());
        let notify_sock =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        let exe = std::env::current_exe().unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(
                "export LISTEN_PID=$$ WATCHDOG_PID=$$; \
                 exec 3<&0 0</dev/null; \
                 exec \"$0\" --exact daemon::systemd::tests::activated_child \
                 --ignored --nocapture --test-threads=1",
            )
            .arg(&exe)
            .env("LISTEN_FDS", "1")
            .env("LISTEN_FDNAMES", "gdr.sock")
            .env("WATCHDOG_USEC", "4000000")
            .env("NOTIFY_SOCKET", format!("@{name}"))
            .env("GDR_SD_CHILD", "1")
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(recv(&notify_sock), "READY=1");
        let mut client = UnixStream::connect(&path).unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "fds=1 watchdog=4000000 env-cleared=true");
        assert_eq!(recv(&notify_sock), "STOPPING=1");
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The child half of the test above; does nothing when run directly.
    #[test]
    #[ignore = "run by socket_activation_and_notify_through_the_environment"]
    fn activated_child() {
        if std::env::var_os("GDR_SD_CHILD").is_none() {
            return;
        }
        let mut fds = listen_fds();
        let cleared = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
            .iter()
            .all(|v| std::env::var_os(v).is_none());
        let n = fds.len();
        let wd = watchdog_interval().map_or(0, |d| d.as_micros());
        assert!(notify_ready().unwrap());
        let listener = UnixListener::from(fds.pop().expect("fd 3 passed"));
        let (mut conn, _) = listener.accept().unwrap();
        write!(conn, "fds={n} watchdog={wd} env-cleared={cleared}").unwrap();
        drop(conn);
        assert!(notify_stopping().unwrap());
    }
}
