#!/usr/bin/env python3
"""What each kind of gold identifier costs the rules-only scan, in time.

For every identifier type of a labelled corpus (the eval JSONL: `text` and
`identifiers` with character offsets), a copy of the corpus is made with the
identifiers of that type replaced by lower-case filler prose of the same
byte length, so that record count, record length and everything else stay
as they were. `examples/prof_scan` then times the original and each copy in
turn, round after round (alternating runs compare better on a noisy machine
than runs minutes apart), and the time a pass saves when a type is blanked
is what those identifiers cost.

Why by blanking: instruction counts per function do not say where the time
goes (cache misses and mispredicts are half of it on short records), and
synthetic one-identifier sentences miss what real ones cost (multi-line
postal blocks, foreign scripts).

Usage:
    cargo build --release --example prof_scan
    python3 scripts/identifier_cost.py ../shared/eval/presidio-dev.jsonl [PASSES] [ROUNDS]

Prints, per type: how many identifiers and bytes were blanked, MB/s of the
blanked corpus, ms a pass it saves against the original, that per
identifier, and the share of the original's scan time, with the spread of
the original's own rounds as the noise floor: a type whose saving is not
well above it costs too little to tell here.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

FILLER = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
    "tempor incididunt ut labore et dolore magna aliqua "
) * 40


def blank(records, types):
    """The corpus's texts with the identifiers of `types` (None: all)
    replaced by filler of the same UTF-8 length."""
    out, count, nbytes = [], 0, 0
    for r in records:
        text = r["text"]
        ids = sorted(
            (i for i in r.get("identifiers", []) if types is None or i["type"] in types),
            key=lambda i: i["start"],
        )
        parts, last = [], 0
        for i in ids:
            if i["start"] < last:
                continue  # overlaps one already blanked
            n = len(text[i["start"]:i["end"]].encode())
            parts.append(text[last:i["start"]])
            parts.append(FILLER[:n].rstrip().ljust(n, "x"))
            last = i["end"]
            count += 1
            nbytes += n
        parts.append(text[last:])
        out.append("".join(parts))
    return out, count, nbytes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    corpus = sys.argv[1]
    passes = sys.argv[2] if len(sys.argv) > 2 else "20"
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    prof = os.path.join(here, "target/release/examples/prof_scan")
    if not os.path.exists(prof):
        sys.exit(f"{prof} missing: cargo build --release --example prof_scan")
    records = [json.loads(line) for line in open(corpus, encoding="utf-8") if line.strip()]
    total = sum(len(r["text"].encode()) for r in records)
    types = {}
    for r in records:
        for i in r.get("identifiers", []):
            types[i["type"]] = types.get(i["type"], 0) + 1
    # The blanked copies (a corpus each) go when the timing is done.
    with tempfile.TemporaryDirectory(prefix="gdr-idcost-") as tmp:
        variants = [("(none)", None, 0, 0)]
        for name, kinds in [("ALL", None)] + [(t, {t}) for t in sorted(types, key=lambda t: -types[t])]:
            texts, count, nbytes = blank(records, kinds)
            path = os.path.join(tmp, re.sub(r"\W", "_", name) + ".jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps({"text": t}) + "\n")
            variants.append((name, path, count, nbytes))
        speeds = {name: [] for name, *_ in variants}
        for _ in range(rounds):
            for name, path, _, _ in variants:
                run = subprocess.run(
                    [prof, path or corpus, passes], capture_output=True, text=True, check=True
                )
                m = re.search(r"([\d.]+) MB/s cpu", run.stderr)
                speeds[name].append(float(m.group(1)))
    base = sum(speeds["(none)"]) / rounds
    base_ms = total / 1e6 / base * 1e3
    print(f"{corpus}: {len(records)} records, {total} bytes, {passes} passes x {rounds} rounds")
    ms_runs = [total / 1e6 / v * 1e3 for v in speeds["(none)"]]
    mean = sum(ms_runs) / rounds
    noise = (sum((x - mean) ** 2 for x in ms_runs) / max(rounds - 1, 1)) ** 0.5
    print(f"{'blanked':<20} {'ids':>6} {'bytes':>7} {'MB/s':>7} "
          f"{'ms saved':>9} {'ns/id':>7} {'share':>6}")
    for name, path, count, nbytes in variants:
        mbs = sum(speeds[name]) / rounds
        ms = total / 1e6 / mbs * 1e3
        saved = base_ms - ms
        per = saved / count * 1e6 if count else 0.0
        print(f"{name:<20} {count:>6} {nbytes:>7} {mbs:>7.1f} "
              f"{saved:>9.3f} {per:>7.0f} {saved / base_ms:>6.1%}")
    print(f"(none) is the corpus as it is: {base_ms:.3f} ms a pass; "
          f"its rounds spread by {noise:.3f} ms (one standard deviation)")


if __name__ == "__main__":
    main()
