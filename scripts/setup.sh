#!/usr/bin/env bash
# Install what building and testing gdr need on Debian, only what is missing.
# llama.cpp (through llama-cpp-2) needs cmake and clang/libclang (bindgen).
set -euo pipefail
need=()
for pkg in cmake clang libclang-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# tests/systemd.rs checks systemd/ with systemd-analyze, systemd-sysusers
# and systemd-tmpfiles (no systemd as PID 1 needed), and runs the model under
# the unit's syscall filter with libseccomp's Python bindings.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
dpkg -s python3-seccomp >/dev/null 2>&1 || need+=(python3-seccomp)
if ((${#need[@]})); then
    echo "setup: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (stable, edition 2024: rustc >= 1.85)" >&2
    exit 1
fi
