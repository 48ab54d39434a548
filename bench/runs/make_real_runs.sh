#!/usr/bin/env bash
# Re-create the real labelled runs: `tiaocan train` on SmolLM2-135M (CPU is fine: minutes each).
# Training output goes to $OUT (weights, checkpoints); only the small logs are copied into bench/runs/<name>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/tiaocan_bench_runs}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # a shared 2-core box: one thread per run avoids spin-wait thrashing
for cfg in bench/runs/configs/${1:-*}.yaml; do
  name=$(basename "$cfg" .yaml)
  echo "== $name"
  .venv/bin/tiaocan train "$cfg" output_dir="$OUT/$name" --overwrite --quiet || echo "(exit $? — a stopped run is still a labelled run)"
  mkdir -p "bench/runs/$name"
  for f in trainer_log.jsonl trainer_state.json run_summary.json tiaocan_config.yaml; do
    [ -f "$OUT/$name/$f" ] && cp "$OUT/$name/$f" "bench/runs/$name/"
  done
  if [ ! -f "$OUT/$name/trainer_state.json" ]; then  # HF keeps it in the newest checkpoint only
    st=$(ls -d "$OUT/$name"/checkpoint-*/ 2>/dev/null | sort -t- -k2 -n | tail -1)
    if [ -n "$st" ] && [ -f "$st/trainer_state.json" ]; then cp "$st/trainer_state.json" "bench/runs/$name/"; fi
  fi
done
