"""Helpers for the tune tests (a unique module name: several test folders have a conftest.py)."""
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[2] / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"


def small_config(model_dir, out, **extra) -> dict:
    """A tiny, fast base config: 32 examples (4 held out), 48 tokens, 1 epoch of 7 steps at effective batch 4."""
    cfg = dict(model_name_or_path=str(model_dir), dataset=str(SUPPORT), max_samples=32, val_size=4, cutoff_len=48,
               num_train_epochs=1, per_device_train_batch_size=2, gradient_accumulation_steps=2, learning_rate=2e-3,
               logging_steps=1, output_dir=str(out / "base"), seed=1)
    cfg.update(extra)
    return cfg
