#!/usr/bin/env bash
# Start the real units in systemd/ under a real systemd, in a throwaway
# container (systemd-nspawn --volatile=yes: tmpfs root, the host's /usr
# read-only, private network), and report what happened:
#
#  1. gdr.socket + gdr.service with the sandbox exactly as shipped, the
#     service's command swapped (drop-in) for the sd_notify test child in the
#     library's test binary: systemd must hand it the socket (LISTEN_FDS),
#     the watchdog settings, and accept its READY=1/STOPPING=1.
#  2. gdr-model.service, a copy of gdr.service (same sandbox) running
#     `gdr rewrite` with the default model on two records of
#     fixtures/records.jsonl, configured by systemd/gdr.toml.
#  3. `systemd-analyze security gdr.service` as the running manager sees it.
#
# Why a script and not a test: it needs root, systemd-nspawn (Debian:
# systemd-container) and about a minute. Run from the repo root after
# `cargo build --release && cargo test --release --lib --no-run`:
#
#     scripts/nspawn_check.sh [OUT_DIR]
#
# Exit 0 when both services ended as expected; the journal, the results and
# the security table are left in OUT_DIR (default: a temp dir, printed).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
command -v systemd-nspawn >/dev/null || {
    echo "nspawn_check: systemd-nspawn not found (apt-get install systemd-container)" >&2
    exit 77
}
[ "$(id -u)" -eq 0 ] || { echo "nspawn_check: must run as root" >&2; exit 77; }
gdr=$repo/target/release/gdr
[ -x "$gdr" ] || { echo "nspawn_check: build first (cargo build --release)" >&2; exit 2; }
testbin=
for f in $(ls -t target/release/deps/gdr-* 2>/dev/null | grep -v '\.d$'); do
    if [ -x "$f" ] && "$f" --list --ignored 2>/dev/null | grep 'activated_child' >/dev/null; then
        testbin=$repo/$f
        break
    fi
done
[ -n "$testbin" ] || {
    echo "nspawn_check: no library test binary (cargo test --release --lib --no-run)" >&2
    exit 2
}

