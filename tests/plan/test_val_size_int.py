"""A held-out count is an integer everywhere it is written: plan YAML, LLaMA-Factory and Axolotl exports."""
import yaml

from tiaocan.config import build_config
from tiaocan.exporting import export_config
from tiaocan.planning import DataFacts, make_plan


def test_val_size_count_written_as_int(tmp_path):
    plan = make_plan("smollm2-135m", DataFacts(num_examples=244, mean_tokens=60, p99_tokens=120, max_tokens=130),
                     gpu="24GB")
    saved = yaml.safe_load(plan.save_yaml(tmp_path / "plan.yaml").read_text())
    assert saved["val_size"] == 24 and isinstance(saved["val_size"], int)
    assert "val_size: 24\n" in (tmp_path / "plan.yaml").read_text()
    lf = export_config(str(tmp_path / "plan.yaml"), "llamafactory", tmp_path / "lf")
    ax = export_config(str(tmp_path / "plan.yaml"), "axolotl", tmp_path / "ax")
    assert "val_size: 24\n" in open(lf.files[0]).read()
    assert "val_set_size: 24\n" in open(ax.files[0]).read()
    assert build_config({"val_size": 24.0}).val_size == 24 and build_config({"val_size": 0.1}).val_size == 0.1
