"""Two CPU processes under torchrun (DDP, gloo): the effective batch, step count and token count are right."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from train_helpers import read_log


@pytest.mark.slow
def test_torchrun_two_cpu_processes(base_cfg, tmp_path, tiny_tokenizer, train_file):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to this python")
    cfg = dict(base_cfg, per_device_train_batch_size=2, gradient_accumulation_steps=2, num_train_epochs=1)
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(cfg))
    cli = Path(sys.executable).parent / "tiaocan"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29533", str(cli), "train",
                        str(tmp_path / "ddp.yaml"), "--json", str(tmp_path / "s.json")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "effective batch 8 = 2 micro batch × 2 accumulation × 2 device(s)" in r.stdout
    from tiaocan.training import RunSummary

    s = RunSummary.read(tmp_path / "run")
    # 40 examples / (2 devices x 2 micro x 2 accumulation) = 5 optimizer steps
    assert (s.effective_batch, s.global_step, s.total_steps) == (8, 5, 5)
    rows = [row for row in read_log(tmp_path / "run") if "loss" in row]
    assert [row["current_steps"] for row in rows] == [1, 2, 3, 4, 5]
    # every example seen exactly once across both processes: the token count is the whole data set's
    from tiaocan.data import load_dataset, render_dataset

    ds = render_dataset(load_dataset(str(train_file)), tiny_tokenizer, 128)
    assert s.tokens_seen == sum(len(x) for x in ds["input_ids"])