out=${1:-$(mktemp -d)}
mkdir -p "$out"
rm -f "$out/check.log" "$out/out.jsonl" "$out/report.jsonl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# /usr/local inside the container: the binaries at the units' paths, the
# models where systemd/gdr.toml expects them.
mkdir -p "$work/usrlocal/bin" "$work/usrlocal/share/gdr/models" "$work/in"
cp "$gdr" "$work/usrlocal/bin/gdr"
cp "$testbin" "$work/usrlocal/bin/gdr-systemd-test"
cp -r models/manifest.toml models/prompts "$work/usrlocal/share/gdr/models/"
cp models/*.gguf "$work/usrlocal/share/gdr/models/"
# Two records: the second is one the rules leave unsure, so the model runs.
head -n 2 fixtures/records.jsonl >"$work/in/records.jsonl"

mkdir -p "$work/gdr.service.d" "$work/gdr-model.service.d" "$work/wants"
cat >"$work/gdr.service.d/check.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/local/bin/gdr-systemd-test --exact daemon::systemd::tests::activated_child --ignored --nocapture --test-threads=1
Environment=GDR_SD_CHILD=1
EOF
cat >"$work/gdr-model.service.d/check.conf" <<'EOF'
[Service]
Type=oneshot
WatchdogSec=0
ExecStart=
ExecStart=/usr/local/bin/gdr --config /etc/gdr/gdr.toml rewrite --format jsonl --state-dir ${STATE_DIRECTORY} --report ${STATE_DIRECTORY}/report.jsonl /srv/in/records.jsonl
StandardOutput=truncate:/var/lib/gdr/out.jsonl
EOF
cat >"$work/gdr-check.service" <<'EOF'
[Unit]
Description=gdr unit check
Requires=gdr.socket
After=gdr.socket systemd-sysusers.service systemd-tmpfiles-setup.service

[Service]
Type=oneshot
# append: every Exec line reopens the file (truncate: would empty it).
StandardOutput=append:/srv/out/check.log
StandardError=inherit
ExecStart=/srv/check.sh
ExecStopPost=/usr/bin/systemctl poweroff --no-block
EOF
cat >"$work/check.sh" <<'EOF'
#!/bin/sh
set -u
echo "== socket"
stat -c '%A %U:%G %n' /run/gdr /run/gdr/gdr.sock
cat >/tmp/connect.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
try:
    s.connect("/run/gdr/gdr.sock")
except OSError as e:
    print("connect refused:", e.strerror)
    sys.exit(0)
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print("reply:", data.decode())
PY
echo "== a uid outside group gdr"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 /tmp/connect.py
echo "== activation: connect as a uid in group gdr"
setpriv --reuid=nobody --regid=gdr --clear-groups /usr/bin/python3 /tmp/connect.py
for i in $(seq 60); do
    [ "$(systemctl show -P ActiveState gdr.service)" = inactive ] && break
    sleep 1
done
systemctl show gdr.service -p Type -p Result -p ExecMainStatus -p NRestarts -p ActiveState -p WatchdogUSec
echo "== model under the same sandbox"
systemctl start gdr-model.service
systemctl show gdr-model.service -p Result -p ExecMainStatus
cp /var/lib/gdr/out.jsonl /var/lib/gdr/report.jsonl /srv/out/ 2>&1
stat -c '%A %U:%G %n' /var/lib/gdr /var/lib/gdr/pseudonym.key /var/lib/gdr/inbox
echo "== security"
systemd-analyze security --no-pager gdr.service > /srv/out/security.txt 2>&1
tail -1 /srv/out/security.txt
journalctl --no-pager -o short-monotonic -u gdr.socket -u gdr.service -u gdr-model.service > /srv/out/journal.txt 2>&1
echo "== done"
EOF
chmod +x "$work/check.sh"
ln -s /etc/systemd/system/gdr-check.service "$work/wants/gdr-check.service"

timeout 600 systemd-nspawn -D / --volatile=yes --private-network --register=no --keep-unit \
    -M gdr-check -q \
    --bind-ro="$work/usrlocal:/usr/local" \
    --bind-ro="$repo/systemd/gdr.service:/etc/systemd/system/gdr.service" \
    --bind-ro="$repo/systemd/gdr.service:/etc/systemd/system/gdr-model.service" \
    --bind-ro="$repo/systemd/gdr.socket:/etc/systemd/system/gdr.socket" \
    --bind-ro="$work/gdr.service.d:/etc/systemd/system/gdr.service.d" \
    --bind-ro="$work/gdr-model.service.d:/etc/systemd/system/gdr-model.service.d" \
    --bind-ro="$work/gdr-check.service:/etc/systemd/system/gdr-check.service" \
    --bind-ro="$work/wants:/etc/systemd/system/multi-user.target.wants" \
    --bind-ro="$repo/systemd/gdr.sysusers.conf:/etc/sysusers.d/gdr.conf" \
    --bind-ro="$repo/systemd/gdr.tmpfiles.conf:/etc/tmpfiles.d/gdr.conf" \
    --bind-ro="$repo/systemd/gdr.toml:/etc/gdr/gdr.toml" \
    --bind-ro="$work/check.sh:/srv/check.sh" \
    --bind-ro="$work/in:/srv/in" \
    --bind="$out:/srv/out" \
    -b -- systemd.firstboot=off >"$out/boot.log" 2>&1 || true

echo "nspawn_check: results in $out" >&2
cat "$out/check.log" 2>/dev/null || { echo "nspawn_check: the check did not run (see $out/boot.log)" >&2; exit 1; }
grep -q '^connect refused: Permission denied$' "$out/check.log" &&
    grep -q '^reply: fds=1 watchdog=30000000 env-cleared=true$' "$out/check.log" &&
    grep -q '^Result=success' "$out/check.log" &&
    [ "$(grep -c '^Result=success' "$out/check.log")" -eq 2 ] &&
    [ -s "$out/out.jsonl" ] &&
    grep -q '"llm":\["used"\]' "$out/report.jsonl"
