#!/usr/bin/env bash
# A bitsandbytes small enough to carry to a GPU machine without internet (the device tool's 64 MiB limit).
#   bash scripts/gpu_bitsandbytes.sh [CUDA_TAG] [OUT_DIR]     # default: 130 (CUDA 13.0), .gpu/bnb
# The PyPI wheel (bitsandbytes 0.50.2: 43 MB, 129 MB unpacked) carries one native library per CUDA / ROCm / XPU
# version; a machine needs only the one matching torch.version.cuda ("13.0" -> libbitsandbytes_cuda130.so, 3.9 MB).
# This keeps the Python package + that one library: a 3.6 MB zip. On the GPU machine:
#   python3 -m zipfile -e bnb-cuda130.zip /tmp/site && export PYTHONPATH=/tmp/site:$PYTHONPATH
set -euo pipefail
TAG=${1:-130}
OUT=${2:-.gpu/bnb}
VER=${BNB_VERSION:-0.50.2}
tmp=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_24_x86_64 -d "$tmp" "bitsandbytes==$VER"
(cd "$tmp" && unzip -q bitsandbytes-*.whl -d site && find site/bitsandbytes -name 'libbitsandbytes_*.so' \
  ! -name "libbitsandbytes_cuda${TAG}.so" ! -name 'libbitsandbytes_cpu.so' -delete && cd site && zip -qr "../bnb-cuda${TAG}.zip" .)
mkdir -p "$OUT"
cp "$tmp/bnb-cuda${TAG}.zip" "$OUT/"
ls -la "$OUT/bnb-cuda${TAG}.zip"
rm -rf "$tmp"
