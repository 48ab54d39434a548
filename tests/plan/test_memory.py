"""Properties of the memory model: monotone where it must be, exact where it can be."""
import pytest

from tiaocan.planning.archs import BUILTIN
from tiaocan.planning.memory import GIB, NF4_BYTES, MemoryInputs, estimate_memory, layer_activation_bytes
from tiaocan.planning.shapes import shape_from_config

SHAPES = {k: shape_from_config(BUILTIN[k], name=k) for k in ("qwen2.5-0.5b", "llama-3.1-8b", "smollm2-135m", "gemma-2-2b")}


def est(shape="qwen2.5-0.5b", **kw):
    return estimate_memory(SHAPES[shape], MemoryInputs(**kw))


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
@pytest.mark.parametrize("gc", [False, True])
def test_monotonic_in_batch_length_rank(shape, method, gc):
    # Totals never decrease; they can stay flat for full fine-tuning while the optimizer step (not the
    # activations) is the peak. The activation term itself grows strictly.
    base = dict(method=method, gradient_checkpointing=gc)
    for key, values in (("micro_batch", (1, 2, 4, 8)), ("seq_len", (128, 512, 2048, 4096))):
        e = [est(shape, **{key: v}, **base) for v in values]
        totals, acts = [x.total for x in e], [x.terms["activations"] for x in e]
        assert totals == sorted(totals) and (totals[-1] > totals[0] or method == "full")
        assert acts == sorted(acts) and len(set(acts)) == len(acts)
    if method != "full":
        by_rank = [est(shape, lora_rank=r, **base).total for r in (4, 16, 64, 256)]
        assert by_rank == sorted(by_rank) and len(set(by_rank)) == 4


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
@pytest.mark.parametrize("batch,seq", [(1, 128), (4, 1024), (8, 4096)])
def test_checkpointing_never_increases(shape, method, batch, seq):
    off = est(shape, method=method, micro_batch=batch, seq_len=seq)
    on = est(shape, method=method, micro_batch=batch, seq_len=seq, gradient_checkpointing=True)
    assert on.total <= off.total and on.terms["activations"] < off.terms["activations"]


def test_methods_order_and_weight_bytes():
    s = SHAPES["llama-3.1-8b"]
    full, lora, qlora = (est("llama-3.1-8b", method=m) for m in ("full", "lora", "qlora"))
    assert qlora.total < lora.total < full.total
    n = s.total_params()
    assert full.terms["weights"] == 4 * n and full.terms["gradients"] == 4 * n and full.terms["optimizer"] == 8 * n
    assert lora.terms["weights"] == 2 * n
    linear = s.num_layers * s.layer_linear_params()
    assert qlora.terms["weights"] == int(NF4_BYTES * linear) + 2 * (n - linear)
    assert NF4_BYTES == pytest.approx(0.52, abs=0.005)  # 4-bit + double-quantised absmax


def test_trainable_terms_are_exact_for_lora():
    s = SHAPES["qwen2.5-0.5b"]
    e = est(method="lora", lora_rank=16)
    p = s.lora_params(16)
    assert e.trainable_params == p and e.terms["gradients"] == 4 * p and e.terms["optimizer"] == 8 * p


def test_optimizer_variants():
    a, b8, fused = (est(method="full", optim=o) for o in ("adamw_torch", "adamw_bnb_8bit", "adamw_torch_fused"))
    n = a.trainable_params
    assert b8.terms["optimizer"] == 2 * n and a.terms["optimizer"] == 8 * n
    assert fused.terms["optimizer_step_temp"] == 0 < a.terms["optimizer_step_temp"]
    assert b8.total < fused.total <= a.total
    small = [est(method="full", optim=o, seq_len=64) for o in ("adamw_torch_fused", "adamw_torch")]
    assert small[0].total < small[1].total and small[1].peak_phase == "optimizer step"


def test_attention_and_dropout_and_logits():
    s = SHAPES["qwen2.5-0.5b"]
    eager = layer_activation_bytes(s, MemoryInputs(attention="eager", seq_len=2048))
    sdpa = layer_activation_bytes(s, MemoryInputs(attention="sdpa", seq_len=2048))
    flash = layer_activation_bytes(s, MemoryInputs(attention="flash", seq_len=2048))
    assert eager - sdpa >= 6 * s.num_heads * 2048 ** 2 * 0.99 and flash <= sdpa
    assert est(lora_dropout=0.05).total > est(lora_dropout=0.0).total
    e = est(micro_batch=2, seq_len=1000)
    assert e.terms["logits"] == 12 * 2 * 1000 * s.vocab_size  # fp32 upcast of bf16 logits + CE buffers


def test_breakdown_sums_to_total():
    e = est("llama-3.1-8b", method="lora", micro_batch=2, seq_len=2048)
    assert e.total == e.allocated + e.terms["fragmentation"] + e.terms["cuda_context"]
    assert e.allocated <= sum(v for k, v in e.terms.items() if k not in ("fragmentation", "cuda_context"))
    # LLaMA-Factory's table: LoRA 16-bit 7-8B ~16 GB at short length — our number must be in that range
    short = est("llama-3.1-8b", method="lora", micro_batch=1, seq_len=512)
    assert 15 < short.total / GIB < 22
