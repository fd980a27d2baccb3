#!/usr/bin/env python3
"""Show leaked gold identifiers with context, for tuning on the dev corpora.
Usage: leaks.py CORPUS.jsonl OUTPUT.jsonl [TYPE] [N]"""
import json, re, sys, random
sys.path.insert(0, sys.argv[0].rsplit('/', 1)[0])
def norm(s): return re.sub(r"\s+", " ", s).strip().lower()
def digits(s): return re.sub(r"\D", "", s)
def leaked(ident, on, od):
    t = ident["text"]
    if norm(t) in on: return True
    d = digits(t)
    if len(d) >= 6 and d in od: return True
    if ident["type"] == "PERSON":
        for tok in re.findall(r"[A-Za-z][A-Za-z'\-]{2,}", t):
            if re.search(r"\b" + re.escape(tok.lower()) + r"\b", on): return True
    return False
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
