#!/usr/bin/env bash
# Install what building gdr needs on Debian, only what is missing.
# llama.cpp (through llama-cpp-2) needs cmake and clang/libclang (bindgen).
set -euo pipefail
need=()
for pkg in cmake clang libclang-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# models/fetch.sh converts the embedding model in a python venv.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
fi
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
