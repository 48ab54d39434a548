#!/usr/bin/env bash
# Re-arm phase 1 / 2 with a new deadline (SECS from now): their deadline is read once when they start.
set -uo pipefail
echo $(( $(date +%s) + $1 )) > /tmp/deadline_at
pkill -f bench/gpu/phase1.sh; pkill -f bench/gpu/phase2.sh
export PYTHONPATH=/tmp/site:$PWD/src TIAOCAN_CACHE=/tmp/tcache PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cat > /tmp/p1b.sh <<'S'
RES=/tmp/results
while pgrep -f train_throughput.py >/dev/null; do sleep 2; done
timeout 120 python3 bench/train_throughput.py --steps 30 --micro 8 --accum 2 --cutoff 512 \
  --data-file bench/calibration/data/sharegpt/train.jsonl --variants plain,tiaocan-bf16 --shape qwen2.5-1.5b \
  --json $RES/throughput_qwen2.5-1.5b.json > $RES/throughput_qwen2.5-1.5b.txt 2>&1
touch /tmp/throughput_done
D=$(cat /tmp/deadline_at)
python3 bench/calibration/grid.py run --jobs bench/calibration/jobs.jsonl --results $RES/runs.jsonl --only smollm2-135m \
  --workers 8 --deadline $(( D - $(date +%s) )) --scratch /tmp/calib_s > $RES/calib_smollm2.log 2>&1 &
timeout 300 bash bench/gpu/qlora_e2e.sh > $RES/qlora_e2e.log 2>&1 &
timeout 300 python3 bench/memory_accuracy.py --device cuda --methods qlora --out $RES/memory_qlora.json > $RES/memory_qlora.log 2>&1 &
wait
S
cat > /tmp/p2b.sh <<'S'
RES=/tmp/results
while [ ! -f /tmp/tcache/models/gemma3-270m/model.safetensors ] || [ ! -f /tmp/throughput_done ]; do sleep 2; done
D=$(cat /tmp/deadline_at)
python3 bench/calibration/grid.py run --jobs bench/calibration/jobs.jsonl --results $RES/runs.jsonl --only gemma3-270m \
  --workers 6 --deadline $(( D - $(date +%s) )) --scratch /tmp/calib_g > $RES/calib_gemma.log 2>&1
S
setsid nohup bash /tmp/p1b.sh > /tmp/p1b.log 2>&1 < /dev/null &
setsid nohup bash /tmp/p2b.sh > /tmp/p2b.log 2>&1 < /dev/null &
sleep 1; pgrep -af "p1b|p2b|train_throughput|gemma3" | head
