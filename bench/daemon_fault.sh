#!/usr/bin/env bash
# The issue's fault run: kill -9 `gdr serve` in the middle of a burst of
# N files (default 1,000), restart it, and check that every file ends
# committed or quarantined exactly once, with no duplicates, no half files
# and the DB agreeing with the disk. It is the CI test
# (tests/daemon.rs, 200 files there) at full size.
set -euo pipefail
cd "$(dirname "$0")/.."
export GDR_FAULT_FILES="${1:-1000}"
exec cargo test --release --test daemon kill9 -- --nocapture
