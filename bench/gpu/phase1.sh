#!/usr/bin/env bash
# Phase 1 of bench/gpu/device.sh (background). DEADLINE_AT (epoch seconds) bounds the calibration runs.
set -uo pipefail
RES=/tmp/results
DEADLINE_AT=$(cat /tmp/deadline_at)
echo "[phase1] throughput $(date)"
for shape in "" qwen2.5-1.5b; do
  timeout 150 python3 bench/train_throughput.py --steps 40 --micro 8 --accum 2 --cutoff 512 \
    --data-file bench/calibration/data/sharegpt/train.jsonl \
    --variants plain,plain-bf16,tiaocan-bf16 ${shape:+--shape $shape} --json $RES/throughput_${shape:-smollm2}.json \
    > $RES/throughput_${shape:-smollm2}.txt 2>&1
  tail -n 6 $RES/throughput_${shape:-smollm2}.txt
done
touch /tmp/throughput_done  # phase 2 (Gemma) waits for this: the throughput numbers need the GPU to themselves
echo "[phase1] calibration + qlora + memory $(date)"
python3 bench/calibration/grid.py run --jobs bench/calibration/jobs.jsonl --results $RES/runs.jsonl --only smollm2-135m \
  --workers 8 --deadline $(( DEADLINE_AT - $(date +%s) )) --scratch /tmp/calib_s > $RES/calib_smollm2.log 2>&1 &
timeout 300 bash bench/gpu/qlora_e2e.sh > $RES/qlora_e2e.log 2>&1 &
timeout 300 python3 bench/memory_accuracy.py --device cuda --methods qlora --out $RES/memory_qlora.json \
  > $RES/memory_qlora.log 2>&1 &
wait
echo "[phase1] done $(date)"
