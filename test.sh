#!/usr/bin/env bash
# Everything CI checks: formatting, rule-pack examples, unit, property and
# integration tests (release profile: one llama.cpp build serves all).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
cargo fmt --all -- --check
cargo build --release --quiet
target/release/gdr rules
cargo test --release
