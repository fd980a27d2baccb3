#!/usr/bin/env bash
# Score gdr's rewrite of a labelled corpus with ../shared/eval/score.py.
# Usage: scripts/eval.sh CORPUS.jsonl [extra gdr rewrite flags...]
set -euo pipefail
corpus=$1; shift
here=$(cd "$(dirname "$0")/.." && pwd)
eval_dir=${GDR_EVAL_DIR:-$here/../shared/eval}
bin=${GDR_BIN:-$here/target/release/gdr}
out=$(mktemp)
state=$(mktemp -d)
trap 'rm -rf "$out" "$state"' EXIT
# A fixed pseudonym key: surrogates (and so the rare chance that one
# coincides with a gold string) are the same on every run.
printf 'gdr-eval-fixed-key-0123456789abc' > "$state/pseudonym.key"
chmod 600 "$state/pseudonym.key"
start=$(date +%s.%N)
"$bin" rewrite --state-dir "$state" --format jsonl --field text "$@" < "$corpus" > "$out"
end=$(date +%s.%N)
n=$(wc -l < "$corpus")
python3 "$eval_dir/score.py" "$corpus" "$out"
echo "records: $n  seconds: $(echo "$end - $start" | bc)  records/s: $(echo "$n / ($end - $start)" | bc)"
