"""The activation term against what autograd really saves (saved_tensors_hooks) on the tiny model, on CPU."""
import pytest
import torch

from tiaocan.planning.memory import MemoryInputs, estimate_memory, layer_activation_bytes
from tiaocan.planning.shapes import load_shape


def _saved_bytes(model, ids, mask, autocast):
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            model(input_ids=ids, attention_mask=mask, labels=ids)
    return sum(seen.values())


@pytest.mark.parametrize("method,attn,autocast,gc", [("lora", "sdpa", False, False), ("lora", "eager", False, False),
                                                     ("full", "sdpa", False, False), ("lora", "sdpa", True, False),
                                                     ("lora", "sdpa", False, True)])
def test_saved_activations_within_6_percent(tiny_model_dir, method, attn, autocast, gc):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    shape = load_shape(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn,
                                                 dtype=torch.bfloat16 if autocast else torch.float32)
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=32, target_modules="all-linear"))
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.float()
    if gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    b, s = 2, 256
    ids = torch.randint(0, shape.vocab_size, (b, s), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, -40:] = 0
    measured = _saved_bytes(model, ids, mask, autocast)
    mi = MemoryInputs(method=method, micro_batch=b, seq_len=s, lora_rank=4, attention=attn, device="cpu",
                      precision="bf16" if autocast else "fp32", gradient_checkpointing=gc)
    predicted = estimate_memory(shape, mi).terms["activations"] + 4 * b * s * shape.vocab_size  # + CE log-softmax
    if gc:
        predicted -= layer_activation_bytes(shape, mi)  # the recomputed layer exists only during backward
    assert predicted == pytest.approx(measured, rel=0.06)  # bench: -0.5 % ... +4 %


@pytest.mark.parametrize("kind,attn", [("qwen3", "sdpa"), ("gemma3_text", "sdpa"), ("gemma2", "eager"), ("mistral", "sdpa")])
def test_saved_activations_other_families(kind, attn):
    """Qwen3/Gemma 3 q-k norms, Gemma's four norms per layer, Gemma 2's soft-capping (eager only in transformers)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from plan_helpers import tiny_config
    from tiaocan.planning.shapes import shape_from_config

    cfg = tiny_config(kind, hidden_size=128, intermediate_size=256)
    cfg._attn_implementation = attn
    shape = shape_from_config(cfg, name=kind)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_config(cfg), LoraConfig(r=4, lora_alpha=32, target_modules="all-linear"))
    model.train()
    b, s = 2, 128
    ids = torch.randint(0, shape.vocab_size, (b, s), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, -20:] = 0
    measured = _saved_bytes(model, ids, mask, autocast=False)
    mi = MemoryInputs(method="lora", micro_batch=b, seq_len=s, lora_rank=4, attention=attn, device="cpu", precision="fp32")
    predicted = estimate_memory(shape, mi).terms["activations"] + 4 * b * s * shape.vocab_size
    assert predicted == pytest.approx(measured, rel=0.06)
