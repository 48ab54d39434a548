"""The real SmolLM2-135M for a handful of LoRA steps on the bundled support data."""
import math
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[2] / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"


@pytest.mark.integration
def test_smollm2_lora_few_steps(smollm2_dir, tmp_path):
    from tiaocan.training import train

    s = train(dict(model_name_or_path=str(smollm2_dir), dataset=str(SUPPORT), max_samples=8, cutoff_len=128,
                   per_device_train_batch_size=2, gradient_accumulation_steps=1, max_steps=2, learning_rate=2e-4,
                   bf16=True, output_dir=str(tmp_path / "run"), save_steps=1000), quiet=True)
    assert s.stop_reason == "completed" and s.global_step == 2
    # a pretrained instruct model starts far below the uniform-guess loss ln(49152) ~ 10.8
    assert math.isfinite(s.final_train_loss) and s.final_train_loss < 4.0
    assert (tmp_path / "run" / "adapter_model.safetensors").stat().st_size > 100_000
    assert s.tokens_seen > 0 and s.tokens_per_second > 0
