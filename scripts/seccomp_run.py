#!/usr/bin/python3
"""Run a command under the system call filter of a systemd unit.

    scripts/seccomp_run.py systemd/gdr.service -- gdr scan ...

Reads the unit's SystemCallFilter= lines (an allow list, then `~` lines that
take groups out of it), expands the @groups with `systemd-analyze
syscall-filter` (systemd's own definition of them), loads the filter with
libseccomp (Debian: python3-seccomp) and execs the command. Calls outside the
list kill the process (SIGSYS), stricter than the unit's
SystemCallErrorNumber=EPERM, so a needed call cannot fail unnoticed.
Exit 77 when the check cannot run here (no libseccomp bindings).

Why: the service cannot be started without systemd as PID 1, but what its
filter lets through can still be tested against the real binary and model.
"""

import os
import subprocess
import sys

try:
    import seccomp
except ImportError:
    print("seccomp_run: python3-seccomp is not installed", file=sys.stderr)
    sys.exit(77)


def groups():
    """Every @group of this systemd, as {name: [members]}."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        check=True, capture_output=True, text=True,
    ).stdout
    table, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not line.startswith((" ", "\t")) and s.startswith("@"):
            cur = table.setdefault(s, [])
        elif cur is not None:
            cur.append(s)
    return table


def expand(names, table, seen=None):
    seen = set() if seen is None else seen
    calls = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            calls |= expand(table.get(n, []), table, seen)
        else:
            calls.add(n)
    return calls


def unit_filter(path):
    allow, deny = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("SystemCallFilter="):
                continue
            v = line.split("=", 1)[1].strip()
            (deny if v.startswith("~") else allow).extend(v.lstrip("~").split())
    return allow, deny


def main():
    if "--" not in sys.argv or sys.argv.index("--") != 2:
        sys.exit("usage: seccomp_run.py UNIT -- COMMAND [ARGS...]")
    unit, cmd = sys.argv[1], sys.argv[3:]
    allow, deny = unit_filter(unit)
    if not allow:
        sys.exit(f"seccomp_run: {unit} has no SystemCallFilter= allow list")
    table = groups()
    calls = expand(allow, table) - expand(deny, table)
    f = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS)
    added = 0
    for c in sorted(calls):
        try:
            f.add_rule(seccomp.ALLOW, c)
            added += 1
        except (RuntimeError, ValueError):
            pass  # not a call on this architecture (e.g. the *_time64 ones)
    print(f"seccomp_run: {added} system calls allowed", file=sys.stderr)
    f.load()
    os.execvp(cmd[0], cmd)


main()
