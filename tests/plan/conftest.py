import pytest

from tiaocan.plan import DataFacts


@pytest.fixture
def facts():
    """500 examples, ~300 tokens each, half of it response — a typical small SFT set."""
    return DataFacts(num_examples=500, mean_tokens=300, p99_tokens=900, max_tokens=1500,
                     recommended_cutoff_len=960, total_tokens=150_000, total_response_tokens=75_000)


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
