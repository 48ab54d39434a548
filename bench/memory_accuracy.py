"""How accurate is tiaocan's memory model (tiaocan.planning.memory)?

CPU (default): models built from configs with random weights, fp32 and CPU bf16 autocast.
  1. parameter / gradient / optimizer-state terms vs the real tensors' sizes (must be exact);
  2. activations saved for backward (counted with torch.autograd.graph.saved_tensors_hooks, unique storages,
     parameters excluded) vs the activation + saved cross-entropy terms — a deterministic measurement,
     unlike process RSS;
  3. optionally (--rss) peak RSS growth of a fresh process over two training micro-steps + one optimizer
     step vs the predicted dynamic memory. RSS includes the CPU allocator's caching and freed-but-kept pages,
     so treat it as a rough check only.
CUDA (--device cuda): 0.5B / 1.5B / 7B Qwen2.5 shapes (random bf16 weights), LoRA / full / QLoRA, micro
  batch, length and checkpointing; torch.cuda.max_memory_allocated / max_memory_reserved vs the prediction.

    python bench/memory_accuracy.py                       # CPU checks (~1-2 min on 2 cores)
    python bench/memory_accuracy.py --rss                 # + RSS check
    python bench/memory_accuracy.py --device cuda --out bench/memory_cuda.json   # ~5-10 min on one H100/H200
    python bench/memory_accuracy.py --smoke                # the GPU cell code on CPU, tiny config (script check)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from tiaocan.planning.archs import BUILTIN
from tiaocan.planning.memory import GIB, MemoryInputs, estimate_memory, layer_activation_bytes
from tiaocan.planning.shapes import shape_from_config

MIB = 1024 ** 2


def hf_config(d: dict, **over):
    """A transformers config object from a built-in table entry (or a dict in the same form)."""
    from transformers import AutoConfig

    d = dict(d, **over)
    mt = d.pop("model_type")
    return AutoConfig.for_model(mt, **d)


CPU_SHAPES = {
    "llama-tiny (h256, 4 layers, GQA)": dict(model_type="llama", hidden_size=256, intermediate_size=688,
                                             num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                                             vocab_size=4096, tie_word_embeddings=True, head_dim=32,
                                             max_position_embeddings=2048),
    "qwen2-tiny (h192, bias, untied)": dict(model_type="qwen2", hidden_size=192, intermediate_size=512,
                                            num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
                                            vocab_size=3000, tie_word_embeddings=False, head_dim=32,
                                            max_position_embeddings=2048),
    "qwen3-tiny (h192, q/k norms)": dict(model_type="qwen3", hidden_size=192, intermediate_size=512,
                                         num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
                                         vocab_size=3000, tie_word_embeddings=True, head_dim=32,
                                         max_position_embeddings=2048),
    "gemma2-tiny (h192, 4 norms, soft-capping)": dict(model_type="gemma2", hidden_size=192, intermediate_size=512,
                                                      num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
                                                      vocab_size=3000, head_dim=32, max_position_embeddings=2048),
}


def build(cfg, method: str, rank: int, dtype=torch.float32, attn="sdpa", device="cpu"):
    from transformers import AutoModelForCausalLM

    if cfg.model_type == "gemma2":
        attn = "eager"  # transformers refuses SDPA for Gemma 2's soft-capped attention
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: a 7B model initialised on CPU takes minutes
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    if method == "full":
        model.float()  # fp32 master weights (what LLaMA-Factory / tiaocan train)
        return model
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # fp32 adapters, as PEFT/LLaMA-Factory upcast them
    return model


def nbytes_unique(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        s = t.untyped_storage()
        if s.data_ptr() not in seen:
            seen.add(s.data_ptr())
            total += s.nbytes()
    return total


def batch(cfg, b, s, device="cpu"):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg.vocab_size, (b, s), generator=g).to(device)
    mask = torch.ones_like(ids)
    if b > 1:
        mask[0, -s // 4:] = 0  # a padded row, as in a real batch (puts a mask into SDPA)
    return ids, mask


def cpu_exact_terms(rows):
    for name, d in CPU_SHAPES.items():
        shape = shape_from_config(d, name=name)
        for method in ("full", "lora"):
            cfg = hf_config(d)
            model = build(cfg, method, rank=8)
            params = {p.data_ptr(): p for p in model.parameters()}.values()
            trainable = [p for p in params if p.requires_grad]
            ids, mask = batch(cfg, 2, 64)
            model(input_ids=ids, attention_mask=mask, labels=ids).loss.backward()
            opt = torch.optim.AdamW(trainable, lr=1e-4, foreach=False)
            opt.step()
            est = estimate_memory(shape, MemoryInputs(method=method, micro_batch=2, seq_len=64, lora_rank=8,
                                                      precision="fp32", optim="adamw_torch"))
            w_meas = sum(p.numel() * p.element_size() for p in params)
            w_pred = est.terms["weights"] + est.terms.get("lora_weights", 0)
            g_meas = sum(p.grad.numel() * p.grad.element_size() for p in trainable)
            o_meas = sum(v.numel() * v.element_size() for st in opt.state.values()
                         for k, v in st.items() if k in ("exp_avg", "exp_avg_sq"))
            for term, meas, pred in (("weights", w_meas, w_pred), ("gradients", g_meas, est.terms["gradients"]),
                                     ("optimizer", o_meas, est.terms["optimizer"])):
                rows.append(dict(shape=name, method=method, term=term, measured=meas, predicted=pred,
                                 exact=meas == pred))


def saved_activation_bytes(model, cfg, b, s, autocast: bool) -> int:
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = []

    def pack(t):
        if t.untyped_storage().data_ptr() not in param_ptrs:
            saved.append(t)
        return t

    ids, mask = batch(cfg, b, s)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
    total = nbytes_unique(saved)
    del loss, saved
    return total


def cpu_activations(rows):
    for name, d in CPU_SHAPES.items():
        shape = shape_from_config(d, name=name)
        for method, attn, autocast, gc in (("lora", "sdpa", False, False), ("lora", "eager", False, False),
                                           ("full", "sdpa", False, False), ("lora", "sdpa", True, False),
                                           ("lora", "sdpa", False, True)):
            if shape.attn_softcap:  # transformers runs soft-capped attention (Gemma 2) only eagerly
                if attn == "sdpa" and (method, autocast, gc) != ("lora", False, False):
                    attn = "eager"
                elif attn == "sdpa":
                    continue
            cfg = hf_config(d)
            dtype = torch.bfloat16 if autocast else torch.float32
            model = build(cfg, method, rank=8, dtype=dtype, attn=attn)
            if gc:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                model.enable_input_require_grads()
            model.train()
            for b, s in ((1, 256), (4, 256), (2, 1024)):
                meas = saved_activation_bytes(model, cfg, b, s, autocast)
                mi = MemoryInputs(method=method, micro_batch=b, seq_len=s, lora_rank=8, device="cpu",
                                  precision="bf16" if autocast else "fp32", attention=attn, gradient_checkpointing=gc)
                est = estimate_memory(shape, mi)
                # cross-entropy keeps its fp32 log-softmax (4 B x tokens x vocab) for backward; with checkpointing the
                # one recomputed layer exists only during backward, which the forward hooks do not see
                pred = est.terms["activations"] + 4 * b * s * shape.vocab_size
                if gc:
                    pred -= layer_activation_bytes(shape, mi)
                rows.append(dict(shape=name, method=method, attention=attn, precision="bf16" if autocast else "fp32",
                                 checkpointing=gc, batch=b, seq=s, measured=meas, predicted=pred,
                                 error_pct=round(100 * (pred - meas) / meas, 1)))


RSS_CHILD = r"""
import gc, json, sys, torch
sys.path.insert(0, "bench")
from memory_accuracy import CPU_SHAPES, hf_config, build, batch
def status(key):  # kB values from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
name, method, b, s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
cfg = hf_config(CPU_SHAPES[name])
model = build(cfg, method, rank=8)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids, mask = batch(cfg, b, s)
gc.collect()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS counter (VmHWM) after the model is built
base = status("VmRSS:")
for _ in range(2):
    model(input_ids=ids, attention_mask=mask, labels=ids).loss.backward()
