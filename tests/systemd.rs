//! The systemd files in `systemd/`, checked with systemd's own tools on a
//! scratch root directory (no systemd as PID 1 needed, nothing installed on
//! the host): `systemd-analyze verify` must accept the units without a
//! single warning, `systemd-analyze security` must rate the service's
//! exposure low, `systemd-sysusers` and `systemd-tmpfiles` must create the
//! user and the directory layout, and the example config must load. The
//! model must run under the service's `MemoryDenyWriteExecute=yes` and
//! its `SystemCallFilter=`.
//!
//! When the systemd tools are missing (scripts/setup.sh installs them), the
//! tests that need them say so and return.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gdr");

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        eprintln!("SKIP: {name} not found (scripts/setup.sh installs the systemd package)");
    }
    found
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A root directory holding what the units refer to: systemd's own units
/// (sysinit.target & co.), `kill` for ExecReload=, the built gdr at the
/// unit's ExecStart= path, and our units in /etc/systemd/system.
fn unit_root() -> tempfile::TempDir {
    // Under the target dir, so the binary can be hard-linked, not copied.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let r = root.path();
    let sys = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_dir())
        .expect("systemd's unit directory");
    copy_dir(sys, &r.join("usr/lib/systemd/system"));
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    let kill = which("kill").expect("kill (procps) on PATH");
    std::fs::copy(kill, r.join("usr/bin/kill")).unwrap();
    std::fs::create_dir_all(r.join("usr/local/bin")).unwrap();
    let gdr = r.join("usr/local/bin/gdr");
    if std::fs::hard_link(BIN, &gdr).is_err() {
        std::fs::copy(BIN, &gdr).unwrap();
    }
    let units = r.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    for u in ["gdr.service", "gdr.socket"] {
        std::fs::copy(repo(&format!("systemd/{u}")), units.join(u)).unwrap();
    }
    root
}

#[test]
fn units_pass_systemd_analyze_verify_without_warnings() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let root = unit_root();
    let o = Command::new(&analyze)
        .args(["verify", "--man=no", "--generators=no"])
        .arg(format!("--root={}", root.path().display()))
        .args(["gdr.service", "gdr.socket"])
        .output()
        .unwrap();
    let out = text(&o);
    println!(
        "systemd-analyze verify: exit {:?}, output {out:?}",
        o.status.code()
    );
    assert!(o.status.success(), "verify failed:\n{out}");
    // verify exits 0 on unknown keys and bad values: any output is a
    // warning about our units.
    assert!(out.trim().is_empty(), "verify warnings:\n{out}");
}

#[test]
fn service_exposure_is_low() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let root = unit_root();
    let o = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--root={}", root.path().display()))
        .arg("gdr.service")
        .output()
        .unwrap();
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    let score: f64 = out
        .lines()
        .find_map(|l| l.split("Overall exposure level for gdr.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{out}"));
    // 0.4 when written: the remaining points are AF_UNIX (the API),
    // PrivateUsers= (would break SO_PEERCRED), the root directory, and the
    // RTC read access ProtectClock= itself grants.
    assert!(score <= 1.0, "exposure {score} (was 0.4)");
}

#[test]
fn sysusers_and_tmpfiles_create_the_user_and_layout() {
    let (Some(sysusers), Some(tmpfiles)) = (tool("systemd-sysusers"), tool("systemd-tmpfiles"))
    else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: systemd-tmpfiles must run as root to chown the layout");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    let rootarg = format!("--root={}", r.display());
    let o = Command::new(&sysusers)
        .arg(&rootarg)
        .arg(repo("systemd/gdr.sysusers.conf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let passwd = std::fs::read_to_string(r.join("etc/passwd")).unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("gdr:"))
        .unwrap_or_else(|| panic!("no gdr user in {passwd}"));
    let f: Vec<&str> = line.split(':').collect();
    let uid: u32 = f[2].parse().unwrap();
    assert!(uid > 0 && uid < 1000, "a system uid: {line}");
    assert_eq!(f[5], "/var/lib/gdr");
    assert!(f[6].ends_with("nologin"), "{line}");
    let group = std::fs::read_to_string(r.join("etc/group")).unwrap();
    assert!(group.lines().any(|l| l.starts_with("gdr:")), "{group}");

    let o = Command::new(&tmpfiles)
        .args(["--create", &rootarg])
        .arg(repo("systemd/gdr.tmpfiles.conf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for (dir, mode) in [
        ("var/lib/gdr", 0o750),
        ("var/lib/gdr/inbox", 0o2770),
        ("var/lib/gdr/processing", 0o700),
        ("var/lib/gdr/outbox", 0o750),
        ("var/lib/gdr/quarantine", 0o700),
    ] {
        let m = std::fs::metadata(r.join(dir)).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{dir}");
        assert_eq!(m.uid(), uid, "{dir} owned by gdr");
    }
    assert!(r.join("etc/gdr/rules").is_dir());
}

#[test]
fn example_config_loads() {
    let cfg = gdr::config::Config::load(&repo("systemd/gdr.toml")).expect("systemd/gdr.toml");
    assert_eq!(cfg.state_dir.as_deref(), Some(Path::new("/var/lib/gdr")));
    assert_eq!(cfg.csv.columns, ["text"]);
    // The service's ExecStart= passes this very path.
    let unit = std::fs::read_to_string(repo("systemd/gdr.service")).unwrap();
    assert!(unit.contains("--config /etc/gdr/gdr.toml serve"));
}

/// gdr.service sets MemoryDenyWriteExecute=yes and a SystemCallFilter=.
/// The kernel's own W^X switch (PR_SET_MDWE, Linux >= 6.3, kept across exec)
/// refuses the same mappings, and scripts/seccomp_run.py loads the unit's
/// filter (systemd's @groups, SIGSYS on anything else); under both the real
/// default model must still load and detect.
#[test]
fn model_runs_under_the_units_memory_and_syscall_restrictions() {
    const PR_SET_MDWE: libc::c_int = 65;
    const PR_MDWE_REFUSE_EXEC_GAIN: libc::c_ulong = 1;
    let state = tempfile::tempdir().unwrap();
    // One paragraph the rules do not fully explain, so the model is asked.
    let input = state.path().join("in.txt");
    std::fs::write(
        &input,
        "Please charge my Visa card 4111 1111 1111 1111 for the renewal. Thanks, Jonas Weber\n",
    )
    .unwrap();
    let python = Path::new("/usr/bin/python3");
    let seccomp = which("systemd-analyze").is_some()
        && Command::new(python)
            .args(["-c", "import seccomp"])
            .output()
            .is_ok_and(|o| o.status.success());
    let mut cmd = if seccomp {
        let mut c = Command::new(python);
        c.arg(repo("scripts/seccomp_run.py"))
            .arg(repo("systemd/gdr.service"))
            .arg("--")
            .arg(BIN);
        c
    } else {
        eprintln!(
            "SKIP (syscall filter part): needs systemd-analyze and python3-seccomp \
             (scripts/setup.sh installs them)"
        );
        Command::new(BIN)
    };
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--state-dir")
        .arg(state.path())
        .args(["scan", "--format", "text"])
        .arg(&input)
        .env_remove("GDR_CONFIG")
        .env_remove("GDR_MODELS");
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("SKIP: kernel without PR_SET_MDWE (Linux < 6.3)");
            return;
        }
        Err(e) => panic!("spawn: {e}"),
    };
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{:?}\n{out}", o.status);
    if seccomp {
        assert!(out.contains("system calls allowed"), "{out}");
    }
    assert!(
        out.contains("\"llm\":\"used\""),
        "the model took part:\n{out}"
    );
}
