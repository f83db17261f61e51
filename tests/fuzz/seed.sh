#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>, gitignored) from real models and
# blobs: small zoo models written by accel-modelgen and compiled by accelc, plus the shipped light_* models.
# Usage: bash tests/fuzz/seed.sh   (from anywhere; builds and uses the workspace's release binaries, or the
# accelc and accel-modelgen found in $ACCEL_BIN when that is set)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$root/tests/fuzz/corpus
cd "$root"
if [ -z "${ACCEL_BIN:-}" ]; then
    cargo build --release -p accel-modelgen -p accel-compiler --bins
fi
bin=${ACCEL_BIN:-$root/target/release}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$corpus/blob_load_run" "$corpus/command_stream" "$corpus/onnx_compile"

# blob_load_run inputs are a mode byte, then the blob: 0 as is, 1 re-seal the checksums after mutation,
# 3 also fix the total length, 5 re-seal and run on random inputs.
add_blob() {
    local name=$1 blob=$2
    for mode in 0 1 3 5; do
        { printf "\\x0$mode"; cat "$blob"; } >"$corpus/blob_load_run/$name-$mode"
    done
}

for spec in "tiny-cnn 8 8" "tiny-cnn 16 16" "residual-block 8 8" "inverted-residual 8 8" \
    "conv-bn-relu-stack 8 8" "c2f-block 8 8" "transformer-block 8 16"; do
    set -- $spec
    name=$1-$2x$3
    "$bin/accel-modelgen" "$1" --height "$2" --width "$3" -o "$tmp/$name.onnx"
    cp "$tmp/$name.onnx" "$corpus/onnx_compile/$name.onnx"
    if "$bin/accelc" "$tmp/$name.onnx" -o "$tmp/$name.bin" >/dev/null; then
        add_blob "$name" "$tmp/$name.bin"
    fi
done

# The light_* models: parser seeds for onnx_compile (most exceed its small element limit), blobs for the loader.
for model in tests/data/light/*.onnx; do
    name=$(basename "$model" .onnx)
    cp "$model" "$corpus/onnx_compile/$name.onnx"
    if "$bin/accelc" "$model" -o "$tmp/$name.bin" >/dev/null 2>&1 && [ "$(stat -c %s "$tmp/$name.bin")" -lt 4000000 ]; then
        add_blob "$name" "$tmp/$name.bin"
    fi
done

# command_stream is structured: any bytes are a program; a few fixed seeds give it a start.
for i in 0 1 2 3; do
    head -c $((256 << i)) /dev/urandom >"$corpus/command_stream/random-$i"
done
ls "$corpus"/* | wc -l
