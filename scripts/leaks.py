#!/usr/bin/env python3
"""Show leaked gold identifiers with context, for tuning on the dev corpora.
Usage: leaks.py CORPUS.jsonl OUTPUT.jsonl [TYPE] [N]"""
import json, sys, random
sys.path.insert(0, sys.argv[0].rsplit('/', 1)[0])
from leak_test import norm, digits, leaked
corpus = [json.loads(l) for l in open(sys.argv[1])]
outs = {json.loads(l)["id"]: json.loads(l)["text"] for l in open(sys.argv[2]) if l.strip()}
want = (sys.argv[3] or None) if len(sys.argv) > 3 else None
n = int(sys.argv[4]) if len(sys.argv) > 4 else 40
rows = []
for r in corpus:
    o = outs.get(r["id"], r["text"])
    on, od = norm(o), digits(o)
    for i in r["identifiers"]:
        if (want is None or i["type"] == want) and leaked(i, on, od):
            s = i["start"]
            rows.append((i["type"], i["text"], r["text"][max(0, s-40):i["end"]+25].replace("\n", "⏎"), o[:160].replace("\n","⏎")))
random.seed(0)
for t, x, ctx, o in random.sample(rows, min(n, len(rows))):
    print(f"{t:10} {x!r:30} | {ctx}\n{'':10} OUT: {o}")
print(len(rows), "leaks")
