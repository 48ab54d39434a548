"""On the real SmolLM2-135M: a short `tiaocan train` on part of the support set raises fact accuracy on
held-out paraphrases, measured by `tiaocan eval --base` (same prompts, adapter on vs off).

Cost: about 8 CPU-minutes (19 min wall on the loaded 2-core dev VM): English rows of two topics
(28 train rows, 7 test rows), 24 LoRA steps. 16 steps at lr 3e-3 reached only 0.10 fact accuracy,
too little for a real margin.
"""
import json

import pytest

from eval_helpers import SUPPORT, write_rows

TOPICS = {"locations", "contact"}
MARGIN = 0.25  # tuned fact accuracy must beat the base model's by at least this (base knows none of these facts)


def _subset(name: str) -> list[dict]:
    rows = [json.loads(line) for line in (SUPPORT / name).read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["category"] in TOPICS and r["lang"] == "en"]


@pytest.mark.integration
@pytest.mark.slow
def test_short_training_raises_fact_accuracy(smollm2_dir, tmp_path):
    import tiaocan
    from tiaocan.evaluation import evaluate

    train_file = write_rows(tmp_path / "train.jsonl", _subset("train.jsonl"))
    test_file = write_rows(tmp_path / "test.jsonl", _subset("test.jsonl"))
    run = tmp_path / "run"
    tiaocan.train({"model_name_or_path": str(smollm2_dir), "dataset": str(train_file), "output_dir": str(run),
                   "finetuning_type": "lora", "lora_rank": 16, "learning_rate": 2e-3, "max_steps": 24,
                   "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "warmup_steps": 2,
                   "lr_scheduler_type": "cosine", "cutoff_len": 128, "seed": 0, "plot_loss": False}, quiet=True)
    report = evaluate(str(run), str(test_file), base=True, max_new_tokens=32, batch_size=8, progress=False)
    tuned, base = report.tuned.scores.fact_accuracy, report.base.scores.fact_accuracy
    print(f"fact accuracy: base {base:.2f} -> tuned {tuned:.2f}; loss {report.base.loss:.3f} -> {report.tuned.loss:.3f}")
    for e in report.tuned.examples:
        print(f"  [{e.checks.passed}] {e.prompt!r} -> {e.got!r}")
    assert report.tuned.loss < report.base.loss
    assert tuned >= base + MARGIN, f"fact accuracy base {base:.2f}, tuned {tuned:.2f}: gain below {MARGIN}"
