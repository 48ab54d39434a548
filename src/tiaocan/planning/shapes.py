"""ModelShape: the handful of config.json numbers the memory model and the advisor need, and exact
parameter counts from them (no weights are loaded; tests compare the counts with instantiated models)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import UserError
from .archs import BUILTIN, builtin_key

# Decoder families whose layer layout the arithmetic below knows exactly.
KNOWN_TYPES = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gemma3", "smollm3", "olmo2"}
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ModelShape(BaseModel):
    name: str
    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_embeddings: bool
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False
    norms_per_layer: int = 2
    attn_softcap: bool = False    # Gemma 2: tanh soft-capping of attention scores (HF runs it with eager attention)
    logit_softcap: bool = False   # Gemma 2: tanh soft-capping of the output logits
    max_position_embeddings: int = 1 << 20
    source: str = "config.json"

    # ---- derived sizes
    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def family(self) -> str:
        """Learning-rate family for the LoRA-Without-Regret formula: 'qwen', 'llama' or 'other'."""
        t = self.model_type
        if t.startswith("qwen"):
            return "qwen"
        if t in ("llama", "mistral", "smollm3"):
            return "llama"
        return "other"

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear layer in one decoder layer."""
        h, i = self.hidden_size, self.intermediate_size
        return {"q_proj": (h, self.q_dim), "k_proj": (h, self.kv_dim), "v_proj": (h, self.kv_dim),
                "o_proj": (self.q_dim, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes().values())

    def layer_other_params(self) -> int:
        """Biases and norm weights in one decoder layer (kept 16-bit under QLoRA)."""
        n = self.norms_per_layer * self.hidden_size
        if self.qkv_bias:
            n += self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            n += self.hidden_size
        if self.mlp_bias:
            n += 2 * self.intermediate_size + self.hidden_size
        if self.qk_norm:
            n += 2 * self.head_dim
        return n

    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def head_params(self) -> int:
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    def total_params(self) -> int:
        per_layer = self.layer_linear_params() + self.layer_other_params()
        return self.embedding_params() + self.head_params() + self.num_layers * per_layer + self.hidden_size

    def lora_params(self, rank: int, target: str = "all") -> int:
        """Trainable LoRA parameters: r x (in + out) for each adapted linear layer."""
        names = lora_target_names(target)
        return self.num_layers * sum(rank * (a + b) for n, (a, b) in self.linear_shapes().items() if n in names)


def lora_target_names(target: str) -> set[str]:
    if target.strip().lower() in ("all", "all-linear", ""):
        return set(LINEAR_NAMES)
    names = {t.strip() for t in target.split(",") if t.strip()}
    unknown = names - set(LINEAR_NAMES)
    if unknown:
        raise UserError(f"lora_target: unknown module(s) {', '.join(sorted(unknown))}; "
                        f"use 'all' or names from {', '.join(LINEAR_NAMES)}")
    return names


def shape_from_config(cfg: Any, name: str = "model", source: str = "config.json") -> ModelShape:
    """Build a ModelShape from a transformers config object or a config.json dict."""
    get = (lambda k, d=None: cfg.get(k, d)) if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
    text = get("text_config")  # multimodal wrappers (Gemma 3 4B+) keep the decoder under text_config
    if text is not None and get("hidden_size") is None:
        return shape_from_config(text if isinstance(text, dict) else text.to_dict(), name, source)
    mt = get("model_type") or "unknown"
    if get("num_experts") or get("num_local_experts") or get("n_routed_experts"):
        raise UserError(f"{name}: mixture-of-experts models ({mt}) are not supported by the memory model yet; "
                        "plan a dense model or set the batch by hand")
    missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")
               if get(k) is None]
    if missing:
        raise UserError(f"{name}: config has no {', '.join(missing)}; tiaocan plans decoder-only transformers "
                        "(Llama, Qwen, Mistral, Gemma, SmolLM families)")
    heads = int(get("num_attention_heads"))
    hidden = int(get("hidden_size"))
    gemma = mt.startswith("gemma")
    return ModelShape(
        name=name, model_type=mt, vocab_size=int(get("vocab_size")), hidden_size=hidden,
        intermediate_size=int(get("intermediate_size")), num_layers=int(get("num_hidden_layers")), num_heads=heads,
        num_kv_heads=int(get("num_key_value_heads") or heads), head_dim=int(get("head_dim") or hidden // heads),
        tie_embeddings=bool(get("tie_word_embeddings", True if gemma else False)),
        qkv_bias=mt == "qwen2" or bool(get("attention_bias", False)),
        o_bias=mt not in ("qwen2",) and bool(get("attention_bias", False)),
        mlp_bias=bool(get("mlp_bias", False)),
        qk_norm=mt in ("qwen3", "gemma3_text", "gemma3", "olmo2"),
        norms_per_layer=4 if mt in ("gemma2", "gemma3_text", "gemma3") else 2,
        attn_softcap=_softcap(get, "attn_logit_softcapping", mt == "gemma2"),
        logit_softcap=_softcap(get, "final_logit_softcapping", mt == "gemma2"),
        max_position_embeddings=int(get("max_position_embeddings") or 1 << 20), source=source,
    )


def _softcap(get, key: str, family_default: bool) -> bool:
    """True when the config soft-caps (a number); a config without the key gets its family's default."""
    missing = object()
    v = get(key, missing)
    return family_default if v is missing else v is not None


def load_shape(model: str) -> ModelShape:
    """Local dir → its config.json; a known hub id / short name → the built-in table; else ask transformers."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise UserError(f"--model {model}: folder has no config.json; give a Hugging Face model folder")
        import json
        return shape_from_config(json.loads((p / "config.json").read_text()), name=model, source=str(p / "config.json"))
    key = builtin_key(model)
    if key is not None:
        return shape_from_config(BUILTIN[key], name=model, source=f"built-in table ({key})")
    from ..models import load_model_config

    try:
        cfg = load_model_config(model)
    except UserError:
        raise
    except Exception as e:  # offline hub miss, gated repo, typo
        raise UserError(f"--model {model}: unknown architecture and no config.json reachable ({type(e).__name__}). "
                        f"Give a local model folder, or one of the built-in names: {', '.join(sorted(BUILTIN))}") from None
    return shape_from_config(cfg, name=model, source="transformers AutoConfig")
