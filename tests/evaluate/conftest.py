"""Fixture: a fake `tiaocan train` run dir (tiny model + saved PEFT LoRA adapter + tiaocan_config.yaml)."""
from pathlib import Path
import sys

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from eval_helpers import SUPPORT, make_run_dir  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("run") / "run", tiny_model_dir, str(SUPPORT / "train.jsonl"))
