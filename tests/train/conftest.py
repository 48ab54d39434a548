"""Shared fixtures for the train tests: a small alpaca file and a fast base config on the tiny model."""
import json

import pytest

QA = [
    ("Where is the shop?", "The shop is at 12 Harbour Road."),
    ("When do you open?", "We open from 9am to 6pm."),
    ("Can I return an item?", "Returns are accepted within 30 days with a receipt."),
    ("What is the capital of France?", "Paris is the capital of France."),
    ("Give three tips for staying healthy.", "Eat well, sleep, exercise."),
]


@pytest.fixture(scope="session")
def train_file(tmp_path_factory):
    """40 alpaca examples of mixed length (answers repeated 1-3 times)."""
    path = tmp_path_factory.mktemp("traindata") / "data.jsonl"
    with path.open("w") as f:
        for i in range(40):
            q, a = QA[i % 5]
            f.write(json.dumps({"instruction": q, "input": "", "output": " ".join([a] * (1 + i % 3))}) + "\n")
    return path


@pytest.fixture
def base_cfg(tiny_model_dir, train_file, tmp_path):
    """A config that trains the tiny model in about a second (no checkpoints unless a test asks)."""
    return dict(model_name_or_path=str(tiny_model_dir), dataset=str(train_file), cutoff_len=128,
                per_device_train_batch_size=4, gradient_accumulation_steps=1, num_train_epochs=1,
                learning_rate=1e-2, save_steps=1000, output_dir=str(tmp_path / "run"), seed=7)
