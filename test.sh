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
cargo clippy --release --all-targets --quiet --features failpoints -- -D warnings
target/release/gdr rules
# failpoints: test-only panic injection (src/failpoint.rs) for the tests
# proving a panicking record or job never kills the daemon or the CLI run.
cargo test --release --features failpoints
# The tests left the failpoints build in target/release/gdr: put the shipped
# one back (both are cached; this only relinks).
cargo build --release --quiet
