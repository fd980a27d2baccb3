#!/usr/bin/env bash
# Compare two gdr binaries span for span: `gdr scan --no-llm --show-values`
# over the eval corpora and the fixtures, outputs kept in OUT_DIR, and a
# count of differing records per input (0 everywhere = identical results).
# Usage: scripts/compare_scan.sh BASELINE_BIN NEW_BIN [OUT_DIR]
set -euo pipefail
base=$1; new=$2
out=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
eval_dir=${GDR_EVAL_DIR:-$here/../shared/eval}
mkdir -p "$out"
status=0
run() { # name bin args... < input
    local name=$1 bin=$2; shift 2
    "$bin" scan --no-llm --show-values "$@" > "$out/$name" || true
}
for input in "$eval_dir/presidio-dev.jsonl" "$eval_dir/tab-dev.jsonl" \
             "$here/fixtures/records.jsonl" "$here/fixtures/chat.jsonl" \
             "$here/fixtures/note.txt" "$here/fixtures/hard_negatives.txt"; do
    [ -f "$input" ] || continue
    name=$(basename "$input")
    case "$input" in
        *chat.jsonl) args=(--format jsonl --field 'messages[].content') ;;
        *.jsonl) args=(--format jsonl) ;;
        *) args=(--format text) ;;
    esac
    run "$name.base" "$base" "${args[@]}" < "$input"
    run "$name.new" "$new" "${args[@]}" < "$input"
    n=$(diff <(cat "$out/$name.base") <(cat "$out/$name.new") | grep -c '^<' || true)
    total=$(wc -l < "$out/$name.base")
    echo "$name: $total records, $n differ"
    [ "$n" -eq 0 ] || status=1
done
echo "outputs in $out"
exit $status