opt.step()
print(json.dumps({"rss_growth": status("VmHWM:") - base}))
"""


def cpu_rss(rows):
    for name, d in CPU_SHAPES.items():
        shape = shape_from_config(d, name=name)
        for method, b, s in (("lora", 4, 1024), ("full", 4, 1024)):
            out = subprocess.run([sys.executable, "-c", RSS_CHILD, name, method, str(b), str(s)], capture_output=True,
                                 text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            if out.returncode:
                rows.append(dict(shape=name, method=method, error=out.stderr[-300:]))
                continue
            growth = json.loads(out.stdout.strip().splitlines()[-1])["rss_growth"]
            est = estimate_memory(shape, MemoryInputs(method=method, micro_batch=b, seq_len=s, lora_rank=8,
                                                      precision="fp32", device="cpu"))
            static = est.terms["weights"] + est.terms.get("lora_weights", 0)  # already resident before the step
            dyn = est.allocated - static
            rows.append(dict(shape=name, method=method, batch=b, seq=s, rss_growth=growth, predicted_dynamic=dyn,
                             error_pct=round(100 * (dyn - growth) / growth, 1) if growth > 0 else None))


# ---------------------------------------------------------------------------------------------- CUDA
def cuda_cell(key, method, b, s, gc, device="cuda", config: dict | None = None):
    """One cell of the GPU matrix. device="cpu" (with --smoke) runs the same code path on a tiny config
    so the script can be checked without a GPU; it then measures nothing."""
    import gc as pygc

    d = config or BUILTIN[key]
    shape = shape_from_config(d, name=key)
    cfg = hf_config(d)
    cuda = device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
    if method == "qlora":
        model = _qlora_model(cfg)
    else:
        model = build(cfg, method, rank=16, dtype=torch.bfloat16, device=device)
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if method != "full":
            model.enable_input_require_grads()
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids, mask = batch(cfg, b, s, device)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()  # after building: init-time copies (e.g. bf16 → fp32) are not training
    for _ in range(2):  # two optimizer steps of 2 accumulated micro-batches: states and grads exist
        for _ in range(2):
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
            loss.backward()
            del loss
        opt.step()
        opt.zero_grad(set_to_none=True)
    est = estimate_memory(shape, MemoryInputs(method=method, micro_batch=b, seq_len=s, lora_rank=16,
                                              gradient_checkpointing=gc, attention="sdpa", device=device))
    row = dict(model=key, method=method, batch=b, seq=s, checkpointing=gc,
               predicted_allocated_gib=round(est.allocated / GIB, 3))
    if not cuda:
        return row
    torch.cuda.synchronize()
    alloc, reserved = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
    del model, opt
    pygc.collect()
    torch.cuda.empty_cache()
    pred_reserved = est.total - est.terms["cuda_context"]
    row.update(measured_allocated_gib=round(alloc / GIB, 2),
               err_allocated_pct=round(100 * (est.allocated - alloc) / alloc, 1),
               measured_reserved_gib=round(reserved / GIB, 2), predicted_reserved_gib=round(pred_reserved / GIB, 2),
               err_reserved_pct=round(100 * (pred_reserved - reserved) / reserved, 1),
               within_target=abs(pred_reserved - reserved) <= max(0.1 * reserved, GIB))
    return row


def _qlora_model(cfg):
    """Random-weight 4-bit base: build in bf16 on CPU, swap linears for bitsandbytes Linear4bit, move to CUDA
    (bitsandbytes quantises on the move), then add LoRA adapters."""
    import bitsandbytes as bnb
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    # Built on the GPU in bf16, then each linear is swapped for a 4-bit one (bitsandbytes quantises a CUDA tensor
    # when the Params4bit moves to the device); the bf16 originals are freed before the peak counters reset.
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, torch.nn.Linear) and child_name != "lm_head":
                q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                      compute_dtype=torch.bfloat16, quant_type="nf4", compress_statistics=True)
                q.weight = bnb.nn.Params4bit(child.weight.data, requires_grad=False, quant_type="nf4",
                                             compress_statistics=True).to("cuda")
                if child.bias is not None:
                    q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(mod, child_name, q)
    model = model.to("cuda")
    for p in model.parameters():
        p.requires_grad_(False)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model


def cuda_matrix(rows, quick: bool, only_methods: str = "", only_models: str = ""):
    cells = []
    for key in ("qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b"):
        if only_models and key not in only_models.split(","):
            continue
        methods = ["lora", "qlora"] + (["full"] if key != "qwen2.5-7b" else [])
        for method in methods:
            if only_methods and method not in only_methods.split(","):
                continue
            for b, s in ((1, 512), (4, 512), (1, 2048), (4, 2048)):
                for gc in (False, True):
                    cells.append((key, method, b, s, gc))
    if quick:
        cells = [c for c in cells if c[2] == 4 or c[3] == 2048][::2]
    for c in cells:
        t = time.time()
        try:
            row = cuda_cell(*c)
        except torch.cuda.OutOfMemoryError:
            row = dict(model=c[0], method=c[1], batch=c[2], seq=c[3], checkpointing=c[4], error="OOM")
            torch.cuda.empty_cache()
        except Exception as e:  # e.g. bitsandbytes missing: record and go on
            row = dict(model=c[0], method=c[1], batch=c[2], seq=c[3], checkpointing=c[4], error=f"{type(e).__name__}: {e}"[:200])
        row["seconds"] = round(time.time() - t, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--rss", action="store_true", help="CPU: also compare peak RSS growth (noisy)")
    ap.add_argument("--quick", action="store_true", help="CUDA: half the matrix")
    ap.add_argument("--methods", default="", help="CUDA: only these methods (comma-separated: lora,qlora,full)")
    ap.add_argument("--models", default="", help="CUDA: only these shapes (qwen2.5-0.5b,qwen2.5-1.5b,qwen2.5-7b)")
    ap.add_argument("--smoke", action="store_true", help="run the GPU cell code on CPU with a tiny config (checks the script)")
    ap.add_argument("--out", default=None, help="write all rows as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1)) if args.device == "cpu" else None
    result: dict[str, list] = {}
    if args.smoke:
        tiny = next(iter(CPU_SHAPES.values()))
        for method in ("lora", "full"):
            for gc in (False, True):
                print(json.dumps(cuda_cell("llama-tiny", method, 2, 64, gc, device="cpu", config=tiny)))
        return
    if args.device == "cpu":
        result["exact_terms"], result["activations"] = [], []
        cpu_exact_terms(result["exact_terms"])
        cpu_activations(result["activations"])
        exact = result["exact_terms"]
        print(f"exact terms: {sum(r['exact'] for r in exact)}/{len(exact)} exact")
        for r in exact:
            print(f"  {r['shape']:34s} {r['method']:5s} {r['term']:10s} measured {r['measured']:>11,} predicted {r['predicted']:>11,}")
        print("saved activations (measured vs predicted, MiB):")
        for r in result["activations"]:
            print(f"  {r['shape']:34s} {r['method']:5s} {r['attention']:5s} {r['precision']:4s} gc={int(r['checkpointing'])} "
                  f"b={r['batch']} s={r['seq']:5d}  {r['measured'] / MIB:8.1f} {r['predicted'] / MIB:8.1f}  {r['error_pct']:+6.1f}%")
        if args.rss:
            result["rss"] = []
            cpu_rss(result["rss"])
            print("peak RSS growth over 2 micro-steps + 1 AdamW step vs predicted dynamic memory (MiB; noisy):")
            for r in result["rss"]:
                if "error" in r:
                    print(f"  {r['shape']:34s} {r['method']:5s} failed: {r['error']}")
                else:
                    print(f"  {r['shape']:34s} {r['method']:5s} b={r['batch']} s={r['seq']}  "
                          f"{r['rss_growth'] / MIB:8.1f} {r['predicted_dynamic'] / MIB:8.1f}  {r['error_pct']}%")
    else:
        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA device visible")
        result["cuda"] = []
        result["device"] = torch.cuda.get_device_name(0)
        cuda_matrix(result["cuda"], args.quick, args.methods, args.models)
        ok = [r for r in result["cuda"] if "within_target" in r]
        print(f"{sum(r['within_target'] for r in ok)}/{len(ok)} cells within 10 % or 1 GiB (reserved)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
