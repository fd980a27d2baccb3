#!/usr/bin/env bash
# Compare two gdr binaries' rules-only rewrites and per-record reports line
# for line (see scripts/compare_scan.sh, which does the work).
# Usage: scripts/compare_rewrite.sh BASELINE_BIN NEW_BIN [OUT_DIR]
COMPARE=rewrite exec "$(dirname "$0")/compare_scan.sh" "$@"
