"""Helpers for the plan tests (a unique module name: several test folders have a conftest.py)."""


def tiny_config(kind: str, **kw):
    """Tiny transformers configs of several families (2 layers, hidden 64) for exact count checks."""
    import transformers as tf

    base = dict(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256)
    base.update(kw)
    if kind == "qwen2":
        return tf.Qwen2Config(**base)
    if kind == "qwen3":
        return tf.Qwen3Config(head_dim=24, **base)
    if kind == "mistral":
        return tf.MistralConfig(**base)
    if kind == "gemma2":
        return tf.Gemma2Config(head_dim=16, **base)
    if kind == "gemma3_text":
        return tf.Gemma3TextConfig(head_dim=16, **base)
    return tf.LlamaConfig(**base)
