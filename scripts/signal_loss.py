#!/usr/bin/env python3
"""Show signal words lost in rewrites (false positives), most frequent first.
Usage: signal_loss.py CORPUS.jsonl OUTPUT.jsonl [N]"""
import json, re, sys, collections
STOP = set("a an the of to in on at for and or but is are was were be been it its this that with as by from".split())
def words(s): return [w for w in re.findall(r"[a-z0-9]+", s.lower()) if w not in STOP]
corpus = [json.loads(l) for l in open(sys.argv[1])]
outs = {json.loads(l)["id"]: json.loads(l)["text"] for l in open(sys.argv[2]) if l.strip()}
n = int(sys.argv[3]) if len(sys.argv) > 3 else 40
lost = collections.Counter(); ex = {}
for r in corpus:
    ow = set(words(outs.get(r["id"], "")))
    for s in r["signal"]:
        for w in words(s):
            if w not in ow:
                lost[w] += 1; ex.setdefault(w, s[:100])
for w, c in lost.most_common(n):
    print(f"{c:5} {w:15} | {ex[w]!r}")
