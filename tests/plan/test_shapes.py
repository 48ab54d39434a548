"""Exact parameter counts from config arithmetic vs instantiated models (tiny, random weights)."""
import pytest
import torch

from tiaocan.errors import UserError
from tiaocan.planning.archs import BUILTIN, builtin_key
from tiaocan.planning.shapes import load_shape, shape_from_config

from plan_helpers import tiny_config


def _instantiated_count(cfg) -> int:
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def test_tiny_model_dir_count_exact(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    s = load_shape(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert s.total_params() == sum(p.numel() for p in model.parameters())
    assert s.source.endswith("config.json")


@pytest.mark.parametrize("kind,kw", [
    ("llama", {}), ("llama", {"tie_word_embeddings": False}), ("llama", {"attention_bias": True, "mlp_bias": True}),
    ("qwen2", {}), ("qwen2", {"tie_word_embeddings": True}), ("qwen3", {}), ("mistral", {}),
    ("gemma2", {}), ("gemma3_text", {}),
])
def test_family_counts_exact(kind, kw):
    cfg = tiny_config(kind, **kw)
    assert shape_from_config(cfg, name=kind).total_params() == _instantiated_count(cfg)


@pytest.mark.parametrize("target", ["all", "q_proj,v_proj", "gate_proj,up_proj,down_proj"])
@pytest.mark.parametrize("rank", [1, 8])
def test_lora_param_count_matches_peft(target, rank):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cfg = tiny_config("qwen2")
    model = AutoModelForCausalLM.from_config(cfg)
    modules = "all-linear" if target == "all" else target.split(",")
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=32, target_modules=modules))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert shape_from_config(cfg).lora_params(rank, target) == trainable


@pytest.mark.parametrize("key", ["qwen2.5-0.5b", "qwen3-0.6b", "smollm2-135m", "gemma-3-270m"])
def test_builtin_small_models_match_known_sizes(key):
    # published sizes: Qwen2.5-0.5B 494M, Qwen3-0.6B 596M (incl. tied embeddings), SmolLM2 135M, Gemma 3 270M
    expected = {"qwen2.5-0.5b": 494e6, "qwen3-0.6b": 596e6, "smollm2-135m": 134.5e6, "gemma-3-270m": 268e6}[key]
    assert shape_from_config(BUILTIN[key], name=key).total_params() == pytest.approx(expected, rel=0.01)


def test_builtin_table_instantiates_exactly_for_one_arch():
    from transformers import Qwen2Config

    d = dict(BUILTIN["qwen2.5-0.5b"])
    d.pop("model_type")
    cfg = Qwen2Config(**d)
    assert shape_from_config(BUILTIN["qwen2.5-0.5b"]).total_params() == _instantiated_count(cfg)


@pytest.mark.parametrize("name,key", [("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"), ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
                                      ("HuggingFaceTB/SmolLM2-360M-Instruct", "smollm2-360m"), ("google/gemma-2-9b-it", "gemma-2-9b"),
                                      ("Qwen/Qwen3-4B-Instruct-2507", "qwen3-4b"), ("smollm2-135m", "smollm2-135m")])
def test_builtin_key_lookup(name, key):
    assert builtin_key(name) == key
    assert load_shape(name).source.startswith("built-in")


def test_unknown_model_and_moe_errors(tmp_path):
    with pytest.raises(UserError, match="--model"):
        load_shape(str(tmp_path))  # a folder without config.json
    with pytest.raises(UserError, match="mixture-of-experts"):
        shape_from_config(dict(BUILTIN["qwen3-8b"], num_experts=8), name="moe")
    with pytest.raises(UserError, match="hidden_size"):
        shape_from_config({"model_type": "bert"}, name="x")


@pytest.mark.integration
def test_builtin_smollm2_matches_the_real_checkpoint(smollm2_dir):
    """The built-in table entry for the embedded model equals the shape read from its real config.json."""
    real = load_shape(str(smollm2_dir))
    table = shape_from_config(BUILTIN["smollm2-135m"], name=str(smollm2_dir), source=real.source)
    assert table == real
    from safetensors import safe_open

    with safe_open(str(smollm2_dir / "model.safetensors"), "pt") as f:
        stored = sum(torch.Size(f.get_slice(k).get_shape()).numel() for k in f.keys())
    assert real.total_params() == stored
