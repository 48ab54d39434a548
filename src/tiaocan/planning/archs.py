"""Built-in architecture table: the config.json numbers of common chat models, so `tiaocan plan` works
offline for a hub id without downloading anything (the memory model needs shapes, never weights).

Numbers are the published config.json values of each family's checkpoints. Instruct/base variants share
a shape, so lookups ignore an "-Instruct"/"-it"/"-Chat" suffix and the owner prefix.
"""
from __future__ import annotations

from typing import Any


def _llama(h, i, layers, heads, kv, vocab=128256, tie=False, hd=None, ctx=131072) -> dict[str, Any]:
    return dict(model_type="llama", hidden_size=h, intermediate_size=i, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=kv, vocab_size=vocab, tie_word_embeddings=tie,
                head_dim=hd or h // heads, max_position_embeddings=ctx)


def _qwen2(h, i, layers, heads, kv, vocab=151936, tie=True, ctx=32768) -> dict[str, Any]:
    d = _llama(h, i, layers, heads, kv, vocab, tie, ctx=ctx)
    d.update(model_type="qwen2")  # q/k/v carry a bias in Qwen2 (attention_bias is implied by the type)
    return d


def _qwen3(h, i, layers, heads, kv, tie, vocab=151936, ctx=40960) -> dict[str, Any]:
    d = _llama(h, i, layers, heads, kv, vocab, tie, hd=128, ctx=ctx)
    d.update(model_type="qwen3")
    return d


def _gemma(t, h, i, layers, heads, kv, hd, vocab, ctx=8192) -> dict[str, Any]:
    d = _llama(h, i, layers, heads, kv, vocab, True, hd=hd, ctx=ctx)
    d.update(model_type=t)
    return d


BUILTIN: dict[str, dict[str, Any]] = {
    # Llama 3.x (meta-llama/*)
    "llama-3.2-1b": _llama(2048, 8192, 16, 32, 8, tie=True),
    "llama-3.2-3b": _llama(3072, 8192, 28, 24, 8, tie=True),
    "llama-3.1-8b": _llama(4096, 14336, 32, 32, 8),
    "meta-llama-3-8b": _llama(4096, 14336, 32, 32, 8, ctx=8192),
    "llama-3.1-70b": _llama(8192, 28672, 80, 64, 8),
    "llama-3.3-70b": _llama(8192, 28672, 80, 64, 8),
    # Qwen2.5 (Qwen/*)
    "qwen2.5-0.5b": _qwen2(896, 4864, 24, 14, 2),
    "qwen2.5-1.5b": _qwen2(1536, 8960, 28, 12, 2),
    "qwen2.5-3b": _qwen2(2048, 11008, 36, 16, 2),
    "qwen2.5-7b": _qwen2(3584, 18944, 28, 28, 4, vocab=152064, tie=False),
    "qwen2.5-14b": _qwen2(5120, 13824, 48, 40, 8, vocab=152064, tie=False),
    "qwen2.5-32b": _qwen2(5120, 27648, 64, 40, 8, vocab=152064, tie=False),
    "qwen2.5-72b": _qwen2(8192, 29568, 80, 64, 8, vocab=152064, tie=False),
    # Qwen3 dense
    "qwen3-0.6b": _qwen3(1024, 3072, 28, 16, 8, tie=True),
    "qwen3-1.7b": _qwen3(2048, 6144, 28, 16, 8, tie=True),
    "qwen3-4b": _qwen3(2560, 9728, 36, 32, 8, tie=True),
    "qwen3-8b": _qwen3(4096, 12288, 36, 32, 8, tie=False),
    "qwen3-14b": _qwen3(5120, 17408, 40, 40, 8, tie=False),
    "qwen3-32b": _qwen3(5120, 25600, 64, 64, 8, tie=False),
    # Mistral
    "mistral-7b-v0.3": {**_llama(4096, 14336, 32, 32, 8, vocab=32768, ctx=32768), "model_type": "mistral"},
    "mistral-7b-v0.1": {**_llama(4096, 14336, 32, 32, 8, vocab=32000, ctx=32768), "model_type": "mistral"},
    # Gemma 2 / 3 (text towers)
    "gemma-2-2b": _gemma("gemma2", 2304, 9216, 26, 8, 4, 256, 256000),
    "gemma-2-9b": _gemma("gemma2", 3584, 14336, 42, 16, 8, 256, 256000),
    "gemma-2-27b": _gemma("gemma2", 4608, 36864, 46, 32, 16, 128, 256000),
    "gemma-3-270m": _gemma("gemma3_text", 640, 2048, 18, 4, 1, 256, 262144, ctx=32768),
    "gemma-3-1b": _gemma("gemma3_text", 1152, 6912, 26, 4, 1, 256, 262144, ctx=32768),
    "gemma-3-4b": _gemma("gemma3_text", 2560, 10240, 34, 8, 4, 256, 262208, ctx=131072),
    "gemma-3-12b": _gemma("gemma3_text", 3840, 15360, 48, 16, 8, 256, 262208, ctx=131072),
    "gemma-3-27b": _gemma("gemma3_text", 5376, 21504, 62, 32, 16, 128, 262208, ctx=131072),
    # SmolLM2 (HuggingFaceTB/*); smollm2-135m is also tiaocan's embedded default model
    "smollm2-135m": _llama(576, 1536, 30, 9, 3, vocab=49152, tie=True, ctx=8192),
    "smollm2-360m": _llama(960, 2560, 32, 15, 5, vocab=49152, tie=True, ctx=8192),
    "smollm2-1.7b": _llama(2048, 8192, 24, 32, 32, vocab=49152, tie=True, ctx=8192),
}

_SUFFIXES = ("-instruct-2507", "-instruct", "-chat", "-it", "-base", "-pt")


def builtin_key(name: str) -> str | None:
    """'Qwen/Qwen2.5-7B-Instruct' → 'qwen2.5-7b' when the table has it, else None."""
    key = name.strip().lower().rsplit("/", 1)[-1]
    for _ in range(2):  # "-Instruct-2507" style double suffixes
        for suf in _SUFFIXES:
            if key.endswith(suf):
                key = key[: -len(suf)]
    if key.startswith("meta-llama-3.") or key.startswith("llama-3."):
        key = key.replace("meta-llama-", "llama-")
    return key if key in BUILTIN else None
