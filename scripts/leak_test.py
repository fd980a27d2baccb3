"""The leak test of ../shared/eval/score.py, restated once for the scripts
that need it per identifier (score.py runs when imported): an identifier
leaks when its text, its digits (six or more) or, for a person, a word of
its name survives in the output."""
import re


def norm(s): return re.sub(r"\s+", " ", s).strip().lower()
def digits(s): return re.sub(r"\D", "", s)


def leaked(ident, out_norm, out_digits):
    t = ident["text"]
    if norm(t) in out_norm: return True
    d = digits(t)
    if len(d) >= 6 and d in out_digits: return True
    if ident["type"] == "PERSON":
        for tok in re.findall(r"[A-Za-z][A-Za-z'\-]{2,}", t):
            if re.search(r"\b" + re.escape(tok.lower()) + r"\b", out_norm): return True
    return False
