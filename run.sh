#!/usr/bin/env bash
# The main job on the embedded defaults: build gdr and rewrite JSONL records
# (field "text") from stdin to stdout with the built-in rules and policy.
# Extra arguments are passed to `gdr rewrite` (e.g. --field 'messages[].content').
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
models/fetch.sh
cargo build --release --quiet
exec target/release/gdr rewrite --format jsonl "$@"
