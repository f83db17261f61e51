#!/usr/bin/env bash
# Regenerates the ONNX backend node test cases (1,884 cases, ~56 MB) into target/onnx-node/node/.
# Installs the pinned onnx and numpy from the Python package registry into a virtual environment under
# target/ (gitignored); no model hub is contacted. Usage: bash tests/conformance/fetch.sh [OUT_DIR]
set -euo pipefail
ONNX_VERSION=1.23.2
NUMPY_VERSION=2.4.6
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/target/onnx-node}"
venv="$root/target/onnx-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import onnx, numpy, sys; sys.exit(onnx.__version__ != '$ONNX_VERSION')" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet "onnx==$ONNX_VERSION" "numpy==$NUMPY_VERSION"
fi
mkdir -p "$out"
"$venv/bin/python" -W ignore "$root/tests/conformance/generate.py" "$out"
