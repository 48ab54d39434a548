"""Training memory per device, as byte arithmetic from a ModelShape (no weights, no torch).

The model mirrors what Hugging Face training does on a GPU, term by term, so each can be checked:
- weights: frozen base in the compute dtype (bf16/fp16: 2 B, fp32: 4 B); QLoRA linear layers in NF4
  (0.5 B + one 8-bit absmax per 64 weights + one fp32 per 256 blocks with double quantisation ≈ 0.516 B);
  embeddings, lm_head and norms stay 16-bit. Trainable parameters are fp32 master copies (LLaMA-Factory and
  PEFT upcast them), so full fine-tuning keeps 4 B/param plus bf16 casts made by autocast for the matmuls.
- gradients: 4 B per trainable parameter; optimizer: AdamW 8 B (two fp32 moments), 8-bit AdamW 2 B,
  plus the foreach AdamW step's temporary sqrt(v) copy (4 B) unless fused/8-bit.
- activations saved for backward, per decoder layer (what autograd keeps in HF's Llama-style layers, counted
  on CPU with saved_tensors_hooks by bench/memory_accuracy.py): the fp32 input of each RMSNorm, q/k/v and the
  attention output, logsumexp for SDPA/flash or the (heads x seq x seq) fp32 (+bf16) probabilities for eager
  attention, three intermediate-size tensors in the gated MLP, the inputs of trained linear layers (shared in
  fp32; one bf16 copy per layer under autocast), LoRA's rank-r outputs (and dropout copies + masks when
  lora_dropout > 0). Gradient checkpointing keeps only each layer's input and recomputes one layer at a time.
- logits + cross-entropy: bf16 logits, their fp32 upcast and log-softmax (HF's ForCausalLMLoss upcasts),
  then fp32 gradients in backward: ~12 B x tokens x vocab at the start of backward.
- overhead: CUDA context (~0.5 GiB, outside torch's allocator) and ~5 % allocator fragmentation.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .shapes import ModelShape, lora_target_names

Method = Literal["full", "lora", "qlora"]
Attention = Literal["sdpa", "flash", "eager"]
GIB = 1024 ** 3
CUDA_CONTEXT_BYTES = int(0.5 * GIB)
FRAGMENTATION = 0.05
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)        # double-quantised NF4, blocksize 64
NF4_BYTES_NO_DQ = 0.5 + 4 / 64
INT8_BYTES = 1.0  # LLM.int8 weights (row scales are ~4/hidden B, negligible)


def optimizer_bytes_per_param(optim: str) -> tuple[float, float]:
    """(persistent state bytes, step-time temporary bytes) per trainable parameter for an HF optim name."""
    o = optim.lower()
    if "8bit" in o:
        return (1.0 if "lion" in o else 2.0), 0.0
    if "lion" in o:
        return 4.0, 0.0
    if "sgd" in o:
        return 0.0, 0.0
    if "adafactor" in o:
        return 0.1, 0.0  # factored second moment: rows + cols per matrix, ~0 per parameter
    return 8.0, (0.0 if "fused" in o else 4.0)  # adamw_torch (foreach) allocates a sqrt(v) copy in step()


class MemoryInputs(BaseModel):
    method: Method = "lora"
    micro_batch: int = Field(1, ge=1)
    seq_len: int = Field(1024, ge=1)
    lora_rank: int = 8
    lora_target: str = "all"
    lora_dropout: float = 0.0
    gradient_checkpointing: bool = False
    attention: Attention = "sdpa"
    optim: str = "adamw_torch"
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    double_quant: bool = True
    quantization_bit: Literal[4, 8] = 4
    device: Literal["cuda", "cpu"] = "cuda"


class MemoryEstimate(BaseModel):
    """Bytes per device. `terms` is the breakdown; `allocated` compares with torch.cuda.max_memory_allocated,
    `total` (allocated + fragmentation + CUDA context) with what nvidia-smi shows."""
    terms: dict[str, int]
    trainable_params: int
    total_params: int
    allocated: int
    total: int
    peak_phase: str

    def gib(self, key: str = "total") -> float:
        return (self.terms[key] if key in self.terms else getattr(self, key)) / GIB


def _act_bytes(p: MemoryInputs) -> int:
    return 4 if p.precision == "fp32" else 2


def layer_activation_bytes(s: ModelShape, p: MemoryInputs) -> int:
    """Bytes autograd keeps for one decoder layer at micro batch x seq_len tokens (no checkpointing).

    Calibrated term by term against saved_tensors_hooks counts on CPU (bench/memory_accuracy.py)."""
    a, t, h, i = _act_bytes(p), p.micro_batch * p.seq_len, s.hidden_size, s.intermediate_size
    b, n = p.micro_batch, p.seq_len
    shapes = s.linear_shapes()
    adapted = set(shapes) if p.method == "full" else lora_target_names(p.lora_target)
    norms = s.norms_per_layer
    total = norms * 4 * t * h        # fp32 input of each RMSNorm (upcast copy, or the fp32 residual itself)
    if s.qk_norm:
        total += 4 * t * (s.q_dim + s.kv_dim)  # Qwen3 / Gemma 3 normalise q and k per head
    if p.method == "full":
        total += norms * 4 * t * h   # the normalised fp32 tensor each norm keeps for its own weight's gradient
        if s.qk_norm:
            total += 4 * t * (s.q_dim + s.kv_dim)
    # SDPA with a padding mask (micro batch > 1) runs on repeat_kv copies of k and v; without one (or with
    # flash-attention) it attends to the key/value heads directly
    kv = s.q_dim if p.attention == "eager" or (p.attention == "sdpa" and b > 1) else s.kv_dim
    total += a * t * (2 * s.q_dim + 2 * kv)  # q, k, v and the kernel output (o_proj reads it in place)
    if p.attention == "eager":
        # fp32 softmax output (+ its bf16 copy under mixed precision) per head, and a contiguous copy for o_proj
        total += (4 + (a if a < 4 else 0)) * b * s.num_heads * n * n + a * t * s.q_dim
        if s.attn_softcap:
            total += a * b * s.num_heads * n * n  # tanh output of the soft-capped scores
    else:
        total += 4 * b * s.num_heads * n       # logsumexp per row
        if b > 1 and p.device == "cpu":        # CPU SDPA keeps its own float copy of the padding mask per layer
            total += a * b * n * n
    total += 3 * a * t * i           # gate out, silu out, up out (SiLU and the product need them)
    if p.precision == "fp32":
        # inputs read by weight / LoRA-A gradients are shared: normed attention input, normed MLP input, down input
        total += a * t * (2 * h + i)
    else:
        # under autocast (and PEFT's input cast) every trained linear layer keeps its own bf16 copy of its input
        total += sum(a * t * shapes[nm][0] for nm in adapted)
    if p.method != "full":
        total += len(adapted) * a * t * p.lora_rank          # A outputs, read by B's gradient
        if p.lora_dropout > 0:  # dropout makes a new input copy + a bool mask per adapted layer
            total += sum((a + 1) * t * shapes[nm][0] for nm in adapted)
    return total


def estimate_memory(s: ModelShape, p: MemoryInputs) -> MemoryEstimate:
    a = _act_bytes(p)
    t = p.micro_batch * p.seq_len
    linear = s.num_layers * s.layer_linear_params()
    other = s.num_layers * s.layer_other_params() + s.hidden_size
    embed_head = s.embedding_params() + s.head_params()
    total_params = s.total_params()
    terms: dict[str, int] = {}

    # ---- weights
    if p.method == "full":
        trainable = total_params
        terms["weights"] = 4 * total_params  # fp32 master weights
        if p.precision != "fp32":
            # autocast's bf16 copies of every matmul weight stay saved for backward (one layer with checkpointing)
            n_cast = s.layer_linear_params() if p.gradient_checkpointing else linear
            terms["weight_casts"] = a * (n_cast + s.head_params() + (s.embedding_params() if s.tie_embeddings else 0))
    else:
        trainable = s.lora_params(p.lora_rank, p.lora_target)
        if p.method == "qlora":
            per = (NF4_BYTES if p.double_quant else NF4_BYTES_NO_DQ) if p.quantization_bit == 4 else INT8_BYTES
            terms["weights"] = int(per * linear) + 2 * (embed_head + other)
            # bitsandbytes dequantises one linear weight at a time for the matmul
            terms["dequant_buffer"] = 2 * max(x * y for x, y in s.linear_shapes().values())
        else:
            terms["weights"] = a * total_params
        terms["lora_weights"] = 4 * trainable
    terms["gradients"] = 4 * trainable
    state, step_tmp = optimizer_bytes_per_param(p.optim)
    terms["optimizer"] = int(state * trainable)

    # ---- activations
    layer = layer_activation_bytes(s, p)
    if p.gradient_checkpointing:
        terms["activations"] = s.num_layers * a * t * s.hidden_size + layer  # layer inputs + one recomputed layer
    else:
        terms["activations"] = s.num_layers * layer
    terms["activations"] += 4 * t * s.hidden_size  # final norm's fp32 input
    if s.logit_softcap:
        terms["activations"] += a * t * s.vocab_size  # tanh output of the soft-capped logits
    if p.method == "full":
        # final norm's normalised tensor (for its weight) + lm_head's input (its weight is trained)
        terms["activations"] += 4 * t * s.hidden_size + a * t * s.hidden_size
    if p.micro_batch > 1 and p.attention != "flash" and p.device == "cuda":
        terms["activations"] += p.micro_batch * p.seq_len ** 2  # one bool padding mask shared by all layers
    terms["logits"] = 12 * t * s.vocab_size

    # ---- peak: start of backward (everything saved + loss buffers) vs optimizer step (states + temp)
    static = sum(v for k, v in terms.items() if k not in ("gradients", "activations", "logits", "dequant_buffer"))
    backward = terms["activations"] + max(terms["logits"], layer, terms.get("dequant_buffer", 0))
    backward += terms["gradients"]  # with accumulation, grads of earlier micro-steps are alive (worst case)
    step = terms["gradients"] + int(step_tmp * trainable)
    terms["optimizer_step_temp"] = int(step_tmp * trainable)
    phase = "backward" if backward >= step else "optimizer step"
    allocated = static + max(backward, step)
    terms["fragmentation"] = int(FRAGMENTATION * allocated)
    terms["cuda_context"] = CUDA_CONTEXT_BYTES
    total = allocated + terms["fragmentation"] + terms["cuda_context"]
    return MemoryEstimate(terms=terms, trainable_params=trainable, total_params=total_params,
                          allocated=allocated, total=total, peak_phase=phase)
