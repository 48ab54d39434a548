"""Bad input: a clear UserError naming the key/flag, no traceback, nothing overwritten."""
import errno
import subprocess
import sys
from pathlib import Path

import pytest

from tiaocan.errors import UserError

FIXTURE = Path(__file__).parent / "fixtures" / "llama3_lora_sft.yaml"


@pytest.mark.parametrize("override, match", [
    (dict(learning_rate=0), "learning_rate"),
    (dict(learning_rate=2.0), "learning_rate"),
    (dict(per_device_train_batch_size=0), "per_device_train_batch_size"),
    (dict(gradient_accumulation_steps=0), "gradient_accumulation_steps"),
])
def test_config_ranges(base_cfg, override, match):
    from tiaocan.training import train

    with pytest.raises(UserError, match=match):
        train(dict(base_cfg, **override), quiet=True)


def test_cutoff_len_below_template_overhead(base_cfg):
    from tiaocan.training import train

    with pytest.raises(UserError, match=r"cutoff_len: 8 is not more than the chat template's own overhead"):
        train(dict(base_cfg, cutoff_len=8), quiet=True)


def test_output_dir_holding_another_run_is_not_overwritten(base_cfg, tmp_path):
    from tiaocan.training import train

    train(dict(base_cfg, max_steps=1), quiet=True)
    before = (tmp_path / "run" / "adapter_model.safetensors").read_bytes()
    with pytest.raises(UserError, match=r"output_dir .*run already holds a training run.*--overwrite"):
        train(dict(base_cfg, max_steps=2), quiet=True)
    assert (tmp_path / "run" / "adapter_model.safetensors").read_bytes() == before
    s = train(dict(base_cfg, max_steps=2), overwrite=True, quiet=True)
    assert s.global_step == 2


def test_resume_without_checkpoint(base_cfg):
    from tiaocan.training import train

    with pytest.raises(UserError, match="no checkpoint-N folder"):
        train(base_cfg, resume=True, quiet=True)


def test_qlora_without_gpu(base_cfg):
    import torch

    from tiaocan.training import train

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        train(dict(base_cfg, quantization_bit=4), quiet=True)


def test_disk_full_while_saving(base_cfg, tmp_path, monkeypatch):
    from transformers import Trainer

    from tiaocan.training import RunSummary, train

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "save_model", full)
    with pytest.raises(UserError, match="disk full while writing to .*run.*save_total_limit"):
        train(dict(base_cfg, max_steps=1), quiet=True)
    assert RunSummary.read(tmp_path / "run").stop_reason == "error"


def test_cli_prints_one_clean_line(base_cfg, tmp_path):
    """The CLI turns a UserError into one 'error:' line and exit code 2 (no traceback)."""
    args = [f"{k}={v}" for k, v in base_cfg.items()] + ["learning_rate=5"]
    code = "import sys; from tiaocan.cli import main; sys.argv = ['tiaocan', 'train', *sys.argv[1:]]; main()"
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert "error:" in r.stdout and "learning_rate" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_llama_factory_example_yaml_is_accepted(tiny_model_dir, train_file, tmp_path):
    """LLaMA-Factory's examples/train_lora/llama3_lora_sft.yaml, only model/data/output paths changed, trains."""
    from tiaocan.config import load_config
    from tiaocan.training import train

    text = (FIXTURE.read_text().replace("MODEL_DIR", str(tiny_model_dir)).replace("DATA_FILE", str(train_file))
            .replace("OUTPUT_DIR", str(tmp_path / "lf")))
    path = tmp_path / "lf.yaml"
    path.write_text(text)
    cfg = load_config(path)
    assert (cfg.lora_rank, cfg.gradient_accumulation_steps, cfg.warmup_ratio, cfg.bf16) == (8, 8, 0.1, True)
    s = train(load_config(path, ["num_train_epochs=0.2"]), quiet=True)  # a fifth of an epoch keeps it short
    assert s.stop_reason == "completed" and s.effective_batch == 8 and s.global_step == 1
