#!/usr/bin/env bash
# Compare two gdr binaries over the eval corpora and the fixtures, outputs
# kept in OUT_DIR, and a count of differing lines per input (0 everywhere =
# identical results).
#   scan (default): `gdr scan --no-llm --show-values`, span for span;
#   COMPARE=rewrite (scripts/compare_rewrite.sh): `gdr rewrite --no-llm`
#   under one fixed pseudonym key, its output followed by its per-record
#   report: every rewrite, surrogate, verdict and score.
# Usage: scripts/compare_scan.sh BASELINE_BIN NEW_BIN [OUT_DIR]
set -euo pipefail
base=$1; new=$2
out=${3:-$(mktemp -d)}
mode=${COMPARE:-scan}
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
    case "$mode" in
        scan) "$bin" scan --no-llm --show-values "$@" > "$out/$name" || true ;;
        rewrite)
            "$bin" rewrite --no-llm --state-dir "$state" --report "$out/$name.report" "$@" \
                > "$out/$name" 2> /dev/null || true
            cat "$out/$name.report" >> "$out/$name" ;;
        *) echo "COMPARE is scan or rewrite" >&2; exit 2 ;;
    esac
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
