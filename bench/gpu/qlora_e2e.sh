#!/usr/bin/env bash
# QLoRA end to end on a CUDA GPU (issue 16): `tiaocan train` with quantization_bit: 4 on (1) a model built from a
# config with random weights and (2) the embedded SmolLM2-135M; the loss must fall; the adapter is saved, loaded
# back onto a 4-bit base, and `tiaocan eval` runs on the SmolLM2 run.  Needs bitsandbytes (scripts/gpu_bitsandbytes.sh).
set -uo pipefail
D=${QLORA_DIR:-/tmp/qlora_e2e}
DATA=src/tiaocan/examples/support/train.jsonl
mkdir -p $D
python3 - $D/random-llama <<'PY'
import sys, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from tiaocan.models import resolve_model
tok = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m"))
cfg = LlamaConfig(hidden_size=512, intermediate_size=1376, num_hidden_layers=8, num_attention_heads=8,
                  num_key_value_heads=4, vocab_size=len(tok), tie_word_embeddings=True, max_position_embeddings=2048)
torch.manual_seed(0)
LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(sys.argv[1]); tok.save_pretrained(sys.argv[1])
print("random model saved", sys.argv[1])
PY
common="dataset=$DATA cutoff_len=256 quantization_bit=4 bf16=true packing=true per_device_train_batch_size=8
        gradient_accumulation_steps=1 max_steps=300 lora_rank=16 lora_alpha=32 save_steps=150 logging_steps=10"
for name in random-llama smollm2-135m; do
  model=$name; [ $name = random-llama ] && model=$D/random-llama
  lr=1e-3; [ $name = random-llama ] && lr=3e-3
  python3 -m tiaocan train model_name_or_path=$model learning_rate=$lr output_dir=$D/run-$name $common 2>&1 | tail -n 12
  python3 - $D/run-$name <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/trainer_log.jsonl") if '"loss"' in l]
first, last = rows[:3], rows[-3:]
f = sum(r["loss"] for r in first) / len(first); l = sum(r["loss"] for r in last) / len(last)
print(f"{sys.argv[1]}: loss first 3 logs {f:.3f} -> last 3 logs {l:.3f} ({'FALLS' if l < f else 'DOES NOT FALL'}), "
      f"{len(rows)} logs, step {rows[-1].get('current_steps')}")
PY
done
python3 - $D/run-smollm2-135m <<'PY'
import sys, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from tiaocan.models import resolve_model
base = resolve_model("smollm2-135m")
q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                       bnb_4bit_compute_dtype=torch.bfloat16)
m = AutoModelForCausalLM.from_pretrained(base, quantization_config=q, device_map={"": 0})
m = PeftModel.from_pretrained(m, sys.argv[1])
tok = AutoTokenizer.from_pretrained(base)
ids = tok.apply_chat_template([{"role": "user", "content": "What are your opening hours?"}], add_generation_prompt=True,
                              return_tensors="pt", return_dict=True).to("cuda")
out = m.generate(**ids, max_new_tokens=40, do_sample=False)
print("adapter reloaded on a 4-bit base; answer:", tok.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True))
print("4-bit linear layers:", sum(type(x).__name__ == "Linear4bit" for x in m.modules()))
PY
python3 -m tiaocan eval $D/run-smollm2-135m --test src/tiaocan/examples/support/test.jsonl --max-samples 24 2>&1 | tail -n 25
