#!/usr/bin/env bash
# The main job on the embedded default: SmolLM2-135M-Instruct + the bundled customer-service dataset, the whole
# loop: inspect → plan → train → diagnose → eval (tuned vs base) → add the examples the eval advice names (from the
# bundled extra.jsonl) → plan + train again → eval again → a per-topic table (base vs round 1 vs round 2).
# Every training run is what `tiaocan plan` says, capped at max_steps=DEMO_STEPS (printed). Outputs in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TIAOCAN:-.venv/bin/tiaocan}       # TIAOCAN / PYTHON: another install (e.g. a dev checkout's interpreter)
PY=${PYTHON:-.venv/bin/python}
DATA=src/tiaocan/examples/support
OUT=${DEMO_OUT:-runs/demo}
mkdir -p "$OUT"
# On a 2-core CPU the whole plan takes far longer than a demo should; the cap keeps each round short
# (DEMO_STEPS=-1: the full plan, at most 3 epochs, which stops by itself once the held-out loss stops improving).
# The cap goes to the plan too (--set max_steps): its learning rate follows the run's horizon, so a capped run gets
# the rate for the steps it will really take.
STEPS=${DEMO_STEPS:-60}
CAP="max_steps=$STEPS"
PLANCAP=(--set "max_steps=$STEPS")
[ "$STEPS" = "-1" ] && CAP="" && PLANCAP=()
# DEMO_MAX_SAMPLES=N: score only N random test rows (a quick check of the loop; the default scores all 59)
SAMPLES=${DEMO_MAX_SAMPLES:+--max-samples $DEMO_MAX_SAMPLES}
START=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - START )) s]"; }

echo "== 1/9 inspect: token lengths, cutoff_len, data problems, topic balance"
$T inspect "$DATA/train.jsonl" --test "$DATA/test.jsonl" --plot "$OUT/lengths.png" --json "$OUT/inspect.json"

echo "== 2/9 plan: a configuration for this model, data and machine, with reasons $(elapsed)"
$T plan --model smollm2-135m --data "$DATA/train.jsonl" "${PLANCAP[@]}" -o "$OUT/plan.yaml" --json "$OUT/plan.json"

echo "== 3/9 round 1: train the plan as is${CAP:+, capped at $CAP for a quick CPU demo} $(elapsed)"
$T train "$OUT/plan.yaml" output_dir="$OUT/round1" $CAP --overwrite --json "$OUT/round1_summary.json"

echo "== 4/9 diagnose round 1 $(elapsed)"
$T diagnose "$OUT/round1" --json "$OUT/diagnosis.json"
$T report "$OUT/round1" -o "$OUT/report.html"

echo "== 5/9 eval round 1: which test answers are still wrong, tuned vs base model $(elapsed)"
$T eval "$OUT/round1" --test "$DATA/test.jsonl" $SAMPLES --base --json "$OUT/eval_round1.json" --html "$OUT/eval_round1.html"

echo "== 6/9 add the data the eval advice names (new paraphrases from $DATA/extra.jsonl) $(elapsed)"
$PY scripts/demo_table.py add "$OUT/eval_round1.json" --inspect "$OUT/inspect.json" \
    --train "$DATA/train.jsonl" --extra "$DATA/extra.jsonl" -o "$OUT/train_round2.jsonl"

echo "== 7/9 plan again for the new data $(elapsed)"
$T plan --model smollm2-135m --data "$OUT/train_round2.jsonl" "${PLANCAP[@]}" -o "$OUT/plan_round2.yaml" \
  --json "$OUT/plan_round2.json"

echo "== 8/9 round 2: train the new plan${CAP:+, capped at $CAP} $(elapsed)"
$T train "$OUT/plan_round2.yaml" output_dir="$OUT/round2" $CAP --overwrite --json "$OUT/round2_summary.json"

echo "== 9/9 eval round 2 $(elapsed)"
$T eval "$OUT/round2" --test "$DATA/test.jsonl" $SAMPLES --json "$OUT/eval_round2.json" --html "$OUT/eval_round2.html"

echo
# shellcheck disable=SC2046
$PY scripts/demo_table.py table "$OUT/eval_round1.json" "$OUT/eval_round2.json" --added $(cat "$OUT/added_topics.txt")
echo "done in $(( $(date +%s) - START )) s: see $OUT/ (plan.yaml, round1/, report.html, eval_round1.html, round2/, eval_round2.html)"
echo "in the browser: pip install -e \".[web]\" && .venv/bin/tiaocan web --runs runs"
