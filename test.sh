#!/usr/bin/env bash
# Everything CI checks: formatting, clippy, rule-pack examples, unit,
# property and integration tests (release profile throughout: one llama.cpp
# build serves the build, clippy and the tests).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
models/fetch.sh
cargo fmt --all -- --check
cargo build --release --quiet
cargo clippy --release --all-targets --quiet -- -D warnings
target/release/gdr rules
cargo test --release
