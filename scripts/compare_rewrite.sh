#!/usr/bin/env bash
# Compare two gdr binaries' rules-only rewrites: `gdr rewrite --no-llm` with
# its per-record report, under one fixed pseudonym key, over the eval
# corpora and the fixtures. Outputs kept in OUT_DIR, and a count of
# differing lines per input (0 everywhere = the same rewrites, surrogates,
# verdicts and report lines).
# Usage: scripts/compare_rewrite.sh BASELINE_BIN NEW_BIN [OUT_DIR]
set -euo pipefail
base=$1; new=$2
out=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
eval_dir=${GDR_EVAL_DIR:-$here/../shared/eval}
mkdir -p "$out"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
printf 'gdr-compare-fixed-key-0123456789' > "$state/pseudonym.key"
chmod 600 "$state/pseudonym.key"
status=0
run() { # name bin args... < input
    local name=$1 bin=$2; shift 2
    "$bin" rewrite --no-llm --state-dir "$state" --report "$out/$name.report" "$@" \
        > "$out/$name" 2> /dev/null || true
    cat "$out/$name.report" >> "$out/$name"
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
    n=$(diff "$out/$name.base" "$out/$name.new" | grep -c '^<' || true)
    total=$(wc -l < "$out/$name.base")
    echo "$name: $total lines, $n differ"
    [ "$n" -eq 0 ] || status=1
done
echo "outputs in $out"
exit $status
