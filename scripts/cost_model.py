#!/usr/bin/env python3
"""Split a corpus's scan cost into per record, per byte and per identifier.

Why: the rules-only scan's MB/s differs threefold between corpora of the
same language, and the figure alone does not say why. This splits the
corpus's records into groups by how many spans `gdr scan` reports for each
(0, 1, 2-3, 4+), counts the scan loop's instructions on each group with
callgrind (examples/prof_scan.rs, one pass), and fits

    instructions = a * records + b * bytes + c * spans

by least squares. It prints the three costs and what share of the whole
corpus's scan each term explains.

Usage (from the repository root, after
`cargo build --release --bin gdr --example prof_scan`):

    python3 scripts/cost_model.py CORPUS.jsonl [FIELD]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GDR = os.path.join(ROOT, "target/release/gdr")
PROF = os.path.join(ROOT, "target/release/examples/prof_scan")


def instructions(path):
    """Instructions of one scan pass over `path` (prof_scan's loop only)."""
    with tempfile.NamedTemporaryFile() as out:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out.name,
             "--toggle-collect=prof_scan::scan_all", PROF, path, "1"],
            capture_output=True, text=True, check=True)
    m = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
    if not m:
        sys.exit("no instruction count in callgrind's output")
    return int(m.group(1).replace(",", ""))


def solve(rows, ys):
    """Least squares for three unknowns (normal equations, no numpy)."""
    n = 3
    m = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    v = [sum(r[i] * y for r, y in zip(rows, ys)) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            f = m[j][i] / m[i][i]
            for k in range(n):
                m[j][k] -= f * m[i][k]
            v[j] -= f * v[i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (v[i] - sum(m[i][k] * x[k] for k in range(i + 1, n))) / m[i][i]
    return x


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    corpus = sys.argv[1]
    field = sys.argv[2] if len(sys.argv) > 2 else "text"
    with open(corpus, encoding="utf-8") as f:
        texts = [json.loads(line)[field] for line in f if line.strip()]
    with open(corpus, "rb") as f:
        scan = subprocess.run(
            [GDR, "scan", "--no-llm", "--format", "jsonl", "--field", field],
            stdin=f, capture_output=True, check=True).stdout.decode()
    counts = [len(json.loads(line)["spans"]) for line in scan.splitlines()]
    if len(counts) != len(texts):
        sys.exit(f"{len(texts)} records but {len(counts)} scan lines")
    groups = {"0": [], "1": [], "2-3": [], "4+": []}
    for t, n in zip(texts, counts):
        key = "0" if n == 0 else "1" if n == 1 else "2-3" if n <= 3 else "4+"
        groups[key].append((t, n))
    rows, ys = [], []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'group':>6} {'records':>8} {'bytes':>9} {'spans':>7} {'instr/byte':>11}")
        for key, items in groups.items():
            if not items:
                continue
            path = os.path.join(tmp, f"g{len(rows)}.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for t, _ in items:
                    f.write(json.dumps({"text": t}) + "\n")
            row = [len(items), sum(len(t.encode()) for t, _ in items),
                   sum(n for _, n in items)]
            y = instructions(path)
            rows.append(row)
            ys.append(y)
            print(f"{key:>6} {row[0]:>8} {row[1]:>9} {row[2]:>7} {y / row[1]:>11.1f}")
    if len(rows) < 3:
        sys.exit("fewer than three non-empty groups: no fit")
    a, b, c = solve(rows, ys)
    total = [sum(r[i] for r in rows) for i in range(3)]
    parts = [a * total[0], b * total[1], c * total[2]]
    whole = sum(parts)
    print(f"per record {a:,.0f}, per byte {b:,.1f}, per span {c:,.0f} instructions")
    print("share of the corpus's scan: records {:.0%}, bytes {:.0%}, spans {:.0%}".format(
        *(p / whole for p in parts)))
    print(f"bytes per span: {total[1] / max(total[2], 1):.0f}")


if __name__ == "__main__":
    main()
