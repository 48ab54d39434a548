"""`--space` values are checked against the config before the study exists (a bad one used to poison the DB)."""
import pytest

from tiaocan.config import build_config
from tiaocan.errors import UserError
from tiaocan.tuning.space import build_space, parse_space_overrides


@pytest.mark.parametrize("item, match", [
    ("learning_rate=abc", r"--space learning_rate: 'abc' is not a valid value"),
    ("learning_rate=1e-5:5", r"--space learning_rate: 5.0 is not a valid value"),
    ("lora_rank=8,x", r"--space lora_rank: 'x' is not a valid value"),
    ("effective_batch=8,0", r"--space effective_batch: 0 is not a batch size"),
    ("warmup_ratio=-1:0.1", r"--space warmup_ratio: -1.0"),
])
def test_bad_space_values(item, match):
    with pytest.raises(UserError, match=match):
        build_space(build_config({}), overrides=parse_space_overrides([item]))


def test_good_space_still_builds():
    sp = build_space(build_config({}), overrides=parse_space_overrides(["learning_rate=1e-5:1e-3", "lora_rank=8,16"]))
    assert {p.name for p in sp.params} >= {"learning_rate"}


def test_bad_space_creates_no_study(tiny_model_dir, tmp_path):
    from tiaocan.tuning import tune

    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"instruction": "Q{i}", "output": "A{i}"}}\n' for i in range(8)))
    with pytest.raises(UserError, match="--space learning_rate"):
        tune(str(tiny_model_dir), str(data), budget="2x", output_dir=tmp_path / "t", space=["learning_rate=abc"],
             quiet=True)
    assert not (tmp_path / "t" / "tune.db").exists()
