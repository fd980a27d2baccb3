#!/usr/bin/env bash
# Start the daemon on the embedded defaults: build gdr, then `gdr serve`
# with the state directory ./state (or $GDR_STATE_DIR): drop files into
# state/inbox/, results appear in state/outbox/; the HTTP/JSON API is on
# state/gdr.sock. Extra arguments go to `gdr serve` (e.g. --no-llm,
# or --config gdr.toml before them via GDR_CONFIG). Stop with Ctrl-C/SIGTERM.
# The stdin -> stdout CLI is `target/release/gdr rewrite` (see README).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
models/fetch.sh
cargo build --release --quiet
state="${GDR_STATE_DIR:-$PWD/state}"
mkdir -p "$state"
echo "gdr serve: drop files into $state/inbox/, results in $state/outbox/," >&2
echo "API: curl --unix-socket $state/gdr.sock http://gdr/v1/health" >&2
exec target/release/gdr --state-dir "$state" serve "$@"
