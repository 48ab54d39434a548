#!/usr/bin/env bash
# The main job on the embedded default: SmolLM2-135M-Instruct + the bundled customer-service dataset.
# inspect → plan → train (loss-band stop) → diagnose → eval (tuned vs base). Outputs in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
T=.venv/bin/tiaocan
DATA=src/tiaocan/examples/support
OUT=${DEMO_OUT:-runs/demo}
mkdir -p "$OUT"

echo "== 1/5 inspect: token lengths, cutoff_len, data problems, topic balance"
$T inspect "$DATA/train.jsonl" --test "$DATA/test.jsonl" --plot "$OUT/lengths.png" --json "$OUT/inspect.json"

echo "== 2/5 plan: a configuration for this model, data and machine, with reasons"
$T plan --model smollm2-135m --data "$DATA/train.jsonl" -o "$OUT/plan.yaml" --json "$OUT/plan.json"

# On a 2-core CPU the whole plan (~170 steps) takes half an hour; the demo caps it (DEMO_STEPS=-1: the full plan,
# which stops by itself once the loss is in the 0.7-1.4 band).
STEPS=${DEMO_STEPS:-60}
echo "== 3/5 train the plan (loss-band stop; capped at max_steps=$STEPS for a quick CPU demo)"
$T train "$OUT/plan.yaml" output_dir="$OUT/run" max_steps="$STEPS" eval_steps=20 --overwrite --json "$OUT/run_summary.json"

echo "== 4/5 diagnose the run"
$T diagnose "$OUT/run" --json "$OUT/diagnosis.json"
$T report "$OUT/run" -o "$OUT/report.html"

echo "== 5/5 eval: which test answers are still wrong, tuned vs base model"
$T eval "$OUT/run" --test "$DATA/test.jsonl" --base --json "$OUT/eval.json"

echo "done: see $OUT/ (lengths.png, plan.yaml, run/, report.html, eval.json)"
echo "in the browser: pip install -e \".[web]\" && .venv/bin/tiaocan web --runs runs"
