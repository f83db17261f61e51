#!/usr/bin/env bash
# Real framework exports through accel: installs PyTorch + torchvision and PaddlePaddle + paddle2onnx from PyPI
# into virtual environments under target/real-exports (~6 GB, once), exports their vision models with random
# weights (no model hub) at opsets 11, 13 and 17, compiles each with `accelc --input-shape` (the batch dim is
# dynamic), runs it with `accelrt`, and prints per model, opset and precision the output SQNR against the
# framework's own output and against accel's fp32 run. int8 and auto calibrate on the measured input itself
# (a correctness check, not an accuracy claim). Usage: tests/real_exports/run.sh [OPSET..] (default 11 13 17).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work="$root/target/real-exports"
models="$work/models"
mkdir -p "$models"
cargo build --release --manifest-path "$root/Cargo.toml" --bin accelc --bin accelrt >&2
venv() {  # venv DIR PACKAGES..: a virtual environment with these packages
  local dir="$work/$1"; shift
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import numpy" 2>/dev/null; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$@" >&2
  fi
  echo "$dir/bin/python"
}
torch_py=$(venv torch torch torchvision onnx numpy)
paddle_py=$(venv paddle paddlepaddle paddle2onnx onnx numpy packaging setuptools)
opsets=("${@:-11 13 17}")
echo "| model | opset | mode | dB vs framework | dB vs accel fp32 |"
echo "|---|---:|---|---:|---:|"
for opset in ${opsets[@]}; do
  "$torch_py" "$here/torchvision_models.py" "$models" "$opset" >&2
  "$paddle_py" "$here/paddle_models.py" "$models" "$opset" >&2 2>/dev/null || echo "paddle export at opset $opset failed" >&2
  for onnx in "$models"/*_o"$opset".onnx; do
    base=${onnx%.onnx}; name=$(basename "$base"); name=${name%_o$opset}
    shape=$("$torch_py" -c "import numpy as np; print(','.join(map(str, np.load('${base}_in.npy').shape)))")
    for mode in fp32 bf16 int8 auto; do
      case $mode in
        fp32) flags=(--precision fp32) ;;
        bf16) flags=() ;;
        int8) flags=(--precision int8 --calibrate "${base}_in.npy") ;;
        auto) flags=(--calibrate "${base}_in.npy") ;;
      esac
      out="$base.$mode"; rm -rf "$out"; mkdir -p "$out"
      if ! "$root/target/release/accelc" "$onnx" --input-shape "input=$shape" -o "$out/model.bin" "${flags[@]}" > "$out/compile.log" 2>&1; then
        echo "| $name | $opset | $mode | compile failed: $(grep -m1 error "$out/compile.log" | cut -c1-120) | |"; continue
      fi
      if ! "$root/target/release/accelrt" run "$out/model.bin" -i "${base}_in.npy" --output-dir "$out" > "$out/run.log" 2>&1; then
        echo "| $name | $opset | $mode | run failed: $(grep -m1 error "$out/run.log" | cut -c1-120) | |"; continue
      fi
      "$torch_py" "$here/compare.py" "$name" "$opset" "$mode" "$out" "${base}_out.npy" "$base.fp32"
    done
  done
done
