"""plan on real data and the tiny model: YAML that loads and trains as is, CLI output, JSON, bad input."""
import json

import pytest
import yaml
from typer.testing import CliRunner

from tiaocan.config import load_config
from tiaocan.errors import UserError

from helpers import write_qa


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return write_qa(tmp_path_factory.mktemp("plandata") / "qa.jsonl", 30)


def test_plan_from_data_and_yaml_loads(tiny_model_dir, data_file, tmp_path):
    import tiaocan

    p = tiaocan.plan(str(tiny_model_dir), str(data_file), gpu="24GB")
    assert p.data.num_examples == 30 and p.data.source.endswith("qa.jsonl")
    assert p.config["cutoff_len"] >= p.data.p99_tokens
    out = p.save_yaml(tmp_path / "plan.yaml")
    cfg = load_config(out)
    for key in ("model_name_or_path", "dataset", "cutoff_len", "learning_rate", "num_train_epochs",
                "per_device_train_batch_size", "gradient_accumulation_steps", "lora_rank"):
        got = getattr(cfg, key)
        assert (list(got) if isinstance(got, tuple) else got) == p.config[key], key
    assert json.loads(p.model_dump_json())["recommendations"]


def test_plan_yaml_trains_as_is(tiny_model_dir, data_file, tmp_path):
    from tiaocan.planning import make_plan
    from tiaocan.training import train

    p = make_plan(str(tiny_model_dir), str(data_file), gpu="24GB",
                  overrides=[f"output_dir={tmp_path / 'run'}", "max_steps=2"])
    path = p.save_yaml(tmp_path / "plan.yaml")
    s = train(str(path), quiet=True)
    assert s.global_step == 2 and (tmp_path / "run" / "adapter_model.safetensors").exists()


def test_cli_plan_json_and_yaml(tiny_model_dir, data_file, tmp_path):
    from tiaocan.cli import app

    r = CliRunner().invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(data_file), "--gpu", "H100-80GB",
                                 "-o", str(tmp_path / "p.yaml"), "--json", str(tmp_path / "p.json"), "--lang", "zh",
                                 "--set", "lora_rank=8"])
    assert r.exit_code == 0, r.output
    assert "learning_rate" in r.output and "GiB" in r.output and "理由" in r.output  # zh table headers
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["lang"] == "zh" and data["config"]["lora_rank"] == 8
    assert any(x["overridden"] and x["key"] == "lora_rank" for x in data["recommendations"])
    assert yaml.safe_load((tmp_path / "p.yaml").read_text())["lora_rank"] == 8
    assert data["steps"]["est_seconds"] > 0  # H100's speed is known


@pytest.mark.parametrize("args,match", [
    (["--gpu", "banana"], "--gpu banana"),
    (["--method", "dora"], "--method dora"),
    (["--set", "learning_rate"], "key=value"),
    (["--model", "/nonexistent/model"], "nonexistent"),
])
def test_cli_bad_input_is_one_clear_message(tiny_model_dir, data_file, args, match):
    from tiaocan.cli import app

    base = ["plan", "--model", str(tiny_model_dir), "--data", str(data_file)]
    if args[0] == "--model":
        base = ["plan", "--data", str(data_file)]
    r = CliRunner().invoke(app, base + args)
    assert isinstance(r.exception, UserError) and match in str(r.exception)


def test_nothing_fits_error_lists_options(data_file):
    from tiaocan.planning import DataFacts, make_plan

    facts = DataFacts(num_examples=1000, mean_tokens=3000, p99_tokens=8000, max_tokens=8100)
    with pytest.raises(UserError, match=r"(?s)nothing fits.*QLoRA.*cutoff_len=\d+ it fits"):
        make_plan("meta-llama/Llama-3.1-8B-Instruct", facts, gpu="16GB")
