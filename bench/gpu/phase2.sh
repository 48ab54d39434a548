#!/usr/bin/env bash
# Phase 2 of bench/gpu/device.sh (background): Gemma 3 270M from its carried chunks, then its calibration runs.
set -uo pipefail
RES=/tmp/results
DEADLINE_AT=$(cat /tmp/deadline_at)
python3 -c "from tiaocan.models import _materialise_embedded as m; print(m('gemma3-270m', tokenizer_from='/tmp/gemma_tok'))" || exit 1
echo "[phase2] gemma ready $(date)"
while [ ! -f /tmp/throughput_done ]; do sleep 2; done
python3 bench/calibration/grid.py run --jobs bench/calibration/jobs.jsonl --results $RES/runs.jsonl --only gemma3-270m \
  --workers 6 --deadline $(( DEADLINE_AT - $(date +%s) )) --scratch /tmp/calib_g > $RES/calib_gemma.log 2>&1
echo "[phase2] done $(date)"
