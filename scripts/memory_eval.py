#!/usr/bin/env python3
"""How many identifiers repeated without context in a later message leak.

Builds two-message chat records from a labelled corpus (score.py's format):
message 1 is the record's text; message 2 repeats each of its gold
identifiers in a short reply with no cue ("noted {value}, thanks"), one
record per identifier. Rewrites them with `gdr rewrite --field
'messages[].content'` and counts a leak when the identifier survives in the
rewritten message 2 (score.py's test: the value, its digits, a word of a
name). Only identifiers that message 1's rewrite removed are counted: the
question is whether what was found in one part is removed from another.

Options (before the extra gdr arguments):
  --same-part   the reply is the last line of the same message, not a
                second message (a repeat within one text)
  --name-words  only the gold persons of two words or more, and the reply
                repeats the last word alone, as people write a surname
                ("Ford said thanks.", "Thanks, Ford.")

Usage: memory_eval.py GDR_BIN CORPUS.jsonl [--same-part] [--name-words] [EXTRA GDR ARGS...]
"""
import json, os, subprocess, sys, tempfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from leak_test import norm, digits, leaked  # noqa: E402

TEMPLATES = [
    "noted {v}, thanks",
    "Follow-up about {v}: confirmed.",
    "ok so {v} it is",
    "Re: {v}",
]


# A surname alone, as the subject of a sentence or addressed.
NAME_TEMPLATES = [
    "{v} said thanks.",
    "Thanks, {v}.",
    "Later {v} called back.",
    "{v} was seen again today.",
]


def main():
    gdr, corpus = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    same_part = "--same-part" in extra
    name_words = "--name-words" in extra
    extra = [a for a in extra if a not in ("--same-part", "--name-words")]
    templates = NAME_TEMPLATES if name_words else TEMPLATES
    recs, gold, fixed_parts = [], [], []
    for line in open(corpus):
        r = json.loads(line)
        for k, ident in enumerate(r["identifiers"]):
            v = ident["text"]
            if name_words:
                words = [w.strip(".,") for w in v.split()]
                words = [w for w in words if w.isalpha() and len(w) >= 3]
                if ident["type"] != "PERSON" or len(v.split()) < 2 or not words:
                    continue
                v = words[-1]
            template = templates[len(recs) % len(templates)]
            t = template.format(v=v)
            if same_part:
                messages = [{"role": "user", "content": r["text"] + "\n" + t}]
            else:
                messages = [{"role": "user", "content": r["text"]},
                            {"role": "user", "content": t}]
            recs.append({"id": f"{r['id']}#{k}", "messages": messages})
            gold.append(ident)
            fixed_parts.append(template.split("{v}"))
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "in.jsonl")
        with open(inp, "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
        out = subprocess.run([gdr, "--state-dir", d, *extra, "rewrite", "--format", "jsonl",
                              "--no-llm", "--field", "messages[].content", inp],
                             capture_output=True, text=True)
    outs = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        msgs = [m["content"] for m in r["messages"]]
        if same_part:
            msgs = msgs[0].rsplit("\n", 1)
        outs[r["id"]] = msgs
    n = leaks = kept = 0
    for i, (r, ident) in enumerate(zip(recs, gold)):
        o = outs.get(r["id"])
        if o is None:
            continue
        first = o[0]
        if leaked(ident, norm(first), digits(first)):
            continue  # not removed from message 1: not this test's question
        n += 1
        second = o[1]
        # The reply's own words must stay: the memory must not take them.
        fixed = fixed_parts[i]
        if all(part.strip() in second for part in fixed):
            kept += 1
        if leaked(ident, norm(second), digits(second)):
            leaks += 1
            if os.environ.get("SHOW"):
                # Raw values: for the developer's terminal only.
                print(ident["type"], repr(ident["text"]), "->", repr(second), file=sys.stderr)
    print(json.dumps({"records": len(recs), "removed_in_first": n, "leaked_in_second": leaks,
                      "repeat_leak_rate": round(leaks / n, 4) if n else None,
                      "reply_words_kept": round(kept / n, 4) if n else None}))


if __name__ == "__main__":
    main()
