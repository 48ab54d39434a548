#!/usr/bin/env bash
# Where a `tiaocan train` step's time goes on the GPU, against plain Trainer + PEFT (issue 16; bench/gpu/README.md,
# "Why tiaocan-bf16 was slow"). One device call, no model weights carried: SmolLM2-135M's shape with random weights
# (the same kernels and FLOPs as the real model), its tokenizer, and the first session's ShareGPT data.
#
#   here, once:  bash bench/gpu/profile.sh prepare     -> .gpu/prof (wheels 24 MB + tokenizer 3.5 MB + data), ~29 MB
#   device:      run  command "bash bench/gpu/profile.sh"  carry [".gpu/prof"]  timeout_s 300
#   CPU check:   DRY=1 bash bench/gpu/profile.sh        (tiny: 3 steps, 2 fp32 sides, CPU profiler only, ~2 min)
#
# Output in $OUT/profile (what the device tool returns): env.txt, throughput.txt (the bench's table: per side train-loop
# seconds, useful tok/s, setup seconds, peak GPU), throughput.json, and per side profile_<side>.txt (GPU busy share,
# kernels / aten ops / host syncs / copies per step, top GPU kernels and CPU ops, the Python lines that synchronise),
# profile_<side>.json, steps_<side>.json (every step's wall time); Chrome traces (gzip) for the first two sides.
# Sides, most telling first (a side that runs over --side-timeout is killed and the next one runs):
#   tiaocan-bf16 (planned settings, this branch) | plain-bf16 | tiaocan-bf16-unfixed (the code of session 1) |
#   plain (fp32) | tiaocan (fp32: does bf16 pay at all on a launch-bound 135M model?) | tiaocan-bf16-grouped (packing off)
set -uo pipefail
P=${PROF_DIR:-.gpu/prof}
if [ "${1:-}" = prepare ]; then
  set -e
  PY=${PY:-.venv/bin/python}; [ -x "$PY" ] || PY=/work/main/.venv/bin/python
  mkdir -p "$P/whl" "$P/smollm2-tok"
  WHL=${WHL_DIR:-.gpu/whl}; [ -d "$WHL" ] || WHL=/work/main/.gpu/whl
  if ! ls "$WHL"/transformers-*.whl >/dev/null 2>&1; then
    echo "no wheels in $WHL: make them as bench/gpu/README.md says (py3.12 manylinux: transformers 5.24, peft 0.21,"
    echo "datasets, dill, multiprocess, pydantic(+core, annotated-types, typing-inspection), platformdirs, ...)"; exit 1
  fi
  cp "$WHL"/*.whl "$P/whl/"
  TOK=$(PYTHONPATH=src "$PY" -c "from tiaocan.models import resolve_model; print(resolve_model('smollm2-135m'))")
  for f in tokenizer.json tokenizer_config.json chat_template.jinja config.json generation_config.json; do
    [ -f "$TOK/$f" ] && cp "$TOK/$f" "$P/smollm2-tok/"
  done
  DATA=${DATA:-bench/calibration/data/sharegpt/train.jsonl}; [ -f "$DATA" ] || DATA=/work/main/$DATA
  head -n 640 "$DATA" > "$P/sharegpt.jsonl"  # the first session's throughput rows (its --steps 40 x 16)
  du -sh "$P"; exit 0
fi

SITE=/tmp/site
O=${OUT:-/tmp/out}/profile
mkdir -p "$SITE" "$O"
export PYTHONPATH=$SITE:$PWD/src TIAOCAN_CACHE=/tmp/tcache PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
t0=$(date +%s)
if [ -n "${DRY:-}" ]; then  # CPU dry run: the local venv, a tiny run of the same pipeline
  PY=${PY:-.venv/bin/python}; [ -x "$PY" ] || PY=/work/main/.venv/bin/python
  export OMP_NUM_THREADS=1 PYTHONPATH=$PWD/src
  SIZE="--steps 3 --micro 2 --accum 1 --cutoff 64 --profile-warmup 1 --profile-steps 1"
  SIDES=${SIDES:-tiaocan-unfixed,tiaocan}; TRACE=tiaocan; SIDE_T=240; BUDGET=${BUDGET:-600}
else
  PY=python3
  "$PY" -m pip install -q --no-index --no-deps --target "$SITE" "$P"/whl/*.whl 2>&1 | grep -v -i "warning" | tail -n 3
  SIZE="--steps 12 --micro 8 --accum 2 --cutoff 512 --profile-warmup 2 --profile-steps 2"
  SIDES=${SIDES:-tiaocan-bf16,plain-bf16,tiaocan-bf16-unfixed,plain,tiaocan,tiaocan-bf16-grouped}
  TRACE=tiaocan-bf16,plain-bf16; SIDE_T=${SIDE_T:-55}; BUDGET=${BUDGET:-205}
fi
{
  "$PY" -c "import sys, torch, transformers, peft; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'peft', peft.__version__)"
  "$PY" -c "import importlib.util as u; print('flash_attn installed:', bool(u.find_spec('flash_attn')))"
  nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv 2>/dev/null
  nproc; grep -m1 "model name" /proc/cpuinfo
} > "$O/env.txt" 2>&1
cat "$O/env.txt"
echo "setup $(( $(date +%s) - t0 )) s; sides $SIDES"
timeout $(( BUDGET + 30 )) "$PY" bench/train_throughput.py --shape smollm2-135m --tokenizer "$P/smollm2-tok" \
  --data-file "$P/sharegpt.jsonl" $SIZE --variants "$SIDES" --side-timeout "$SIDE_T" --budget "$BUDGET" \
  --profile "$O" --profile-trace "$TRACE" --json "$O/throughput.json" 2>&1 | grep -v -E "it/s\]|examples/s\]" \
  | tee "$O/throughput.txt"
for f in "$O"/profile_*.txt; do [ -f "$f" ] && { echo "== $f"; head -n 8 "$f"; }; done
echo "profile.sh done in $(( $(date +%s) - t0 )) s"
